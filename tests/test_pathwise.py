"""Pathwise (BPTT) gradients against the score-function estimator, same objective.

Both estimators differentiate J_H = E[Σ_{t<H} r_t] on Pendulum-v1 with the same
linear Gaussian policy and, for one key, the same episodes, so the test is paired:
z = mean(g_pathwise − g_score) / its standard error, per parameter. The negative
control is the pathwise gradient through gymnax's default environment, whose
transitions are detached (stop_gradient): only ∂r_t/∂a_t survives, which is biased.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnax.environments.classic_control import continuous_mountain_car as mcc
from jax.flatten_util import ravel_pytree

import jaxpg
from jaxpg import pathwise

pytestmark = pytest.mark.timeout(180)

HORIZON, NUM_EPISODES, Z_LIMIT = 5, 200_000, 4.0


def rows(grads) -> np.ndarray:
    flat = jax.vmap(lambda g: ravel_pytree(g)[0])(grads)
    return np.asarray(flat, np.float64)


@functools.lru_cache
def _pendulum():
    env, env_params = pathwise.differentiable_env("Pendulum-v1")
    config = jaxpg.ReinforceConfig(env_id="Pendulum-v1", hidden_sizes=())
    policy = jaxpg.make_policy(config, env, env_params)
    params = policy.init(jax.random.key(0), jnp.zeros(3))
    return env, env_params, policy, params


@functools.lru_cache
def _estimates():
    env, env_params, policy, params = _pendulum()
    detached, _ = jaxpg.make_env("Pendulum-v1")

    def detached_pathwise(key):
        def episode_return(p, k):
            traj = pathwise._episode(k, policy, p, detached, env_params, HORIZON)
            return traj[2].sum()

        keys = jax.random.split(key, NUM_EPISODES)
        return jax.vmap(jax.grad(episode_return), in_axes=(None, 0))(params, keys)

    @jax.jit
    def both(key):
        args = (key, policy, params, env, env_params, NUM_EPISODES, HORIZON)
        return (
            pathwise.pathwise_gradients(*args),
            pathwise.score_function_gradients(*args, baseline="mean"),
            detached_pathwise(key),
        )

    return tuple(rows(g) for g in both(jax.random.key(1)))


def paired_z(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = a - b
    return d.mean(0) / (d.std(0, ddof=1) / np.sqrt(len(d)))


def test_pathwise_agrees_with_score_function_at_short_horizon():
    pw, sf, _ = _estimates()
    z = paired_z(pw, sf)
    print(f"\npathwise − score function, H={HORIZON}: z = {np.round(z, 2)}")
    assert np.abs(z).max() < Z_LIMIT
    # Enough samples to see the signal: the two kernel weights that matter (sin θ
    # and θ̇) are far more than 4 standard errors from 0.
    se = (pw - sf).std(0, ddof=1) / np.sqrt(len(pw))
    assert np.all(np.abs(pw.mean(0)[2:4]) > 10 * se[2:4])
    # ... and the pathwise estimator is the low-variance one here.
    assert pw.var(0).sum() * 100 < sf.var(0).sum()


def test_control_detached_transitions_are_biased():
    _, sf, detached = _estimates()
    z = paired_z(detached, sf)
    print(f"\ndetached transitions − score function: z = {np.round(z, 1)}")
    assert np.abs(z).max() > Z_LIMIT


def test_pathwise_refuses_a_detached_environment():
    _, env_params, policy, params = _pendulum()
    detached, _ = jaxpg.make_env("Pendulum-v1")
    with pytest.raises(ValueError, match="with_transition_gradients"):
        pathwise.pathwise_gradients(
            jax.random.key(0), policy, params, detached, env_params, 2, 3
        )
    with pytest.raises(ValueError, match="no differentiable transitions"):
        pathwise.differentiable_env("CartPole-v1")


def test_rollout_is_the_differentiated_episodes():
    env, env_params, policy, params = _pendulum()
    key = jax.random.key(3)
    traj = pathwise.differentiable_rollout(key, policy, params, env, env_params, 4, 6)
    assert traj.reward.shape == (6, 4)

    # d/dθ of the rollout's summed return = mean of the per-episode pathwise grads.
    @jax.jit
    def both(params):
        def total_return(p):
            traj = pathwise.differentiable_rollout(
                key, policy, p, env, env_params, 4, 6
            )
            return traj.reward.sum() / 4

        per = pathwise.pathwise_gradients(key, policy, params, env, env_params, 4, 6)
        return jax.grad(total_return)(params), per

    total, per = both(params)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b.mean(0), rtol=1e-4, atol=1e-6),
        total,
        per,
    )


class NoGoalBonus(mcc.ContinuousMountainCar):
    """MountainCarContinuous without the +100 at the goal (the episode still ends)."""

    def step_env(self, key, state, action, params):
        obs, state, reward, done, info = super().step_env(key, state, action, params)
        return obs, state, reward - 100.0 * done, done, info


def pump_policy() -> jaxpg.Policy:
    """A linear Gaussian policy that pushes along the velocity (reaches the goal)."""
    return pathwise.linear_gaussian_policy([0.0, 15.0], log_std=-0.5)


def test_goal_bonus_is_invisible_to_the_pathwise_gradient():
    policy = pump_policy()
    params = policy.init(None, None)
    key, n, horizon = jax.random.key(0), 64, 300
    grads = {}
    for name, raw in (("bonus", mcc.ContinuousMountainCar()), ("none", NoGoalBonus())):
        env, env_params = pathwise.differentiable_env(raw)

        @jax.jit
        def estimates(key, env=env, env_params=env_params):
            args = (key, policy, params, env, env_params, n, horizon)
            traj = pathwise.differentiable_rollout(*args)
            return (
                pathwise.pathwise_gradients(*args),
                pathwise.score_function_gradients(*args),
                traj.terminated.any(0).mean(),
            )

        pw, sf, reached = estimates(key)
        grads[name] = (rows(pw).mean(0), rows(sf).mean(0), float(reached))
    reached = grads["bonus"][2]
    assert 0.2 < reached < 0.9  # the bonus is earned in some episodes, not all
    np.testing.assert_array_equal(grads["bonus"][0], grads["none"][0])
    diff = np.linalg.norm(grads["bonus"][1] - grads["none"][1])
    assert diff > 0.5 * np.linalg.norm(grads["none"][1])
