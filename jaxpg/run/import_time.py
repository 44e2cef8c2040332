"""What ``import jaxpg`` (and building an environment) costs, by package.

:func:`measure` runs a statement in fresh Python processes under
``python -X importtime`` and parses its report: the total import time and the
cumulative time of the first import of each package in :data:`PACKAGES` (what
importing it pulled in that nothing had imported before), plus the self time of
jaxpg's own modules. :func:`markdown` renders the section of docs/benchmarks.md
that ``scripts/import_time.py`` writes.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence

__all__ = [
    "BEGIN",
    "END",
    "PACKAGES",
    "STATEMENTS",
    "WATCHED",
    "markdown",
    "measure",
    "parse",
]

BEGIN = "<!-- import_time:begin -->"
END = "<!-- import_time:end -->"

PACKAGES = (
    "jax",
    "flax",
    "optax",
    "gymnax",
    "matplotlib",
    "seaborn",
    "pandas",
    "orbax",
)
# Modules whose absence a row reports ("not imported").
WATCHED = ("jaxpg.run", "jaxpg.distributed", "orbax", "gymnax", "matplotlib")
STATEMENTS = (
    "import jax",
    "import jaxpg",
    "import gymnax",
    # A submodule alone still runs gymnax/__init__, which imports every environment.
    "import gymnax.environments.classic_control.cartpole",
    # Before/after of jaxpg.gymnax_import: the same with the deferral switched off.
    "import os; os.environ['JAXPG_DEFER_PLOTTING'] = '0'; "
    "import jaxpg; jaxpg.make_env('CartPole-v1')",
    "import jaxpg; jaxpg.make_env('CartPole-v1')",
)

_ROW = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def parse(report: str) -> dict:
    """One ``-X importtime`` report (stderr) in seconds.

    Args:
      report: the text Python wrote to stderr.

    Returns:
      ``{"total": s, "jaxpg_self": s, "packages": {name: s}, "not_imported":
      [name]}``: the sum of the outermost imports' cumulative times, the self
      time of every ``jaxpg`` module, for each of :data:`PACKAGES` that was
      imported the cumulative time of its first import, and those of
      :data:`WATCHED` that were not imported.
    """
    total = own = 0
    packages: dict[str, float] = {}
    rows = _ROW.findall(report)
    names = {name for *_, name in rows}
    for self_us, cumulative_us, indent, name in rows:
        if len(indent) == 1:
            total += int(cumulative_us)
        if name == "jaxpg" or name.startswith("jaxpg."):
            own += int(self_us)
        if name in PACKAGES and name not in packages:
            packages[name] = int(cumulative_us) / 1e6
    return {
        "total": total / 1e6,
        "jaxpg_self": own / 1e6,
        "packages": packages,
        "not_imported": [w for w in WATCHED if w not in names],
    }


def measure(statement: str, repeats: int = 5) -> dict:
    """``statement`` in ``repeats`` fresh processes: medians of :func:`parse` and
    of the process's wall time.

    Args:
      statement: Python source for ``python -X importtime -c``.
      repeats: fresh processes (>= 1).

    Returns:
      ``{"statement", "repeats", "wall", "total", "jaxpg_self", "packages",
      "not_imported"}``: median seconds (a package's median over the processes
      that imported it); :data:`WATCHED` modules no process imported.
    """
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    walls, parsed = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", statement],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        walls.append(time.perf_counter() - start)
        parsed.append(parse(done.stderr))
    names = {n for p in parsed for n in p["packages"]}
    return {
        "statement": statement,
        "repeats": repeats,
        "wall": statistics.median(walls),
        "total": statistics.median(p["total"] for p in parsed),
        "jaxpg_self": statistics.median(p["jaxpg_self"] for p in parsed),
        "not_imported": [
            w for w in WATCHED if all(w in p["not_imported"] for p in parsed)
        ],
        "packages": {
            n: statistics.median(p["packages"][n] for p in parsed if n in p["packages"])
            for n in PACKAGES
            if n in names
        },
    }


def markdown(environment: dict, rows: Sequence[dict], command: str) -> str:
    """The section, from ``BEGIN`` to ``END``.

    Args:
      environment: the machine and versions (``jaxpg.run.bench.environment()``).
      rows: :func:`measure`'s results.
      command: the command line shown as its source.

    Returns:
      The section's text.
    """
    shown = [n for n in PACKAGES if any(n in r["packages"] for r in rows)]
    lines = [
        BEGIN,
        "## Import time (scripts/import_time.py)",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {environment['processor']}, {environment['cpu_count']} cores, "
        f"jax {environment['jax']}, Python {environment['python']}. Measured "
        f"{environment['date']}, load average "
        f"{environment['loadavg_start'][0]:.1f}.",
        "",
        "Medians over fresh processes of `python -X importtime -c STATEMENT`, in "
        "seconds: the whole process (wall), all imports (total), jaxpg's own "
        "modules (self time), and each package's first import (cumulative: what it "
        "pulled in that nothing had imported before; — where not imported).",
        "",
        "| "
        + " | ".join(["statement", "wall", "imports", "jaxpg self", *shown])
        + " | not imported |",
        "|---|---|---|---|" + "---|" * len(shown) + "---|",
    ]
    for r in rows:
        cells = [
            f"{r['packages'][n]:.2f}" if n in r["packages"] else "—" for n in shown
        ]
        head = [f"`{r['statement']}`", f"{r['wall']:.2f}", f"{r['total']:.2f}"]
        absent = ", ".join(r.get("not_imported", [])) or "—"
        cells = [*head, f"{r['jaxpg_self']:.3f}", *cells, absent]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", END]
    return "\n".join(lines) + "\n"
