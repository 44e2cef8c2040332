"""Generates the supported-environments table (README and docs/environments.md).

For every gymnax id: its action and observation spaces, horizon, which jaxpg
algorithms apply, and the result of a short smoke run of each algorithm (greedy
100-episode evaluation of the initial policy and of the trained one) -- or why the
id is not supported. The smoke runs use small, untuned budgets: they show that the
algorithm runs end to end and moves the return, not what it can reach.

    python scripts/env_table.py            # all ids (several minutes on 2 cores)
    python scripts/env_table.py --ids CartPole-v1 Pendulum-v1 --no-write
"""

from __future__ import annotations

import argparse
import json
import pathlib
import time

import jax
import numpy as np

import jaxpg  # noqa: E402
from jaxpg import files
from jaxpg.envs import NEEDS_MEMORY, UNSUPPORTED_ENVS, max_episode_steps

ROOT = pathlib.Path(__file__).resolve().parent.parent
START, END = "<!-- envs:start -->", "<!-- envs:end -->"


def describe_space(space) -> str:
    if type(space).__name__ == "Discrete":
        return f"Discrete({int(space.n)})"
    if type(space).__name__ == "Box":
        return f"Box{tuple(int(s) for s in space.shape)}"
    return type(space).__name__


def smoke_configs(env_id: str) -> dict:
    common = {"env_id": env_id, "hidden_sizes": (32, 32)}
    return {
        "REINFORCE": jaxpg.ReinforceConfig(num_envs=16, num_updates=30, **common),
        "A2C": jaxpg.A2CConfig(num_envs=16, num_steps=16, num_updates=120, **common),
        "PPO": jaxpg.PPOConfig(num_envs=16, num_steps=64, num_updates=30, **common),
    }


def steps_of(config) -> int:
    if isinstance(config, jaxpg.ReinforceConfig):
        return -1  # episodic: counted from the metrics
    return config.num_envs * config.num_steps * config.num_updates


def smoke(env_id: str, config, seed: int = 0) -> dict:
    env, env_params = jaxpg.make_env(env_id)
    trainer = jaxpg.make_trainer(config, env, env_params)
    init = jax.jit(trainer.init)(jax.random.key(seed))
    policy_params = init.params
    run = jax.jit(trainer.run, static_argnums=1)
    t0 = time.perf_counter()
    state, metrics = run(init, config.num_updates)
    jax.block_until_ready(state.params)
    wall = time.perf_counter() - t0
    policy = _policy_of(trainer, config, env, env_params)
    key = jax.random.key(1000 + seed)
    before = float(
        np.mean(jaxpg.evaluate(key, policy, policy_params, env, env_params, 100))
    )
    after = float(
        np.mean(jaxpg.evaluate(key, policy, state.params, env, env_params, 100))
    )
    steps = int(np.asarray(metrics["env_steps"], np.int64).sum())
    finite = bool(np.all(np.isfinite(np.asarray(metrics["loss"]))))
    return {
        "before": before,
        "after": after,
        "env_steps": steps,
        "wall_s": wall,
        "finite": finite,
    }


def _policy_of(trainer, config, env, env_params):
    policy = getattr(trainer, "policy", None)
    return policy if policy is not None else jaxpg.make_policy(config, env, env_params)


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

    import gymnax

    ids = args.ids or list(gymnax.registered_envs)
    records = {}
    for env_id in ids:
        if env_id in UNSUPPORTED_ENVS:
            records[env_id] = {"supported": False, "reason": UNSUPPORTED_ENVS[env_id]}
            continue
        env, env_params = jaxpg.make_env(env_id)
        action = describe_space(env.action_space(env_params))
        obs = describe_space(env.raw_observation_space(env_params))
        horizon = max_episode_steps(env_params)
        results = {}
        for name, config in smoke_configs(env_id).items():
            try:
                r = smoke(env_id, config)
            except Exception as error:  # report, do not hide
                r = {"error": f"{type(error).__name__}: {error}"[:200]}
            results[name] = r
            print(env_id, name, r, flush=True)
        records[env_id] = {
            "supported": True,
            "action_space": action,
            "observation_space": obs,
            "horizon": horizon,
            "smoke": results,
        }
    write(records_to_rows(records), records, args.no_write)


def records_to_rows(records: dict) -> list[str]:
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
            f" Needs memory: {NEEDS_MEMORY[env_id]}." if env_id in NEEDS_MEMORY else ""
        )
        rows.append(
            f"| {env_id} | {rec['action_space']} | {rec['observation_space']} | "
            f"{rec['horizon']} | REINFORCE, A2C, PPO | {'; '.join(cells)}.{note} |"
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
