"""The ``state.json`` of a checkpoint (:mod:`jaxpg.checkpoint`): what it holds.

One entry per leaf of the saved state, in flattening order::

    {"path": "['params']['policy']...", "name": ["params", "policy", ...],
     "shape": [8, 2], "dtype": "float32", "sha256": "...",
     "key_impl": "fry", "key_data": {"shape": [2], "dtype": "uint32"}}  # keys only

and ``"files"``: the sha256 of every file orbax wrote. :func:`build` makes the
entries, :func:`check` refuses a manifest of the wrong shape or types before
anything is read, and :func:`check_template` / :func:`check_against` compare a
template state with it, so every problem is a ``ValueError`` that says what is
wrong rather than a ``KeyError`` or a failed allocation deep inside a load.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxpg.checksums import array_digest

FORMAT = "jaxpg.checkpoint"
# 2: sha256 of every leaf and file. 1 (no checksums) is read with a warning.
VERSION = 2
READABLE = (1, 2)

__all__ = [
    "FORMAT",
    "READABLE",
    "VERSION",
    "build",
    "check",
    "check_against",
    "check_template",
    "describe",
    "host_array",
    "is_key",
    "key_data_shape",
    "leaf_names",
    "lookup",
    "nest",
    "place",
    "targets",
]


def is_key(dtype: Any) -> bool:
    """Whether ``dtype`` is a typed PRNG key dtype."""
    return jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)


def _entry_name(entry: Any) -> str:
    for attribute in ("name", "key", "idx"):
        if hasattr(entry, attribute):
            return str(getattr(entry, attribute))
    return str(entry)  # pragma: no cover - every jax key type has one of the above


def leaf_names(paths: list) -> list[tuple[str, ...]]:
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


def nest(names: list[tuple[str, ...]], values: list) -> dict:
    """The nested dict orbax stores: ``values`` under their ``names``."""
    tree: dict = {}
    for name, value in zip(names, values, strict=True):
        node = tree
        for part in name[:-1]:
            node = node.setdefault(part, {})
        node[name[-1]] = value
    return tree


def lookup(tree: dict, name: tuple[str, ...]) -> Any:
    """The value stored under ``name`` in :func:`nest`'s dict."""
    for part in name:
        tree = tree[part]
    return tree


def describe(leaf: Any) -> tuple[tuple[int, ...], str]:
    """``(shape, dtype name)`` of an array or ``jax.ShapeDtypeStruct``."""
    return tuple(int(d) for d in leaf.shape), str(leaf.dtype)


def _is_array_like(leaf: Any) -> bool:
    return hasattr(leaf, "shape") and hasattr(leaf, "dtype")


def host_array(leaf: Any) -> np.ndarray:
    """All of ``leaf`` on this host (collective for an array spread over processes)."""
    if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
        from jax.experimental import multihost_utils

        leaf = multihost_utils.process_allgather(leaf, tiled=True)
    return np.asarray(jax.device_get(leaf))


def build(state: Any) -> tuple[list, list, dict]:
    """``(leaves as orbax stores them, their storage names, state.json's content)``.

    Raises:
      ValueError: a leaf that is not an array (e.g. a Python float), naming it.
    """
    flat, _ = jax.tree_util.tree_flatten_with_path(state)
    paths = [p for p, _ in flat]
    for path, leaf in flat:
        if not _is_array_like(leaf):
            raise ValueError(
                f"cannot save the state: its leaf {jax.tree_util.keystr(path) or '(the root)'} "
                f"is a {type(leaf).__name__}, not an array; store numbers as arrays "
                "(jnp.asarray(x)) so they keep their dtype"
            )
    names = leaf_names(paths)
    stored, entries = [], []
    for path, name, (_, leaf) in zip(paths, names, flat, strict=True):
        shape, dtype = describe(leaf)
        entry = {
            "path": jax.tree_util.keystr(path),
            "name": list(name),
            "shape": list(shape),
            "dtype": dtype,
        }
        if is_key(leaf.dtype):
            entry["key_impl"] = str(jax.random.key_impl(leaf))
            leaf = jax.random.key_data(leaf)
            entry["key_data"] = {"shape": list(leaf.shape), "dtype": str(leaf.dtype)}
        entry["sha256"] = array_digest(entry["path"], host_array(leaf))
        stored.append(leaf)
        entries.append(entry)
    return stored, names, {"format": FORMAT, "version": VERSION, "leaves": entries}


# ------------------------------------------------------------------------ reading


def _is_shape(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in value
    )


def _is_dtype(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return np.dtype(value).kind in "biufc"
    except TypeError:
        return False


def _entry_problem(entry: Any, version: int) -> str | None:
    """What is wrong with one leaf entry of state.json, or None."""
    if not isinstance(entry, dict):
        return f"is a {type(entry).__name__}, not an object"
    checks = {
        "path": isinstance(entry.get("path"), str),
        "name": isinstance(entry.get("name"), list)
        and len(entry["name"]) > 0
        and all(isinstance(n, str) for n in entry["name"]),
        "shape": _is_shape(entry.get("shape")),
        "dtype": isinstance(entry.get("dtype"), str),
    }
    if version >= 2:
        sha = entry.get("sha256")
        checks["sha256"] = (
            isinstance(sha, str) and re.fullmatch("[0-9a-f]{64}", sha) is not None
        )
    if "key_impl" in entry or "key_data" in entry:
        data = entry.get("key_data")
        checks["key_impl"] = isinstance(entry.get("key_impl"), str)
        checks["key_data"] = (
            isinstance(data, dict)
            and _is_shape(data.get("shape"))
            and _is_dtype(data.get("dtype"))
        )
    elif "dtype" in entry and checks["dtype"]:
        checks["dtype"] = _is_dtype(entry["dtype"])
    bad = [k for k, ok in checks.items() if not ok]
    if bad:
        return f"has a missing or invalid {', '.join(repr(k) for k in bad)}"
    return None


def check(manifest: Any, where: Path) -> int:
    """The format version of a state.json, after checking its shape and types.

    Args:
      manifest: the parsed state.json.
      where: the checkpoint (for messages).

    Returns:
      The version (one of :data:`READABLE`).

    Raises:
      ValueError: not a jaxpg manifest, an unknown version, or an entry of the
        wrong shape or types.
    """
    if (
        not isinstance(manifest, dict)
        or manifest.get("format") != FORMAT
        or not isinstance(manifest.get("leaves"), list)
    ):
        raise ValueError(
            f"{where} is not a jaxpg checkpoint (state.json has no leaves)"
        )
    version = manifest.get("version")
    if version not in READABLE or isinstance(version, bool):
        raise ValueError(
            f"{where} has checkpoint format version {version!r}; this jaxpg reads "
            f"versions {', '.join(map(str, READABLE))}"
        )
    for i, entry in enumerate(manifest["leaves"]):
        problem = _entry_problem(entry, version)
        if problem is not None:
            raise ValueError(
                f"{where} is corrupted: state.json's leaf entry {i} {problem}"
            )
    paths = [e["path"] for e in manifest["leaves"]]
    if len(set(paths)) != len(paths):
        raise ValueError(f"{where} is corrupted: state.json names a leaf twice")
    files = manifest.get("files")
    if version >= 2 and not (
        isinstance(files, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in files.items())
    ):
        raise ValueError(
            f"{where} is corrupted: state.json has no valid 'files' checksums"
        )
    return version


def check_template(like: Any) -> None:
    """ValueError unless ``like`` is a pytree of arrays / ``jax.ShapeDtypeStruct``."""
    flat, _ = jax.tree_util.tree_flatten_with_path(like)
    for path, leaf in flat:
        if not _is_array_like(leaf):
            raise ValueError(
                "like must be a template of the saved state: a pytree of arrays or "
                "jax.ShapeDtypeStruct, e.g. jax.eval_shape(trainer.init, key); "
                f"like{jax.tree_util.keystr(path)} is a {type(leaf).__name__}"
            )
    if not flat:
        raise ValueError(
            "like must be a template of the saved state (e.g. "
            f"jax.eval_shape(trainer.init, key)); got {like!r}, which has no arrays"
        )


def check_against(manifest: dict, like: Any, where: Path, holds: str) -> None:
    """Clear errors when the template does not match what was stored.

    Args:
      manifest: a checked state.json.
      like: a checked template.
      where: the checkpoint (for messages).
      holds: what the checkpoint holds, for messages (e.g. "a PPO state (PPOConfig)").
    """
    flat, _ = jax.tree_util.tree_flatten_with_path(like)
    stored = {e["path"]: e for e in manifest["leaves"]}
    wanted = {jax.tree_util.keystr(p): describe(x) for p, x in flat}
    missing = sorted(set(wanted) - set(stored))
    extra = sorted(set(stored) - set(wanted))
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"not in the checkpoint: {', '.join(missing[:5])}")
        if extra:
            parts.append(f"not in the template: {', '.join(extra[:5])}")
        raise ValueError(
            f"the checkpoint at {where} holds {holds}, which does not match the "
            f"template state ({'; '.join(parts)}); pass like= a state of the same "
            "structure, e.g. jax.eval_shape(trainer.init, key) for the trainer that "
            "saved it"
        )
    for name, (shape, dtype) in wanted.items():
        entry = stored[name]
        if tuple(entry["shape"]) != shape or entry["dtype"] != dtype:
            raise ValueError(
                f"the checkpoint at {where} stores {name} as "
                f"{entry['dtype']}{entry['shape']}, the template expects "
                f"{dtype}{list(shape)}; pass like= a matching state (a vmapped or "
                "differently configured run needs its own template)"
            )


def key_data_shape(template_leaf: Any) -> tuple[int, ...]:
    """The raw-data shape of a template key leaf (its shape + the impl's key shape)."""
    return tuple(jax.eval_shape(jax.random.key_data, template_leaf).shape)


def targets(order: list[dict], flat: list) -> list:
    """Host arrays that orbax fills, shaped as stored (keys: their raw data)."""
    targets = []
    for entry, (_, template) in zip(order, flat, strict=True):
        if "key_data" in entry:
            shape = tuple(entry["key_data"]["shape"])
            if not is_key(template.dtype) or shape != key_data_shape(template):
                raise ValueError(
                    f"{entry['path']}'s key data is stored with shape {list(shape)}, "
                    "which does not fit its key"
                )
            targets.append(np.empty(shape, np.dtype(entry["key_data"]["dtype"])))
        else:
            targets.append(np.empty(tuple(entry["shape"]), np.dtype(entry["dtype"])))
    return targets


def place(value: np.ndarray, entry: dict, template: Any) -> jax.Array:
    """A restored leaf placed like the template's leaf (typed keys rewrapped).

    An explicitly placed (committed) leaf or a ShapeDtypeStruct with a sharding
    keeps that placement; anything else goes to the default device uncommitted, as
    trainer.init's output does, so a jitted run called on it does not recompile.
    """
    if "key_impl" in entry:
        value = jax.random.wrap_key_data(value, impl=entry["key_impl"])
    sharding = getattr(template, "sharding", None)
    if sharding is not None and getattr(template, "committed", True):
        return jax.device_put(value, sharding)
    return jnp.asarray(value)
