"""One process at a time in a run folder: an exclusive lock on ``RUN/.lock``.

A run takes the lock (``fcntl.flock``, non-blocking) before it writes anything and
holds it until it ends; the holder's PID is written into the file so a second
process can say who holds it. The lock is the kernel's: it is released when the
process exits, however it exits, so a stale ``.lock`` file left by a killed run
locks nothing. On platforms without ``fcntl`` (Windows) there is no lock.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from jaxpg.run.options import RunError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ["LOCK_NAME", "RunLock", "acquire", "check_free"]

LOCK_NAME = ".lock"


def _holder(path: Path) -> str:
    """``"PID 1234"`` from a lock file, or ``"another process"``."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        text = ""
    return f"PID {text}" if text.isdigit() else "another process"


def _busy(out: Path, flag: str, path: Path) -> RunError:
    return RunError(
        f"{flag} {out}: a run in this folder is still running ({_holder(path)} "
        f"holds {path}); wait for it to end or stop it, or choose another folder"
    )


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def check_free(out: Path, flag: str) -> None:
    """RunError when another process holds ``out``'s lock; writes nothing.

    Args:
      out: the run folder.
      flag: the flag that named it (for the message).
    """
    path = out / LOCK_NAME
    if fcntl is None or not path.is_file():
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        if not _try_lock(fd):
            raise _busy(out, flag, path)
    finally:
        os.close(fd)  # also releases the probe's lock


class RunLock:
    """A held run-folder lock; :meth:`release` gives it up."""

    def __init__(self, out: Path, fd: int | None, created_folder: bool) -> None:
        self.out = out
        self.fd = fd
        self.created_folder = created_folder

    def release(self) -> None:
        """Removes the lock file (and the folder, if this lock made it and it is
        empty), then releases the lock. Idempotent."""
        if self.fd is None:
            return
        with contextlib.suppress(OSError):
            (self.out / LOCK_NAME).unlink()
        os.close(self.fd)
        self.fd = None
        if self.created_folder:
            with contextlib.suppress(OSError):
                self.out.rmdir()  # only when empty: nothing was written


def acquire(out: Path, flag: str, *, must_be_empty: bool) -> RunLock:
    """Takes ``out``'s lock (creating ``out`` if needed) and writes our PID in it.

    Args:
      out: the run folder.
      flag: the flag that named it (for messages).
      must_be_empty: a new run: ``out`` may hold nothing but the lock file.

    Returns:
      The held lock.

    Raises:
      RunError: another process holds the lock, or (``must_be_empty``) another
        run wrote into ``out`` since it was checked.
    """
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    if fcntl is None:  # pragma: no cover - Windows
        return RunLock(out, None, created)
    path = out / LOCK_NAME
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if not _try_lock(fd):
            os.close(fd)
            raise _busy(out, flag, path)
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the holder removed the file as we opened it: again
    lock = RunLock(out, fd, created)
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode("ascii"))
    if must_be_empty and any(p.name != LOCK_NAME for p in out.iterdir()):
        lock.release()
        raise RunError(
            f"{flag} {out}: another run wrote into this folder meanwhile; choose a "
            "new or empty folder"
        )
    return lock
