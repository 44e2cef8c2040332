"""The chunk loop of a training run (:func:`jaxpg.run.train_run`).

The host loop calls one compiled chunk of ``chunk`` updates at a time
(``Trainer.run``, vmapped over seeds when ``seeds > 1``); progress, logging,
evaluation, checkpoints, the NaN check and signal handling all happen between
chunks, never inside the compiled function. Chunk boundaries are the multiples of
``chunk`` (plus the final update), so a run resumed from a checkpoint executes the
same compiled chunks on the same states as an uninterrupted run and ends
bit-identical to it.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, TextIO

import jax
import numpy as np

from jaxpg import checkpoint
from jaxpg.run import console, records
from jaxpg.run.keep import Keeper
from jaxpg.run.options import RunOptions
from jaxpg.run.programs import Programs

__all__ = ["ChunkLoop", "RunSpec"]


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """What a run is: fixed from start to end."""

    config: Any  # the algorithm config
    options: RunOptions
    out: Path  # the run folder
    resume: bool  # continued from out/checkpoint
    primary: bool  # process 0: the one that logs and writes the run folder's files
    mesh: Any  # the mesh the environments are split over, or None
    log: Callable[[str], None]


def _crossed(before: int, after: int, every: int) -> bool:
    return every > 0 and after // every > before // every


class _Kept(NamedTuple):
    """How much of a chunk is good."""

    updates: int  # updates of the chunk whose rows are logged (not the bad one)
    failure: str | None  # what went wrong; None when everything is finite


@dataclasses.dataclass(kw_only=True)
class ChunkLoop:
    """The chunk loop of :func:`train_run` and where it stands.

    ``state`` is the last good TrainState (after update ``done``); the other
    fields are what the summary reports. Only process 0 writes files; every
    process saves the checkpoint (collective).
    """

    spec: RunSpec
    programs: Programs
    writer: Any  # a tensorboardX SummaryWriter, or None
    progress: console.Progress
    state: Any
    done: int
    totals: list[int]  # env steps per seed
    last_checkpoint: int | None
    status: str = "finished"  # as RunOutcome.status
    message: str = ""
    exit_code: int = 0
    last_eval: np.ndarray | None = None  # [seeds, episodes] greedy returns
    last_return: float = math.nan  # mean training return of the last update
    failure: str | None = None  # what stopped a diverged run
    metrics_file: TextIO | None = None  # metrics.jsonl while the loop runs
    keeper: Keeper | None = None  # the kept checkpoints (--keep, --keep-best)
    tracker: Any = None  # a jaxpg.run.tracking.WandbTracker (--wandb), or None
    # Per-state returns [seeds] -> the text the progress line and evaluations
    # show for them (a sweep's best/median configuration); None: their mean.
    describe: Callable[[np.ndarray], str] | None = None

    def save(self) -> None:
        """Checkpoints the state (every process: orbax is collective).

        metrics.jsonl is synced to disk first, so the rows up to the checkpoint
        outlive any crash after it; the checkpoint records the env-step totals.
        """
        if self.metrics_file is not None and self.spec.primary:
            self.metrics_file.flush()
            os.fsync(self.metrics_file.fileno())
        checkpoint.save(
            self.spec.out / "checkpoint",
            self.state,
            self.spec.config,
            extra={"update": self.done, "env_steps_total": self.totals[:]},
        )
        self.last_checkpoint = self.done
        if self.keeper is not None:
            self.keeper.saved(self.done)

    def evaluate(self, announce: bool = True) -> np.ndarray:
        """Evaluates the state greedily; appends the result to evals.jsonl.

        Args:
          announce: also print the result.

        Returns:
          The greedy returns ``[seeds, episodes]``.
        """
        at, seeds, episodes = (
            self.done,
            self.spec.options.seeds,
            self.spec.options.eval_episodes,
        )
        seed = np.uint32(self.spec.options.seed)
        returns = self.programs.evaluate(seed, np.uint32(at), self.state.params)
        returns = np.asarray(jax.device_get(returns))
        row = {
            "update": at,
            "env_steps_total": self.totals[:],
            "mean_return": returns.mean(axis=1).tolist(),
            "std_return": returns.std(axis=1).tolist(),
        }
        if self.spec.primary:
            records.append_eval(self.spec.out, row)
        if self.writer is not None:
            self.writer.add_scalar("eval/mean_return", float(returns.mean()), at)
        if self.tracker is not None:
            self.tracker.evaluation(at, returns)
        if self.keeper is not None:
            score = float(returns.mean())
            self.keeper.evaluated(self.state, self.spec.config, at, self.totals, score)
        means = returns.mean(axis=1)
        per_seed = (
            f" (seeds: {', '.join(f'{m:.1f}' for m in means)})" if seeds > 1 else ""
        )
        if announce and self.describe is not None:
            self.progress.write(
                f"evaluation at update {at} ({episodes} greedy episodes each): "
                f"{self.describe(means)}"
            )
        elif announce:
            self.progress.write(
                f"evaluation at update {at}: greedy return {returns.mean():.1f} ± "
                f"{returns.std():.1f} over {episodes} episodes{per_seed}"
            )
        return returns

    def _check(self, finite: Any, metrics: dict, n: int) -> _Kept:
        """How much of a chunk of ``n`` updates is good (``finite``: the chunk
        program's per-seed check of the new parameters)."""
        seeds = self.spec.options.seeds
        finite = np.asarray(finite).reshape(seeds)
        loss_ok = np.isfinite(np.asarray(metrics["loss"])).all()
        if bool(loss_ok and finite.all()):
            return _Kept(n, None)
        failure = console.describe_failure(metrics, finite, self.done, seeds)
        return _Kept(failure.update - self.done - 1, failure.what)

    def _write_rows(self, file: TextIO, metrics: dict, count: int) -> None:
        """metrics.jsonl rows of the first ``count`` updates after ``done``."""
        seeds = self.spec.options.seeds
        rows = records.metric_rows(metrics, self.done + 1, count, seeds, self.totals)
        records.write_metric_rows(file, rows)

    def _advance(
        self, new_state: Any, metrics: dict, n: int, t_train: float, steps_at_start: int
    ) -> None:
        """Takes a good chunk's state; reports its return and speed."""
        seeds = self.spec.options.seeds
        self.state = new_state
        before, self.done = self.done, self.done + n
        returns = np.asarray(metrics["episode_return"]).reshape(seeds, n)[:, -1]
        self.last_return = float(returns.mean())
        if self.writer is not None:
            console.tensorboard_chunk(self.writer, metrics, seeds, n, before)
        if self.tracker is not None:
            self.tracker.chunk(metrics, seeds, n, before)
        rate = (sum(self.totals) - steps_at_start) / max(
            time.perf_counter() - t_train, 1e-9
        )
        self.progress.update(
            self.done,
            n,
            sum(self.totals) // seeds,
            rate,
            self.last_return,
            None if self.describe is None else self.describe(returns),
        )

    def _solved(self) -> bool:
        """True (after a checkpoint) when the last evaluation reached the target."""
        target = self.spec.options.stop_at_return
        if target is None or not (self.last_eval.mean(axis=1) >= target).all():
            return False
        self.status = "solved"
        self.message = (
            f"stopped early at update {self.done}: the greedy evaluation "
            f"reached --stop-at-return {target:g}"
        )
        self.save()
        return True

    def _stops(self, before: int, signals: console.Signals) -> bool:
        """Evaluates and checkpoints when due after a chunk; True: stop the run.

        A run stops when an evaluation reaches ``stop_at_return`` or a signal has
        come; both save a checkpoint first.
        """
        options, total = self.spec.options, self.spec.config.num_updates
        if _crossed(before, self.done, options.eval_every) and self.done < total:
            self.last_eval = self.evaluate()
            if self._solved():
                return True
        if signals.received is not None:
            self.save()
            self.status, self.exit_code = "interrupted", 128 + signals.received
            self.message = console.interrupted_message(
                signals.received, self.done, total, self.spec.out, self.spec.mesh
            )
            return True
        if self.done == total or _crossed(before, self.done, options.checkpoint_every):
            self.save()
        return False

    def run(self, on_chunk: Callable[[int], None] | None) -> float:
        """Runs chunks until the end, a divergence, an early stop or a signal.

        Closes the progress display.

        Args:
          on_chunk: called with the update count after every good chunk.

        Returns:
          The seconds spent training.
        """
        spec, total = self.spec, self.spec.config.num_updates
        chunk = min(spec.options.chunk, total)
        t_train = time.perf_counter()
        steps_at_start = sum(self.totals)
        metrics_path = spec.out / "metrics.jsonl" if spec.primary else os.devnull
        with (
            console.Signals() as signals,
            open(metrics_path, "a", encoding="utf-8") as metrics_file,
        ):
            self.metrics_file = metrics_file
            while self.done < total:
                before, n = self.done, min(chunk, total - self.done)
                new_state, metrics, finite = self.programs.chunks[n](self.state)
                metrics = jax.device_get(metrics)
                kept = self._check(finite, metrics, n)
                # The rows before a bad update are logged (not the bad update's);
                # the chunk's state is not kept.
                self._write_rows(metrics_file, metrics, kept.updates)
                if kept.failure is not None:
                    self.status, self.exit_code = "diverged", 1
                    self.failure = kept.failure
                    self.message = console.divergence_message(
                        kept.failure, self.last_checkpoint, spec.out
                    )
                    break
                self._advance(new_state, metrics, n, t_train, steps_at_start)
                if on_chunk is not None:
                    on_chunk(self.done)
                if self._stops(before, signals):
                    break
        self.metrics_file = None
        self.progress.close()
        return time.perf_counter() - t_train

    def final_evaluation(self) -> dict | None:
        """summary.json's "eval" (None unless the run finished or was solved).

        A finished run is evaluated once more; a solved one reports the evaluation
        that stopped it.

        Returns:
          :func:`jaxpg.run.records.final_eval`'s entry, or None.
        """
        if self.status == "finished":
            self.last_eval = self.evaluate(announce=False)
        if self.status in ("finished", "solved") and self.last_eval is not None:
            episodes = self.spec.options.eval_episodes
            return records.final_eval(self.last_eval, self.done, episodes)
        return None

    def summary(self, final: dict | None, times: dict[str, float]) -> dict:
        """summary.json: how the run ended, its env steps, returns and timings.

        Args:
          final: :meth:`final_evaluation`'s entry.
          times: seconds: "total", "compile" and "train".

        Returns:
          The JSON-ready summary.
        """
        config, last_return = self.spec.config, self.last_return
        summary = {
            "env_id": config.env_id,
            "status": self.status,
            "updates": self.done,
            "num_updates": config.num_updates,
            "checkpoint_update": self.last_checkpoint,
            "env_steps": self.totals,  # as metrics.jsonl's last rows
            "final_train_return": last_return if math.isfinite(last_return) else None,
            "eval": final,
            "seconds": times,
        }
        if self.failure is not None:
            summary["failure"] = self.failure
        return summary
