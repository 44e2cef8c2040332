"""What a training run writes into its run folder (:mod:`jaxpg.run.folder`).

config.json is written once when a new run starts, with
:func:`jaxpg.checkpoint.config_to_dict` (any registered algorithm's config);
metrics.jsonl and evals.jsonl are appended between chunks; summary.json's
evaluation entry is made here. Whole files go through :mod:`jaxpg.files`'
atomic writer, so an interrupted write leaves the previous file intact.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

import jax
import numpy as np

from jaxpg import checkpoint
from jaxpg.files import write_json
from jaxpg.run.folder import Start
from jaxpg.run.logs import trim_for_resume
from jaxpg.run.options import RunOptions
from jaxpg.version import __version__

__all__ = [
    "append_eval",
    "final_eval",
    "keep_run_options",
    "metric_rows",
    "prepare_run_folder",
    "run_config_json",
    "write_metric_rows",
]


def run_config_json(config: Any, options: RunOptions) -> dict:
    """config.json of a run: the config, the run options and versions.

    Args:
      config: the algorithm config.
      options: the run options.

    Returns:
      A JSON-ready dict.
    """
    run = dataclasses.asdict(options)
    run.update(
        jaxpg_version=__version__,
        jax_version=jax.__version__,
        backend=jax.default_backend(),
    )
    return {**checkpoint.config_to_dict(config), "run": run}


def prepare_run_folder(
    out: Path,
    config: Any,
    options: RunOptions,
    start: Start,
    *,
    resume: bool,
    primary: bool,
    log: Callable[[str], None],
) -> list[int]:
    """Creates ``out``; only process 0 writes its files.

    A resumed run's logs lose the rows after its checkpoint (the loop redoes
    those updates) and any damaged line (:func:`jaxpg.run.logs.trim_for_resume`);
    a new run gets its config.json.

    Args:
      out: the run folder.
      config: the algorithm config.
      options: the run options.
      start: where the run starts (the checkpoint's update and env steps).
      resume: whether the run is resumed.
      primary: whether this is process 0.
      log: where warnings about damaged logs go.

    Returns:
      Each seed's env steps up to update ``start.done``.
    """
    out.mkdir(parents=True, exist_ok=True)
    if not resume:
        if primary:
            write_json(out / "config.json", run_config_json(config, options))
        return [0] * options.seeds
    if primary:
        keep_run_options(out, options)
    return trim_for_resume(
        out,
        start.done,
        options.seeds,
        config.num_updates,
        start.env_steps,
        log if primary else quiet,
        write=primary,
    )


def keep_run_options(out: Path, options: RunOptions) -> None:
    """Saves a resumed run's options in config.json's "run" section.

    Options given on the resume command line (e.g. a new ``--eval-every``) are
    kept for the next ``--resume``; the file is rewritten only when one changed.

    Args:
      out: the run folder (its config.json has been read and checked).
      options: the resumed run's options.
    """
    path = out / "config.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    new = dataclasses.asdict(options)
    if any(data["run"].get(k) != v for k, v in new.items()):
        data["run"].update(new)
        write_json(path, data)


def quiet(text: str) -> None:
    """Drops ``text`` (the log of a process that does not print)."""


def _python(value: Any) -> Any:
    """A numpy scalar as a JSON-ready Python number (non-finite floats → null)."""
    value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def metric_rows(
    metrics: dict, first_update: int, count: int, seeds: int, totals: list[int]
) -> Iterator[dict]:
    """metrics.jsonl rows (one per update per seed) of a chunk's first updates.

    Args:
      metrics: the chunk's metrics on the host (``[n]``, or ``[seeds, n]``).
      first_update: the number of the chunk's first update.
      count: how many of the chunk's updates to write.
      seeds: seeds in the run.
      totals: cumulative real env steps per seed (Python ints): advanced.

    Yields:
      The rows, update by update, seed by seed.
    """
    for i in range(count):
        for s in range(seeds):
            per_seed = (
                {k: v[i] for k, v in metrics.items()}
                if seeds == 1
                else {k: v[s, i] for k, v in metrics.items()}
            )
            totals[s] += int(per_seed["env_steps"])
            row = {
                "update": first_update + i,
                "seed_index": s,
                "env_steps_total": totals[s],
            }
            row.update({k: _python(v) for k, v in sorted(per_seed.items())})
            yield row


def write_metric_rows(file: TextIO, rows: Iterator[dict]) -> None:
    """Appends rows to an open metrics.jsonl (strict JSON) and flushes it (to the
    OS; :meth:`jaxpg.run.loop.ChunkLoop.save` syncs it to disk before a checkpoint).

    Args:
      file: metrics.jsonl opened for appending (or ``os.devnull``).
      rows: :func:`metric_rows`' rows.
    """
    for row in rows:
        file.write(json.dumps(row, allow_nan=False) + "\n")
    file.flush()


def append_eval(out: Path, row: dict) -> None:
    """Appends one evaluation's row to ``RUN/evals.jsonl`` (flushed to disk).

    Args:
      out: the run folder.
      row: the evaluation's update, env steps and returns per seed.
    """
    with open(out / "evals.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()
        os.fsync(f.fileno())


def final_eval(returns: np.ndarray, update: int, episodes: int) -> dict:
    """summary.json's "eval" entry.

    Args:
      returns: ``[seeds, episodes]`` greedy returns.
      update: the update they were measured after.
      episodes: episodes per seed.

    Returns:
      Mean, spread and extremes over all episodes, and each seed's mean.
    """
    return {
        "update": update,
        "episodes": episodes,
        "deterministic": True,
        "mean_return": float(returns.mean()),
        "std_return": float(returns.std()),
        "min_return": float(returns.min()),
        "max_return": float(returns.max()),
        "per_seed_mean": returns.mean(axis=1).tolist(),
    }
