"""jaxpg's PPO and CLI side by side with rejax's PPO (``scripts/compare_peers.py``).

Every measurement runs in a fresh process (``python -m jaxpg.run.compare_peers
--worker KIND --seed S``), pinned with ``taskset -c`` from its start, with the
persistent compilation cache off (cold), and answers with one JSON line:

* ``jaxpg-ppo``: ``jax.jit(jaxpg.make_train(tuned_config("ppo", "CartPole-v1")))``
  — trace + lower, XLA compile (wall and CPU time) and the run, timed apart; the
  trained policy's 100-episode greedy return is measured afterwards, untimed;
* ``jaxpg-ppo-jaxpg-jit``: the same compiled with :func:`jaxpg.jit`;
* ``jaxpg-ppo-fast-compile``: with ``jaxpg.jit(train, fast_compile=True)``;
* ``rejax-ppo``: rejax's PPO with its published CartPole-v1 config
  (:data:`REJAX_CARTPOLE`), ``jax.jit(algo.train)``, timed the same way (its
  training includes rejax's own periodic evaluations, as its config asks; the
  last one's mean return is reported);
* ``cli``: the README's first command, ``python scripts/train.py --env-id
  CartPole-v1``, with an empty cache folder: its printed compile time and the
  whole process's wall time;
* ``cli-fast-compile``: the same command with ``--fast-compile``.

"wall to a trained policy" is building the train function + trace + compile +
run; imports (jax, jaxpg or rejax, and gymnax, which jaxpg imports lazily) are
excluded and reported apart (``import_s``: the process's age when they are done). :func:`summary` takes medians per kind over the processes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = [
    "CLI_KINDS",
    "KINDS",
    "WORKER_KINDS",
    "REJAX_CARTPOLE",
    "TARGETS",
    "measure_cli",
    "measure_worker",
    "rejax_available",
    "summary",
]

WORKER_KINDS = (
    "jaxpg-ppo",
    "jaxpg-ppo-jaxpg-jit",
    "jaxpg-ppo-fast-compile",
    "rejax-ppo",
)
CLI_KINDS = ("cli", "cli-fast-compile")
KINDS = WORKER_KINDS + CLI_KINDS

# rejax 0.1.3's PPO entry of configs/gymnax/cartpole.yaml (keraJLi/rejax), the
# hyperparameters its authors publish for CartPole-v1.
REJAX_CARTPOLE = {
    "env": "CartPole-v1",
    "agent_kwargs": {"activation": "tanh"},
    "num_envs": 5,
    "num_steps": 100,
    "num_epochs": 5,
    "num_minibatches": 5,
    "learning_rate": 0.00075,
    "max_grad_norm": 0.5,
    "total_timesteps": 100_000,
    "eval_freq": 1000,
    "gamma": 0.99,
    "gae_lambda": 0.95,
    "clip_eps": 0.2,
    "ent_coef": 0.01,
    "vf_coef": 0.5,
}

# issue 13, item 2
TARGETS = {
    "ratio_to_rejax": 0.5,  # jaxpg PPO wall to a trained policy / rejax's
    "ppo_compile_s": 2.5,
    "cli_compile_s": 2.5,
    "cli_process_s": 6.0,
}


def rejax_available() -> str | None:
    """None when rejax imports in this Python; else why not.

    Returns:
      None, or the import error's text.
    """
    try:
        import rejax  # noqa: F401
    except Exception as error:  # noqa: BLE001 (any import failure is reported)
        return f"{type(error).__name__}: {error}"
    return None


def _timed(jitted, key) -> dict:
    """Trace + lower, compile (wall and CPU) and one run of ``jitted(key)``."""
    import jax

    t0 = time.perf_counter()
    lowered = jitted.trace(key).lower()
    t1, c1 = time.perf_counter(), time.process_time()
    compiled = lowered.compile()
    t2, c2 = time.perf_counter(), time.process_time()
    out = jax.block_until_ready(compiled(key))
    t3 = time.perf_counter()
    return {
        "trace_lower_s": t1 - t0,
        "compile_s": t2 - t1,
        "compile_cpu_s": c2 - c1,
        "run_s": t3 - t2,
        "wall_s": t3 - t0,
        "out": out,
    }


def _jaxpg_ppo(seed: int, jit: str, t_import: float) -> dict:
    import jax

    import jaxpg

    t0 = time.perf_counter()
    config = jaxpg.tuned_config("ppo", "CartPole-v1")
    env, env_params = jaxpg.make_env(config.env_id)
    train = jaxpg.make_train(config, env=env, env_params=env_params)
    build = time.perf_counter() - t0
    if jit == "jax.jit":
        jitted = jax.jit(train)
    else:
        jitted = jaxpg.jit(train, fast_compile=jit == "fast_compile")
    row = _timed(jitted, jax.random.key(seed))
    result = row.pop("out")
    policy = jaxpg.make_policy(config, env, env_params)
    returns = jaxpg.evaluate(
        jax.random.key(10_000 + seed), policy, result.params, env, env_params, 100
    )
    row.update(
        build_s=build,
        wall_s=row["wall_s"] + build,
        final_return=float(returns.mean()),
        env_steps=config.num_updates * config.num_envs * config.num_steps,
        import_s=t_import,
    )
    return row


def _rejax_ppo(seed: int, t_import: float) -> dict:
    import copy

    import jax
    import rejax

    t0 = time.perf_counter()
    algo = rejax.PPO.create(**copy.deepcopy(REJAX_CARTPOLE))
    build = time.perf_counter() - t0
    row = _timed(jax.jit(algo.train), jax.random.key(seed))
    _, (lengths, returns) = row.pop("out")
    row.update(
        build_s=build,
        wall_s=row["wall_s"] + build,
        final_return=float(returns[-1].mean()),
        env_steps=REJAX_CARTPOLE["total_timesteps"],
        import_s=t_import,
    )
    return row


def measure_worker(kind: str, seed: int) -> dict:
    """One measurement in this (fresh) process; see the module doc.

    Args:
      kind: one of :data:`WORKER_KINDS`.
      seed: the training key's seed.

    Returns:
      Seconds (``trace_lower_s``, ``compile_s``, ``compile_cpu_s``, ``run_s``,
      ``build_s``, ``wall_s``, ``import_s``), ``final_return`` and ``env_steps``.
    """
    import jax

    jax.config.update("jax_enable_compilation_cache", False)
    if kind == "rejax-ppo":
        import rejax  # noqa: F401 (imports gymnax)

        return _rejax_ppo(seed, _process_age())
    import gymnax  # noqa: F401 (jaxpg.make_env imports it lazily: timed apart)

    import jaxpg  # noqa: F401

    jit = {"jaxpg-ppo-jaxpg-jit": "jaxpg.jit", "jaxpg-ppo-fast-compile": "fast_compile"}
    return _jaxpg_ppo(seed, jit.get(kind, "jax.jit"), _process_age())


def _process_age() -> float:
    """Seconds since this process started (interpreter start and imports)."""
    with open("/proc/self/stat", encoding="ascii") as f:
        start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/uptime", encoding="ascii") as f:
        uptime = float(f.read().split()[0])
    return uptime - start_ticks / os.sysconf("SC_CLK_TCK")


def measure_cli(root: Path, cores: str, fast_compile: bool = False) -> dict:
    """The README's first command in a fresh process with an empty cache folder.

    Args:
      root: the repository (holds ``scripts/train.py``).
      cores: ``"all"`` or the cores to pin it to.
      fast_compile: add ``--fast-compile`` to the command.

    Returns:
      ``compile_s`` (as it prints), ``process_s`` (whole process, measured
      outside it), ``programs`` (the line naming them) and ``exit``.
    """
    pin = [] if cores == "all" else ["taskset", "-c", cores]
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [*pin, sys.executable, "scripts/train.py", "--env-id", "CartPole-v1"]
        cmd += ["--out", os.path.join(tmp, "run"), "--progress", "lines"]
        cmd += ["--fast-compile"] if fast_compile else []
        env = {**os.environ, "JAXPG_CACHE_DIR": os.path.join(tmp, "cache")}
        t0 = time.perf_counter()
        out = subprocess.run(
            cmd, capture_output=True, text=True, cwd=root, env=env, check=False
        )
        process = time.perf_counter() - t0
    match = re.search(r"compiled in ([\d.]+) (m?s)", out.stdout)
    compile_s = None
    if match:
        compile_s = float(match.group(1)) / (1000 if match.group(2) == "ms" else 1)
    programs = [ln for ln in out.stdout.splitlines() if ln.startswith("programs:")]
    return {
        "compile_s": compile_s,
        "process_s": process,
        "programs": programs[0] if programs else "",
        "exit": out.returncode,
        "stderr": out.stderr[-500:] if out.returncode else "",
    }


def summary(runs: dict[str, list[dict]]) -> dict:
    """Medians per kind, the ratio to rejax, and each target's standing.

    Args:
      runs: kind → the rows of its processes.

    Returns:
      ``medians`` (kind → field → median), ``ratio`` (jaxpg PPO wall / rejax
      wall, per jit kind) and ``targets`` rows ``(name, value, target, met)``.
    """
    medians = {}
    for kind, rows in runs.items():
        fields = {
            k
            for row in rows
            for k, v in row.items()
            if isinstance(v, (int, float)) and k != "exit"
        }
        medians[kind] = {
            k: statistics.median(r[k] for r in rows if r.get(k) is not None)
            for k in sorted(fields)
        }
    ratio = {}
    rejax = medians.get("rejax-ppo", {}).get("wall_s")
    for kind in ("jaxpg-ppo", "jaxpg-ppo-jaxpg-jit"):
        if rejax and kind in medians:
            ratio[kind] = medians[kind]["wall_s"] / rejax
    targets = []
    if "jaxpg-ppo" in ratio:
        targets.append(("ratio_to_rejax", ratio["jaxpg-ppo"]))
    if "jaxpg-ppo" in medians:
        targets.append(("ppo_compile_s", medians["jaxpg-ppo"]["compile_s"]))
    if "cli" in medians:
        targets.append(("cli_compile_s", medians["cli"]["compile_s"]))
        targets.append(("cli_process_s", medians["cli"]["process_s"]))
    rows = [(n, v, TARGETS[n], v <= TARGETS[n]) for n, v in targets]
    return {"medians": medians, "ratio": ratio, "targets": rows}


def main() -> None:
    """``python -m jaxpg.run.compare_peers --worker KIND --seed S``."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", choices=WORKER_KINDS, required=True)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print(json.dumps(measure_worker(args.worker, args.seed)), flush=True)


if __name__ == "__main__":
    main()
