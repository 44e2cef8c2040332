"""A small tabular MDP (a gymnax Environment) whose J(θ) is computed exactly.

A probe for estimator tests and the estimator lab, with the exact ∇J
(:func:`exact_gradient`) and every trajectory's probability (:func:`all_trajectories`).

Three states observed as ``Discrete(3)`` (jaxpg one-hot encodes them), two actions,
stochastic transitions that can end the episode (a fourth, absorbing outcome), a
horizon of 4 steps (truncation). Rewards have a clearly non-zero mean. The policy is
a table of logits, passed to jaxpg as a custom :class:`jaxpg.Policy`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from gymnax.environments import environment, spaces

from jaxpg.policy import Policy

NUM_STATES, NUM_ACTIONS, HORIZON = 3, 2, 4

# P[s, a, s'] for s' in {0, 1, 2, end}.
TRANSITIONS = np.array(
    [
        [[0.1, 0.6, 0.2, 0.1], [0.5, 0.1, 0.1, 0.3]],
        [[0.2, 0.2, 0.5, 0.1], [0.1, 0.1, 0.2, 0.6]],
        [[0.3, 0.3, 0.2, 0.2], [0.05, 0.05, 0.8, 0.1]],
    ]
)
REWARDS = np.array([[1.0, 2.0], [0.5, 3.0], [2.5, 0.2]])  # r(s, a)
INITIAL = np.array([0.5, 0.3, 0.2])
LOGITS = np.array([[0.3, -0.2], [-0.5, 0.4], [0.1, 0.6]])  # θ used by the tests


@struct.dataclass
class State(environment.EnvState):
    s: jax.Array
    time: int


@struct.dataclass
class Params(environment.EnvParams):
    max_steps_in_episode: int = HORIZON


class TabularMDP(environment.Environment):
    @property
    def default_params(self) -> Params:
        return Params()

    def step_env(self, key, state, action, params):
        probs = jnp.asarray(TRANSITIONS, jnp.float32)[state.s, action]
        nxt = jax.random.choice(key, 4, p=probs)
        reward = jnp.asarray(REWARDS, jnp.float32)[state.s, action]
        terminated = nxt == 3
        s = jnp.where(terminated, 0, nxt).astype(jnp.int32)
        new = State(s=s, time=state.time + 1)
        return s, new, reward, terminated, {}

    def reset_env(self, key, params):
        s = jax.random.choice(key, NUM_STATES, p=jnp.asarray(INITIAL, jnp.float32))
        s = s.astype(jnp.int32)
        return s, State(s=s, time=0)

    def is_terminated(self, state, params):
        return jnp.array(False)

    def observation_space(self, params):
        return spaces.Discrete(NUM_STATES)

    def action_space(self, params):
        return spaces.Discrete(NUM_ACTIONS)

    @property
    def num_actions(self) -> int:
        return NUM_ACTIONS


def table_policy(logits=LOGITS) -> Policy:
    """A softmax policy over a logits table; observations arrive one-hot."""
    table = jnp.asarray(logits, jnp.float32)

    def init(key, obs):
        del key, obs
        return {"logits": table}

    def apply(params, obs):
        return obs @ params["logits"]

    return Policy(init, apply)


def exact_objective(logits, gamma: float = 1.0, horizon: int = HORIZON):
    """J(θ) = E[Σ_t γ^t r_t] by backward induction over the finite horizon.

    Exact (it sums over every trajectory); differentiable, so ``jax.grad`` of it is
    the exact ∇J. Call under ``jax.enable_x64(True)`` for float64.
    """
    dtype = jnp.asarray(logits).dtype
    p = jnp.asarray(TRANSITIONS, dtype)[:, :, :NUM_STATES]
    r = jnp.asarray(REWARDS, dtype)
    pi = jax.nn.softmax(logits, axis=-1)
    v = jnp.zeros(NUM_STATES, dtype)
    for _ in range(horizon):
        q = r + gamma * jnp.einsum("sat,t->sa", p, v)
        v = (pi * q).sum(-1)
    return jnp.asarray(INITIAL, dtype) @ v


def exact_gradient(logits=LOGITS, gamma: float = 1.0) -> np.ndarray:
    with jax.enable_x64(True):
        g = jax.grad(exact_objective)(jnp.asarray(logits, jnp.float64), gamma)
        return np.asarray(g)


def all_trajectories(logits=LOGITS):
    """Every trajectory of the MDP under the softmax policy of ``logits``, exactly.

    An episode ends when the transition draws the absorbing outcome or after
    ``HORIZON`` steps; its probability p(τ) is the product of the initial, policy
    and transition probabilities, so expectations are exact sums Σ_τ p(τ)·x(τ)
    (:func:`expectation`), no sampling.

    Args:
      logits: ``[NUM_STATES, NUM_ACTIONS]`` the policy's table.

    Returns:
      ``(prob [K], states [K, H], actions [K, H], rewards [K, H], mask [K, H],
      pi [NUM_STATES, NUM_ACTIONS])``: the K trajectories padded to H =
      ``HORIZON`` steps (mask 0 after the end) and the policy's probabilities.
    """
    pi = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    rows = []

    def grow(s, prob, steps):
        t = len(steps)
        if t == HORIZON:
            rows.append((prob, steps))
            return
        for a in range(NUM_ACTIONS):
            for nxt in range(NUM_STATES + 1):
                p = prob * pi[s, a] * TRANSITIONS[s, a, nxt]
                path = steps + [(s, a, REWARDS[s, a])]
                if nxt == NUM_STATES:
                    rows.append((p, path))
                else:
                    grow(nxt, p, path)

    for s0 in range(NUM_STATES):
        grow(s0, INITIAL[s0], [])

    k, h = len(rows), HORIZON
    prob = np.array([r[0] for r in rows])
    states = np.zeros((k, h), int)
    actions = np.zeros((k, h), int)
    rewards = np.zeros((k, h))
    mask = np.zeros((k, h))
    for i, (_, path) in enumerate(rows):
        for t, (s, a, r) in enumerate(path):
            states[i, t], actions[i, t], rewards[i, t], mask[i, t] = s, a, r, 1.0
    return prob, states, actions, rewards, mask, pi


def step_scores(states, actions, mask, pi):
    """∇_θ log π(a_t|s_t) for a logits table: onehot(s) ⊗ (onehot(a) − π(·|s)).

    Args:
      states: ``[K, H]`` state indices.
      actions: ``[K, H]`` action indices.
      mask: ``[K, H]`` 1 on real steps.
      pi: ``[NUM_STATES, NUM_ACTIONS]`` the policy's probabilities.

    Returns:
      ``[K, H, NUM_STATES, NUM_ACTIONS]``, 0 on masked steps.
    """
    k, h = states.shape
    scores = np.zeros((k, h) + pi.shape)
    for t in range(h):
        rows = np.arange(k)
        scores[rows, t, states[:, t]] -= pi[states[:, t]]
        scores[rows, t, states[:, t], actions[:, t]] += 1.0
    return scores * mask[:, :, None, None]


def rewards_to_go(rewards, gamma):
    """``G_t = r_t + γ·G_{t+1}`` of padded trajectories (numpy, float64).

    Args:
      rewards: ``[K, H]`` (0 after an episode's end).
      gamma: the discount.

    Returns:
      ``[K, H]``.
    """
    g = np.zeros_like(rewards)
    acc = np.zeros(rewards.shape[0])
    for t in reversed(range(rewards.shape[1])):
        acc = rewards[:, t] + gamma * acc
        g[:, t] = acc
    return g


def expectation(prob, per_traj):
    """Σ_τ p(τ) · x(τ) over the first axis.

    Args:
      prob: ``[K]`` the trajectories' probabilities.
      per_traj: ``[K, ...]`` a quantity per trajectory.

    Returns:
      its exact expectation, ``per_traj.shape[1:]``.
    """
    return np.einsum("k,k...->...", prob, per_traj)
