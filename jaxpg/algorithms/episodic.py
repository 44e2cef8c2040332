"""The score-function update on episodic batches, piece by piece.

REINFORCE's batch (:func:`jaxpg.algorithms.reinforce.episodic_batch`) is a ``[T, N]``
buffer padded to the horizon; the pieces here turn it into a gradient:

* :func:`make_loss`: the per-chunk loss, ``−Σ_t m·log π·sg(Ψ) / N`` (the score-function
  term, :func:`jaxpg.losses.score_function_loss`), minus the entropy bonus, plus the
  critic's regression;
* :func:`chunked_value_and_grad`: its value and gradient summed over the time chunks
  the rollout actually ran (an update costs its longest episode, not the horizon);
* :func:`per_trajectory_gradients`: the same gradient split into its N
  per-trajectory terms g_i (:mod:`jaxpg.diagnostics`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxpg import losses
from jaxpg import policy as pol
from jaxpg.gradstats import gradient_statistics
from jaxpg.rollout.episodic import Trajectory


class Batch(NamedTuple):
    """What the loss needs of each time step, ``[T, N]``-shaped."""

    obs: jax.Array
    action: jax.Array
    mask: jax.Array
    weight: jax.Array
    target: jax.Array


def batch_from(traj: Trajectory, psi: jax.Array, target: jax.Array) -> Batch:
    return Batch(traj.obs, traj.action, traj.mask, psi, target)


def chunked_value_and_grad(
    loss_fn: Any,
    params: Any,
    batch: Batch,
    steps_run: jax.Array,
    chunk: int,
) -> tuple[jax.Array, Any, Any]:
    """Sums ``value_and_grad(loss_fn)`` over the time chunks ``[0, steps_run)``.

    ``loss_fn(params, batch_chunk) → (loss, aux)`` must be a sum over steps (so the
    chunk values add up to the whole). Chunks past ``steps_run`` (all masked) are
    skipped.

    Returns:
      ``(loss, grads, aux)`` summed over chunks.
    """
    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

    def piece(i):
        start = i * chunk
        return jax.tree.map(
            lambda x: jax.lax.dynamic_slice_in_dim(x, start, chunk, axis=0), batch
        )

    shapes = jax.eval_shape(grad_fn, params, jax.eval_shape(piece, jnp.int32(0)))
    zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)

    def body(carry):
        i, acc = carry
        out = grad_fn(params, piece(i))
        return i + 1, jax.tree.map(jnp.add, acc, out)

    num_chunks = steps_run // chunk
    _, ((loss, aux), grads) = jax.lax.while_loop(
        lambda c: c[0] < num_chunks, body, (jnp.int32(0), zeros)
    )
    return loss, grads, aux


def batch_gradient(
    loss_fn: Any,
    params: dict,
    traj: Trajectory,
    psi: jax.Array,
    target: jax.Array,
    chunk: int,
) -> tuple[jax.Array, Any, Any]:
    """:func:`chunked_value_and_grad` of ``loss_fn`` over the chunks the rollout ran."""
    horizon = traj.mask.shape[0]
    return chunked_value_and_grad(
        loss_fn,
        params,
        batch_from(traj, psi, target),
        traj.steps_run,
        min(chunk, horizon),
    )


def make_loss(
    config: Any,
    policy: pol.Policy,
    value: pol.Policy | None,
    hp: Any,
    num_trajectories: int,
    num_steps: jax.Array,
    *,
    score_only: bool = False,
):
    """The per-chunk loss: score-function term − entropy bonus + critic loss.

    With ``score_only`` just the score-function term (``estimate_gradient``).
    """

    def loss_fn(params, b: Batch):
        output = policy.apply(params["policy"], b.obs)
        logp = pol.log_prob(output, b.action)
        pg = losses.score_function_loss(logp, b.weight, b.mask)
        if score_only:
            return pg, {}
        ent = losses.masked_sum(pol.entropy(output), b.mask) / num_trajectories
        total = pg - hp.entropy_coef * ent
        aux = {"policy_loss": pg, "entropy": ent}
        if value is not None:
            v = value.apply(params["value"], b.obs)
            vl = losses.value_loss(v, b.target, b.mask, num_steps)
            total = total + hp.value_coef * vl
            aux["value_loss"] = vl
        return total, aux

    return loss_fn


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
    loss_fn = make_loss(None, policy, None, None, 1, jnp.float32(1.0), score_only=True)
    batch = batch_from(traj, psi, psi)

    def one(b: Batch) -> Any:
        column = jax.tree.map(lambda x: jnp.expand_dims(x, 1), b)  # [T, 1, ...]
        grads = jax.grad(lambda p: loss_fn({"policy": p}, column)[0])(policy_params)
        # The loss is −Σ_t mΨ log π: its negated gradient is the ascent direction.
        return jax.tree.map(jnp.negative, grads)

    return jax.vmap(one, in_axes=1)(batch)


def gradient_metrics(
    policy: pol.Policy, policy_params: Any, traj: Trajectory, psi: jax.Array
) -> dict[str, jax.Array]:
    """``gradient_variance`` and ``gradient_snr`` of one update's batch
    (``gradient_diagnostics=True``; see :mod:`jaxpg.diagnostics`)."""
    stats = gradient_statistics(
        per_trajectory_gradients(policy, policy_params, traj, psi)
    )
    return {"gradient_variance": stats.variance, "gradient_snr": stats.snr}
