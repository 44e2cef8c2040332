"""sha256 checksums of arrays and files: what a checkpoint stores to catch damage.

:func:`array_digest` binds an array's bytes to its name, dtype and shape, so a
changed byte and two same-shape arrays stored under each other's names both fail
the check; :func:`file_digests` and :func:`check_files` cover the files of a
folder (a truncated or bit-flipped file is found before anything parses it).

>>> import numpy as np
>>> a = np.arange(3, dtype=np.float32)
>>> array_digest("x", a) == array_digest("x", a.copy())
True
>>> array_digest("x", a) == array_digest("y", a)
False
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

__all__ = ["array_digest", "check_files", "file_digests"]

_BLOCK = 1 << 20


def array_digest(name: str, array: np.ndarray) -> str:
    """The sha256 (hex) of ``name``, the dtype, the shape and the array's bytes.

    Args:
      name: what the array is called where it is stored (e.g. its pytree path).
      array: a host array (C order is used whatever its layout).

    Returns:
      64 hex digits.
    """
    array = np.ascontiguousarray(array)
    digest = hashlib.sha256(f"{name}\0{array.dtype}\0{array.shape}\0".encode())
    digest.update(array.reshape(-1).view(np.uint8))
    return digest.hexdigest()


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def file_digests(folder: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every regular file under ``folder``.

    Args:
      folder: the folder.

    Returns:
      The digests, sorted by path (``/`` separated).
    """
    folder = Path(folder)
    return {
        p.relative_to(folder).as_posix(): _file_digest(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def check_files(folder: Path, expected: dict[str, str]) -> str | None:
    """What is wrong with the files under ``folder``, or None.

    Files that are not in ``expected`` are ignored.

    Args:
      folder: the folder.
      expected: :func:`file_digests`' output when the files were written.

    Returns:
      ``"<path> is missing"`` or ``"<path> does not match its checksum"`` for the
      first damaged file (in path order), None when every file is intact.
    """
    folder = Path(folder)
    for name, digest in sorted(expected.items()):
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        if _file_digest(path) != digest:
            return f"{name} does not match its checksum"
    return None
