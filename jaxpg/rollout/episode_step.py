"""One time step of the episodic rollout (:mod:`jaxpg.rollout.episodic`).

The N environments step once with the policy (and, for a recurrent policy, its
carry: one episode per environment, so the carry starts at ``initial_carry`` and is
never reset inside the rollout); an environment that already ended stays frozen.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxpg import policy as pol
from jaxpg.recurrent import Carry, apply
from jaxpg.sharding import constrain


class Static(NamedTuple):
    """What the rollout's traced pieces take as Python constants."""

    policy: pol.Policy
    value: pol.Policy | None
    env: Any  # the encoded environment
    num_envs: int  # N
    horizon: int  # steps from this index on are masked
    chunk: int  # steps per lax.scan chunk
    padded: int  # rows of the buffers: whole chunks covering the horizon
    deterministic: bool  # the policy's mode instead of a sample
    sharding: Any  # NamedSharding of the env axis, or None


class Walk(NamedTuple):
    """The N environments between two steps."""

    key: jax.Array  # the rollout's key stream
    obs: jax.Array  # [N, *obs_shape]: the observation to act on
    env_state: Any  # the N environment states
    alive: jax.Array  # [N] bool: the episode has not ended yet
    carry: Carry  # the policy's and critic's carries (None: feed-forward)


def step(s: Static, pp, vp, ep, carry, _):
    """One time step of the N environments: ``((t, *walk), _) → ((t + 1, *walk),
    records)``, the records in :class:`~jaxpg.rollout.Trajectory` field order
    (with the carries ``h_t`` last for a recurrent policy or critic)."""
    t, key, obs, env_state, alive, h = carry
    key, key_act, key_env = jax.random.split(key, 3)
    output, h_policy = apply(s.policy, pp, obs, h.policy)
    action = pol.mode(output) if s.deterministic else pol.sample(key_act, output)
    logp = pol.log_prob(output, action)
    if s.value is not None:
        v, h_value = apply(s.value, vp, obs, h.value)
    else:
        v, h_value = jnp.zeros((s.num_envs,), jnp.float32), None
    next_obs, env_state, reward, terminated, truncated = jax.vmap(
        step_or_stay, in_axes=(None, 0, 0, 0, 0, 0, None)
    )(
        s.env,
        constrain(jax.random.split(key_env, s.num_envs), s.sharding),
        env_state,
        obs,
        action,
        alive,
        ep,
    )
    valid = alive & (t < s.horizon)
    done = terminated | truncated
    maskf = valid.astype(jnp.float32)
    reward = jnp.where(valid, reward, jnp.zeros_like(reward))  # a select: NaN-safe
    record = (obs, action, reward, terminated, truncated, maskf, logp, v)
    if recurrent(h):  # the carries the step acted with, h_t
        record = (*record, h)
    h = Carry(h_policy, h_value)
    next_obs, env_state, alive, record, h = constrain(
        (next_obs, env_state, valid & ~done, record, h), s.sharding
    )
    return (t + 1, key, next_obs, env_state, alive, h), record


def recurrent(h: Carry) -> bool:
    """Whether either network carries a state."""
    return h.policy is not None or h.value is not None


def write(buffer: jax.Array, chunk: jax.Array, t: jax.Array) -> jax.Array:
    start = (t,) + (0,) * (buffer.ndim - 1)
    return jax.lax.dynamic_update_slice(buffer, chunk.astype(buffer.dtype), start)


def step_or_stay(env, key, state, obs, action, alive, env_params):
    """One environment's step, without gymnax's automatic reset.

    An episodic rollout masks everything after an episode's end, so the reset that
    ``env.step`` computes on every step (a random draw and a select over the whole
    state) is wasted work in the compiled graph. For a gymnax ``Environment`` that
    does not override ``step`` this calls ``step_env`` with the key ``step`` would
    pass it (so every real step is identical); any other environment goes through
    ``env.step``. An environment that is already done (``alive`` False) stays in
    its last state and keeps its last observation ``obs`` (its reward is replaced
    by 0 where it is recorded): stepping past a terminal state can produce
    anything, even NaN, and a NaN observation in a masked step would reach the
    networks, whose gradient (0 times NaN) is NaN however the loss masks it.
    """
    raw = getattr(env, "env", env)
    base = gymnax_step(raw)
    if base is not None and hasattr(env, "encode"):
        key_step, _ = jax.random.split(key)
        next_obs, new_state, reward, terminated, _ = raw.step_env(
            key_step, state, env.clip_action(action, env_params), env_params
        )
        truncated = raw.is_truncated(new_state, env_params)
        next_obs = env.encode(next_obs, env_params)
        reward = jnp.asarray(reward, jnp.float32)
        terminated = jnp.asarray(terminated, bool)
        truncated = jnp.asarray(truncated, bool)
    else:
        next_obs, new_state, reward, terminated, truncated, _ = env.step(
            key, state, action, env_params
        )
    keep = functools.partial(jax.lax.select, alive)
    new_state = jax.tree.map(keep, new_state, state)
    next_obs = jax.tree.map(keep, next_obs, obs)
    return next_obs, new_state, reward, terminated, truncated


def gymnax_step(raw: Any) -> Any:
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
