"""Time-to-solve of REINFORCE on CartPole-v1 with the default configuration.

    python scripts/solve_benchmark.py            # 16 seeds, cold and warm, 2 cores and 1
    python scripts/solve_benchmark.py --quick    # 4 seeds

For each seed (``jax.random.key(seed)``) one fresh subprocess measures the wall time
from just before the first call into jaxpg (``jaxpg.make_solve``; the imports of
jax, gymnax and jaxpg are done before the clock starts) until a policy whose
100-episode greedy evaluation is >= 475 is in hand: building, tracing, compiling and
running ``jax.jit(make_solve(ReinforceConfig()))`` with its evaluations inside.

* cold: every subprocess gets an empty persistent compilation cache directory (and,
  being a new process, an empty in-memory jit cache);
* warm: every subprocess uses one cache directory populated by an earlier run
  (``jax_persistent_cache_min_compile_time_secs = 0``, so small functions are
  cached too).

The solve function is compiled two ways (``--methods``): ``fast`` =
``jaxpg.jit(solve, fast_compile=True)`` (jaxpg's XLA options for short runs) and
``solve`` = plain ``jax.jit(solve)``; ``jaxpg`` (``jaxpg.jit``) and ``host`` (a host
loop over ``trainer.run`` chunks + ``jaxpg.evaluate``) can be added.

Each configuration runs with all cores and pinned to core 0
(``os.sched_setaffinity`` in the child, before jax is imported). Separately, fresh
subprocesses time ``jit(f).lower(key).compile()`` of the default ``make_train`` and
``make_solve`` functions (no persistent cache), wall and process CPU time, with
``jax.jit``, ``jaxpg.jit`` and ``jaxpg.jit(fast_compile=True)``.

Writes ``docs/data/solve_benchmark.json`` and the section between the markers in
``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jaxpg import files

ROOT = Path(__file__).resolve().parent.parent
THRESHOLD = 475.0
EVAL_EPISODES = 100
BEGIN = "<!-- solve_benchmark:begin -->"
END = "<!-- solve_benchmark:end -->"
# How the solve function is compiled (see _jit): plain jax.jit, jaxpg.jit with its
# recommended XLA options, or jaxpg.jit(fast_compile=True).
JITS = ("solve", "jaxpg", "fast")
JIT_LABELS = {
    "solve": "jax.jit",
    "jaxpg": "jaxpg.jit",
    "fast": "jaxpg.jit(fast_compile=True)",
    "host": "host loop",
}
# (function, jit) pairs whose compile is timed.
COMPILES = (
    ("train", "solve"),
    ("train", "jaxpg"),
    ("train", "fast"),
    ("solve", "solve"),
    ("solve", "fast"),
)


# --------------------------------------------------------------------------- worker


def _setup(cache_dir: str | None, cores: str) -> None:
    if cores != "all":
        os.sched_setaffinity(0, {int(c) for c in cores.split(",")})
    import jax

    if cache_dir:
        jax.config.update("jax_compilation_cache_dir", cache_dir)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    else:
        jax.config.update("jax_enable_compilation_cache", False)


def worker_solve(
    seed: int, method: str, eval_every: int, count_steps: bool = False
) -> dict:
    import gymnax  # noqa: F401  (an import: excluded from the clock)
    import jax

    import jaxpg

    config = jaxpg.ReinforceConfig()
    key = jax.random.key(seed)
    start = time.perf_counter()
    if method in JITS:
        solve = jaxpg.make_solve(
            config,
            threshold=THRESHOLD,
            eval_every=eval_every,
            eval_episodes=EVAL_EPISODES,
        )
        out = jax.block_until_ready(_jit(method, solve)(key))
        elapsed = time.perf_counter() - start
        updates, ret, solved = (
            int(out.updates_used),
            float(out.eval_return),
            bool(out.solved),
        )
    else:  # host loop: compiled chunks of eval_every updates, evaluate on the host
        env, env_params = jaxpg.make_env(config.env_id)
        policy = jaxpg.make_policy(config, env, env_params)
        trainer = jaxpg.make_trainer(config)
        run = jax.jit(trainer.run, static_argnums=1)
        key_eval = jax.random.fold_in(key, 1)
        state = jax.jit(trainer.init)(key)
        updates, ret, solved = 0, float("-inf"), False
        while updates < config.num_updates and not solved:
            n = min(eval_every, config.num_updates - updates)
            state, _ = run(state, n)
            updates += n
            returns = jaxpg.evaluate(
                jax.random.fold_in(key_eval, updates),
                policy,
                state.params,
                env,
                env_params,
                num_episodes=EVAL_EPISODES,
            )
            ret = float(returns.mean())
            solved = ret >= THRESHOLD
        elapsed = time.perf_counter() - start
    row = {
        "seed": seed,
        "seconds": elapsed,
        "updates": updates,
        "eval_return": ret,
        "solved": solved,
    }
    if count_steps:
        row.update(_replay_steps(key, config, updates, method))
    return row


def _replay_steps(key, config, updates: int, method: str, repeats: int = 3) -> dict:
    """Environment steps and training steps/s of the updates a solve used.

    After the timed solve (outside its clock): ``trainer.init(key)`` and
    ``trainer.run(state, updates)`` — the same keys, so the same episodes as the
    solve's training up to floating-point reassociation — compiled apart with the
    solve's jit, then the median wall of ``repeats`` calls (no evaluation in it).
    """
    import jax
    import numpy as np

    import jaxpg

    trainer = jaxpg.make_trainer(config)

    def replay(key):
        return trainer.run(trainer.init(key), updates)[1]

    compiled = _jit(method if method in JITS else "jaxpg", replay).lower(key).compile()
    walls, metrics = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        metrics = jax.block_until_ready(compiled(key))
        walls.append(time.perf_counter() - t0)
    wall = statistics.median(walls)
    env_steps = int(np.sum(np.asarray(metrics["env_steps"], np.int64)))
    computed = int(np.sum(np.asarray(metrics["computed_steps"], np.int64)))
    return {
        "env_steps": env_steps,
        "computed_steps": computed,
        "episodes": int(np.sum(np.asarray(metrics["episodes_finished"], np.int64))),
        "train_wall_s": wall,
        "steps_per_s": env_steps / wall,
        "computed_steps_per_s": computed / wall,
    }


def _jit(method: str, f):
    """``solve``: plain ``jax.jit``; ``jaxpg``: ``jaxpg.jit`` (recommended XLA
    options); ``fast``: ``jaxpg.jit(fast_compile=True)``."""
    import jax

    import jaxpg

    if method == "solve":
        return jax.jit(f)
    return jaxpg.jit(f, fast_compile=method == "fast")


def worker_compile(which: str, method: str) -> dict:
    import gymnax  # noqa: F401
    import jax

    import jaxpg

    config = jaxpg.ReinforceConfig()
    key = jax.random.key(0)
    start = time.perf_counter()
    if which == "train":
        f = jaxpg.make_train(config)
    else:
        f = jaxpg.make_solve(config, threshold=THRESHOLD, eval_episodes=EVAL_EPISODES)
    built = time.perf_counter()
    lowered = _jit(method, f).lower(key)
    traced = time.perf_counter()
    cpu = time.process_time()
    compiled = lowered.compile()
    done = time.perf_counter()
    cpu = time.process_time() - cpu
    text = compiled.as_text()
    return {
        "function": which,
        "jit": method,
        "build_s": built - start,
        "trace_lower_s": traced - built,
        "compile_s": done - traced,
        "compile_cpu_s": cpu,
        "fusions": text.count(" fusion("),
        "while_loops": text.count(" while("),
    }


# --------------------------------------------------------------------------- driver


def _spawn(args: list[str], cores: str, cache_dir: str | None) -> dict:
    cmd = [sys.executable, __file__, "--worker", *args, "--cores", cores]
    if cache_dir:
        cmd += ["--cache-dir", cache_dir]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _summary(rows: list[dict], budget_solved: int) -> dict:
    secs = sorted(r["seconds"] for r in rows)
    q = statistics.quantiles(secs, n=4) if len(secs) > 1 else secs * 3
    return {
        "median_s": statistics.median(secs),
        "q1_s": q[0],
        "q3_s": q[2],
        "min_s": secs[0],
        "max_s": secs[-1],
        "solved": budget_solved,
        "seeds": len(rows),
        "median_updates": statistics.median(r["updates"] for r in rows),
    }


def run_configuration(
    seeds: list[int],
    cores: str,
    method: str,
    eval_every: int,
    count_steps: bool = False,
) -> dict:
    """Cold then warm runs of every seed; ``count_steps`` adds, to each cold run,
    the environment steps and training steps/s of its updates (``_replay_steps``)."""
    base = ["--method", method, "--eval-every", str(eval_every)]
    count = ["--count-steps"] if count_steps else []
    cold = []
    for seed in seeds:
        cache = tempfile.mkdtemp(prefix="jaxpg-cold-")
        try:
            cold.append(_spawn([*base, *count, "--seed", str(seed)], cores, cache))
        finally:
            shutil.rmtree(cache, ignore_errors=True)
        print(f"  cold cores={cores} {method} seed {seed}: {cold[-1]}", flush=True)
    warm_cache = tempfile.mkdtemp(prefix="jaxpg-warm-")
    warm = []
    try:
        # Populate the cache. Every seed compiles the same program (the key is an
        # argument), so one run fills it.
        _spawn([*base, "--seed", "1000"], cores, warm_cache)
        for seed in seeds:
            warm.append(_spawn([*base, "--seed", str(seed)], cores, warm_cache))
            print(f"  warm cores={cores} {method} seed {seed}: {warm[-1]}", flush=True)
    finally:
        shutil.rmtree(warm_cache, ignore_errors=True)
    solved = sum(r["solved"] for r in cold)
    return {
        "cores": cores,
        "method": method,
        "eval_every": eval_every,
        "cold": _summary(cold, solved),
        "warm": _summary(warm, sum(r["solved"] for r in warm)),
        "cold_runs": cold,
        "warm_runs": warm,
    }


def environment() -> dict:
    import jax

    return {
        "device": str(jax.devices()[0].device_kind),
        "platform": jax.default_backend(),
        "jax": jax.__version__,
        "cpu_count": os.cpu_count(),
        "affinity_cores": len(os.sched_getaffinity(0)),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
    }


def train_script_time(cores: str) -> dict | None:
    """Whole-process wall time of ``python scripts/train.py`` (defaults), run
    twice: with an empty persistent cache, then with the cache the first run left."""
    script = ROOT / "scripts" / "train.py"
    if not script.exists():
        return None
    pin = [] if cores == "all" else ["taskset", "-c", cores]
    result: dict = {"command": " ".join([*pin, "python", "scripts/train.py"])}
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "JAXPG_CACHE_DIR": os.path.join(tmp, "cache")}
        help_text = subprocess.run(
            [sys.executable, str(script), "--help"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        for label in ("cold", "warm"):
            cmd = [*pin, sys.executable, str(script)]
            if "--out" in help_text:
                cmd += ["--out", os.path.join(tmp, "run-" + label)]
            start = time.perf_counter()
            out = subprocess.run(
                cmd, capture_output=True, text=True, cwd=tmp, env=env, check=False
            )
            result[label + "_s"] = time.perf_counter() - start
            result[label + "_rc"] = out.returncode
    return result


def markdown(report: dict, command: str) -> str:
    env = report["environment"]
    lines = [
        BEGIN,
        "## Time to solve CartPole-v1 (REINFORCE defaults)",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {env['processor']}, {env['cpu_count']} cores, device "
        f"`{env['device']}`, jax {env['jax']}, Python {env['python']}. "
        f"Measured {report['date']}.",
        "",
        "Time from the first call into jaxpg (`make_solve`; imports excluded) until "
        "a policy whose 100-episode greedy evaluation is ≥ 475 is in hand "
        "(compile and evaluations included), one fresh process per seed, "
        f"seeds 0..{len(report['seeds']) - 1}.",
        "",
        "| cores | method | cache | median s | q1 s | q3 s | max s | solved | median updates |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in report["configurations"]:
        for cache in ("cold", "warm"):
            s = c[cache]
            lines.append(
                f"| {c['cores']} | {JIT_LABELS[c['method']]} "
                f"(eval every {c['eval_every']}) | "
                f"{cache} | {s['median_s']:.2f} | {s['q1_s']:.2f} | {s['q3_s']:.2f} | "
                f"{s['max_s']:.2f} | {s['solved']}/{s['seeds']} | "
                f"{s['median_updates']:g} |"
            )
    lines += [
        "",
        "Compile of the default `make_train` / `make_solve` functions, "
        "`jit(f).lower(key).compile()`, fresh process, no persistent cache (median "
        "of the runs; compile wall time and the process CPU time it used):",
        "",
        "| function | jit | cores | trace+lower s | compile s | compile CPU s | "
        "fusions | while loops |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in report["compile"]:
        cpu = row.get("compile_cpu_s")
        lines.append(
            f"| {row['function']} | {JIT_LABELS[row.get('jit', 'solve')]} | "
            f"{row['cores']} | {row['trace_lower_s']:.2f} | {row['compile_s']:.2f} | "
            f"{'' if cpu is None else f'{cpu:.2f}'} | {row['fusions']} | "
            f"{row['while_loops']} |"
        )
    if report.get("train_script"):
        lines += [
            "",
            "Whole-process time of the training script (defaults: 100 updates, "
            "then a 100-episode evaluation and a checkpoint):",
            "",
        ]
        for cores, t in report["train_script"].items():
            if t:
                lines.append(
                    f"- `{t['command']}` (cores={cores}): cold cache {t['cold_s']:.2f} s "
                    f"(exit {t['cold_rc']}), warm cache {t['warm_s']:.2f} s "
                    f"(exit {t['warm_rc']})"
                )
    lines += ["", END]
    return "\n".join(lines)


def write_docs(report: dict, command: str) -> None:
    files.write_json(
        ROOT / "docs" / "data" / "solve_benchmark.json", report, allow_nan=True
    )
    files.replace_section(
        ROOT / "docs" / "benchmarks.md",
        BEGIN,
        END,
        markdown(report, command),
        new_page="# Benchmarks\n",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="4 seeds")
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument(
        "--cores",
        default="all;0",
        help="';'-separated affinities to measure ('all' or a core list; default "
        "'all;0')",
    )
    parser.add_argument(
        "--methods",
        default="fast,solve",
        help="comma-separated, how make_solve's one compiled call is jitted: fast "
        "(jaxpg.jit(fast_compile=True)), jaxpg (jaxpg.jit), solve (plain jax.jit); "
        "host: trainer.run chunks + jaxpg.evaluate",
    )
    parser.add_argument("--eval-every", type=int, default=1)
    parser.add_argument("--compile-reps", type=int, default=3)
    parser.add_argument("--no-train-script", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument(
        "--train-script-only",
        action="store_true",
        help="re-measure only scripts/train.py and update the saved report",
    )
    # worker flags
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--method", default="solve", help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--compile", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--count-steps", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        _setup(args.cache_dir, args.cores)
        if args.compile:
            result = worker_compile(args.compile, args.method)
        else:
            result = worker_solve(
                args.seed, args.method, args.eval_every, args.count_steps
            )
        print(json.dumps(result))
        return

    seeds = list(range(4 if args.quick else args.seeds))
    affinities = args.cores.split(";")
    if args.train_script_only:
        path = ROOT / "docs" / "data" / "solve_benchmark.json"
        report = json.loads(path.read_text())
        report["train_script"] = {c: train_script_time(c) for c in affinities}
        print("train script:", json.dumps(report["train_script"]))
        write_docs(report, report.get("command", "python scripts/solve_benchmark.py"))
        return
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "environment": environment(),
        "seeds": seeds,
        "threshold": THRESHOLD,
        "eval_episodes": EVAL_EPISODES,
        "configurations": [],
        "compile": [],
    }
    import jaxpg

    report["config"] = {
        k: (list(v) if isinstance(v, tuple) else v)
        for k, v in vars(jaxpg.ReinforceConfig()).items()
    }
    for cores in affinities:
        for which, jit in COMPILES:
            runs = [
                _spawn(["--compile", which, "--method", jit], cores, None)
                for _ in range(args.compile_reps)
            ]
            row = {
                "function": which,
                "jit": jit,
                "cores": cores,
                **{
                    k: statistics.median(r[k] for r in runs)
                    for k in ("build_s", "trace_lower_s", "compile_s", "compile_cpu_s")
                },
                "fusions": runs[0]["fusions"],
                "while_loops": runs[0]["while_loops"],
                "runs": runs,
            }
            report["compile"].append(row)
            print(
                f"compile {which} {JIT_LABELS[jit]} cores={cores}: "
                f"{row['compile_s']:.2f} s (CPU {row['compile_cpu_s']:.2f} s)",
                flush=True,
            )
    for cores in affinities:
        for method in args.methods.split(","):
            report["configurations"].append(
                run_configuration(seeds, cores, method, args.eval_every)
            )
    if not args.no_train_script:
        report["train_script"] = {c: train_script_time(c) for c in affinities}

    print()
    print(
        f"{'cores':>5} {'method':>6} {'cache':>5} {'median':>7} {'q1':>6} {'q3':>6} "
        f"{'solved':>7}"
    )
    for c in report["configurations"]:
        for cache in ("cold", "warm"):
            s = c[cache]
            print(
                f"{c['cores']:>5} {c['method']:>6} {cache:>5} {s['median_s']:7.2f} "
                f"{s['q1_s']:6.2f} {s['q3_s']:6.2f} {s['solved']:>4}/{s['seeds']}"
            )
    for row in report["compile"]:
        print(
            f"compile {row['function']:5s} {JIT_LABELS[row['jit']]:29s} "
            f"cores={row['cores']}: "
            f"{row['compile_s']:.2f} s (trace+lower {row['trace_lower_s']:.2f} s)"
        )
    if report.get("train_script"):
        print("train script:", json.dumps(report["train_script"]))
    command = "python " + " ".join(["scripts/solve_benchmark.py", *sys.argv[1:]])
    report["command"] = command
    if not args.no_write:
        write_docs(report, command)
        print("wrote docs/data/solve_benchmark.json and docs/benchmarks.md")


if __name__ == "__main__":
    main()
