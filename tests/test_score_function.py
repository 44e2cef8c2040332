"""The claims of docs/score_function.md, each checked on the tabular MDP.

* E[R(τ) ∇log π(τ)] = ∇J, while E[R]·E[∇log π(τ)] = 0: R and the score are
  correlated through τ, so the expectation cannot be split (exact enumeration).
* Dividing the summed loss by a *constant* only rescales the gradient; dividing by a
  *random* number computed from the batch (the count of real steps, the batch std of
  the weights) changes the direction of the expected estimate.
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxpg
from jaxpg import policy as pol
from jaxpg import tabular
from jaxpg.algorithms.reinforce import reinforce_weights
from jaxpg.envs import encode_env
from jaxpg.rollout import episodic_rollout

pytestmark = pytest.mark.timeout(300)

POLICY = tabular.table_policy()
TABLE = POLICY.init(None, None)
ENV = tabular.TabularMDP()


def enumerate_trajectories(logits=tabular.LOGITS):
    """Every trajectory with its probability, return and score ∇_θ log π(τ)."""
    pi = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    p_next = tabular.TRANSITIONS
    out = []

    def grow(s, t, prob, ret, score):
        if t == tabular.HORIZON:
            out.append((prob, ret, score))
            return
        for a, nxt in itertools.product(range(2), range(4)):
            p = prob * pi[s, a] * p_next[s, a, nxt]
            sc = score.copy()
            sc[s] -= pi[s]
            sc[s, a] += 1.0
            r = ret + tabular.REWARDS[s, a]
            if nxt == 3:
                out.append((p, r, sc))
            else:
                grow(nxt, t + 1, p, r, sc)

    for s0 in range(3):
        grow(s0, 0, tabular.INITIAL[s0], 0.0, np.zeros((3, 2)))
    probs = np.array([o[0] for o in out])
    rets = np.array([o[1] for o in out])
    scores = np.stack([o[2] for o in out])
    return probs, rets, scores


def test_expectation_cannot_be_split():
    probs, rets, scores = enumerate_trajectories()
    assert probs.sum() == pytest.approx(1.0, abs=1e-12)
    e_r = (probs * rets).sum()
    e_score = np.einsum("k,kij->ij", probs, scores)
    e_r_score = np.einsum("k,k,kij->ij", probs, rets, scores)
    exact = tabular.exact_gradient()
    with jax.enable_x64(True):
        j = float(tabular.exact_objective(jnp.asarray(tabular.LOGITS, jnp.float64)))
    assert e_r == pytest.approx(j, rel=1e-12)
    np.testing.assert_allclose(e_score, 0.0, atol=1e-12)  # the score has mean zero
    np.testing.assert_allclose(e_r_score, exact, rtol=1e-10)  # E[R ∇log π] = ∇J
    assert np.abs(exact).max() > 0.5  # ...which is far from E[R]·E[∇log π] = 0
    np.testing.assert_allclose(e_r * e_score, 0.0, atol=1e-11)


def _estimates(divide, num_batches=100_000, n=2, seed=0):
    """Mean and standard error of Σ_i Σ_t Ψ ∇log π / divide(traj, Ψ), G-weighted."""

    def estimate(key):
        traj = episodic_rollout(
            key, POLICY, TABLE, encode_env(ENV), ENV.default_params, n
        )
        psi, _ = reinforce_weights(traj, 1.0, weight="reward_to_go")

        def objective(logits):
            logp = pol.log_prob(POLICY.apply({"logits": logits}, traj.obs), traj.action)
            summed = -jaxpg.losses.score_function_loss(logp, psi, traj.mask) * n
            return summed / divide(traj, psi)

        return jax.grad(objective)(TABLE["logits"])

    keys = jax.random.split(jax.random.key(seed), num_batches)
    est = np.asarray(jax.jit(jax.vmap(estimate))(keys), np.float64)
    return est.mean(0), est.std(0, ddof=1) / np.sqrt(num_batches)


def direction_z(mean, se, exact):
    """Largest |z| of ``mean − c·exact`` with the best scale c (least squares)."""
    w = 1.0 / se**2
    c = (w * mean * exact).sum() / (w * exact * exact).sum()
    return float(np.abs((mean - c * exact) / se).max()), float(c)


@pytest.mark.parametrize(
    "name, divide, biased",
    [
        ("N (the default)", lambda traj, psi: 2.0, False),
        ("a constant, 37", lambda traj, psi: 37.0, False),
        ("the count of real steps", lambda traj, psi: traj.mask.sum(), True),
    ],
)
def test_constant_divisor_rescales_random_divisor_changes(name, divide, biased, capsys):
    mean, se = _estimates(divide)
    z, c = direction_z(mean, se, tabular.exact_gradient())
    with capsys.disabled():
        print(
            f"\ndivide by {name}: best scale {c:.4f}, max |z| off that direction {z:.1f}"
        )
    assert (z > 4.0) if biased else (z < 4.0)


def test_normalized_weights_change_the_direction(capsys):
    # jaxpg's normalize_weights option: Ψ ← (Ψ − batch mean) / batch std. The
    # distortion shrinks as N grows (consistent); at N = 2 it is plain to see.
    cfg = jaxpg.ReinforceConfig(
        env_id=None, num_envs=2, gamma=1.0, baseline="none", normalize_weights=True
    )
    params = {"policy": TABLE, "value": None}
    keys = jax.random.split(jax.random.key(0), 100_000)
    est = jax.jit(
        jax.vmap(
            lambda k: jaxpg.estimate_gradient(k, cfg, params, ENV, None, policy=POLICY)
        )
    )(keys)
    est = np.asarray(est["policy"]["logits"], np.float64)
    mean, se = est.mean(0), est.std(0, ddof=1) / np.sqrt(len(est))
    z, c = direction_z(mean, se, tabular.exact_gradient())
    with capsys.disabled():
        print(
            f"\nnormalize_weights, N=2: best scale {c:.4f}, max |z| off that direction {z:.1f}"
        )
    assert z > 4.0


def test_every_trajectory_of_the_package_gives_the_exact_gradient():
    # jaxpg.tabular.all_trajectories (scripts/score_function_numbers.py's sums):
    # E[R ∇log π(τ)] and E[Σ_t G_t ∇log π_t] are ∇J, E[∇log π(τ)] is 0.
    prob, states, actions, rewards, mask, pi = tabular.all_trajectories()
    scores = tabular.step_scores(states, actions, mask, pi)
    exact = tabular.exact_gradient()
    assert prob.sum() == pytest.approx(1.0, abs=1e-12)
    score = scores.sum(1)
    np.testing.assert_allclose(tabular.expectation(prob, score), 0.0, atol=1e-12)
    ret = tabular.expectation(prob, rewards.sum(1)[:, None, None] * score)
    np.testing.assert_allclose(ret, exact, atol=1e-12)
    g = tabular.rewards_to_go(rewards, 1.0)
    rtg = tabular.expectation(prob, np.einsum("kt,ktij->kij", g, scores))
    np.testing.assert_allclose(rtg, exact, atol=1e-12)
