"""Writing generated files for the scripts that regenerate the docs.

Every script that records numbers writes through these functions, so that a
run interrupted half-way (Ctrl-C, a crash, a full disk) leaves the previous file
intact rather than a truncated one, and so that a page shared by several scripts
(docs/benchmarks.md) has each script replace only its own marked section.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_atomic(path: Path, text: str) -> None:
    """Writes ``text`` to a hidden sibling, then renames it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_json(path: Path, data: Any, indent: int = 2) -> None:
    write_atomic(path, json.dumps(data, indent=indent) + "\n")


def replace_section(
    path: Path, begin: str, end: str, section: str, new_page: str = ""
) -> None:
    """Puts ``section`` (which starts with ``begin`` and ends with ``end``) in place.

    The text from ``begin`` to ``end`` in ``path`` is replaced; a page without both
    markers gets the section appended; a missing page is ``new_page`` + section.
    The rest of the page is kept byte for byte.
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
