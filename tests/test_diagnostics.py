"""Gradient diagnostics: per-trajectory terms, their statistics, the training flag."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxpg
from jaxpg import diagnostics, tabular
from jaxpg.algorithms.reinforce import reinforce_weights
from jaxpg.envs import encode_env
from jaxpg.rollout import episodic_rollout

pytestmark = pytest.mark.timeout(120)

ENV = tabular.TabularMDP()
POLICY = tabular.table_policy()
LOGITS = POLICY.init(None, None)


def critic_table():
    def init(key, obs):
        del key, obs
        return {"v": jnp.array([2.0, -1.0, 3.0])}

    return jaxpg.Policy(init, lambda p, obs: obs @ p["v"])


CONFIGS = {
    "return": dict(weight="return", baseline="none"),
    "reward_to_go": dict(weight="reward_to_go", baseline="none"),
    "rtg - leave-one-out": dict(weight="reward_to_go", baseline="mean"),
    "rtg - value": dict(weight="reward_to_go", baseline="value"),
    "gae 0.9": dict(weight="gae", baseline="value", gae_lambda=0.9),
    "gamma^t rtg": dict(gamma=0.9, baseline="none", discount_weighting=True),
    "normalized": dict(baseline="mean", normalize_weights=True),
}


def config(num_envs, **kw):
    kw.setdefault("gamma", 1.0)
    return jaxpg.ReinforceConfig(env_id=None, num_envs=num_envs, **kw)


def params_for(cfg):
    value = critic_table() if cfg.uses_value else None
    params = {"policy": LOGITS, "value": None if value is None else value.init(0, 0)}
    return params, value


@pytest.mark.parametrize("name", list(CONFIGS))
def test_mean_of_terms_is_the_batch_estimate(name):
    cfg = config(16, **CONFIGS[name])
    params, value = params_for(cfg)
    key = jax.random.key(4)
    diagnose = diagnostics.make_gradient_diagnostics(
        cfg, ENV, None, policy=POLICY, value=value
    )
    d = jax.jit(diagnose)(key, params)
    batch = jaxpg.estimate_gradient(
        key, cfg, params, ENV, None, policy=POLICY, value=value
    )
    np.testing.assert_allclose(
        d.stats.mean["logits"], batch["policy"]["logits"], rtol=1e-6, atol=1e-7
    )
    assert d.grads["logits"].shape == (16, 3, 2)
    # Not a trivial agreement: the terms differ from each other.
    assert float(d.stats.variance) > 0.01


def test_terms_by_hand():
    # g_i = Σ_t m Ψ (onehot(a) − π(·|s)) ⊗ onehot(s) for a softmax table.
    traj = episodic_rollout(
        jax.random.key(0), POLICY, LOGITS, encode_env(ENV), ENV.default_params, 5
    )
    psi, _ = reinforce_weights(traj, 1.0, weight="reward_to_go", baseline="mean")
    grads = diagnostics.per_trajectory_gradients(POLICY, LOGITS, traj, psi)
    pi = np.asarray(jax.nn.softmax(jnp.asarray(tabular.LOGITS), -1))
    obs, act = np.asarray(traj.obs), np.asarray(traj.action)
    m, w = np.asarray(traj.mask), np.asarray(psi)
    for i in range(5):
        expect = np.zeros((3, 2))
        for t in range(obs.shape[0]):
            s = int(obs[t, i].argmax())
            expect[s] += m[t, i] * w[t, i] * (np.eye(2)[act[t, i]] - pi[s])
        np.testing.assert_allclose(grads["logits"][i], expect, rtol=1e-5, atol=1e-6)


def test_variance_is_trace_of_numpy_covariance():
    cfg = config(64, **CONFIGS["rtg - leave-one-out"])
    d = jax.jit(diagnostics.make_gradient_diagnostics(cfg, ENV, None, policy=POLICY))(
        jax.random.key(1), {"policy": LOGITS, "value": None}
    )
    rows = np.asarray(d.grads["logits"], np.float64).reshape(64, -1)
    np.testing.assert_allclose(
        float(d.stats.variance), np.trace(np.cov(rows, rowvar=False)), rtol=1e-5
    )
    mean = rows.mean(0)
    np.testing.assert_allclose(
        float(d.stats.snr), mean @ mean / np.trace(np.cov(rows, rowvar=False)), 1e-5
    )


def test_statistics_on_hand_arrays():
    grads = {"a": jnp.array([[1.0, 2.0], [3.0, 2.0], [2.0, 5.0]]), "b": jnp.zeros(3)}
    ref = {"a": jnp.array([0.0, 1.0]), "b": jnp.array(0.0)}
    s = diagnostics.gradient_statistics(grads, ref)
    # mean (2, 3, 0); deviations (−1,−1), (1,−1), (0, 2): squares sum 8, /(3−1) = 4.
    np.testing.assert_allclose(s.mean["a"], [2.0, 3.0])
    assert float(s.variance) == pytest.approx(4.0)
    assert float(s.snr) == pytest.approx(13.0 / 4.0)
    assert float(s.cosine) == pytest.approx(3.0 / np.sqrt(13.0))
    assert np.isnan(float(diagnostics.gradient_statistics(grads).cosine))
    assert float(
        diagnostics.cosine_similarity({"x": jnp.array([1.0, 0.0])}, {"x": jnp.ones(2)})
    ) == pytest.approx(1 / np.sqrt(2))
    with pytest.raises(ValueError, match="N >= 2"):
        diagnostics.gradient_statistics({"a": jnp.ones((1, 2))})


def test_samples_for_cosine():
    r = {"w": jnp.array([3.0, 4.0])}  # ‖r‖² = 25
    # Unbiased: n = c²/(1 − c²) · v/‖r‖².
    n = diagnostics.samples_for_cosine(r, jnp.float32(50.0), r, 0.9)
    assert float(n) == pytest.approx(0.81 / 0.19 * 2.0, rel=1e-5)
    # A mean averaged from 50 terms: its ‖m‖² = 25 overstates the true one by v/50.
    n = diagnostics.samples_for_cosine(r, 50.0, r, 0.9, num_samples=50)
    assert float(n) == pytest.approx(50.0 / (25.0 / 0.81 - 24.0), rel=1e-5)
    # A mean 45° off the reference never reaches cos 0.9, whatever the batch.
    off = {"w": jnp.array([3.0 + 4.0, 4.0 - 3.0])}
    assert np.isinf(float(diagnostics.samples_for_cosine(off, 1.0, r, 0.9)))
    # ... but reaches 0.5 (cos 45° ≈ 0.707 > 0.5).
    assert np.isfinite(float(diagnostics.samples_for_cosine(off, 1.0, r, 0.5)))


def test_samples_for_cosine_predicts_measured_cosine():
    # High-dimensional Gaussian terms with mean r: the measured mean cosine of
    # batches of the predicted size is the target.
    dim, var_per_dim = 400, 1.0
    r = jnp.ones(dim) * 0.1  # ‖r‖² = 4, v = 400 → snr 0.01 → n ≈ 426
    n = int(round(float(diagnostics.samples_for_cosine(r, dim * var_per_dim, r))))
    assert 420 <= n <= 432
    noise = jax.random.normal(jax.random.key(0), (100, n, dim))
    batch_means = r[None] + noise.mean(1)
    cos = batch_means @ r / (jnp.linalg.norm(batch_means, axis=1) * jnp.linalg.norm(r))
    assert float(cos.mean()) == pytest.approx(0.9, abs=0.01)


@functools.lru_cache
def _per_trajectory_variances():
    # 4000 batches of N = 8 (32 000 episodes) per estimator; the per-trajectory
    # variance measured by the diagnostics.
    out = {}
    for name in ("return", "reward_to_go", "rtg - leave-one-out"):
        cfg = config(8, **CONFIGS[name])
        diagnose = diagnostics.make_gradient_diagnostics(cfg, ENV, None, policy=POLICY)
        keys = jax.random.split(jax.random.key(7), 4000)
        d = jax.jit(jax.vmap(diagnose, in_axes=(0, None)))(
            keys, {"policy": LOGITS, "value": None}
        )
        rows = np.asarray(d.grads["logits"], np.float64).reshape(-1, 6)
        out[name] = (
            float(np.asarray(d.stats.variance).mean()),
            rows.mean(0),
            rows.std(0, ddof=1) / np.sqrt(len(rows)),
        )
    return out


def test_variance_ordering_of_unbiased_estimators():
    v = _per_trajectory_variances()
    ret, rtg, loo = (v[k][0] for k in ("return", "reward_to_go", "rtg - leave-one-out"))
    print(
        f"\nper-trajectory variance: return {ret:.3f}, rtg {rtg:.3f}, rtg-loo {loo:.3f}"
    )
    assert ret > 1.3 * rtg > 1.3 * 1.3 * loo
    # ... and all three share the expectation ∇J (within 4 standard errors).
    exact = tabular.exact_gradient().reshape(-1)
    for _, mean, se in v.values():
        assert np.abs((mean - exact) / se).max() < 4.0


def test_training_flag_off_adds_no_metrics():
    base = jaxpg.ReinforceConfig(num_envs=4, num_updates=2, hidden_sizes=(8,))
    off = jax.jit(jaxpg.make_train(base))(jax.random.key(0))
    on_cfg = jaxpg.ReinforceConfig(
        num_envs=4, num_updates=2, hidden_sizes=(8,), gradient_diagnostics=True
    )
    on = jax.jit(jaxpg.make_train(on_cfg))(jax.random.key(0))
    extra = {"gradient_variance", "gradient_snr"}
    assert not extra & set(off.metrics)
    assert set(on.metrics) == set(off.metrics) | extra
    assert np.all(np.asarray(on.metrics["gradient_variance"]) > 0)
    # Diagnostics only observe: the trained parameters are the same.
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
        on.params,
        off.params,
    )


def test_training_flag_off_compiles_the_same_program():
    # The default (False) and an explicit False lower to identical HLO, and it
    # differs from True: the flag is the only switch.
    def hlo(**kw):
        cfg = jaxpg.ReinforceConfig(num_envs=4, num_updates=1, hidden_sizes=(8,), **kw)
        return jax.jit(jaxpg.make_train(cfg)).lower(jax.random.key(0)).as_text()

    default = hlo()
    assert hlo(gradient_diagnostics=False) == default
    assert hlo(gradient_diagnostics=True) != default


def test_gae_lambda_one_is_the_value_baseline():
    key = jax.random.key(2)
    critic = critic_table()
    params = {"policy": LOGITS, "value": critic.init(0, 0)}
    outs = []
    for kw in (CONFIGS["rtg - value"], dict(weight="gae", baseline="value")):
        cfg = config(32, **kw)
        diagnose = diagnostics.make_gradient_diagnostics(
            cfg, ENV, None, policy=POLICY, value=critic
        )
        outs.append(jax.jit(diagnose)(key, params))
    np.testing.assert_allclose(outs[0].psi, outs[1].psi, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="baseline='value'"):
        config(4, weight="gae", baseline="mean")
