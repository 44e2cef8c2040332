"""A run folder's logs read back: ``metrics.jsonl`` and ``evals.jsonl``.

Both are appended between chunks (:mod:`jaxpg.run.records`), one JSON object a
line, and flushed to disk before every checkpoint, so every row up to the
checkpoint's update survives a crash. A line cut by a crash, or damaged
otherwise, is skipped and reported rather than ending the file. On resume
(:func:`trim_for_resume`) both logs keep exactly the rows up to the checkpoint,
and the env-step totals continue from the checkpoint's own count.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jaxpg.files import write_atomic
from jaxpg.run.options import RunError

__all__ = [
    "read_jsonl",
    "read_metric_lines",
    "read_metrics",
    "trim_for_resume",
]


def _count(value: Any, minimum: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _numbered(path: Path) -> tuple[list[tuple[int, dict]], list[int]]:
    """``([(line number, object)], damaged line numbers)`` of a .jsonl file."""
    rows: list[tuple[int, dict]] = []
    damaged: list[int] = []
    if not path.exists():
        return rows, damaged
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError as error:
        raise RunError(f"cannot read {path}: {error}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            row = None
        if isinstance(row, dict):
            rows.append((number, row))
        else:
            damaged.append(number)
    return rows, damaged


def read_jsonl(path: Path) -> tuple[list[dict], list[int]]:
    """The JSON-object lines of ``path``, and the numbers of the other lines.

    Args:
      path: a ``.jsonl`` file (missing: nothing).

    Returns:
      ``(rows, damaged)``: every line that is a JSON object, in order, and the
      1-based numbers of the lines that are not (cut short, garbled, not an
      object); blank lines are neither.

    Raises:
      RunError: ``path`` cannot be read (e.g. it is a directory).
    """
    rows, damaged = _numbered(path)
    return [row for _, row in rows], damaged


def _metric_row_ok(row: dict, seeds: int | None) -> bool:
    return (
        _count(row.get("update"), 1)
        and _count(row.get("seed_index"))
        and (seeds is None or row["seed_index"] < seeds)
        and _count(row.get("env_steps_total"))
    )


def read_metric_lines(
    run_dir: Path, seeds: int | None = None
) -> tuple[list[dict], list[int]]:
    """The well-formed rows of ``RUN/metrics.jsonl`` and the damaged line numbers.

    A row is well formed when ``update`` (>= 1), ``seed_index`` (< ``seeds``
    when given) and ``env_steps_total`` are non-negative integers.

    Args:
      run_dir: the run folder.
      seeds: the run's seed count, when known.

    Returns:
      ``(rows, damaged)`` as :func:`read_jsonl`.
    """
    numbered, damaged = _numbered(Path(run_dir) / "metrics.jsonl")
    rows = [row for _, row in numbered if _metric_row_ok(row, seeds)]
    damaged += [n for n, row in numbered if not _metric_row_ok(row, seeds)]
    return rows, sorted(damaged)


def read_metrics(run_dir: Path) -> list[dict]:
    """The rows of ``RUN/metrics.jsonl`` (damaged lines are skipped).

    Args:
      run_dir: the run folder.

    Returns:
      One dict per update per seed; empty without a metrics.jsonl.
    """
    return read_metric_lines(run_dir)[0]


def _lines(numbers: list[int]) -> str:
    shown = ", ".join(map(str, numbers[:5]))
    return f"line{'s' if len(numbers) > 1 else ''} {shown}" + (
        f" and {len(numbers) - 5} more" if len(numbers) > 5 else ""
    )


def _rewrite(path: Path, rows: list[dict]) -> None:
    write_atomic(
        path, "".join(json.dumps(r, allow_nan=False) + "\n" for r in rows), fsync=True
    )


def _totals_from_rows(
    rows: list[dict], done: int, seeds: int, log: Callable[[str], None]
) -> list[int]:
    """Each seed's env steps at update ``done``, from its row (0 without one)."""
    totals = [0] * seeds
    found = [False] * seeds
    for row in rows:
        if row["update"] == done:
            totals[row["seed_index"]] = row["env_steps_total"]
            found[row["seed_index"]] = True
    if done > 0 and not all(found):
        last = {r["seed_index"]: r for r in rows}
        for s in range(seeds):
            if not found[s] and s in last:
                totals[s] = last[s]["env_steps_total"]
        log(
            f"warning: metrics.jsonl has no row for update {done} (the checkpoint's) "
            "and the checkpoint does not record its env steps: env_steps_total "
            "continues from the last row kept and is too low by the lost updates"
        )
    return totals


def trim_for_resume(
    out: Path,
    done: int,
    seeds: int,
    finished_at: int,
    recorded: list[int] | None,
    log: Callable[[str], None],
    *,
    write: bool = True,
) -> list[int]:
    """Keeps the logs' rows up to the checkpoint; the env-step totals there.

    Rows after update ``done`` are redone by the resumed run and dropped, and so
    are damaged lines (with a warning); a run resumed at its end
    (``done == finished_at``) evaluates once more, so the final evaluation's row
    goes too. The files are rewritten only when something is dropped.

    Args:
      out: the run folder.
      done: the checkpoint's update.
      seeds: seeds in the run.
      finished_at: the run's number of updates.
      recorded: the env steps per seed the checkpoint recorded (None: an older
        checkpoint; then they come from the rows at update ``done``).
      log: where warnings go.
      write: rewrite the files (process 0 only).

    Returns:
      Each seed's env steps up to update ``done``.
    """
    rows, damaged = read_metric_lines(out, seeds)
    kept = [r for r in rows if r["update"] <= done]
    if damaged:
        log(
            f"warning: {out / 'metrics.jsonl'}: {_lines(damaged)} damaged (cut short "
            "by a crash?); dropped"
        )
    if write and (damaged or len(kept) != len(rows)):
        _rewrite(out / "metrics.jsonl", kept)
    evals, bad = read_jsonl(out / "evals.jsonl")
    keep = [
        e
        for e in evals
        if _count(e.get("update"))
        and e["update"] <= done
        and not (e["update"] == done == finished_at)
    ]
    if bad:
        log(f"warning: {out / 'evals.jsonl'}: {_lines(bad)} damaged; dropped")
    if write and (bad or len(keep) != len(evals)):
        _rewrite(out / "evals.jsonl", keep)
    if recorded is not None and len(recorded) == seeds and all(map(_count, recorded)):
        return list(recorded)
    return _totals_from_rows(kept, done, seeds, log)
