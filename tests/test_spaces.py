"""MultiDiscrete actions (one categorical per dimension) and legal-action masks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnax.environments import spaces
from spaces_envs import LEGAL, NVEC, TARGETS, MaskedEnv, MatchEnv

import jaxpg
from jaxpg import distributions as dist
from jaxpg import policy as pol
from jaxpg import spaces as jspaces
from jaxpg.spaces import MultiDiscrete, is_multi_discrete

pytestmark = pytest.mark.timeout(300)


def _finite(tree):
    return all(np.all(np.isfinite(np.asarray(x))) for x in jax.tree.leaves(tree))


def _np_log_softmax(x):
    x = np.asarray(x, np.float64)
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


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
        lp = _np_log_softmax(FLAT[:, s : s + n])
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
    assert _finite(h_grad)
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
        p = np.exp(_np_log_softmax(FLAT[0, s : s + k]))
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
    assert _finite(result.params) and _finite(result.metrics["episode_return"])
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


# --- legal-action masks ---------------------------------------------------------


def test_masked_sampling_never_picks_an_illegal_action():
    logits = jnp.array([5.0, 0.0, -1.0, 2.0, 1.0])
    legal = jnp.array([False, True, True, False, True])
    masked = dist.mask_logits(logits, legal)
    draws = jax.vmap(lambda k: dist.sample(k, masked))(
        jax.random.split(jax.random.key(0), 20000)
    )
    freq = np.bincount(np.asarray(draws), minlength=5) / 20000
    assert freq[0] == 0 and freq[3] == 0
    p = np.where(legal, np.exp(logits - logits.max()), 0.0)
    p = p / p.sum()
    np.testing.assert_allclose(freq, p, atol=4 * np.sqrt(p.max() / 20000))
    assert int(dist.mode(masked)) == 4  # the best legal one, not the arg-max 0
    # Control: without the mask the illegal arg-max dominates.
    assert int(dist.mode(logits)) == 0
    # A row with no legal action is left as it was (no NaN).
    none = dist.mask_logits(logits, jnp.zeros(5, bool))
    np.testing.assert_array_equal(none, logits)


@pytest.mark.parametrize("multi", [False, True])
def test_masked_log_prob_entropy_and_gradients_are_finite(multi):
    if multi:
        legal_flat = jnp.array([1, 0, 1, 0, 1, 1, 1, 0, 0], bool)

        def output(x):
            legal = dist.spread_dimensions(legal_flat, NVEC, False)
            return dist.mask_logits(dist.multi_categorical(x, NVEC), legal)

        x = FLAT[0]
        action = jnp.array([2, 1, 1])
        legal_p = [(0, 2), (1,), (0, 1)]
    else:

        def output(x):
            return dist.mask_logits(x, jnp.array([True, False, True, False]))

        x = jnp.array([0.5, 3.0, -1.0, 2.0])
        action = jnp.array(2)
        legal_p = None
    out = output(x)
    logits = out.logits if multi else out
    assert np.any(np.isneginf(logits))
    logp = dist.log_prob(out, action)
    h = dist.entropy(out)
    g_logp = jax.grad(lambda x: dist.log_prob(output(x), action))(x)
    g_h = jax.grad(lambda x: dist.entropy(output(x)))(x)
    assert _finite((logp, h, g_logp, g_h))
    # Values by hand: softmax over the legal logits only.
    if multi:
        starts = (0, 3, 5)
        want_lp, want_h = 0.0, 0.0
        for d, legal in enumerate(legal_p):
            z = np.asarray(x[starts[d] + np.asarray(legal)], np.float64)
            lp = _np_log_softmax(z)
            want_lp += lp[list(legal).index(int(action[d]))]
            want_h += -(np.exp(lp) * lp).sum()
    else:
        lp = _np_log_softmax(np.asarray(x[jnp.array([0, 2])]))
        want_lp, want_h = lp[1], -(np.exp(lp) * lp).sum()
    assert float(logp) == pytest.approx(want_lp, rel=1e-5)
    assert float(h) == pytest.approx(want_h, rel=1e-5)
    # Illegal logits get no gradient.
    illegal = ~np.asarray(
        jnp.array([1, 0, 1, 0, 1, 1, 1, 0, 0], bool)
        if multi
        else jnp.array([True, False, True, False])
    )
    np.testing.assert_array_equal(np.asarray(g_logp)[illegal], 0.0)
    np.testing.assert_array_equal(np.asarray(g_h)[illegal], 0.0)


def test_masked_observation_encoding_round_trips():
    obs = {"b": jnp.arange(3.0), "action_mask": jnp.array([True, False]), "a": 7.0}
    enc = jspaces.encode_masked_observation(obs)
    np.testing.assert_array_equal(enc, [7.0, 0.0, 1.0, 2.0, 1.0, 0.0])  # mask last
    features, legal = jspaces.split_action_mask(jnp.stack([enc, enc]), 2, 1)
    np.testing.assert_array_equal(features, [[7.0, 0.0, 1.0, 2.0]] * 2)
    np.testing.assert_array_equal(legal, [[True, False]] * 2)
    image = jnp.arange(2 * 3 * 4.0).reshape(2, 3, 4)
    enc = jspaces.encode_masked_observation(
        {"grid": image, "action_mask": jnp.array([0, 1, 1])}
    )
    assert enc.shape == (2, 3, 7)
    features, legal = jspaces.split_action_mask(enc, 3, 3)
    np.testing.assert_array_equal(features, image)
    np.testing.assert_array_equal(legal, [False, True, True])


def test_make_policy_masks_from_the_observation():
    env, env_params = jaxpg.make_env(MaskedEnv())
    config = jaxpg.PPOConfig(env_id=None, hidden_sizes=(8,))
    policy = jaxpg.make_policy(config, env, env_params)
    obs, _ = env.reset(jax.random.key(0), env_params)
    assert obs.shape == (2 + 4,)  # one array, the mask last
    params = {"policy": policy.init(jax.random.key(1), obs)}
    # The network sees the observation without its mask (2 inputs, not 6).
    first = params["policy"]["params"]["MLP_0"]["Dense_0"]["kernel"]
    assert first.shape == (2, 8)
    logits = policy.apply(params["policy"], obs)
    np.testing.assert_array_equal(np.isneginf(logits), ~np.asarray(LEGAL))
    batch = jnp.stack([obs] * 4096)
    draws = jaxpg.act(policy, params, batch, jax.random.key(2))
    assert not np.any(np.asarray(draws) == 0)  # action 0 is illegal
    value = jaxpg.make_value(config, env, env_params)
    v_params = value.init(jax.random.key(3), obs)
    assert v_params["params"]["MLP_0"]["Dense_0"]["kernel"].shape == (2, 8)
    assert value.apply(v_params, batch).shape == (4096,)


def _masked_configs(num_updates):
    return {
        "reinforce": jaxpg.ReinforceConfig(
            env_id=None, num_envs=16, num_updates=num_updates, learning_rate=3e-2
        ),
        "a2c": jaxpg.A2CConfig(
            env_id=None, num_envs=8, num_updates=num_updates, num_steps=8
        ),
        "ppo": jaxpg.PPOConfig(
            env_id=None, num_envs=8, num_updates=num_updates, num_steps=16
        ),
    }


@pytest.mark.parametrize("algo", ["reinforce", "a2c", "ppo"])
def test_masked_training_never_takes_an_illegal_action(algo):
    env, env_params = jaxpg.make_env(MaskedEnv())
    config = _masked_configs(2)[algo]
    config = jaxpg.algorithms.common.replace(config, entropy_coef=0.01)
    result = jax.jit(jaxpg.make_train(config, env=env, env_params=env_params))(
        jax.random.key(0)
    )
    assert _finite(result.params) and _finite(result.metrics)
    policy = jaxpg.make_policy(config, env, env_params)
    traj = jaxpg.episodic_rollout(
        jax.random.key(1), policy, result.params["policy"], env, env_params, 256
    )
    taken = np.asarray(traj.action)[np.asarray(traj.mask) > 0]
    assert taken.size == 256 * 4 and not np.any(taken == 0)
    assert float(traj.reward.sum(0).max()) <= 4.0  # only legal rewards (<= 1/step)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_masked_ppo_learns_the_best_legal_action_and_the_unmasked_control_does_not():
    config = _masked_configs(40)["ppo"]

    def greedy_return(env):
        env, env_params = jaxpg.make_env(env)
        result = jax.jit(jaxpg.make_train(config, env=env, env_params=env_params))(
            jax.random.key(0)
        )
        policy = jaxpg.make_policy(config, env, env_params)
        return float(
            jaxpg.evaluate(
                jax.random.key(1), policy, result.params, env, env_params, 64
            ).mean()
        )

    assert greedy_return(MaskedEnv()) == 4.0  # the legal target every step

    class Unmasked(MaskedEnv):  # the same numbers as a plain array: no mask
        def _obs(self, context):
            obs = super()._obs(context)
            return jnp.concatenate([obs["obs"], obs["action_mask"].astype(float)])

        def observation_space(self, params):
            return spaces.Box(0.0, 1.0, (6,), jnp.float32)

    assert greedy_return(Unmasked()) == 8.0  # it learns the illegal action 0


def test_mask_of_the_wrong_shape_or_with_normalization_is_a_value_error():
    class JointMask(MatchEnv):
        def _obs(self, context):
            return {
                "obs": jax.nn.one_hot(context, 2),
                "action_mask": jnp.ones(NVEC, bool),  # a joint mask [3, 2, 4]
            }

    env, env_params = jaxpg.make_env(JointMask())
    with pytest.raises(ValueError, match="must have 9 entries.*got 24"):
        jaxpg.make_policy(jaxpg.PPOConfig(env_id=None), env, env_params)
    env, env_params = jaxpg.make_env(MaskedEnv())
    with pytest.raises(ValueError, match="^normalize_observations=True cannot"):
        jaxpg.make_train(
            jaxpg.PPOConfig(env_id=None, normalize_observations=True),
            env=env,
            env_params=env_params,
        )
