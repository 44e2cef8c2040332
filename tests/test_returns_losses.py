"""Returns, masks and the score-function loss on arrays small enough to check by hand."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxpg import losses, returns
from jaxpg import policy as pol
from jaxpg.algorithms.reinforce import reinforce_weights
from jaxpg.rollout import Trajectory

pytestmark = pytest.mark.timeout(120)


def test_reward_to_go_undiscounted():
    r = jnp.array([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(
        returns.reward_to_go(r, jnp.ones(4)), [10.0, 9.0, 7.0, 4.0]
    )


def test_reward_to_go_discounted_with_episode_end():
    # γ = 0.5; the episode ends after step 1 (discount 0 there): nothing after it
    # flows back. G_3 = 4, G_2 = 3 + .5·4 = 5, G_1 = 2 + 0·5 = 2, G_0 = 1 + .5·2 = 2.
    r = jnp.array([1.0, 2.0, 3.0, 4.0])
    d = jnp.array([0.5, 0.0, 0.5, 0.5])
    np.testing.assert_allclose(returns.reward_to_go(r, d), [2.0, 2.0, 5.0, 4.0])
    assert float(returns.episode_return(r, d)) == pytest.approx(2.0)


def test_discount_powers():
    np.testing.assert_allclose(
        returns.discount_powers(jnp.full(4, 0.9)), [1.0, 0.9, 0.81, 0.729], rtol=1e-6
    )


def test_reward_to_go_rejects_a_batch():
    with pytest.raises(ValueError, match="one trajectory"):
        returns.reward_to_go(jnp.ones((3, 2)), jnp.ones((3, 2)))


def test_leave_one_out_mean():
    w = jnp.array([[1.0, 2.0, 6.0]])
    np.testing.assert_allclose(returns.leave_one_out_mean(w), [[4.0, 3.5, 1.5]])
    with pytest.raises(ValueError):
        returns.leave_one_out_mean(jnp.ones((2, 1)))


def _traj(rewards, terminated, mask):
    r = jnp.asarray(rewards, jnp.float32)
    z = jnp.zeros_like(r)
    return Trajectory(
        obs=z[..., None],
        action=z.astype(jnp.int32),
        reward=r * jnp.asarray(mask, jnp.float32),
        terminated=jnp.asarray(terminated, bool),
        truncated=jnp.zeros(r.shape, bool),
        mask=jnp.asarray(mask, jnp.float32),
        log_prob=z,
        value=z,
        steps_run=jnp.int32(r.shape[0]),
    )


def test_weights_respect_masks_and_options():
    # Two trajectories [T=3, N=2]: the first ends at t=1 (its t=2 is masked out and
    # carries reward 100 that must never count), the second runs 3 steps.
    traj = _traj(
        [[1.0, 1.0], [2.0, 1.0], [100.0, 1.0]],
        [[False, False], [True, False], [False, True]],
        [[1, 1], [1, 1], [0, 1]],
    )
    psi, g = reinforce_weights(traj, 1.0, weight="reward_to_go")
    np.testing.assert_allclose(g, [[3.0, 3.0], [2.0, 2.0], [0.0, 1.0]])
    psi, _ = reinforce_weights(traj, 1.0, weight="return")
    np.testing.assert_allclose(psi, [[3.0, 3.0]] * 3)
    # γ = 0.5: G = [1 + .5·2, 2] = [2, 2] and [1 + .5(1 + .5), 1.5, 1] = [1.75, 1.5, 1].
    psi, g = reinforce_weights(traj, 0.5, weight="reward_to_go")
    np.testing.assert_allclose(g, [[2.0, 1.75], [2.0, 1.5], [0.0, 1.0]])
    psi, _ = reinforce_weights(
        traj, 0.5, weight="reward_to_go", discount_weighting=True
    )
    np.testing.assert_allclose(psi, [[2.0, 1.75], [1.0, 0.75], [0.0, 0.25]])
    # Leave-one-out with N = 2: the other trajectory's weight.
    psi, _ = reinforce_weights(traj, 1.0, weight="return", baseline="mean")
    np.testing.assert_allclose(psi, np.zeros((3, 2)))
    psi, _ = reinforce_weights(traj, 1.0, weight="reward_to_go", baseline="mean")
    np.testing.assert_allclose(psi, [[0.0, 0.0], [0.0, 0.0], [-1.0, 1.0]])


def _unmasked_traj(rewards, terminated, mask):
    """Like ``_traj``, but the rewards after the end are left as given."""
    r = jnp.asarray(rewards, jnp.float32)
    return _traj(rewards, terminated, mask)._replace(reward=r)


def test_rewards_after_the_end_never_count_in_reinforce_weights():
    # The contract: reinforce_weights ignores every reward where the mask is 0,
    # whatever the Trajectory holds there (the rollout records 0; a hand-built or
    # replayed batch may not). Trajectory 0 ends at t = 1 (terminated) and carries
    # 100 at t = 2; trajectory 1 is cut by the horizon mask after t = 1 with no
    # done flag (as a user's max_steps shorter than the env's cuts it) and carries
    # 50 at t = 2.
    kw = {"terminated": [[False, False], [True, False], [False, False]]}
    mask = [[1, 1], [1, 1], [0, 0]]
    dirty = _unmasked_traj([[1.0, 1.0], [2.0, 1.0], [100.0, 50.0]], mask=mask, **kw)
    clean = _traj([[1.0, 1.0], [2.0, 1.0], [100.0, 50.0]], mask=mask, **kw)
    assert float(dirty.reward[2, 0]) == 100.0
    for options in (
        {"weight": "reward_to_go"},
        {"weight": "return"},
        {"weight": "reward_to_go", "baseline": "mean"},
        {"weight": "return", "baseline": "mean"},
        {"weight": "reward_to_go", "normalize_weights": True},
        {"weight": "gae", "baseline": "value", "gae_lambda": 0.5},
    ):
        psi, g = reinforce_weights(dirty, 1.0, **options)
        want_psi, want_g = reinforce_weights(clean, 1.0, **options)
        real = np.asarray(dirty.mask) > 0
        np.testing.assert_array_equal(np.asarray(psi)[real], np.asarray(want_psi)[real])
        np.testing.assert_array_equal(np.asarray(g)[real], np.asarray(want_g)[real])
    # GAE by hand (γ = 1, λ = 0.5, V = 0.5 on the real steps, 1000 on the masked
    # ones): both episodes end at t = 1, nothing bootstraps from V = 1000.
    #   traj 0: δ_1 = 2 − .5 = 1.5, δ_0 = 1 + .5 − .5 = 1, A = [1 + .5·1.5, 1.5]
    #   traj 1: δ_1 = 1 − .5 = .5, δ_0 = 1, A = [1 + .5·.5, .5]
    values = jnp.array([[0.5, 0.5], [0.5, 0.5], [1000.0, 1000.0]])
    psi, _ = reinforce_weights(
        dirty._replace(value=values), 1.0, weight="gae", gae_lambda=0.5
    )
    np.testing.assert_array_equal(np.asarray(psi)[:2], [[1.75, 1.25], [1.5, 0.5]])
    # By hand: G = [[3, 2], [2, 1]] on the real steps; leave-one-out with N = 2
    # subtracts the other trajectory's G at the same t.
    psi, g = reinforce_weights(dirty, 1.0, weight="reward_to_go", baseline="mean")
    np.testing.assert_array_equal(np.asarray(g)[:2], [[3.0, 2.0], [2.0, 1.0]])
    np.testing.assert_array_equal(np.asarray(psi)[:2], [[1.0, -1.0], [1.0, -1.0]])


def test_normalize_uses_only_real_steps():
    x = jnp.array([[1.0, 3.0], [1000.0, 5.0]])
    mask = jnp.array([[1.0, 1.0], [0.0, 1.0]])
    out = returns.normalize(x, mask)
    real = np.asarray(out)[np.asarray(mask) > 0]
    assert abs(real.mean()) < 1e-6
    assert real.std() == pytest.approx(1.0, rel=1e-5)


def _softmax_setup():
    key = jax.random.key(0)
    k1, k2, k3, k4, k5 = jax.random.split(key, 5)
    logits_table = jax.random.normal(k1, (3, 4))  # 3 states, 4 actions
    states = jax.random.randint(k2, (5, 6), 0, 3)  # [T=5, N=6]
    actions = jax.random.randint(k3, (5, 6), 0, 4)
    weights = jax.random.normal(k4, (5, 6))
    mask = (jax.random.uniform(k5, (5, 6)) < 0.7).astype(jnp.float32)
    return logits_table, states, actions, weights, mask


def test_loss_gradient_against_hand_formula():
    table, s, a, w, mask = _softmax_setup()

    def loss(tbl):
        logp = pol.log_prob(tbl[s], a)
        return losses.score_function_loss(logp, w, mask)

    got = jax.grad(loss)(table)
    # ∇_θ log softmax(θ[s])[a] = onehot(a) − softmax(θ[s]), placed at row s.
    want = np.zeros(table.shape)
    probs = np.asarray(jax.nn.softmax(table, -1))
    n = s.shape[1]
    for t in range(s.shape[0]):
        for i in range(n):
            st, at = int(s[t, i]), int(a[t, i])
            score = -probs[st].copy()
            score[at] += 1.0
            want[st] += float(mask[t, i]) * float(w[t, i]) * score
    np.testing.assert_allclose(got, -want / n, rtol=1e-5, atol=1e-6)


def test_loss_value_sum_over_time_mean_over_trajectories():
    logp = jnp.array([[-1.0, -2.0], [-3.0, -4.0]])
    w = jnp.array([[1.0, 2.0], [3.0, 4.0]])
    mask = jnp.array([[1.0, 1.0], [1.0, 0.0]])
    # −(1·−1 + 2·−2 + 3·−3) / 2 = 7
    assert float(losses.score_function_loss(logp, w, mask)) == pytest.approx(7.0)


def test_no_gradient_flows_into_the_weights():
    table, s, a, _, mask = _softmax_setup()

    def logp_of(tbl):
        return pol.log_prob(tbl[s], a)

    def loss_dependent(tbl):  # Ψ depends on θ
        return losses.score_function_loss(logp_of(tbl), 3.0 * logp_of(tbl) ** 2, mask)

    frozen = 3.0 * logp_of(table) ** 2

    def loss_frozen(tbl):
        return losses.score_function_loss(logp_of(tbl), frozen, mask)

    np.testing.assert_allclose(
        jax.grad(loss_dependent)(table), jax.grad(loss_frozen)(table), rtol=1e-6
    )


def test_loss_shape_errors():
    with pytest.raises(ValueError, match=r"\[T, N\]"):
        losses.score_function_loss(jnp.ones(3), jnp.ones(3), jnp.ones(3))
    with pytest.raises(ValueError, match="mask"):
        losses.score_function_loss(jnp.ones((3, 2)), jnp.ones((3, 2)), jnp.ones((2, 3)))


def test_gaussian_log_prob_and_entropy():
    mean = jnp.array([[0.0, 1.0]])
    log_std = jnp.log(jnp.array([[1.0, 2.0]]))
    a = jnp.array([[1.0, 1.0]])
    # N(1; 0, 1) · N(1; 1, 2): −½ − ½log2π + (−log 2 − ½log2π)
    want = -0.5 - np.log(2.0) - np.log(2 * np.pi)
    assert float(pol.log_prob((mean, log_std), a)[0]) == pytest.approx(want, rel=1e-6)
    want_h = 2 * 0.5 * (1 + np.log(2 * np.pi)) + np.log(2.0)
    assert float(pol.entropy((mean, log_std))[0]) == pytest.approx(want_h, rel=1e-6)
