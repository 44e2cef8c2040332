"""jaxpg's PPO and the README's first command side by side with rejax's PPO.

    python scripts/compare_peers.py --rejax-python /path/to/venv/bin/python
    python scripts/compare_peers.py --processes 5 --cores 0 --no-write

Each row is measured in fresh processes, run in turns (jaxpg PPO with jax.jit,
with jaxpg.jit, rejax PPO, the CLI), pinned to ``--cores``, cold compilation
cache; medians. rejax 0.1.3 needs gymnax < 1 (it unpacks 5 values from
``env.step``), so it runs in its own environment: ``--rejax-python`` (default:
this Python, which must then import rejax). Writes ``docs/data/compare_peers.json``
and the ``peers`` section of ``docs/benchmarks.md`` (unless ``--no-write``). The
measurements: :mod:`jaxpg.run.compare_peers`.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys

from jaxpg.files import replace_section, write_json
from jaxpg.run import compare_peers as peers
from jaxpg.run.compare_peers_report import BEGIN, END, markdown
from jaxpg.run.solve_bench import environment
from jaxpg.run.timing import ROOT, run_json


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--processes", type=int, default=5)
    ap.add_argument("--cores", default="0", help="'all' or a core list, e.g. 0")
    ap.add_argument("--rejax-python", default=sys.executable)
    ap.add_argument("--kinds", default=",".join(peers.KINDS))
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument(
        "--render-only",
        action="store_true",
        help="rewrite the docs section from docs/data/compare_peers.json",
    )
    args = ap.parse_args()
    if args.render_only:
        path = ROOT / "docs" / "data" / "compare_peers.json"
        report = json.loads(path.read_text(encoding="utf-8"))
        report["summary"] = peers.summary(report["runs"])
        write_docs(report)
        return 0
    kinds = args.kinds.split(",")
    bad = [k for k in kinds if k not in peers.KINDS]
    if bad or args.processes < 1:
        ap.error(f"--kinds: choose from {', '.join(peers.KINDS)}; --processes >= 1")
    if "rejax-ppo" in kinds:
        check = subprocess.run(
            [args.rejax_python, "-c", "import rejax"], capture_output=True, text=True
        )
        if check.returncode:
            ap.error(f"--rejax-python {args.rejax_python}: cannot import rejax")
    pin = [] if args.cores == "all" else ["taskset", "-c", args.cores]
    pythons = {k: sys.executable for k in kinds} | {"rejax-ppo": args.rejax_python}
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    os.environ.update(env)
    load_start = os.getloadavg()[0]
    runs: dict[str, list[dict]] = {k: [] for k in kinds}
    for i in range(args.processes):
        for kind in kinds:
            if kind in peers.CLI_KINDS:
                fast = kind == "cli-fast-compile"
                row = peers.measure_cli(ROOT, args.cores, fast_compile=fast)
            else:
                cmd = [*pin, pythons[kind], "-m", "jaxpg.run.compare_peers"]
                row = run_json([*cmd, "--worker", kind, "--seed", str(i)])
            row["load"] = os.getloadavg()[0]
            runs[kind].append(row)
            shown = {k: round(v, 2) for k, v in row.items() if isinstance(v, float)}
            print(f"{kind} #{i}: {shown}", flush=True)
    report = {
        "env": environment(),
        "when": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load": {"start": load_start, "end": os.getloadavg()[0]},
        "cores": args.cores,
        "processes": args.processes,
        "pythons": pythons,
        "runs": runs,
    }
    report["summary"] = peers.summary(runs)
    for name, value, target, met in report["summary"]["targets"]:
        print(f"{name}: {value:.2f} (target <= {target}) {'met' if met else 'missed'}")
    if not args.no_write:
        write_json(ROOT / "docs" / "data" / "compare_peers.json", report)
        write_docs(report)
    return 0


def write_docs(report: dict) -> None:
    """The ``peers`` section of docs/benchmarks.md from ``report``."""
    command = "python scripts/compare_peers.py --rejax-python REJAX_VENV/bin/python"
    section = markdown(report, command)
    replace_section(ROOT / "docs" / "benchmarks.md", BEGIN, END, section)


if __name__ == "__main__":
    sys.exit(main())
