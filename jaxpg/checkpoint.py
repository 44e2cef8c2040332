"""Checkpoints of a run: ``save(path, state, config)`` / ``load(path, like=None)``.

A checkpoint is a directory::

    path/
      config.json   the config: {"class": "ReinforceConfig", "fields": {...}}
      state.json    format version; one entry per TrainState leaf (path, shape,
                    dtype, PRNG implementation for keys, sha256 of its bytes) and
                    the sha256 of every file under state/; written last
      state/        the leaves, written by orbax-checkpoint

Nothing is pickled: the config is JSON and the arrays are tensorstore files, so a
checkpoint can be read by another version of Python or of jaxpg. Typed PRNG keys are
stored as their raw ``jax.random.key_data`` and rewrapped on load.

:func:`load` checks the files against their checksums before orbax reads them and
every leaf against its own after (the leaf's checksum covers its path, so two
same-shape leaves swapped in state.json fail too); any mismatch is a
``ValueError`` naming the file or leaf. Format version 1 (before checksums) is
still read, with a warning that nothing could be verified.

Saving is atomic: everything is written into a temporary sibling directory that is
renamed to ``path`` only once complete, so a crash or an error part-way leaves any
checkpoint already at ``path`` as it was. A crash between the two renames of a
replacement leaves no ``path`` but complete ``.NAME.partial`` (new) and
``.NAME.old`` (previous) siblings: :func:`interrupted` lists them and
:func:`restore_interrupted` puts the newest intact one back. orbax-checkpoint is
imported inside the functions, so ``import jaxpg`` does not pay for it.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

import jax
import numpy as np

from jaxpg import manifest as mf
from jaxpg import orbax_io
from jaxpg.algorithms import registry
from jaxpg.checksums import array_digest, check_files, file_digests
from jaxpg.config_json import config_from_dict, config_to_dict
from jaxpg.files import write_json
from jaxpg.manifest import FORMAT, VERSION
from jaxpg.train import make_trainer

__all__ = [
    "FORMAT",
    "VERSION",
    "config_from_dict",
    "config_to_dict",
    "interrupted",
    "load",
    "read_extra",
    "restore_interrupted",
    "save",
]


# ------------------------------------------------------------------------------ state


def _sync(name: str) -> None:
    if jax.process_count() > 1:
        from orbax.checkpoint import multihost

        multihost.sync_global_processes(name)


def _check_target(path: Path) -> Path:
    """``path``, unless saving there would replace something that is not ours."""
    if path.exists() and not path.is_dir():
        raise ValueError(f"cannot save a checkpoint to {path}: it is a file")
    if path.is_dir() and any(path.iterdir()) and not (path / "state.json").exists():
        raise ValueError(
            f"cannot save a checkpoint to {path}: it is a folder that is not a jaxpg "
            "checkpoint, and saving would replace it; choose a new path"
        )
    return path


def save(
    path: str | os.PathLike, state: Any, config: Any, *, extra: dict | None = None
) -> Path:
    """Writes ``state`` (a :class:`jaxpg.TrainState`) and ``config`` to ``path``.

    Args:
      path: the checkpoint directory. An existing checkpoint there is replaced,
        only after the new one is completely written; any other non-empty folder
        there is refused.
      state: the state to store (any pytree of arrays and typed PRNG keys works;
        batched states from ``jax.vmap`` too).
      config: the run's config dataclass, stored as JSON.
      extra: a JSON object stored in state.json beside the manifest
        (:func:`read_extra`; jaxpg.run records the env-step totals there).

    Returns:
      ``path`` as a :class:`pathlib.Path`.

    Raises:
      ValueError: ``path`` is a file or a folder that is not a checkpoint, or a
        leaf of ``state`` is not an array.

    With several JAX processes every process calls ``save`` (orbax is collective).
    """
    path = _check_target(Path(path).absolute())
    config_json = config_to_dict(config)  # fails before anything is written
    stored, names, manifest = mf.build(state)
    if extra is not None:
        json.dumps(extra, allow_nan=False)  # strict JSON, or a ValueError/TypeError now
        manifest["extra"] = extra
    primary = jax.process_index() == 0
    tmp, old = _siblings(path)
    if primary:
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
    _sync("jaxpg_save_start")
    try:
        if primary:
            write_json(tmp / "config.json", config_json, fsync=True)
        orbax_io.write(tmp / "state", names, stored)
        _sync("jaxpg_save_written")
        if primary:
            # Written last: a folder with a state.json is complete.
            manifest["files"] = file_digests(tmp / "state")
            write_json(tmp / "state.json", manifest, fsync=True)
            if path.exists():
                shutil.rmtree(old, ignore_errors=True)
                os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        if primary:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    _sync("jaxpg_save_done")
    return path


def _siblings(path: Path) -> tuple[Path, Path]:
    """``(.NAME.partial, .NAME.old)``: a save's new and previous copies."""
    return path.with_name(f".{path.name}.partial"), path.with_name(f".{path.name}.old")


def _read_json(path: Path, checkpoint: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise ValueError(
            f"{checkpoint} is not a complete jaxpg checkpoint: {path.name} is missing"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(
            f"{checkpoint} is corrupted: {path.name} is not valid JSON ({error})"
        ) from None
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error}") from None


def _holds(config: Any) -> str:
    try:
        label = registry.for_config(config).label
    except TypeError:  # pragma: no cover - config_from_dict gives registered ones
        label = type(config).__name__
    return f"a {label} state ({type(config).__name__})"


def _restore(path: Path, order: list[dict], flat: list) -> list[np.ndarray]:
    """The stored leaves as host arrays, in ``order``, checked against their sums."""
    names = [tuple(e["name"]) for e in order]
    try:
        targets = mf.targets(order, flat)
        restored = orbax_io.read(path / "state", names, targets)
    except (Exception, MemoryError) as error:
        orbax_io.hide_closed_loop_errors()
        raise ValueError(
            f"could not read the arrays of the checkpoint at {path} (corrupted or "
            f"incomplete): {orbax_io.short(error)}"
        ) from None
    values = []
    for entry, name, target in zip(order, names, targets, strict=True):
        try:
            value = np.asarray(mf.lookup(restored, name)) if target.size else target
        except (KeyError, TypeError):
            raise ValueError(
                f"the checkpoint at {path} is corrupted: {entry['path']} is missing"
            ) from None
        if "sha256" in entry and array_digest(entry["path"], value) != entry["sha256"]:
            raise ValueError(
                f"the checkpoint at {path} is corrupted: {entry['path']} does not "
                "match its checksum (changed bytes, or leaves swapped in state.json)"
            )
        values.append(value)
    return values


def _open(path: Path) -> tuple[dict, int, Any]:
    """``(state.json, its version, the config)`` of the checkpoint at ``path``."""
    if not path.exists():
        tmp, old = _siblings(path)
        hint = ""
        if tmp.exists() or old.exists():
            hint = (
                " (a save was interrupted while replacing it; "
                "jaxpg.checkpoint.restore_interrupted puts the newest intact copy back)"
            )
        raise FileNotFoundError(f"no checkpoint at {path}{hint}")
    if not path.is_dir():
        raise ValueError(f"{path} is not a jaxpg checkpoint directory")
    manifest = _read_json(path / "state.json", path)
    version = mf.check(manifest, path)
    config = config_from_dict(_read_json(path / "config.json", path))
    return manifest, version, config


def load(
    path: str | os.PathLike, like: Any = None, *, config_type: type | None = None
) -> tuple[Any, Any]:
    """Reads a checkpoint written by :func:`save`.

    Args:
      path: the checkpoint directory.
      like: a template of the state: a ``TrainState`` of the same structure, shapes
        and dtypes, concrete or abstract (``jax.eval_shape(trainer.init, key)``).
        Needed for a custom environment or policy; ``None`` rebuilds it from the
        stored config with ``jaxpg.make_trainer(config)``.
      config_type: the config class the caller expects (e.g. ``jaxpg.A2CConfig``);
        a checkpoint of another algorithm is refused. A2C's and PPO's states have
        the same structure, so ``like`` alone cannot tell them apart.

    Returns:
      ``(state, config)``: the state with the structure of ``like`` (typed PRNG keys
      rewrapped) on the default device, and the config object.

    Raises:
      FileNotFoundError: nothing at ``path``.
      ValueError: not a jaxpg checkpoint, corrupted (a file or leaf that does not
        match its checksum) or incomplete, of another ``config_type``, or not
        matching ``like``.
    """
    path = Path(path).absolute()
    manifest, version, config = _open(path)
    if config_type is not None and type(config) is not config_type:
        raise ValueError(
            f"the checkpoint at {path} holds {_holds(config)}; expected a "
            f"{getattr(config_type, '__name__', config_type)} checkpoint"
        )
    if like is None:
        like = jax.eval_shape(make_trainer(config).init, jax.random.key(0))
    mf.check_template(like)
    mf.check_against(manifest, like, path, _holds(config))
    if version < 2:
        warnings.warn(
            f"{path} is a checkpoint of format version {version}, which has no "
            "checksums: its arrays are loaded unverified (save it again to add them)",
            stacklevel=2,
        )
    else:
        problem = check_files(path / "state", manifest["files"])
        if problem is not None:
            raise ValueError(
                f"the checkpoint at {path} is corrupted: state/{problem} (a changed "
                "or truncated file)"
            )
    flat, treedef = jax.tree_util.tree_flatten_with_path(like)
    entries = {e["path"]: e for e in manifest["leaves"]}
    order = [entries[jax.tree_util.keystr(p)] for p, _ in flat]
    values = _restore(path, order, flat)
    leaves = [
        mf.place(value, entry, template)
        for value, entry, (_, template) in zip(values, order, flat, strict=True)
    ]
    return jax.tree_util.tree_unflatten(treedef, leaves), config


def read_extra(path: str | os.PathLike) -> dict:
    """What :func:`save` stored as ``extra`` ({} when nothing, or unreadable).

    Args:
      path: the checkpoint directory.

    Returns:
      The JSON object.
    """
    try:
        with open(Path(path) / "state.json", encoding="utf-8") as f:
            extra = json.load(f).get("extra")
    except (OSError, ValueError, AttributeError):
        return {}
    return extra if isinstance(extra, dict) else {}


# ------------------------------------------------------------ interrupted saves


def interrupted(path: str | os.PathLike) -> list[Path]:
    """The copies an interrupted :func:`save` left beside ``path``, newest first.

    Args:
      path: a checkpoint directory.

    Returns:
      The existing ones of ``.NAME.partial`` (the new state; complete only if the
      save got past writing it) and ``.NAME.old`` (the previous checkpoint).
    """
    return [p for p in _siblings(Path(path).absolute()) if p.is_dir()]


def restore_interrupted(
    path: str | os.PathLike, like: Any = None, *, config_type: type | None = None
) -> Path | None:
    """Puts the newest intact copy an interrupted save left back at ``path``.

    A crash between the two renames of :func:`save` leaves no ``path`` but a
    complete ``.NAME.partial`` and ``.NAME.old``; each is loaded (checksums
    verified, as :func:`load`) and the first that loads is renamed to ``path``,
    the other copy removed. Only call this when no other process can be saving
    to ``path`` (jaxpg.run holds the run folder's lock).

    Args:
      path: the checkpoint directory (must not exist).
      like: as :func:`load`.
      config_type: as :func:`load`.

    Returns:
      The copy that was put back, or None when there is nothing to restore.

    Raises:
      ValueError: there are copies, but none loads; the message has each error.
    """
    path = Path(path).absolute()
    if path.exists():
        return None
    errors = []
    copies = interrupted(path)
    for copy in copies:
        try:
            load(copy, like, config_type=config_type)
        except (OSError, ValueError) as error:
            errors.append(f"{copy.name}: {error}")
            continue
        os.replace(copy, path)
        for other in copies:
            if other != copy:
                shutil.rmtree(other, ignore_errors=True)
        return copy
    if errors:
        raise ValueError(
            f"no checkpoint at {path}, and no intact copy beside it: "
            + "; ".join(errors)
        )
    return None
