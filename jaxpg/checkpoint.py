"""Checkpoints of a run: ``save(path, state, config)`` / ``load(path, like=None)``.

A checkpoint is a directory::

    path/
      config.json   the config: {"class": "ReinforceConfig", "fields": {...}}
      state.json    format version and one entry per TrainState leaf (path, shape,
                    dtype, PRNG implementation for keys)
      state/        the leaves, written by orbax-checkpoint

Nothing is pickled: the config is JSON and the arrays are tensorstore files, so a
checkpoint can be read by another version of Python or of jaxpg. Typed PRNG keys are
stored as their raw ``jax.random.key_data`` and rewrapped on load.

Saving is atomic: everything is written into a temporary sibling directory that is
renamed to ``path`` only once complete, so a crash or an error part-way leaves any
checkpoint already at ``path`` as it was. orbax-checkpoint is imported inside the
functions, so ``import jaxpg`` does not pay for it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import shutil
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxpg.algorithms import registry
from jaxpg.files import write_json
from jaxpg.train import make_trainer

FORMAT = "jaxpg.checkpoint"
VERSION = 1

__all__ = ["config_from_dict", "config_to_dict", "load", "save"]


# ----------------------------------------------------------------------------- config


def _config_types() -> dict[str, type]:
    return {cls.__name__: cls for cls in registry.config_types()}


def _json_value(value: Any) -> Any:
    """Strict JSON: tuples become lists, non-finite floats become strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # "inf", "-inf", "nan"
    if isinstance(value, (tuple, list)):
        return [_json_value(v) for v in value]
    return value


def config_to_dict(config: Any) -> dict:
    """``{"class": name, "fields": {...}}``: a JSON-ready description of a config.

    Args:
      config: a registered algorithm's config dataclass.

    Returns:
      The dict: its class name and every field (tuples as lists, infinities as
      strings).

    Raises:
      TypeError: ``config`` is not a config dataclass instance.

    >>> import jaxpg
    >>> config_to_dict(jaxpg.ReinforceConfig())["fields"]["max_grad_norm"]
    'inf'
    """
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"config must be a config dataclass; got {type(config)!r}")
    fields = {
        f.name: _json_value(getattr(config, f.name)) for f in dataclasses.fields(config)
    }
    return {"class": type(config).__name__, "fields": fields}


def _field_value(field: dataclasses.Field, value: Any) -> Any:
    """Undoes :func:`_json_value` using the field's default as the type witness."""
    default = field.default
    if isinstance(default, float) and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value  # left for the config's own validation to reject
    if isinstance(value, list):
        return tuple(value)
    return value


def config_from_dict(data: dict) -> Any:
    """The config described by :func:`config_to_dict`'s output (validated).

    Args:
      data: ``{"class": name, "fields": {...}}``.

    Returns:
      The config (its ``__post_init__`` validates the values).

    Raises:
      ValueError: for an unknown class, unknown fields or invalid values.
    """
    types = _config_types()
    if not isinstance(data, dict) or "class" not in data or "fields" not in data:
        raise ValueError('a config must be a JSON object {"class": ..., "fields": ...}')
    name = data["class"]
    if name not in types:
        raise ValueError(
            f"unknown config class {name!r}; known: {', '.join(sorted(types))}"
        )
    cls = types[name]
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data["fields"]) - set(fields))
    if unknown:
        raise ValueError(f"{name} has no field(s) {', '.join(unknown)}")
    values = {k: _field_value(fields[k], v) for k, v in data["fields"].items()}
    return cls(**values)


# ------------------------------------------------------------------------------ state


def _is_key(dtype: Any) -> bool:
    return jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)


def _entry_name(entry: Any) -> str:
    for attribute in ("name", "key", "idx"):
        if hasattr(entry, attribute):
            return str(getattr(entry, attribute))
    return str(entry)  # pragma: no cover - every jax key type has one of the above


def _leaf_names(paths: list) -> list[tuple[str, ...]]:
    """A storage name per leaf: its path components, made safe for orbax.

    orbax joins the components with "." and uses them as file names, so anything but
    letters, digits, "_" and "-" is replaced; a clash is an error rather than a silent
    overwrite.
    """
    names = []
    for path in paths:
        names.append(
            tuple(re.sub(r"[^A-Za-z0-9_-]", "_", _entry_name(e)) for e in path)
        )
    if len(set(names)) != len(names):
        raise ValueError(
            "two leaves of the state map to the same checkpoint name; rename the "
            "dictionary keys that differ only in punctuation"
        )
    return names


def _nest(names: list[tuple[str, ...]], values: list) -> dict:
    tree: dict = {}
    for name, value in zip(names, values, strict=True):
        node = tree
        for part in name[:-1]:
            node = node.setdefault(part, {})
        node[name[-1]] = value
    return tree


def _lookup(tree: dict, name: tuple[str, ...]) -> Any:
    for part in name:
        tree = tree[part]
    return tree


def _describe(leaf: Any) -> tuple[tuple[int, ...], str]:
    return tuple(int(d) for d in leaf.shape), str(leaf.dtype)


def _manifest(state: Any) -> tuple[list, list, dict]:
    """(leaves as storable arrays, their nested names, the state.json content)."""
    flat, _ = jax.tree_util.tree_flatten_with_path(state)
    paths = [p for p, _ in flat]
    names = _leaf_names(paths)
    stored, entries = [], []
    for path, name, (_, leaf) in zip(paths, names, flat, strict=True):
        shape, dtype = _describe(leaf)
        entry = {
            "path": jax.tree_util.keystr(path),
            "name": list(name),
            "shape": list(shape),
            "dtype": dtype,
        }
        if _is_key(leaf.dtype):
            entry["key_impl"] = str(jax.random.key_impl(leaf))
            leaf = jax.random.key_data(leaf)
            entry["key_data"] = {"shape": list(leaf.shape), "dtype": str(leaf.dtype)}
        stored.append(leaf)
        entries.append(entry)
    return stored, names, {"format": FORMAT, "version": VERSION, "leaves": entries}


def _sync(name: str) -> None:
    if jax.process_count() > 1:
        from orbax.checkpoint import multihost

        multihost.sync_global_processes(name)


def save(path: str | os.PathLike, state: Any, config: Any) -> Path:
    """Writes ``state`` (a :class:`jaxpg.TrainState`) and ``config`` to ``path``.

    Args:
      path: the checkpoint directory. An existing checkpoint there is replaced,
        only after the new one is completely written; any other non-empty folder
        there is refused.
      state: the state to store (any pytree of arrays and typed PRNG keys works;
        batched states from ``jax.vmap`` too).
      config: the run's config dataclass, stored as JSON.

    Returns:
      ``path`` as a :class:`pathlib.Path`.

    With several JAX processes every process must call ``save`` (orbax writes
    collectively); process 0 writes the JSON files and renames the directory.
    """
    import orbax.checkpoint as ocp

    path = Path(path).absolute()
    if path.exists() and not path.is_dir():
        raise ValueError(f"cannot save a checkpoint to {path}: it is a file")
    if path.is_dir() and any(path.iterdir()) and not (path / "state.json").exists():
        raise ValueError(
            f"cannot save a checkpoint to {path}: it is a folder that is not a jaxpg "
            "checkpoint, and saving would replace it; choose a new path"
        )
    config_json = config_to_dict(config)  # fails before anything is written
    stored, names, manifest = _manifest(state)
    primary = jax.process_index() == 0
    tmp = path.with_name(f".{path.name}.partial")
    old = path.with_name(f".{path.name}.old")
    if primary:
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
    _sync("jaxpg_save_start")
    try:
        if primary:
            write_json(tmp / "config.json", config_json, fsync=True)
            write_json(tmp / "state.json", manifest, fsync=True)
        with ocp.StandardCheckpointer() as checkpointer:
            checkpointer.save(tmp / "state", _nest(names, stored))
            checkpointer.wait_until_finished()
        _sync("jaxpg_save_written")
        if primary:
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


def _read_json(path: Path, checkpoint: Path) -> dict:
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


def _check_against(manifest: dict, like: Any, checkpoint: Path) -> None:
    """Clear errors when the template does not match what was stored."""
    flat, _ = jax.tree_util.tree_flatten_with_path(like)
    stored = {e["path"]: e for e in manifest["leaves"]}
    wanted = {jax.tree_util.keystr(p): _describe(x) for p, x in flat}
    missing = sorted(set(wanted) - set(stored))
    extra = sorted(set(stored) - set(wanted))
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"not in the checkpoint: {', '.join(missing[:5])}")
        if extra:
            parts.append(f"not in the template: {', '.join(extra[:5])}")
        raise ValueError(
            f"the checkpoint at {checkpoint} does not match the template state "
            f"({'; '.join(parts)}); pass like= a state of the same structure, e.g. "
            "jax.eval_shape(trainer.init, key) for the trainer that saved it"
        )
    for name, (shape, dtype) in wanted.items():
        entry = stored[name]
        if tuple(entry["shape"]) != shape or entry["dtype"] != dtype:
            raise ValueError(
                f"the checkpoint at {checkpoint} stores {name} as "
                f"{entry['dtype']}{entry['shape']}, the template expects "
                f"{dtype}{list(shape)}; pass like= a matching state (a vmapped or "
                "differently configured run needs its own template)"
            )


def load(path: str | os.PathLike, like: Any = None) -> tuple[Any, Any]:
    """Reads a checkpoint written by :func:`save`.

    Args:
      path: the checkpoint directory.
      like: a template of the state: a ``TrainState`` of the same structure, shapes
        and dtypes, concrete or abstract (``jax.eval_shape(trainer.init, key)``).
        Needed for a custom environment or policy; ``None`` rebuilds it from the
        stored config with ``jaxpg.make_trainer(config)``.

    Returns:
      ``(state, config)``: the state with the structure of ``like`` (typed PRNG keys
      rewrapped) on the default device, and the config object.

    Raises:
      FileNotFoundError: nothing at ``path``.
      ValueError: not a jaxpg checkpoint, corrupted or incomplete, or not matching
        ``like``.
    """
    import orbax.checkpoint as ocp

    path = Path(path).absolute()
    if not path.exists():
        hint = ""
        old = path.with_name(f".{path.name}.old")
        if old.exists():
            hint = f" (a save was interrupted while replacing it; the previous one is {old})"
        raise FileNotFoundError(f"no checkpoint at {path}{hint}")
    if not path.is_dir():
        raise ValueError(f"{path} is not a jaxpg checkpoint directory")
    manifest = _read_json(path / "state.json", path)
    if manifest.get("format") != FORMAT or not isinstance(manifest.get("leaves"), list):
        raise ValueError(f"{path} is not a jaxpg checkpoint (state.json has no leaves)")
    if manifest.get("version") != VERSION:
        raise ValueError(
            f"{path} has checkpoint format version {manifest.get('version')!r}; this "
            f"jaxpg reads version {VERSION}"
        )
    config = config_from_dict(_read_json(path / "config.json", path))
    if like is None:
        like = jax.eval_shape(make_trainer(config).init, jax.random.key(0))
    _check_against(manifest, like, path)

    flat, treedef = jax.tree_util.tree_flatten_with_path(like)
    entries = {e["path"]: e for e in manifest["leaves"]}
    order = [entries[jax.tree_util.keystr(p)] for p, _ in flat]
    names = [tuple(e["name"]) for e in order]
    # Restored as host numpy arrays, then placed like the template's leaves: an
    # explicitly placed (committed) leaf or a ShapeDtypeStruct with a sharding keeps
    # that placement; anything else goes to the default device uncommitted, as
    # trainer.init's output does, so a jitted run called on it does not recompile.
    targets = []
    for entry in order:
        stored = entry.get("key_data", entry)  # keys are stored as their raw data
        targets.append(np.empty(tuple(stored["shape"]), np.dtype(stored["dtype"])))
    try:
        with ocp.StandardCheckpointer() as checkpointer:
            restored = checkpointer.restore(path / "state", _nest(names, targets))
    except Exception as error:
        raise ValueError(
            f"could not read the arrays of the checkpoint at {path} (corrupted or "
            f"incomplete): {type(error).__name__}: {error}"
        ) from error
    leaves = []
    for entry, name, (_, template) in zip(order, names, flat, strict=True):
        try:
            value = _lookup(restored, name)
        except (KeyError, TypeError):
            raise ValueError(
                f"the checkpoint at {path} is corrupted: {entry['path']} is missing"
            ) from None
        if "key_impl" in entry:
            value = jax.random.wrap_key_data(value, impl=entry["key_impl"])
        sharding = getattr(template, "sharding", None)
        if sharding is not None and getattr(template, "committed", True):
            value = jax.device_put(value, sharding)
        else:
            value = jnp.asarray(value)
        leaves.append(value)
    return jax.tree_util.tree_unflatten(treedef, leaves), config
