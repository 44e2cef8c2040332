"""MultiDiscrete actions: one categorical per dimension."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from harness import np_log_softmax
from spaces_envs import NVEC, TARGETS, MatchEnv
from trees import all_finite

import jaxpg
from jaxpg import distributions as dist
from jaxpg import policy as pol
from jaxpg.spaces import MultiDiscrete, is_multi_discrete

pytestmark = pytest.mark.timeout(300)


# --- the space ------------------------------------------------------------------


def test_multi_discrete_space():
    space = MultiDiscrete([3, 2, 4])
    assert space.nvec == (3, 2, 4) and space.shape == (3,)
    assert is_multi_discrete(space) and not is_multi_discrete(object())
    draws = jax.vmap(space.sample)(jax.random.split(jax.random.key(0), 2000))
    assert draws.shape == (2000, 3) and draws.dtype == jnp.int32
    for d, n in enumerate(space.nvec):  # every choice appears, none outside
        assert set(np.unique(draws[:, d]).tolist()) == set(range(n))
    assert bool(space.contains(jnp.array([2, 1, 3])))
    assert not bool(space.contains(jnp.array([3, 0, 0])))
    for bad in ([], [2, 0], [2.5], [True, 2]):
        with pytest.raises(ValueError, match="nvec"):
            MultiDiscrete(bad)


# --- the distribution -----------------------------------------------------------

FLAT = jnp.array(
    [[0.3, -1.0, 2.0, 0.5, 0.1, -0.2, 1.5, 0.0, 0.7], [1.0] * 9], jnp.float32
)


def test_multi_categorical_layout_pads_with_minus_inf():
    out = dist.multi_categorical(FLAT, NVEC)
    assert out.logits.shape == (2, 3, 4)
    np.testing.assert_array_equal(out.logits[0, 0, :3], FLAT[0, :3])
    np.testing.assert_array_equal(out.logits[0, 1, :2], FLAT[0, 3:5])
    np.testing.assert_array_equal(out.logits[0, 2, :], FLAT[0, 5:])
    assert np.all(np.isneginf(out.logits[:, 0, 3]))
    assert np.all(np.isneginf(out.logits[:, 1, 2:]))
    with pytest.raises(ValueError, match="sum\\(nvec\\) = 9"):
        dist.multi_categorical(FLAT[:, :8], NVEC)


def test_multi_categorical_log_prob_entropy_and_gradients_by_hand():
    out = dist.multi_categorical(FLAT, NVEC)
    action = jnp.array([[2, 0, 3], [0, 1, 1]])
    starts = (0, 3, 5)
    want_logp = np.zeros(2)
    want_h = np.zeros(2)
    want_grad = np.zeros((2, 9))
    for d, (s, n) in enumerate(zip(starts, NVEC, strict=True)):
        lp = np_log_softmax(FLAT[:, s : s + n])
        p = np.exp(lp)
        want_logp += lp[np.arange(2), action[:, d]]
        want_h += -(p * lp).sum(-1)
        want_grad[:, s : s + n] = np.eye(n)[action[:, d]] - p  # d log p / d logits
    np.testing.assert_allclose(dist.log_prob(out, action), want_logp, rtol=1e-6)
    np.testing.assert_allclose(dist.entropy(out), want_h, rtol=1e-6)
    grad = jax.grad(
        lambda x: dist.log_prob(dist.multi_categorical(x, NVEC), action).sum()
    )(FLAT)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-5, atol=1e-6)
    h_grad = jax.grad(lambda x: dist.entropy(dist.multi_categorical(x, NVEC)).sum())(
        FLAT
    )
    assert all_finite(h_grad)
    # Uniform logits: the entropy is Σ_d log nvec[d].
    assert float(dist.entropy(out)[1]) == pytest.approx(np.log(3 * 2 * 4), rel=1e-6)


def test_multi_categorical_samples_follow_each_dimension():
    out = dist.multi_categorical(FLAT[0], NVEC)
    n = 20000
    draws = jax.vmap(lambda k: dist.sample(k, out))(
        jax.random.split(jax.random.key(3), n)
    )
    assert draws.shape == (n, 3)
    np.testing.assert_array_equal(dist.mode(out), [2, 0, 1])
    for d, (s, k) in enumerate(zip((0, 3, 5), NVEC, strict=True)):
        p = np.exp(np_log_softmax(FLAT[0, s : s + k]))
        freq = np.bincount(np.asarray(draws[:, d]), minlength=4)
        assert freq[k:].sum() == 0  # never a padded choice
        se = np.sqrt(p * (1 - p) / n)
        assert np.all(np.abs(freq[:k] / n - p) < 4 * se + 1e-12)


def _score_function_gradient(flat, reward, key, n, *, dims_in_log_prob=None):
    """Monte-Carlo E[R(a) ∇ log π(a)] for an additive reward R(a) = Σ_d r_d[a_d]."""
    keys = jax.random.split(key, n)

    def one(k):
        action = dist.sample(k, dist.multi_categorical(flat, NVEC))
        r = sum(reward[d][action[d]] for d in range(len(NVEC)))

        def logp(x):
            logp_all = jax.nn.log_softmax(dist.multi_categorical(x, NVEC).logits)
            lp = jnp.take_along_axis(logp_all, action[:, None], -1)[:, 0]
            return lp.sum() if dims_in_log_prob is None else lp[dims_in_log_prob]

        return r * jax.grad(logp)(flat)

    g = jax.vmap(one)(keys)
    return g.mean(0), g.std(0) / np.sqrt(n)


def test_score_function_gradient_is_unbiased_and_the_single_dimension_control_fails():
    flat = FLAT[0]
    reward = [jnp.array([1.0, 0.0, 3.0]), jnp.array([2.0, 5.0]), jnp.arange(4.0)]

    def expected(x):
        out = dist.multi_categorical(x, NVEC)
        p = jax.nn.softmax(out.logits, -1)
        return sum((p[d, : len(r)] * r).sum() for d, r in enumerate(reward))

    exact = jax.grad(expected)(flat)
    est, se = _score_function_gradient(flat, reward, jax.random.key(5), 40000)
    z = np.abs(np.asarray(est - exact)) / np.maximum(np.asarray(se), 1e-6)
    assert z.max() < 4.5, z
    # Negative control: the log-prob of dimension 0 alone (not the sum) is wrong.
    bad, bad_se = _score_function_gradient(
        flat, reward, jax.random.key(5), 40000, dims_in_log_prob=0
    )
    z_bad = np.abs(np.asarray(bad - exact)) / np.maximum(np.asarray(bad_se), 1e-6)
    assert z_bad.max() > 10.0, z_bad


# --- the policy and the algorithms ----------------------------------------------


def test_make_policy_has_one_head_over_all_dimensions():
    env, env_params = jaxpg.make_env(MatchEnv())
    config = jaxpg.PPOConfig(env_id=None, hidden_sizes=(8,))
    policy = jaxpg.make_policy(config, env, env_params)
    obs = jnp.zeros((5, 2))
    params = policy.init(jax.random.key(0), obs)
    heads = [p["kernel"].shape for p in params["params"].values() if "kernel" in p]
    assert heads == [(8, sum(NVEC))]
    out = policy.apply(params, obs)
    assert isinstance(out, dist.MultiCategorical) and out.logits.shape == (5, 3, 4)
    assert np.asarray(pol.sample(jax.random.key(1), out)).shape == (5, 3)


@pytest.mark.parametrize("algo", ["reinforce", "a2c", "ppo"])
def test_multi_discrete_trains_acts_and_evaluates(algo):
    env, env_params = jaxpg.make_env(MatchEnv())
    config = {
        "reinforce": jaxpg.ReinforceConfig(env_id=None, num_envs=8, num_updates=2),
        "a2c": jaxpg.A2CConfig(env_id=None, num_envs=4, num_updates=2, num_steps=8),
        "ppo": jaxpg.PPOConfig(env_id=None, num_envs=4, num_updates=2, num_steps=8),
    }[algo]
    config = jaxpg.algorithms.common.replace(config, entropy_coef=0.01)
    result = jax.jit(jaxpg.make_train(config, env=env, env_params=env_params))(
        jax.random.key(0)
    )
    assert all_finite(result.params) and all_finite(result.metrics["episode_return"])
    policy = jaxpg.make_policy(config, env, env_params)
    obs, _ = env.reset(jax.random.key(1), env_params)
    for key in (None, jax.random.key(2)):
        action = jaxpg.act(policy, result.params, obs, key)
        assert action.shape == (3,) and bool(MultiDiscrete(NVEC).contains(action))
    returns = jaxpg.evaluate(
        jax.random.key(3), policy, result.params, env, env_params, num_episodes=8
    )
    assert returns.shape == (8,) and np.all((returns >= 0) & (returns <= 4))


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("algo", ["reinforce", "ppo"])
def test_multi_discrete_learns_the_targets(algo):
    env, env_params = jaxpg.make_env(MatchEnv())
    config = {
        "reinforce": jaxpg.ReinforceConfig(
            env_id=None, num_envs=32, num_updates=60, learning_rate=3e-2
        ),
        "ppo": jaxpg.PPOConfig(env_id=None, num_envs=8, num_updates=40, num_steps=16),
    }[algo]
    result = jax.jit(jaxpg.make_train(config, env=env, env_params=env_params))(
        jax.random.key(0)
    )
    policy = jaxpg.make_policy(config, env, env_params)
    returns = jaxpg.evaluate(
        jax.random.key(1), policy, result.params, env, env_params, num_episodes=64
    )
    assert float(returns.mean()) == 4.0  # every dimension right in both contexts
    for c, target in enumerate(TARGETS):
        obs = jax.nn.one_hot(c, 2)
        np.testing.assert_array_equal(jaxpg.act(policy, result.params, obs), target)
    # Negative control: the untrained policy is far from it.
    start = jaxpg.make_trainer(config, env=env, env_params=env_params).init(
        jax.random.key(0)
    )
    before = jaxpg.evaluate(
        jax.random.key(1), policy, start.params, env, env_params, num_episodes=64
    )
    assert float(before.mean()) < 3.0
