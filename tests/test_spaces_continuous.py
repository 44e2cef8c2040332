"""The tanh-squashed Gaussian, its bounds, and the state-dependent log-std."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from trees import all_finite

import jaxpg
from jaxpg import distributions as dist
from jaxpg import policy as pol

pytestmark = pytest.mark.timeout(300)

LOW, HIGH = -2.0, 3.0  # an asymmetric box: centre 0.5, half-width 2.5
CASES = [(0.3, -0.5), (-1.0, 0.2), (1.5, -1.0), (0.0, 0.7)]  # (mean, log_std) of u


def _squashed(mean, log_std, shape=(1, 1)):
    full = lambda v: jnp.full(shape, v, jnp.float32)  # noqa: E731
    return dist.SquashedGaussian(full(mean), full(log_std), full(LOW), full(HIGH))


def _cdf(x, mean, log_std):
    """P(a <= x) in float64: a <= x ⇔ u <= atanh((x − c) / h)."""
    y = (np.asarray(x, np.float64) - 0.5 * (HIGH + LOW)) / (0.5 * (HIGH - LOW))
    z = (np.arctanh(y) - mean) / math.exp(log_std)
    return 0.5 * (1.0 + np.vectorize(math.erf)(z / math.sqrt(2.0)))


def _grid(n=400001):
    """Midpoints of n cells covering (LOW, HIGH) and the cell width."""
    edges = np.linspace(LOW, HIGH, n + 1)
    return 0.5 * (edges[1:] + edges[:-1]), (HIGH - LOW) / n


def _density(output, x):
    return np.exp(
        np.asarray(
            dist.log_prob(output, jnp.asarray(x, jnp.float32)[:, None]), np.float64
        )
    )


@pytest.mark.parametrize(("mean", "log_std"), CASES)
def test_squashed_density_integrates_to_one_and_matches_the_cdf(mean, log_std):
    x, dx = _grid()
    out = _squashed(mean, log_std, (x.size, 1))
    p = _density(out, x)
    assert p.sum() * dx == pytest.approx(1.0, abs=2e-3)
    # log π(a) is the derivative of the CDF (central differences, float64).
    probe = np.linspace(LOW + 0.05, HIGH - 0.05, 41)
    h = 1e-5
    numeric = (_cdf(probe + h, mean, log_std) - _cdf(probe - h, mean, log_std)) / (
        2 * h
    )
    got = _density(_squashed(mean, log_std, (probe.size, 1)), probe)
    np.testing.assert_allclose(got, numeric, rtol=2e-4, atol=1e-7)
    # Negative control: the Gaussian density of u = atanh((a − c) / h) without the
    # change-of-variables correction does not match the CDF's derivative.
    y = (probe - 0.5 * (HIGH + LOW)) / (0.5 * (HIGH - LOW))
    sd = math.exp(log_std)
    z = (np.arctanh(y) - mean) / sd
    wrong = np.exp(-0.5 * z**2) / (sd * math.sqrt(2 * math.pi))
    keep = numeric > 1e-6
    assert np.max(np.abs(wrong[keep] / numeric[keep] - 1.0)) > 0.5


@pytest.mark.parametrize(("mean", "log_std"), CASES)
def test_squashed_entropy_is_minus_the_integral_of_p_log_p(mean, log_std):
    x, dx = _grid()
    out = _squashed(mean, log_std, (x.size, 1))
    logp = np.asarray(
        dist.log_prob(out, jnp.asarray(x, jnp.float32)[:, None]), np.float64
    )
    numeric = -(np.exp(logp) * logp).sum() * dx
    got = float(dist.entropy(_squashed(mean, log_std))[0])
    assert got == pytest.approx(numeric, abs=1e-3)
    # The Gaussian's own entropy (plus log h) is not it: the squash matters.
    surrogate = log_std + 0.5 * (1 + math.log(2 * math.pi)) + math.log(2.5)
    assert abs(surrogate - numeric) > 0.05


def test_squashed_entropy_quadrature_across_stds():
    """H = H(u) + log h + E[log(1 − tanh²u)], the expectation integrated in float64
    on a fine u grid, for stds from 0.05 to 150 (both quadrature regimes)."""
    worst = 0.0
    for mean in (0.0, 0.5, 2.0, -4.0):
        for log_std in np.linspace(-3.0, 5.0, 17):
            sd = math.exp(log_std)
            u = np.linspace(mean - 14 * sd, mean + 14 * sd, 400001)
            w = np.exp(-0.5 * ((u - mean) / sd) ** 2) / (sd * math.sqrt(2 * math.pi))
            f = 2 * (math.log(2) - u - np.logaddexp(0.0, -2 * u))
            expected = (w * f).sum() * (u[1] - u[0])
            want = log_std + 0.5 * (1 + math.log(2 * math.pi)) + math.log(2.5)
            want += expected
            got = float(dist.entropy(_squashed(mean, float(log_std)))[0])
            worst = max(worst, abs(got - want) / max(1.0, abs(want) * 1e-4))
    assert worst < 3e-3


def test_squashed_samples_stay_in_the_box_and_the_mode_is_the_median():
    out = _squashed(0.8, 0.5, (1, 1))
    draws = jax.vmap(lambda k: dist.sample(k, out))(
        jax.random.split(jax.random.key(0), 20000)
    )[:, 0, 0]
    assert float(draws.min()) >= LOW and float(draws.max()) <= HIGH
    median = float(dist.mode(out)[0, 0])
    assert median == pytest.approx(0.5 + 2.5 * math.tanh(0.8), rel=1e-6)
    assert float((draws < median).mean()) == pytest.approx(0.5, abs=4 * 0.5 / 141)
    # The sampled log-probs are those of the density (E[−log π] is the entropy).
    logp = jax.vmap(lambda a: dist.log_prob(out, a[None, None]))(draws)
    h = float(dist.entropy(out)[0])
    assert float(-logp.mean()) == pytest.approx(h, abs=4 * float(logp.std()) / 141)


def test_log1m_tanh_sq_is_stable():
    u = jnp.array([-100.0, -20.0, -3.0, -0.5, 0.0, 0.7, 4.0, 20.0, 100.0])
    got = dist.log1m_tanh_sq(u)
    assert all_finite(got) and all_finite(
        jax.grad(lambda v: dist.log1m_tanh_sq(v).sum())(u)
    )
    moderate = np.abs(np.asarray(u)) <= 4
    direct = np.log1p(-(np.tanh(np.asarray(u, np.float64)[moderate]) ** 2))
    np.testing.assert_allclose(np.asarray(got)[moderate], direct, rtol=1e-5)
    far = ~moderate
    np.testing.assert_allclose(
        np.asarray(got)[far],
        2 * math.log(2) - 2 * np.abs(np.asarray(u)[far]),
        rtol=1e-6,
    )
    # Control: the direct float32 form is −inf there.
    assert np.all(np.isneginf(jnp.log(1 - jnp.tanh(u[far]) ** 2)))


@pytest.mark.parametrize("log_std", [-1000.0, -100.0, 100.0, 1000.0])
def test_squashed_gaussian_with_extreme_log_std_is_finite(log_std):
    out = dist.SquashedGaussian(
        jnp.array([[0.0, 1.0]]),
        jnp.full((1, 2), log_std),
        jnp.array([[LOW, -1.0]]),
        jnp.array([[HIGH, 1.0]]),
    )
    action = dist.sample(jax.random.key(0), out)
    assert all_finite(action)
    on_bound = jnp.array([[HIGH, -1.0]])
    for a in (action, dist.mode(out), on_bound):
        assert all_finite(dist.log_prob(out, a))
        grads = jax.grad(
            lambda m, s, a=a: dist.log_prob(out._replace(mean=m, log_std=s), a).sum(),
            (0, 1),
        )(out.mean, out.log_std)
        assert all_finite(grads)
    assert all_finite(dist.entropy(out))
    assert all_finite(
        jax.grad(lambda s: dist.entropy(out._replace(log_std=s)).sum())(out.log_std)
    )
    # Both ends of LOG_STD_RANGE hold: beyond it, the value is the bound's.
    bound = float(np.clip(log_std, *pol.LOG_STD_RANGE))
    at_bound = out._replace(log_std=jnp.full((1, 2), bound))
    np.testing.assert_array_equal(dist.entropy(out), dist.entropy(at_bound))
    np.testing.assert_array_equal(
        dist.log_prob(out, on_bound), dist.log_prob(at_bound, on_bound)
    )
    np.testing.assert_array_equal(
        dist.sample(jax.random.key(0), out), dist.sample(jax.random.key(0), at_bound)
    )


# --- the policy -----------------------------------------------------------------


def test_make_policy_squashes_to_the_box():
    env, env_params = jaxpg.make_env("Pendulum-v1")
    config = jaxpg.PPOConfig(env_id="Pendulum-v1", squash=True, hidden_sizes=(8,))
    policy = jaxpg.make_policy(config, env, env_params)
    obs = jnp.ones((16, 3)) * 3.0
    params = {"policy": policy.init(jax.random.key(0), obs)}
    out = policy.apply(params["policy"], obs)
    assert isinstance(out, dist.SquashedGaussian)
    np.testing.assert_array_equal(out.low, -2.0)
    np.testing.assert_array_equal(out.high, 2.0)
    big = jax.tree.map(lambda p: p * 50.0, params)  # pushes the mean far out
    for key in (None, jax.random.key(1)):
        a = jaxpg.act(policy, big, obs, key)
        assert a.shape == (16, 1) and np.all(np.abs(np.asarray(a)) <= 2.0)
    # The default stays the unsquashed (mean, log_std) pair, params unchanged.
    plain = jaxpg.make_policy(
        jaxpg.PPOConfig(env_id="Pendulum-v1", hidden_sizes=(8,)), env, env_params
    )
    out = plain.apply(plain.init(jax.random.key(0), obs), obs)
    assert type(out) is tuple and len(out) == 2


def test_squash_needs_a_bounded_box():
    env, env_params = jaxpg.make_env("CartPole-v1")
    with pytest.raises(ValueError, match="squash=True needs a Box"):
        jaxpg.make_train(jaxpg.PPOConfig(env_id="CartPole-v1", squash=True))

    from gymnax.environments import spaces

    class Unbounded(type(jaxpg.make_env("Pendulum-v1")[0].env)):
        def action_space(self, params=None):
            return spaces.Box(-jnp.inf, jnp.inf, (1,), jnp.float32)

    env = Unbounded()
    with pytest.raises(ValueError, match="finite action bounds"):
        jaxpg.make_policy(
            jaxpg.PPOConfig(env_id=None, squash=True), env, env.default_params
        )


@pytest.mark.parametrize("field", ["squash", "state_dependent_std"])
@pytest.mark.parametrize(
    "cls", [jaxpg.ReinforceConfig, jaxpg.A2CConfig, jaxpg.PPOConfig]
)
def test_new_config_fields_are_validated(cls, field):
    with pytest.raises(ValueError, match=f"^{field} must be True or False"):
        cls(**{field: 1})


def test_state_dependent_log_std():
    env, env_params = jaxpg.make_env("Pendulum-v1")
    obs = jax.random.normal(jax.random.key(0), (6, 3))
    fixed = jaxpg.make_policy(jaxpg.PPOConfig(env_id="Pendulum-v1"), env, env_params)
    p_fixed = fixed.init(jax.random.key(1), obs)
    assert set(p_fixed["params"]) == {"MLP_0", "Dense_0", "log_std"}
    config = jaxpg.PPOConfig(
        env_id="Pendulum-v1", state_dependent_std=True, init_log_std=-0.5
    )
    varying = jaxpg.make_policy(config, env, env_params)
    params = varying.init(jax.random.key(1), obs)
    assert set(params["params"]) == {"MLP_0", "Dense_0", "log_std_head"}
    _, log_std = varying.apply(params, obs)
    assert log_std.shape == (6, 1)
    np.testing.assert_array_equal(log_std, -0.5)  # starts at init_log_std
    grad = jax.grad(lambda p: (varying.apply(p, obs)[1] * obs[:, :1]).sum())(params)
    kernel_grad = grad["params"]["log_std_head"]["kernel"]
    assert float(jnp.abs(kernel_grad).sum()) > 0  # the state reaches the log-std
    moved = jax.tree.map(lambda p, g: p + 0.1 * g, params, grad)
    assert float(jnp.std(varying.apply(moved, obs)[1])) > 1e-3


@pytest.mark.parametrize("algo", ["reinforce", "a2c", "ppo"])
def test_squashed_state_dependent_policy_trains(algo):
    kw = dict(
        env_id="Pendulum-v1", squash=True, state_dependent_std=True, entropy_coef=0.01
    )
    config = {
        "reinforce": jaxpg.ReinforceConfig(num_envs=4, num_updates=2, **kw),
        "a2c": jaxpg.A2CConfig(num_envs=4, num_updates=2, num_steps=8, **kw),
        "ppo": jaxpg.PPOConfig(num_envs=4, num_updates=2, num_steps=8, **kw),
    }[algo]
    result = jax.jit(jaxpg.make_train(config))(jax.random.key(0))
    assert all_finite(result.params) and all_finite(result.metrics)


def test_ppo_first_epoch_ratio_is_one_with_the_squash():
    """The rollout's log-prob and the loss's recomputation agree exactly (both
    invert the squash from the stored action): zero KL at a vanishing step."""
    config = jaxpg.PPOConfig(
        env_id="Pendulum-v1",
        squash=True,
        num_envs=4,
        num_updates=2,
        num_steps=32,
        num_epochs=1,
        num_minibatches=1,
        learning_rate=1e-12,
        init_log_std=1.5,
    )
    result = jax.jit(jaxpg.make_train(config))(jax.random.key(0))
    np.testing.assert_array_equal(result.metrics["approx_kl"], 0.0)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_ppo_learns_pendulum_with_the_squashed_gaussian():
    config = jaxpg.tuned_config("ppo", "Pendulum-v1")
    config = jaxpg.algorithms.common.replace(config, squash=True, num_updates=80)
    env, env_params = jaxpg.make_env("Pendulum-v1")
    trainer = jaxpg.make_trainer(config)
    policy = jaxpg.make_policy(config, env, env_params)
    start = trainer.init(jax.random.key(0))
    result = jax.jit(jaxpg.make_train(config))(jax.random.key(0))
    before = jaxpg.evaluate(
        jax.random.key(1), policy, start.params, env, env_params, 32
    )
    after = jaxpg.evaluate(
        jax.random.key(1), policy, result.params, env, env_params, 32
    )
    print("greedy return before", float(before.mean()), "after", float(after.mean()))
    assert float(before.mean()) < -900
    assert float(after.mean()) > -400


def test_gymnasium_evaluation_takes_the_squashed_policy():
    from jaxpg.run import gym_eval

    config = jaxpg.PPOConfig(env_id="Pendulum-v1", squash=True, hidden_sizes=(8,))
    env, env_params = jaxpg.make_env("Pendulum-v1")
    policy = jaxpg.make_policy(config, env, env_params)
    params = {"policy": policy.init(jax.random.key(0), jnp.zeros(3))}
    for stochastic in (False, True):
        returns = gym_eval.gymnasium_returns(
            "Pendulum-v1", policy, params, 1, stochastic=stochastic
        )
        # 200 steps, each costing between 0 and π² + 0.1·8² + 0.001·2².
        assert returns.shape == (1,) and -200 * 16.3 <= float(returns[0]) <= 0.0


def test_checkpoint_round_trip_keeps_the_squash_and_the_log_std_head(tmp_path):
    from trees import assert_bit_identical

    config = jaxpg.PPOConfig(
        env_id="Pendulum-v1",
        squash=True,
        state_dependent_std=True,
        num_envs=2,
        num_steps=8,
        num_minibatches=2,
        hidden_sizes=(8,),
    )
    trainer = jaxpg.make_trainer(config)
    state, _ = jax.jit(trainer.run, static_argnums=1)(
        trainer.init(jax.random.key(0)), 1
    )
    jaxpg.save(tmp_path / "ckpt", state, config)
    loaded, loaded_config = jaxpg.load(tmp_path / "ckpt")  # template from config
    assert loaded_config == config
    assert_bit_identical(loaded, state)
    assert "log_std_head" in loaded.params["policy"]["params"]
