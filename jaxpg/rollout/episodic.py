"""Rollouts: ``jax.vmap`` over environments, ``lax.scan`` over time.

The episodic rollout (REINFORCE, evaluation) gives each of N environments exactly
one complete, independent episode: it steps for up to the horizon
``max_steps_in_episode`` and masks every step after an environment's first episode
end. (Keeping "every episode that finished inside a fixed window" would favour short
episodes: a length-biased sample.) Time runs in chunks of ``chunk`` steps inside a
``lax.while_loop`` that stops as soon as every environment is done -- an
optimisation that does not change which steps are kept.

Random keys, per step t: ``key, key_act, key_env = split(key, 3)``; the N actions are
sampled from ``key_act`` in one batched draw, and the N environments step with
``split(key_env, N)``. The N resets use ``split(key_reset, N)`` where
``key_reset, key = split(key)``.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxpg import policy as pol
from jaxpg.envs import max_episode_steps
from jaxpg.sharding import constrain


class Trajectory(NamedTuple):
    """A batch of transitions, time-major. Steps past ``steps_run`` are zeros."""

    obs: jax.Array  # [T, N, *obs_shape] float32: s_t
    action: jax.Array  # [T, N, *action_shape]: a_t (unclipped)
    reward: jax.Array  # [T, N] float32: r_t, 0 where mask is 0
    terminated: jax.Array  # [T, N] bool
    truncated: jax.Array  # [T, N] bool
    mask: jax.Array  # [T, N] float32: 1 for steps of the episode, 0 after its end
    log_prob: jax.Array  # [T, N] float32: log π(a_t|s_t) at sampling time
    value: jax.Array  # [T, N] float32: V(s_t) at sampling time (0 without a critic)
    steps_run: jax.Array  # [] int32: time steps executed (a multiple of the chunk)


def _write(buffer: jax.Array, chunk: jax.Array, t: jax.Array) -> jax.Array:
    start = (t,) + (0,) * (buffer.ndim - 1)
    return jax.lax.dynamic_update_slice(buffer, chunk.astype(buffer.dtype), start)


def _step_or_stay(env, key, state, action, alive, env_params):
    """One environment's step, without gymnax's automatic reset.

    An episodic rollout masks everything after an episode's end, so the reset that
    ``env.step`` computes on every step (a random draw and a select over the whole
    state) is wasted work in the compiled graph. For a gymnax ``Environment`` that
    does not override ``step`` this calls ``step_env`` with the key ``step`` would
    pass it (so every real step is identical); any other environment goes through
    ``env.step``. An environment that is already done stays in its last state
    (``alive`` False): stepping past a terminal state can produce anything, even
    NaN, and those values would otherwise flow into masked steps.
    """
    raw = getattr(env, "env", env)
    base = _gymnax_step(raw)
    if base is not None and hasattr(env, "encode"):
        key_step, _ = jax.random.split(key)
        obs, new_state, reward, terminated, _ = raw.step_env(
            key_step, state, env.clip_action(action, env_params), env_params
        )
        truncated = raw.is_truncated(new_state, env_params)
        obs = env.encode(obs, env_params)
        reward = jnp.asarray(reward, jnp.float32)
        terminated = jnp.asarray(terminated, bool)
        truncated = jnp.asarray(truncated, bool)
    else:
        obs, new_state, reward, terminated, truncated, _ = env.step(
            key, state, action, env_params
        )
    new_state = jax.tree.map(lambda n, o: jax.lax.select(alive, n, o), new_state, state)
    return obs, new_state, reward, terminated, truncated


def _gymnax_step(raw: Any) -> Any:
    """gymnax's ``Environment.step`` if ``raw`` inherits it unchanged, else None."""
    if not (hasattr(raw, "step_env") and hasattr(raw, "is_truncated")):
        return None
    try:
        from gymnax.environments.environment import Environment
    except ImportError:  # pragma: no cover - gymnax is a dependency
        return None
    if isinstance(raw, Environment) and type(raw).step is Environment.step:
        return Environment.step
    return None


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
    horizon = max_episode_steps(env_params) if max_steps is None else int(max_steps)
    chunk = max(1, min(int(chunk), horizon))
    num_chunks = math.ceil(horizon / chunk)
    padded = num_chunks * chunk
    if value is None:
        value_params = None
    # Traced leaves of env_params are arguments (a custom_vmap function may not close
    # over batched values); Python scalars stay static, as gymnax expects.
    ep_leaves, ep_def = jax.tree.flatten(env_params)
    traced = [isinstance(x, jax.core.Tracer) for x in ep_leaves]
    ep_dynamic = [x for x, d in zip(ep_leaves, traced, strict=True) if d]

    def env_params_of(dynamic):
        it = iter(dynamic)
        return jax.tree.unflatten(
            ep_def,
            [next(it) if d else x for x, d in zip(ep_leaves, traced, strict=True)],
        )

    def step(pp, vp, ep, carry, _):
        t, key, obs, env_state, alive = carry
        key, key_act, key_env = jax.random.split(key, 3)
        output = policy.apply(pp, obs)
        action = pol.mode(output) if deterministic else pol.sample(key_act, output)
        logp = pol.log_prob(output, action)
        v = (
            value.apply(vp, obs)
            if value is not None
            else jnp.zeros((num_envs,), jnp.float32)
        )
        next_obs, env_state, reward, terminated, truncated = jax.vmap(
            _step_or_stay, in_axes=(None, 0, 0, 0, 0, None)
        )(
            env,
            constrain(jax.random.split(key_env, num_envs), sharding),
            env_state,
            action,
            alive,
            ep,
        )
        valid = alive & (t < horizon)
        done = terminated | truncated
        maskf = valid.astype(jnp.float32)
        record = (obs, action, reward * maskf, terminated, truncated, maskf, logp, v)
        next_obs, env_state, alive, record = constrain(
            (next_obs, env_state, valid & ~done, record), sharding
        )
        return (t + 1, key, next_obs, env_state, alive), record

    # One seed's pieces: the loop below runs them directly, or vmapped over a batch
    # of seeds that shares the chunk counter t (see _seed_batched).
    def start(key, pp, vp, ep_dyn):
        ep = env_params_of(ep_dyn)
        key_reset, key = jax.random.split(key)
        obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(
            constrain(jax.random.split(key_reset, num_envs), sharding), ep
        )
        obs, env_state = constrain((obs, env_state), sharding)
        alive = jnp.ones((num_envs,), bool)
        # Zero buffers shaped like one chunk's records, padded to the full horizon.
        rec_shapes = jax.eval_shape(
            lambda: jax.lax.scan(
                lambda c, x: step(pp, vp, ep, c, x),
                (jnp.int32(0), key, obs, env_state, alive),
                None,
                length=1,
            )[1]
        )
        buffers = tuple(
            constrain(jnp.zeros((padded,) + s.shape[1:], s.dtype), sharding, axis=1)
            for s in rec_shapes
        )
        return (key, obs, env_state, alive), buffers

    def run_chunk(t, state, buffers, pp, vp, ep_dyn):
        ep = env_params_of(ep_dyn)
        (_, *state), rec = jax.lax.scan(
            lambda c, x: step(pp, vp, ep, c, x), (t, *state), None, length=chunk
        )
        buffers = tuple(_write(b, x, t) for b, x in zip(buffers, rec, strict=True))
        return tuple(state), buffers

    # The pieces as closure-free functions: a custom_vmap rule may not close over
    # tracers (a caller's while_loop or cond can hand the rollout values that a
    # surrounding vmap batches), so whatever they capture becomes an argument.
    eager = jax.config.jax_disable_jit
    if eager:  # op by op: nothing to stage out, and nothing can be vmapped later
        start_fn, start_consts = (lambda _, *a: start(*a)), []
        chunk_fn, chunk_consts = (lambda _, *a: run_chunk(*a)), []
    else:
        start_fn, start_consts = _closure_free(
            start, key, policy_params, value_params, ep_dynamic
        )
        state_shapes = jax.eval_shape(
            lambda *a: start_fn(start_consts, *a),
            key,
            policy_params,
            value_params,
            ep_dynamic,
        )
        chunk_fn, chunk_consts = _closure_free(
            run_chunk,
            jnp.int32(0),
            *state_shapes,
            policy_params,
            value_params,
            ep_dynamic,
        )

    def loop(spec, args):
        """The chunk loop; ``spec`` None: one seed, else which leaves of ``args``
        carry a leading seed axis (vmapped, one t for all seeds)."""
        key, pp, vp, ep_dyn, c_start, c_chunk = args

        def begin(key, pp, vp, ep_dyn, c_start):
            return start_fn(c_start, key, pp, vp, ep_dyn)

        def advance(t, state, buffers, pp, vp, ep_dyn, c_chunk):
            return chunk_fn(c_chunk, t, state, buffers, pp, vp, ep_dyn)

        if spec is not None:
            axes = jax.tree.map(lambda b: 0 if b else None, spec)
            begin = jax.vmap(begin, in_axes=(*axes[:4], axes[4]))
            advance = jax.vmap(advance, in_axes=(None, 0, 0, *axes[1:4], axes[5]))
        state, buffers = begin(key, pp, vp, ep_dyn, c_start)

        def body(c):
            t, state, buffers = c
            state, buffers = advance(t, state, buffers, pp, vp, ep_dyn, c_chunk)
            return t + chunk, state, buffers

        init = (jnp.int32(0), state, buffers)
        if stop_early:
            t, _, buffers = jax.lax.while_loop(
                lambda c: (c[0] < horizon) & c[1][3].any(), body, init
            )
        else:
            t, _, buffers = jax.lax.fori_loop(0, num_chunks, lambda _, c: body(c), init)
        if spec is not None:
            t = jnp.broadcast_to(t, buffers[0].shape[:1])
        return Trajectory(*buffers, steps_run=t)

    args = (key, policy_params, value_params, ep_dynamic, start_consts, chunk_consts)
    if eager:
        return loop(None, args)
    return _seed_batched(loop, None, None)(*args)


def _closure_free(fun: Any, *example: Any) -> tuple[Any, list]:
    """``fun`` as ``f(consts, *args)`` with every captured value in ``consts``."""
    closed, out_shape = jax.make_jaxpr(fun, return_shape=True)(*example)
    out_tree = jax.tree.structure(out_shape)

    def converted(consts, *args):
        out = jax.core.eval_jaxpr(closed.jaxpr, consts, *jax.tree.leaves(args))
        return jax.tree.unflatten(out_tree, out)

    return converted, list(closed.consts)


def _seed_batched(loop: Any, spec: Any, size: int | None) -> Any:
    """``loop(spec, args)`` as a function of ``args`` whose vmap batches seeds.

    A plain ``jax.vmap`` of the rollout turns its ``lax.while_loop`` into one whose
    every iteration selects, per seed, between the new and the old carry -- the
    whole ``[T, N]`` trajectory buffers included -- and whose buffer writes at a
    per-seed time index become scatters: K vmapped seeds then cost about twice as
    much per step as one run with K·N environments. Under vmap this function
    instead runs ``loop`` with the seed axis inside the chunks and one chunk
    counter for all seeds (it stops when every seed's environments are done, like
    one wide rollout). Each seed's records are the same as its own rollout's; its
    ``steps_run`` is the batch's. Nested vmaps merge into one seed axis.
    """

    @jax.custom_batching.custom_vmap
    def run(*args):
        return loop(spec, args)

    @run.def_vmap
    def rule(axis_size, in_batched, *args):
        outer = tuple(in_batched)
        inner = spec if spec is not None else jax.tree.map(lambda _: False, outer)
        batched_args = jax.tree.map(
            lambda x, b, s: _merge(x, b, s, axis_size, size), tuple(args), outer, inner
        )
        new_spec = jax.tree.map(lambda b, s: b or s, outer, inner)
        merged = axis_size * (size or 1)
        out = _seed_batched(loop, tuple(new_spec), merged)(*batched_args)
        if size is not None:
            out = jax.tree.map(
                lambda x: x.reshape((axis_size, size) + x.shape[1:]), out
            )
        return out, jax.tree.map(lambda _: True, out)

    return run


def _merge(x: Any, outer: bool, inner: bool, outer_size: int, inner_size: int | None):
    """One argument leaf with the new (outer) vmap axis folded into the seed axis."""
    if inner_size is None:  # first level: the seed axis is the vmapped one
        return x
    if not (outer or inner):
        return x
    if not outer:
        x = jnp.broadcast_to(x, (outer_size,) + x.shape)
    elif not inner:
        x = jnp.broadcast_to(x[:, None], (outer_size, inner_size) + x.shape[1:])
    return x.reshape((outer_size * inner_size,) + x.shape[2:])


def episode_statistics(traj: Trajectory) -> dict[str, jax.Array]:
    """Per-environment episode return, length and whether it finished, ``[N]``."""
    done = (traj.terminated | traj.truncated) & (traj.mask > 0)
    return {
        "return": traj.reward.sum(0),
        "length": traj.mask.sum(0),
        "finished": done.any(0),
    }
