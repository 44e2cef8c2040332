"""Running statistics, observation normalisation and reward scaling.

Observation normalisation is part of the policy (and critic) function: the wrapped
``apply`` standardises an observation with a running mean and variance that live in
the parameters, ``params = {"net": ..., "obs_stats": RunningStats}``, so ``act``
and ``evaluate`` with ``result.params`` see what training saw. The statistics get
no gradient; the actor-critic trainer refreshes them from each rollout after the
update (so within one update the policy that sampled is the policy that is
optimised).

Reward scaling divides rewards by the running standard deviation of a discounted
return ``R ← γ R + r`` (reset at episode ends) before GAE. It changes the scale of
the advantages and of the critic's targets only; reported episode returns stay raw.

References:
  Engstrom et al., 2020, Implementation Matters in Deep Policy Gradients: A Case
  Study on PPO and TRPO.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxpg.networks import Policy

OBS_CLIP = 10.0  # standardised observations are clipped to [−10, 10]
EPS = 1e-8
COUNT_BASE = 2**24  # RunningStats.count = [high, low]: high · 2^24 + low


class RunningStats(NamedTuple):
    """Mean and variance of everything seen so far (Chan et al.'s parallel update)."""

    mean: jax.Array  # [*shape] float32
    var: jax.Array  # [*shape] float32
    count: jax.Array  # [2] float32: [high, low], high · 2^24 + low observations


def init_stats(shape: tuple[int, ...]) -> RunningStats:
    """Zero mean, unit variance (used until the first merge), count 0.

    The count is exact: two integer-valued float32 numbers ``[high, low]`` with
    ``0 <= low < 2^24``, worth ``high · 2^24 + low`` observations (exact up to
    2^48). One float32 count was inexact above 2^24 and stopped growing near 2^30;
    an int32 one cannot sit in the parameters, which ``jax.grad`` and the
    optimizer take whole (the statistics get a zero gradient, and Adam leaves
    them unchanged). A checkpoint written with the former ``[]`` count no longer
    matches the template (``jaxpg.load`` names the leaf).
    """
    return RunningStats(
        jnp.zeros(shape, jnp.float32),
        jnp.ones(shape, jnp.float32),
        jnp.zeros((2,), jnp.float32),
    )


def count_value(stats: RunningStats) -> jax.Array:
    """The number of observations merged, as one float32 (rounded above 2^24)."""
    high, low = stats.count[0], stats.count[1]
    return high * jnp.float32(COUNT_BASE) + low


def exact_count(stats: RunningStats) -> int:
    """The number of observations merged, exactly, as a Python int (host side)."""
    high, low = (int(c) for c in jax.device_get(stats.count))
    return high * COUNT_BASE + low


def _add_count(count: jax.Array, n: int) -> jax.Array:
    """``[high, low] + n`` exactly (every part stays an integer below 2^25)."""
    n_high, n_low = divmod(int(n), COUNT_BASE)
    low = count[1] + jnp.float32(n_low)
    carry = (low >= COUNT_BASE).astype(jnp.float32)
    low = low - carry * jnp.float32(COUNT_BASE)
    high = count[0] + jnp.float32(n_high) + carry
    return jnp.stack([high, low])


def update_stats(stats: RunningStats, x: jax.Array) -> RunningStats:
    """Merges a batch ``x`` of shape ``[B, *shape]`` into ``stats``.

    The first merge (count 0) gives the batch's own mean and variance.
    """
    x = jax.lax.stop_gradient(x).astype(jnp.float32)
    if x.shape[0] == 0:
        return stats
    old = count_value(stats)
    batch_count = jnp.float32(x.shape[0])
    batch_mean = x.mean(0)
    batch_var = x.var(0)
    total = old + batch_count
    delta = batch_mean - stats.mean
    mean = stats.mean + delta * batch_count / total
    m2 = (
        stats.var * old + batch_var * batch_count + delta**2 * old * batch_count / total
    )
    return RunningStats(mean, m2 / total, _add_count(stats.count, x.shape[0]))


def standardize(stats: RunningStats, x: jax.Array) -> jax.Array:
    """``clip((x − mean) / sqrt(var + eps), −10, 10)``; no gradient into ``stats``."""
    stats = jax.lax.stop_gradient(stats)
    lead = (1,) * (x.ndim - stats.mean.ndim)  # explicit broadcast over batch axes
    mean = stats.mean.reshape(lead + stats.mean.shape)
    var = stats.var.reshape(lead + stats.var.shape)
    z = (x - mean) / jnp.sqrt(var + EPS)
    return jnp.clip(z, -OBS_CLIP, OBS_CLIP)


def _mark(fn: Any) -> Any:
    fn.jaxpg_normalizes_observations = True
    return fn


def is_normalized(policy: Policy) -> bool:
    """Whether ``policy`` came from :func:`normalize_observations`."""
    return getattr(policy.apply, "jaxpg_normalizes_observations", False)


def normalize_observations(policy: Policy) -> Policy:
    """``policy`` applied to standardised observations.

    ``init(key, obs)`` returns ``{"net": policy params, "obs_stats": RunningStats}``
    (statistics shaped like one observation); ``apply(params, obs)`` standardises
    ``obs`` with ``obs_stats`` then calls ``policy.apply``. Wrapping twice returns
    the same policy.
    """
    if is_normalized(policy):
        return policy

    def init(key: jax.Array, obs: jax.Array) -> dict:
        return {"net": policy.init(key, obs), "obs_stats": init_stats(obs.shape)}

    def apply(params: dict, obs: jax.Array, *carry: Any) -> Any:
        # A recurrent policy's carry (see jaxpg.recurrent) passes through.
        return policy.apply(
            params["net"], standardize(params["obs_stats"], obs), *carry
        )

    return Policy(init, _mark(apply), policy.initial_carry)


def refresh_obs_stats(params: dict, obs: jax.Array, obs_ndim: int) -> dict:
    """Merges a batch of observations into the ``obs_stats`` of every wrapped network.

    Args:
      params: ``{"policy": ..., "value": ...}``; entries that hold ``obs_stats`` are
        updated.
      obs: observations ``[..., *obs_shape]``.
      obs_ndim: the number of trailing observation axes.

    Returns:
      ``params`` with the new statistics.
    """
    flat = obs.reshape((-1,) + obs.shape[obs.ndim - obs_ndim :])
    out = dict(params)
    for name, p in params.items():
        if isinstance(p, dict) and "obs_stats" in p:
            out[name] = {**p, "obs_stats": update_stats(p["obs_stats"], flat)}
    return out
