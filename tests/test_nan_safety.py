"""Nothing past an episode's end can poison an update.

Stepping an environment from a state whose episode has ended can return anything,
NaN included. The episodic rollout keeps the state *and the observation* of an
ended environment frozen and records reward 0 there, and every mask in the losses
is a select, not a multiplication (0 · NaN is NaN), so REINFORCE's loss, gradient
and update stay finite.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct
from gymnax.environments import environment, spaces
from trees import all_finite

import jaxpg
from jaxpg import losses, pathwise, returns
from jaxpg.algorithms import base
from jaxpg.envs import encode_env
from jaxpg.rollout import episodic_rollout

pytestmark = pytest.mark.timeout(300)

HORIZON = 8


@struct.dataclass
class EndState(environment.EnvState):
    ended: jax.Array  # the episode has ended: any further step returns NaN


@struct.dataclass
class EndParams(environment.EnvParams):
    max_steps_in_episode: int = HORIZON


class NaNAfterEnd(environment.Environment):
    """obs ``[time / 8, 1]``; reward ``1 + action``; terminates with probability
    1/4 per step, truncated at 8 steps. Stepped from an ended state it returns a
    NaN observation and a NaN reward."""

    @property
    def default_params(self):
        return EndParams()

    def step_env(self, key, state, action, params):
        time = state.time + 1
        terminated = jax.random.uniform(key) < 0.25
        obs = jnp.array([time / HORIZON, 1.0], jnp.float32)
        reward = 1.0 + jnp.asarray(action, jnp.float32)
        ended = state.ended
        obs = jnp.where(ended, jnp.nan, obs)
        reward = jnp.where(ended, jnp.nan, reward)
        done = terminated | (time >= params.max_steps_in_episode)
        new = EndState(time=time, ended=ended | done)
        return obs, new, reward, terminated, {}

    def reset_env(self, key, params):
        state = EndState(time=jnp.int32(0), ended=jnp.bool_(False))
        return jnp.array([0.0, 1.0], jnp.float32), state

    def observation_space(self, params):
        return spaces.Box(0.0, 1.0, (2,), jnp.float32)

    def action_space(self, params=None):
        return spaces.Discrete(2)


class NaNAfterEndOwnStep(NaNAfterEnd):
    """The same, with its own ``step`` (no auto-reset), as a non-gymnax library's
    adapter would have: the rollout then goes through ``env.step``."""

    def step(self, key, state, action, params=None):
        params = self.default_params if params is None else params
        obs, new, reward, terminated, info = self.step_env(key, state, action, params)
        truncated = new.time >= params.max_steps_in_episode
        return obs, new, reward, terminated, truncated, info


ENVS = [NaNAfterEnd, NaNAfterEndOwnStep]
OPTIONS = {
    "return, none": {"weight": "return", "baseline": "none"},
    "reward_to_go, mean": {"weight": "reward_to_go", "baseline": "mean"},
    "reward_to_go, value": {"weight": "reward_to_go", "baseline": "value"},
    "gae, value": {"weight": "gae", "baseline": "value", "gae_lambda": 0.9},
    "normalized, entropy": {"normalize_weights": True, "entropy_coef": 0.1},
}


def _config(**kw):
    return jaxpg.ReinforceConfig(
        env_id=None, num_envs=16, num_updates=2, hidden_sizes=(8,), **kw
    )


@pytest.mark.parametrize("env_cls", ENVS)
def test_rollout_freezes_the_observation_and_zeroes_the_reward(env_cls):
    env = encode_env(env_cls())
    config = _config()
    policy = jaxpg.make_policy(config, env, env.default_params)
    params = policy.init(jax.random.key(0), jnp.zeros(2))
    traj = jax.jit(
        lambda k: episodic_rollout(
            k, policy, params, env, env.default_params, 16, stop_early=False
        )
    )(jax.random.key(1))
    assert all_finite(traj)
    mask = np.asarray(traj.mask)
    obs = np.asarray(traj.obs)
    assert (mask == 0).any(), "some episode must end before the horizon"
    for i in range(mask.shape[1]):
        length = int(mask[:, i].sum())
        # After the end, every recorded observation is the last one the episode
        # produced (its final observation), and every reward is 0.
        if length < mask.shape[0]:
            frozen = np.broadcast_to(obs[length, i], obs[length:, i].shape)
            np.testing.assert_array_equal(obs[length:, i], frozen)
            np.testing.assert_array_equal(np.asarray(traj.reward)[length:, i], 0.0)


@pytest.mark.parametrize("env_cls", ENVS)
@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_reinforce_trains_finitely(env_cls, name):
    config = _config(**OPTIONS[name])
    result = jax.jit(jaxpg.make_train(config, env=env_cls()))(jax.random.key(0))
    assert all_finite(result.metrics), result.metrics
    assert all_finite(result.params)
    assert float(result.metrics["grad_norm"].min()) > 0.0
    # Episodes of 1 to 8 steps with reward 1 or 2 per step.
    returns = np.asarray(result.metrics["episode_return"])
    assert np.all((returns >= 1.0) & (returns <= 16.0))


@pytest.mark.parametrize("env_cls", ENVS)
@pytest.mark.parametrize("name", ["reward_to_go, mean", "gae, value"])
def test_estimate_gradient_is_finite(env_cls, name):
    config = _config(**OPTIONS[name])
    env = env_cls()
    trainer = jaxpg.make_trainer(config, env=env)
    params = trainer.init(jax.random.key(0)).params
    g = jaxpg.estimate_gradient(
        jax.random.key(2), config, params, env, env.default_params
    )
    assert all_finite(g["policy"])
    assert max(float(jnp.abs(x).max()) for x in jax.tree.leaves(g["policy"])) > 0.0


class ContinuousNaNAfterEnd(NaNAfterEnd):
    """Box actions, reward ``−(a − 0.5)²``, terminated at the 2nd step; NaN after
    the end. Its transitions keep gradients (for the pathwise estimator)."""

    _supports_transition_gradients = True
    _transition_gradients_enabled = True

    def step_env(self, key, state, action, params):
        obs, new, _, _, info = super().step_env(key, state, action, params)
        terminated = new.time >= 2
        reward = jnp.where(state.ended, jnp.nan, -((action[0] - 0.5) ** 2))
        return (
            obs,
            new.replace(ended=state.ended | terminated),
            reward,
            terminated,
            info,
        )

    def action_space(self, params=None):
        return spaces.Box(-2.0, 2.0, (1,), jnp.float32)


def test_pathwise_and_score_function_lab_gradients_are_finite():
    env = ContinuousNaNAfterEnd()
    policy = pathwise.linear_gaussian_policy([0.3, -0.2], bias=0.1)
    params = policy.init(None, None)
    args = (jax.random.key(0), policy, params, env, env.default_params, 8, 5)
    traj = pathwise.differentiable_rollout(*args)
    assert all_finite(traj)
    np.testing.assert_array_equal(traj.mask[2:], 0.0)
    for grads in (
        pathwise.pathwise_gradients(*args),
        pathwise.score_function_gradients(*args),
    ):
        assert all_finite(grads)


# --- the masks in the losses are selects ------------------------------------


def _poisoned():
    """A [T=3, N=2] batch whose masked entries are NaN or infinite."""
    mask = jnp.array([[1.0, 1.0], [1.0, 0.0], [0.0, 0.0]])
    logp = jnp.array([[-1.0, -2.0], [-3.0, -jnp.inf], [jnp.nan, -jnp.inf]])
    weights = jnp.array([[1.0, 2.0], [3.0, jnp.nan], [jnp.inf, jnp.nan]])
    return logp, weights, mask


def test_score_function_loss_ignores_masked_non_finite_values():
    logp, weights, mask = _poisoned()
    # −(1·−1 + 2·−2 + 3·−3) / 2 = 7
    assert float(losses.score_function_loss(logp, weights, mask)) == 7.0
    grad = jax.grad(lambda lp: losses.score_function_loss(lp, weights, mask))(logp)
    np.testing.assert_array_equal(grad, -np.where(mask > 0, weights, 0.0) / 2)


def test_masked_sum_and_value_loss_ignore_masked_non_finite_values():
    logp, weights, mask = _poisoned()
    assert float(losses.masked_sum(logp, mask)) == -6.0
    grad = jax.grad(lambda x: losses.masked_sum(x, mask))(logp)
    np.testing.assert_array_equal(grad, mask)
    values = jnp.zeros_like(weights)
    # ½ (1 + 4 + 9) / 3
    assert float(losses.value_loss(values, weights, mask, 3.0)) == pytest.approx(7 / 3)
    grad = jax.grad(lambda v: losses.value_loss(v, weights, mask, 3.0))(values)
    np.testing.assert_allclose(grad, -np.where(mask > 0, weights, 0.0) / 3)


def test_normalize_ignores_masked_non_finite_values():
    x = jnp.array([[1.0, 3.0], [jnp.nan, 5.0], [jnp.inf, 7.0]])
    mask = jnp.array([[1.0, 1.0], [0.0, 1.0], [0.0, 1.0]])
    out = np.asarray(returns.normalize(x, mask))[np.asarray(mask) > 0]
    want = np.array([1.0, 3.0, 5.0, 7.0])
    np.testing.assert_allclose(out, (want - want.mean()) / want.std(), rtol=1e-6)


def test_episode_metrics_ignore_unfinished_non_finite_entries():
    state = jaxpg.make_trainer(_config(), env=NaNAfterEnd()).init(jax.random.key(0))
    finished = jnp.array([True, False, True])
    m = base.episode_metrics(
        jnp.array([2.0, jnp.nan, 4.0]), jnp.array([1.0, jnp.inf, 3.0]), finished, state
    )
    assert float(m["episode_return"]) == 3.0
    assert float(m["episode_length"]) == 2.0
    assert int(m["episodes_finished"]) == 2
