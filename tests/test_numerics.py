"""Numerical edges: extreme log-stds, −inf logits, and counts past float32's range."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from trees import all_finite

import jaxpg
from jaxpg import normalization as norm
from jaxpg import policy as pol
from jaxpg.algorithms import base, reinforce
from jaxpg.rollout import Trajectory

pytestmark = pytest.mark.timeout(300)

INT32_MAX = 2**31 - 1


# --- (a) Gaussian log-std ----------------------------------------------------


@pytest.mark.parametrize("log_std", [-1000.0, -100.0, 100.0, 1000.0])
def test_gaussian_with_extreme_log_std_is_finite(log_std):
    mean = jnp.array([[0.0, 1.0]])
    output = (mean, jnp.full((1, 2), log_std))
    action = pol.sample(jax.random.key(0), output)
    assert all_finite(action)
    for a in (action, mean, mean + 0.5):
        assert all_finite(pol.log_prob(output, a))
        grads = jax.grad(lambda m, s, a=a: pol.log_prob((m, s), a).sum(), (0, 1))(
            *output
        )
        assert all_finite(grads)
    assert all_finite(pol.entropy(output))
    # Straight through the bound: the entropy bonus still pulls the log-std back.
    grad = jax.grad(lambda s: pol.entropy((mean, s)).sum())(output[1])
    np.testing.assert_array_equal(grad, 1.0)
    # The bound is the documented one: the log-std is clipped to its range.
    low, high = pol.LOG_STD_RANGE
    bounded = jnp.clip(log_std, low, high)
    want_h = 2 * (bounded + 0.5 * (1.0 + np.log(2 * np.pi)))
    assert float(pol.entropy(output)[0]) == pytest.approx(float(want_h), rel=1e-6)


def test_log_std_bound_changes_nothing_inside_the_range():
    low, high = pol.LOG_STD_RANGE
    # The range holds every init_log_std a config accepts ([−10, 5]) with room.
    assert low < -10.0 and high > 5.0
    key = jax.random.key(1)
    mean = jax.random.normal(key, (64, 3))
    log_std = jnp.linspace(low + 0.5, high - 0.5, 64 * 3).reshape(64, 3)
    action = mean + jnp.exp(log_std) * jax.random.normal(key, (64, 3))
    z = (action - mean) * jnp.exp(-log_std)
    want = (-0.5 * z**2 - log_std - 0.5 * np.log(2 * np.pi)).sum(-1)
    np.testing.assert_array_equal(pol.log_prob((mean, log_std), action), want)
    np.testing.assert_array_equal(
        pol.sample(key, (mean, log_std)),
        mean + jnp.exp(log_std) * jax.random.normal(key, (64, 3)),
    )
    grad = jax.grad(lambda s: pol.log_prob((mean, s), action).sum())(log_std)
    np.testing.assert_allclose(grad, z**2 - 1.0, rtol=1e-5, atol=1e-5)


# --- (b) categorical with −inf logits (action masks) ----------------------------


def test_categorical_with_minus_inf_logits_is_finite():
    legal = jnp.array([[True, False, True], [False, True, False]])
    action = jnp.array([2, 1])

    def masked(x):
        return jnp.where(legal, x, -jnp.inf)

    x = jnp.array([[0.5, 3.0, 1.0], [0.2, 2.0, -1.0]])
    h = pol.entropy(masked(x))
    # Row 0: a softmax over the two legal logits; row 1: one legal action, H = 0.
    p = np.exp([0.5, 1.0]) / np.exp([0.5, 1.0]).sum()
    np.testing.assert_allclose(h, [-(p * np.log(p)).sum(), 0.0], rtol=1e-6)
    np.testing.assert_allclose(
        pol.log_prob(masked(x), action), [np.log(p[1]), 0.0], rtol=1e-6
    )
    for f in (pol.entropy, lambda o: pol.log_prob(o, action)):
        grad = jax.grad(lambda x, f=f: f(masked(x)).sum())(x)
        assert all_finite(grad)
        np.testing.assert_array_equal(np.asarray(grad)[~np.asarray(legal)], 0.0)
    # The gradient of the entropy on the legal logits is the unmasked one's.
    g = jax.grad(lambda v: pol.entropy(v[None])[0])(jnp.array([0.5, 1.0]))
    got = jax.grad(lambda x: pol.entropy(masked(x)).sum())(x)
    np.testing.assert_allclose(np.asarray(got)[0, [0, 2]], g, rtol=1e-6)


# --- (c, e) step counts: exact int32, saturating ---------------------------------


def _wide_traj(num_envs: int, steps_run: int) -> Trajectory:
    """One time step of ``num_envs`` one-step episodes."""
    ones = jnp.ones((1, num_envs), jnp.float32)
    flags = jnp.ones((1, num_envs), bool)
    return Trajectory(
        obs=ones[..., None],
        action=jnp.zeros((1, num_envs), jnp.int32),
        reward=ones,
        terminated=flags,
        truncated=~flags,
        mask=ones,
        log_prob=ones,
        value=ones,
        steps_run=jnp.int32(steps_run),
    )


def test_reinforce_step_counts_are_exact_above_2_to_the_24():
    # 2^24 + 1 real steps in one update: a float32 sum cannot hold that number.
    n = 2**24 + 1
    config = jaxpg.ReinforceConfig(env_id=None, num_envs=n)
    state = base.initial_state(jax.random.key(0), {}, None, None, jaxpg.hparams(config))
    zero = jnp.float32(0.0)
    aux = {"policy_loss": zero, "entropy": zero}
    # steps_run · N = 128 · (2^24 + 1) > 2^31: saturates instead of wrapping.
    metrics = jax.jit(
        lambda t: reinforce._metrics(config, t, state, zero, aux, zero)  # noqa: SLF001
    )(_wide_traj(n, 128))
    assert metrics["env_steps"].dtype == jnp.int32
    assert int(metrics["env_steps"]) == n
    assert metrics["computed_steps"].dtype == jnp.int32
    assert int(metrics["computed_steps"]) == INT32_MAX


def test_count_helpers_saturate_instead_of_wrapping():
    ones = jnp.ones((3, 5))
    assert int(base.count_steps(ones)) == 15
    assert int(base.count_steps(jnp.array([[1.0, 0.0], [0.5, 0.0]]))) == 2
    # A small limit stands in for 2^31 − 1: the columns are summed in groups that
    # cannot pass it (2, 4 or 5 columns of 3 steps), the groups added saturating.
    for limit, want in ((7, 7), (14, 14), (15, 15), (16, 15), (100, 15)):
        assert int(base.count_steps(ones, limit)) == want, limit
    assert int(base.saturating_add(jnp.int32(2**30), jnp.int32(2**30))) == INT32_MAX
    assert int(base.saturating_add(jnp.int32(2**30), jnp.int32(5))) == 2**30 + 5
    assert int(base.saturating_product(jnp.int32(3), 5)) == 15
    assert int(base.saturating_product(jnp.int32(2**16), 2**15)) == INT32_MAX
    assert int(base.saturating_product(jnp.int32(2**15), 2**16 - 1)) == (2**31 - 2**15)


def test_actor_critic_env_steps_are_int32():
    config = jaxpg.A2CConfig(num_envs=2, num_steps=3, num_updates=1)
    metrics = jax.jit(jaxpg.make_train(config))(jax.random.key(0)).metrics
    assert metrics["env_steps"].dtype == jnp.int32
    np.testing.assert_array_equal(metrics["env_steps"], 6)


# --- (d) running statistics count exactly ---------------------------------------


def test_running_stats_count_is_exact_past_2_to_the_30():
    stats = norm.init_stats((2,))
    assert norm.exact_count(stats) == 0
    x = jnp.ones((32, 2))
    start = 2**30 + 7  # an odd count: float32 holds neither it nor its successors
    big = stats._replace(count=jnp.array(divmod(start, 2**24), jnp.float32))
    assert norm.exact_count(big) == start
    for k in range(1, 4):
        big = jax.jit(norm.update_stats)(big, x)
        assert norm.exact_count(big) == start + 32 * k
    # A carry from the low part into the high part, and a batch of more than 2^24.
    near = stats._replace(count=jnp.array([5.0, 2**24 - 10], jnp.float32))
    assert norm.exact_count(norm.update_stats(near, x)) == 6 * 2**24 + 22
    huge = jnp.zeros((2**24 + 3, 1))
    merged = norm.update_stats(near._replace(mean=jnp.zeros(1), var=jnp.ones(1)), huge)
    assert norm.exact_count(merged) == 7 * 2**24 - 7
    # Zero gradient into the statistics, so Adam leaves them exactly as they are.
    policy = norm.normalize_observations(
        jaxpg.Policy(lambda k, o: {"w": jnp.ones(2)}, lambda p, o: o @ p["w"])
    )
    params = policy.init(None, jnp.zeros(2))
    grads = jax.grad(lambda p: policy.apply(p, jnp.ones((3, 2))).sum())(params)
    np.testing.assert_array_equal(grads["obs_stats"].count, 0.0)


def test_running_stats_first_batch_and_merges_match_numpy():
    x = jax.random.normal(jax.random.key(0), (50, 3)) * 3.0 + 1.0
    first = norm.update_stats(norm.init_stats((3,)), x[:10])
    np.testing.assert_allclose(first.mean, np.mean(x[:10], 0), rtol=1e-6)
    np.testing.assert_allclose(first.var, np.var(x[:10], 0), rtol=1e-5)
    stats = first
    for chunk in (x[10:35], x[35:]):
        stats = norm.update_stats(stats, chunk)
    np.testing.assert_allclose(stats.mean, np.mean(x, 0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stats.var, np.var(x, 0), rtol=1e-5)
    assert norm.exact_count(stats) == 50
