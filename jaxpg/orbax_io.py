"""orbax's part of a checkpoint: writing and reading the arrays, readable errors.

orbax-checkpoint is imported inside the functions, so ``import jaxpg`` does not pay
for it. orbax refuses zero-size arrays (MJX's states hold some, e.g. the contacts
of a contact-free model): :func:`write` leaves them out and :func:`read` does not ask for them (the
caller keeps the empty targets), so a state with such leaves saves and loads.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from jaxpg import manifest as mf


def _kept(items: list, full: list[bool]) -> list:
    """The items whose leaf is not zero-size (what orbax stores)."""
    return [item for item, keep in zip(items, full, strict=True) if keep]


def write(folder: Path, names: list[tuple[str, ...]], leaves: list) -> None:
    """Writes the non-empty ``leaves`` under their storage ``names`` to ``folder``.

    Args:
      folder: the new orbax folder (``CHECKPOINT/state``).
      names: each leaf's storage name (:func:`jaxpg.manifest.leaf_names`).
      leaves: the arrays (keys as their raw data).
    """
    import orbax.checkpoint as ocp

    full = [np.size(leaf) > 0 for leaf in leaves]
    with ocp.StandardCheckpointer() as checkpointer:
        checkpointer.save(folder, mf.nest(_kept(names, full), _kept(leaves, full)))
        checkpointer.wait_until_finished()


def read(folder: Path, names: list[tuple[str, ...]], targets: list) -> dict:
    """Reads the arrays :func:`write` stored, shaped like ``targets``.

    Args:
      folder: the orbax folder.
      names: each leaf's storage name.
      targets: host arrays of each leaf's stored shape and dtype.

    Returns:
      The nested ``{name: array}`` tree of the non-empty leaves (a zero-size
      leaf is its own target: nothing to read).
    """
    import orbax.checkpoint as ocp

    full = [target.size > 0 for target in targets]
    with ocp.StandardCheckpointer() as checkpointer:
        restored = checkpointer.restore(
            folder, mf.nest(_kept(names, full), _kept(targets, full))
        )
    return restored


def short(error: BaseException) -> str:
    """An orbax/tensorstore error in one readable line (no JSON specs)."""
    text = str(error).split(" [tensorstore_spec", 1)[0].strip()
    return f"{type(error).__name__}: {text[:500]}"


def hide_closed_loop_errors() -> None:
    """Drops the "Event loop is closed" noise a failed orbax read leaves behind.

    When one read fails, orbax closes its event loop while tensorstore still has
    reads in flight; their completions call back into the closed loop and Python
    prints each RuntimeError as a traceback (through ``sys.unraisablehook``) after
    the error has been reported. Installed once, after such a failure; every other
    unraisable exception still reaches the previous hook.
    """
    previous = sys.unraisablehook
    if getattr(previous, "jaxpg_closed_loop_filter", False):
        return

    def hook(unraisable: Any) -> None:
        error = unraisable.exc_value
        if isinstance(error, RuntimeError) and "Event loop is closed" in str(error):
            return
        previous(unraisable)

    hook.jaxpg_closed_loop_filter = True
    sys.unraisablehook = hook
