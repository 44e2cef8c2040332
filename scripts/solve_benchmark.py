"""Time-to-solve of REINFORCE on CartPole-v1 with the default configuration.

    python scripts/solve_benchmark.py            # 16 seeds, cold and warm, 2 cores and 1
    python scripts/solve_benchmark.py --quick    # 4 seeds

For each seed (``jax.random.key(seed)``) one fresh subprocess measures the wall time
from just before the first call into jaxpg (``jaxpg.make_solve``; the imports of
jax, gymnax and jaxpg are done before the clock starts) until a policy whose
100-episode greedy evaluation is >= 475 is in hand: building, tracing, compiling and
running ``jax.jit(make_solve(ReinforceConfig()))`` with its evaluations inside.

* cold: every subprocess gets an empty persistent compilation cache directory (and,
  being a new process, an empty in-memory jit cache);
* warm: every subprocess uses one cache directory populated by an earlier run
  (``jax_persistent_cache_min_compile_time_secs = 0``, so small functions are
  cached too).

The solve function is compiled two ways (``--methods``): ``fast`` =
``jaxpg.jit(solve, fast_compile=True)`` (jaxpg's XLA options for short runs) and
``solve`` = plain ``jax.jit(solve)``; ``jaxpg`` (``jaxpg.jit``) and ``host`` (a host
loop over ``trainer.run`` chunks + ``jaxpg.evaluate``) can be added.

Each configuration runs with all cores and pinned to core 0 (``taskset -c 0``:
the worker is pinned from its start, before jax is imported). Separately, fresh
subprocesses time ``jit(f).lower(key).compile()`` of the default ``make_train`` and
``make_solve`` functions (no persistent cache), wall and process CPU time, with
``jax.jit``, ``jaxpg.jit`` and ``jaxpg.jit(fast_compile=True)``. The workers:
:mod:`jaxpg.run.solve_workers`; running and summarising them:
:mod:`jaxpg.run.solve_bench`; the section's text: :mod:`jaxpg.run.solve_report`.

Writes ``docs/data/solve_benchmark.json`` and the section between the markers in
``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jaxpg import files
from jaxpg.algorithms.reinforce import ReinforceConfig
from jaxpg.run import solve_bench, solve_report, solve_workers
from jaxpg.run.timing import pin_command

ROOT = Path(__file__).resolve().parent.parent
JSON_PATH = ROOT / "docs" / "data" / "solve_benchmark.json"


def train_script_time(cores: str) -> dict | None:
    """Whole-process wall time of ``python scripts/train.py`` (defaults), run
    twice: with an empty persistent cache, then with the cache the first run left."""
    script = ROOT / "scripts" / "train.py"
    if not script.exists():
        return None
    pin = pin_command(cores)
    result: dict = {"command": " ".join([*pin, "python", "scripts/train.py"])}
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "JAXPG_CACHE_DIR": os.path.join(tmp, "cache")}
        help_text = subprocess.run(
            [sys.executable, str(script), "--help"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        for label in ("cold", "warm"):
            cmd = [*pin, sys.executable, str(script)]
            if "--out" in help_text:
                cmd += ["--out", os.path.join(tmp, "run-" + label)]
            start = time.perf_counter()
            out = subprocess.run(
                cmd, capture_output=True, text=True, cwd=tmp, env=env, check=False
            )
            result[label + "_s"] = time.perf_counter() - start
            result[label + "_rc"] = out.returncode
    return result


def write_docs(report: dict, command: str) -> None:
    files.write_json(JSON_PATH, report, allow_nan=True)
    files.replace_section(
        ROOT / "docs" / "benchmarks.md",
        solve_report.BEGIN,
        solve_report.END,
        solve_report.markdown(report, command),
        new_page="# Benchmarks\n",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="4 seeds")
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument(
        "--cores",
        default="all;0",
        help="';'-separated affinities to measure ('all' or a core list; default "
        "'all;0')",
    )
    parser.add_argument(
        "--methods",
        default="fast,solve",
        help="comma-separated, how make_solve's one compiled call is jitted: fast "
        "(jaxpg.jit(fast_compile=True)), jaxpg (jaxpg.jit), solve (plain jax.jit); "
        "host: trainer.run chunks + jaxpg.evaluate",
    )
    parser.add_argument("--eval-every", type=int, default=1)
    parser.add_argument("--compile-reps", type=int, default=3)
    parser.add_argument("--no-train-script", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument(
        "--train-script-only",
        action="store_true",
        help="re-measure only scripts/train.py and update the saved report",
    )
    return parser


def print_summary(report: dict) -> None:
    """The configurations' and compiles' one-line summaries."""
    print()
    print(
        f"{'cores':>5} {'method':>6} {'cache':>5} {'median':>7} {'q1':>6} {'q3':>6} "
        f"{'solved':>7}"
    )
    for c in report["configurations"]:
        for cache in ("cold", "warm"):
            s = c[cache]
            print(
                f"{c['cores']:>5} {c['method']:>6} {cache:>5} {s['median_s']:7.2f} "
                f"{s['q1_s']:6.2f} {s['q3_s']:6.2f} {s['solved']:>4}/{s['seeds']}"
            )
    for row in report["compile"]:
        print(
            f"compile {row['function']:5s} {solve_bench.JIT_LABELS[row['jit']]:29s} "
            f"cores={row['cores']}: "
            f"{row['compile_s']:.2f} s (trace+lower {row['trace_lower_s']:.2f} s)"
        )
    if report.get("train_script"):
        print("train script:", json.dumps(report["train_script"]))


def main() -> None:
    args = build_parser().parse_args()
    seeds = list(range(4 if args.quick else args.seeds))
    affinities = args.cores.split(";")
    if args.train_script_only:
        report = json.loads(JSON_PATH.read_text())
        report["train_script"] = {c: train_script_time(c) for c in affinities}
        print("train script:", json.dumps(report["train_script"]))
        write_docs(report, report.get("command", "python scripts/solve_benchmark.py"))
        return
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "environment": solve_bench.environment(),
        "seeds": seeds,
        "threshold": solve_workers.THRESHOLD,
        "eval_episodes": solve_workers.EVAL_EPISODES,
        "configurations": [],
        "compile": [],
    }
    report["config"] = {
        k: (list(v) if isinstance(v, tuple) else v)
        for k, v in vars(ReinforceConfig()).items()
    }
    report["compile"] = solve_bench.compile_rows(affinities, args.compile_reps)
    for cores in affinities:
        for method in args.methods.split(","):
            report["configurations"].append(
                solve_bench.run_configuration(seeds, cores, method, args.eval_every)
            )
    if not args.no_train_script:
        report["train_script"] = {c: train_script_time(c) for c in affinities}
    print_summary(report)
    command = "python " + " ".join(["scripts/solve_benchmark.py", *sys.argv[1:]])
    report["command"] = command
    if not args.no_write:
        write_docs(report, command)
        print("wrote docs/data/solve_benchmark.json and docs/benchmarks.md")


if __name__ == "__main__":
    main()
