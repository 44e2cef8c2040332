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

from jaxpg import losses, recurrent
from jaxpg import policy as pol
from jaxpg.gradstats import gradient_statistics
from jaxpg.recurrent import Carry
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
    batch = batch_from(traj, psi, target)
    if traj.carry is not None:
        chunk = min(chunk, horizon)
        return chunked_bptt(loss_fn, params, batch, traj.carry, traj.steps_run, chunk)
    return chunked_value_and_grad(
        loss_fn, params, batch, traj.steps_run, min(chunk, horizon)
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

    def loss_fn(params, b: Batch, carry: Carry | None = None):
        h = Carry() if carry is None else carry
        output, h_policy = _replay(policy, params["policy"], b.obs, h.policy)
        logp = pol.log_prob(output, b.action)
        pg = losses.score_function_loss(logp, b.weight, b.mask)
        aux: dict = {}
        if score_only:
            total = pg
        else:
            ent = losses.masked_sum(pol.entropy(output), b.mask) / num_trajectories
            total = pg - hp.entropy_coef * ent
            aux = {"policy_loss": pg, "entropy": ent}
        h_value = h.value
        if value is not None and not score_only:
            v, h_value = _replay(value, params["value"], b.obs, h.value)
            vl = losses.value_loss(v, b.target, b.mask, num_steps)
            total = total + hp.value_coef * vl
            aux["value_loss"] = vl
        if carry is not None:  # the carries after the chunk (BPTT's link)
            aux["carry"] = Carry(h_policy, h_value)
        return total, aux

    return loss_fn


def _replay(net: pol.Policy, params: Any, obs: jax.Array, carry: Any):
    """``(outputs, carry after)`` of ``[T, N]`` steps of one episode per column.

    Feed-forward (``carry`` None): one batched apply. Recurrent: the carry runs
    through the steps without a reset (an episodic batch holds one episode per
    environment; steps after its end are masked).
    """
    if carry is None:
        return net.apply(params, obs), None
    no_reset = jnp.zeros(obs.shape[:2], bool)
    outputs, _, final = recurrent.unroll(net, params, obs, carry, no_reset)
    return outputs, final


def chunked_bptt(
    loss_fn: Any,
    params: Any,
    batch: Batch,
    carries: Carry,
    steps_run: jax.Array,
    chunk: int,
) -> tuple[jax.Array, Any, Any]:
    """:func:`chunked_value_and_grad` for recurrent networks: exact BPTT by chunks.

    Chunk i's loss depends on the parameters directly and through the carry it
    starts from, which chunks ``0 … i−1`` computed. The chunks are visited last to
    first: chunk i is replayed from its recorded start carry ``carries[i·chunk]``
    (what the rollout computed with the same parameters), and one VJP with
    cotangent ``(1, ∂L/∂h_end)`` gives its parameter gradient and ``∂L/∂h_start``,
    the carry's cotangent for chunk i − 1. The sum over chunks is the gradient of
    the whole episodes' loss, with one chunk's activations in memory at a time.

    Args:
      loss_fn: ``loss_fn(params, batch_chunk, carry) → (loss, aux)`` with the end
        carry in ``aux["carry"]`` (:func:`make_loss`).
      params: the parameters.
      batch: the ``[T, N]`` batch.
      carries: the recorded carries ``h_t``, a :class:`~jaxpg.recurrent.Carry` of
        ``[T, N, ...]`` arrays.
      steps_run: rows the rollout ran (a multiple of ``chunk``).
      chunk: rows per chunk.

    Returns:
      ``(loss, grads, aux)`` summed over chunks (``aux`` without the carry).
    """

    grad_of = _chunk_vjp(loss_fn, params, batch, carries, chunk)
    zero_carry = jax.tree.map(lambda x: jnp.zeros_like(x[0]), carries)
    shapes = jax.eval_shape(grad_of, jnp.int32(0), zero_carry)
    zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes[:2])

    def body(c):
        i, g_end, acc = c
        value_aux, g_params, g_start = grad_of(i, g_end)
        return i - 1, g_start, jax.tree.map(jnp.add, acc, (value_aux, g_params))

    last = steps_run // chunk - 1
    _, _, ((loss, aux), grads) = jax.lax.while_loop(
        lambda c: c[0] >= 0, body, (last, zero_carry, zeros)
    )
    return loss, grads, aux


def _chunk_vjp(loss_fn: Any, params: Any, batch: Batch, carries: Carry, chunk: int):
    """``grad_of(i, ∂L/∂h_end) → ((loss_i, aux_i), ∂loss/∂params, ∂L/∂h_start)``
    of chunk i replayed from its recorded start carry."""

    def forward(p, h, b):
        loss, aux = loss_fn(p, b, h)
        h_end = aux.pop("carry")
        return (loss, h_end), aux

    def grad_of(i, g_end):
        piece = jax.tree.map(
            lambda x: jax.lax.dynamic_slice_in_dim(x, i * chunk, chunk, axis=0),
            batch,
        )
        start = jax.tree.map(lambda x: x[i * chunk], carries)
        out, vjp, aux = jax.vjp(
            lambda p, h: forward(p, h, piece), params, start, has_aux=True
        )
        g_params, g_start = vjp((jnp.ones_like(out[0]), g_end))
        return (out[0], aux), g_params, g_start

    return grad_of


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

    # A recurrent policy replays each episode from its first carry h_0.
    h0 = None if traj.carry is None else traj.carry.policy[0]

    def one(b: Batch, h: Any) -> Any:
        column = jax.tree.map(lambda x: jnp.expand_dims(x, 1), b)  # [T, 1, ...]
        carry = None if h is None else Carry(h[None])

        def loss(p):
            return loss_fn({"policy": p}, column, carry)[0]

        grads = jax.grad(loss)(policy_params)
        # The loss is −Σ_t mΨ log π: its negated gradient is the ascent direction.
        return jax.tree.map(jnp.negative, grads)

    return jax.vmap(one, in_axes=(1, 0))(batch, h0)


def gradient_metrics(
    policy: pol.Policy, policy_params: Any, traj: Trajectory, psi: jax.Array
) -> dict[str, jax.Array]:
    """``gradient_variance`` and ``gradient_snr`` of one update's batch
    (``gradient_diagnostics=True``; see :mod:`jaxpg.diagnostics`)."""
    stats = gradient_statistics(
        per_trajectory_gradients(policy, policy_params, traj, psi)
    )
    return {"gradient_variance": stats.variance, "gradient_snr": stats.snr}
