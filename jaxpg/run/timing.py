"""Timing harnesses for the benchmark scripts: medians of compiled calls, workers.

Every benchmark number is the median wall time of several calls of a compiled
function with ``jax.block_until_ready`` (:func:`median_wall`,
:func:`compile_and_time`, which times the compile apart). Measurements that need a
fresh process (a cold compilation cache, one core) run in a worker subprocess
(:func:`worker_command`, :func:`run_json`): ``python -m jaxpg.run.<module>``,
pinned with ``taskset -c`` from its start, so every thread XLA creates is pinned
too, and answering with one JSON line on stdout.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax

from jaxpg.compilation import jit

__all__ = [
    "ROOT",
    "compile_and_time",
    "machine_line",
    "median_wall",
    "pin_command",
    "run_json",
    "worker_command",
]

# The folder that holds the jaxpg package: the workers' working directory, so that
# ``python -m jaxpg.run...`` imports this very jaxpg.
ROOT = Path(__file__).resolve().parents[2]


def median_wall(
    fn: Callable, *args: Any, repeats: int, warmup: bool = True
) -> tuple[float, Any]:
    """The median wall time of ``repeats`` calls of ``fn(*args)``, and the last output.

    Args:
      fn: a (compiled) function.
      *args: its arguments.
      repeats: timed calls, each ended by ``jax.block_until_ready``.
      warmup: first one untimed call (allocations, a jit's compile).

    Returns:
      ``(median seconds, output of the last call)``.
    """
    if warmup:
        jax.block_until_ready(fn(*args))
    walls, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = jax.block_until_ready(fn(*args))
        walls.append(time.perf_counter() - t0)
    return statistics.median(walls), out


def compile_and_time(fn: Callable, args: tuple, repeats: int) -> dict:
    """Compiles ``jaxpg.jit(fn)`` apart, then the median wall of ``repeats`` calls.

    Args:
      fn: the function to time.
      args: its arguments (the compile is for them).
      repeats: timed calls after one untimed call.

    Returns:
      ``{"compile_s", "wall_s", "out"}``: lower + compile seconds, the median wall
      and the last call's output.
    """
    t0 = time.perf_counter()
    compiled = jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - t0
    wall, out = median_wall(compiled, *args, repeats=repeats)
    return {"compile_s": compile_s, "wall_s": wall, "out": out}


def pin_command(cores: str) -> list[str]:
    """``taskset -c CORES`` (nothing for ``"all"``): a command prefix that pins.

    Args:
      cores: ``"all"`` or a core list such as ``"0"`` or ``"0,1"``.

    Returns:
      the prefix.
    """
    return [] if cores == "all" else ["taskset", "-c", cores]


def worker_command(module: str, cores: str = "all") -> list[str]:
    """The command that runs ``python -m MODULE``, pinned to ``cores``.

    Args:
      module: e.g. ``"jaxpg.run.bench"``.
      cores: ``"all"`` or a core list.

    Returns:
      the command, without the worker's own arguments.
    """
    return [*pin_command(cores), sys.executable, "-m", module]


def run_json(cmd: Sequence[str], name: str | None = None, tail: int = 3000) -> Any:
    """Runs ``cmd`` in :data:`ROOT`; the JSON of its last stdout line.

    Args:
      cmd: the command.
      name: how a failure names it (default: the command line).
      tail: characters of its stderr a failure shows.

    Returns:
      the parsed JSON.

    Raises:
      RuntimeError: when the command fails, with the end of its stderr.
    """
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    if out.returncode != 0:
        name = " ".join(map(str, cmd)) if name is None else name
        raise RuntimeError(f"{name} failed:\n{out.stderr[-tail:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine_line(env: dict, date: str) -> str:
    """A report's "Machine: ..." sentence.

    Args:
      env: the report's environment (``processor``, ``cpu_count``, ``device``,
        ``jax``, ``python``), e.g. :func:`jaxpg.run.bench.environment`'s.
      date: when it was measured.

    Returns:
      ``Machine: <processor>, <n> cores, device `<device>`, jax <v>, Python <v>.
      Measured <date>.``
    """
    return (
        f"Machine: {env['processor']}, {env['cpu_count']} cores, device "
        f"`{env['device']}`, jax {env['jax']}, Python {env['python']}. "
        f"Measured {date}."
    )
