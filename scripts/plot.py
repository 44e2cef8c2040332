"""Learning curves of one or more run folders (written by scripts/train.py) as a PNG.

    python scripts/plot.py runs/ppo runs/a2c --out curves.png

For each run: the mean over its seeds of a metric (default ``episode_return``, the
mean return of the episodes that finished in each update) against cumulative
environment steps, with a 95% confidence interval of that mean across seeds
(Student t, seed curves interpolated onto a common grid of env steps; no band for
a single seed). Several runs share one figure. A sweep's run folder
(``train.py --sweep``, with RUN/sweep.json) gives one curve per configuration,
labelled with its swept values (each configuration's seeds make its band).

Exit status 2 for bad input, before anything is drawn (no run folder, no usable
rows, an unknown --metric, an --out that cannot be written); damaged rows are
skipped with a warning.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from jaxpg.intervals import t_interval
from jaxpg.run import RunError, algorithm_label, check_output_file, read_run_config
from jaxpg.run.logs import read_metric_lines
from jaxpg.run.sweep import read_sweep


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="plot.py", description="Plot learning curves of run folders."
    )
    parser.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("learning_curves.png"),
        help="PNG to write (default: learning_curves.png)",
    )
    parser.add_argument(
        "--metric",
        default="episode_return",
        help="a column of metrics.jsonl (default: episode_return)",
    )
    parser.add_argument(
        "--labels",
        nargs="+",
        default=None,
        help="legend labels, one per RUN_DIR (default: algorithm, seeds, folder)",
    )
    parser.add_argument(
        "--smooth",
        type=int,
        default=1,
        help="moving average over this many updates before averaging seeds "
        "(default: 1, none)",
    )
    parser.add_argument("--title", default=None, help="figure title")
    return parser


def seed_curves(rows: list[dict], metric: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per seed index: (cumulative env steps, metric) arrays, in update order."""
    by_seed: dict[int, list[dict]] = {}
    for row in rows:
        by_seed.setdefault(row.get("seed_index", 0), []).append(row)
    curves = []
    for _, own in sorted(by_seed.items()):
        own.sort(key=lambda r: r["update"])
        x = np.array([r["env_steps_total"] for r in own], dtype=float)
        y = np.array(
            [np.nan if r.get(metric) is None else r[metric] for r in own], dtype=float
        )
        curves.append((x, y))
    return curves


def _number(value: object) -> bool:
    return value is None or (
        isinstance(value, (int, float)) and not isinstance(value, bool)
    )


def usable_rows(rows: list[dict], metric: str) -> tuple[list[dict], int]:
    """The rows whose ``metric`` (when present) is a number or null, and how many
    others there were (a string or a list there cannot be plotted)."""
    good = [r for r in rows if _number(r.get(metric))]
    return good, len(rows) - len(good)


def save_figure(fig, out: Path) -> None:
    """Writes ``fig`` to exactly ``out`` (atomically).

    The format is the suffix's when matplotlib knows it, PNG otherwise:
    matplotlib itself would append ".png" to a name without a suffix.
    """
    suffix = out.suffix[1:].lower()
    fmt = suffix if suffix in fig.canvas.get_supported_filetypes() else "png"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial")
    try:
        fig.savefig(tmp, format=fmt)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def smooth(y: np.ndarray, width: int) -> np.ndarray:
    """Trailing moving average (the first values average what there is)."""
    if width <= 1:
        return y
    cumulative = np.cumsum(np.insert(y, 0, 0.0))
    end = np.arange(1, len(y) + 1)
    begin = np.maximum(0, end - width)
    return (cumulative[end] - cumulative[begin]) / (end - begin)


def mean_and_interval(curves, points: int = 200):
    """(grid, mean, low, high): the seeds' mean on a common env-step grid, 95% CI
    (:func:`jaxpg.intervals.t_interval`; no band for a single seed)."""
    start = max(x[0] for x, _ in curves)
    stop = min(x[-1] for x, _ in curves)
    grid = np.linspace(start, stop, points) if stop > start else np.array([start])
    values = np.stack([np.interp(grid, x, y) for x, y in curves])
    mean, low, high = t_interval(values)
    return grid, mean, low, high


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.labels is not None and len(args.labels) != len(args.run_dirs):
        parser.error(
            f"--labels needs one label per RUN_DIR ({len(args.run_dirs)}); got "
            f"{len(args.labels)}"
        )
    if not 1 <= args.smooth <= 2**31 - 1:
        parser.error(
            f"--smooth must be an integer >= 1 and <= {2**31 - 1}; got {args.smooth}"
        )
    try:
        check_output_file(args.out, "--out")
    except RunError as error:
        parser.error(str(error))
    runs = []
    for i, run_dir in enumerate(args.run_dirs):
        try:
            config, _ = read_run_config(run_dir)
            rows, damaged = read_metric_lines(run_dir)
        except RunError as error:
            parser.error(str(error))
        rows, unusable = usable_rows(rows, args.metric)
        if damaged or unusable:
            print(
                f"plot.py: warning: {run_dir}/metrics.jsonl: skipped "
                f"{len(damaged) + unusable} damaged row(s)"
                + (f" (lines {', '.join(map(str, damaged[:5]))})" if damaged else ""),
                file=sys.stderr,
            )
        if not rows:
            if damaged or unusable:
                parser.error(f"{run_dir}/metrics.jsonl has no usable rows")
            parser.error(f"{run_dir} has no metrics.jsonl rows yet")
        if args.metric not in rows[0]:
            names = ", ".join(sorted(k for k in rows[0] if k != "seed_index"))
            parser.error(f"--metric {args.metric}: not in {run_dir}; known: {names}")
        try:
            sweep = read_sweep(run_dir)
        except RunError as error:
            parser.error(str(error))
        groups = [(None, rows)]
        if sweep is not None:  # seed_index m is configuration m // K, seed m % K
            groups = [
                (c, [r for r in rows if r["seed_index"] // sweep.seeds == c])
                for c in range(sweep.size)
            ]
        for c, own in groups:
            curves = [
                (x, smooth(y, args.smooth)) for x, y in seed_curves(own, args.metric)
            ]
            if not curves:
                continue
            seeds = len(curves)
            label = (
                args.labels[i]
                if args.labels
                else f"{algorithm_label(config)}, {seeds} seed"
                + ("s" if seeds > 1 else "")
                + f" ({run_dir.name})"
            )
            if c is not None:
                name = args.labels[i] if args.labels else run_dir.name
                label = f"{sweep.label(c)}, {seeds} seed{'s' * (seeds > 1)} ({name})"
            runs.append((label, config, curves))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    for label, _, curves in runs:
        grid, mean, low, high = mean_and_interval(curves)
        (line,) = ax.plot(grid, mean, label=label, linewidth=1.6)
        if len(curves) > 1:
            ax.fill_between(grid, low, high, color=line.get_color(), alpha=0.25, lw=0)
    env_ids = sorted({config.env_id for _, config, _ in runs})
    ax.set_xlabel("environment steps")
    ax.set_ylabel(args.metric.replace("_", " "))
    ax.set_title(args.title or " / ".join(env_ids))
    ax.grid(alpha=0.3)
    band = any(len(c) > 1 for _, _, c in runs)
    ax.legend(
        loc="best",
        fontsize="small",
        title="shaded: 95% CI of the seed mean" if band else None,
        title_fontsize="x-small",
    )
    fig.tight_layout()
    try:
        save_figure(fig, args.out)
    except OSError as error:
        print(f"plot.py: error: --out {args.out}: {error}", file=sys.stderr)
        return 1
    finally:
        plt.close(fig)
    for label, _, curves in runs:
        finals = [y[-1] for _, y in curves]
        print(
            f"{label}: final {args.metric} {np.mean(finals):.1f} "
            f"(seeds {', '.join(f'{v:.1f}' for v in finals)}) after "
            f"{int(np.mean([x[-1] for x, _ in curves])):,} env steps"
        )
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
