"""Does a solve stay solved? ``make_solve``'s policies re-evaluated on fresh episodes.

    python scripts/solve_reliability.py              # REINFORCE and PPO, 16 seeds
    python scripts/solve_reliability.py --seeds 4 --no-write

For each algorithm's tuned CartPole-v1 preset, ``jaxpg.make_solve`` (threshold 475,
a 100-episode greedy evaluation after every update) runs over the seeds in one
vmapped ``jaxpg.jit`` call, with the confirming second evaluation (the default) and
without it (``confirm=False``: the first passing evaluation stops the run); each
returned policy is then played for 100 fresh greedy episodes (``jaxpg.evaluate``
with an independent key). Prints and records how many solved runs still score
>= 475 (:mod:`jaxpg.run.solve_reliability`). Writes
``docs/data/solve_reliability.json`` and the section between the markers in
``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from jaxpg import files
from jaxpg.run import solve_reliability
from jaxpg.run.bench import environment

ROOT = Path(__file__).resolve().parent.parent
JSON_PATH = ROOT / "docs" / "data" / "solve_reliability.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algorithms", nargs="+", default=["reinforce", "ppo"])
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    runs = []
    for algorithm in args.algorithms:
        for confirm in (True, False):
            run = solve_reliability.reliability(algorithm, args.seeds, confirm=confirm)
            print(
                f"{algorithm} confirm={confirm}: solved {run['solved']}/{run['seeds']}, "
                f"held {run['held']}/{run['solved']}, {run['seconds']:.1f} s",
                flush=True,
            )
            runs.append(run)
    report = {"environment": environment(), "runs": runs}
    command = (
        "python scripts/solve_reliability.py " + shlex.join(sys.argv[1:])
    ).strip()
    section = solve_reliability.markdown(report, command)
    print(section)
    if args.no_write:
        return
    files.write_json(JSON_PATH, report)
    files.replace_section(
        ROOT / "docs" / "benchmarks.md",
        solve_reliability.BEGIN,
        solve_reliability.END,
        section,
    )


if __name__ == "__main__":
    main()
