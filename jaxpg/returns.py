"""Returns and advantages of ONE unbatched trajectory ``[T]`` (callers vmap).

Episode ends are expressed through a discount array: ``discount_t = γ · (1 −
terminated_t)``, so a recursion never carries value across a terminal step.
Backward recursions are ``jax.lax.scan(..., reverse=True)``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def reward_to_go(rewards: jax.Array, discounts: jax.Array) -> jax.Array:
    """Discounted reward-to-go ``G_t = r_t + discount_t · G_{t+1}``, ``G_T = 0``.

    Args:
      rewards: ``r_t``, shape ``[T]``.
      discounts: ``discount_t``, shape ``[T]``: γ where the episode continues after
        step t, 0 where it ends (or ``γ · (1 − terminated_t)``).

    Returns:
      ``G_t``, shape ``[T]``.

    >>> reward_to_go(jnp.array([1.0, 2.0, 3.0]), jnp.array([0.5, 0.5, 0.5]))
    Array([2.75, 3.5 , 3.  ], dtype=float32)
    """
    rewards = jnp.asarray(rewards)
    discounts = jnp.asarray(discounts, rewards.dtype)
    if rewards.ndim != 1 or discounts.shape != rewards.shape:
        raise ValueError(
            "reward_to_go takes one trajectory: rewards and discounts of shape [T], "
            f"got {rewards.shape} and {discounts.shape} (jax.vmap it over a batch)"
        )

    def backward(g_tp1, inputs):
        r_t, discount_t = inputs
        g_t = r_t + discount_t * g_tp1
        return g_t, g_t

    _, g = jax.lax.scan(
        backward, jnp.zeros((), rewards.dtype), (rewards, discounts), reverse=True
    )
    return g


def episode_return(rewards: jax.Array, discounts: jax.Array) -> jax.Array:
    """The (discounted) return of the whole trajectory, ``R = G_0`` (a scalar).

    With ``discount_t = γ`` inside the episode, ``R = Σ_k γ^k r_k``.

    Args:
      rewards: ``r_t``, ``[T]``.
      discounts: ``discount_t``, ``[T]`` (as in :func:`reward_to_go`).

    Returns:
      ``R``, a scalar.
    """
    return reward_to_go(rewards, discounts)[0]


def discount_powers(discounts: jax.Array) -> jax.Array:
    """``Π_{k<t} discount_k``, shape ``[T]``: γ^t inside an episode from its start.

    The factor that turns ``G^γ_t ∇log π(a_t|s_t)`` into the causal form of the
    gradient of the discounted objective J_γ.

    Args:
      discounts: ``discount_t``, ``[T]``.

    Returns:
      ``Π_{k<t} discount_k``, ``[T]`` (1 at t = 0).
    """
    discounts = jnp.asarray(discounts)
    return jnp.concatenate(
        [jnp.ones((1,), discounts.dtype), jnp.cumprod(discounts)[:-1]]
    )


def gae(
    rewards: jax.Array,
    discounts: jax.Array,
    values: jax.Array,
    next_values: jax.Array,
    lambda_: float | jax.Array,
    cuts: jax.Array,
) -> jax.Array:
    """Generalised advantage estimation on one trajectory ``[T]``.

    ``δ_t = r_t + discount_t · next_values_t − values_t``,
    ``A_t = δ_t + discount_t · λ · (1 − cut_t) · A_{t+1}``, ``A_T = 0``.

    Args:
      rewards: ``r_t``, ``[T]``.
      discounts: ``γ · (1 − terminated_t)``, ``[T]``.
      values: ``V(s_t)``, ``[T]``.
      next_values: ``V(s_{t+1})``, or ``V(final_observation)`` where the episode
        ended at step t, ``[T]``.
      lambda_: λ ∈ [0, 1].
      cuts: 1 where an episode ended at step t (terminated or truncated), ``[T]``.

    Returns:
      Advantages ``A_t``, ``[T]`` (no gradient flows through them).

    References:
      Schulman et al., 2016, High-Dimensional Continuous Control Using Generalized
      Advantage Estimation.
    """
    rewards = jnp.asarray(rewards)
    dtype = rewards.dtype
    discounts, values, next_values, cuts = (
        jnp.asarray(x, dtype) for x in (discounts, values, next_values, cuts)
    )
    for name, x in (
        ("discounts", discounts),
        ("values", values),
        ("next_values", next_values),
        ("cuts", cuts),
    ):
        if rewards.ndim != 1 or x.shape != rewards.shape:
            raise ValueError(
                f"gae takes one trajectory of shape [T]: rewards {rewards.shape}, "
                f"{name} {x.shape} (jax.vmap it over a batch)"
            )
    deltas = rewards + discounts * next_values - values
    trace = discounts * lambda_ * (1.0 - cuts)

    def backward(a_tp1, inputs):
        delta_t, trace_t = inputs
        a_t = delta_t + trace_t * a_tp1
        return a_t, a_t

    _, adv = jax.lax.scan(backward, jnp.zeros((), dtype), (deltas, trace), reverse=True)
    return jax.lax.stop_gradient(adv)


def leave_one_out_mean(weights: jax.Array) -> jax.Array:
    """For each trajectory i, the mean of the *other* trajectories' weights.

    Args:
      weights: ``[T, N]`` (N ≥ 2 trajectories on the last axis).

    Returns:
      ``b[t, i] = (Σ_j weights[t, j] − weights[t, i]) / (N − 1)``, ``[T, N]``.
      It does not depend on trajectory i, so subtracting it keeps the score-function
      estimator unbiased (a mean that includes trajectory i scales the expected
      gradient by ``1 − 1/N``).
    """
    n = weights.shape[-1]
    if n < 2:
        raise ValueError("a leave-one-out baseline needs at least 2 trajectories")
    total = weights.sum(-1, keepdims=True)
    return (total - weights) / (n - 1)


def normalize(x: jax.Array, mask: jax.Array | None, eps: float = 1e-8) -> jax.Array:
    """``(x − mean) / (std + eps)`` over the entries where ``mask`` is 1 (all of them
    with ``mask=None``); masked entries do not enter the mean and std even when they
    are not finite.

    Biased but consistent when used on policy-gradient weights or advantages: the
    mean and the standard deviation are random, computed from the same batch.

    Args:
      x: values, any shape (e.g. ``[T, N]``).
      mask: 1 where an entry counts, 0 elsewhere, the shape of ``x``; or None (all).
      eps: added to the standard deviation.

    Returns:
      The normalised ``x``, its shape (entries outside the mask are transformed
      too, with the masked statistics).
    """
    if mask is None:
        return (x - x.mean()) / (x.std() + eps)
    mask = mask.astype(x.dtype)
    count = jnp.maximum(mask.sum(), 1.0)
    keep = mask != 0  # selects, not products: masked entries may be NaN
    mean = (jnp.where(keep, x, 0.0) * mask).sum() / count
    var = ((jnp.where(keep, x - mean, 0.0) * mask) ** 2).sum() / count
    return (x - mean) / (jnp.sqrt(var) + eps)
