"""jaxpg vs a PyTorch REINFORCE on CartPole-v1, side by side in one invocation.

    pip install -e ".[bench]"                 # torch==2.13.0 (CPU) + gymnasium
    python scripts/compare_torch.py           # 16 jaxpg seeds, 5 PyTorch seeds, core 0
    python scripts/compare_torch.py --quick   # 4 jaxpg seeds, 2 PyTorch seeds, 30 s cap

Both are judged by the same criterion, each in its own framework: a 100-episode
greedy evaluation with mean return >= 475, its cost counted in the wall time.

* jaxpg: ``scripts/solve_benchmark.py``'s solve worker (``jaxpg.make_solve`` with
  the default ``ReinforceConfig``, ``jaxpg.jit(solve, fast_compile=True)``, an
  evaluation after every update = every 64 training episodes), one fresh process
  per seed, timed from the first call into jaxpg (imports excluded) with an empty
  persistent compilation cache (cold) and with a populated one (warm). Its
  environment steps and training steps/s come from replaying the same updates
  (same keys) with ``trainer.run``, compiled apart, after the timed solve.
* PyTorch: ``scripts/torch_reinforce.py`` (the seed's PyTorch example: 4-128-2
  policy with dropout 0.6, Adam 1e-2, γ 0.99, normalised returns, one episode per
  update; ``torch.set_num_threads(1)``), one fresh process per seed, timed from
  just before its first episode (imports and ``gym.make`` excluded), a greedy
  evaluation every ``--torch-eval-every`` training episodes (default 10). It also
  records the example's own criterion (running reward > 475), by training time
  alone, and keeps training until both criteria are met or ``--time-cap``.

The script pins itself — and so every worker process — to ``--cores`` (default
core 0, ``os.sched_setaffinity``, what ``taskset -c 0`` does), so both frameworks
get the same single core. Env steps/s are real (unmasked) environment steps per
second of training, evaluation and compilation excluded. A PyTorch seed that did
not meet a criterion within the cap is censored: its time is only known to exceed
the cap, and a median that lands on a censored seed is reported as "> cap".

Writes ``docs/data/torch_comparison.json`` and the section between the
``torch`` markers in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from jaxpg import files

sys.path.insert(0, str(Path(__file__).resolve().parent))
import solve_benchmark  # noqa: E402  (the jaxpg side reuses its worker)

ROOT = Path(__file__).resolve().parent.parent
BEGIN = "<!-- torch:begin -->"
END = "<!-- torch:end -->"
JSON_PATH = ROOT / "docs" / "data" / "torch_comparison.json"
INSTALL = 'pip install -e ".[bench]"'
TARGET_RATIO = 20.0


def require_torch() -> None:
    if importlib.util.find_spec("torch") is None:
        raise SystemExit(
            "PyTorch is not installed; this comparison needs the bench extra:\n"
            f"    {INSTALL}    # torch==2.13.0 (CPU build) + gymnasium"
        )


def censored_median(values: list[float | None], cap: float) -> dict:
    """Median of times where ``None`` marks a run censored at ``cap`` (> cap).

    Censored runs sort last; the median is exact when it lands on measured runs
    and a lower bound (``censored: True``, value = cap) otherwise.
    """
    known = sorted(v for v in values if v is not None)
    n = len(values)
    ordered = known + [float("inf")] * (n - len(known))
    mid = ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2
    censored = mid == float("inf")
    return {
        "median_s": cap if censored else mid,
        "censored": censored,
        "met": len(known),
        "seeds": n,
        "times_s": values,
    }


def torch_run(seed: int, cap: float, eval_every: int) -> dict:
    cmd = [
        sys.executable,
        str(ROOT / "scripts" / "torch_reinforce.py"),
        "--seed",
        str(seed),
        "--time-cap",
        str(cap),
        "--eval-every",
        str(eval_every),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def worker_split(seeds: list[int], repeats: int) -> dict:
    """Where a jaxpg solve's time goes, in one fresh process (no persistent cache):
    build, trace + lower and compile of ``make_solve`` (fast_compile, as the
    timed runs); then for each seed the median run time of the compiled solve, of
    the same updates without evaluations (``trainer.run``, compiled apart) and of
    one 100-episode greedy evaluation of the solved policy (the costliest one)."""
    import jax

    jax.config.update("jax_enable_compilation_cache", False)
    import jaxpg
    from jaxpg.evaluate import episode_returns

    def median_wall(fn, *args) -> tuple[float, object]:
        walls, out = [], None
        for _ in range(repeats):
            start = time.perf_counter()
            out = jax.block_until_ready(fn(*args))
            walls.append(time.perf_counter() - start)
        return statistics.median(walls), out

    config = jaxpg.ReinforceConfig()
    jax.random.key(0)  # backend start-up, outside the clock as in the timed runs
    t0 = time.perf_counter()
    solve = jaxpg.make_solve(
        config,
        threshold=solve_benchmark.THRESHOLD,
        eval_episodes=solve_benchmark.EVAL_EPISODES,
    )
    t1 = time.perf_counter()
    lowered = jaxpg.jit(solve, fast_compile=True).lower(jax.random.key(0))
    t2 = time.perf_counter()
    compiled = lowered.compile()
    t3 = time.perf_counter()
    env, env_params = jaxpg.make_env(config.env_id)
    policy = jaxpg.make_policy(config, env, env_params)
    evaluate = jaxpg.jit(
        lambda key, params: episode_returns(
            key, policy, params, env, env_params, solve_benchmark.EVAL_EPISODES
        ).mean(),
        fast_compile=True,
    )
    rows = {}
    for seed in seeds:
        key = jax.random.key(seed)
        run_s, out = median_wall(compiled, key)
        updates = int(out.updates_used)
        train = solve_benchmark._replay_steps(key, config, updates, "fast", repeats)
        evaluate(key, out.params["policy"])  # compile (not timed)
        eval_s, ret = median_wall(evaluate, key, out.params["policy"])
        rows[str(seed)] = {
            "run_s": run_s,
            "updates": updates,
            "train_s": train["train_wall_s"],
            "eval_solved_s": eval_s,
            "eval_return": float(ret),
        }
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load": os.getloadavg(),
        "build_s": t1 - t0,
        "trace_lower_s": t2 - t1,
        "compile_s": t3 - t2,
        "seeds": rows,
        "repeats": repeats,
    }


def _split(seeds: list[int]) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--split-worker", json.dumps(seeds)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"split worker failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def summarize(report: dict) -> dict:
    cap = report["time_cap_s"]
    jax_cfg = report["jaxpg"]
    cold = jax_cfg["cold_runs"]
    torch_runs = report["torch_runs"]
    j = {
        "cold_median_s": jax_cfg["cold"]["median_s"],
        "warm_median_s": jax_cfg["warm"]["median_s"],
        "solved": jax_cfg["cold"]["solved"],
        "seeds": jax_cfg["cold"]["seeds"],
        "median_updates": jax_cfg["cold"]["median_updates"],
        "median_env_steps": statistics.median(r["env_steps"] for r in cold),
        "median_episodes": statistics.median(r["episodes"] for r in cold),
        "median_steps_per_s": statistics.median(r["steps_per_s"] for r in cold),
        "median_computed_steps_per_s": statistics.median(
            r["computed_steps_per_s"] for r in cold
        ),
        "median_train_wall_s": statistics.median(r["train_wall_s"] for r in cold),
    }
    t_eval = censored_median(
        [r["eval_hit"]["wall_s"] if r["eval_solved"] else None for r in torch_runs],
        cap,
    )
    t_running = censored_median(
        [
            r["running_hit"]["train_s"] if r["running_solved"] else None
            for r in torch_runs
        ],
        cap,
    )
    hits = [r["eval_hit"] for r in torch_runs if r["eval_solved"]]
    t = {
        "eval": t_eval,
        "running": t_running,
        "median_steps_per_s": statistics.median(r["steps_per_s"] for r in torch_runs),
        "median_eval_episodes": (
            statistics.median(h["episodes"] for h in hits) if hits else None
        ),
        "median_eval_steps": (
            statistics.median(h["steps"] for h in hits) if hits else None
        ),
        "median_eval_share": (
            statistics.median(h["eval_s"] / h["wall_s"] for h in hits) if hits else None
        ),
    }
    split = report.get("split")
    if split:
        rows = list(split["seeds"].values())
        j["split"] = {
            "trace_lower_s": split["trace_lower_s"],
            "compile_s": split["compile_s"],
            "median_run_s": statistics.median(r["run_s"] for r in rows),
            "median_train_s": statistics.median(r["train_s"] for r in rows),
            "median_eval_loop_s": statistics.median(
                r["run_s"] - r["train_s"] for r in rows
            ),
            "median_eval_solved_s": statistics.median(r["eval_solved_s"] for r in rows),
            "seeds": len(rows),
            "date": split.get("date"),
            "load": split.get("load"),
        }
    ratios = {
        "steps_per_s": j["median_steps_per_s"] / t["median_steps_per_s"],
        # Lower bounds where the PyTorch median is censored.
        "solve_cold": t_eval["median_s"] / j["cold_median_s"],
        "solve_warm": t_eval["median_s"] / j["warm_median_s"],
        "running_vs_cold": t_running["median_s"] / j["cold_median_s"],
        "lower_bound": t_eval["censored"],
    }
    ratios["target_met"] = ratios["solve_cold"] >= TARGET_RATIO
    return {"jaxpg": j, "torch": t, "ratios": ratios}


def _s(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


def _k(x: float) -> str:
    return f"{x / 1e3:.1f} k" if x < 1e6 else f"{x / 1e6:.2f} M"


def markdown(report: dict) -> str:
    s = report["summary"]
    j, t, r = s["jaxpg"], s["torch"], s["ratios"]
    env = report["environment"]
    cap = report["time_cap_s"]
    ge = "≥ " if r["lower_bound"] else ""

    def med(c: dict) -> str:
        return f"> {cap:.0f}" if c["censored"] else f"{c['median_s']:.2f}"

    sp = j.get("split")
    lines = [
        "## jaxpg vs PyTorch REINFORCE (scripts/compare_torch.py)",
        "",
        f"Command: `{report['command']}` (needs `{INSTALL}`)",
        "",
        f"Machine: {env['processor']}, {env['cpu_count']} cores shared with other "
        f"work; jax {env['jax']}, torch {report['torch_version']} (CPU), gymnasium "
        f"{report['gymnasium_version']}. Measured {report['date']}; load average "
        f"{report['load_start'][0]:.2f} at the start, {report['load_end'][0]:.2f} at "
        f"the end. Every process pinned to core(s) `{report['cores']}` "
        "(`os.sched_setaffinity`, as `taskset -c`); PyTorch with "
        "`torch.set_num_threads(1)`.",
        "",
        "Same criterion for both: a 100-episode greedy evaluation (jaxpg: the "
        "policy's mode, in gymnax; PyTorch: dropout off and argmax, in gymnasium, "
        "the 100 episodes stepped side by side with one batched forward pass) with "
        "mean return ≥ 475; evaluation time counted. jaxpg evaluates after every "
        "update (64 training episodes), PyTorch after every "
        f"{report['torch_eval_every']} training episodes (10 updates). jaxpg: "
        "default `ReinforceConfig` through `jaxpg.make_solve`, "
        "`jaxpg.jit(fast_compile=True)`, one fresh process per seed, time from the "
        "first call into jaxpg (imports excluded), compile included (cold: empty "
        "persistent cache; warm: populated). PyTorch: `scripts/torch_reinforce.py`, "
        "the seed's example (4-128-2 policy, dropout 0.6, Adam 1e-2, γ 0.99, "
        "normalised returns, one episode per update), time from its first episode "
        f"(imports excluded), capped at {cap:.0f} s per seed; a seed that misses a "
        "criterion within the cap is censored (its time is > cap). Env steps/s: "
        "real environment steps per second of training (compile and evaluation "
        "excluded); jaxpg's from replaying the solve's updates with `trainer.run` "
        "compiled the same way.",
        "",
        "| | jaxpg | PyTorch | ratio |",
        "|---|---|---|---|",
        f"| env steps/s while training (median) | {_k(j['median_steps_per_s'])} "
        f"(computed {_k(j['median_computed_steps_per_s'])}) | "
        f"{_k(t['median_steps_per_s'])} | **{r['steps_per_s']:.0f}×** |",
        f"| wall to greedy eval ≥ 475, median s | cold {j['cold_median_s']:.2f}, "
        f"warm {j['warm_median_s']:.2f} | {med(t['eval'])} | "
        f"**{ge}{r['solve_cold']:.1f}×** cold, {ge}{r['solve_warm']:.1f}× warm |",
        f"| seeds meeting it | {j['solved']}/{j['seeds']} | "
        f"{t['eval']['met']}/{t['eval']['seeds']} within {cap:.0f} s | |",
        f"| training episodes / env steps to it (median) | "
        f"{j['median_episodes']:.0f} / {j['median_env_steps']:.0f} "
        f"({j['median_updates']:g} updates) | "
        f"{t['median_eval_episodes'] or 0:.0f} / {t['median_eval_steps'] or 0:.0f} "
        "| |",
        f"| PyTorch example's criterion (running reward > 475), training s "
        f"(median) | — | {med(t['running'])} "
        f"({t['running']['met']}/{t['running']['seeds']} met) | "
        f"{'≥ ' if t['running']['censored'] else ''}"
        f"{r['running_vs_cold']:.1f}× jaxpg's cold eval-criterion time |",
        "",
        f"Target (issue 5): jaxpg ≥ {TARGET_RATIO:.0f}× faster wall-to-solve than "
        f"PyTorch in the same run, same criterion: **{ge}{r['solve_cold']:.1f}× "
        f"cold → {'met' if r['target_met'] else 'missed'}**"
        f" ({ge}{r['solve_warm']:.1f}× with a warm compilation cache).",
        "",
    ]
    if sp:
        when = (
            f" (measured {sp['date']}, load average {sp['load'][0]:.2f})"
            if sp.get("date")
            else ""
        )
        lines += [
            "Where jaxpg's time goes, from one extra fresh process without a "
            f"persistent cache, on the same core{when}: tracing and lowering "
            f"`make_solve` {sp['trace_lower_s']:.2f} s, XLA compile "
            f"{sp['compile_s']:.2f} s; then, for each of seeds 0..{sp['seeds'] - 1} "
            "(medians of 3 calls, median over the seeds), the compiled solve runs "
            f"{sp['median_run_s']:.2f} s, the same updates without evaluations "
            f"{sp['median_train_s']:.2f} s, so evaluations and loop ≈ "
            f"{sp['median_eval_loop_s']:.2f} s; one 100-episode greedy evaluation "
            f"of a solved policy (500-step episodes) takes "
            f"{sp['median_eval_solved_s']:.3f} s. PyTorch spent a median "
            f"{100 * (t['median_eval_share'] or 0):.0f} % of its time-to-solve in "
            "its greedy evaluations.",
            "",
        ]
    lines += [
        "Per PyTorch seed (s; `—` = not met within the cap):",
        "",
        "| seed | eval ≥ 475: wall s (episodes, of which eval s) | running reward > "
        "475: training s (episodes) | steps/s | episodes run |",
        "|---|---|---|---|---|",
    ]
    for run in report["torch_runs"]:
        e, rr = run["eval_hit"], run["running_hit"]
        lines.append(
            f"| {run['seed']} | "
            + (f"{e['wall_s']:.2f} ({e['episodes']}, {e['eval_s']:.2f})" if e else "—")
            + " | "
            + (f"{rr['train_s']:.2f} ({rr['episodes']})" if rr else "—")
            + f" | {run['steps_per_s']:.0f} | {run['episodes']} |"
        )
    lines.append("")
    return "\n".join(lines)


def write_docs(report: dict) -> None:
    files.write_json(JSON_PATH, report, allow_nan=True)
    files.replace_section(
        ROOT / "docs" / "benchmarks.md",
        BEGIN,
        END,
        f"{BEGIN}\n{markdown(report)}{END}",
        new_page="# Benchmarks\n",
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="4 + 2 seeds, 30 s cap")
    ap.add_argument("--jax-seeds", type=int, default=16)
    ap.add_argument("--torch-seeds", type=int, default=5)
    ap.add_argument("--time-cap", type=float, default=120.0, help="per PyTorch seed")
    ap.add_argument("--torch-eval-every", type=int, default=10, help="episodes")
    ap.add_argument("--cores", default="0", help="core list to pin to, or 'all'")
    ap.add_argument("--no-write", action="store_true", help="print only")
    ap.add_argument(
        "--from-json",
        action="store_true",
        help=f"only re-render docs/benchmarks.md from {JSON_PATH.relative_to(ROOT)}",
    )
    ap.add_argument("--split-worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument(
        "--split-only",
        action="store_true",
        help="re-measure only where jaxpg's time goes; merge into the saved report",
    )
    args = ap.parse_args()

    if args.split_worker:
        print(json.dumps(worker_split(json.loads(args.split_worker), 3)))
        return

    if args.split_only:
        # Re-measure only the breakdown and merge it into the saved report.
        require_torch()
        if args.cores != "all":
            os.sched_setaffinity(0, {int(c) for c in args.cores.split(",")})
        report = json.loads(JSON_PATH.read_text())
        report["split"] = _split(list(range(min(len(report["jaxpg"]["cold_runs"]), 8))))
        report["summary"] = summarize(report)
        print(markdown(report))
        write_docs(report)
        return

    if args.from_json:
        report = json.loads(JSON_PATH.read_text())
        report["summary"] = summarize(report)
        print(markdown(report))
        write_docs(report)
        return

    require_torch()
    if args.cores != "all":
        os.sched_setaffinity(0, {int(c) for c in args.cores.split(",")})
    jax_seeds = 4 if args.quick else args.jax_seeds
    torch_seeds = 2 if args.quick else args.torch_seeds
    cap = 30.0 if args.quick else args.time_cap

    import gymnasium
    import torch

    report: dict = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "environment": solve_benchmark.environment(),
        "torch_version": torch.__version__,
        "gymnasium_version": gymnasium.__version__,
        "cores": args.cores,
        "load_start": os.getloadavg(),
        "time_cap_s": cap,
        "torch_eval_every": args.torch_eval_every,
        "threshold": solve_benchmark.THRESHOLD,
        "eval_episodes": solve_benchmark.EVAL_EPISODES,
    }
    print(f"jaxpg: {jax_seeds} seeds, cold and warm", flush=True)
    report["jaxpg"] = solve_benchmark.run_configuration(
        list(range(jax_seeds)), args.cores, "fast", 1, count_steps=True
    )
    report["split"] = _split(list(range(min(jax_seeds, 8))))
    report["torch_runs"] = []
    for seed in range(torch_seeds):
        run = torch_run(seed, cap, args.torch_eval_every)
        report["torch_runs"].append(run)
        print(
            f"  torch seed {seed}: eval {run['eval_hit']}, running "
            f"{run['running_hit']}, {run['steps_per_s']:.0f} steps/s",
            flush=True,
        )
    report["load_end"] = os.getloadavg()
    report["command"] = "python " + " ".join(
        ["scripts/compare_torch.py", *sys.argv[1:]]
    )
    report["summary"] = summarize(report)
    print(markdown(report))
    if not args.no_write:
        write_docs(report)
        print(f"wrote {JSON_PATH.relative_to(ROOT)} and docs/benchmarks.md")


if __name__ == "__main__":
    main()
