"""What a run shows and hears: progress, messages, signals and TensorBoard.

Everything here is on the host between compiled chunks. Only process 0 of a
multi-process run prints (the others get :func:`quiet` and ``"off"`` progress).
"""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

from jaxpg.algorithms import registry
from jaxpg.run.folder import resume_command
from jaxpg.run.options import RunError, RunOptions

__all__ = [
    "Failure",
    "Progress",
    "Signals",
    "algorithm_label",
    "check_tensorboard",
    "describe_failure",
    "divergence_message",
    "final_eval_text",
    "header",
    "interrupted_message",
    "quiet",
    "seconds",
    "tensorboard_chunk",
    "tensorboard_writer",
]


def seconds(s: float) -> str:
    """A duration for people: ``"2.3 s"``, or ``"40 ms"`` under 0.1 s.

    Args:
      s: seconds.

    Returns:
      The text.
    """
    return f"{s:.1f} s" if s >= 0.1 else f"{s * 1000:.0f} ms"


def quiet(text: str) -> None:
    """The log of every process but process 0."""


def algorithm_label(config: Any) -> str:
    """How output spells the algorithm of ``config`` (its registry label).

    Args:
      config: an algorithm config.

    Returns:
      The registered label (e.g. ``"PPO"``), or the class name of a config that
      is not registered.
    """
    try:
        return registry.for_config(config).label
    except TypeError:
        return type(config).__name__


# ------------------------------------------------------------------------ signals


class Signals:
    """Records SIGINT/SIGTERM so the loop can stop after the current chunk."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        self.received = signum
        # A second signal acts immediately: the handler from before, or the
        # default one where that ignored the signal (a background job of a
        # non-interactive shell starts with SIGINT ignored).
        for sig, handler in self._previous.items():
            keep = handler not in (signal.SIG_IGN, None)
            signal.signal(sig, handler if keep else signal.SIG_DFL)
        print(
            f"\n{signal.Signals(signum).name} received: finishing the current chunk, "
            "then saving a checkpoint (send it again to stop at once)",
            file=sys.stderr,
            flush=True,
        )

    def __enter__(self) -> Signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            # Outside the main thread signals cannot be caught: leave them alone.
            with contextlib.suppress(ValueError):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


# ----------------------------------------------------------------------- progress


class Progress:
    """A tqdm bar, or a line at most every second ("off": nothing)."""

    def __init__(self, mode: str, total: int, initial: int) -> None:
        self.off = mode == "off"
        if mode == "auto":
            mode = "bar" if sys.stderr.isatty() else "lines"
        self.total = total
        self.bar = None
        self.last = -math.inf
        if mode == "bar":
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=total, initial=initial, unit="upd", dynamic_ncols=True
            )

    def update(
        self,
        done: int,
        n: int,
        env_steps: int,
        rate: float,
        ret: float,
        text: str | None = None,
    ) -> None:
        """Shows a chunk of ``n`` updates ending at update ``done``.

        Args:
          done: updates done.
          n: updates in the chunk.
          env_steps: env steps so far (per seed).
          rate: env steps per second of training.
          ret: the mean training return of the last update.
          text: shown instead of ``return {ret}`` (a sweep's summary).
        """
        if self.off:
            return
        shown = f"return {ret:.1f}" if text is None else text
        if self.bar is not None:
            self.bar.set_postfix_str(
                f"env steps {env_steps:,} | {rate:,.0f} steps/s | {shown}",
                refresh=False,
            )
            self.bar.update(n)
            return
        now = time.perf_counter()
        if now - self.last >= 1.0 or done == self.total:
            self.last = now
            self.write(
                f"update {done:>{len(str(self.total))}}/{self.total} | env steps "
                f"{env_steps:,} | {rate:,.0f} steps/s | {shown}"
            )

    def write(self, text: str) -> None:
        """Prints ``text`` as a line (above the bar, if there is one)."""
        if self.off:
            return
        if self.bar is not None:
            self.bar.write(text)
        else:
            print(text, flush=True)

    def close(self) -> None:
        """Closes the bar."""
        if self.bar is not None:
            self.bar.close()


# -------------------------------------------------------------------- TensorBoard


def tensorboard_writer(out: Path) -> Any:
    """A tensorboardX ``SummaryWriter`` into ``RUN/tensorboard``.

    Args:
      out: the run folder.

    Returns:
      The writer.

    Raises:
      RunError: tensorboardX is not installed.
    """
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise RunError(
            "--tensorboard needs the tensorboardX package, which is not installed "
            "(pip install tensorboardX); metrics.jsonl is written either way"
        ) from None
    return SummaryWriter(str(out / "tensorboard"))


def check_tensorboard() -> None:
    """RunError when ``--tensorboard`` cannot work (before anything is compiled)."""
    try:
        import tensorboardX  # noqa: F401
    except ImportError:
        tensorboard_writer(Path("."))


def tensorboard_chunk(
    writer: Any, metrics: dict, seeds: int, n: int, before: int
) -> None:
    """Writes every metric of a chunk's updates (the mean over seeds).

    Args:
      writer: a tensorboardX ``SummaryWriter``.
      metrics: the chunk's metrics on the host (``[n]`` or ``[seeds, n]`` each).
      seeds: seeds in the run.
      n: updates in the chunk.
      before: updates done before the chunk (the first is ``before + 1``).
    """
    for i in range(n):
        for k, v in metrics.items():
            value = np.asarray(v).reshape(seeds, n)[:, i].astype(float)
            writer.add_scalar(f"train/{k}", float(value.mean()), before + i + 1)


# ----------------------------------------------------------------------- messages


def header(config: Any, options: RunOptions, out: Path, mesh: Any) -> str:
    """The first line a run logs: what it trains, on what, into which folder.

    Args:
      config: the algorithm config.
      options: the run options.
      out: the run folder.
      mesh: the run's mesh, or None.

    Returns:
      The line.
    """
    seeds = options.seeds
    return (
        f"jaxpg {algorithm_label(config)} on {config.env_id}: {config.num_envs} envs x "
        f"{config.num_updates} updates, seed {options.seed}"
        + (f" x {seeds} seeds (one vmapped call)" if seeds > 1 else "")
        + (
            f" over {mesh.size} devices ({jax.process_count()} processes)"
            if mesh is not None
            else ""
        )
        + f", {jax.default_backend()} | run folder {out}"
    )


class Failure(NamedTuple):
    """The first non-finite value of a chunk."""

    update: int  # the first bad update (1-based, counted over the run)
    what: str  # what went wrong, for the message


def describe_failure(
    metrics: dict, finite: np.ndarray, done: int, seeds: int
) -> Failure:
    """Where and what a chunk with a non-finite value went wrong.

    Args:
      metrics: the chunk's metrics on the host.
      finite: ``[seeds]`` whether the parameters after the chunk are finite.
      done: updates done before the chunk.
      seeds: seeds in the run.

    Returns:
      A non-finite loss's update, or the chunk's last update when only the
      parameters are not finite.
    """
    loss = np.asarray(metrics["loss"]).reshape(seeds, -1)
    n = loss.shape[1]
    bad_loss = ~np.isfinite(loss)
    if bad_loss.any():
        step = int(np.nonzero(bad_loss.any(axis=0))[0][0])
        who = np.nonzero(bad_loss[:, step])[0].tolist()
        value = loss[who[0], step]
        where = f" (seed index {', '.join(map(str, who))})" if seeds > 1 else ""
        return Failure(
            done + step + 1,
            f"the loss is {value} at update {done + step + 1}{where}",
        )
    who = np.nonzero(~finite)[0].tolist()
    where = f" (seed index {', '.join(map(str, who))})" if seeds > 1 else ""
    return Failure(
        done + n,
        f"the parameters are not finite after update {done + n}{where} (the loss of "
        f"updates {done + 1}-{done + n} was finite)",
    )


def divergence_message(what: str, last_checkpoint: int | None, out: Path) -> str:
    """What a diverged run prints last: what failed, what is kept, what to try.

    Args:
      what: :attr:`Failure.what`.
      last_checkpoint: the update of the last checkpoint, or None.
      out: the run folder.

    Returns:
      The message.
    """
    kept = (
        f"the last good checkpoint (update {last_checkpoint}) is kept in "
        f"{out / 'checkpoint'}"
        if last_checkpoint is not None
        else "no checkpoint had been saved yet"
    )
    return (
        f"training stopped: {what}; the state after that chunk was not "
        f"saved, {kept}. Try a smaller --learning-rate or "
        "--max-grad-norm."
    )


def interrupted_message(
    signum: int, done: int, total: int, out: Path, mesh: Any
) -> str:
    """What a run stopped by a signal prints last: how to resume it.

    Args:
      signum: the signal.
      done: updates done (and in the checkpoint).
      total: the run's number of updates.
      out: the run folder.
      mesh: the run's mesh, or None.

    Returns:
      The message, ending with the resume command.
    """
    name = signal.Signals(signum).name
    return (
        f"{name}: stopped after update {done}/{total} and saved a "
        f"checkpoint in {out / 'checkpoint'}; resume with:\n  "
        f"{resume_command(out)}"
        + (f" --devices {mesh.size}" if mesh is not None else "")
    )


def final_eval_text(final: dict, episodes: int, seeds: int) -> str:
    """The line that reports summary.json's "eval".

    Args:
      final: :func:`jaxpg.run.folder.final_eval`'s entry.
      episodes: episodes per seed.
      seeds: seeds in the run.

    Returns:
      The line.
    """
    return (
        f"evaluation over {episodes} greedy episodes"
        + (f" x {seeds} seeds" if seeds > 1 else "")
        + f": return {final['mean_return']:.1f} ± {final['std_return']:.1f} "
        f"(min {final['min_return']:.1f}, max {final['max_return']:.1f})"
    )
