"""The estimator lab, part C: pathwise (BPTT) against score-function gradients.

``scripts/estimators.py`` writes these measurements into docs/estimators.md (parts
A and B are :mod:`jaxpg.lab`). The gradients come from :mod:`jaxpg.pathwise`; each
part takes the sizes ``p`` (:data:`jaxpg.lab.FULL` or :data:`jaxpg.lab.QUICK`) and
returns a JSON-ready dict.

* :func:`pendulum_horizons`: Pendulum-v1 agreement and variance of the two
  estimators against the horizon, on the same episodes;
* :func:`pendulum_learning`: a short learning comparison (BPTT with Adam against
  ``jaxpg.make_train`` REINFORCE);
* :func:`mountain_car_part`: MountainCarContinuous's goal bonus, seen by one
  estimator and not by the other.
"""

from __future__ import annotations

import math
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from gymnax.environments.classic_control import continuous_mountain_car as mcc

from jaxpg import pathwise
from jaxpg.algorithms.reinforce import ReinforceConfig
from jaxpg.compilation import jit
from jaxpg.lab import Log, rows_of, silent
from jaxpg.policy import make_policy
from jaxpg.train import make_train

__all__ = [
    "NoGoalBonus",
    "horizon_row",
    "learning_summary",
    "mountain_car_part",
    "pendulum_learning",
    "pendulum_pathwise_returns",
    "pendulum_policy",
    "pendulum_score_returns",
    "pendulum_horizons",
    "pump_policy",
]


def pendulum_policy():
    """Pendulum-v1 with transition gradients and jaxpg's Gaussian MLP at init.

    Returns:
      ``(env, env_params, policy, policy_params)``.
    """
    config = ReinforceConfig(env_id="Pendulum-v1")
    env, env_params = pathwise.differentiable_env("Pendulum-v1")
    policy = make_policy(config, env, env_params)
    params = policy.init(jax.random.key(0), jnp.zeros(3))
    return env, env_params, policy, params


def pendulum_horizons(p: dict, log: Log = silent) -> dict:
    """Both estimators on the same ``p["pw_episodes"]`` episodes, per horizon.

    Args:
      p: the sizes (``pw_horizons``, ``pw_episodes``).
      log: called with one progress line per horizon.

    Returns:
      ``{"rows", "episodes", "num_parameters"}``, one row per horizon
      (:func:`horizon_row`).
    """
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
        row = horizon_row(h, pw, sf)
        out["rows"].append(row)
        log(
            f"  pendulum H={h:3d} var pw {row['pathwise_variance']:.3g} "
            f"sf {row['score_variance']:.3g} diff/noise {row['difference_over_noise']:.2f}"
        )
    out["episodes"] = p["pw_episodes"]
    out["num_parameters"] = int(pw.shape[1])
    return out


def horizon_row(h: int, pw: np.ndarray, sf: np.ndarray) -> dict:
    """Paired comparison of pathwise and score-function terms at horizon ``h``.

    Args:
      h: the horizon.
      pw: ``[N, P]`` the pathwise per-episode gradients.
      sf: ``[N, P]`` the score-function ones, on the same episodes.

    Returns:
      variances, mean norms, the paired difference over its noise, the largest
      per-parameter |z|, the cosine of the two means and the spread of the
      pathwise gradient's norm.
    """
    d = pw - sf
    z = d.mean(0) / (d.std(0, ddof=1) / math.sqrt(len(d)) + 1e-30)
    noise = math.sqrt((d.var(0, ddof=1) / len(d)).sum())
    norms = np.linalg.norm(pw, axis=1)
    return {
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


def pendulum_learning(p: dict, log: Log = silent) -> dict:
    """Pendulum-v1 learning curves, BPTT against REINFORCE, from the same keys.

    Args:
      p: the sizes (``pw_learn_seeds``, ``pw_learn_envs``, ``pw_learn_updates``).
      log: gets the final returns' line.

    Returns:
      ``{"episodes_per_update", "updates", "seeds", "pathwise", "score"}``.
    """
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
    log(
        f"  pendulum learning: pathwise {out['pathwise']['final_return']:.0f}, "
        f"score {out['score']['final_return']:.0f}"
    )
    return out


def pendulum_pathwise_returns(p: dict, keys) -> tuple[np.ndarray, float]:
    """BPTT through full 200-step episodes, one vmapped call over ``keys``.

    Adam (lr 3e-3) after global-norm clipping at 1, descending on −J.

    Args:
      p: the sizes (``pw_learn_envs`` episodes per update, ``pw_learn_updates``).
      keys: ``[seeds]`` one key per seed.

    Returns:
      the returns ``[seeds, updates]`` and the wall time (compile included).
    """
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
    pw = np.asarray(jit(jax.vmap(train), fast_compile=True)(keys), np.float64)
    return pw, time.perf_counter() - t


def pendulum_score_returns(p: dict, keys) -> tuple[np.ndarray, float]:
    """``jaxpg.make_train`` REINFORCE with the same sizes, vmapped over ``keys``.

    Args:
      p: the sizes (``pw_learn_envs``, ``pw_learn_updates``).
      keys: ``[seeds]`` one key per seed.

    Returns:
      the returns ``[seeds, updates]`` and the wall time (compile included).
    """
    cfg = ReinforceConfig(
        env_id="Pendulum-v1",
        num_envs=p["pw_learn_envs"],
        num_updates=p["pw_learn_updates"],
        gamma=0.99,
        learning_rate=3e-3,
        max_grad_norm=1.0,
    )
    t = time.perf_counter()
    result = jit(jax.vmap(make_train(cfg)), fast_compile=True)(keys)
    sf = np.asarray(result.metrics["episode_return"], np.float64)
    return sf, time.perf_counter() - t


def learning_summary(x: np.ndarray, seconds: float) -> dict:
    """Mean and SE over seeds of returns ``x``, and the curve's endpoints.

    Args:
      x: ``[seeds, updates]`` returns.
      seconds: the run's wall time.

    Returns:
      ``mean_return``, ``se_return`` (0 for one seed), the mean of the last 10
      (``final_return``) and of the first 5 updates (``first_return``), ``seconds``.
    """
    se = x.std(0, ddof=1) / math.sqrt(len(x)) if len(x) > 1 else 0 * x[0]
    return {
        "mean_return": x.mean(0).tolist(),
        "se_return": se.tolist(),
        "final_return": float(x[:, -10:].mean()),
        "first_return": float(x[:, :5].mean()),
        "seconds": seconds,
    }


class NoGoalBonus(mcc.ContinuousMountainCar):
    """MountainCarContinuous without the +100 at the goal (episodes still end)."""

    def step_env(self, key, state, action, params):
        obs, state, r, done, info = super().step_env(key, state, action, params)
        return obs, state, r - 100.0 * done, done, info


def pump_policy():
    """Linear Gaussian, mean = 15·velocity: pumps energy, reaches the goal often.

    Returns:
      a :class:`jaxpg.Policy` (:func:`jaxpg.pathwise.linear_gaussian_policy`).
    """
    return pathwise.linear_gaussian_policy([0.0, 15.0], log_std=-0.5)


def mountain_car_part(p: dict, log: Log = silent) -> dict:
    """Both estimators on the same episodes, with and without the goal bonus.

    Episodes are cut at 300 steps: the goal is reached in some, not all, so the
    bonus decides part of the return's spread.

    Args:
      p: the sizes (``mcc_episodes``).
      log: unused (the part prints nothing).

    Returns:
      the per-parameter means of both estimators with and without the bonus, and
      the paired z of the score function's difference.
    """
    del log
    policy = pump_policy()
    n, horizon = p["mcc_episodes"], 300
    res = {}
    for name, raw in zip(
        ("with bonus", "without bonus"),
        (mcc.ContinuousMountainCar(), NoGoalBonus()),
        strict=True,
    ):
        res[name] = _mountain_car_estimates(policy, raw, n, horizon)
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


def _mountain_car_estimates(policy, raw, n: int, horizon: int):
    """Pathwise and score-function rows, goal rate and mean return on ``raw``."""
    params = policy.init(None, None)
    env, env_params = pathwise.differentiable_env(raw)

    @jax.jit
    def estimates(key):
        args = (key, policy, params, env, env_params, n, horizon)
        traj = pathwise.differentiable_rollout(*args)
        return (
            pathwise.pathwise_gradients(*args),
            pathwise.score_function_gradients(*args, baseline="mean"),
            traj.terminated.any(0).mean(),
            traj.reward.sum(0).mean(),
        )

    pw, sf, reached, ret = estimates(jax.random.key(40))
    return rows_of(pw), rows_of(sf), float(reached), float(ret)
