"""Throughput, compile-time and seed-batching benchmark (issue 5, items 1-5).

    python scripts/benchmark.py                      # CartPole-v1, all num_envs
    python scripts/benchmark.py --quick              # fewer num_envs, repeats, seeds
    python scripts/benchmark.py --num-envs 1,64,1024 --all-envs

For each environment (CartPole-v1; with ``--all-envs`` also Pendulum-v1 and
Breakout-MinAtar) and each ``num_envs`` N:

1. env ceiling: steps/s of ``lax.scan`` over ``jax.vmap(env.step)`` of the raw
   gymnax environment with random actions (fixed length, gymnax's auto-reset);
2. rollout ceiling: the same loop on ``jaxpg.make_env``'s environment with
   ``jaxpg.make_policy(ReinforceConfig())`` (hidden sizes (32, 32)) choosing the
   action (forward pass + sampling), no learning;
3. training: ``jaxpg.make_trainer`` of REINFORCE (computed steps/s from
   ``metrics["computed_steps"]``, real steps/s from ``metrics["env_steps"]``, masked
   fraction 1 - real/computed) at an untrained policy (the first updates from
   ``init``) and at a trained one (parameters of a CartPole policy trained to a
   return of ~500, loaded into the N-env trainer); A2C and PPO with their default
   configs except ``num_envs`` (steps/s from ``metrics["env_steps"]``).

Every timed function is compiled first with ``jaxpg.jit(f).lower(...).compile()``
(its compile time is recorded apart) and then called ``--repeats`` times with
``block_until_ready``; the median is reported. Each measurement runs in a fresh
worker process (:mod:`jaxpg.run.bench_workers`); env and rollout ceilings for
N <= 256 are also measured in a worker pinned to core 0.

4. compile time of the default ``make_train`` functions (REINFORCE, A2C, PPO),
   ``jaxpg.jit(train).lower(key)`` and ``.compile()`` timed apart, each in a fresh
   process: cold (empty persistent cache directory) and warm (the same directory,
   populated by the cold process; ``jax_persistent_cache_min_compile_time_secs=0``,
   ``jax_persistent_cache_min_entry_size_bytes=-1``).
5. seeds: wall of ``jax.vmap(train)`` over K seeds (K = 1, 8, 32) at
   ``num_envs=64`` against one seed with K x 64 environments, compared per
   computed environment step.

Writes ``docs/data/benchmark.json`` and the section between the throughput
markers in ``docs/benchmarks.md`` (its text: :mod:`jaxpg.run.bench_report`).

``--sweep`` measures only what a sweep (``train.py --sweep``) of C configurations
× K seeds costs against one run with C·K× the environments
(:mod:`jaxpg.run.bench_sweep`), and writes ``docs/data/benchmark_sweep.json`` and
the section between the sweep_cost markers of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from jaxpg import files
from jaxpg.run import bench, bench_report, bench_sweep

ROOT = Path(__file__).resolve().parent.parent
BEGIN = "<!-- throughput:begin -->"
END = "<!-- throughput:end -->"
PNG = ROOT / "docs" / "img" / bench_report.PNG_NAME
JSON = ROOT / "docs" / "data" / "benchmark.json"
ALL_ENVS = ("CartPole-v1", "Pendulum-v1", "Breakout-MinAtar")
NUM_ENVS = (1, 16, 64, 256, 1024, 4096)
QUICK_NUM_ENVS = (1, 64, 1024)


# (label, row key, value key, matplotlib style) of each line in the PNG.
SERIES = (
    ("env ceiling (random actions)", "env", "steps_per_s", "k-"),
    ("rollout ceiling (policy, no learning)", "rollout", "steps_per_s", "k--"),
    (
        "REINFORCE computed, untrained",
        "reinforce_untrained",
        "computed_steps_per_s",
        "C0-o",
    ),
    ("REINFORCE real, untrained", "reinforce_untrained", "real_steps_per_s", "C0:o"),
    (
        "REINFORCE computed, trained",
        "reinforce_trained",
        "computed_steps_per_s",
        "C1-s",
    ),
    ("REINFORCE real, trained", "reinforce_trained", "real_steps_per_s", "C1:s"),
    ("A2C", "a2c", "real_steps_per_s", "C2-^"),
    ("PPO", "ppo", "real_steps_per_s", "C3-v"),
)


def plot(report: dict, path: Path) -> None:
    """Steps/s against num_envs (log-log), one panel per environment."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    envs = list(report["throughput"])
    fig, axes = plt.subplots(
        1,
        len(envs),
        figsize=(max(6.4, 4.6 * len(envs)), 4.8),
        squeeze=False,
        sharey=True,
    )
    for ax, env_id in zip(axes[0], envs, strict=True):
        rows = {
            int(n): r for n, r in report["throughput"][env_id].items() if n.isdigit()
        }
        ns = sorted(rows)
        for label, key, field, style in SERIES:
            pts = [(n, rows[n][key][field]) for n in ns if key in rows[n]]
            if pts:
                x, y = zip(*pts, strict=True)
                ax.plot(x, y, style, label=label, markersize=4)
        ax.set_xscale("log", base=2)
        ax.set_xticks(ns, [str(n) for n in ns])
        ax.minorticks_off()
        ax.set_yscale("log")
        ax.set_title(env_id)
        ax.set_xlabel("num_envs")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("environment steps / s")
    handles, labels = {}, []
    for ax in axes[0]:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in handles:
                handles[lab] = h
                labels.append(lab)
    ncol = min(4, 2 * len(envs))
    fig.legend(
        [handles[lab] for lab in labels],
        labels,
        loc="lower center",
        ncol=ncol,
        fontsize=7,
        frameon=False,
    )
    env = report["environment"]
    fig.suptitle(
        f"jaxpg throughput, {env['processor']} {env['cpu_count']} cores "
        f"({env['device']}), jax {env['jax']}, {env['date']}",
        fontsize=9,
    )
    fig.tight_layout(rect=(0, 0.045 * -(-len(labels) // ncol) + 0.02, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_docs(report: dict, command: str) -> None:
    files.write_json(JSON, report, allow_nan=True)
    plot(report, PNG)
    files.replace_section(
        ROOT / "docs" / "benchmarks.md",
        BEGIN,
        END,
        f"{BEGIN}\n{bench_report.markdown(report, command)}{END}",
        new_page="# Benchmarks\n",
    )


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--num-envs", default=None, help="comma-separated list")
    ap.add_argument("--all-envs", action="store_true", help="+Pendulum, MinAtar")
    ap.add_argument(
        "--envs", default=None, help="comma-separated env ids (overrides --all-envs)"
    )
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--no-seeds", action="store_true", help="skip the seeds table")
    ap.add_argument("--no-compile", action="store_true", help="skip compile times")
    ap.add_argument("--no-docs", action="store_true")
    ap.add_argument(
        "--from-json",
        action="store_true",
        help="only re-render docs/benchmarks.md from docs/data/benchmark.json",
    )
    ap.add_argument(
        "--plot-only",
        nargs="?",
        const="-",
        default=None,
        metavar="PNG",
        help="only render the PNG (default docs/img/benchmark-throughput.png) "
        "from --json, without measuring",
    )
    ap.add_argument("--json", default=str(JSON), help="the report --plot-only reads")
    ap.add_argument(
        "--sweep",
        action="store_true",
        help="only the sweep cost (C configs x K seeds vs C*K x the envs); writes "
        "docs/data/benchmark_sweep.json and its section of docs/benchmarks.md",
    )
    ap.add_argument(
        "--sweep-shapes",
        default=None,
        metavar="CxK,...",
        help="the (configurations x seeds) of --sweep (default: 4x2,8x4)",
    )
    return ap


SWEEP_BEGIN = "<!-- sweep_cost:begin -->"
SWEEP_END = "<!-- sweep_cost:end -->"
SWEEP_JSON = ROOT / "docs" / "data" / "benchmark_sweep.json"


def sweep_main(args: argparse.Namespace, ap: argparse.ArgumentParser) -> None:
    """``--sweep``: measure, print and (unless --no-docs) write the sweep cost."""
    shapes = [list(bench_sweep.SWEEP_SHAPES[i]) for i in range(2)]
    if args.sweep_shapes:
        try:
            shapes = [
                [int(v) for v in s.split("x")] for s in args.sweep_shapes.split(",")
            ]
        except ValueError:
            shapes = []
        if not shapes or any(len(s) != 2 or min(s) < 1 for s in shapes):
            ap.error(
                f"--sweep-shapes: expected CxK,... (e.g. 4x2,8x4); got "
                f"{args.sweep_shapes!r}"
            )
    if args.repeats is not None and args.repeats < 1:
        ap.error(f"--repeats must be >= 1; got {args.repeats}")
    report = bench_sweep.measure_sweep(shapes, args.repeats or 3)
    command = "python " + " ".join(["scripts/benchmark.py", *sys.argv[1:]])
    report["command"] = command
    section = bench_sweep.sweep_section(report, command)
    print(section)
    if not args.no_docs:
        files.write_json(SWEEP_JSON, report)
        files.replace_section(
            ROOT / "docs" / "benchmarks.md",
            SWEEP_BEGIN,
            SWEEP_END,
            f"{SWEEP_BEGIN}\n{section}{SWEEP_END}",
            new_page="# Benchmarks\n",
        )
        print(f"wrote {SWEEP_JSON.relative_to(ROOT)} and docs/benchmarks.md")


def main() -> None:
    ap = build_parser()
    args = ap.parse_args()
    if args.sweep:
        sweep_main(args, ap)
        return
    if args.plot_only:
        out = Path(args.plot_only) if args.plot_only != "-" else PNG
        plot(json.loads(Path(args.json).read_text()), out)
        print(f"wrote {out}")
        return

    if args.from_json:
        report = json.loads(JSON.read_text())
        command = report.setdefault("command", "python scripts/benchmark.py")
        print(bench_report.markdown(report, command))
        write_docs(report, command)
        return

    if args.num_envs:
        ns = [int(x) for x in args.num_envs.split(",")]
    else:
        ns = list(QUICK_NUM_ENVS if args.quick else NUM_ENVS)
    if args.envs:
        envs = tuple(args.envs.split(","))
    else:
        envs = ALL_ENVS if args.all_envs else ALL_ENVS[:1]
    report = bench.measure(
        envs,
        ns,
        args.repeats or 3,
        compile_times=not args.no_compile,
        seeds=None if args.no_seeds else ([1, 8] if args.quick else [1, 8, 32]),
        seed_updates=5 if args.quick else 10,
    )
    command = "python " + " ".join(["scripts/benchmark.py", *sys.argv[1:]])
    report["command"] = command
    print(bench_report.markdown(report, command))
    if not args.no_docs:
        write_docs(report, command)
        print("wrote docs/data/benchmark.json and docs/benchmarks.md")


if __name__ == "__main__":
    main()
