"""jaxpg's estimator against the exact gradient of a tabular MDP.

Each check averages many independent batch estimates (fixed keys) and requires
every component of the mean to lie within 4 standard errors of the exact ∇J. The
negative controls -- deliberately wrong estimators -- must fail the *same* check;
that is what shows the check has the power to catch those mistakes.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxpg
from jaxpg import policy as pol
from jaxpg import tabular
from jaxpg.algorithms.reinforce import reinforce_weights
from jaxpg.envs import encode_env
from jaxpg.rollout import Trajectory, episodic_rollout

pytestmark = pytest.mark.timeout(300)

ENV = tabular.TabularMDP()
POLICY = tabular.table_policy()
PARAMS = {"policy": POLICY.init(None, None), "value": None}
Z_LIMIT = 4.0


def config(num_envs, **kw):
    return jaxpg.ReinforceConfig(env_id=None, num_envs=num_envs, **kw)


def batch_estimates(estimate, num_batches: int, seed: int) -> np.ndarray:
    """``estimate(key) → params-shaped ascent direction``, for independent keys."""
    keys = jax.random.split(jax.random.key(seed), num_batches)
    grads = jax.jit(jax.vmap(estimate))(keys)
    return np.asarray(grads["policy"]["logits"], np.float64)


def jaxpg_estimates(cfg, num_batches, seed=0):
    return batch_estimates(
        lambda k: jaxpg.estimate_gradient(k, cfg, PARAMS, ENV, None, policy=POLICY),
        num_batches,
        seed,
    )


def z_scores(estimates: np.ndarray, exact: np.ndarray) -> np.ndarray:
    mean = estimates.mean(0)
    se = estimates.std(0, ddof=1) / np.sqrt(len(estimates))
    return (mean - exact) / se


def max_abs_z(estimates, gamma=1.0) -> float:
    return float(np.abs(z_scores(estimates, tabular.exact_gradient(gamma=gamma))).max())


# --- the unbiased estimators ------------------------------------------------


@pytest.mark.parametrize("weight", ["return", "reward_to_go"])
def test_matches_exact_gradient_without_baseline(weight):
    # 200 batches x 1000 episodes = 200 000 episodes.
    est = jaxpg_estimates(config(1000, gamma=1.0, weight=weight, baseline="none"), 200)
    assert max_abs_z(est) < Z_LIMIT


@pytest.mark.parametrize("weight", ["return", "reward_to_go"])
def test_leave_one_out_baseline_unbiased_at_small_batch(weight):
    # N = 2: where a self-including mean would halve the expected gradient.
    # 100 000 batches x 2 episodes.
    est = jaxpg_estimates(config(2, gamma=1.0, weight=weight, baseline="mean"), 100_000)
    assert max_abs_z(est) < Z_LIMIT


def test_discount_weighting_matches_discounted_objective():
    est = jaxpg_estimates(
        config(
            1000,
            gamma=0.9,
            weight="reward_to_go",
            baseline="none",
            discount_weighting=True,
        ),
        200,
    )
    assert max_abs_z(est, gamma=0.9) < Z_LIMIT


def test_discounted_whole_return_matches_discounted_objective():
    est = jaxpg_estimates(
        config(1000, gamma=0.9, weight="return", baseline="none"), 200
    )
    assert max_abs_z(est, gamma=0.9) < Z_LIMIT


def test_value_baseline_is_unbiased():
    # Any critic V(s_t) -- here a fixed table, far from the true values -- leaves the
    # expectation unchanged: it does not depend on the trajectory's own actions.
    def init(key, obs):
        del key, obs
        return {"v": jnp.array([2.0, -1.0, 3.0])}

    critic = jaxpg.Policy(init, lambda p, obs: obs @ p["v"])
    params = {"policy": PARAMS["policy"], "value": critic.init(None, None)}
    cfg = config(1000, gamma=1.0, weight="reward_to_go", baseline="value")
    est = batch_estimates(
        lambda k: jaxpg.estimate_gradient(
            k, cfg, params, ENV, None, policy=POLICY, value=critic
        ),
        200,
        seed=0,
    )
    assert max_abs_z(est) < Z_LIMIT


# --- negative controls: the same check must fail ---------------------------


def test_control_discounting_without_gamma_t_is_biased():
    est = jaxpg_estimates(
        config(1000, gamma=0.9, weight="reward_to_go", baseline="none"), 200
    )
    assert max_abs_z(est, gamma=0.9) > Z_LIMIT


def _score_gradient(traj: Trajectory, psi, loss=jaxpg.losses.score_function_loss):
    """Ascent direction of ``loss`` on a fixed batch, w.r.t. the policy table."""

    def objective(logits):
        logp = pol.log_prob(POLICY.apply({"logits": logits}, traj.obs), traj.action)
        return -loss(logp, psi, traj.mask)

    return {"policy": {"logits": jax.grad(objective)(PARAMS["policy"]["logits"])}}


def _rollout(key, num_envs):
    return episodic_rollout(
        key, POLICY, PARAMS["policy"], encode_env(ENV), ENV.default_params, num_envs
    )


def test_building_blocks_reproduce_estimate_gradient():
    # The controls below are built from the same pieces estimate_gradient uses;
    # with nothing changed they give the same numbers.
    cfg = config(16, gamma=1.0, weight="reward_to_go", baseline="mean")
    key = jax.random.key(3)
    traj = _rollout(key, 16)
    psi, _ = reinforce_weights(traj, 1.0, weight="reward_to_go", baseline="mean")
    mine = _score_gradient(traj, psi)["policy"]["logits"]
    theirs = jaxpg.estimate_gradient(key, cfg, PARAMS, ENV, None, policy=POLICY)
    np.testing.assert_allclose(mine, theirs["policy"]["logits"], rtol=1e-5, atol=1e-7)


def test_control_self_including_mean_baseline_is_biased():
    def estimate(key):
        traj = _rollout(key, 2)
        g, _ = reinforce_weights(traj, 1.0, weight="return", baseline="none")
        return _score_gradient(traj, g - g.mean(1, keepdims=True))

    z = max_abs_z(batch_estimates(estimate, 100_000, seed=0))
    print(f"self-including mean, N=2: max |z| = {z:.1f}")
    assert z > Z_LIMIT


def test_control_post_done_steps_included_is_biased():
    # A fixed window of HORIZON steps over the auto-resetting env, read as one
    # episode per environment: the steps after an episode's end (of the next
    # episodes) are kept, as if they belonged to it, with no cut at the end, so the
    # reward-to-go also leaks across episodes. (The clean fixed-window control, with
    # correct cuts, is test_control_fixed_window_episode_set_is_biased.)

    def estimate(key):
        o, a, r, _, _ = _window(key, 1000, tabular.HORIZON)
        ones = jnp.ones_like(r)
        zeros = jnp.zeros_like(r, bool)
        traj = Trajectory(o, a, r, zeros, zeros, ones, ones, ones, jnp.int32(0))
        psi, _ = reinforce_weights(traj, 1.0, weight="reward_to_go")
        return _score_gradient(traj, psi)

    z = max_abs_z(batch_estimates(estimate, 200, seed=0))
    print(f"post-done steps kept: max |z| = {z:.1f}")
    assert z > Z_LIMIT


def _window(key, n: int, window: int):
    """``window`` steps of ``n`` auto-resetting environments (gymnax's step):
    ``(obs, action, reward, terminated, truncated)``, each ``[window, n]``."""
    env = encode_env(ENV)
    params = ENV.default_params
    key_reset, key = jax.random.split(key)
    obs, state = jax.vmap(env.reset, (0, None))(jax.random.split(key_reset, n), params)

    def step(carry, _):
        key, obs, state = carry
        key, key_act, key_env = jax.random.split(key, 3)
        action = pol.sample(key_act, POLICY.apply(PARAMS["policy"], obs))
        nxt, state, r, term, trunc, _ = jax.vmap(env.step, (0, 0, 0, None))(
            jax.random.split(key_env, n), state, action, params
        )
        return (key, nxt, state), (obs, action, r, term, trunc)

    return jax.lax.scan(step, (key, obs, state), None, length=window)[1]


@pytest.mark.parametrize(
    "keep, window, biased",
    [("first", tabular.HORIZON, False), ("all", 4, True), ("all", 8, True)],
)
def test_control_fixed_window_episode_set_is_biased(keep, window, biased):
    # The fixed-window estimator done right in every other respect: each episode's
    # reward-to-go is cut at its own end (terminated or truncated), only episodes
    # that finished inside the window are kept, and the sum is divided by N. Keeping
    # *all* of them is still biased: short episodes fit into a window more often
    # (and an environment contributes a random number of episodes). Keeping only
    # each environment's first episode -- what the episodic rollout does; it always
    # finishes within the horizon -- is the same code and passes.
    n = 1000

    def estimate(key):
        o, a, r, term, trunc = _window(key, n, window)
        done = term | trunc
        if keep == "first":  # steps up to and including the first end
            mask = jnp.cumsum(done, 0) - done == 0
        else:  # steps of an episode that ends inside the window
            mask = jnp.cumsum(done[::-1], 0)[::-1] > 0
        mask = mask.astype(jnp.float32)
        zeros = jnp.zeros_like(r)
        traj = Trajectory(o, a, r * mask, term, trunc, mask, zeros, zeros, 0)
        psi, _ = reinforce_weights(traj, 1.0, weight="reward_to_go")
        return _score_gradient(traj, psi)

    z = max_abs_z(batch_estimates(estimate, 200, seed=0))
    print(f"fixed window W={window}, {keep} finished episodes: max |z| = {z:.1f}")
    assert (z > Z_LIMIT) if biased else (z < Z_LIMIT)


def _loss_without_stop_gradient(log_probs, weights, mask):
    return -(mask * log_probs * weights).sum() / log_probs.shape[1]


@pytest.mark.parametrize(
    "loss, biased",
    [(jaxpg.losses.score_function_loss, False), (_loss_without_stop_gradient, True)],
)
def test_weight_that_depends_on_theta(loss, biased):
    # Ψ = G · π(a|s) / stop_gradient(π(a|s)) has the value of G but a gradient of its
    # own. jaxpg's loss stops it; a loss without stop_gradient is biased.
    def estimate(key):
        traj = _rollout(key, 1000)
        g, _ = reinforce_weights(traj, 1.0, weight="reward_to_go")

        def objective(logits):
            logp = pol.log_prob(POLICY.apply({"logits": logits}, traj.obs), traj.action)
            psi = g * jnp.exp(logp - jax.lax.stop_gradient(logp))
            return -loss(logp, psi, traj.mask)

        return {"policy": {"logits": jax.grad(objective)(PARAMS["policy"]["logits"])}}

    z = max_abs_z(batch_estimates(estimate, 200, seed=0))
    print(f"{loss.__name__}: max |z| = {z:.1f}")
    assert (z > Z_LIMIT) if biased else (z < Z_LIMIT)


# --- variance and sign -------------------------------------------------------


@functools.lru_cache
def _variances():
    out = {}
    for name, kw in {
        "return": {"weight": "return", "baseline": "none"},
        "reward_to_go": {"weight": "reward_to_go", "baseline": "none"},
        "reward_to_go + leave-one-out mean": {
            "weight": "reward_to_go",
            "baseline": "mean",
        },
        "return + leave-one-out mean": {"weight": "return", "baseline": "mean"},
    }.items():
        est = jaxpg_estimates(config(8, gamma=1.0, **kw), 20_000, seed=1)
        out[name] = float(est.reshape(len(est), -1).var(0, ddof=1).sum())
    return out


def test_variance_ordering(capsys):
    v = _variances()
    with capsys.disabled():
        print("\ntrace of the covariance of one N=8 batch estimate:")
        for name, value in v.items():
            print(f"  {name:36s} {value:.4f}")
    assert v["reward_to_go"] < v["return"]
    assert v["return + leave-one-out mean"] < v["return"]
    assert v["reward_to_go + leave-one-out mean"] < v["reward_to_go"]


def test_one_descent_step_on_the_loss_increases_exact_objective():
    cfg = config(4096, gamma=1.0, learning_rate=0.05, num_updates=1)
    trainer = jaxpg.make_trainer(cfg, env=ENV, policy=POLICY)
    state = trainer.init(jax.random.key(0))
    new_state, _ = trainer.run(state, 1)
    before = tabular.exact_objective(state.params["policy"]["logits"])
    after = tabular.exact_objective(new_state.params["policy"]["logits"])
    assert float(after) > float(before) + 1e-3


if __name__ == "__main__":  # print the z-scores behind the assertions
    print("max |z| (must be < 4 for the estimators, > 4 for the controls)")
    for name, cfg, gamma in [
        ("return", config(1000, gamma=1.0, weight="return", baseline="none"), 1.0),
        ("reward_to_go", config(1000, gamma=1.0, baseline="none"), 1.0),
        ("loo return N=2", config(2, gamma=1.0, weight="return", baseline="mean"), 1.0),
        ("loo rtg N=2", config(2, gamma=1.0, baseline="mean"), 1.0),
        (
            "γ^t rtg",
            config(1000, gamma=0.9, baseline="none", discount_weighting=True),
            0.9,
        ),
        ("control: rtg no γ^t", config(1000, gamma=0.9, baseline="none"), 0.9),
    ]:
        n = 100_000 if cfg.num_envs == 2 else 200
        print(f"  {name:24s} {max_abs_z(jaxpg_estimates(cfg, n), gamma):8.2f}")
