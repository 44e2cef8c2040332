"""The estimator lab: bias, variance, SNR and sample cost of REINFORCE's estimators.

``scripts/estimators.py`` writes docs/estimators.md from these measurements (parts
A here, B in :mod:`jaxpg.lab_learning`, the pathwise part C in
:mod:`jaxpg.lab_pathwise`). Each part takes the
sizes ``p`` (:data:`FULL` or :data:`QUICK`) and returns a JSON-ready dict.

* A. At a fixed policy, one pool of episodes weighted by each Ψ of :func:`variants`
  (common random numbers): :func:`tabular_part`, the tabular MDP against its exact
  gradient; :func:`cartpole_part`, CartPole-v1 at a briefly trained snapshot
  against a high-sample reference from independent episodes. The per-trajectory
  terms g_i come from :func:`jaxpg.diagnostics.make_gradient_diagnostics`, their
  statistics from :func:`jaxpg.gradstats.gradient_statistics` (in float64).
* B. CartPole-v1 learning curves of the same Ψ: :mod:`jaxpg.lab_learning`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxpg import critic_fit, gradstats, tabular
from jaxpg.algorithms.reinforce import ReinforceConfig
from jaxpg.compilation import jit
from jaxpg.diagnostics import make_gradient_diagnostics
from jaxpg.envs import make_env
from jaxpg.policy import make_policy, make_value
from jaxpg.train import make_train

__all__ = [
    "COSINE",
    "FULL",
    "QUICK",
    "cartpole_part",
    "cartpole_snapshot",
    "measured_cosine",
    "pooled",
    "rows_of",
    "silent",
    "summarize",
    "tabular_part",
    "variants",
]

# The target cosine of the "n for cos" column.
COSINE = 0.9

# The sizes of a full run (≈ 15 min on 2 CPU cores) and of --quick (seconds).
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

Log = Callable[[str], Any]


def silent(text: str) -> None:
    """The parts' default log: says nothing (the script passes ``print``).

    Args:
      text: the line that is not shown.
    """
    del text


def rows_of(grads: Any) -> np.ndarray:
    """Per-trajectory terms as float64 rows.

    Args:
      grads: a pytree whose leaves have a leading axis N.

    Returns:
      ``[N, P]`` float64 (:func:`jaxpg.gradstats.flat_rows`).
    """
    return np.asarray(gradstats.flat_rows(grads), np.float64)


def variants(gamma_surrogate: float, p: dict) -> list[tuple[str, dict, str]]:
    """(label, ReinforceConfig fields, family) of every Ψ the lab compares.

    Args:
      gamma_surrogate: the γ of the "γ < 1 without γ^t" row.
      p: the sizes; ``p["variants"]``, when present, keeps only those labels.

    Returns:
      one ``(label, fields, family)`` per Ψ, in the page's order.
    """
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
    """Per-trajectory rows ``[M·N, P]`` and batch means ``[M, P]`` over M batches.

    Args:
      diagnose: a (jitted) function from :func:`make_gradient_diagnostics`.
      keys: ``[M]`` one key per batch.
      params: the full ``{"policy", "value"}`` parameters.

    Returns:
      ``(rows, batch_means)`` in float64.
    """
    out = jax.lax.map(lambda k: diagnose(k, params).grads, keys)
    grads = jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), out)
    rows = rows_of(grads)
    m = keys.shape[0]
    return rows, rows.reshape(m, -1, rows.shape[1]).mean(1)


def summarize(rows, batch_means, reference, reference_se2) -> dict:
    """Bias (with SE), variance, SNR, cosine and samples-to-cosine of one Ψ.

    Args:
      rows: ``[M·N, P]`` the per-trajectory terms.
      batch_means: ``[M, P]`` the batch estimates.
      reference: ``[P]`` the exact or reference gradient.
      reference_se2: ``[P]`` the reference's squared standard errors (0: exact).

    Returns:
      the row's statistics (see docs/estimators.md, "How it is measured").
    """
    with jax.enable_x64(True):
        stats = gradstats.gradient_statistics(jnp.asarray(rows), jnp.asarray(reference))
        mean = np.asarray(stats.mean, np.float64)
        variance, cosine = float(stats.variance), float(stats.cosine)
    m = len(batch_means)
    se2 = batch_means.var(0, ddof=1) / m + reference_se2
    bias = mean - reference
    ref2 = float(reference @ reference)
    n_cos = float(
        gradstats.samples_for_cosine(
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
        "cosine": cosine,
        "samples_for_cosine": n_cos,
        "num_trajectories": len(rows),
    }


def measured_cosine(rows, reference, n: float, rng) -> float:
    """Mean cosine with the reference of averages of n shuffled terms.

    Args:
      rows: ``[K, P]`` per-trajectory terms.
      reference: ``[P]``.
      n: the batch size (rounded up).
      rng: a ``numpy.random.Generator`` (the shuffle).

    Returns:
      the mean cosine over the ⌊K/n⌋ batches; NaN with fewer than 4 batches.
    """
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


def tabular_part(p: dict, log: Log = silent) -> dict:
    """A1: every Ψ on the tabular MDP against its exact gradient.

    The critic V is a table fitted to the reward-to-go of 20,000 other episodes
    (:func:`jaxpg.critic_fit.fit_table`) before any estimate uses it.

    Args:
      p: the sizes (``tab_batch``, ``tab_batches``, ``variants``).
      log: called with one progress line per Ψ.

    Returns:
      ``{"rows", "critic", "exact"}``.
    """
    env, policy = tabular.TabularMDP(), tabular.table_policy()
    logits = policy.init(None, None)
    exact = tabular.exact_gradient().reshape(-1)
    n, m = p["tab_batch"], p["tab_batches"]
    fit, g = critic_fit.reward_to_go_batch(
        jax.random.key(100),
        policy,
        logits,
        make_env(env)[0],
        env.default_params,
        20_000,
    )
    v_table = critic_fit.fit_table(fit, g)
    critic = critic_fit.table_critic(v_table)
    params = {"policy": logits, "value": critic.init(None, None)}
    keys = jax.random.split(jax.random.key(0), m)
    rng = np.random.default_rng(0)
    out = {"rows": [], "critic": [float(x) for x in v_table], "exact": exact.tolist()}
    for label, fields, family in variants(0.9, p):
        fields = {"gamma": 1.0, **fields}
        cfg = ReinforceConfig(env_id=None, num_envs=n, **fields)
        diagnose = make_gradient_diagnostics(
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
        log(
            f"  tabular {label:36s} var {row['variance']:8.3f} z {row['max_abs_z']:.1f}"
        )
    return out


def cartpole_snapshot(p: dict, log: Log = silent):
    """REINFORCE (γ = 1, value baseline) trained briefly on CartPole-v1, frozen.

    Its critic is refitted (:func:`jaxpg.critic_fit.fit_value`, 300 Adam steps) to
    the frozen policy's reward-to-go on ``p["cp_critic_episodes"]`` episodes of
    their own (key 3): "learned" and independent of the measured episodes.

    Args:
      p: the sizes (``cp_snapshot_updates``, ``cp_critic_episodes``).
      log: gets the critic refit's line.

    Returns:
      ``(config, params, mean return of the last update)``.
    """
    config = ReinforceConfig(
        env_id="CartPole-v1",
        num_envs=32,
        num_updates=p["cp_snapshot_updates"],
        gamma=1.0,
        baseline="value",
        learning_rate=1e-2,
    )
    result = jit(make_train(config), fast_compile=True)(jax.random.key(0))
    returns = np.asarray(result.metrics["episode_return"])
    env, env_params = make_env("CartPole-v1")
    policy = make_policy(config, env, env_params)
    value = make_value(config, env, env_params)
    traj, target = critic_fit.reward_to_go_batch(
        jax.random.key(3),
        policy,
        result.params["policy"],
        env,
        env_params,
        p["cp_critic_episodes"],
    )
    v, losses = critic_fit.fit_value(value, result.params["value"], traj, target)
    log(f"  critic refit: mse {float(losses[0]):.1f} → {float(losses[-1]):.1f}")
    return config, {**result.params, "value": v}, float(returns[-1])


def cartpole_part(p: dict, log: Log = silent) -> dict:
    """A2: every Ψ at the CartPole-v1 snapshot against a high-sample reference.

    The reference is ``rtg − learned V`` (unbiased, the lowest variance of the
    unbiased ones here) on ``p["cp_ref_batches"]`` batches of independent episodes.

    Args:
      p: the sizes (``cp_*``, ``variants``).
      log: called with one progress line per Ψ.

    Returns:
      ``{"snapshot_return", "reference_*", "num_parameters", "rows", ...}``.
    """
    snap_config, params, snap_return = cartpole_snapshot(p, log)
    env, env_params = make_env("CartPole-v1")
    n = p["cp_batch"]

    def make(fields):
        fields = {"gamma": 1.0, **fields}
        cfg = ReinforceConfig(env_id="CartPole-v1", num_envs=n, **fields)
        value = make_value(snap_config, env, env_params) if cfg.uses_value else None
        return jax.jit(make_gradient_diagnostics(cfg, env, env_params, value=value))

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
        log(
            f"  cartpole {label:36s} var {row['variance']:10.1f} b/n {row['bias_over_noise']:.2f}"
        )
    return out
