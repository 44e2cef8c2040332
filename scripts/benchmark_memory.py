"""Steps/s of recurrent policies next to feed-forward ones (issue 14, item 4).

    python scripts/benchmark_memory.py                   # CartPole-v1, N = 64, k = 32
    python scripts/benchmark_memory.py --no-write --repeats 1

For REINFORCE, A2C and PPO (each config's defaults except ``num_envs`` and
``memory_size``): the real environment steps per second of training without
memory and with a GRU of ``--memory-size`` units, measured back to back
(:mod:`jaxpg.run.bench_memory`). Writes the section between the memory markers
of docs/benchmarks.md with the load average and the command.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from jaxpg import files
from jaxpg.run import bench_memory

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- memory:begin -->", "<!-- memory:end -->"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env-id", default="CartPole-v1")
    parser.add_argument("--num-envs", type=int, default=64)
    parser.add_argument("--memory-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    for name in ("num_envs", "memory_size", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    load_before = os.getloadavg()
    rows = bench_memory.memory_rows(
        args.env_id, args.num_envs, args.memory_size, args.repeats
    )
    load_after = os.getloadavg()
    table = bench_memory.memory_table(rows, args.memory_size)
    command = f"python scripts/benchmark_memory.py {shlex.join(argv)}".strip()
    per_call = ", ".join(f"{r['label']} {r['updates']}" for r in rows)
    note = (
        f"{args.env_id}, num_envs={args.num_envs}, medians of {args.repeats} timed "
        f"calls (updates per call: {per_call}); "
        f"1-minute load average {load_before[0]:.1f} before, {load_after[0]:.1f} "
        f"after, on {os.cpu_count()} CPUs. Command: `{command}`."
    )
    print(table + "\n" + note)
    if not args.no_write:
        path = ROOT / "docs" / "benchmarks.md"
        text = path.read_text(encoding="utf-8")
        section = f"{BEGIN}\n{table}\n{note}\n{END}"
        if BEGIN not in text:
            text += (
                "\n## Recurrent policies\n\nReal environment steps per second with "
                "a GRU after the torso (`memory_size`) next to the feed-forward "
                f"policy, measured back to back.\n\n{BEGIN}\n{END}\n"
            )
        files.write_atomic(path, text.split(BEGIN)[0] + section + text.split(END)[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
