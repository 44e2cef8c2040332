"""Throughput, compile-time and seed-batching benchmark (``scripts/benchmark.py``).

:func:`measure` runs every measurement of :mod:`jaxpg.run.bench_workers` in a fresh
worker process (:func:`spawn`), optionally pinned to core 0 or with a persistent
compilation cache directory, and returns the report that
``docs/data/benchmark.json`` records and :mod:`jaxpg.run.bench_report` renders:

* per environment and num_envs, the env ceiling (raw gymnax env, random actions),
  the rollout ceiling (jaxpg's policy acting, no learning) and the training rates
  of REINFORCE (untrained and trained policy), A2C and PPO; the same ceilings
  pinned to core 0 up to :data:`~jaxpg.run.bench_workers.PINNED_MAX_ENVS`;
* REINFORCE against the rollout ceiling at 1024 environments (:func:`target_rows`);
* the compile time of every registered algorithm's default train function, cold
  and warm persistent cache (:func:`compile_rows`);
* ``jax.vmap(train)`` over K seeds against one seed with K× the environments.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import time

import jax

from jaxpg.algorithms import registry
from jaxpg.run.bench_workers import PINNED_MAX_ENVS, TARGET_ENVS, TRAIN_BUDGET
from jaxpg.run.timing import run_json, worker_command

__all__ = [
    "compile_rows",
    "environment",
    "measure",
    "spawn",
    "target_rows",
]


def spawn(args: list, cores: str = "all", cache_dir: str | None = None) -> dict:
    """Runs one worker (``args = [kind, *arguments]``) in a fresh process.

    Args:
      args: the worker's kind and arguments (JSON).
      cores: ``"all"`` or the cores the worker is pinned to.
      cache_dir: a persistent compilation cache directory, or None.

    Returns:
      the worker's result.
    """
    cmd = [
        *worker_command("jaxpg.run.bench_workers", cores),
        "--worker",
        json.dumps(args),
    ]
    if cache_dir:
        cmd += ["--cache-dir", cache_dir]
    return run_json(cmd, name=f"worker {args}", tail=4000)


def environment() -> dict:
    """The machine, versions, load average and date of the report.

    Returns:
      ``device``, ``platform``, ``jax``, ``cpu_count``, ``processor``, ``python``,
      ``loadavg_start`` and ``date``.
    """
    return {
        "device": str(jax.devices()[0]),
        "platform": jax.default_backend(),
        "jax": jax.__version__,
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "loadavg_start": os.getloadavg(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def measure(
    envs: tuple[str, ...],
    ns: list[int],
    repeats: int,
    *,
    compile_times: bool = True,
    seeds: list[int] | None = None,
    seed_updates: int = 10,
) -> dict:
    """Every measurement of the benchmark, each in its own worker process.

    Args:
      envs: the environments.
      ns: the num_envs values.
      repeats: timed calls per measurement.
      compile_times: also time the compile of every algorithm's train function,
        cold and warm persistent cache.
      seeds: the K values of the seeds table (None: no seeds table).
      seed_updates: updates per call of the seeds table.

    Returns:
      the report (without ``command``).
    """
    report: dict = {
        "environment": environment(),
        "repeats": repeats,
        "num_envs": ns,
        "train_budget": {e: TRAIN_BUDGET[e] for e in envs if e in TRAIN_BUDGET},
    }
    start = time.perf_counter()
    report["throughput"] = {}
    report["pinned"] = {}
    for env_id in envs:
        report["throughput"][env_id] = spawn(
            ["throughput", env_id, ns, repeats, "train"]
        )
        small = [n for n in ns if n <= PINNED_MAX_ENVS]
        if small:
            report["pinned"][env_id] = spawn(
                ["throughput", env_id, small, repeats, "ceiling"], cores="0"
            )
    report["target"] = target_rows(report["throughput"])
    report["compile"] = compile_rows(envs) if compile_times else []
    if seeds is not None:
        seed_args = ["seeds", seeds, seed_updates, repeats]
        report["seeds"] = spawn(seed_args)
        report["seeds_core0"] = spawn(seed_args, cores="0")
    report["elapsed_s"] = time.perf_counter() - start
    report["loadavg_end"] = os.getloadavg()
    return report


def target_rows(throughput: dict) -> list[dict]:
    """REINFORCE's computed steps/s against the rollout ceiling (target ≥ 50 %).

    On CartPole-v1 at :data:`~jaxpg.run.bench_workers.TARGET_ENVS` environments,
    trained and untrained policy.

    Args:
      throughput: the report's ``throughput`` (by environment, by num_envs).

    Returns:
      one row per policy measured there (none without that num_envs).
    """
    rows = []
    row = throughput.get("CartPole-v1", {}).get(str(TARGET_ENVS))
    if not row:
        return rows
    for key, label in (
        ("reinforce_trained", "trained"),
        ("reinforce_untrained", "untrained"),
    ):
        if key in row:
            c, ceil = row[key]["computed_steps_per_s"], row["rollout"]["steps_per_s"]
            rows.append(
                {
                    "env_id": "CartPole-v1",
                    "num_envs": TARGET_ENVS,
                    "policy": label,
                    "computed": c,
                    "ceiling": ceil,
                    "ratio": c / ceil,
                    "met": c / ceil >= 0.5,
                }
            )
    return rows


def compile_rows(envs: tuple[str, ...]) -> list[dict]:
    """Cold then warm compile times of every algorithm on every env.

    Fresh processes; one new persistent cache directory per (env, algorithm), empty
    for the cold one, filled by it for the warm one.

    Args:
      envs: the environments.

    Returns:
      one row per (env, algorithm, cache): ``lower_s`` and ``compile_s``.
    """
    rows = []
    for env_id in envs:
        for algo in registry.names():
            cache = tempfile.mkdtemp(prefix="jaxpg-bench-cache-")
            try:
                for label in ("cold", "warm"):
                    r = spawn(["compile", algo, env_id], cache_dir=cache)
                    rows.append({"algo": algo, "env_id": env_id, "cache": label, **r})
            finally:
                shutil.rmtree(cache, ignore_errors=True)
    return rows
