"""Gradient diagnostics: the mean, variance and SNR of a policy-gradient estimator.

A batch estimate of ∇J is ``ĝ = (1/N) Σ_i g_i`` with one term per trajectory,

    g_i = Σ_t m_{i,t} Ψ_{i,t} ∇_θ log π_θ(a_{i,t} | s_{i,t}),

where Ψ is whatever the estimator weights the steps with (:func:`reinforce_weights`:
the return, the reward-to-go, either minus a baseline, GAE(λ), ...). This module
computes every g_i with ``jax.vmap(jax.grad(...))`` over the batch, using the same
loss that training differentiates (:func:`jaxpg.algorithms.reinforce.make_loss`),
so ``mean_i g_i`` *is* the batch estimate, to float rounding.

**Definition with coupled weights.** Ψ_{i,t} is computed from the whole batch
*before* the per-trajectory split. With the leave-one-out baseline (or
``normalize_weights``) Ψ_i depends on the other trajectories, so the g_i are
exchangeable but not independent: their mean is still exactly the batch estimate,
but ``variance / N`` is the batch estimate's variance only up to the covariance
between terms (for leave-one-out it is of order ‖∇J‖² / (N − 1)², small next to
the variance of one term). For return, reward-to-go, a value baseline and GAE with
a critic from before the batch, the g_i are independent draws.

Statistics (:func:`gradient_statistics`), on the flattened ``[N, P]`` terms:

* ``mean``: ``(1/N) Σ_i g_i``, the batch estimate (ascent direction);
* ``variance``: the trace of their sample covariance (``ddof=1``): the total
  variance of ONE trajectory's term. A batch of n independent terms has ``variance
  / n``;
* ``snr``: ``‖mean‖² / variance``, signal-to-noise of one term. (‖mean‖² itself
  overstates ‖E g‖² by ``variance / N``; where the true gradient is known, pass it
  as ``reference`` and use ``‖reference‖² / variance``);
* ``cosine``: ``cos(mean, reference)`` (NaN without a reference).

:func:`samples_for_cosine` turns these into the batch size at which a batch
estimate's expected cosine with the true gradient reaches a target: for an unbiased
estimator ``n ≈ (c² / (1 − c²)) / snr``, so the sample cost is 1/SNR.

All functions are pure and jittable. ``ReinforceConfig(gradient_diagnostics=True)``
adds ``gradient_variance`` and ``gradient_snr`` to the training metrics.

References:
  Mohamed, Rosca, Figurnov, Mnih, 2020, Monte Carlo Gradient Estimation in
  Machine Learning (JMLR 21).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from jaxpg import policy as pol
from jaxpg.algorithms import reinforce
from jaxpg.rollout import Trajectory, episodic_rollout

__all__ = [
    "GradientStats",
    "cosine_similarity",
    "gradient_statistics",
    "make_gradient_diagnostics",
    "per_trajectory_gradients",
    "samples_for_cosine",
]


class GradientStats(NamedTuple):
    """Statistics of N per-trajectory gradient terms g_i."""

    mean: Any  # params-shaped: (1/N) Σ_i g_i, the batch estimate (ascent direction)
    variance: jax.Array  # [] float32: trace of the sample covariance of the g_i
    snr: jax.Array  # [] float32: ‖mean‖² / variance
    cosine: jax.Array  # [] float32: cos(mean, reference); NaN without a reference


def per_trajectory_gradients(
    policy: pol.Policy, policy_params: Any, traj: Trajectory, psi: jax.Array
) -> Any:
    """``g_i = Σ_t m_{i,t} Ψ_{i,t} ∇ log π(a_{i,t}|s_{i,t})`` for each trajectory.

    Args:
      policy: the policy's ``(init, apply)``.
      policy_params: its parameters.
      traj: a batch ``[T, N]`` (obs, action and mask are used).
      psi: the weights Ψ, ``[T, N]``, as the estimator computed them for the whole
        batch (no gradient flows into them).

    Returns:
      A pytree shaped like ``policy_params`` with a leading axis N. Its mean over
      that axis is the batch estimate ``−∇ score_function_loss``.
    """
    loss_fn = reinforce.make_loss(
        None, policy, None, None, 1, jnp.float32(1.0), score_only=True
    )
    batch = reinforce.batch_from(traj, psi, psi)

    def one(b: reinforce.Batch) -> Any:
        column = jax.tree.map(lambda x: jnp.expand_dims(x, 1), b)  # [T, 1, ...]
        grads = jax.grad(lambda p: loss_fn({"policy": p}, column)[0])(policy_params)
        # The loss is −Σ_t mΨ log π: its negated gradient is the ascent direction.
        return jax.tree.map(jnp.negative, grads)

    return jax.vmap(one, in_axes=1)(batch)


def _flat_rows(grads: Any) -> jax.Array:
    return jax.vmap(lambda g: ravel_pytree(g)[0])(grads)


def cosine_similarity(a: Any, b: Any) -> jax.Array:
    """``a·b / (‖a‖ ‖b‖)`` of two pytrees of the same structure (NaN if one is 0).

    >>> float(cosine_similarity({"w": jnp.array([1.0, 0.0])}, {"w": jnp.array([1.0, 1.0])}))
    0.7071067...
    """
    x, y = ravel_pytree(a)[0], ravel_pytree(b)[0]
    return jnp.dot(x, y) / (jnp.linalg.norm(x) * jnp.linalg.norm(y))


def gradient_statistics(grads: Any, reference: Any = None) -> GradientStats:
    """Mean, total variance, SNR and cosine of per-trajectory terms.

    Args:
      grads: a pytree whose leaves have a leading axis N ≥ 2 (the g_i, e.g. from
        :func:`per_trajectory_gradients`).
      reference: a pytree shaped like one g_i (the exact or a high-sample
        gradient), or None.

    Returns:
      :class:`GradientStats`; ``variance`` uses ``ddof=1``.

    >>> g = {"w": jnp.array([[1.0, 0.0], [3.0, 2.0]])}
    >>> s = gradient_statistics(g, reference={"w": jnp.array([1.0, 0.0])})
    >>> float(s.variance), float(s.snr), round(float(s.cosine), 4)
    (4.0, 1.25, 0.8944)
    """
    rows = _flat_rows(grads)
    n = rows.shape[0]
    if n < 2:
        raise ValueError(f"gradient_statistics needs N >= 2 terms; got {n}")
    mean = rows.mean(0)
    variance = jnp.sum((rows - mean[None]) ** 2) / (n - 1)
    snr = jnp.dot(mean, mean) / variance
    if reference is None:
        cosine = jnp.full((), jnp.nan, mean.dtype)
    else:
        ref = ravel_pytree(reference)[0].astype(mean.dtype)
        cosine = jnp.dot(mean, ref) / (jnp.linalg.norm(mean) * jnp.linalg.norm(ref))
    unravel = ravel_pytree(jax.tree.map(lambda x: x[0], grads))[1]
    return GradientStats(unravel(mean), variance, snr, cosine)


def samples_for_cosine(
    mean: Any,
    variance: jax.Array,
    reference: Any,
    target: float = 0.9,
    num_samples: int | None = None,
) -> jax.Array:
    """Batch size n at which a batch estimate's cosine with ``reference`` is ``target``.

    A batch of n independent terms with mean m and total variance v has, for a
    high-dimensional gradient (the noise's squared norm concentrates at v / n and
    its projections average out), ``cos ≈ (m·r̂) / sqrt(‖m‖² + v / n)`` with r̂ the
    unit reference. Solving for n:

        n = v / ((m·r̂)² / c² − ‖m‖²),

    ``inf`` when the estimator's own direction is further than ``target`` from the
    reference (a bias no batch size removes). For m = reference (unbiased) this is
    ``(c² / (1 − c²)) / snr`` with ``snr = ‖reference‖² / v``: 4.26 / snr at c = 0.9.

    Args:
      mean: the estimator's expectation m (pytree).
      variance: the total variance v of one term.
      reference: the true (or a high-sample) gradient (pytree).
      target: the cosine c ∈ (0, 1).
      num_samples: when ``mean`` is itself an average of this many terms, its
        squared norm overstates ‖m‖² by ``variance / num_samples``, which is
        removed.

    >>> r = {"w": jnp.array([1.0, 0.0])}
    >>> round(float(samples_for_cosine(r, jnp.float32(1.0), r, 0.9)), 3)
    4.263
    """
    m = ravel_pytree(mean)[0]
    r = ravel_pytree(reference)[0].astype(m.dtype)
    along = jnp.dot(m, r) / jnp.linalg.norm(r)
    norm2 = jnp.dot(m, m)
    if num_samples is not None:
        norm2 = norm2 - variance / num_samples
    room = along**2 / target**2 - norm2
    return jnp.where((room > 0) & (along > 0), variance / room, jnp.inf)


def training_metrics(
    policy: pol.Policy, policy_params: Any, traj: Trajectory, psi: jax.Array
) -> dict[str, jax.Array]:
    """``gradient_variance`` and ``gradient_snr`` of one update's batch."""
    stats = gradient_statistics(
        per_trajectory_gradients(policy, policy_params, traj, psi)
    )
    return {"gradient_variance": stats.variance, "gradient_snr": stats.snr}


class Diagnosis(NamedTuple):
    """What the function from :func:`make_gradient_diagnostics` returns."""

    stats: GradientStats  # of the N terms of this batch
    grads: Any  # policy-params-shaped, leading axis N: the g_i
    trajectory: Trajectory  # the batch [T, N]
    psi: jax.Array  # [T, N]: the weights Ψ of the estimator


def make_gradient_diagnostics(
    config: reinforce.ReinforceConfig,
    env: Any = None,
    env_params: Any = None,
    policy: pol.Policy | None = None,
    value: pol.Policy | None = None,
):
    """A pure ``diagnose(key, params, hparams=None, reference=None) → Diagnosis``.

    ``diagnose`` plays ``config.num_envs`` episodes with ``params`` (the full
    ``{"policy", "value"}`` dict), weights them as ``config`` says (any
    :class:`jaxpg.ReinforceConfig`: weight ``"return"``/``"reward_to_go"``/
    ``"gae"``, baseline ``"none"``/``"mean"``/``"value"``, γ^t weighting, weight
    normalisation) and returns the per-trajectory terms and their statistics. It is
    jittable and vmappable over keys; its stats' mean equals
    :func:`jaxpg.estimate_gradient` with the same key (policy part).

    >>> import jax, jaxpg
    >>> config = jaxpg.ReinforceConfig(num_envs=4, hidden_sizes=(8,))
    >>> diagnose = make_gradient_diagnostics(config)
    >>> params = jaxpg.make_trainer(config).init(jax.random.key(0)).params
    >>> d = jax.jit(diagnose)(jax.random.key(1), params)
    >>> d.stats.variance.shape
    ()
    """
    from jaxpg.envs import max_episode_steps
    from jaxpg.state import hparams as config_hparams
    from jaxpg.train import _build

    if not isinstance(config, reinforce.ReinforceConfig):
        raise ValueError(
            "make_gradient_diagnostics takes a ReinforceConfig (episodic batches); "
            f"got {type(config).__name__}"
        )
    env, env_params, policy, value = _build(config, env, env_params, policy, value)
    horizon = max_episode_steps(env_params)
    chunk = min(config.rollout_chunk, horizon)

    def diagnose(key, params, hparams=None, reference=None) -> Diagnosis:
        hp = config_hparams(config) if hparams is None else hparams
        traj = episodic_rollout(
            key,
            policy,
            params["policy"],
            env,
            env_params,
            config.num_envs,
            chunk=chunk,
            max_steps=horizon,
            value=value,
            value_params=params.get("value"),
        )
        psi, _ = reinforce.weights_from_config(traj, config, hp.gamma, hp.gae_lambda)
        grads = per_trajectory_gradients(policy, params["policy"], traj, psi)
        ref = reference  # a policy-params pytree, or a full params dict
        if isinstance(ref, dict) and "policy" in ref:
            ref = ref["policy"]
        return Diagnosis(gradient_statistics(grads, ref), grads, traj, psi)

    return diagnose
