"""Weights & Biases beside TensorBoard: ``scripts/train.py --wandb PROJECT``.

A run logs to W&B what it logs to TensorBoard, under the same names: every
metric of every update as ``train/<name>`` (the mean over seeds) and each greedy
evaluation as ``eval/mean_return`` and ``eval/std_return``, all against the
metric ``update`` (not W&B's own step, so a resumed run may log an update
again); the config is config.json's content, and the summary gets how the run
ended. The W&B run's files go into ``RUN/wandb/``; its id is kept in
``RUN/wandb.json`` so that ``--resume`` continues the same W&B run.
``WANDB_MODE=offline`` logs without a network (``wandb sync RUN/wandb/...``
uploads it later). wandb is an optional extra (``pip install "jaxpg[wandb]"``),
imported only when a run asks for it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from jaxpg.files import write_json
from jaxpg.run.options import RunError, RunOptions
from jaxpg.run.records import run_config_json

__all__ = ["INSTALL", "WandbTracker", "check_wandb"]

INSTALL = 'pip install "jaxpg[wandb]"'
ID_FILE = "wandb.json"


def check_wandb() -> None:
    """RunError when ``--wandb`` cannot work (before anything is compiled)."""
    try:
        import wandb  # noqa: F401
    except ImportError:
        raise RunError(
            "--wandb needs the wandb package, which is not installed "
            f"({INSTALL}); metrics.jsonl is written either way"
        ) from None


def _stored_id(out: Path, project: str) -> str | None:
    """The W&B run id a resumed run continues (None: a new W&B run)."""
    try:
        data = json.loads((out / ID_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(data, dict) and data.get("project") == project:
        run_id = data.get("id")
        return run_id if isinstance(run_id, str) else None
    return None


class WandbTracker:
    """One W&B run for one jaxpg run (process 0 only).

    Args:
      out: the run folder (created).
      config: the algorithm config.
      options: the run options (``options.wandb`` is the project).
      resume: continue the W&B run recorded in ``RUN/wandb.json``, if any.

    Raises:
      RunError: W&B could not start a run (not logged in, no network);
        jaxpg.run.train_run starts it before compiling and writing anything.
    """

    def __init__(self, out: Path, config: Any, options: RunOptions, resume: bool):
        import wandb

        project = options.wandb
        try:
            self.run = wandb.init(
                project=project,
                dir=str(out),
                name=Path(out).absolute().name,
                id=_stored_id(out, project) if resume else None,
                resume="allow",
                config=run_config_json(config, options),
                settings=wandb.Settings(console="off"),
            )
        except Exception as error:  # wandb's own errors: no login, no network, ...
            raise RunError(
                f"--wandb {project}: could not start a W&B run ({error}); log in "
                "with `wandb login`, or set WANDB_MODE=offline to log without a "
                "network"
            ) from None
        write_json(out / ID_FILE, {"project": project, "id": self.run.id})
        self.run.define_metric("update")
        self.run.define_metric("*", step_metric="update")

    def chunk(self, metrics: dict, seeds: int, n: int, before: int) -> None:
        """Logs every metric of a chunk's updates (the mean over seeds).

        Args:
          metrics: the chunk's metrics on the host (``[n]`` or ``[seeds, n]``).
          seeds: seeds in the run.
          n: updates in the chunk.
          before: updates done before the chunk (the first is ``before + 1``).
        """
        means = {
            k: np.asarray(v).reshape(seeds, n).astype(float).mean(axis=0)
            for k, v in metrics.items()
        }
        for i in range(n):
            row = {f"train/{k}": float(v[i]) for k, v in means.items()}
            self.run.log({"update": before + i + 1, **row})

    def evaluation(self, update: int, returns: np.ndarray) -> None:
        """Logs a greedy evaluation.

        Args:
          update: the update it was measured after.
          returns: ``[seeds, episodes]`` greedy returns.
        """
        self.run.log(
            {
                "update": update,
                "eval/mean_return": float(returns.mean()),
                "eval/std_return": float(returns.std()),
            }
        )

    def finish(self, summary: dict, exit_code: int) -> None:
        """Puts summary.json's status, updates and final evaluation in the W&B
        summary and ends the W&B run.

        Args:
          summary: the run's summary.json content.
          exit_code: what the script exits with.
        """
        self.run.summary["status"] = summary["status"]
        self.run.summary["updates"] = summary["updates"]
        if summary.get("eval") is not None:
            self.run.summary["final_eval_mean_return"] = summary["eval"]["mean_return"]
        self.run.finish(exit_code=exit_code)
