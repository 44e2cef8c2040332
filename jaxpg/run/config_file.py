"""A run's config and run options from a file: ``scripts/train.py --config FILE``.

Two layouts are read. A TOML file (the standard library's :mod:`tomllib`)::

    algo = "ppo"              # optional: the --algo (default reinforce)
    preset = "none"           # optional: the --preset (default auto)

    [config]                  # fields of the algorithm's config: its flags
    env_id = "CartPole-v1"
    num_envs = 64
    hidden_sizes = [64, 64]

    [run]                     # run options (jaxpg.run.RunOptions): their flags
    seeds = 4
    eval_every = 20

Keys are the flags' names with underscores; values have the flags' types
(arrays for the flags that take several values, ``"none"`` where a flag takes
the word none). And a run folder's ``config.json`` (or the folder itself), so a
run can be repeated from its folder: its "class" names the algorithm, "fields"
is the config and "run" the run options (its version entries are ignored).

Explicit flags win over the file, the file wins over the tuned preset. A key
that is no field is an error naming it and the file; so is a file that does not
parse (with the line) and a value the config's own validation refuses.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import tomllib
import typing
from pathlib import Path
from typing import Any, NamedTuple

from jaxpg import checkpoint
from jaxpg.algorithms import registry
from jaxpg.run.options import RunError, RunOptions

__all__ = ["ConfigFile", "blame", "check_keys", "given_flags", "read_config_file"]

TOP_KEYS = ("algo", "preset", "config", "run")
# config.json's "run" entries that record where a run ran, not how.
VERSION_KEYS = ("jaxpg_version", "jax_version", "backend")


class ConfigFile(NamedTuple):
    """What a config file sets (only the keys it has)."""

    path: Path  # the file read
    algo: str | None  # the algorithm's registry name, or None: not set
    preset: str | None  # "auto" | "none", or None: not set
    config: dict[str, Any]  # config fields (arrays as tuples)
    run: dict[str, Any]  # run options


def _load(path: Path) -> dict:
    """The file's content as a dict (TOML, or JSON for ``*.json``)."""
    where = f"--config {path}"
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise RunError(f"{where}: no such file") from None
    except OSError as error:
        raise RunError(f"{where}: cannot read it ({error})") from None
    try:
        if path.suffix == ".json":
            data = json.loads(raw.decode("utf-8"))
        else:
            data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise RunError(f"{where}: not UTF-8 text ({error})") from None
    except json.JSONDecodeError as error:
        raise RunError(f"{where}: not valid JSON: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise RunError(f"{where}: not valid TOML: {error}") from None
    if not isinstance(data, dict):
        raise RunError(f"{where}: must hold a JSON object")
    return data


def _from_run_json(path: Path, data: dict) -> ConfigFile:
    """A run folder's config.json as a :class:`ConfigFile`."""
    try:
        config = checkpoint.config_from_dict(data)
    except (ValueError, TypeError) as error:
        raise RunError(f"--config {path}: {error}") from None
    fields = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    run = data.get("run", {})
    if not isinstance(run, dict):
        raise RunError(f'--config {path}: "run" must be an object of run options')
    unknown = sorted(set(data) - {"class", "fields", "run"})
    if unknown:
        raise RunError(f"--config {path}: unknown key {unknown[0]!r}")
    run = {k: v for k, v in run.items() if k not in VERSION_KEYS}
    algo = registry.for_config(config).name
    return ConfigFile(path, algo, None, fields, run)


def _table(path: Path, data: dict, name: str) -> dict:
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise RunError(f"--config {path}: {name} must be a table ([{name}])")
    return table


def _from_toml(path: Path, data: dict) -> ConfigFile:
    unknown = [k for k in data if k not in TOP_KEYS]
    if unknown:
        raise RunError(
            f"--config {path}: unknown key {unknown[0]!r} (the top level holds "
            f"{', '.join(TOP_KEYS)}; config fields go in [config], run options "
            "in [run])"
        )
    algo = data.get("algo")
    if algo is not None and algo not in registry.names():
        raise RunError(
            f"--config {path}: algo must be one of {', '.join(registry.names())}; "
            f"got {algo!r}"
        )
    preset = data.get("preset")
    if preset is not None and preset not in ("auto", "none"):
        raise RunError(f"--config {path}: preset must be auto or none; got {preset!r}")
    config, run = _table(path, data, "config"), _table(path, data, "run")
    return ConfigFile(path, algo, preset, config, run)


def read_config_file(path: str | Path) -> ConfigFile:
    """Reads a TOML config file or a run folder's config.json.

    Args:
      path: the file (a folder: its config.json).

    Returns:
      What it sets; the keys of [config] and [run] are not yet checked against
      an algorithm (:func:`check_keys`).

    Raises:
      RunError: no such file, a file that does not parse (the message has the
        line), an unknown top-level key, or an unknown algorithm.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "config.json"
    data = _load(path)
    if path.suffix == ".json":
        return _from_run_json(path, data)
    return _from_toml(path, data)


def _optional(cls: type) -> set[str]:
    """The fields of ``cls`` that take None."""
    hints = typing.get_type_hints(cls)
    return {n for n, t in hints.items() if type(None) in typing.get_args(t)}


def _values(table: dict, cls: type, section: str, path: Path) -> dict[str, Any]:
    """``table``'s values as the fields of ``cls`` take them; RunError for a key
    that is not a field."""
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    unknown = [k for k in table if k not in names]
    if unknown:
        raise RunError(
            f"--config {path}: unknown key {unknown[0]!r} in [{section}] "
            f"({cls.__name__} has no such field; it has {', '.join(names)})"
        )
    optional = _optional(cls)
    values = {}
    for key, value in table.items():
        if isinstance(value, list):
            value = tuple(value)
        elif key in optional and isinstance(value, str) and value.lower() == "none":
            value = None
        values[key] = value
    return values


def check_keys(file: ConfigFile, config_cls: type) -> ConfigFile:
    """The file with its [config] and [run] keys checked and values converted.

    Args:
      file: :func:`read_config_file`'s result.
      config_cls: the config class of the algorithm the run uses.

    Returns:
      The file, arrays as tuples and ``"none"`` as None where a field takes it.

    Raises:
      RunError: a key that is not a field, naming it, the table and the file.
    """
    config = _values(file.config, config_cls, "config", file.path)
    run = _values(file.run, RunOptions, "run", file.path)
    return file._replace(config=config, run=run)


def given_flags(parser: argparse.ArgumentParser, argv: list[str]) -> set[str]:
    """The destinations of the flags ``argv`` gives explicitly.

    Args:
      parser: a fresh parser of the same flags (its defaults are replaced).
      argv: the command line (already parsed once without error).

    Returns:
      The names of the flags given.
    """
    for action in parser._actions:
        action.default = argparse.SUPPRESS
    return set(vars(parser.parse_args(argv)))


def blame(message: str, file: ConfigFile, given: set[str]) -> str | None:
    """Names the file's keys in a validation error about values it set.

    Args:
      message: a config's or the run options' ValueError text.
      file: the config file.
      given: the flags given explicitly (their values are not the file's).

    Returns:
      ``"--config FILE: [config] num_envs = 0: <message>"`` when the error is
      about a value from the file, else None.
    """
    found = []
    for section, table in (("config", file.config), ("run", file.run)):
        for key, value in table.items():
            flag = "--" + key.replace("_", "-")
            named = re.search(rf"(?<![\w-]){re.escape(key)}(?![\w])", message)
            if key not in given and (named or flag in message.split()):
                found.append(f"[{section}] {key} = {value!r}")
    if not found:
        return None
    return f"--config {file.path}: {', '.join(found)}: {message}"
