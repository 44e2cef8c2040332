"""Time-to-solve of REINFORCE on CartPole-v1 (``scripts/solve_benchmark.py``).

Every measurement is one fresh worker process (:mod:`jaxpg.run.solve_workers`):

* :func:`run_configuration`: for each seed, a cold run (an empty persistent
  compilation cache directory of its own) and a warm one (one directory populated
  by an earlier run), summarised by :func:`summary`;
* :func:`compile_rows`: the compile of the default ``make_train`` and
  ``make_solve`` functions (:data:`COMPILES`), no persistent cache, the median of
  several processes.

:mod:`jaxpg.run.solve_report` renders the report.
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import tempfile
from collections.abc import Callable

import jax

from jaxpg.run.timing import run_json, worker_command

__all__ = [
    "COMPILES",
    "JIT_LABELS",
    "compile_rows",
    "environment",
    "run_configuration",
    "say",
    "spawn",
    "summary",
]

JIT_LABELS = {
    "solve": "jax.jit",
    "jaxpg": "jaxpg.jit",
    "fast": "jaxpg.jit(fast_compile=True)",
    "host": "host loop",
}
# (function, jit) pairs whose compile is timed.
COMPILES = (
    ("train", "solve"),
    ("train", "jaxpg"),
    ("train", "fast"),
    ("solve", "solve"),
    ("solve", "fast"),
)


def say(text: str) -> None:
    """The progress lines' default destination: stdout, flushed.

    Args:
      text: the line.
    """
    print(text, flush=True)


def spawn(args: list[str], cores: str, cache_dir: str | None) -> dict:
    """One worker process (``args``: its flags), pinned to ``cores``.

    Args:
      args: the worker's flags (:func:`jaxpg.run.solve_workers.worker_main`).
      cores: ``"all"`` or the cores to pin it to.
      cache_dir: its persistent compilation cache directory (None: no cache).

    Returns:
      the worker's result.
    """
    cmd = [*worker_command("jaxpg.run.solve_workers", cores), *args]
    if cache_dir:
        cmd += ["--cache-dir", cache_dir]
    return run_json(cmd)


def summary(rows: list[dict], budget_solved: int) -> dict:
    """Median, quartiles and extremes of the runs' seconds; solved and updates.

    Args:
      rows: worker results (``seconds``, ``updates``).
      budget_solved: how many of them solved.

    Returns:
      the summary.
    """
    secs = sorted(r["seconds"] for r in rows)
    q = statistics.quantiles(secs, n=4) if len(secs) > 1 else secs * 3
    return {
        "median_s": statistics.median(secs),
        "q1_s": q[0],
        "q3_s": q[2],
        "min_s": secs[0],
        "max_s": secs[-1],
        "solved": budget_solved,
        "seeds": len(rows),
        "median_updates": statistics.median(r["updates"] for r in rows),
    }


def run_configuration(
    seeds: list[int],
    cores: str,
    method: str,
    eval_every: int,
    count_steps: bool = False,
    log: Callable[[str], None] = say,
) -> dict:
    """Cold then warm runs of every seed, one process each.

    Args:
      seeds: the seeds.
      cores: ``"all"`` or the cores every worker is pinned to.
      method: how the solve is compiled (:data:`JIT_LABELS`).
      eval_every: updates between greedy evaluations.
      count_steps: add, to each cold run, the environment steps and training
        steps/s of its updates (:func:`jaxpg.run.solve_workers.replay_steps`).
      log: gets one progress line per run.

    Returns:
      the configuration, the cold and warm summaries and every run.
    """
    base = ["--method", method, "--eval-every", str(eval_every)]
    count = ["--count-steps"] if count_steps else []
    cold = []
    for seed in seeds:
        cache = tempfile.mkdtemp(prefix="jaxpg-cold-")
        try:
            cold.append(spawn([*base, *count, "--seed", str(seed)], cores, cache))
        finally:
            shutil.rmtree(cache, ignore_errors=True)
        log(f"  cold cores={cores} {method} seed {seed}: {cold[-1]}")
    warm_cache = tempfile.mkdtemp(prefix="jaxpg-warm-")
    warm = []
    try:
        # Populate the cache. Every seed compiles the same program (the key is an
        # argument), so one run fills it.
        spawn([*base, "--seed", "1000"], cores, warm_cache)
        for seed in seeds:
            warm.append(spawn([*base, "--seed", str(seed)], cores, warm_cache))
            log(f"  warm cores={cores} {method} seed {seed}: {warm[-1]}")
    finally:
        shutil.rmtree(warm_cache, ignore_errors=True)
    solved = sum(r["solved"] for r in cold)
    return {
        "cores": cores,
        "method": method,
        "eval_every": eval_every,
        "cold": summary(cold, solved),
        "warm": summary(warm, sum(r["solved"] for r in warm)),
        "cold_runs": cold,
        "warm_runs": warm,
    }


def compile_rows(
    affinities: list[str], reps: int, log: Callable[[str], None] = say
) -> list[dict]:
    """The compile of every :data:`COMPILES` pair, ``reps`` fresh processes each.

    Args:
      affinities: the core settings (``"all"`` or core lists).
      reps: processes per pair and setting.
      log: gets one line per row.

    Returns:
      one row per (setting, pair): the median of each time, the first run's
      fusion and while-loop counts, and every run.
    """
    rows = []
    for cores in affinities:
        for which, jit in COMPILES:
            runs = [
                spawn(["--compile", which, "--method", jit], cores, None)
                for _ in range(reps)
            ]
            row = {
                "function": which,
                "jit": jit,
                "cores": cores,
                **{
                    k: statistics.median(r[k] for r in runs)
                    for k in ("build_s", "trace_lower_s", "compile_s", "compile_cpu_s")
                },
                "fusions": runs[0]["fusions"],
                "while_loops": runs[0]["while_loops"],
                "runs": runs,
            }
            rows.append(row)
            log(
                f"compile {which} {JIT_LABELS[jit]} cores={cores}: "
                f"{row['compile_s']:.2f} s (CPU {row['compile_cpu_s']:.2f} s)"
            )
    return rows


def environment() -> dict:
    """The machine and versions of the report.

    Returns:
      ``device`` (kind), ``platform``, ``jax``, ``cpu_count``, ``affinity_cores``,
      ``processor`` and ``python``.
    """
    return {
        "device": str(jax.devices()[0].device_kind),
        "platform": jax.default_backend(),
        "jax": jax.__version__,
        "cpu_count": os.cpu_count(),
        "affinity_cores": len(os.sched_getaffinity(0)),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
    }
