"""Which checkpoints a run keeps: the latest, the last N, the best evaluated.

::

    RUN/
      checkpoint/                 the latest save (what --resume reads), always
      checkpoints/
        update-U/                 --keep N > 1: the last N saves, the latest among them
        best-update-U/            --keep-best: the state with the highest mean greedy
                                  return of the periodic and final evaluations

Retention is built over :func:`jaxpg.checkpoint.save` rather than orbax's
``CheckpointManager``: jaxpg's checkpoints carry their own manifest and
checksums and are written atomically, and the manager's step folders would
bypass both. A kept ``update-U`` is made from the save just written: its files
are hard links to those of ``checkpoint/`` (never rewritten in place, so no copy
is needed; a plain copy where links are not possible), gathered in
``.update-U.partial`` and renamed into place, so a kept folder is complete or
absent. A best checkpoint is saved under a new name each time and the previous
one removed only after, so one complete best exists at every moment. Folders
are removed by renaming them to ``.NAME.deleting`` first. Leftovers of a killed
process (``.*.partial``, ``.*.deleting``) are cleared when the run resumes (its
folder lock is held), and readers ignore them.

The best is the mean over seeds and episodes. On resume, kept saves after the
resumed checkpoint are dropped (the run redoes those updates); the best stays,
since the redone updates are bit-identical to the ones it was measured on.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
from pathlib import Path
from typing import Any

from jaxpg import checkpoint
from jaxpg.run.options import RunError

__all__ = ["Keeper", "kept", "resolve"]

KEPT_DIR = "checkpoints"
_NAME = re.compile(r"(update|best-update)-(\d+)")


def kept(run_dir: Path) -> dict[str, dict[int, Path]]:
    """The kept checkpoints of a run folder (complete ones only).

    Args:
      run_dir: the run folder.

    Returns:
      ``{"update": {U: path}, "best": {U: path}}`` by update.
    """
    found: dict[str, dict[int, Path]] = {"update": {}, "best": {}}
    folder = Path(run_dir) / KEPT_DIR
    if not folder.is_dir():
        return found
    for path in folder.iterdir():
        match = _NAME.fullmatch(path.name)
        if match and (path / "state.json").is_file():
            kind = "update" if match.group(1) == "update" else "best"
            found[kind][int(match.group(2))] = path
    return found


def _latest_update(run_dir: Path) -> int | None:
    update = checkpoint.read_extra(run_dir / "checkpoint").get("update")
    return update if isinstance(update, int) else None


def resolve(run_dir: str | os.PathLike, which: str = "latest") -> Path:
    """The checkpoint folder that ``which`` names in a run folder.

    Args:
      run_dir: the run folder.
      which: ``"latest"`` (RUN/checkpoint), ``"best"`` (the kept best) or an
        update number (RUN/checkpoint if it is at that update, else the kept
        ``update-U`` or ``best-update-U``).

    Returns:
      The path (RUN/checkpoint for "latest", even when missing: the reader
      reports that, and recovers an interrupted save).

    Raises:
      RunError: ``which`` is not one of these, or names no kept checkpoint (the
        message lists the ones there are).
    """
    run_dir = Path(run_dir)
    if which == "latest":
        return run_dir / "checkpoint"
    found = kept(run_dir)
    if which == "best":
        if not found["best"]:
            raise RunError(
                f"--checkpoint best: {run_dir} keeps no best checkpoint (train with "
                "--keep-best and --eval-every N)"
            )
        return found["best"][max(found["best"])]
    if not re.fullmatch(r"\d+", which):
        raise RunError(
            f"--checkpoint must be latest, best or an update number; got {which!r}"
        )
    update, latest = int(which), _latest_update(run_dir)
    if latest == update:
        return run_dir / "checkpoint"
    for kind in ("update", "best"):
        if update in found[kind]:
            return found[kind][update]
    updates = {*found["update"], *found["best"], *([] if latest is None else [latest])}
    there = ", ".join(map(str, sorted(updates))) or "none"
    raise RunError(
        f"--checkpoint {which}: {run_dir} has no checkpoint at update {update} "
        f"(kept: {there}; --keep N keeps the last N)"
    )


def _remove(path: Path) -> None:
    """Removes a folder: renamed to ``.NAME.deleting`` first, then deleted."""
    doomed = path.with_name(f".{path.name}.deleting")
    shutil.rmtree(doomed, ignore_errors=True)
    os.replace(path, doomed)
    shutil.rmtree(doomed)


def _sync_dir(path: Path) -> None:
    """Makes a rename in ``path`` durable (where the platform allows)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


class Keeper:
    """Keeps a run's checkpoints as its :class:`~jaxpg.run.options.RunOptions` say.

    Args:
      out: the run folder.
      keep: how many of the latest saves to keep (1: only RUN/checkpoint).
      best: keep the best-evaluated state.
      primary: process 0 (the one that writes the folder's files).
    """

    def __init__(self, out: Path, keep: int, best: bool, primary: bool) -> None:
        self.out = Path(out)
        self.folder = self.out / KEPT_DIR
        self.keep = keep
        self.best = best
        self.primary = primary
        self.best_score = -math.inf

    def start(self, done: int) -> None:
        """Clears what a killed process left; reads the best score so far.

        Call it once the run folder is locked and before the first save.

        Args:
          done: the update the run starts from (its checkpoint's; 0 when new).
        """
        found = kept(self.out)
        if found["best"]:
            extra = checkpoint.read_extra(found["best"][max(found["best"])])
            score = extra.get("eval_mean_return")
            if isinstance(score, (int, float)):
                self.best_score = float(score)
        if not self.primary or not self.folder.is_dir():
            return
        for path in self.folder.iterdir():
            if path.name.startswith(".") or (
                _NAME.fullmatch(path.name) and not (path / "state.json").is_file()
            ):
                shutil.rmtree(path, ignore_errors=True)
        for update, path in found["update"].items():
            if update > done:
                _remove(path)
        # A process killed between saving a new best and removing the old one
        # leaves two: the newest is the best.
        for update in sorted(found["best"])[:-1]:
            _remove(found["best"][update])
        self._prune()

    def saved(self, done: int) -> None:
        """Keeps the save just written to RUN/checkpoint (at update ``done``).

        Args:
          done: the update of that save.
        """
        if not self.primary or self.keep == 1:
            return
        self.folder.mkdir(exist_ok=True)
        final = self.folder / f"update-{done}"
        partial = self.folder / f".{final.name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(self.out / "checkpoint", partial, copy_function=_link_or_copy)
        if final.exists():
            _remove(final)
        os.replace(partial, final)
        _sync_dir(self.folder)
        self._prune()

    def _prune(self) -> None:
        """Removes kept saves beyond the last ``keep`` (all of them for keep 1)."""
        updates = sorted(kept(self.out)["update"])
        count = self.keep if self.keep > 1 else 0
        for update in updates[: max(len(updates) - count, 0)]:
            _remove(self.folder / f"update-{update}")

    def evaluated(
        self, state: Any, config: Any, done: int, totals: list[int], score: float
    ) -> bool:
        """Saves ``state`` as the new best when ``score`` beats the best so far.

        Every process calls it (the save is collective).

        Args:
          state: the evaluated TrainState.
          config: the run's config.
          done: its update.
          totals: env steps per seed up to it.
          score: the evaluation's mean greedy return.

        Returns:
          Whether it was saved.
        """
        if not self.best or not score > self.best_score:
            return False
        previous = kept(self.out)["best"]
        extra = {
            "update": done,
            "env_steps_total": totals[:],
            "eval_mean_return": score,
        }
        checkpoint.save(self.folder / f"best-update-{done}", state, config, extra=extra)
        self.best_score = score
        if self.primary:
            _sync_dir(self.folder)
            for update, path in previous.items():
                if update != done:
                    _remove(path)
        return True
