"""Multi-seed results of every tuned preset: docs/results.md, its plots and data.

    python scripts/results.py                                   # everything (≈ 30 min, 2 CPUs)
    python scripts/results.py --envs Acrobot-v1 --algos ppo     # one row, merged in
    python scripts/results.py --quick --envs CartPole-v1 --algos ppo --out /tmp/r
    python scripts/results.py --envs MountainCar-v0 --set entropy_coef=0.0 --tag no-entropy

For each environment and each algorithm with a preset (:func:`jaxpg.tuned_config`),
``--seeds`` seeds are trained by ONE compiled call
(:func:`jaxpg.run.results.run_one`): ``jax.vmap`` over the seeds' keys of a
function that trains (the preset's ``num_updates``, cut into ``--evals``
chunks), runs a greedy evaluation of ``--eval-episodes`` episodes after each chunk,
and finishes with a greedy evaluation of ``--final-episodes`` episodes. On the host:

* final return: the mean of each seed's final evaluation; the table gives the mean
  over seeds with a 95 % percentile-bootstrap interval (``--resamples`` resamples of
  the seeds, ``numpy.random.default_rng(0)``);
* steps to threshold: the environment steps (summed on the host in int64) up to the
  end of the first chunk whose periodic greedy evaluation reaches the threshold —
  so the resolution is one chunk; the median is over the seeds that got there;
* wall to threshold: the run's execution time (compile excluded) times the share of
  environment steps done by then (the seeds run together, so per-seed time is not
  separable);
* total wall: everything for that row, compilation included; compile time is
  reported separately.

``--set FIELD=VALUE ... --tag NAME`` runs an experiment: the presets with those
fields changed, reported in a separate table (e.g. what MountainCar-v0 needs).
Rows are merged into ``OUT/data/results.json`` by (env, algo, tag), so a subset can
be regenerated; ``OUT/results.md`` is rewritten between its ``results:begin`` /
``results:end`` markers from all rows (text outside them is kept), and
``OUT/img/results-<env>.png`` is redrawn for every environment that ran.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import jax
import numpy as np

import jaxpg
from jaxpg import files, intervals, presets
from jaxpg.algorithms import registry
from jaxpg.run import cache, results, results_report

# Environments whose plots also draw the experiments (dashed): there the
# feed-forward run (--set memory_size=0 --tag feed-forward) is the comparison.
MEMORY_ENVS = ("MemoryChain-bsuite", "MetaMaze-misc")


def plot_env(path: Path, env_id: str, rows: list[dict]) -> None:
    """The learning curves of ``env_id``'s rows, with their bands, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)

    def order(r):
        return (r.get("tag") or "", registry.names().index(r["algo"]))

    for r in sorted(rows, key=order):
        c = r["curve"]
        x = np.asarray(c["env_steps"])
        mean, lo, hi = (
            np.array([np.nan if v is None else v for v in c[k]], np.float64)
            for k in ("mean", "lo", "hi")
        )
        tag = f", {r['tag']}" if r.get("tag") else ""
        style = "--" if r.get("tag") else "-"
        label = f"{r['label']}{tag} ({r['seeds']} seeds)"
        (line,) = ax.plot(x, mean, style, label=label)
        ax.fill_between(x, lo, hi, alpha=0.25, color=line.get_color())
    threshold = results.THRESHOLDS.get(env_id)
    if threshold is not None:
        ax.axhline(threshold, color="k", linestyle=":", linewidth=1)
    ax.set_xlabel("environment steps per seed")
    ax.set_ylabel("training episode return")
    ax.set_title(env_id)
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    settings = results.Settings(
        **{name: getattr(args, name) for name in results.Settings._fields}
    )
    if not args.no_cache:
        cache.enable_compilation_cache(cache.default_cache_dir())
    data_path = args.out / "data" / "results.json"
    data = load_data(data_path, args.resamples)
    jobs = [(e, a) for e in args.envs for a in args.algos if (a, e) in presets.PRESETS]
    t_all = time.perf_counter()
    for i, (env_id, algo) in enumerate(jobs, 1):
        print(
            f"[{i}/{len(jobs)}] {registry.get(algo).label} on {env_id}: "
            f"{args.seeds} seeds ...",
            flush=True,
        )
        row = results.run_one(env_id, algo, settings)
        print_row(row)
        data["rows"] = [
            r
            for r in data["rows"]
            if (r["env"], r["algo"], r.get("tag")) != (env_id, algo, args.tag)
        ] + [row]
        write_outputs(args.out, data, env_id)
    print(
        f"wrote {args.out / 'results.md'}, {data_path} and "
        f"{args.out / 'img'}/results-*.png in {time.perf_counter() - t_all:.0f} s"
    )
    return 0


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line, checked; adds ``overrides`` (from ``--set``), ``command``
    and ``date``, and shrinks the evaluation sizes under ``--quick``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.overrides = {}
    for item in args.set:
        field, sep, text = item.partition("=")
        if not sep:
            parser.error(f"--set: expected FIELD=VALUE; got {item!r}")
        try:
            args.overrides[field] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            args.overrides[field] = text
    if bool(args.set) != bool(args.tag):
        parser.error("--set and --tag go together (an experiment has a name)")
    if args.seeds < 2:
        parser.error("--seeds must be >= 2 (an interval across seeds needs two)")
    unknown = [e for e in args.envs if not any(e == k[1] for k in presets.PRESETS)]
    if unknown:
        parser.error(
            f"--envs: no presets for {', '.join(unknown)}; known: {', '.join(results_report.ENVS)}"
        )
    if args.quick:
        args.evals = min(args.evals, 2)
        args.eval_episodes = min(args.eval_episodes, 3)
        args.final_episodes = min(args.final_episodes, 5)
        args.resamples = min(args.resamples, 1000)
    args.command = "python scripts/results.py " + shlex.join(argv)
    args.date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
    return args


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="results.py", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--envs", nargs="+", default=list(results_report.ENVS), metavar="ENV_ID"
    )
    algos = registry.names()
    parser.add_argument(
        "--algos", nargs="+", default=list(algos), choices=algos, metavar="ALGO"
    )
    parser.add_argument("--seeds", type=int, default=8, help="(default: 8)")
    parser.add_argument(
        "--seed", type=int, default=0, help="base PRNG seed (default 0)"
    )
    parser.add_argument(
        "--evals", type=int, default=10, help="periodic greedy evaluations (default 10)"
    )
    parser.add_argument("--eval-episodes", type=int, default=10, help="(default: 10)")
    parser.add_argument("--final-episodes", type=int, default=100, help="(default 100)")
    parser.add_argument(
        "--resamples", type=int, default=10_000, help="bootstrap resamples (10000)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a tiny run (num_updates from --quick-updates, fewer episodes) to test "
        "the script, not to measure anything",
    )
    parser.add_argument("--quick-updates", type=int, default=4, help=argparse.SUPPRESS)
    parser.add_argument(
        "--out", type=Path, default=Path("docs"), help="docs folder (default: docs)"
    )
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="FIELD=VALUE",
        help="an experiment: change these config fields of every preset run (Python "
        "literals); needs --tag, and the rows go to the experiments table",
    )
    parser.add_argument("--tag", default=None, help="name of a --set experiment")
    return parser


def load_data(path: Path, resamples: int) -> dict:
    """The rows already in ``path`` (none if it is missing) and this run's meta."""
    data = {"rows": []}
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
    data["meta"] = {
        "jax_version": jax.__version__,
        "jaxpg_version": jaxpg.__version__,
        "backend": jax.default_backend(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(terse=True),
        "resamples": resamples,
        "bootstrap_seed": 0,
        "ci_level": intervals.CI_LEVEL,
    }
    return data


def print_row(row: dict) -> None:
    """The one-line summary of a finished row."""
    lo, hi = row["final_ci"]
    solved = (
        f", solved {row['solved_seeds']}/{row['seeds']}"
        if row["threshold"] is not None
        else ""
    )
    print(
        f"    final return {row['final_mean']:.1f} [{lo:.1f}, {hi:.1f}]{solved}; "
        f"{np.mean(row['env_steps_per_seed']):.3g} steps/seed; compile "
        f"{row['compile_s']:.1f} s, run {row['run_s']:.1f} s "
        f"({row['steps_per_s']:,.0f} steps/s), total {row['total_s']:.1f} s",
        flush=True,
    )


def write_outputs(out: Path, data: dict, env_id: str) -> None:
    """results.json, the plot of ``env_id`` and the page, from all rows so far."""
    (out / "data").mkdir(parents=True, exist_ok=True)
    (out / "img").mkdir(parents=True, exist_ok=True)
    files.write_json(out / "data" / "results.json", data, indent=1, allow_nan=True)
    plot_env(
        out / "img" / f"results-{env_id}.png",
        env_id,
        [
            r
            for r in data["rows"]
            if r["env"] == env_id and (not r.get("tag") or env_id in MEMORY_ENVS)
        ],
    )
    results_report.write_markdown(out / "results.md", data)


if __name__ == "__main__":
    sys.exit(main())
