"""A tabular POMDP whose right action depends on a cue seen only at the first step.

A probe for the gradient through a recurrent policy's memory: its J(θ) and ∇J are
exact sums over every trajectory, and :func:`gradient_z_scores` compares them with
jaxpg's :func:`jaxpg.estimate_gradient` (the test and
``scripts/memory_gradient_numbers.py`` use it).

The episode has ``HORIZON = 3`` steps. The observation (``Discrete(4)``, one-hot
encoded by jaxpg) is the cue (view 0 or 1, drawn uniformly) at t = 0, a blank
(view 2) at t = 1 and a query (view 3) at t = 2, whatever the actions. Rewards:
``BLANK_REWARD`` for action 0 at t = 1, and 1 at t = 2 for the action equal to the
cue; the episode terminates after the query. The observations do not depend on the
actions, so a recurrent policy's carries depend only on the cue, and

``J(θ) = ½ Σ_c [BLANK_REWARD · π(0 | h_1(c)) + π(c | h_2(c))]``

which :func:`exact_objective` evaluates with the policy's own ``apply``. A policy
without memory scores at most ½ on the query.

The policy (:func:`cue_policy`) is a hand-parameterised tanh RNN with a 2-unit
carry: ``h' = tanh(x W_x + h W_h + b)``, logits ``h' U + d``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from gymnax.environments import environment, spaces

from jaxpg.networks import Policy

HORIZON, NUM_VIEWS, NUM_ACTIONS, MEMORY = 3, 4, 2, 2
BLANK_REWARD = 0.5
CUE, BLANK, QUERY = 0, 2, 3  # views (the cue is view 0 or 1)

# θ used by the tests: the memory is weak, so ∇J is far from 0.
PARAMS = {
    "w_x": np.array([[0.8, -0.3], [-0.6, 0.5], [0.1, 0.2], [-0.2, 0.4]]),
    "w_h": np.array([[0.5, -0.4], [0.3, 0.6]]),
    "b": np.array([0.05, -0.1]),
    "u": np.array([[0.7, -0.5], [-0.4, 0.9]]),
    "d": np.array([0.1, -0.2]),
}


@struct.dataclass
class State(environment.EnvState):
    cue: jax.Array
    time: int


@struct.dataclass
class Params(environment.EnvParams):
    max_steps_in_episode: int = HORIZON


def view(cue: jax.Array, time: jax.Array) -> jax.Array:
    """The observation index at ``time``: the cue, the blank, then the query."""
    return jnp.where(time == 0, cue, jnp.where(time == 1, BLANK, QUERY)).astype(
        jnp.int32
    )


class CuePOMDP(environment.Environment):
    """The cue-recall POMDP (see the module doc)."""

    @property
    def default_params(self) -> Params:
        return Params()

    def step_env(self, key, state, action, params):
        del key
        blank = (state.time == 1) & (action == 0)
        correct = (state.time == 2) & (action == state.cue)
        reward = BLANK_REWARD * blank.astype(jnp.float32) + correct.astype(jnp.float32)
        new = State(cue=state.cue, time=state.time + 1)
        terminated = new.time >= HORIZON
        return view(new.cue, new.time), new, reward, terminated, {}

    def reset_env(self, key, params):
        cue = jax.random.bernoulli(key).astype(jnp.int32)
        return view(cue, 0), State(cue=cue, time=0)

    def is_terminated(self, state, params):
        return state.time >= HORIZON

    def observation_space(self, params):
        return spaces.Discrete(NUM_VIEWS)

    def action_space(self, params):
        return spaces.Discrete(NUM_ACTIONS)

    @property
    def num_actions(self) -> int:
        return NUM_ACTIONS


def cue_policy(params: Any = None, *, detach_carry: bool = False) -> Policy:
    """The hand-parameterised recurrent policy (one-hot observations).

    Args:
      params: the parameter dict (:data:`PARAMS` by default).
      detach_carry: a deliberately wrong variant for negative controls: no
        gradient flows through the carry (``stop_gradient`` on ``h``).

    Returns:
      A recurrent :class:`jaxpg.Policy` with a ``[*batch, 2]`` carry.
    """
    table = jax.tree.map(
        lambda x: jnp.asarray(x, jnp.float32), PARAMS if params is None else params
    )

    def init(key, obs):
        del key, obs
        return table

    def apply(p, obs, carry):
        if detach_carry:
            carry = jax.lax.stop_gradient(carry)
        pre = obs @ p["w_x"] + carry @ p["w_h"]
        h = jnp.tanh(pre + jnp.broadcast_to(p["b"], pre.shape))
        logits = h @ p["u"]
        return logits + jnp.broadcast_to(p["d"], logits.shape), h

    def initial_carry(batch_shape=()):
        return jnp.zeros(tuple(batch_shape) + (MEMORY,), jnp.float32)

    return Policy(init, apply, initial_carry)


def exact_objective(params: Any, policy: Policy | None = None) -> jax.Array:
    """J(θ), exactly: the sum over both cues of the expected rewards.

    Args:
      params: the policy's parameters (float64 under ``jax.enable_x64``).
      policy: the recurrent policy (:func:`cue_policy` by default).

    Returns:
      J(θ), a scalar; ``jax.grad`` of it is the exact ∇J.
    """
    policy = cue_policy() if policy is None else policy
    dtype = jax.tree.leaves(params)[0].dtype
    total = jnp.zeros((), dtype)
    for cue in range(2):
        h = jnp.zeros((MEMORY,), dtype)
        probs = []
        for t in range(HORIZON):
            obs = jax.nn.one_hot(view(jnp.int32(cue), t), NUM_VIEWS, dtype=dtype)
            logits, h = policy.apply(params, obs, h)
            probs.append(jax.nn.softmax(logits))
        total = total + 0.5 * (BLANK_REWARD * probs[1][0] + probs[2][cue])
    return total


def exact_gradient(params: Any = None) -> dict:
    """∇J at ``params`` (:data:`PARAMS` by default), in float64 numpy arrays."""
    params = PARAMS if params is None else params
    with jax.enable_x64(True):
        p64 = jax.tree.map(lambda x: jnp.asarray(x, jnp.float64), params)
        grad = jax.grad(exact_objective)(p64, cue_policy(p64))
        return jax.tree.map(np.asarray, grad)


def gradient_z_scores(
    estimate_gradient: Any,
    config: Any,
    num_batches: int,
    *,
    seed: int = 0,
    detach_carry: bool = False,
) -> np.ndarray:
    """z-scores of the mean of ``num_batches`` batch estimates against ∇J.

    Args:
      estimate_gradient: :func:`jaxpg.estimate_gradient`.
      config: a ``ReinforceConfig`` (``num_envs`` episodes per batch).
      num_batches: independent batches (keys ``split(key(seed), num_batches)``).
      seed: the seed of those keys.
      detach_carry: estimate with :func:`cue_policy`'s negative control.

    Returns:
      ``(mean − ∇J) / standard error`` for every parameter, flattened.
    """
    env = CuePOMDP()
    policy = cue_policy(detach_carry=detach_carry)
    params = {"policy": policy.init(None, None), "value": None}

    def one(key):
        g = estimate_gradient(key, config, params, env, None, policy=policy)
        return g["policy"]

    keys = jax.random.split(jax.random.key(seed), num_batches)
    grads = jax.jit(jax.vmap(one))(keys)
    estimates = np.concatenate(
        [np.asarray(g, np.float64).reshape(num_batches, -1) for g in _ordered(grads)],
        axis=1,
    )
    exact = np.concatenate([g.reshape(-1) for g in _ordered(exact_gradient())])
    mean = estimates.mean(0)
    se = estimates.std(0, ddof=1) / np.sqrt(num_batches)
    return (mean - exact) / se


def _ordered(tree: dict) -> list:
    return [tree[name] for name in sorted(tree)]
