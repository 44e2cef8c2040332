"""The run folder: its layout, checks, and reading it back.

A *run folder* holds one training run::

    RUN/
      config.json     the algorithm config ({"class", "fields"}) and "run": the run
                      options (seed, seeds, chunk, ...) and versions
      metrics.jsonl   one JSON object per update per seed
      evals.jsonl     one JSON object per periodic greedy evaluation
      summary.json    written when the run ends (finished, stopped early or failed)
      checkpoint/     the latest good TrainState (``jaxpg.save``; batched over seeds
                      when ``seeds > 1``): :func:`load_run` reads it
      checkpoints/    kept ones, with ``--keep N`` / ``--keep-best`` (:mod:`jaxpg.run.keep`)
      tensorboard/    event files, with ``--tensorboard``; wandb/: ``--wandb``

Any registered algorithm's run folder; what a run writes: :mod:`jaxpg.run.records`.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from jaxpg import checkpoint
from jaxpg.run.keep import resolve
from jaxpg.run.lock import LOCK_NAME, check_free
from jaxpg.run.options import FIXED_ON_RESUME, RunError, RunOptions, flag_name
from jaxpg.run.programs import state_template
from jaxpg.run.sweep import with_sweep_states
from jaxpg.train import make_trainer

__all__ = [
    "Start",
    "check_out_dir",
    "check_output_file",
    "check_resume_options",
    "checkpoint_start",
    "default_out",
    "load_checkpoint",
    "load_run",
    "options_from_run",
    "read_run_config",
    "resume_command",
]


class Start(NamedTuple):
    """Where a run starts."""

    state: Any  # the checkpoint's TrainState, or None: a fresh one
    done: int  # updates already done
    env_steps: list[int] | None = None  # per seed, as the checkpoint recorded them


# ---------------------------------------------------------------- the folder itself


def check_output_file(path: Path, flag: str) -> None:
    """RunError unless a file can be written at ``path`` (nothing is created).

    Args:
      path: the file a script will write (e.g. ``--gif`` or ``--out``).
      flag: the flag that named it (for the message).
    """
    if path.is_dir():
        raise RunError(f"{flag} {path}: is a directory; name a file")
    existing = path.absolute().parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise RunError(f"{flag} {path}: {existing} is not a directory")
    if path.exists() and not os.access(path, os.W_OK):
        raise RunError(f"{flag} {path}: the file is not writable")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        raise RunError(f"{flag} {path}: cannot write in {existing} ({error})") from None


def check_out_dir(out: Path, *, must_be_empty: bool) -> None:
    """Raises RunError unless ``out`` is a usable (writable) run folder.

    Nothing is created: a temporary file is made and removed in ``out`` or in its
    nearest existing parent. A folder whose lock another process holds (a run
    still running there) is refused, naming that process.

    Args:
      out: the run folder.
      must_be_empty: a new run (``--out``: new or empty) rather than a resumed
        one (``--resume``).
    """
    flag = "--out" if must_be_empty else "--resume"
    if out.exists() and not out.is_dir():
        raise RunError(f"{flag} {out}: exists and is not a directory")
    if out.is_dir():
        check_free(out, flag)
    # A .lock left by a killed run holds no lock: the folder is still empty.
    if (
        must_be_empty
        and out.is_dir()
        and any(p.name != LOCK_NAME for p in out.iterdir())
    ):
        raise RunError(
            f"{flag} {out}: already holds files; choose a new or empty folder "
            "(or continue that run with --resume)"
        )
    existing = out.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise RunError(f"{flag} {out}: {existing} is not a directory")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        raise RunError(f"{flag} {out}: cannot write in {existing} ({error})") from None


def default_out(env_id: str) -> Path:
    """A new run folder's default name.

    Args:
      env_id: the run's environment id.

    Returns:
      ``runs/<env_id>-<timestamp>`` (with ``-1``, ``-2``, ... if taken).
    """
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path("runs") / f"{env_id}-{stamp}"
    suffix = 1
    while out.exists():
        out = Path("runs") / f"{env_id}-{stamp}-{suffix}"
        suffix += 1
    return out


def resume_command(run_dir: Path) -> str:
    """The command that continues the run in ``run_dir``.

    Args:
      run_dir: the run folder.

    Returns:
      A shell command line.
    """
    return f"python scripts/train.py --resume {run_dir}"


# ------------------------------------------------------------------------ reading


def read_run_config(run_dir: Path) -> tuple[Any, dict]:
    """The algorithm config and run options of ``RUN/config.json``.

    Args:
      run_dir: the run folder.

    Returns:
      ``(config, run options as a dict)``.

    Raises:
      RunError: no such folder, no or a corrupted config.json.
    """
    path = run_dir / "config.json"
    if not run_dir.is_dir():
        raise RunError(f"{run_dir}: no such run folder")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(
            f"{run_dir} is not a jaxpg run folder: it has no config.json"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RunError(f"{path} is corrupted (not valid JSON: {error})") from None
    except OSError as error:
        raise RunError(f"cannot read {path}: {error}") from None
    try:
        config = checkpoint.config_from_dict(data)
    except (ValueError, TypeError) as error:
        raise RunError(f"{path}: {error}") from None
    run = data.get("run")
    if not isinstance(run, dict):
        raise RunError(f'{path} has no "run" section: not written by scripts/train.py')
    return config, run


def options_from_run(run: dict, run_dir: Path) -> RunOptions:
    """The :class:`RunOptions` in config.json's "run" section.

    Args:
      run: the section (versions and other keys are ignored).
      run_dir: the run folder (for the message).

    Returns:
      The run options.

    Raises:
      RunError: invalid options.
    """
    names = {f.name for f in dataclasses.fields(RunOptions)}
    try:
        return RunOptions(**{k: v for k, v in run.items() if k in names})
    except (TypeError, ValueError) as error:
        raise RunError(
            f"{run_dir}/config.json: invalid run options ({error})"
        ) from None


def check_resume_options(run_dir: Path, config: Any, options: RunOptions) -> None:
    """RunError unless ``config`` and ``options`` may continue the run in ``run_dir``.

    The config and the options in :data:`~jaxpg.run.options.FIXED_ON_RESUME`
    change the numbers a run produces and must be those of RUN/config.json; the
    other run options may change (and are saved for the next resume).

    Args:
      run_dir: the run folder.
      config: the resumed run's config.
      options: its run options.
    """
    saved_config, run = read_run_config(run_dir)
    saved = options_from_run(run, run_dir)
    if saved_config != config:
        raise RunError(
            f"--resume {run_dir}: a resumed run keeps its config; the config given "
            f"differs from {run_dir}/config.json"
        )
    changed = [
        f"{flag_name(n)} (the run has {getattr(saved, n)}, given {getattr(options, n)})"
        for n in FIXED_ON_RESUME
        if getattr(saved, n) != getattr(options, n)
    ]
    if changed:
        raise RunError(
            f"--resume {run_dir}: a resumed run keeps these options: {'; '.join(changed)}"
        )


def _recover(
    path: Path, like: Any, config: Any, restore: bool, log: Callable[[str], None]
) -> Path:
    """The checkpoint to read when ``path`` is missing after an interrupted save.

    A crash between the two renames of a save leaves complete copies beside
    ``path``; the newest intact one is put back (``restore``: the caller holds
    the run folder's lock) or read where it is.
    """
    try:
        if restore:
            copy = checkpoint.restore_interrupted(path, like, config_type=type(config))
            log(
                f"{path} was missing (a save was interrupted between its two "
                f"renames); restored it from {copy.name}, the newest intact copy"
            )
            return path
        for copy in checkpoint.interrupted(path):
            try:
                checkpoint.load(copy, like, config_type=type(config))
            except (OSError, ValueError):
                continue
            log(
                f"{path} is missing (a save was interrupted between its two "
                f"renames); reading {copy.name}, the newest intact copy (resuming "
                "the run puts it back)"
            )
            return copy
    except (OSError, ValueError) as error:
        raise RunError(f"cannot read the checkpoint {path}: {error}") from None
    raise RunError(
        f"{path} is missing and no copy beside it is intact (a save was interrupted)"
    )


def load_checkpoint(
    run_dir: Path,
    trainer: Any,
    config: Any,
    options: RunOptions,
    *,
    restore: bool = False,
    log: Callable[[str], None] | None = None,
    path: Path | None = None,
) -> Any:
    """The TrainState in ``RUN/checkpoint`` (batched over seeds when seeds > 1).

    Args:
      run_dir: the run folder.
      trainer: the run's trainer (its state's shapes).
      config: the config of ``RUN/config.json``, which the checkpoint must hold.
      options: the run options.
      restore: after an interrupted save (no checkpoint/, intact copies beside
        it), put the newest copy back into place; only when the caller holds
        the run folder's lock. False: read the copy where it is.
      log: where the note about such a recovery goes (``warnings.warn`` by
        default).
      path: another checkpoint of the run to read (:func:`jaxpg.run.keep.resolve`).

    Returns:
      The state.

    Raises:
      RunError: no checkpoint, a corrupted one, or one of another config.
    """
    path = run_dir / "checkpoint" if path is None else path
    like = state_template(trainer, options)
    source = path
    if not path.exists() and checkpoint.interrupted(path):
        source = _recover(path, like, config, restore, log or warnings.warn)
    if not source.exists():
        raise RunError(
            f"{run_dir} has no checkpoint (checkpoint/ is missing: the run stopped "
            "before its first checkpoint)"
        )
    try:
        state, saved_config = checkpoint.load(
            source, like=like, config_type=type(config)
        )
    except (OSError, ValueError) as error:
        raise RunError(f"cannot read the checkpoint {source}: {error}") from None
    if saved_config != config:
        raise RunError(
            f"{path} holds a checkpoint of a different config than "
            f"{run_dir}/config.json; the run folder is inconsistent"
        )
    return state


def load_run(
    run_dir: str | os.PathLike,
    log: Callable[[str], None] | None = None,
    which: str = "latest",
) -> tuple[Any, Any, RunOptions]:
    """The checkpoint of a run folder, with its config and options (read only).

    Args:
      run_dir: the run folder.
      log: where a note goes when the checkpoint is read from the copy an
        interrupted save left (``warnings.warn`` by default).
      which: "latest", "best" or an update number (:func:`jaxpg.run.keep.resolve`).

    Returns:
      ``(state, config, options)``; the state is batched over seeds (a leading
      axis) when ``options.seeds > 1`` (a sweep's C · K states, config its base).

    Raises:
      RunError: not a run folder, no checkpoint, or a corrupted one.
    """
    run_dir = Path(run_dir)
    config, run = read_run_config(run_dir)
    trainer, path = make_trainer(config), resolve(run_dir, which)
    options = with_sweep_states(options_from_run(run, run_dir), run_dir)
    state = load_checkpoint(run_dir, trainer, config, options, log=log, path=path)
    return state, config, options


def checkpoint_start(
    out: Path,
    trainer: Any,
    config: Any,
    options: RunOptions,
    *,
    restore: bool = False,
    log: Callable[[str], None] | None = None,
) -> Start:
    """Where a resumed run starts: its checkpoint's state and update count.

    Args:
      out: the run folder.
      trainer: the run's trainer.
      config: the run's config.
      options: the run options.
      restore: as :func:`load_checkpoint` (True: the caller holds the lock).
      log: as :func:`load_checkpoint`.

    Returns:
      A :class:`Start`.

    Raises:
      RunError: as :func:`load_checkpoint`, or a checkpoint past the run's end.
    """
    state = load_checkpoint(out, trainer, config, options, restore=restore, log=log)
    done = int(np.asarray(state.step).reshape(-1)[0])
    if done > config.num_updates:
        raise RunError(
            f"the checkpoint in {out} is at update {done}, past "
            f"num_updates={config.num_updates}"
        )
    extra = checkpoint.read_extra(out / "checkpoint")
    recorded = extra.get("env_steps_total") if extra.get("update") == done else None
    return Start(state, done, recorded if isinstance(recorded, list) else None)
