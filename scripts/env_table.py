"""Generates the supported-environments table (README and docs/environments.md).

For every gymnax id: its action and observation spaces, horizon, which jaxpg
algorithms apply, and the result of a short smoke run of each algorithm (greedy
100-episode evaluation of the initial policy and of the trained one) -- or why the
id is not supported. The smoke runs use small, untuned budgets: they show that the
algorithm runs end to end and moves the return, not what it can reach.

    python scripts/env_table.py            # all ids (several minutes on 2 cores)
    python scripts/env_table.py --ids CartPole-v1 Pendulum-v1 --no-write

The smoke runs: :mod:`jaxpg.run.smoke`.
"""

from __future__ import annotations

import argparse
import functools
import json
import pathlib

import gymnax

from jaxpg import files
from jaxpg.envs import NEEDS_MEMORY
from jaxpg.run import smoke

ROOT = pathlib.Path(__file__).resolve().parent.parent
START, END = "<!-- envs:start -->", "<!-- envs:end -->"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", nargs="*", help="only these ids")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="rewrite the tables from docs/data/env_table.json without training",
    )
    args = parser.parse_args()
    if args.render_only:
        records = json.loads((ROOT / "docs" / "data" / "env_table.json").read_text())
        write(records_to_rows(records), records, args.no_write)
        return
    ids = args.ids or list(gymnax.registered_envs)
    log = functools.partial(print, flush=True)
    records = {env_id: smoke.describe_env(env_id, log) for env_id in ids}
    write(records_to_rows(records), records, args.no_write)


def records_to_rows(records: dict) -> list[str]:
    algorithms = ", ".join(smoke.labels())
    rows = []
    for env_id, rec in records.items():
        if not rec["supported"]:
            rows.append(
                f"| {env_id} | – | – | – | – | not supported: {rec['reason']} |"
            )
            continue
        cells = []
        for name, r in rec["smoke"].items():
            if "error" in r:
                cells.append(f"{name}: error ({r['error'][:80]})")
            else:
                flag = "" if r["finite"] else " (non-finite loss)"
                cells.append(f"{name} {r['before']:.3g} → {r['after']:.3g}{flag}")
        note = (
            f" Needs memory: {NEEDS_MEMORY[env_id]} (these feed-forward smoke runs "
            "cannot; recurrent policies, `memory_size > 0`: docs/results.md)."
            if env_id in NEEDS_MEMORY
            else ""
        )
        rows.append(
            f"| {env_id} | {rec['action_space']} | {rec['observation_space']} | "
            f"{rec['horizon']} | {algorithms} | {'; '.join(cells)}.{note} |"
        )
    return rows


def write(rows: list[str], records: dict, no_write: bool) -> None:
    header = (
        "| id | actions | observations | horizon | algorithms | smoke run: greedy "
        "100-episode return, initial → trained |\n|---|---|---|---|---|---|"
    )
    table = "\n".join([header, *rows])
    budget = (
        "Smoke budgets (untuned, 32×32 MLP, seed 0): REINFORCE 30 updates × 16 "
        "episodes; A2C 120 updates × 16 envs × 16 steps; PPO 30 updates × 16 envs × "
        "64 steps. They show each algorithm runs end to end on every id; "
        "they are not tuned results. Regenerate with "
        "`python scripts/env_table.py`."
    )
    print(table)
    if no_write:
        return
    files.write_json(
        ROOT / "docs" / "data" / "env_table.json", records, indent=1, allow_nan=True
    )
    files.write_atomic(
        ROOT / "docs" / "environments.md",
        "# Supported environments\n\n" + budget + "\n\n" + table + "\n",
    )
    files.replace_section(
        ROOT / "README.md", START, END, f"{START}\n{budget}\n\n{table}\n{END}"
    )


if __name__ == "__main__":
    main()
