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
from jaxpg.distributed import constrain
from jaxpg.envs import max_episode_steps


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


class _Carry(NamedTuple):
    t: jax.Array
    key: jax.Array
    obs: jax.Array
    env_state: Any
    alive: jax.Array
    buffers: Trajectory


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
            key_step, state, env._clip_action(action, env_params), env_params
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

    key_reset, key = jax.random.split(key)
    obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(
        constrain(jax.random.split(key_reset, num_envs), sharding), env_params
    )
    obs, env_state = constrain((obs, env_state), sharding)

    def step(carry, _):
        t, key, obs, env_state, alive = carry
        key, key_act, key_env = jax.random.split(key, 3)
        output = policy.apply(policy_params, obs)
        action = pol.mode(output) if deterministic else pol.sample(key_act, output)
        logp = pol.log_prob(output, action)
        v = (
            value.apply(value_params, obs)
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
            env_params,
        )
        valid = alive & (t < horizon)
        done = terminated | truncated
        maskf = valid.astype(jnp.float32)
        record = (obs, action, reward * maskf, terminated, truncated, maskf, logp, v)
        next_obs, env_state, alive, record = constrain(
            (next_obs, env_state, valid & ~done, record), sharding
        )
        return (t + 1, key, next_obs, env_state, alive), record

    def body(c: _Carry) -> _Carry:
        (t, key, obs, env_state, alive), rec = jax.lax.scan(
            step, (c.t, c.key, c.obs, c.env_state, c.alive), None, length=chunk
        )
        buffers = c.buffers._replace(
            **{
                name: _write(getattr(c.buffers, name), x, c.t)
                for name, x in zip(Trajectory._fields[:8], rec, strict=True)
            },
            steps_run=t,
        )
        return _Carry(t, key, obs, env_state, alive, buffers)

    # Zero buffers shaped like one chunk's records, padded to the full horizon.
    rec_shapes = jax.eval_shape(
        lambda: jax.lax.scan(
            step,
            (jnp.int32(0), key, obs, env_state, jnp.ones((num_envs,), bool)),
            None,
            length=1,
        )[1]
    )
    buffers = Trajectory(
        *(
            constrain(jnp.zeros((padded,) + s.shape[1:], s.dtype), sharding, axis=1)
            for s in rec_shapes
        ),
        steps_run=jnp.int32(0),
    )
    init = _Carry(
        jnp.int32(0), key, obs, env_state, jnp.ones((num_envs,), bool), buffers
    )

    if stop_early:
        final = jax.lax.while_loop(
            lambda c: (c.t < horizon) & c.alive.any(), body, init
        )
    else:
        final = jax.lax.fori_loop(0, num_chunks, lambda _, c: body(c), init)
    return final.buffers


def episode_statistics(traj: Trajectory) -> dict[str, jax.Array]:
    """Per-environment episode return, length and whether it finished, ``[N]``."""
    done = (traj.terminated | traj.truncated) & (traj.mask > 0)
    return {
        "return": traj.reward.sum(0),
        "length": traj.mask.sum(0),
        "finished": done.any(0),
    }
