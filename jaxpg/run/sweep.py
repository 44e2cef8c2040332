"""A sweep from the command line: which configurations, and how they are batched.

``scripts/train.py --sweep FIELD=V1,V2,... [--sweep FIELD=...] --seeds K`` trains
the grid of every combination of the listed values, K seeds each, in one vmapped
compiled call: the swept fields are :class:`jaxpg.HParams` leaves, so every
(configuration, seed) pair is one state of a batch of ``C · K`` states that share
one program (:func:`jaxpg.run.sweep_run.sweep_run`).

``--sweep-random N`` with ``--sweep FIELD=LOW:HIGH`` draws N configurations
instead: ``learning_rate`` log-uniform on ``[LOW, HIGH]``, every other field
uniform (``FIELD=LOW:HIGH:log`` or ``:uniform`` chooses explicitly). Draws use
``numpy.random.default_rng(sampling_seed)`` and are rounded to 4 significant
digits, so the numbers shown are the numbers trained; the seed is recorded in
``RUN/sweep.json``.

State ``m`` of the batch is configuration ``c = m // K`` with seed index
``k = m % K``; it starts from the key that seed index k of a plain ``--seeds K``
run gets, so each configuration's states equal that run with the
configuration's values (tests/test_sweep_cli.py checks it).

>>> import jaxpg
>>> sweep = parse_sweep(["learning_rate=1e-3,1e-2"], jaxpg.ReinforceConfig(), 2)
>>> sweep.size, sweep.members, sweep.label(1)
(2, 4, 'learning_rate=0.01')
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from jaxpg.run.options import RunError, RunOptions
from jaxpg.state import HParams

__all__ = [
    "LOG_UNIFORM",
    "SWEEP_FILE",
    "Sweep",
    "parse_sweep",
    "read_sweep",
    "sweep_configs",
    "sweep_from_dict",
    "sweep_to_dict",
    "sweepable",
    "with_sweep_states",
]

SWEEP_FILE = "sweep.json"  # the sweep of a run folder (absent: not a sweep)
LOG_UNIFORM = ("learning_rate",)  # drawn log-uniform by --sweep-random by default


@dataclasses.dataclass(frozen=True)
class Sweep:
    """The configurations of a sweep and the seeds each one trains with.

    Attributes:
      fields: the swept config fields, in the order given.
      values: one row per configuration: its value of each field.
      seeds: seeds per configuration (K).
      sampled: N of ``--sweep-random N``; 0 for a grid.
      ranges: with ``sampled``: each field's ``(low, high, scale)`` range.
      sampling_seed: with ``sampled``: the seed the draws came from.
    """

    fields: tuple[str, ...]
    values: tuple[tuple[float, ...], ...]
    seeds: int
    sampled: int = 0
    ranges: tuple[tuple[float, float, str], ...] = ()
    sampling_seed: int = 0

    @property
    def size(self) -> int:
        """The number of configurations (C)."""
        return len(self.values)

    @property
    def members(self) -> int:
        """The states trained together: C · K."""
        return self.size * self.seeds

    def label(self, c: int) -> str:
        """``"field=value, ..."`` of configuration ``c``.

        Args:
          c: a configuration index.

        Returns:
          The label.
        """
        return ", ".join(
            f"{f}={v:.4g}" for f, v in zip(self.fields, self.values[c], strict=True)
        )


def sweepable(config_cls: type) -> tuple[str, ...]:
    """The fields of ``config_cls`` that a sweep can vary: its :class:`HParams` leaves.

    Args:
      config_cls: a config dataclass.

    Returns:
      The names, in :class:`HParams` order.
    """
    names = {f.name for f in dataclasses.fields(config_cls)}
    return tuple(n for n in HParams._fields if n in names)


def _field(text: str, config: Any, flag: str, seen: set[str]) -> tuple[str, str]:
    """(field, what follows '=') of one ``--sweep`` argument, checked."""
    name, sep, rest = text.partition("=")
    name = name.strip().replace("-", "_")
    allowed = ", ".join(sweepable(type(config)))
    if not sep or not name:
        raise ValueError(
            f"{flag} {text!r}: expected FIELD=VALUES; sweepable fields: {allowed} "
            f"(of {type(config).__name__})"
        )
    known = {f.name for f in dataclasses.fields(config)}
    if name not in sweepable(type(config)):
        why = (
            "is not sweepable (it is not an HParams leaf: it changes the program)"
            if name in known
            else f"is not a field of {type(config).__name__}"
        )
        raise ValueError(f"{flag} {name}: {why}; sweepable fields: {allowed}")
    if name in seen:
        raise ValueError(f"{flag} {name}: given twice; list its values once")
    seen.add(name)
    return name, rest


def _number(text: str, flag: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{flag} {name}: {text.strip()!r} is not a number") from None
    if math.isnan(value):
        raise ValueError(f"{flag} {name}: nan is not a value to train with")
    return value


def _check_value(config: Any, name: str, value: float, flag: str) -> None:
    """The config's own validation of one value, worded for the flag."""
    try:
        dataclasses.replace(config, **{name: value})
    except ValueError as error:
        raise ValueError(f"{flag} {name}={value:g}: {error}") from None


def _grid_values(name: str, rest: str, config: Any) -> tuple[float, ...]:
    items = [t for t in rest.split(",")]
    if not rest.strip() or any(not t.strip() for t in items):
        raise ValueError(
            f"--sweep {name}: empty value list {rest!r}; give V1,V2,... (numbers)"
        )
    values = tuple(_number(t, "--sweep", name) for t in items)
    if len(set(values)) != len(values):
        raise ValueError(f"--sweep {name}: a value is listed twice in {rest!r}")
    for v in values:
        _check_value(config, name, v, "--sweep")
    return values


def _range(name: str, rest: str, config: Any) -> tuple[float, float, str]:
    parts = [t.strip() for t in rest.split(":")]
    usage = "--sweep-random takes --sweep FIELD=LOW:HIGH (or LOW:HIGH:log|uniform)"
    if len(parts) not in (2, 3) or not all(parts[:2]):
        raise ValueError(f"--sweep {name}={rest}: {usage}")
    low, high = (_number(t, "--sweep", name) for t in parts[:2])
    scale = (
        parts[2] if len(parts) == 3 else ("log" if name in LOG_UNIFORM else "uniform")
    )
    if scale not in ("log", "uniform"):
        raise ValueError(f"--sweep {name}={rest}: scale {scale!r}; {usage}")
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"--sweep {name}={rest}: LOW < HIGH, both finite, are needed")
    if scale == "log" and low <= 0:
        raise ValueError(f"--sweep {name}={rest}: a log range needs LOW > 0")
    for v in (low, high):
        _check_value(config, name, v, "--sweep")
    return low, high, scale


def _draw(ranges, count: int, seed: int) -> tuple[tuple[float, ...], ...]:
    """``count`` rows drawn from ``ranges``, rounded to 4 significant digits."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(count):
        row = []
        for low, high, scale in ranges:
            u = float(rng.uniform())
            if scale == "log":
                v = math.exp(math.log(low) + u * (math.log(high) - math.log(low)))
            else:
                v = low + u * (high - low)
            row.append(min(max(float(f"{v:.4g}"), low), high))
        rows.append(tuple(row))
    return tuple(rows)


def _check_count(name: str, value: Any, minimum: int) -> None:
    ok = isinstance(value, int) and not isinstance(value, bool)
    if not (ok and minimum <= value <= 2**31 - 1):
        raise ValueError(
            f"{name} must be an integer >= {minimum} and <= {2**31 - 1}; got {value!r}"
        )


def parse_sweep(
    texts: list[str],
    config: Any,
    seeds: int,
    sample: int = 0,
    sampling_seed: int = 0,
) -> Sweep:
    """The :class:`Sweep` that ``--sweep`` arguments describe, checked.

    Args:
      texts: the ``--sweep`` arguments: ``FIELD=V1,V2,...`` (a grid), or with
        ``sample`` ``FIELD=LOW:HIGH[:log|:uniform]``.
      config: the base config (the swept fields' values replace its own).
      seeds: seeds per configuration (``--seeds``).
      sample: N of ``--sweep-random N`` (0: the grid).
      sampling_seed: the seed of the draws (``--sweep-seed``).

    Returns:
      The sweep.

    Raises:
      ValueError: naming the flag: no argument, a malformed one, a field that is
        not sweepable (the message lists the sweepable ones), a field given
        twice, an empty list, a value that is not a number or that the config
        rejects (its own validation), or a combination the config rejects.
    """
    _check_count("--sweep-random", sample, 0)
    _check_count("--sweep-seed", sampling_seed, 0)
    if not texts:
        need = "ranges: --sweep FIELD=LOW:HIGH" if sample else "FIELD=V1,V2,..."
        raise ValueError(
            f"{'--sweep-random' if sample else '--sweep'} needs {need}; sweepable "
            f"fields: {', '.join(sweepable(type(config)))}"
        )
    seen: set[str] = set()
    parsed = [_field(t, config, "--sweep", seen) for t in texts]
    fields = tuple(name for name, _ in parsed)
    if sample:
        ranges = tuple(_range(n, rest, config) for n, rest in parsed)
        values = _draw(ranges, sample, sampling_seed)
        sweep = Sweep(fields, values, seeds, sample, ranges, sampling_seed)
    else:
        grids = [_grid_values(n, rest, config) for n, rest in parsed]
        values = tuple(itertools.product(*grids))
        sweep = Sweep(fields, values, seeds)
    for c in range(sweep.size):
        try:
            dataclasses.replace(config, **dict(zip(fields, values[c], strict=True)))
        except ValueError as error:
            raise ValueError(f"--sweep: {sweep.label(c)}: {error}") from None
    return sweep


def sweep_configs(config: Any, sweep: Sweep) -> list[Any]:
    """The config of each configuration: ``config`` with the swept values.

    Args:
      config: the base config.
      sweep: the sweep.

    Returns:
      C configs, in configuration order.
    """
    return [
        dataclasses.replace(config, **dict(zip(sweep.fields, row, strict=True)))
        for row in sweep.values
    ]


def sweep_to_dict(sweep: Sweep) -> dict:
    """``RUN/sweep.json``'s content.

    Args:
      sweep: the sweep.

    Returns:
      A JSON-ready dict.
    """
    data = dataclasses.asdict(sweep)
    data["configurations"] = [
        dict(zip(sweep.fields, row, strict=True)) for row in sweep.values
    ]
    return data


def sweep_from_dict(data: dict) -> Sweep:
    """The :class:`Sweep` of :func:`sweep_to_dict`'s output.

    Args:
      data: the dict.

    Returns:
      The sweep.

    Raises:
      ValueError: a malformed dict.
    """
    try:
        sweep = Sweep(
            fields=tuple(data["fields"]),
            values=tuple(tuple(float(v) for v in row) for row in data["values"]),
            seeds=int(data["seeds"]),
            sampled=int(data.get("sampled", 0)),
            ranges=tuple(
                (float(lo), float(hi), str(s)) for lo, hi, s in data.get("ranges", ())
            ),
            sampling_seed=int(data.get("sampling_seed", 0)),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"not a sweep description ({error!r})") from None
    if sweep.seeds < 1 or not sweep.values:
        raise ValueError("not a sweep description (no configurations or seeds)")
    if any(len(row) != len(sweep.fields) for row in sweep.values):
        raise ValueError("not a sweep description (a row of the wrong length)")
    return sweep


def read_sweep(run_dir: Path) -> Sweep | None:
    """The sweep of a run folder (``RUN/sweep.json``), or None for a plain run.

    Args:
      run_dir: the run folder.

    Returns:
      The sweep, or None.

    Raises:
      RunError: a sweep.json that cannot be read.
    """
    path = Path(run_dir) / SWEEP_FILE
    if not path.exists():
        return None
    try:
        return sweep_from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as error:
        raise RunError(f"{path}: {error}") from None


def with_sweep_states(options: RunOptions, run_dir: Path) -> RunOptions:
    """The run options of a run folder's checkpoint: a sweep's ``seeds`` is its
    ``C · K`` states (state m: configuration m // K, seed m % K; the config is
    its base), a plain run's options are returned as they are.

    Args:
      options: the run options as saved in RUN/config.json.
      run_dir: the run folder.

    Returns:
      The options the checkpoint's states are batched by.

    Raises:
      RunError: a sweep.json that cannot be read.
    """
    sweep = read_sweep(run_dir)
    if sweep is None:
        return options
    return dataclasses.replace(options, seeds=sweep.members)
