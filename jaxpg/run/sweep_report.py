"""What a sweep reports: its progress summary, ``sweep.jsonl`` and the ranked table.

``RUN/sweep.jsonl`` has one row per configuration and seed (the swept values,
``config_index``, ``seed_index``, the final greedy evaluation, env steps);
``RUN/sweep.md`` the configurations ranked by their mean final greedy return
over seeds, with the 95 % Student-t interval of that mean
(:func:`jaxpg.intervals.t_interval`). Both are written atomically.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from jaxpg.files import write_atomic
from jaxpg.intervals import t_interval
from jaxpg.run.sweep import Sweep

__all__ = [
    "SWEEP_ROWS",
    "SWEEP_TABLE",
    "describe",
    "per_config",
    "ranked_table",
    "sweep_rows",
    "write_sweep_results",
]

SWEEP_ROWS = "sweep.jsonl"
SWEEP_TABLE = "sweep.md"


def per_config(values: np.ndarray, sweep: Sweep) -> np.ndarray:
    """Per-state values ``[C · K]`` as ``[C, K]`` (configuration, seed).

    Args:
      values: one value per state, in state order.
      sweep: the sweep.

    Returns:
      The values by configuration and seed.
    """
    return np.asarray(values, np.float64).reshape(sweep.size, sweep.seeds)


def describe(sweep: Sweep) -> Callable[[np.ndarray], str]:
    """The summary the progress line and evaluations show for a sweep.

    Args:
      sweep: the sweep.

    Returns:
      ``values [C · K] -> text``: the best configuration's mean over seeds (and
      which it is), the median and the worst configuration's.
    """

    def text(values: np.ndarray) -> str:
        means = per_config(values, sweep).mean(axis=1)
        if sweep.size == 1:
            return f"return {means[0]:.1f}"
        best = int(np.argmax(means))
        return (
            f"return best {means[best]:.1f} (#{best} {sweep.label(best)}), "
            f"median {np.median(means):.1f}, worst {means.min():.1f} "
            f"of {sweep.size} configs"
        )

    return text


def sweep_rows(
    sweep: Sweep, returns: np.ndarray, env_steps: list[int], update: int
) -> list[dict]:
    """sweep.jsonl's rows: one per configuration and seed.

    Args:
      sweep: the sweep.
      returns: ``[C · K, episodes]`` final greedy returns, in state order.
      env_steps: each state's env steps (Python ints), in state order.
      update: the update the evaluation was made after.

    Returns:
      Rows in configuration, then seed order.
    """
    returns = np.asarray(returns, np.float64)
    rows = []
    for c, values in enumerate(sweep.values):
        for k in range(sweep.seeds):
            m = c * sweep.seeds + k
            row = {"config_index": c, "seed_index": k}
            row.update(zip(sweep.fields, values, strict=True))
            row.update(
                eval_mean_return=float(returns[m].mean()),
                eval_std_return=float(returns[m].std()),
                eval_episodes=int(returns.shape[1]),
                update=update,
                env_steps=int(env_steps[m]),
            )
            rows.append(row)
    return rows


def _finals(sweep: Sweep, rows: list[dict]) -> np.ndarray:
    """``[C, K]`` mean final greedy returns from the rows."""
    finals = np.full((sweep.size, sweep.seeds), np.nan)
    for row in rows:
        finals[row["config_index"], row["seed_index"]] = row["eval_mean_return"]
    return finals


def ranked_table(sweep: Sweep, rows: list[dict]) -> str:
    """The configurations ranked by mean final greedy return, as Markdown.

    Args:
      sweep: the sweep.
      rows: :func:`sweep_rows`' rows.

    Returns:
      The table: rank, configuration index, the swept values, the mean over
      seeds ± the half-width of its 95 % t-interval, and each seed's value.
    """
    finals = _finals(sweep, rows)
    mean, low, high = t_interval(finals.T)
    order = sorted(range(sweep.size), key=lambda c: -mean[c])
    what = (
        f"mean over {sweep.seeds} seeds ± 95% CI"
        if sweep.seeds > 1
        else "1 seed, no interval"
    )
    head = [
        "rank",
        "config",
        *sweep.fields,
        f"final greedy return ({what})",
        "per seed",
    ]
    lines = [
        "| " + " | ".join(head) + " |",
        "|"
        + "|".join(["---:"] * 2 + ["---:"] * len(sweep.fields) + ["---:", ":---"])
        + "|",
    ]
    for rank, c in enumerate(order, 1):
        half = (high[c] - low[c]) / 2
        spread = f" ± {half:.1f}" if sweep.seeds > 1 else ""
        cells = [
            str(rank),
            f"#{c}",
            *(f"{v:.4g}" for v in sweep.values[c]),
            f"{mean[c]:.1f}{spread}",
            ", ".join(f"{v:.1f}" for v in finals[c]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_sweep_results(out: Path, rows: list[dict], table: str, intro: str) -> None:
    """Writes ``RUN/sweep.jsonl`` and ``RUN/sweep.md`` (atomically).

    Args:
      out: the run folder.
      rows: :func:`sweep_rows`' rows.
      table: :func:`ranked_table`'s table.
      intro: the text above the table in sweep.md.
    """
    write_atomic(
        out / SWEEP_ROWS,
        "".join(json.dumps(r, allow_nan=False) + "\n" for r in rows),
        fsync=True,
    )
    write_atomic(out / SWEEP_TABLE, f"{intro}\n\n{table}", fsync=True)
