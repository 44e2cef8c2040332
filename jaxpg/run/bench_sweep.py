"""What a sweep costs against one wide run (``scripts/benchmark.py --sweep``).

A sweep of C configurations × K seeds (``train.py --sweep``) runs the chunk
program of :mod:`jaxpg.run.sweep_run`: ``jax.vmap`` of ``Trainer.run`` over C · K
states of ``num_envs`` environments, each state with its own
:class:`jaxpg.HParams` (here C learning rates, log-spaced). It should cost about
what one run with C · K × ``num_envs`` environments costs: both step the same
number of environments per update. :func:`worker_sweep` times both in one worker
process (REINFORCE and PPO on CartPole-v1, the same updates from init, compiled
apart, then called in turn ``repeats`` times; the median of each) and compares their wall time and their
wall per real environment step (REINFORCE's episodes, hence its steps, differ
between the two runs; PPO's fixed-length rollouts step exactly as many).

``python -m jaxpg.run.bench_sweep --worker JSON`` runs the worker.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time

import jax
import numpy as np

from jaxpg.algorithms import registry
from jaxpg.compilation import jit
from jaxpg.run.bench import environment
from jaxpg.run.sweep import Sweep
from jaxpg.run.sweep_programs import sweep_keys
from jaxpg.run.timing import run_json, worker_command
from jaxpg.train import make_trainer

__all__ = [
    "SWEEP_ALGORITHMS",
    "SWEEP_ENVS",
    "SWEEP_SHAPES",
    "measure_sweep",
    "sweep_section",
    "worker_main",
    "worker_sweep",
]

SWEEP_ENVS = 32  # num_envs of each configuration's run
SWEEP_SHAPES = ((4, 2), (8, 4))  # (C configurations, K seeds) measured
# The algorithms measured and their updates per timed call (PPO: fixed-length
# rollouts, so both runs compute exactly the same environment steps).
SWEEP_ALGORITHMS = (("reinforce", 3), ("ppo", 3))


def _interleaved(runs: dict, repeats: int) -> dict:
    """Compiles each ``name: (fn, arg)`` apart, then times them in turn.

    One untimed call each, then ``repeats`` rounds calling every function once
    (a load that changes during the measurement hits both alike); the median
    wall of each, its compile seconds and its real env steps.
    """
    compiled, out = {}, {}
    for name, (fn, arg) in runs.items():
        t0 = time.perf_counter()
        compiled[name] = jit(fn).lower(arg).compile()
        out[name] = {"compile_s": time.perf_counter() - t0}
        metrics = jax.block_until_ready(compiled[name](arg))
        out[name]["env_steps"] = float(
            np.asarray(metrics["env_steps"], np.float64).sum()
        )
    walls: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, (_, arg) in runs.items():
            t0 = time.perf_counter()
            jax.block_until_ready(compiled[name](arg))
            walls[name].append(time.perf_counter() - t0)
    for name, row in out.items():
        row["wall_s"] = statistics.median(walls[name])
        row["us_per_step"] = 1e6 * row["wall_s"] / row["env_steps"]
    return out


def _row(algo: str, updates: int, c: int, k: int, repeats: int) -> dict:
    """One algorithm and (C, K): the sweep's chunk and the wide run, timed."""
    config = registry.get(algo).config_type(env_id="CartPole-v1", num_envs=SWEEP_ENVS)
    trainer = make_trainer(config)
    rates = tuple((float(v),) for v in np.geomspace(1e-3, 3e-2, c))
    keys = sweep_keys(config, 0, Sweep(("learning_rate",), rates, k))
    states = jax.jit(jax.vmap(trainer.init))(keys.init, keys.hparams)
    wide_trainer = make_trainer(
        dataclasses.replace(config, num_envs=SWEEP_ENVS * c * k)
    )
    state = jax.jit(wide_trainer.init)(jax.random.key(0))
    timed = _interleaved(
        {
            "sweep": (jax.vmap(lambda s: trainer.run(s, updates)[1]), states),
            "wide": (lambda s: wide_trainer.run(s, updates)[1], state),
        },
        repeats,
    )
    swept, wide = timed["sweep"], timed["wide"]
    return {
        "algo": algo,
        "updates": updates,
        "configurations": c,
        "seeds": k,
        "sweep": swept,
        "wide": wide,
        "wall_ratio": swept["wall_s"] / wide["wall_s"],
        "step_ratio": swept["us_per_step"] / wide["us_per_step"],
    }


def worker_sweep(shapes: list, repeats: int) -> dict:
    """Each algorithm and (C, K): the sweep's vmapped chunk vs C·K× the envs.

    Args:
      shapes: ``[C, K]`` pairs.
      repeats: timed calls (after one untimed call).

    Returns:
      ``{"num_envs", "rows"}``; each row has both runs' wall, real env steps and
      µs per real step, and the ratios sweep / wide of wall time and of µs per
      step.
    """
    rows = []
    for algo, updates in SWEEP_ALGORITHMS:
        for c, k in shapes:
            rows.append(_row(algo, updates, c, k, repeats))
            print(f"# sweep {algo} {c}x{k} done", file=sys.stderr, flush=True)
    return {"num_envs": SWEEP_ENVS, "rows": rows}


def measure_sweep(shapes: list, repeats: int) -> dict:
    """:func:`worker_sweep` in a fresh worker process, with the machine and load.

    Args:
      shapes: ``[C, K]`` pairs.
      repeats: timed calls.

    Returns:
      The report: ``environment`` (with ``loadavg_start``), the worker's
      result and ``loadavg_end``.
    """
    report = {"environment": environment()}
    cmd = [
        *worker_command("jaxpg.run.bench_sweep"),
        "--worker",
        json.dumps([shapes, repeats]),
    ]
    report.update(run_json(cmd, name="sweep worker", tail=4000))
    report["loadavg_end"] = os.getloadavg()
    return report


def sweep_section(report: dict, command: str) -> str:
    """The Markdown of the sweep measurement (for docs/benchmarks.md).

    Args:
      report: :func:`measure_sweep`'s report.
      command: the command that produced it.

    Returns:
      The text (a heading, how it was measured, the table).
    """
    env, n = report["environment"], report["num_envs"]
    load = ", ".join(f"{x:.1f}" for x in env["loadavg_start"])
    load_end = ", ".join(f"{x:.1f}" for x in report["loadavg_end"])
    lines = [
        "### Sweeps: C configurations × K seeds in one call vs one run with C·K× "
        "the envs",
        "",
        f"`{command}` ({env['date']}, {env['processor']}, {env['cpu_count']} cores, "
        f"{env['device']}, jax {env['jax']}; load average {load} at the start, "
        f"{load_end} at the end). CartPole-v1, from init. The sweep is `train.py "
        "--sweep`'s chunk program: `jax.vmap(trainer.run)` over C·K states of "
        f"{n} environments, configuration c with the c-th of C learning rates "
        f"log-spaced in [1e-3, 3e-2]; the wide run is one state of C·K·{n} "
        "environments, same updates. Both compiled apart in one worker process, "
        "then timed in turn (one call of each per round, so a changing load hits "
        "both alike); median wall of the rounds; *ratio* is sweep / wide, of the "
        "wall time and of the wall per real environment step (REINFORCE's "
        "episodes, hence its steps, differ between the runs; PPO's fixed-length "
        "rollouts step exactly the same number).",
        "",
        "| algorithm | C × K | envs | updates | sweep wall s | wide wall s "
        "| sweep µs/step | wide µs/step | ratio wall | ratio per step |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["rows"]:
        sw, wd = r["sweep"], r["wide"]
        lines.append(
            f"| {r['algo']} | {r['configurations']} × {r['seeds']} "
            f"| {r['configurations'] * r['seeds'] * n} | {r['updates']} "
            f"| {sw['wall_s']:.3f} | {wd['wall_s']:.3f} | {sw['us_per_step']:.3f} "
            f"| {wd['us_per_step']:.3f} | {r['wall_ratio']:.2f} "
            f"| {r['step_ratio']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def worker_main(argv: list[str] | None = None) -> None:
    """``python -m jaxpg.run.bench_sweep --worker '[shapes, repeats]'``.

    Prints :func:`worker_sweep`'s result as one JSON line.

    Args:
      argv: the arguments (default: the command line's).
    """
    ap = argparse.ArgumentParser(prog="python -m jaxpg.run.bench_sweep")
    ap.add_argument("--worker", required=True)
    args = ap.parse_args(argv)
    print(json.dumps(worker_sweep(*json.loads(args.worker))))


if __name__ == "__main__":
    worker_main()
