"""jaxpg against a PyTorch REINFORCE (``scripts/compare_torch.py``): the jaxpg side.

The jaxpg runs are :func:`jaxpg.run.solve_bench.run_configuration`'s; this module
adds where a solve's time goes (:func:`worker_split`, run in a fresh process by
:func:`split`: ``python -m jaxpg.run.compare --split-worker SEEDS``) and turns a
report of both frameworks' runs into medians and ratios (:func:`summarize`), with
PyTorch seeds that missed a criterion within the time cap censored
(:func:`censored_median`). :mod:`jaxpg.run.compare_report` renders it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import jax

from jaxpg.algorithms.reinforce import ReinforceConfig
from jaxpg.compilation import jit
from jaxpg.envs import make_env
from jaxpg.evaluate import episode_returns
from jaxpg.policy import make_policy
from jaxpg.run.solve_workers import EVAL_EPISODES, THRESHOLD, replay_steps
from jaxpg.run.timing import median_wall, run_json, worker_command
from jaxpg.solve import make_solve

__all__ = [
    "TARGET_RATIO",
    "censored_median",
    "jaxpg_summary",
    "split",
    "split_summary",
    "summarize",
    "torch_summary",
    "worker_split",
]

TARGET_RATIO = 20.0  # issue 5: jaxpg ≥ 20× faster wall-to-solve than PyTorch


def censored_median(values: list[float | None], cap: float) -> dict:
    """Median of times where ``None`` marks a run censored at ``cap`` (> cap).

    Censored runs sort last; the median is exact when it lands on measured runs
    and a lower bound (``censored: True``, value = cap) otherwise.

    Args:
      values: one time per seed, None where the seed did not finish in time.
      cap: the time cap.

    Returns:
      ``median_s``, ``censored``, ``met`` (seeds that finished), ``seeds`` and the
      ``times_s``.
    """
    known = sorted(v for v in values if v is not None)
    n = len(values)
    ordered = known + [float("inf")] * (n - len(known))
    mid = ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2
    censored = mid == float("inf")
    return {
        "median_s": cap if censored else mid,
        "censored": censored,
        "met": len(known),
        "seeds": n,
        "times_s": values,
    }


def worker_split(seeds: list[int], repeats: int) -> dict:
    """Where a jaxpg solve's time goes, in one fresh process (no persistent cache).

    Build, trace + lower and compile of ``make_solve`` (fast_compile, as the timed
    runs); then for each seed the median run time of the compiled solve, of the
    same updates without evaluations (``trainer.run``, compiled apart) and of one
    100-episode greedy evaluation of the solved policy (the costliest one).

    Args:
      seeds: the seeds.
      repeats: calls per median.

    Returns:
      the date, load, the three build phases' seconds and one row per seed.
    """
    jax.config.update("jax_enable_compilation_cache", False)
    config = ReinforceConfig()
    jax.random.key(0)  # backend start-up, outside the clock as in the timed runs
    t0 = time.perf_counter()
    solve = make_solve(config, threshold=THRESHOLD, eval_episodes=EVAL_EPISODES)
    t1 = time.perf_counter()
    lowered = jit(solve, fast_compile=True).lower(jax.random.key(0))
    t2 = time.perf_counter()
    compiled = lowered.compile()
    t3 = time.perf_counter()
    env, env_params = make_env(config.env_id)
    policy = make_policy(config, env, env_params)
    evaluate = jit(
        lambda key, params: episode_returns(
            key, policy, params, env, env_params, EVAL_EPISODES
        ).mean(),
        fast_compile=True,
    )
    rows = {}
    for seed in seeds:
        key = jax.random.key(seed)
        run_s, out = median_wall(compiled, key, repeats=repeats, warmup=False)
        updates = int(out.updates_used)
        train = replay_steps(key, config, updates, "fast", repeats)
        evaluate(key, out.params["policy"])  # compile (not timed)
        eval_s, ret = median_wall(
            evaluate, key, out.params["policy"], repeats=repeats, warmup=False
        )
        rows[str(seed)] = {
            "run_s": run_s,
            "updates": updates,
            "train_s": train["train_wall_s"],
            "eval_solved_s": eval_s,
            "eval_return": float(ret),
        }
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load": os.getloadavg(),
        "build_s": t1 - t0,
        "trace_lower_s": t2 - t1,
        "compile_s": t3 - t2,
        "seeds": rows,
        "repeats": repeats,
    }


def split(seeds: list[int]) -> dict:
    """:func:`worker_split` (3 calls per median) in a fresh process.

    The process inherits this one's affinity (the comparison pins itself).

    Args:
      seeds: the seeds.

    Returns:
      :func:`worker_split`'s result.
    """
    cmd = [*worker_command("jaxpg.run.compare"), "--split-worker", json.dumps(seeds)]
    return run_json(cmd, name="split worker")


def summarize(report: dict) -> dict:
    """Medians of both frameworks' runs and their ratios.

    Args:
      report: the comparison's report: ``time_cap_s``, ``jaxpg`` (a
        :func:`~jaxpg.run.solve_bench.run_configuration` with step counts),
        ``torch_runs`` and optionally ``split``.

    Returns:
      ``{"jaxpg", "torch", "ratios"}``; ratios are lower bounds where the PyTorch
      median is censored.
    """
    cap = report["time_cap_s"]
    j = jaxpg_summary(report["jaxpg"])
    t = torch_summary(report["torch_runs"], cap)
    if report.get("split"):
        j["split"] = split_summary(report["split"])
    t_eval, t_running = t["eval"], t["running"]
    ratios = {
        "steps_per_s": j["median_steps_per_s"] / t["median_steps_per_s"],
        # Lower bounds where the PyTorch median is censored.
        "solve_cold": t_eval["median_s"] / j["cold_median_s"],
        "solve_warm": t_eval["median_s"] / j["warm_median_s"],
        "running_vs_cold": t_running["median_s"] / j["cold_median_s"],
        "lower_bound": t_eval["censored"],
    }
    ratios["target_met"] = ratios["solve_cold"] >= TARGET_RATIO
    return {"jaxpg": j, "torch": t, "ratios": ratios}


def jaxpg_summary(jax_cfg: dict) -> dict:
    """Cold and warm medians, and the cold runs' median steps and rates.

    Args:
      jax_cfg: the report's ``jaxpg`` configuration (with step counts).

    Returns:
      the jaxpg half of the summary.
    """
    cold = jax_cfg["cold_runs"]
    return {
        "cold_median_s": jax_cfg["cold"]["median_s"],
        "warm_median_s": jax_cfg["warm"]["median_s"],
        "solved": jax_cfg["cold"]["solved"],
        "seeds": jax_cfg["cold"]["seeds"],
        "median_updates": jax_cfg["cold"]["median_updates"],
        "median_env_steps": statistics.median(r["env_steps"] for r in cold),
        "median_episodes": statistics.median(r["episodes"] for r in cold),
        "median_steps_per_s": statistics.median(r["steps_per_s"] for r in cold),
        "median_computed_steps_per_s": statistics.median(
            r["computed_steps_per_s"] for r in cold
        ),
        "median_train_wall_s": statistics.median(r["train_wall_s"] for r in cold),
    }


def torch_summary(torch_runs: list[dict], cap: float) -> dict:
    """Censored medians of both criteria, and the PyTorch runs' medians.

    Args:
      torch_runs: the report's ``torch_runs``.
      cap: the time cap per seed.

    Returns:
      the PyTorch half of the summary.
    """
    t_eval = censored_median(
        [r["eval_hit"]["wall_s"] if r["eval_solved"] else None for r in torch_runs],
        cap,
    )
    t_running = censored_median(
        [
            r["running_hit"]["train_s"] if r["running_solved"] else None
            for r in torch_runs
        ],
        cap,
    )
    hits = [r["eval_hit"] for r in torch_runs if r["eval_solved"]]
    return {
        "eval": t_eval,
        "running": t_running,
        "median_steps_per_s": statistics.median(r["steps_per_s"] for r in torch_runs),
        "median_eval_episodes": (
            statistics.median(h["episodes"] for h in hits) if hits else None
        ),
        "median_eval_steps": (
            statistics.median(h["steps"] for h in hits) if hits else None
        ),
        "median_eval_share": (
            statistics.median(h["eval_s"] / h["wall_s"] for h in hits) if hits else None
        ),
    }


def split_summary(split: dict) -> dict:
    """Medians over the seeds of :func:`worker_split`'s rows.

    Args:
      split: :func:`worker_split`'s result.

    Returns:
      the phases' seconds and the medians over the seeds.
    """
    rows = list(split["seeds"].values())
    return {
        "trace_lower_s": split["trace_lower_s"],
        "compile_s": split["compile_s"],
        "median_run_s": statistics.median(r["run_s"] for r in rows),
        "median_train_s": statistics.median(r["train_s"] for r in rows),
        "median_eval_loop_s": statistics.median(
            r["run_s"] - r["train_s"] for r in rows
        ),
        "median_eval_solved_s": statistics.median(r["eval_solved_s"] for r in rows),
        "seeds": len(rows),
        "date": split.get("date"),
        "load": split.get("load"),
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(prog="python -m jaxpg.run.compare")
    ap.add_argument("--split-worker", required=True, help="the seeds, as JSON")
    print(json.dumps(worker_split(json.loads(ap.parse_args().split_worker), 3)))
