"""The estimator lab, part B: variance becomes sample efficiency.

CartPole-v1 learning curves of the Ψ that :func:`jaxpg.lab.variants` lists (all but
÷ batch std), REINFORCE with Adam, the seeds vmapped in one compiled call per Ψ.
``scripts/estimators.py`` writes them into docs/estimators.md.
"""

from __future__ import annotations

import math
import time

import jax
import numpy as np

from jaxpg.algorithms.reinforce import ReinforceConfig
from jaxpg.compilation import jit
from jaxpg.lab import Log, silent, variants
from jaxpg.train import make_train

__all__ = ["learning_part", "learning_row"]


def learning_part(p: dict, log: Log = silent) -> dict:
    """B: CartPole-v1 learning curves of every Ψ but ÷ batch std.

    Each Ψ trains ``p["learn_seeds"]`` seeds in one vmapped, compiled call
    (γ = 1 unless the variant sets it, Adam lr 0.01).

    Args:
      p: the sizes (``learn_seeds``, ``learn_envs``, ``learn_updates``,
        ``variants``).
      log: called with one progress line per Ψ.

    Returns:
      ``{"rows": [...]}``, one row per Ψ (see :func:`learning_row`).
    """
    out = {"rows": []}
    keys = jax.random.split(jax.random.key(10), p["learn_seeds"])
    for label, fields, family in variants(0.99, p):
        if fields.get("normalize_weights"):
            continue
        fields = {"gamma": 1.0, **fields}
        cfg = ReinforceConfig(
            env_id="CartPole-v1",
            num_envs=p["learn_envs"],
            num_updates=p["learn_updates"],
            learning_rate=1e-2,
            **fields,
        )
        t = time.perf_counter()
        result = jit(jax.vmap(make_train(cfg)), fast_compile=True)(keys)
        out["rows"].append(learning_row(label, family, result.metrics, t))
        log(f"  learn {label:36s} final {out['rows'][-1]['final_return']:.1f}")
    return out


def learning_row(label: str, family: str, metrics: dict, start: float) -> dict:
    """One Ψ's learning curve from vmapped training metrics ``[seeds, updates]``.

    Args:
      label: the Ψ's label.
      family: its family (unbiased, biased ...).
      metrics: ``episode_return`` and ``env_steps``, ``[seeds, updates]``.
      start: ``time.perf_counter()`` before the training call.

    Returns:
      the mean and SE curves, final return, area under the curve and the updates
      each seed took to reach 475.
    """
    ret = np.asarray(metrics["episode_return"], np.float64)  # [S, U]
    steps = np.asarray(metrics["env_steps"], np.float64).cumsum(1)
    hit = [int(np.argmax(r >= 475)) + 1 if (r >= 475).any() else None for r in ret]
    return {
        "label": label,
        "family": family,
        "mean_return": ret.mean(0).tolist(),
        "se_return": (ret.std(0, ddof=1) / math.sqrt(len(ret))).tolist()
        if len(ret) > 1
        else [0.0] * ret.shape[1],
        "mean_env_steps": steps.mean(0).tolist(),
        "final_return": float(ret[:, -10:].mean()),
        "final_se": float(ret[:, -10:].mean(1).std(ddof=1) / math.sqrt(len(ret)))
        if len(ret) > 1
        else 0.0,
        "area_under_curve": float(ret.mean()),
        "seeds_reaching_475": sum(h is not None for h in hit),
        "updates_to_475": hit,
        "seconds": time.perf_counter() - start,
    }
