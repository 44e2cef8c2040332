"""What ``jaxpg.jit`` and ``fast_compile`` do to the numbers over a training run.

    python scripts/compile_drift.py                    # REINFORCE, A2C, PPO; 3/30/90/300
    python scripts/compile_drift.py --no-write --algorithms ppo

Trains each algorithm's tuned CartPole-v1 preset from ``jax.random.key(0)`` with
``trainer.run`` compiled by plain ``jax.jit``, ``jaxpg.jit`` and
``jaxpg.jit(fast_compile=True)``, and prints how far the parameters are from
plain ``jax.jit``'s after each checkpoint (:mod:`jaxpg.run.compile_drift`).
Writes ``docs/data/compile_drift.json`` and the section between the markers in
``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from jaxpg import files
from jaxpg.algorithms import registry
from jaxpg.run import compile_drift

ROOT = Path(__file__).resolve().parent.parent
JSON_PATH = ROOT / "docs" / "data" / "compile_drift.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--algorithms",
        nargs="+",
        default=list(registry.names()),
        choices=registry.names(),
    )
    parser.add_argument("--checkpoints", nargs="+", type=int, default=[3, 30, 90, 300])
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    report = compile_drift.report(args.algorithms, args.checkpoints)
    command = "python scripts/compile_drift.py " + shlex.join(sys.argv[1:])
    section = compile_drift.markdown(report, command.strip())
    print(section)
    if args.no_write:
        return
    files.write_json(JSON_PATH, report)
    files.replace_section(
        ROOT / "docs" / "benchmarks.md",
        compile_drift.BEGIN,
        compile_drift.END,
        section,
    )


if __name__ == "__main__":
    main()
