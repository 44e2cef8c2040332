"""Throughput, compile-time and seed-batching benchmark (issue 5, items 1-5).

    python scripts/benchmark.py                      # CartPole-v1, all num_envs
    python scripts/benchmark.py --quick              # fewer num_envs, repeats, seeds
    python scripts/benchmark.py --num-envs 1,64,1024 --all-envs

For each environment (CartPole-v1; with ``--all-envs`` also Pendulum-v1 and
Breakout-MinAtar) and each ``num_envs`` N:

1. env ceiling: steps/s of ``lax.scan`` over ``jax.vmap(env.step)`` of the raw
   gymnax environment with random actions (fixed length, gymnax's auto-reset);
2. rollout ceiling: the same loop on ``jaxpg.make_env``'s environment with
   ``jaxpg.make_policy(ReinforceConfig())`` (hidden sizes (32, 32)) choosing the
   action (forward pass + sampling), no learning;
3. training: ``jaxpg.make_trainer`` of REINFORCE (computed steps/s from
   ``metrics["computed_steps"]``, real steps/s from ``metrics["env_steps"]``, masked
   fraction 1 - real/computed) at an untrained policy (the first updates from
   ``init``) and at a trained one (parameters of a CartPole policy trained to a
   return of ~500, loaded into the N-env trainer); A2C and PPO with their default
   configs except ``num_envs`` (steps/s from ``metrics["env_steps"]``).

Every timed function is compiled first with ``jaxpg.jit(f).lower(...).compile()``
(its compile time is recorded apart) and then called ``--repeats`` times with
``block_until_ready``; the median is reported. Env and rollout ceilings for
N <= 256 are also measured in a subprocess pinned to core 0.

4. compile time of the default ``make_train`` functions (REINFORCE, A2C, PPO),
   ``jaxpg.jit(train).lower(key)`` and ``.compile()`` timed apart, each in a fresh
   process: cold (empty persistent cache directory) and warm (the same directory,
   populated by the cold process; ``jax_persistent_cache_min_compile_time_secs=0``,
   ``jax_persistent_cache_min_entry_size_bytes=-1``).
5. seeds: wall of ``jax.vmap(train)`` over K seeds (K = 1, 8, 32) at
   ``num_envs=64`` against one seed with K x 64 environments, compared per
   computed environment step.

Writes ``docs/data/benchmark.json`` and the section between the throughput
markers in ``docs/benchmarks.md``.
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
BEGIN = "<!-- throughput:begin -->"
END = "<!-- throughput:end -->"
PNG = ROOT / "docs" / "img" / "benchmark-throughput.png"
JSON = ROOT / "docs" / "data" / "benchmark.json"
ALL_ENVS = ("CartPole-v1", "Pendulum-v1", "Breakout-MinAtar")
NUM_ENVS = (1, 16, 64, 256, 1024, 4096)
QUICK_NUM_ENVS = (1, 64, 1024)
PINNED_MAX_ENVS = 256
TARGET_STEPS = 1 << 18  # computed env steps per timed call (roughly)
TARGET_ENVS = 1024
SEED_ENVS = 64
# Per-environment training budget: (computed env steps per timed call, largest
# num_envs at which the algorithms are trained, fewest updates per call, timed calls
# per training measurement). With its conv torso, A2C/PPO on Breakout-MinAtar run
# at ~10^3-10^4 steps/s on this 2-core CPU (PPO < 3k), so its training rows stop at num_envs
# 64 with ~4k steps and one timed call (after the untimed one) per measurement; its
# env and rollout ceilings are measured at every num_envs with the usual repeats.
TRAIN_BUDGET = {"Breakout-MinAtar": (1 << 12, 64, 1, 1)}


# --------------------------------------------------------------------------- worker


def _setup(cores: str, cache_dir: str | None = None) -> None:
    if cores != "all":
        os.sched_setaffinity(0, {int(c) for c in cores.split(",")})
    import jax

    if cache_dir:
        jax.config.update("jax_compilation_cache_dir", cache_dir)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)


def _timed(fn, args: tuple, repeats: int) -> dict:
    """Compile ``jaxpg.jit(fn)`` apart, then the median wall of ``repeats`` calls."""
    import jax

    import jaxpg

    t0 = time.perf_counter()
    compiled = jaxpg.jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - t0
    jax.block_until_ready(compiled(*args))  # one untimed call (allocations)
    walls, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = jax.block_until_ready(compiled(*args))
        walls.append(time.perf_counter() - t0)
    return {"compile_s": compile_s, "wall_s": statistics.median(walls), "out": out}


def _random_action(env, params):
    import jax
    import jax.numpy as jnp

    space = env.action_space(params)
    if hasattr(space, "n"):
        return lambda k, n: jax.random.randint(k, (n,), 0, int(space.n))
    low = jnp.asarray(space.low, jnp.float32)
    high = jnp.asarray(space.high, jnp.float32)
    return lambda k, n: jax.random.uniform(
        k, (n, *space.shape), minval=low, maxval=high
    )


def _ceiling(env_id: str, n: int, steps: int, repeats: int, policy: bool) -> dict:
    """Steps/s of a fixed-length auto-reset loop (random or policy actions)."""
    import gymnax
    import jax

    import jaxpg
    from jaxpg import policy as pol

    if policy:
        env, params = jaxpg.make_env(env_id)
        net = jaxpg.make_policy(jaxpg.ReinforceConfig(env_id=env_id), env, params)
        net_params = net.init(jax.random.key(1), pol.example_observation(env, params))
    else:
        env, params = gymnax.make(env_id)
        net = net_params = None
        rand = _random_action(env, params)

    def run(key):
        obs, state = jax.vmap(env.reset, in_axes=(0, None))(
            jax.random.split(key, n), params
        )

        def step(carry, _):
            key, obs, state = carry
            key, k_act, k_env = jax.random.split(key, 3)
            if policy:
                action = pol.sample(k_act, net.apply(net_params, obs))
            else:
                action = rand(k_act, n)
            obs, state, reward, done, _ = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
                jax.random.split(k_env, n), state, action, params
            )[:5]
            return (key, obs, state), reward.sum()

        _, rewards = jax.lax.scan(step, (key, obs, state), None, length=steps)
        return rewards.sum()

    r = _timed(run, (jax.random.key(0),), repeats)
    return {
        "steps": steps * n,
        "compile_s": r["compile_s"],
        "wall_s": r["wall_s"],
        "steps_per_s": steps * n / r["wall_s"],
    }


def _trained_params(env_id: str) -> tuple:
    """Parameters of a REINFORCE policy trained on CartPole to a return of ~500."""
    import jax

    import jaxpg

    config = jaxpg.ReinforceConfig(env_id=env_id)
    trainer = jaxpg.make_trainer(config)
    state = trainer.init(jax.random.key(0))
    run = jaxpg.jit(trainer.run, static_argnums=1)
    ret = 0.0
    for _ in range(20):
        state, metrics = run(state, 10)
        ret = float(metrics["episode_return"][-1])
        if ret >= 495:
            break
    return state.params, ret


def _train_rate(config, repeats: int, updates: int, params=None) -> dict:
    import jax
    import numpy as np

    import jaxpg

    trainer = jaxpg.make_trainer(config)
    state = trainer.init(jax.random.key(0))
    if params is not None:
        state = state._replace(params=params)

    def run(state):
        return trainer.run(state, updates)[1]

    r = _timed(run, (state,), repeats)
    m = r["out"]
    real = float(np.sum(np.asarray(m["env_steps"], np.float64)))
    computed = (
        float(np.sum(np.asarray(m["computed_steps"], np.float64)))
        if "computed_steps" in m
        else real
    )
    return {
        "updates": updates,
        "compile_s": r["compile_s"],
        "wall_s": r["wall_s"],
        "computed_steps_per_s": computed / r["wall_s"],
        "real_steps_per_s": real / r["wall_s"],
        "masked_fraction": 1.0 - real / computed,
        "episode_return": float(np.mean(np.asarray(m["episode_return"]))),
    }


def _clamp(x: float, lo: int, hi: int) -> int:
    return int(max(lo, min(hi, round(x))))


def worker_throughput(env_id: str, ns: list[int], repeats: int, what: str) -> dict:
    import jaxpg

    out: dict = {}
    trained = None
    if "train" in what and env_id == "CartPole-v1":
        params, ret = _trained_params(env_id)
        trained = params
        out["trained_return"] = ret
    target, max_train, lo, train_repeats = TRAIN_BUDGET.get(
        env_id, (TARGET_STEPS, None, 2, repeats)
    )
    for n in ns:
        row: dict = {}
        steps = _clamp(TARGET_STEPS / n, 32, 4096)
        row["env"] = _ceiling(env_id, n, steps, repeats, policy=False)
        row["rollout"] = _ceiling(env_id, n, steps, repeats, policy=True)
        if "train" in what and (max_train is None or n <= max_train):
            # REINFORCE on CartPole: ~32 computed steps per env per update untrained,
            # ~512 trained; other envs run their full horizon.
            # The leave-one-out mean baseline needs two episodes: none at N = 1.
            r = jaxpg.ReinforceConfig(
                env_id=env_id, num_envs=n, baseline="mean" if n > 1 else "none"
            )
            row["reinforce_untrained"] = _train_rate(
                r, train_repeats, _clamp(target / (32 * n), lo, 20)
            )
            if trained is not None:
                row["reinforce_trained"] = _train_rate(
                    r, train_repeats, _clamp(target / (512 * n), 1, 20), trained
                )
            a2c = jaxpg.A2CConfig(env_id=env_id, num_envs=n)
            row["a2c"] = _train_rate(
                a2c, train_repeats, _clamp(target / (a2c.num_steps * n), lo, 1000)
            )
            ppo = jaxpg.PPOConfig(env_id=env_id, num_envs=n)
            row["ppo"] = _train_rate(
                ppo, train_repeats, _clamp(target / (ppo.num_steps * n), lo, 100)
            )
        out[str(n)] = row
        print(f"# {env_id} N={n} done", file=sys.stderr, flush=True)
    return out


def worker_compile(algo: str, env_id: str) -> dict:
    import jax

    import jaxpg

    config = {
        "reinforce": jaxpg.ReinforceConfig,
        "a2c": jaxpg.A2CConfig,
        "ppo": jaxpg.PPOConfig,
    }[algo](env_id=env_id)
    train = jaxpg.make_train(config)
    t0 = time.perf_counter()
    lowered = jaxpg.jit(train).lower(jax.random.key(0))
    t1 = time.perf_counter()
    lowered.compile()
    t2 = time.perf_counter()
    return {"lower_s": t1 - t0, "compile_s": t2 - t1}


def worker_seeds(ks: list[int], updates: int, repeats: int) -> dict:
    import jax
    import numpy as np

    import jaxpg

    def per_step(num_envs: int, k: int) -> dict:
        train = jaxpg.make_train(
            jaxpg.ReinforceConfig(num_envs=num_envs, num_updates=updates)
        )
        keys = jax.random.split(jax.random.key(0), k)
        r = _timed(lambda ks: jax.vmap(train)(ks).metrics, (keys,), repeats)
        # Vmapped seeds share one rollout loop: each seed reports its steps.
        computed = float(np.asarray(r["out"]["computed_steps"], np.float64).sum())
        return {
            "seeds": k,
            "num_envs": num_envs,
            "wall_s": r["wall_s"],
            "compile_s": r["compile_s"],
            "computed_steps": computed,
            "us_per_step": 1e6 * r["wall_s"] / computed,
        }

    rows = []
    for k in ks:
        vm = per_step(SEED_ENVS, k)
        one = per_step(SEED_ENVS * k, 1)
        rows.append(
            {
                "k": k,
                "vmap": vm,
                "wide": one,
                "ratio": vm["us_per_step"] / one["us_per_step"],
            }
        )
        print(f"# seeds K={k} done", file=sys.stderr, flush=True)
    return {"updates": updates, "num_envs": SEED_ENVS, "rows": rows}


# ----------------------------------------------------------------------- orchestration


def _spawn(args: list[str], cores: str = "all", cache_dir: str | None = None) -> dict:
    cmd = [sys.executable, __file__, "--worker", json.dumps(args), "--cores", cores]
    if cache_dir:
        cmd += ["--cache-dir", cache_dir]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(f"worker {args} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def environment() -> dict:
    import jax

    return {
        "device": str(jax.devices()[0]),
        "platform": jax.default_backend(),
        "jax": jax.__version__,
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "loadavg_start": os.getloadavg(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def _fmt(x: float) -> str:
    if x >= 1e6:
        return f"{x / 1e6:.2f} M"
    if x >= 1e3:
        return f"{x / 1e3:.1f} k"
    return f"{x:.0f}"


def _end_note(report: dict) -> str:
    parts = []
    if "loadavg_end" in report:
        parts.append(f", {report['loadavg_end'][0]:.2f} at the end")
    if "elapsed_s" in report:
        parts.append(f"; the whole run took {report['elapsed_s'] / 60:.0f} min")
    return "".join(parts)


def markdown(report: dict, command: str) -> str:
    env = report["environment"]
    lines = [
        "## Throughput, compile time and seeds (scripts/benchmark.py)",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {env['processor']}, {env['cpu_count']} cores, device "
        f"`{env['device']}`, jax {env['jax']}, Python {env['python']}. Measured "
        f"{env['date']} (1-minute load average {env['loadavg_start'][0]:.2f} at the "
        f"start{_end_note(report)}). The cores are shared with other engineers' "
        "jobs, so absolute numbers are pessimistic and noisy (ratios measured in "
        "the same run hold up better); every number is the median "
        f"of {report['repeats']} calls from one run, compile excluded "
        "(`jaxpg.jit(f).lower(...).compile()` timed apart, `block_until_ready`).",
        "",
        "Steps/s. *env ceiling*: raw gymnax env, random actions, `vmap` + `scan`, "
        "auto-reset; *rollout ceiling*: the same loop on `jaxpg.make_env`'s env with "
        "the default REINFORCE policy (MLP 32×32) sampling the actions; *(core 0)*: "
        f"the same in a process pinned to core 0 (num_envs ≤ {PINNED_MAX_ENVS}). "
        "REINFORCE: computed steps/s (`computed_steps`, the whole chunks the "
        "episodic rollout runs) / real steps/s (`env_steps`) and the masked "
        "fraction 1 − real/computed; *untrained* = the first ≤ 20 updates from "
        "`init`, *trained* = a CartPole policy trained to ≈ 500 loaded into the "
        "N-env trainer (num_envs 1 uses `baseline='none'`: the leave-one-out "
        "baseline needs 2 episodes). A2C/PPO: env steps/s of their default configs "
        "with `num_envs` set (nothing masked). All include the learning step.",
        "",
    ]
    lines += [
        f"![steps/s vs num_envs, one panel per environment](img/{PNG.name})",
        "",
        "The plot is drawn from `docs/data/benchmark.json`; "
        "`python scripts/benchmark.py --plot-only` redraws it without measuring.",
        "",
    ]
    for env_id, rows in report["throughput"].items():
        lines += [f"### {env_id}", ""]
        budget = report.get("train_budget", {}).get(env_id)
        if budget:
            steps, max_train, _, train_repeats = budget
            lines += [
                f"Training rows stop at num_envs {max_train}, and each training "
                f"number is {train_repeats} timed call(s) of ≈ {steps} computed "
                f"steps (elsewhere: the median of {report['repeats']} calls of "
                f"≈ {TARGET_STEPS}): A2C/PPO with the conv torso run at "
                "10³–10⁴ steps/s on this CPU (PPO below 3 k), and the full grid "
                "would take hours. The ceilings cover every num_envs.",
                "",
            ]
        if "trained_return" in rows:
            lines += [
                "Trained policy: REINFORCE defaults trained to a last-update mean "
                f"return of {rows['trained_return']:.0f}.",
                "",
            ]
        pinned = report.get("pinned", {}).get(env_id, {})
        head = "| num_envs | env ceiling | env (core 0) | rollout ceiling | rollout (core 0) |"
        sep = "|---|---|---|---|---|"
        has_train = any("a2c" in r for k, r in rows.items() if k.isdigit())
        if has_train:
            head += (
                " REINFORCE untrained computed / real (masked) |"
                " REINFORCE trained computed / real (masked) | A2C | PPO |"
            )
            sep += "---|---|---|---|"
        lines += [head, sep]
        for n, r in rows.items():
            if not n.isdigit():
                continue
            p = pinned.get(n)
            cells = [
                n,
                _fmt(r["env"]["steps_per_s"]),
                _fmt(p["env"]["steps_per_s"]) if p else "—",
                _fmt(r["rollout"]["steps_per_s"]),
                _fmt(p["rollout"]["steps_per_s"]) if p else "—",
            ]
            if has_train:
                for key in ("reinforce_untrained", "reinforce_trained"):
                    t = r.get(key)
                    cells.append(
                        f"{_fmt(t['computed_steps_per_s'])} / "
                        f"{_fmt(t['real_steps_per_s'])} ({t['masked_fraction']:.0%})"
                        if t
                        else "—"
                    )
                cells += [
                    _fmt(r[k]["real_steps_per_s"]) if k in r else "—"
                    for k in ("a2c", "ppo")
                ]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    target = report.get("target")
    if target:
        lines += ["### Target: REINFORCE training ≥ 50 % of the rollout ceiling", ""]
        for t in target:
            lines.append(
                f"- {t['env_id']}, num_envs {t['num_envs']}, {t['policy']} policy: "
                f"computed {_fmt(t['computed'])} steps/s / rollout ceiling "
                f"{_fmt(t['ceiling'])} steps/s = **{t['ratio']:.0%}** → "
                f"**{'met' if t['met'] else 'missed'}**"
            )
        lines.append("")
    comp = report.get("compile")
    if comp:
        lines += [
            "### Compile time of the default train functions (`jaxpg.jit`)",
            "",
            "Fresh process each; cold = empty persistent cache directory, warm = the "
            "same directory after the cold process filled it.",
            "",
            "| algorithm | env | cache | trace+lower s | compile s |",
            "|---|---|---|---|---|",
        ]
        for c in comp:
            lines.append(
                f"| {c['algo']} | {c['env_id']} | {c['cache']} | {c['lower_s']:.2f} "
                f"| {c['compile_s']:.2f} |"
            )
        lines.append("")
    runs = [
        (cores, report[key])
        for cores, key in (("all", "seeds"), ("0", "seeds_core0"))
        if report.get(key)
    ]
    if runs:
        first = runs[0][1]
        lines += [
            f"### Seeds: `jax.vmap(train)` over K seeds at num_envs {first['num_envs']} "
            "vs one seed with K× the envs",
            "",
            f"REINFORCE, CartPole-v1, {first['updates']} updates from init; cost per "
            "computed env step (target: vmapped seeds ≤ 1.15× the wide run). Under "
            "`vmap` the seeds share one rollout loop that runs until every seed's "
            "episodes are done, as the wide run's loop runs until all of its "
            "environments' are, so both count the steps their loops compute. "
            "*cores*: all, or the worker pinned to core 0.",
            "",
            "| cores | K | vmap wall s | vmap µs/step | K×envs wall s "
            "| K×envs µs/step | ratio |",
            "|---|---|---|---|---|---|---|",
        ]
        for cores, seeds in runs:
            for r in seeds["rows"]:
                met = "(met)" if r["ratio"] <= 1.15 else "(missed)"
                lines.append(
                    f"| {cores} | {r['k']} | {r['vmap']['wall_s']:.3f} "
                    f"| {r['vmap']['us_per_step']:.3f} | {r['wide']['wall_s']:.3f} "
                    f"| {r['wide']['us_per_step']:.3f} | {r['ratio']:.2f} {met} |"
                )
        lines.append("")
    lines += [
        "Not covered here: a GPU run (none on this machine). Time-to-solve is "
        "`scripts/solve_benchmark.py`, the PyTorch comparison "
        "`scripts/compare_torch.py` (both above).",
        "",
    ]
    return "\n".join(lines)


# (label, row key, value key, matplotlib style) of each line in the PNG.
SERIES = (
    ("env ceiling (random actions)", "env", "steps_per_s", "k-"),
    ("rollout ceiling (policy, no learning)", "rollout", "steps_per_s", "k--"),
    (
        "REINFORCE computed, untrained",
        "reinforce_untrained",
        "computed_steps_per_s",
        "C0-o",
    ),
    ("REINFORCE real, untrained", "reinforce_untrained", "real_steps_per_s", "C0:o"),
    (
        "REINFORCE computed, trained",
        "reinforce_trained",
        "computed_steps_per_s",
        "C1-s",
    ),
    ("REINFORCE real, trained", "reinforce_trained", "real_steps_per_s", "C1:s"),
    ("A2C", "a2c", "real_steps_per_s", "C2-^"),
    ("PPO", "ppo", "real_steps_per_s", "C3-v"),
)


def plot(report: dict, path: Path) -> None:
    """Steps/s against num_envs (log-log), one panel per environment."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    envs = list(report["throughput"])
    fig, axes = plt.subplots(
        1,
        len(envs),
        figsize=(max(6.4, 4.6 * len(envs)), 4.8),
        squeeze=False,
        sharey=True,
    )
    for ax, env_id in zip(axes[0], envs, strict=True):
        rows = {
            int(n): r for n, r in report["throughput"][env_id].items() if n.isdigit()
        }
        ns = sorted(rows)
        for label, key, field, style in SERIES:
            pts = [(n, rows[n][key][field]) for n in ns if key in rows[n]]
            if pts:
                x, y = zip(*pts, strict=True)
                ax.plot(x, y, style, label=label, markersize=4)
        ax.set_xscale("log", base=2)
        ax.set_xticks(ns, [str(n) for n in ns])
        ax.minorticks_off()
        ax.set_yscale("log")
        ax.set_title(env_id)
        ax.set_xlabel("num_envs")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("environment steps / s")
    handles, labels = {}, []
    for ax in axes[0]:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in handles:
                handles[lab] = h
                labels.append(lab)
    ncol = min(4, 2 * len(envs))
    fig.legend(
        [handles[lab] for lab in labels],
        labels,
        loc="lower center",
        ncol=ncol,
        fontsize=7,
        frameon=False,
    )
    env = report["environment"]
    fig.suptitle(
        f"jaxpg throughput, {env['processor']} {env['cpu_count']} cores "
        f"({env['device']}), jax {env['jax']}, {env['date']}",
        fontsize=9,
    )
    fig.tight_layout(rect=(0, 0.045 * -(-len(labels) // ncol) + 0.02, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_docs(report: dict, command: str) -> None:
    files.write_json(ROOT / "docs" / "data" / "benchmark.json", report, allow_nan=True)
    plot(report, PNG)
    files.replace_section(
        ROOT / "docs" / "benchmarks.md",
        BEGIN,
        END,
        f"{BEGIN}\n{markdown(report, command)}{END}",
        new_page="# Benchmarks\n",
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--num-envs", default=None, help="comma-separated list")
    ap.add_argument("--all-envs", action="store_true", help="+Pendulum, MinAtar")
    ap.add_argument(
        "--envs", default=None, help="comma-separated env ids (overrides --all-envs)"
    )
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--no-seeds", action="store_true", help="skip the seeds table")
    ap.add_argument("--no-compile", action="store_true", help="skip compile times")
    ap.add_argument("--no-docs", action="store_true")
    ap.add_argument(
        "--from-json",
        action="store_true",
        help="only re-render docs/benchmarks.md from docs/data/benchmark.json",
    )
    ap.add_argument(
        "--plot-only",
        nargs="?",
        const="-",
        default=None,
        metavar="PNG",
        help="only render the PNG (default docs/img/benchmark-throughput.png) "
        "from --json, without measuring",
    )
    ap.add_argument("--json", default=str(JSON), help="the report --plot-only reads")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--cores", default="all", help=argparse.SUPPRESS)
    ap.add_argument("--cache-dir", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker:
        _setup(args.cores, args.cache_dir)
        kind, *rest = json.loads(args.worker)
        fn = {
            "throughput": worker_throughput,
            "compile": worker_compile,
            "seeds": worker_seeds,
        }[kind]
        print(json.dumps(fn(*rest)))
        return

    if args.plot_only:
        out = Path(args.plot_only) if args.plot_only != "-" else PNG
        plot(json.loads(Path(args.json).read_text()), out)
        print(f"wrote {out}")
        return

    if args.from_json:
        report = json.loads((ROOT / "docs" / "data" / "benchmark.json").read_text())
        command = report.setdefault("command", "python scripts/benchmark.py")
        print(markdown(report, command))
        write_docs(report, command)
        return

    if args.num_envs:
        ns = [int(x) for x in args.num_envs.split(",")]
    else:
        ns = list(QUICK_NUM_ENVS if args.quick else NUM_ENVS)
    repeats = args.repeats or 3
    if args.envs:
        envs = tuple(args.envs.split(","))
    else:
        envs = ALL_ENVS if args.all_envs else ALL_ENVS[:1]
    report: dict = {
        "environment": environment(),
        "repeats": repeats,
        "num_envs": ns,
        "train_budget": {e: TRAIN_BUDGET[e] for e in envs if e in TRAIN_BUDGET},
    }
    start = time.perf_counter()

    report["throughput"] = {}
    report["pinned"] = {}
    for env_id in envs:
        report["throughput"][env_id] = _spawn(
            ["throughput", env_id, ns, repeats, "train"]
        )
        small = [n for n in ns if n <= PINNED_MAX_ENVS]
        if small:
            report["pinned"][env_id] = _spawn(
                ["throughput", env_id, small, repeats, "ceiling"], cores="0"
            )

    report["target"] = []
    cart = report["throughput"].get("CartPole-v1", {})
    row = cart.get(str(TARGET_ENVS))
    if row:
        for key, label in (
            ("reinforce_trained", "trained"),
            ("reinforce_untrained", "untrained"),
        ):
            if key in row:
                c, ceil = (
                    row[key]["computed_steps_per_s"],
                    row["rollout"]["steps_per_s"],
                )
                report["target"].append(
                    {
                        "env_id": "CartPole-v1",
                        "num_envs": TARGET_ENVS,
                        "policy": label,
                        "computed": c,
                        "ceiling": ceil,
                        "ratio": c / ceil,
                        "met": c / ceil >= 0.5,
                    }
                )

    report["compile"] = []
    for env_id in [] if args.no_compile else envs:
        for algo in ("reinforce", "a2c", "ppo"):
            cache = tempfile.mkdtemp(prefix="jaxpg-bench-cache-")
            try:
                for label in ("cold", "warm"):
                    r = _spawn(["compile", algo, env_id], cache_dir=cache)
                    report["compile"].append(
                        {"algo": algo, "env_id": env_id, "cache": label, **r}
                    )
            finally:
                shutil.rmtree(cache, ignore_errors=True)

    ks = [1, 8] if args.quick else [1, 8, 32]
    if not args.no_seeds:
        seed_args = ["seeds", ks, 5 if args.quick else 10, repeats]
        report["seeds"] = _spawn(seed_args)
        report["seeds_core0"] = _spawn(seed_args, cores="0")
    report["elapsed_s"] = time.perf_counter() - start
    report["loadavg_end"] = os.getloadavg()

    command = "python " + " ".join(["scripts/benchmark.py", *sys.argv[1:]])
    report["command"] = command
    print(markdown(report, command))
    if not args.no_docs:
        write_docs(report, command)
        print("wrote docs/data/benchmark.json and docs/benchmarks.md")


if __name__ == "__main__":
    main()
