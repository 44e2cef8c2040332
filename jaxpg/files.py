"""Atomic file writes: every file jaxpg or its scripts write goes through these.

A write goes to a hidden sibling (``.NAME.partial``) that is then renamed over the
destination, so an interrupted write (Ctrl-C, a crash, a full disk) leaves the
previous file intact, never a truncated one. ``fsync=True`` also flushes the data
to disk before the rename (checkpoints and run state).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["replace_section", "write_atomic", "write_json"]


def write_atomic(path: str | os.PathLike, text: str, *, fsync: bool = False) -> None:
    """Writes ``text`` (UTF-8) to a hidden sibling, then renames it over ``path``.

    The parent folder is created when missing.

    Args:
      path: the destination.
      text: the whole new content.
      fsync: flush the data to disk before the rename.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        if fsync:
            f.flush()
            os.fsync(f.fileno())
    os.replace(tmp, path)


def write_json(
    path: str | os.PathLike,
    data: Any,
    *,
    indent: int = 2,
    fsync: bool = False,
    allow_nan: bool = False,
) -> None:
    """Writes ``data`` as JSON, atomically.

    Args:
      path: the destination.
      data: what ``json.dumps`` takes.
      indent: ``json.dumps``'s indent.
      fsync: flush to disk before the rename.
      allow_nan: False (the default): strict JSON, NaN and infinities are a
        ``ValueError``. True: they are written as ``NaN`` / ``Infinity`` (Python's
        ``json`` reads them back; the doc-regenerating scripts record them).
    """
    write_atomic(
        path, json.dumps(data, indent=indent, allow_nan=allow_nan) + "\n", fsync=fsync
    )


def replace_section(
    path: str | os.PathLike, begin: str, end: str, section: str, new_page: str = ""
) -> None:
    """Puts ``section`` (which starts with ``begin`` and ends with ``end``) in place.

    The text from ``begin`` to ``end`` in ``path`` is replaced; a page without both
    markers gets the section appended; a missing page is ``new_page`` + section.
    The rest of the page is kept byte for byte.

    Args:
      path: the page (e.g. ``docs/benchmarks.md``).
      begin: the opening marker (e.g. ``"<!-- name:begin -->"``).
      end: the closing marker.
      section: the new text, from ``begin`` to ``end``.
      new_page: what a missing page starts with.

    Raises:
      ValueError: ``section`` does not run from ``begin`` to ``end``.
    """
    if not (section.startswith(begin) and section.rstrip("\n").endswith(end)):
        raise ValueError(f"the section must run from {begin!r} to {end!r}")
    path = Path(path)
    text = path.read_text(encoding="utf-8") if path.exists() else new_page
    section = section.rstrip("\n")
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1]
        text = head + section + tail
    else:
        text = (text.rstrip("\n") + "\n\n" if text.strip() else "") + section + "\n"
    write_atomic(path, text)
