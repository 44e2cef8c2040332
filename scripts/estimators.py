"""The estimator lab: bias, variance, SNR and sample cost of policy-gradient estimators.

Writes docs/estimators.md, docs/data/estimators.json and docs/img/estimators-*.png
(issue #7). Every number in the page comes from one run of this script:

    python scripts/estimators.py            # full (≈ 15 min, 2 CPU cores)
    python scripts/estimators.py --quick --out-dir /tmp/lab   # seconds

Parts:
  A. At a fixed policy, one pool of episodes weighted by each Ψ (common random
     numbers): the tabular MDP against its exact gradient, CartPole-v1 at a
     briefly trained snapshot against a high-sample reference from independent
     episodes. Per-trajectory terms from :mod:`jaxpg.diagnostics`.
  B. CartPole learning curves of the same Ψ, 8 seeds vmapped in one call each.
  C. Pathwise (BPTT) against score-function gradients (:mod:`jaxpg.pathwise`):
     Pendulum-v1 agreement and variance against the horizon, a short learning
     comparison, and MountainCarContinuous's goal bonus.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import pathlib
import platform
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

import jaxpg
from jaxpg import diagnostics, files, pathwise, tabular

ROOT = pathlib.Path(__file__).resolve().parents[1]

COSINE = 0.9

FULL = dict(
    tab_batch=8,
    tab_batches=4000,
    cp_snapshot_updates=12,
    cp_batch=64,
    cp_critic_episodes=1024,
    cp_batches=96,
    cp_ref_batches=192,
    learn_seeds=8,
    learn_updates=60,
    learn_envs=32,
    pw_horizons=(1, 5, 10, 25, 50, 100, 200),
    pw_episodes=2048,
    pw_learn_seeds=4,
    pw_learn_updates=150,
    pw_learn_envs=32,
    mcc_episodes=256,
)
QUICK = dict(
    tab_batch=8,
    tab_batches=100,
    cp_snapshot_updates=2,
    cp_batch=8,
    cp_critic_episodes=16,
    cp_batches=4,
    cp_ref_batches=4,
    learn_seeds=2,
    learn_updates=3,
    learn_envs=8,
    pw_horizons=(1, 5),
    variants=(
        "total return",
        "reward-to-go",
        "rtg − leave-one-out mean",
        "rtg − learned V",
        "GAE(λ=0)",
        "GAE(λ=1)",
        "rtg − mean, ÷ batch std",
    ),
    pw_episodes=64,
    pw_learn_seeds=2,
    pw_learn_updates=3,
    pw_learn_envs=8,
    mcc_episodes=16,
)


def rows_of(grads: Any) -> np.ndarray:
    """Per-trajectory pytree (leading axis N) → float64 ``[N, P]``."""
    return np.asarray(jax.vmap(lambda g: ravel_pytree(g)[0])(grads), np.float64)


def flat(tree: Any) -> np.ndarray:
    return np.asarray(ravel_pytree(tree)[0], np.float64)


def variants(gamma_surrogate: float, p: dict) -> list[tuple[str, dict, str]]:
    """(label, ReinforceConfig fields, family) of every Ψ the lab compares
    (``p["variants"]``: only those labels, in quick mode)."""
    out = [
        ("total return", dict(weight="return", baseline="none"), "unbiased"),
        ("reward-to-go", dict(weight="reward_to_go", baseline="none"), "unbiased"),
        ("rtg − leave-one-out mean", dict(baseline="mean"), "unbiased"),
        ("rtg − learned V", dict(baseline="value"), "unbiased"),
    ]
    for lam in (0.0, 0.5, 0.9, 0.97, 1.0):
        family = "unbiased" if lam == 1.0 else "biased (critic)"
        out.append(
            (
                f"GAE(λ={lam:g})",
                dict(weight="gae", baseline="value", gae_lambda=lam),
                family,
            )
        )
    out += [
        (
            f"rtg − mean, γ={gamma_surrogate:g} without γ^t",
            dict(baseline="mean", gamma=gamma_surrogate),
            "biased (surrogate)",
        ),
        (
            "rtg − mean, ÷ batch std",
            dict(baseline="mean", normalize_weights=True),
            "biased (random divisor)",
        ),
    ]
    keep = p.get("variants")
    return [v for v in out if keep is None or v[0] in keep]


def pooled(diagnose, keys, params) -> tuple[np.ndarray, np.ndarray]:
    """Per-trajectory rows ``[M·N, P]`` and batch means ``[M, P]`` over M batches."""
    out = jax.lax.map(lambda k: diagnose(k, params).grads, keys)
    grads = jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), out)
    rows = rows_of(grads)
    m = keys.shape[0]
    return rows, rows.reshape(m, -1, rows.shape[1]).mean(1)


def summarize(rows, batch_means, reference, reference_se2) -> dict:
    """Bias (with SE), variance, SNR, cosine and samples-to-cosine of one Ψ."""
    mean = rows.mean(0)
    m = len(batch_means)
    se2 = batch_means.var(0, ddof=1) / m + reference_se2
    bias = mean - reference
    ref2 = float(reference @ reference)
    variance = float(rows.var(0, ddof=1).sum())
    n_cos = float(
        diagnostics.samples_for_cosine(
            jnp.asarray(mean),
            jnp.float32(variance),
            jnp.asarray(reference),
            COSINE,
            num_samples=len(rows),
        )
    )
    return {
        "relative_bias": float(np.linalg.norm(bias) / math.sqrt(ref2)),
        "bias_over_noise": float(np.linalg.norm(bias) / math.sqrt(se2.sum())),
        "max_abs_z": float(np.abs(bias / np.sqrt(se2)).max()),
        "variance": variance,
        "snr": ref2 / variance,
        "cosine": float(mean @ reference / (np.linalg.norm(mean) * math.sqrt(ref2))),
        "samples_for_cosine": n_cos,
        "num_trajectories": len(rows),
    }


def measured_cosine(rows, reference, n: int, rng) -> float:
    """Mean cosine with the reference of averages of n shuffled terms."""
    n = max(1, int(math.ceil(n)))
    k = len(rows) // n
    if k < 4:
        return float("nan")
    idx = rng.permutation(len(rows))[: k * n]
    means = rows[idx].reshape(k, n, -1).mean(1)
    cos = (
        means @ reference / (np.linalg.norm(means, axis=1) * np.linalg.norm(reference))
    )
    return float(cos.mean())


# --- A. estimators at a fixed policy ---------------------------------------------


def tabular_part(p: dict) -> dict:
    env, policy = tabular.TabularMDP(), tabular.table_policy()
    logits = policy.init(None, None)
    exact = tabular.exact_gradient().reshape(-1)
    n, m = p["tab_batch"], p["tab_batches"]
    # A learned V: per-state mean of the reward-to-go over independent episodes
    # (the least-squares fit of a table critic), before any estimate uses it.
    fit = jaxpg.episodic_rollout(
        jax.random.key(100),
        policy,
        logits,
        jaxpg.make_env(env)[0],
        env.default_params,
        20_000,
    )
    from jaxpg.algorithms.reinforce import reinforce_weights

    _, g = reinforce_weights(fit, 1.0, weight="reward_to_go")
    counts = jnp.einsum("tn,tns->s", fit.mask, fit.obs)
    v_table = jnp.einsum("tn,tns->s", fit.mask * g, fit.obs) / counts
    critic = jaxpg.Policy(lambda k, o: {"v": v_table}, lambda q, o: o @ q["v"])
    params = {"policy": logits, "value": critic.init(None, None)}
    keys = jax.random.split(jax.random.key(0), m)
    rng = np.random.default_rng(0)
    out = {"rows": [], "critic": [float(x) for x in v_table], "exact": exact.tolist()}
    for label, fields, family in variants(0.9, p):
        fields = {"gamma": 1.0, **fields}
        cfg = jaxpg.ReinforceConfig(env_id=None, num_envs=n, **fields)
        diagnose = diagnostics.make_gradient_diagnostics(
            cfg, env, None, policy=policy, value=critic if cfg.uses_value else None
        )
        rows, bmeans = pooled(jax.jit(diagnose), keys, params)
        row = summarize(rows, bmeans, exact, 0.0)
        row.update(label=label, family=family)
        if np.isfinite(row["samples_for_cosine"]):
            row["measured_cosine_at_n"] = measured_cosine(
                rows, exact, row["samples_for_cosine"], rng
            )
        out["rows"].append(row)
        print(
            f"  tabular {label:36s} var {row['variance']:8.3f} z {row['max_abs_z']:.1f}"
        )
    return out


def cartpole_snapshot(p: dict):
    config = jaxpg.ReinforceConfig(
        env_id="CartPole-v1",
        num_envs=32,
        num_updates=p["cp_snapshot_updates"],
        gamma=1.0,
        baseline="value",
        learning_rate=1e-2,
    )
    result = jaxpg.jit(jaxpg.make_train(config), fast_compile=True)(jax.random.key(0))
    returns = np.asarray(result.metrics["episode_return"])
    params = fit_critic(config, result.params, p["cp_critic_episodes"])
    return config, params, float(returns[-1])


def fit_critic(config, params, num_episodes: int, steps: int = 300):
    """Refits the snapshot's critic to the frozen policy's reward-to-go (γ = 1).

    On episodes of their own (key 3): the critic is "learned" and independent of
    the episodes whose gradients are measured, as a baseline from before the batch.
    """
    from jaxpg.algorithms.reinforce import reinforce_weights

    env, env_params = jaxpg.make_env("CartPole-v1")
    policy = jaxpg.make_policy(config, env, env_params)
    value = jaxpg.make_value(config, env, env_params)
    traj = jaxpg.episodic_rollout(
        jax.random.key(3), policy, params["policy"], env, env_params, num_episodes
    )
    _, target = reinforce_weights(traj, 1.0, weight="reward_to_go")
    optimizer = optax.adam(3e-3)

    def loss(v):
        err = value.apply(v, traj.obs) - target
        return jnp.sum(traj.mask * err**2) / traj.mask.sum()

    def step(carry, _):
        v, opt = carry
        grads = jax.grad(loss)(v)
        updates, opt = optimizer.update(grads, opt, v)
        return (optax.apply_updates(v, updates), opt), loss(v)

    (v, _), losses = jax.jit(
        lambda v: jax.lax.scan(step, (v, optimizer.init(v)), None, length=steps)
    )(params["value"])
    print(f"  critic refit: mse {float(losses[0]):.1f} → {float(losses[-1]):.1f}")
    return {**params, "value": v}


def cartpole_part(p: dict) -> dict:
    snap_config, params, snap_return = cartpole_snapshot(p)
    env, env_params = jaxpg.make_env("CartPole-v1")
    n = p["cp_batch"]

    def make(fields):
        fields = {"gamma": 1.0, **fields}
        cfg = jaxpg.ReinforceConfig(env_id="CartPole-v1", num_envs=n, **fields)
        return jax.jit(
            diagnostics.make_gradient_diagnostics(
                cfg,
                env,
                env_params,
                value=jaxpg.make_value(snap_config, env, env_params)
                if cfg.uses_value
                else None,
            )
        )

    # The reference: rtg − V (unbiased, the lowest variance of the unbiased ones
    # here) on independent episodes.
    ref_keys = jax.random.split(jax.random.key(1), p["cp_ref_batches"])
    ref_rows, ref_means = pooled(make(dict(baseline="value")), ref_keys, params)
    reference = ref_rows.mean(0)
    ref_se2 = ref_means.var(0, ddof=1) / len(ref_means)
    keys = jax.random.split(jax.random.key(2), p["cp_batches"])
    out = {
        "snapshot_return": snap_return,
        "snapshot_updates": p["cp_snapshot_updates"],
        "reference_trajectories": len(ref_rows),
        "reference_relative_se": float(
            math.sqrt(ref_se2.sum()) / np.linalg.norm(reference)
        ),
        "num_parameters": int(ref_rows.shape[1]),
        "rows": [],
    }
    for label, fields, family in variants(0.99, p):
        rows, bmeans = pooled(make(fields), keys, params)
        row = summarize(rows, bmeans, reference, ref_se2)
        row.update(label=label, family=family)
        out["rows"].append(row)
        print(
            f"  cartpole {label:36s} var {row['variance']:10.1f} b/n {row['bias_over_noise']:.2f}"
        )
    return out


# --- B. learning curves -------------------------------------------------------------


def learning_part(p: dict) -> dict:
    out = {"rows": []}
    keys = jax.random.split(jax.random.key(10), p["learn_seeds"])
    for label, fields, family in variants(0.99, p):
        if fields.get("normalize_weights"):
            continue
        fields = {"gamma": 1.0, **fields}
        cfg = jaxpg.ReinforceConfig(
            env_id="CartPole-v1",
            num_envs=p["learn_envs"],
            num_updates=p["learn_updates"],
            learning_rate=1e-2,
            **fields,
        )
        t = time.perf_counter()
        result = jaxpg.jit(jax.vmap(jaxpg.make_train(cfg)), fast_compile=True)(keys)
        ret = np.asarray(result.metrics["episode_return"], np.float64)  # [S, U]
        steps = np.asarray(result.metrics["env_steps"], np.float64).cumsum(1)
        hit = [int(np.argmax(r >= 475)) + 1 if (r >= 475).any() else None for r in ret]
        out["rows"].append(
            {
                "label": label,
                "family": family,
                "mean_return": ret.mean(0).tolist(),
                "se_return": (ret.std(0, ddof=1) / math.sqrt(len(ret))).tolist()
                if len(ret) > 1
                else [0.0] * ret.shape[1],
                "mean_env_steps": steps.mean(0).tolist(),
                "final_return": float(ret[:, -10:].mean()),
                "final_se": float(
                    ret[:, -10:].mean(1).std(ddof=1) / math.sqrt(len(ret))
                )
                if len(ret) > 1
                else 0.0,
                "area_under_curve": float(ret.mean()),
                "seeds_reaching_475": sum(h is not None for h in hit),
                "updates_to_475": hit,
                "seconds": time.perf_counter() - t,
            }
        )
        print(f"  learn {label:36s} final {out['rows'][-1]['final_return']:.1f}")
    return out


# --- C. pathwise -------------------------------------------------------------------


def pendulum_policy():
    config = jaxpg.ReinforceConfig(env_id="Pendulum-v1")
    env, env_params = pathwise.differentiable_env("Pendulum-v1")
    policy = jaxpg.make_policy(config, env, env_params)
    params = policy.init(jax.random.key(0), jnp.zeros(3))
    return env, env_params, policy, params


def pathwise_horizons(p: dict) -> dict:
    env, env_params, policy, params = pendulum_policy()
    out = {"rows": []}
    for h in p["pw_horizons"]:

        @jax.jit
        def both(key, h=h):
            args = (key, policy, params, env, env_params, p["pw_episodes"], h)
            return (
                pathwise.pathwise_gradients(*args),
                pathwise.score_function_gradients(*args, baseline="mean"),
            )

        pw, sf = (rows_of(g) for g in both(jax.random.key(20 + h)))
        d = pw - sf
        z = d.mean(0) / (d.std(0, ddof=1) / math.sqrt(len(d)) + 1e-30)
        noise = math.sqrt((d.var(0, ddof=1) / len(d)).sum())
        norms = np.linalg.norm(pw, axis=1)
        row = {
            "horizon": h,
            "pathwise_variance": float(pw.var(0, ddof=1).sum()),
            "score_variance": float(sf.var(0, ddof=1).sum()),
            "pathwise_mean_norm": float(np.linalg.norm(pw.mean(0))),
            "score_mean_norm": float(np.linalg.norm(sf.mean(0))),
            "difference_over_noise": float(np.linalg.norm(d.mean(0)) / noise),
            "max_abs_z": float(np.abs(z).max()),
            "cosine_of_means": float(
                pw.mean(0)
                @ sf.mean(0)
                / (np.linalg.norm(pw.mean(0)) * np.linalg.norm(sf.mean(0)))
            ),
            "pathwise_norm_median": float(np.median(norms)),
            "pathwise_norm_max": float(norms.max()),
        }
        out["rows"].append(row)
        print(
            f"  pendulum H={h:3d} var pw {row['pathwise_variance']:.3g} "
            f"sf {row['score_variance']:.3g} diff/noise {row['difference_over_noise']:.2f}"
        )
    out["episodes"] = p["pw_episodes"]
    out["num_parameters"] = int(pw.shape[1])
    return out


def pathwise_learning(p: dict) -> dict:
    """Pendulum-v1 learning curves, BPTT against REINFORCE, from the same keys."""
    keys = jax.random.split(jax.random.key(30), p["pw_learn_seeds"])
    pw, pw_seconds = pendulum_pathwise_returns(p, keys)
    sf, sf_seconds = pendulum_score_returns(p, keys)
    out = {
        "episodes_per_update": p["pw_learn_envs"],
        "updates": p["pw_learn_updates"],
        "seeds": len(keys),
    }
    for name, x, secs in (("pathwise", pw, pw_seconds), ("score", sf, sf_seconds)):
        out[name] = learning_summary(x, secs)
    print(
        f"  pendulum learning: pathwise {out['pathwise']['final_return']:.0f}, "
        f"score {out['score']['final_return']:.0f}"
    )
    return out


def pendulum_pathwise_returns(p: dict, keys) -> tuple[np.ndarray, float]:
    """BPTT through full 200-step episodes, one vmapped call over ``keys``:
    returns ``[seeds, updates]`` and the wall time (compile included)."""
    env, env_params, policy, _ = pendulum_policy()
    n, u = p["pw_learn_envs"], p["pw_learn_updates"]
    horizon = 200
    optimizer = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(3e-3))

    def train(key):
        key_init, key = jax.random.split(key)
        params = policy.init(key_init, jnp.zeros(3))

        def update(carry, k):
            params, opt_state = carry
            grads = pathwise.pathwise_gradients(
                k, policy, params, env, env_params, n, horizon
            )
            traj = pathwise.differentiable_rollout(
                k, policy, params, env, env_params, n, horizon
            )
            g = jax.tree.map(lambda x: -x.mean(0), grads)  # descent on −J
            updates, opt_state = optimizer.update(g, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), traj.reward.sum(
                0
            ).mean()

        _, returns = jax.lax.scan(
            update, (params, optimizer.init(params)), jax.random.split(key, u)
        )
        return returns

    t = time.perf_counter()
    pw = np.asarray(jaxpg.jit(jax.vmap(train), fast_compile=True)(keys), np.float64)
    return pw, time.perf_counter() - t


def pendulum_score_returns(p: dict, keys) -> tuple[np.ndarray, float]:
    """``jaxpg.make_train`` REINFORCE with the same sizes, vmapped over ``keys``:
    returns ``[seeds, updates]`` and the wall time (compile included)."""
    cfg = jaxpg.ReinforceConfig(
        env_id="Pendulum-v1",
        num_envs=p["pw_learn_envs"],
        num_updates=p["pw_learn_updates"],
        gamma=0.99,
        learning_rate=3e-3,
        max_grad_norm=1.0,
    )
    t = time.perf_counter()
    result = jaxpg.jit(jax.vmap(jaxpg.make_train(cfg)), fast_compile=True)(keys)
    sf = np.asarray(result.metrics["episode_return"], np.float64)
    return sf, time.perf_counter() - t


def learning_summary(x: np.ndarray, seconds: float) -> dict:
    """Mean and SE over seeds of returns ``x`` ``[seeds, updates]``, and endpoints."""
    se = x.std(0, ddof=1) / math.sqrt(len(x)) if len(x) > 1 else 0 * x[0]
    return {
        "mean_return": x.mean(0).tolist(),
        "se_return": se.tolist(),
        "final_return": float(x[:, -10:].mean()),
        "first_return": float(x[:, :5].mean()),
        "seconds": seconds,
    }


class _NoGoalBonus:
    """Built lazily: MountainCarContinuous without the +100 (episodes still end)."""

    @staticmethod
    def make():
        from gymnax.environments.classic_control import continuous_mountain_car as mcc

        class NoGoalBonus(mcc.ContinuousMountainCar):
            def step_env(self, key, state, action, params):
                obs, state, r, done, info = super().step_env(key, state, action, params)
                return obs, state, r - 100.0 * done, done, info

        return mcc.ContinuousMountainCar(), NoGoalBonus()


def pump_policy():
    """Linear Gaussian, mean = 15·velocity: pumps energy, reaches the goal often."""
    return pathwise.linear_gaussian_policy([0.0, 15.0], log_std=-0.5)


def mountain_car_part(p: dict) -> dict:
    policy = pump_policy()
    params = policy.init(None, None)
    # Episodes cut at 300 steps: the goal is reached in some, not all, so the
    # bonus decides part of the return's spread.
    n, horizon = p["mcc_episodes"], 300
    res = {}
    for name, raw in zip(
        ("with bonus", "without bonus"), _NoGoalBonus.make(), strict=True
    ):
        env, env_params = pathwise.differentiable_env(raw)

        @jax.jit
        def estimates(key, env=env, env_params=env_params):
            args = (key, policy, params, env, env_params, n, horizon)
            traj = pathwise.differentiable_rollout(*args)
            return (
                pathwise.pathwise_gradients(*args),
                pathwise.score_function_gradients(*args, baseline="mean"),
                traj.terminated.any(0).mean(),
                traj.reward.sum(0).mean(),
            )

        pw, sf, reached, ret = estimates(jax.random.key(40))
        res[name] = (rows_of(pw), rows_of(sf), float(reached), float(ret))
    pw_a, sf_a, reached, ret_a = res["with bonus"]
    pw_b, sf_b, _, ret_b = res["without bonus"]
    d = sf_a - sf_b
    names = ["b", "log_std", "w_position", "w_velocity"]  # ravel order: sorted keys
    return {
        "episodes": n,
        "horizon": horizon,
        "reached_goal": reached,
        "mean_return_with_bonus": ret_a,
        "mean_return_without_bonus": ret_b,
        "parameters": names,
        "pathwise_with": pw_a.mean(0).tolist(),
        "pathwise_without": pw_b.mean(0).tolist(),
        "pathwise_max_abs_difference": float(np.abs(pw_a - pw_b).max()),
        "score_with": sf_a.mean(0).tolist(),
        "score_with_se": (sf_a.std(0, ddof=1) / math.sqrt(n)).tolist(),
        "score_without": sf_b.mean(0).tolist(),
        "score_without_se": (sf_b.std(0, ddof=1) / math.sqrt(n)).tolist(),
        "score_difference_z": (d.mean(0) / (d.std(0, ddof=1) / math.sqrt(n))).tolist(),
    }


PARTS = {
    "tabular": tabular_part,
    "cartpole": cartpole_part,
    "learning": learning_part,
    "pendulum_horizon": pathwise_horizons,
    "pendulum_learning": pathwise_learning,
    "mountain_car": mountain_car_part,
}


# --- report ------------------------------------------------------------------------


def fmt(x: float, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, float) and math.isinf(x):
        return "∞ (never)"
    if abs(x) >= 1e4 or (0 < abs(x) < 1e-3):
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}"


def plots(data: dict, img_dir: pathlib.Path) -> list[str]:
    """The PNGs of the parts present in ``data``; returns their file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    img_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, draw in (
        ("estimators-bias-variance.png", plot_bias_variance),
        ("estimators-learning.png", plot_learning),
        ("estimators-pathwise.png", plot_pathwise),
    ):
        fig = draw(data)
        if fig is None:
            continue  # its parts are not in ``data``
        fig.tight_layout()
        fig.savefig(img_dir / name, dpi=110)
        plt.close(fig)
        written.append(name)
    return written


def plot_bias_variance(data: dict):
    """Bias against variance of every Ψ, tabular and CartPole panels (or None)."""
    import matplotlib.pyplot as plt

    panels = [
        (data.get("tabular"), "tabular MDP (exact ∇J)"),
        (data.get("cartpole"), "CartPole-v1 snapshot (reference ∇J)"),
    ]
    panels = [(part, title) for part, title in panels if part]
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.5))
    for ax, (part, title) in zip(np.atleast_1d(axes), panels, strict=True):
        for r in part["rows"]:
            if "÷" in r["label"] or r["label"] == "GAE(λ=1)":
                continue  # ÷ std: another scale; GAE(1) is rtg − V exactly
            marker = "o" if r["family"] == "unbiased" else "x"
            y = r["bias_over_noise"]
            ax.scatter(r["variance"], y, marker=marker)
            ax.annotate(r["label"], (r["variance"], y), fontsize=7)
        ax.axhline(1.0, color="grey", lw=0.8, ls=":")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("variance of one trajectory's term (trace of covariance)")
        ax.set_ylabel("‖E ĝ − ∇J‖ / sampling noise  (≈ 1: unbiased)")
        ax.set_title(title + "; o unbiased, x biased", fontsize=10)
    return fig


def plot_learning(data: dict):
    """The CartPole-v1 learning curves of part B (or None)."""
    import matplotlib.pyplot as plt

    if not data.get("learning"):
        return None
    fig, ax = plt.subplots(figsize=(8, 5))
    for r in data["learning"]["rows"]:
        x = np.asarray(r["mean_env_steps"])
        y, se = np.asarray(r["mean_return"]), np.asarray(r["se_return"])
        style = "-" if r["family"] == "unbiased" else "--"
        ax.plot(x, y, style, label=r["label"])
        ax.fill_between(x, y - se, y + se, alpha=0.12)
    ax.set_xlabel("environment steps (mean over seeds)")
    ax.set_ylabel("episode return (mean ± SE over seeds)")
    ax.set_title(f"CartPole-v1, REINFORCE, {data['config']['learn_seeds']} seeds")
    ax.legend(fontsize=7)
    return fig


def plot_pathwise(data: dict):
    """Pendulum-v1: variance against horizon and, if measured, learning (or None)."""
    import matplotlib.pyplot as plt

    if not data.get("pendulum_horizon"):
        return None
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    rows = data["pendulum_horizon"]["rows"]
    h = [r["horizon"] for r in rows]
    axes[0].plot(h, [r["pathwise_variance"] for r in rows], "o-", label="pathwise")
    axes[0].plot(h, [r["score_variance"] for r in rows], "s-", label="score function")
    axes[0].set_xscale("log")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("horizon H")
    axes[0].set_ylabel("variance of one episode's gradient")
    axes[0].set_title("Pendulum-v1: variance against horizon")
    axes[0].legend()
    pl = data.get("pendulum_learning")
    if pl:
        for name in ("pathwise", "score"):
            y = np.asarray(pl[name]["mean_return"])
            se = np.asarray(pl[name]["se_return"])
            x = np.arange(1, len(y) + 1)
            axes[1].plot(x, y, label=name)
            axes[1].fill_between(x, y - se, y + se, alpha=0.2)
        axes[1].set_xlabel("update")
        axes[1].set_ylabel("return of a 200-step episode")
        axes[1].set_title(f"Pendulum-v1 learning, {pl['seeds']} seeds")
        axes[1].legend()
    return fig


def table_a(part: dict) -> list[str]:
    lines = [
        "| Ψ | family | ‖bias‖ / ‖∇J‖ | ‖bias‖ / noise | max \\|z\\| | variance | "
        "SNR | cos(E ĝ, ∇J) | n for cos 0.9 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in part["rows"]:
        n = r["samples_for_cosine"]
        n_txt = fmt(n) if math.isinf(n) else f"{n:,.0f}"
        if "measured_cosine_at_n" in r:
            n_txt += f" ({r['measured_cosine_at_n']:.3f})"
        lines.append(
            f"| {r['label']} | {r['family']} | {fmt(r['relative_bias'])} | "
            f"{r['bias_over_noise']:.2f} | {r['max_abs_z']:.1f} | "
            f"{fmt(r['variance'])} | {fmt(r['snr'])} | {r['cosine']:.4f} | {n_txt} |"
        )
    return lines


def _row(part: dict, label_start: str) -> dict:
    """The row whose label starts so; NaNs when the run left it out (--quick)."""
    missing = dict.fromkeys(
        (
            "variance",
            "samples_for_cosine",
            "relative_bias",
            "bias_over_noise",
            "max_abs_z",
            "cosine",
        ),
        float("nan"),
    )
    return next(
        (r for r in part["rows"] if r["label"].startswith(label_start)), missing
    )


def section_header(data: dict, command: str) -> list[str]:
    """The title, what the page measures and the command that wrote it."""
    return [
        "# Estimator lab: what each policy-gradient estimator costs",
        "",
        "[docs/score_function.md](score_function.md) derives the score-function "
        "estimator and proves which weights Ψ keep its expectation at ∇J. This page "
        "*measures* them: bias against an exact or high-sample gradient, variance, "
        "signal-to-noise ratio and the batch size each needs; then how that variance "
        "turns into sample efficiency when learning; then the pathwise "
        "(reparameterised, backpropagation-through-time) gradient beside the "
        "score-function one. Every number below was written by",
        "",
        "```",
        command,
        "```",
        "",
        f"on {data['date']} (jax {data['jax']}, backend {data['backend']}, Python "
        f"{data['python']}; {data['total_seconds']:.0f} s on the shared 2-core CPU). "
        "The raw numbers are in [data/estimators.json](data/estimators.json).",
        "",
    ]


def section_method(data: dict) -> list[str]:
    """## How it is measured: the per-trajectory terms and every column."""
    return [
        "## How it is measured",
        "",
        "A batch estimate is ĝ = (1/N) Σ_i g_i with one term per trajectory, "
        "g_i = Σ_t Ψ_{i,t} ∇log π(a_{i,t}|s_{i,t}). "
        "[`jaxpg.diagnostics`](../jaxpg/diagnostics.py) computes every g_i with "
        "`jax.vmap(jax.grad(...))` of the training loss itself, so their mean is "
        "exactly `jaxpg.estimate_gradient`'s batch estimate "
        "([tests/test_diagnostics.py](../tests/test_diagnostics.py) checks it for "
        "every Ψ to rtol 1e-6). Ψ is computed for the whole batch first; with the "
        "leave-one-out baseline (or ÷ batch std) Ψ_i depends on the other episodes, "
        "so those g_i are exchangeable but not independent — their mean is still the "
        "batch estimate.",
        "",
        "- **Common random numbers.** At a fixed policy every Ψ weighs the *same* "
        "episodes (same keys), so differences between rows are differences between "
        "estimators, not between samples.",
        "- **‖bias‖ / ‖∇J‖**: the pooled mean's distance from the exact gradient "
        "(tabular) or from a reference (CartPole), relative to its length. "
        "**‖bias‖ / noise** divides by √(Σ SE²), the distance expected from sampling "
        "noise alone (SE from the spread of batch means, plus the reference's own "
        "SE): about 1 for an unbiased estimator, ≫ 1 for a biased one. "
        "**max |z|**: the largest per-parameter |bias| / SE.",
        "- **variance**: the trace of the covariance of one trajectory's term g_i "
        "(a batch of N has about variance / N). **SNR** = ‖∇J‖² / variance.",
        f"- **n for cos {data['cosine_target']}**: the batch size at which a batch "
        "estimate's cosine with ∇J reaches the target, from "
        "`jaxpg.diagnostics.samples_for_cosine`: n = v / ((m·r̂)²/c² − ‖m‖²) for an "
        "estimator of mean m and variance v; for an unbiased one n = "
        f"(c²/(1−c²))/SNR ({COSINE**2 / (1 - COSINE**2):.2f}/SNR). ∞ when the "
        "estimator's expectation itself is further than the target from ∇J. In "
        "parentheses (tabular): the mean cosine actually measured for averages of "
        "that many terms.",
        "",
    ]


def section_tabular(tab: dict, cfg: dict) -> list[str]:
    """## A1: the tabular MDP against its exact gradient."""
    r = {k: _row(tab, k) for k in ("total", "reward", "rtg − leave", "rtg − learned")}
    loo, ret, rtg, val = (
        r["rtg − leave"],
        r["total"],
        r["reward"],
        r["rtg − learned"],
    )
    gae0 = _row(tab, "GAE(λ=0)")
    surr = _row(tab, "rtg − mean, γ")
    norm = _row(tab, "rtg − mean, ÷")
    n_traj = tab["rows"][0]["num_trajectories"]
    return [
        "## A1. Tabular MDP: exact ∇J",
        "",
        "The MDP of [jaxpg/tabular.py](../jaxpg/tabular.py) (3 states, 2 actions, "
        "4 steps, γ = 1) with the softmax table the tests use; ∇J by backward "
        f"induction in float64. {n_traj:,} episodes in batches of "
        f"N = {cfg['tab_batch']}. The critic V is a table fitted to the "
        "reward-to-go of 20,000 other episodes (per-state mean: least squares); "
        "the MDP is finite-horizon, so a state-only V cannot be exact and GAE(λ<1) "
        "inherits its error.",
        "",
        *table_a(tab),
        "",
        f"- The unbiased family shares the expectation (‖bias‖/noise "
        f"{min(x['bias_over_noise'] for x in (ret, rtg, loo, val)):.2f}–"
        f"{max(x['bias_over_noise'] for x in (ret, rtg, loo, val)):.2f}, max |z| ≤ "
        f"{max(x['max_abs_z'] for x in (ret, rtg, loo, val)):.1f}; the gradient "
        "table has 3 independent entries, since the two actions' logits of a state "
        "get opposite gradients, so this ratio has about 3 degrees of freedom) "
        f"and differs in variance: total return {ret['variance']:.1f}, "
        f"reward-to-go {rtg['variance']:.1f} "
        f"({ret['variance'] / rtg['variance']:.1f}× less), leave-one-out "
        f"{loo['variance']:.2f}, learned V {val['variance']:.2f}. The sample "
        f"cost follows 1/SNR: {ret['samples_for_cosine']:.0f} → "
        f"{rtg['samples_for_cosine']:.0f} → {loo['samples_for_cosine']:.0f} "
        "episodes for cos 0.9. The measured cosines in parentheses are 0.92–0.94: "
        "in so few dimensions the formula's concentration assumption is rough "
        "and a little pessimistic.",
        f"- GAE(λ=0) with this critic has {gae0['variance']:.2f} variance but a "
        f"bias of {gae0['relative_bias']:.1%} of ‖∇J‖ (‖bias‖/noise "
        f"{gae0['bias_over_noise']:.1f}); λ → 1 walks back to the value baseline "
        "(GAE(λ=1) reproduces the `rtg − learned V` row exactly); for λ ≥ 0.9 the "
        "bias is below what these episodes resolve. On this 4-step MDP the "
        f"variance GAE saves is small ({gae0['variance']:.1f} against "
        f"{val['variance']:.1f}).",
        f"- γ = 0.9 without γ^t (the surrogate of score_function.md §6) is biased "
        f"against ∇J (‖bias‖/‖∇J‖ = {surr['relative_bias']:.3f}). Dividing by the "
        f"batch std changes the scale (so its variance and bias are not "
        f"comparable) and the direction: cos {norm['cosine']:.4f}, "
        f"‖bias‖/noise {norm['bias_over_noise']:.1f} (score_function.md §3).",
        "",
    ]


def section_cartpole(cp: dict, cfg: dict) -> list[str]:
    """## A2: the CartPole-v1 snapshot against its high-sample reference."""
    loo, ret, rtg, val = (
        _row(cp, k) for k in ("rtg − leave", "total", "reward", "rtg − learned")
    )
    gae = {lam: _row(cp, f"GAE(λ={lam})") for lam in ("0", "0.5", "0.9", "0.97")}
    surr = _row(cp, "rtg − mean, γ")
    return [
        "## A2. CartPole-v1 at a frozen snapshot: high-sample reference",
        "",
        f"REINFORCE (γ = 1, value baseline, 32 episodes per update) trained for "
        f"{cp['snapshot_updates']} updates from `jax.random.key(0)`, then frozen "
        f"(mean return at the snapshot {cp['snapshot_return']:.0f}); its critic "
        f"was refitted to the frozen policy's reward-to-go on "
        f"{cfg['cp_critic_episodes']:,} separate episodes. Reference ∇J: "
        f"`rtg − learned V` on {cp['reference_trajectories']:,} independent "
        f"episodes (its relative standard error √(Σ SE²)/‖ref‖ = "
        f"{cp['reference_relative_se']:.3f}). Each row: "
        f"{cp['rows'][0]['num_trajectories']:,} episodes in batches of "
        f"N = {cfg['cp_batch']}; {cp['num_parameters']:,} policy parameters.",
        "",
        *table_a(cp),
        "",
        "- ‖bias‖/noise of the unbiased rows fluctuates more than on the tabular "
        "MDP (the noise lives in a few directions of the 1,282, so the statistic "
        "has few effective degrees of freedom); the biased rows sit far above it.",
        f"- Variance: total return {fmt(ret['variance'])}, reward-to-go "
        f"{fmt(rtg['variance'])}, leave-one-out {fmt(loo['variance'])}, learned V "
        f"{fmt(val['variance'])}; episodes needed for cos 0.9: "
        f"{ret['samples_for_cosine']:.0f}, {rtg['samples_for_cosine']:.0f}, "
        f"{loo['samples_for_cosine']:.0f}, {val['samples_for_cosine']:.0f}.",
        "- GAE(λ < 1) buys one to two orders of magnitude of variance with a "
        "large bias, because the critic (refitted, yet far from the true values "
        f"of a policy whose episodes last ≈ {cp['snapshot_return']:.0f} steps) "
        "now decides the direction: "
        + "; ".join(
            f"λ={k}: variance {fmt(v['variance'])}, ‖bias‖/‖∇J‖ "
            f"{v['relative_bias']:.2f}, cos {v['cosine']:.3f}"
            for k, v in gae.items()
        )
        + ". A few episodes reach the direction of its own expectation, but "
        "that direction is off: where its cosine with ∇J is below 0.9, no "
        "batch size reaches the target (n = ∞).",
        f"- γ = 0.99 without γ^t (jaxpg's default surrogate): variance "
        f"{fmt(surr['variance'])}, cos {surr['cosine']:.3f}, "
        f"‖bias‖/‖∇J‖ {surr['relative_bias']:.2f}: a different objective's "
        "gradient (J_0.99 has a shorter effective horizon), "
        f"{loo['variance'] / surr['variance']:.1f}× less variance than the same "
        "estimator with γ = 1.",
        "",
    ]


def section_learning(learn: dict, cfg: dict) -> list[str]:
    """## B: the CartPole-v1 learning curves of the same Ψ."""
    out = [
        "## B. Variance becomes sample efficiency: CartPole-v1 learning curves",
        "",
        f"The same Ψ (except ÷ batch std), REINFORCE with Adam (lr 0.01), "
        f"{cfg['learn_envs']} episodes per update, {cfg['learn_updates']} "
        f"updates, γ = 1 unless stated, {cfg['learn_seeds']} seeds vmapped in one "
        "compiled call per row (`jax.vmap(jaxpg.make_train(config))`). The "
        "critic rows (learned V, GAE) train their critic alongside.",
        "",
        "| Ψ | family | return, last 10 updates (± SE over seeds) | mean return "
        "over all updates | seeds reaching 475 | median updates to 475 |",
        "|---|---|---|---|---|---|",
    ]
    for r in learn["rows"]:
        hits = [h for h in r["updates_to_475"] if h is not None]
        med = f"{np.median(hits):.0f}" if hits else "–"
        out.append(
            f"| {r['label']} | {r['family']} | {r['final_return']:.1f} ± "
            f"{r['final_se']:.1f} | {r['area_under_curve']:.1f} | "
            f"{r['seeds_reaching_475']}/{len(r['updates_to_475'])} | {med} |"
        )
    lr = {r["label"]: r for r in learn["rows"]}

    def final(label):
        r = lr.get(label)
        return f"{r['final_return']:.0f}" if r else "–"

    out += [
        "",
        "Among the unbiased estimators the order of the variance table is the "
        "order of learning speed: total return "
        f"{final('total return')}, reward-to-go {final('reward-to-go')}, "
        f"leave-one-out {final('rtg − leave-one-out mean')} over the last 10 "
        "updates (and the mean over all updates, the area under the curve, in the "
        "same order). The learned-V rows learn a critic from scratch beside the "
        "policy, so early on their baseline is poor. GAE with small λ fails "
        f"outright (λ=0: {final('GAE(λ=0)')}, λ=0.5: {final('GAE(λ=0.5)')}): with "
        "a critic trained from scratch alongside the policy, its advantages are "
        "mostly the critic's error — the bias of section A2, at its worst; "
        "larger λ leans on the critic less and learns. The γ = 0.99 surrogate "
        f"({final('rtg − mean, γ=0.99 without γ^t')}) learns as fast as the "
        "best unbiased estimator: here its lower variance outweighs its bias.",
        "",
        "![learning curves](img/estimators-learning.png)",
        "",
    ]
    return out


def section_pathwise_horizons(ph: dict) -> list[str]:
    """## C: pathwise against score function on Pendulum-v1, by horizon."""
    rows = ph["rows"]
    out = [
        "## C. Pathwise (BPTT) against score-function gradients",
        "",
        "gymnax 1.0.1 detaches every transition's outputs with `stop_gradient` "
        "unless the environment is built with `env.with_transition_gradients()` "
        "(supported there by Pendulum-v1, MountainCarContinuous-v0, "
        "PointRobot-misc, Reacher-misc and Swimmer-misc). "
        "[`jaxpg.pathwise`](../jaxpg/pathwise.py) builds such an environment "
        "(`differentiable_env`), samples Gaussian actions as μ + σ·ε and "
        "differentiates the return of an episode cut at H steps through the "
        "dynamics (`pathwise_gradients`); `score_function_gradients` weighs the "
        "*same* episodes with γ^t(G_t − leave-one-out mean) — the same objective "
        "J_H = E[Σ_{t<H} r_t], the same policy (jaxpg's Gaussian MLP at "
        f"initialisation, {ph['num_parameters']:,} parameters), the same action "
        "clipping.",
        "",
        f"### Agreement and variance against the horizon (Pendulum-v1, "
        f"{ph['episodes']:,} episodes per H)",
        "",
        "| H | ‖mean difference‖ / noise | max \\|z\\| (paired) | cos(pathwise "
        "mean, score mean) | variance, pathwise | variance, score function | "
        "score / pathwise variance | ‖pathwise mean‖ | median / max ‖g_i‖, "
        "pathwise |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['horizon']} | {r['difference_over_noise']:.2f} | "
            f"{r['max_abs_z']:.1f} | {r['cosine_of_means']:.3f} | "
            f"{fmt(r['pathwise_variance'])} | {fmt(r['score_variance'])} | "
            f"{fmt(r['score_variance'] / r['pathwise_variance'])} | "
            f"{fmt(r['pathwise_mean_norm'])} | {fmt(r['pathwise_norm_median'])} / "
            f"{fmt(r['pathwise_norm_max'])} |"
        )
    by_h = {r["horizon"]: r for r in rows}
    cross = next(
        (r["horizon"] for r in rows if r["pathwise_variance"] > r["score_variance"]),
        None,
    )
    longest = rows[-1]
    out += [
        "",
        "The paired test compares the two estimates on the same episodes: "
        "‖mean difference‖/noise ≈ 1 means they agree within standard errors, "
        "which they do at every H. "
        "[tests/test_pathwise.py](../tests/test_pathwise.py) makes it a test at "
        "H = 5 with 200,000 episodes and a linear policy, and its negative "
        "control — the pathwise gradient through gymnax's default, detached "
        "transitions, which keeps only ∂r_t/∂a_t — must fail it "
        "(`pytest -s tests/test_pathwise.py` prints max |z| ≈ 2 for the "
        "estimator, ≈ 28 for the control).",
        "",
        "- **Short horizons: pathwise wins by orders of magnitude.** At H = 1 "
        "only the action cost 0.001·u² depends on θ, a gradient the pathwise "
        "estimator gets almost exactly while the score-function estimate is "
        "noise (hence the meaningless cosine between the two means).",
        "- **Long horizons: its variance explodes.** The score-function "
        "variance grows with H like the spread of the return; the pathwise one "
        "with the products of Jacobians ∂s_{t+1}/∂s_t through the swinging "
        "pendulum (Parmas et al. 2018: the curse of chaos). "
        + (
            f"They cross between H = {rows[rows.index(by_h[cross]) - 1]['horizon']}"
            f" and {cross}; "
            if cross is not None and rows.index(by_h[cross]) > 0
            else ""
        )
        + f"at H = {longest['horizon']} the pathwise variance is "
        f"{fmt(longest['pathwise_variance'] / longest['score_variance'])}× the "
        "score function's, and the largest per-episode gradient norm is "
        f"{fmt(longest['pathwise_norm_max'])} against a median of "
        f"{fmt(longest['pathwise_norm_median'])}: a few episodes decide the "
        "average, so its mean points wherever they do (the cosine between the "
        "two means at the longest horizon). The paired test cannot tell it from "
        "the score-function mean only because its noise is that large: an "
        "estimate decided by a handful of episodes is of no use.",
        "",
    ]
    return out


def section_pathwise_learning(pl: dict) -> list[str]:
    """### Learning on Pendulum-v1 with either estimator."""
    pw, sf = pl["pathwise"], pl["score"]
    return [
        "### Learning on Pendulum-v1",
        "",
        f"{pl['seeds']} seeds, {pl['updates']} updates of {pl['episodes_per_update']} "
        "full 200-step episodes, the same Gaussian MLP, Adam (lr 3e-3) after "
        "global-norm clipping at 1. Pathwise: BPTT through all 200 steps, γ = 1. "
        "Score function: `jaxpg.make_train` REINFORCE (rtg − leave-one-out mean, "
        "γ = 0.99).",
        "",
        "| estimator | return, first 5 updates | return, last 10 updates | wall "
        "time (s, incl. compile) |",
        "|---|---|---|---|",
        f"| pathwise | {pw['first_return']:.0f} | {pw['final_return']:.0f} | "
        f"{pw['seconds']:.0f} |",
        f"| score function | {sf['first_return']:.0f} | {sf['final_return']:.0f} "
        f"| {sf['seconds']:.0f} |",
        "",
        "Through all 200 steps the pathwise gradient is the exploding one of the "
        "table above; clipped to norm 1 it follows whichever episodes exploded, "
        "and the policy "
        f"does not improve ({pw['first_return']:.0f} → {pw['final_return']:.0f}), "
        "while REINFORCE does "
        f"({sf['first_return']:.0f} → {sf['final_return']:.0f}). Pathwise "
        "methods that work on such problems cut the horizon, add a value "
        "function at the cut, or smooth the dynamics; none of that is measured "
        "here.",
        "",
    ]


def section_mountain_car(mc: dict) -> list[str]:
    """### MountainCarContinuous-v0's goal bonus, seen by either estimator."""
    names = mc["parameters"]
    out = [
        "### MountainCarContinuous-v0: a reward the pathwise gradient cannot see",
        "",
        "The +100 for reaching the goal is `100 · (position ≥ 0.45) · (velocity ≥ "
        "0)`: a step function of the state, with zero derivative wherever it is "
        "differentiable. A linear Gaussian policy that pumps energy (mean = "
        f"15·velocity, σ = e^−0.5) reaches the goal in {mc['reached_goal']:.0%} of "
        f"{mc['episodes']} episodes cut at {mc['horizon']} steps (mean return "
        f"{mc['mean_return_with_bonus']:.1f}; {mc['mean_return_without_bonus']:.1f} "
        "without the bonus). The same episodes, with and without the bonus:",
        "",
        "| parameter | pathwise, with bonus | pathwise, without | score function, "
        "with bonus (± SE) | score function, without (± SE) |",
        "|---|---|---|---|---|",
    ]
    for i, name in enumerate(names):
        out.append(
            f"| {name} | {mc['pathwise_with'][i]:.4g} | "
            f"{mc['pathwise_without'][i]:.4g} | {mc['score_with'][i]:.3g} ± "
            f"{mc['score_with_se'][i]:.2g} | {mc['score_without'][i]:.3g} ± "
            f"{mc['score_without_se'][i]:.2g} |"
        )
    out += [
        "",
        f"The pathwise gradients are identical to the bit (largest difference "
        f"{mc['pathwise_max_abs_difference']:g}): the bonus, the whole point of "
        "the task, contributes nothing, and what is left (the action cost) says "
        "to pump less. The score-function gradient sees it: the velocity gain's "
        f"component moves from {mc['score_without'][3]:.3g} to "
        f"{mc['score_with'][3]:.3g} (paired z = {mc['score_difference_z'][3]:.1f}): "
        "pump harder. The pathwise estimator is biased for any objective whose "
        "reward or termination jumps (Mohamed et al. 2020 discuss the "
        "discontinuous case).",
        "",
    ]
    return out


def section_advice() -> list[str]:
    """## Which estimator when."""
    return [
        "## Which estimator when",
        "",
        "- **Shared expectation** (score_function.md §5): total return, "
        "reward-to-go, reward-to-go minus a leave-one-out mean or a value baseline "
        "from before the batch, GAE(λ = 1), and γ^t-weighted reward-to-go for J_γ. "
        "They differ only in variance, i.e. in how many episodes a given accuracy "
        "costs (∝ 1/SNR); reward-to-go and a baseline are free improvements.",
        "- **Shortcuts** buy variance with bias: GAE(λ < 1) is only as right as its "
        "critic; γ < 1 without γ^t optimises a surrogate; ÷ batch std changes the "
        "direction a little. When the critic is good and the bias small, the lower "
        "variance wins in learning speed; when it is not, no batch size fixes it.",
        "- **Pathwise** gradients need a differentiable model and a smooth reward. "
        "At short horizons they are far less noisy than any score-function "
        "estimator; over long horizons through unstable dynamics their variance "
        "grows with the horizon, and rewards that jump are invisible to them.",
        "",
    ]


def section_usage() -> list[str]:
    """## Using the diagnostics: a usage example."""
    return [
        "## Using the diagnostics",
        "",
        "```python",
        "import jax, jaxpg",
        "",
        'config = jaxpg.ReinforceConfig(env_id="CartPole-v1", num_envs=64, gamma=1.0)',
        "params = jaxpg.make_trainer(config).init(jax.random.key(0)).params",
        "diagnose = jax.jit(jaxpg.diagnostics.make_gradient_diagnostics(config))",
        "d = diagnose(jax.random.key(1), params)  # Diagnosis(stats, grads, trajectory, psi)",
        "d.stats.variance, d.stats.snr  # trace of covariance of one g_i; ‖mean‖²/variance",
        "# while training: ReinforceConfig(gradient_diagnostics=True) adds the metrics",
        "# gradient_variance and gradient_snr (off by default: the compiled update is unchanged)",
        "```",
        "",
        "`jaxpg.pathwise.pathwise_gradients` / `score_function_gradients` return "
        "per-episode gradients for `jaxpg.diagnostics.gradient_statistics`.",
        "",
    ]


def section_references() -> list[str]:
    """## References."""
    return [
        "## References",
        "",
        "- Williams, R. J. (1992). Simple statistical gradient-following algorithms "
        "for connectionist reinforcement learning. *Machine Learning* 8.",
        "- Greensmith, E., Bartlett, P. L., Baxter, J. (2004). Variance reduction "
        "techniques for gradient estimates in reinforcement learning. *JMLR* 5.",
        "- Thomas, P. S. (2014). Bias in natural actor-critic algorithms. *ICML*.",
        "- Schulman, J., Moritz, P., Levine, S., Jordan, M., Abbeel, P. (2016). "
        "High-dimensional continuous control using generalized advantage estimation. "
        "*ICLR*.",
        "- Kool, W., van Hoof, H., Welling, M. (2019). Buy 4 REINFORCE samples, get a "
        "baseline for free! *ICLR workshop DeepRLStructPred*.",
        "- Parmas, P., Rasmussen, C. E., Peters, J., Doya, K. (2018). PIPPS: flexible "
        "model-based policy search robust to the curse of chaos. *ICML*.",
        "- Mohamed, S., Rosca, M., Figurnov, M., Mnih, A. (2020). Monte Carlo gradient "
        "estimation in machine learning. *JMLR* 21.",
        "",
    ]


def render(data: dict, command: str) -> str:
    """docs/estimators.md from the measured ``data`` (sections for parts present)."""
    cfg = data["config"]
    tab, cp, learn = data.get("tabular"), data.get("cartpole"), data.get("learning")
    ph, pl = data.get("pendulum_horizon"), data.get("pendulum_learning")
    mc = data.get("mountain_car")
    out = section_header(data, command) + section_method(data)
    if tab:
        out += section_tabular(tab, cfg)
    if cp:
        out += section_cartpole(cp, cfg)
    if tab or cp:
        out += ["![bias against variance](img/estimators-bias-variance.png)", ""]
    if learn:
        out += section_learning(learn, cfg)
    if ph:
        out += section_pathwise_horizons(ph)
    if pl:
        out += section_pathwise_learning(pl)
    if ph or pl:
        out += ["![pathwise against score function](img/estimators-pathwise.png)", ""]
    if mc:
        out += section_mountain_car(mc)
    out += section_advice() + section_usage() + section_references()
    return "\n".join(out)


def write_markdown(data: dict, path: pathlib.Path, command: str) -> None:
    files.write_atomic(path, render(data, command))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a test)")
    parser.add_argument(
        "--parts",
        default=",".join(PARTS),
        help="comma-separated subset of: " + ", ".join(PARTS),
    )
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="rewrite the page and plots from the saved JSON, measuring nothing",
    )
    parser.add_argument(
        "--out-dir",
        type=pathlib.Path,
        default=ROOT,
        help="root under which docs/estimators.md, docs/data and docs/img go",
    )
    args = parser.parse_args(argv)
    p = QUICK if args.quick else FULL
    docs = args.out_dir / "docs"
    if args.render_only:
        data = json.loads((docs / "data" / "estimators.json").read_text())
        data["images"] = plots(data, docs / "img")
        command = "python scripts/estimators.py" + (" --quick" if data["quick"] else "")
        write_markdown(data, docs / "estimators.md", command)
        return 0
    t0 = time.perf_counter()
    data: dict = {
        "config": {k: list(v) if isinstance(v, tuple) else v for k, v in p.items()},
        "quick": args.quick,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M UTC"
        ),
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "python": platform.python_version(),
        "cosine_target": COSINE,
    }
    timings = {}
    parts = [x for x in args.parts.split(",") if x]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown parts {unknown}; choose from {list(PARTS)}")
    for name in parts:
        fn = PARTS[name]
        t = time.perf_counter()
        print(f"[{name}]", flush=True)
        data[name] = fn(p)
        timings[name] = round(time.perf_counter() - t, 1)
    data["seconds"] = timings
    data["total_seconds"] = round(time.perf_counter() - t0, 1)
    files.write_json(docs / "data" / "estimators.json", data, indent=1, allow_nan=True)
    data["images"] = plots(data, docs / "img")
    command = "python scripts/estimators.py" + (" --quick" if args.quick else "")
    write_markdown(data, docs / "estimators.md", command)
    print(f"done in {data['total_seconds']:.0f} s → {docs}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
