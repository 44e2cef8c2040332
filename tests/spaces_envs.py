"""Small gymnax environments with the action spaces of tests/test_spaces*.py.

``MatchEnv``: each step shows a context c ∈ {0, 1} (one-hot) and pays the share of
the D = 3 action dimensions that match the context's target, ``TARGETS[c]``; the
action space is ``MultiDiscrete(NVEC)``. Four steps per episode (truncation), so the
best return is exactly 4 and a uniformly random policy earns
4 · mean(1/3, 1/2, 1/4) ≈ 1.44.

``MaskedEnv``: a dict observation ``{"obs": one-hot context, "action_mask": [A]}``
with a ``Discrete(4)`` action space; action 0 would pay 2 but is always illegal,
the context's legal target pays 1, the other legal actions 0. A policy that obeys
the mask earns at most 1 per step.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct
from gymnax.environments import environment, spaces

from jaxpg.spaces import MultiDiscrete

NVEC = (3, 2, 4)
TARGETS = ((2, 0, 1), (0, 1, 3))
HORIZON = 4


@struct.dataclass
class State(environment.EnvState):
    context: jax.Array
    time: int


@struct.dataclass
class Params(environment.EnvParams):
    max_steps_in_episode: int = HORIZON


def _context(key):
    return jax.random.bernoulli(key).astype(jnp.int32)


class MatchEnv(environment.Environment):
    @property
    def default_params(self) -> Params:
        return Params()

    def _obs(self, context):
        return jax.nn.one_hot(context, 2, dtype=jnp.float32)

    def step_env(self, key, state, action, params):
        target = jnp.asarray(TARGETS, jnp.int32)[state.context]
        reward = (action == target).astype(jnp.float32).mean()
        context = _context(key)
        new = State(context=context, time=state.time + 1)
        return self._obs(context), new, reward, jnp.array(False), {}

    def reset_env(self, key, params):
        context = _context(key)
        return self._obs(context), State(context=context, time=0)

    def observation_space(self, params):
        return spaces.Box(0.0, 1.0, (2,), jnp.float32)

    def action_space(self, params):
        return MultiDiscrete(NVEC)


MASKED_ACTIONS = 4
MASKED_TARGETS = (1, 3)
LEGAL = (False, True, True, True)


class MaskedEnv(MatchEnv):
    def _obs(self, context):
        return {
            "obs": jax.nn.one_hot(context, 2, dtype=jnp.float32),
            "action_mask": jnp.asarray(LEGAL),
        }

    def step_env(self, key, state, action, params):
        target = jnp.asarray(MASKED_TARGETS, jnp.int32)[state.context]
        reward = jnp.where(action == 0, 2.0, (action == target).astype(jnp.float32))
        context = _context(key)
        new = State(context=context, time=state.time + 1)
        return self._obs(context), new, reward, jnp.array(False), {}

    def observation_space(self, params):
        return spaces.Dict(
            {
                "obs": spaces.Box(0.0, 1.0, (2,), jnp.float32),
                "action_mask": spaces.Box(0, 1, (MASKED_ACTIONS,), jnp.bool_),
            }
        )

    def action_space(self, params):
        return spaces.Discrete(MASKED_ACTIONS)
