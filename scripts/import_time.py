"""What ``import jaxpg`` and ``jaxpg.make_env("CartPole-v1")`` cost, by package.

    python scripts/import_time.py              # 5 fresh processes per statement
    python scripts/import_time.py --repeats 7 --no-write

Each statement (:data:`jaxpg.run.import_time.STATEMENTS`) runs in fresh processes
under ``python -X importtime``; the medians are printed and written to
``docs/data/import_time.json`` and the section between the markers in
``docs/benchmarks.md`` (:mod:`jaxpg.run.import_time`).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from jaxpg import files
from jaxpg.run import import_time
from jaxpg.run.bench import environment

ROOT = Path(__file__).resolve().parent.parent
JSON_PATH = ROOT / "docs" / "data" / "import_time.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    env = environment()
    rows = []
    for statement in import_time.STATEMENTS:
        rows.append(import_time.measure(statement, args.repeats))
        print(f"{statement}: {rows[-1]['total']:.2f} s of imports", flush=True)
    command = ("python scripts/import_time.py " + shlex.join(sys.argv[1:])).strip()
    section = import_time.markdown(env, rows, command)
    print(section)
    if args.no_write:
        return
    files.write_json(JSON_PATH, {"environment": env, "rows": rows})
    files.replace_section(
        ROOT / "docs" / "benchmarks.md", import_time.BEGIN, import_time.END, section
    )


if __name__ == "__main__":
    main()
