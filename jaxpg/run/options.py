"""What drives a run besides the algorithm config, and what it ends with.

:class:`RunOptions` (seeds, chunk, evaluation, checkpoints, TensorBoard, progress)
is validated on construction with the wording of ``scripts/train.py``'s flags;
:class:`RunError` is a problem with the user's input or files found before
training starts; :class:`RunOutcome` is what :func:`jaxpg.run.train_run` returns.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal

from jaxpg.memory import INT32_MAX

__all__ = ["FIXED_ON_RESUME", "RunError", "RunOptions", "RunOutcome", "flag_name"]

# Run options that change the numbers a run produces: a resumed run must keep them.
FIXED_ON_RESUME = ("seed", "seeds", "chunk", "fast_compile")
# Characters Weights & Biases does not allow in a project name.
WANDB_FORBIDDEN = ("/", "\\", "#", "?", "%", ":")


class RunError(Exception):
    """A problem with the user's input or files, found before training starts."""


def flag_name(name: str) -> str:
    """The command-line flag of a field: ``fast_compile`` → ``--fast-compile``.

    Args:
      name: a field name.

    Returns:
      The flag, as scripts/train.py spells it.
    """
    return "--" + name.replace("_", "-")


def _check_bool(options: Any, name: str) -> None:
    """ValueError naming the flag unless ``options.<name>`` is True or False."""
    value = getattr(options, name)
    if not isinstance(value, bool):
        raise ValueError(f"{flag_name(name)} must be True or False; got {value!r}")


def _check_integer(
    options: Any, name: str, minimum: int, maximum: int = INT32_MAX + 1
) -> None:
    """ValueError naming the flag unless ``options.<name>`` is an int in
    ``[minimum, maximum)`` (counts end up in int32)."""
    value = getattr(options, name)
    ok = isinstance(value, int) and not isinstance(value, bool)
    if not (ok and minimum <= value < maximum):
        raise ValueError(
            f"{flag_name(name)} must be an integer >= {minimum} and < "
            f"{maximum}; got {value!r}"
        )


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """How a run is driven (everything that is not the algorithm config).

    Attributes:
      seed: PRNG seed of the run (0 <= seed < 2**32).
      seeds: number of seeds trained together in one vmapped call; seed index i
        uses the i-th key of ``jax.random.split(key_init, seeds)``.
      chunk: updates per compiled chunk; the host logs, evaluates and checkpoints
        between chunks.
      eval_every: greedy evaluation at the end of the chunk that reaches each
        multiple of this many updates (0: only after training).
      eval_episodes: episodes per greedy evaluation.
      stop_at_return: end the run once a periodic evaluation's mean return reaches
        this value for every seed (None: never).
      checkpoint_every: checkpoint at the end of the chunk that reaches each
        multiple of this many updates (0: only at the end); always at the end, on
        SIGINT/SIGTERM and before stopping early.
      tensorboard: also write TensorBoard event files (needs tensorboardX).
      progress: "bar" (tqdm), "lines" (a line every second) or "auto" (a bar on a
        terminal, lines otherwise).
      keep: how many of the latest checkpoints to keep (1: only RUN/checkpoint;
        N > 1: also RUN/checkpoints/update-U for the last N saves).
      keep_best: also keep the state with the highest mean greedy evaluation
        return in RUN/checkpoints/best-update-U (needs --eval-every).
      wandb: also log the metrics, evaluations and config to this Weights &
        Biases project (needs the wandb package: pip install "jaxpg[wandb]";
        None: off).
      fast_compile: compile the run's programs with
        ``jaxpg.jit(fast_compile=True)``'s options: on CPU about half the compile
        time, training about 1.5x slower, floating-point results rounded
        differently (jaxpg.compilation). For short runs, where compilation is
        most of the wait; fixed on resume.
    """

    seed: int = 0
    seeds: int = 1
    chunk: int = 10
    eval_every: int = 0
    eval_episodes: int = 100
    stop_at_return: float | None = None
    checkpoint_every: int = 100
    tensorboard: bool = False
    progress: Literal["auto", "bar", "lines"] = "auto"
    keep: int = 1
    keep_best: bool = False
    wandb: str | None = None
    fast_compile: bool = False

    def __post_init__(self) -> None:
        _check_integer(self, "seed", 0, 2**32)
        _check_integer(self, "seeds", 1)
        _check_integer(self, "chunk", 1)
        _check_integer(self, "eval_every", 0)
        _check_integer(self, "eval_episodes", 1)
        _check_integer(self, "checkpoint_every", 0)
        target = self.stop_at_return
        number = isinstance(target, (int, float)) and not isinstance(target, bool)
        if target is not None and not (number and math.isfinite(target)):
            raise ValueError(
                f"--stop-at-return must be a finite number (or None); got {target!r}"
            )
        _check_bool(self, "tensorboard")
        _check_bool(self, "fast_compile")
        if self.stop_at_return is not None and self.eval_every == 0:
            raise ValueError(
                "--stop-at-return needs periodic evaluation: set --eval-every N"
            )
        if self.progress not in ("auto", "bar", "lines"):
            raise ValueError(
                f"--progress must be one of auto, bar, lines; got {self.progress!r}"
            )
        self._check_keeping()

    def _check_keeping(self) -> None:
        """--keep, --keep-best and --wandb (the options of checkpoints and tracking)."""
        _check_integer(self, "keep", 1)
        _check_bool(self, "keep_best")
        if self.keep_best and self.eval_every == 0:
            raise ValueError(
                "--keep-best keeps the best periodic greedy evaluation: set "
                "--eval-every N"
            )
        project = self.wandb
        if project is not None and not (
            isinstance(project, str)
            and 0 < len(project) <= 128
            and not set(project) & set(WANDB_FORBIDDEN)
        ):
            raise ValueError(
                "--wandb must be a Weights & Biases project name (1 to 128 "
                f"characters, none of {' '.join(WANDB_FORBIDDEN)}); got {project!r}"
            )


@dataclasses.dataclass
class RunOutcome:
    """What :func:`jaxpg.run.train_run` ended with."""

    status: str  # "finished" | "solved" | "interrupted" | "diverged"
    updates: int  # updates done (and in the checkpoint, except when "diverged")
    state: Any  # the last good TrainState
    message: str  # what was printed last
    exit_code: int  # what a script should exit with
