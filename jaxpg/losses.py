"""Losses. The score-function loss is the negated Monte-Carlo estimate of J.

For trajectories τ_i sampled by following π_θ (that sampling *is* the weighting by
p(τ)), ``−(1/N) Σ_i Σ_t Ψ_{i,t} log π_θ(a_{i,t} | s_{i,t})`` has gradient
``−(1/N) Σ_i Σ_t Ψ_{i,t} ∇log π_θ(a_{i,t}|s_{i,t})``, minus an unbiased estimate of
∇J when Ψ is the return, the reward-to-go, or either minus a baseline independent of
the trajectory's own actions. Gradient *descent* on it is ascent on J.

Masks are selects, not multiplications: a masked entry contributes exactly 0 to
a loss and to its gradient even when it is NaN or infinite (``0 · NaN`` is NaN), as
values past an episode's end or log-probabilities of −inf logits may be.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def score_function_loss(
    log_probs: jax.Array, weights: jax.Array, mask: jax.Array
) -> jax.Array:
    """``−Σ_{t,i} mask · log π · stop_gradient(Ψ) / N`` for a batch ``[T, N]``.

    The sum over time inside a trajectory is ``log π(τ)``; the division by the number
    of trajectories N (a constant) is the Monte-Carlo average. No gradient flows into
    the weights Ψ.

    Args:
      log_probs: ``log π_θ(a_t | s_t)``, ``[T, N]``.
      weights: Ψ, ``[T, N]``.
      mask: 1 for real steps, 0 for steps after an episode's end, ``[T, N]``.

    Returns:
      The scalar loss.

    References:
      Williams, 1992, Simple statistical gradient-following algorithms for
      connectionist reinforcement learning.
    """
    if log_probs.ndim != 2 or weights.shape != log_probs.shape:
        raise ValueError(
            "score_function_loss takes a batch [T, N]: log_probs "
            f"{log_probs.shape}, weights {weights.shape}"
        )
    if mask.shape != log_probs.shape:
        raise ValueError(f"mask {mask.shape} must match log_probs {log_probs.shape}")
    num_trajectories = log_probs.shape[1]
    weights = jax.lax.stop_gradient(weights)
    mask = mask.astype(log_probs.dtype)
    # Both factors are selected (not only their product): the gradient of a product
    # multiplies by the other factor, and 0 · NaN would be NaN.
    per_step = mask * _select(mask, log_probs) * _select(mask, weights)
    return -per_step.sum() / num_trajectories


def _select(mask: jax.Array, x: jax.Array) -> jax.Array:
    """``x`` where ``mask`` is non-zero, 0 elsewhere (a select: NaN-safe)."""
    return jnp.where(mask != 0, x, jnp.zeros_like(x))


def masked_sum(x: jax.Array, mask: jax.Array) -> jax.Array:
    """``Σ mask · x``: a masked sum over every axis.

    Entries where ``mask`` is 0 count 0 even if they are not finite (a select).

    Args:
      x: values, any shape (e.g. ``[T, N]``).
      mask: 1 where ``x`` counts, 0 elsewhere; the shape of ``x``.

    Returns:
      The scalar sum.
    """
    mask = mask.astype(x.dtype)
    return (_select(mask, x) * mask).sum()


def value_loss(
    values: jax.Array, targets: jax.Array, mask: jax.Array, count: jax.Array
) -> jax.Array:
    """``½ Σ mask · (V − stop_gradient(target))² / count``: the critic's regression.

    Entries where ``mask`` is 0 count 0, also in the gradient, whatever their values.

    Args:
      values: the critic's ``V(s_t)``, e.g. ``[T, N]``.
      targets: the regression targets (no gradient flows into them), the shape of
        ``values``.
      mask: 1 for real steps, 0 for padding; the shape of ``values``.
      count: the divisor, a scalar (e.g. the number of real steps).

    Returns:
      The scalar loss.
    """
    err = _select(mask, values - jax.lax.stop_gradient(targets))
    return 0.5 * masked_sum(err**2, mask) / count


def clipped_surrogate(
    log_probs: jax.Array,
    old_log_probs: jax.Array,
    advantages: jax.Array,
    clip_eps: float | jax.Array,
) -> jax.Array:
    """PPO's clipped surrogate, negated and averaged over samples.

    ``−mean(min(ρ A, clip(ρ, 1 − ε, 1 + ε) A))`` with ``ρ = exp(log π − log π_old)``.

    Args:
      log_probs: ``log π_θ(a | s)`` of the current parameters, any shape (e.g.
        ``[B]`` samples of a minibatch).
      old_log_probs: ``log π_old(a | s)`` from the rollout (no gradient), the same
        shape.
      advantages: ``A`` (no gradient), the same shape.
      clip_eps: ε, a scalar.

    Returns:
      The scalar loss (the mean over every entry).

    References:
      Schulman et al., 2017, Proximal Policy Optimization Algorithms.
    """
    ratio = jnp.exp(log_probs - jax.lax.stop_gradient(old_log_probs))
    advantages = jax.lax.stop_gradient(advantages)
    unclipped = ratio * advantages
    clipped = jnp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * advantages
    return -jnp.minimum(unclipped, clipped).mean()
