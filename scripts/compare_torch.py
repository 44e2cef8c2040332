"""jaxpg vs a PyTorch REINFORCE on CartPole-v1, side by side in one invocation.

    pip install -e ".[bench]"                 # torch==2.13.0 (CPU) + gymnasium
    python scripts/compare_torch.py           # 16 jaxpg seeds, 5 PyTorch seeds, core 0
    python scripts/compare_torch.py --quick   # 4 jaxpg seeds, 2 PyTorch seeds, 30 s cap

Both are judged by the same criterion, each in its own framework: a 100-episode
greedy evaluation with mean return >= 475, its cost counted in the wall time.

* jaxpg: the time-to-solve worker of ``scripts/solve_benchmark.py``
  (:mod:`jaxpg.run.solve_workers`: ``jaxpg.make_solve`` with
  the default ``ReinforceConfig``, ``jaxpg.jit(solve, fast_compile=True)``, an
  evaluation after every update = every 64 training episodes), one fresh process
  per seed, timed from the first call into jaxpg (imports excluded) with an empty
  persistent compilation cache (cold) and with a populated one (warm). Its
  environment steps and training steps/s come from replaying the same updates
  (same keys) with ``trainer.run``, compiled apart, after the timed solve.
* PyTorch: ``scripts/torch_reinforce.py`` (the seed's PyTorch example: 4-128-2
  policy with dropout 0.6, Adam 1e-2, γ 0.99, normalised returns, one episode per
  update; ``torch.set_num_threads(1)``), one fresh process per seed, timed from
  just before its first episode (imports and ``gym.make`` excluded), a greedy
  evaluation every ``--torch-eval-every`` training episodes (default 10). It also
  records the example's own criterion (running reward > 475), by training time
  alone, and keeps training until both criteria are met or ``--time-cap``.

The script pins itself — and so every worker process — to ``--cores`` (default
core 0, ``os.sched_setaffinity``, what ``taskset -c 0`` does), so both frameworks
get the same single core. Env steps/s are real (unmasked) environment steps per
second of training, evaluation and compilation excluded. A PyTorch seed that did
not meet a criterion within the cap is censored: its time is only known to exceed
the cap, and a median that lands on a censored seed is reported as "> cap".

Writes ``docs/data/torch_comparison.json`` and the section between the
``torch`` markers in ``docs/benchmarks.md`` (medians and ratios:
:mod:`jaxpg.run.compare`; the section's text: :mod:`jaxpg.run.compare_report`).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

from jaxpg import files
from jaxpg.run import compare, compare_report, solve_bench, solve_workers
from jaxpg.run.timing import run_json

ROOT = Path(__file__).resolve().parent.parent
JSON_PATH = ROOT / "docs" / "data" / "torch_comparison.json"
INSTALL = compare_report.INSTALL


def require_torch() -> None:
    if importlib.util.find_spec("torch") is None:
        raise SystemExit(
            "PyTorch is not installed; this comparison needs the bench extra:\n"
            f"    {INSTALL}    # torch==2.13.0 (CPU build) + gymnasium"
        )


def torch_run(seed: int, cap: float, eval_every: int) -> dict:
    """One PyTorch seed: ``scripts/torch_reinforce.py`` in a fresh process."""
    cmd = [
        sys.executable,
        str(ROOT / "scripts" / "torch_reinforce.py"),
        "--seed",
        str(seed),
        "--time-cap",
        str(cap),
        "--eval-every",
        str(eval_every),
    ]
    return run_json(cmd)


def write_docs(report: dict) -> None:
    files.write_json(JSON_PATH, report, allow_nan=True)
    files.replace_section(
        ROOT / "docs" / "benchmarks.md",
        compare_report.BEGIN,
        compare_report.END,
        f"{compare_report.BEGIN}\n{compare_report.markdown(report)}"
        f"{compare_report.END}",
        new_page="# Benchmarks\n",
    )


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="4 + 2 seeds, 30 s cap")
    ap.add_argument("--jax-seeds", type=int, default=16)
    ap.add_argument("--torch-seeds", type=int, default=5)
    ap.add_argument("--time-cap", type=float, default=120.0, help="per PyTorch seed")
    ap.add_argument("--torch-eval-every", type=int, default=10, help="episodes")
    ap.add_argument("--cores", default="0", help="core list to pin to, or 'all'")
    ap.add_argument("--no-write", action="store_true", help="print only")
    ap.add_argument(
        "--from-json",
        action="store_true",
        help=f"only re-render docs/benchmarks.md from {JSON_PATH.relative_to(ROOT)}",
    )
    ap.add_argument(
        "--split-only",
        action="store_true",
        help="re-measure only where jaxpg's time goes; merge into the saved report",
    )
    return ap


def pin(cores: str) -> None:
    """Pins this process, and so every worker it starts, to ``cores``."""
    if cores != "all":
        os.sched_setaffinity(0, {int(c) for c in cores.split(",")})


def measure(args: argparse.Namespace) -> dict:
    """Both frameworks' runs and the split of jaxpg's time: the report."""
    jax_seeds = 4 if args.quick else args.jax_seeds
    torch_seeds = 2 if args.quick else args.torch_seeds
    cap = 30.0 if args.quick else args.time_cap

    import gymnasium
    import torch

    report: dict = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "environment": solve_bench.environment(),
        "torch_version": torch.__version__,
        "gymnasium_version": gymnasium.__version__,
        "cores": args.cores,
        "load_start": os.getloadavg(),
        "time_cap_s": cap,
        "torch_eval_every": args.torch_eval_every,
        "threshold": solve_workers.THRESHOLD,
        "eval_episodes": solve_workers.EVAL_EPISODES,
    }
    print(f"jaxpg: {jax_seeds} seeds, cold and warm", flush=True)
    report["jaxpg"] = solve_bench.run_configuration(
        list(range(jax_seeds)), args.cores, "fast", 1, count_steps=True
    )
    report["split"] = compare.split(list(range(min(jax_seeds, 8))))
    report["torch_runs"] = []
    for seed in range(torch_seeds):
        run = torch_run(seed, cap, args.torch_eval_every)
        report["torch_runs"].append(run)
        print(
            f"  torch seed {seed}: eval {run['eval_hit']}, running "
            f"{run['running_hit']}, {run['steps_per_s']:.0f} steps/s",
            flush=True,
        )
    report["load_end"] = os.getloadavg()
    return report


def main() -> None:
    args = build_parser().parse_args()
    if args.split_only:
        # Re-measure only the breakdown and merge it into the saved report.
        require_torch()
        pin(args.cores)
        report = json.loads(JSON_PATH.read_text())
        seeds = list(range(min(len(report["jaxpg"]["cold_runs"]), 8)))
        report["split"] = compare.split(seeds)
        report["summary"] = compare.summarize(report)
        print(compare_report.markdown(report))
        write_docs(report)
        return

    if args.from_json:
        report = json.loads(JSON_PATH.read_text())
        report["summary"] = compare.summarize(report)
        print(compare_report.markdown(report))
        write_docs(report)
        return

    require_torch()
    pin(args.cores)
    report = measure(args)
    report["command"] = "python " + " ".join(
        ["scripts/compare_torch.py", *sys.argv[1:]]
    )
    report["summary"] = compare.summarize(report)
    print(compare_report.markdown(report))
    if not args.no_write:
        write_docs(report)
        print(f"wrote {JSON_PATH.relative_to(ROOT)} and docs/benchmarks.md")


if __name__ == "__main__":
    main()
