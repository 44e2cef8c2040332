"""Rollouts: ``jax.vmap`` over environments, ``lax.scan`` over time.

The episodic rollout (REINFORCE, evaluation) gives each of N environments exactly
one complete, independent episode: it steps for up to the horizon
``max_steps_in_episode`` and masks every step after an environment's first episode
end. (Keeping "every episode that finished inside a fixed window" would favour short
episodes: a length-biased sample.) Time runs in chunks of ``chunk`` steps inside a
``lax.while_loop`` that stops as soon as every environment is done -- an
optimisation that does not change which steps are kept. After its end an
environment is frozen: its state and observation stay the last ones and its reward
is recorded as 0 (stepping from an ended state may return anything, NaN included).

Random keys, per step t: ``key, key_act, key_env = split(key, 3)``; the N actions are
sampled from ``key_act`` in one batched draw, and the N environments step with
``split(key_env, N)``. The N resets use ``split(key_reset, N)`` where
``key_reset, key = split(key)``.
"""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxpg import policy as pol
from jaxpg.envs import max_episode_steps
from jaxpg.recurrent import initial_carries
from jaxpg.rollout.episode_step import Static, Walk, step, write
from jaxpg.rollout.seeds import closure_free, seed_batched
from jaxpg.sharding import constrain


class Trajectory(NamedTuple):
    """A batch of transitions, time-major. Steps past ``steps_run`` are zeros."""

    obs: jax.Array  # [T, N, *obs_shape] float32: s_t (after the end: the last one)
    action: jax.Array  # [T, N, *action_shape]: a_t (unclipped)
    reward: jax.Array  # [T, N] float32: r_t, 0 where mask is 0
    terminated: jax.Array  # [T, N] bool
    truncated: jax.Array  # [T, N] bool
    mask: jax.Array  # [T, N] float32: 1 for steps of the episode, 0 after its end
    log_prob: jax.Array  # [T, N] float32: log π(a_t|s_t) at sampling time
    value: jax.Array  # [T, N] float32: V(s_t) at sampling time (0 without a critic)
    steps_run: jax.Array  # [] int32: time steps executed (a multiple of the chunk)
    # recurrent.Carry of [T, N, k] arrays: the carries step t acted with (h_t);
    # None for a feed-forward policy and critic.
    carry: Any = None


def episodic_rollout(
    key: jax.Array,
    policy: pol.Policy,
    policy_params: Any,
    env: Any,
    env_params: Any,
    num_envs: int,
    *,
    chunk: int = 32,
    max_steps: int | None = None,
    value: pol.Policy | None = None,
    value_params: Any = None,
    deterministic: bool = False,
    stop_early: bool = True,
    sharding: Any = None,
) -> Trajectory:
    """One complete episode in each of ``num_envs`` environments.

    Args:
      key: a PRNG key.
      policy: the policy's ``(init, apply)``.
      policy_params: its parameters.
      env: an encoded environment (:func:`jaxpg.envs.encode_env`).
      env_params: its parameters.
      num_envs: N.
      chunk: time steps per ``lax.scan`` chunk.
      max_steps: the horizon; ``env_params.max_steps_in_episode`` by default. Steps
        from this index on are masked out even if an environment has not ended.
      value: an optional critic; its ``V(s_t)`` (with the current parameters) is
        recorded.
      value_params: the critic's parameters.
      deterministic: take the policy's mode instead of sampling.
      stop_early: stop once every environment is done (it never changes the mask).
      sharding: a ``NamedSharding`` of the env axis (:mod:`jaxpg.distributed`):
        every per-environment array is pinned to it, so the partitioner splits the
        N environments over its devices. None: no annotation.

    Returns:
      A :class:`Trajectory` with ``T = ceil(max_steps / chunk) · chunk`` rows.
    """
    horizon, chunk, padded = _horizon(env_params, chunk, max_steps)
    static = Static(
        policy, value, env, num_envs, horizon, chunk, padded, deterministic, sharding
    )
    if value is None:
        value_params = None
    ep = _EnvParams.of(env_params)
    eager = jax.config.jax_disable_jit
    pieces, start_consts, chunk_consts = _pieces(
        static, ep, key, policy_params, value_params, stop_early, eager
    )
    loop = functools.partial(_chunk_loop, static, pieces)
    args = (key, policy_params, value_params, ep.dynamic, start_consts, chunk_consts)
    if eager:
        return loop(None, args)
    return seed_batched(loop, None, None)(*args)


def _horizon(
    env_params: Any, chunk: int, max_steps: int | None
) -> tuple[int, int, int]:
    """``(horizon, chunk, padded)``: ``max_steps`` (the environment's episode limit
    by default), the chunk clipped to ``[1, horizon]``, and the rows of the whole
    chunks that cover the horizon."""
    horizon = max_episode_steps(env_params) if max_steps is None else int(max_steps)
    chunk = max(1, min(int(chunk), horizon))
    num_chunks = math.ceil(horizon / chunk)
    return horizon, chunk, num_chunks * chunk


class _EnvParams(NamedTuple):
    """``env_params`` split into static leaves and traced ones (arguments).

    A custom_vmap function may not close over batched values, so traced leaves are
    passed in; Python scalars stay static, as gymnax expects.
    """

    leaves: list
    treedef: Any
    traced: list  # bool per leaf
    dynamic: list  # the traced leaves

    @classmethod
    def of(cls, env_params: Any) -> _EnvParams:
        leaves, treedef = jax.tree.flatten(env_params)
        traced = [isinstance(x, jax.core.Tracer) for x in leaves]
        dynamic = [x for x, d in zip(leaves, traced, strict=True) if d]
        return cls(leaves, treedef, traced, dynamic)

    def rebuild(self, dynamic: list) -> Any:
        """The parameters with ``dynamic`` in place of the traced leaves."""
        it = iter(dynamic)
        return jax.tree.unflatten(
            self.treedef,
            [
                next(it) if d else x
                for x, d in zip(self.leaves, self.traced, strict=True)
            ],
        )


def _start(s: Static, ep_split: _EnvParams, key, pp, vp, ep_dyn):
    """One seed's reset and zero buffers: ``(walk, buffers)``."""
    ep = ep_split.rebuild(ep_dyn)
    key_reset, key = jax.random.split(key)
    obs, env_state = jax.vmap(s.env.reset, in_axes=(0, None))(
        constrain(jax.random.split(key_reset, s.num_envs), s.sharding), ep
    )
    obs, env_state = constrain((obs, env_state), s.sharding)
    alive = jnp.ones((s.num_envs,), bool)
    h = constrain(initial_carries(s.policy, s.value, s.num_envs), s.sharding)
    # Zero buffers shaped like one chunk's records, padded to the full horizon.
    rec_shapes = jax.eval_shape(
        lambda: jax.lax.scan(
            lambda c, x: step(s, pp, vp, ep, c, x),
            (jnp.int32(0), key, obs, env_state, alive, h),
            None,
            length=1,
        )[1]
    )
    buffers = jax.tree.map(
        lambda r: constrain(
            jnp.zeros((s.padded,) + r.shape[1:], r.dtype), s.sharding, axis=1
        ),
        rec_shapes,
    )
    return Walk(key, obs, env_state, alive, h), buffers


def _run_chunk(s: Static, ep_split: _EnvParams, t, walk, buffers, pp, vp, ep_dyn):
    """``s.chunk`` steps from ``walk``, written into ``buffers`` at row ``t``."""
    ep = ep_split.rebuild(ep_dyn)
    (_, *walk), rec = jax.lax.scan(
        lambda c, x: step(s, pp, vp, ep, c, x), (t, *walk), None, length=s.chunk
    )
    buffers = jax.tree.map(lambda b, x: write(b, x, t), buffers, rec)
    return Walk(*walk), buffers


class _Pieces(NamedTuple):
    """The closure-free start and chunk functions, and whether to stop early."""

    start: Any  # (consts, key, pp, vp, ep_dyn) → (walk, buffers)
    chunk: Any  # (consts, t, walk, buffers, pp, vp, ep_dyn) → (walk, buffers)
    stop_early: bool


def _pieces(s: Static, ep: _EnvParams, key, pp, vp, stop_early: bool, eager: bool):
    """The start and chunk functions and their captured constants.

    Jitted, they are closure-free: a custom_vmap rule may not close over tracers (a
    caller's while_loop or cond can hand the rollout values that a surrounding vmap
    batches), so whatever they capture becomes an argument. Op by op (``eager``)
    there is nothing to stage out, and nothing can be vmapped later.
    """
    if eager:
        start_fn = lambda _, *a: _start(s, ep, *a)  # noqa: E731
        chunk_fn = lambda _, *a: _run_chunk(s, ep, *a)  # noqa: E731
        return _Pieces(start_fn, chunk_fn, stop_early), [], []
    start_fn, start_consts = closure_free(
        functools.partial(_start, s, ep), key, pp, vp, ep.dynamic
    )
    walk_and_buffers = jax.eval_shape(
        lambda *a: start_fn(start_consts, *a), key, pp, vp, ep.dynamic
    )
    chunk_fn, chunk_consts = closure_free(
        functools.partial(_run_chunk, s, ep),
        jnp.int32(0),
        *walk_and_buffers,
        pp,
        vp,
        ep.dynamic,
    )
    return _Pieces(start_fn, chunk_fn, stop_early), start_consts, chunk_consts


def _chunk_loop(s: Static, pieces: _Pieces, spec, args) -> Trajectory:
    """The chunk loop; ``spec`` None: one seed, else which leaves of ``args``
    carry a leading seed axis (vmapped, one t for all seeds)."""
    key, pp, vp, ep_dyn, c_start, c_chunk = args

    def begin(key, pp, vp, ep_dyn, c_start):
        return pieces.start(c_start, key, pp, vp, ep_dyn)

    def advance(t, walk, buffers, pp, vp, ep_dyn, c_chunk):
        return pieces.chunk(c_chunk, t, walk, buffers, pp, vp, ep_dyn)

    if spec is not None:
        axes = jax.tree.map(lambda b: 0 if b else None, spec)
        begin = jax.vmap(begin, in_axes=(*axes[:4], axes[4]))
        advance = jax.vmap(advance, in_axes=(None, 0, 0, *axes[1:4], axes[5]))
    walk, buffers = begin(key, pp, vp, ep_dyn, c_start)

    def body(c):
        t, walk, buffers = c
        walk, buffers = advance(t, walk, buffers, pp, vp, ep_dyn, c_chunk)
        return t + s.chunk, walk, buffers

    init = (jnp.int32(0), walk, buffers)
    if pieces.stop_early:
        t, _, buffers = jax.lax.while_loop(
            lambda c: (c[0] < s.horizon) & c[1].alive.any(), body, init
        )
    else:
        num_chunks = s.padded // s.chunk
        t, _, buffers = jax.lax.fori_loop(0, num_chunks, lambda _, c: body(c), init)
    if spec is not None:
        t = jnp.broadcast_to(t, buffers[0].shape[:1])
    carry = buffers[8] if len(buffers) > 8 else None
    return Trajectory(*buffers[:8], steps_run=t, carry=carry)


def episode_statistics(traj: Trajectory) -> dict[str, jax.Array]:
    """Per-environment episode return, length and whether it finished, ``[N]``.

    Args:
      traj: a :class:`Trajectory` ``[T, N]`` (one episode per environment).

    Returns:
      ``{"return": [N] float32 (undiscounted, masked steps only), "length": [N]
      float32 (real steps), "finished": [N] bool}``.
    """
    done = (traj.terminated | traj.truncated) & (traj.mask > 0)
    return {
        "return": traj.reward.sum(0),
        "length": traj.mask.sum(0),
        "finished": done.any(0),
    }
