"""Multi-seed results of every tuned preset: docs/results.md, its plots and data.

    python scripts/results.py                                   # everything (≈ 30 min, 2 CPUs)
    python scripts/results.py --envs Acrobot-v1 --algos ppo     # one row, merged in
    python scripts/results.py --quick --envs CartPole-v1 --algos ppo --out /tmp/r
    python scripts/results.py --envs MountainCar-v0 --set entropy_coef=0.0 --tag no-entropy

For each environment and each algorithm with a preset (:func:`jaxpg.tuned_config`),
``--seeds`` seeds are trained by ONE compiled call: ``jax.vmap`` over the seeds' keys
of a function that trains (the preset's ``num_updates``, cut into ``--evals``
chunks), runs a greedy evaluation of ``--eval-episodes`` episodes after each chunk,
and finishes with a greedy evaluation of ``--final-episodes`` episodes. On the host:

* final return: the mean of each seed's final evaluation; the table gives the mean
  over seeds with a 95 % percentile-bootstrap interval (``--resamples`` resamples of
  the seeds, ``numpy.random.default_rng(0)``);
* steps to threshold: the environment steps (summed on the host in int64) up to the
  end of the first chunk whose periodic greedy evaluation reaches the threshold —
  so the resolution is one chunk; the median is over the seeds that got there;
* wall to threshold: the run's execution time (compile excluded) times the share of
  environment steps done by then (the seeds run together, so per-seed time is not
  separable);
* total wall: everything for that row, compilation included; compile time is
  reported separately.

``--set FIELD=VALUE ... --tag NAME`` runs an experiment: the presets with those
fields changed, reported in a separate table (e.g. what MountainCar-v0 needs).
Rows are merged into ``OUT/data/results.json`` by (env, algo, tag), so a subset can
be regenerated; ``OUT/results.md`` is rewritten between its ``results:begin`` /
``results:end`` markers from all rows (text outside them is kept), and
``OUT/img/results-<env>.png`` is redrawn for every environment that ran.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import json
import math
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from jaxpg import files

ENVS = (
    "CartPole-v1",
    "Acrobot-v1",
    "MountainCar-v0",
    "Pendulum-v1",
    "MountainCarContinuous-v0",
    "Breakout-MinAtar",
)
ALGOS = ("reinforce", "a2c", "ppo")
LABELS = {"reinforce": "REINFORCE", "a2c": "A2C", "ppo": "PPO"}
# The return a seed's final evaluation must reach to count as solved (None: no
# target). MountainCar-v0: gym's own "solved" level; the target (better than
# the -200 of never reaching the goal) is checked separately in TARGETS.
THRESHOLDS = {
    "CartPole-v1": 475.0,
    "Acrobot-v1": -90.0,
    "MountainCar-v0": -110.0,
    "Pendulum-v1": -250.0,
    "MountainCarContinuous-v0": 80.0,
    "Breakout-MinAtar": None,
}
# (env, algorithms the target is for, target on the mean final return, text)
TARGETS = (
    ("CartPole-v1", ALGOS, 475.0, "≥ 475 for every algorithm"),
    ("Acrobot-v1", ALGOS, -90.0, "≥ −90"),
    ("MountainCar-v0", ALGOS, -199.999, "better than −200"),
    ("Pendulum-v1", ("ppo",), -250.0, "≥ −250 (PPO)"),
    ("MountainCarContinuous-v0", ALGOS, 80.0, "≥ 80"),
)
REFERENCES = {
    ("Acrobot-v1", "ppo"): "gymnax-blines PPO −79",
    ("MountainCar-v0", "ppo"): "gymnax-blines PPO −118",
    ("Pendulum-v1", "a2c"): "RL Zoo A2C −163",
    ("MountainCarContinuous-v0", "ppo"): "RL Zoo PPO 88",
}
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
CI_LEVEL = 0.95


def bootstrap_ci(
    values: np.ndarray, resamples: int, seed: int = 0
) -> tuple[float, float]:
    """Percentile-bootstrap ``CI_LEVEL`` interval of the mean of ``values``."""
    values = np.asarray(values, np.float64)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(values), size=(resamples, len(values)))
    means = values[idx].mean(axis=1)
    alpha = (1.0 - CI_LEVEL) / 2
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def t_interval(curves: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and 95 % t-interval over axis 0 (seeds); NaN entries are left out.

    Where fewer than two seeds have a value the interval is the mean itself; where
    none has one, all three are NaN.
    """
    from scipy import stats

    n = np.sum(~np.isnan(curves), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        total = np.nansum(curves, axis=0)
        mean = np.where(n > 0, total / np.maximum(n, 1), np.nan)
        dev = np.nansum((curves - mean) ** 2, axis=0)
        std = np.sqrt(dev / np.maximum(n - 1, 1))
        half = (
            stats.t.ppf(0.975, np.maximum(n - 1, 1)) * std / np.sqrt(np.maximum(n, 1))
        )
    half = np.where(n >= 2, half, 0.0)
    return mean, mean - half, mean + half


def _bin(x: np.ndarray, points: int) -> np.ndarray:
    """Averages the last axis into at most ``points`` equal bins (NaN: left out)."""
    n = x.shape[-1]
    if n <= points:
        return x
    edges = np.linspace(0, n, points + 1).astype(int)
    out = []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        part = x[..., a:b]
        count = np.sum(~np.isnan(part), axis=-1)
        total = np.nansum(part, axis=-1)
        out.append(np.where(count > 0, total / np.maximum(count, 1), np.nan))
    return np.stack(out, axis=-1)


def _nan_to_none(values: np.ndarray) -> list:
    return [None if math.isnan(v) else float(v) for v in values]


def run_one(env_id: str, algo: str, args: argparse.Namespace) -> dict:
    """Trains ``args.seeds`` seeds of one preset in one compiled call; one row."""
    t_start = time.perf_counter()
    config = preset_config(env_id, algo, args)
    num_evals = min(args.evals, config.num_updates)
    chunk, head = divmod(config.num_updates, num_evals)
    one_seed = make_one_seed(env_id, config, args, num_evals, chunk, head)
    out, compile_s, run_s = compile_and_run(one_seed, args)

    steps = out["env_steps"].astype(np.int64)  # [seeds, num_updates]
    cum_steps = np.cumsum(steps, axis=1)
    total_steps = cum_steps[:, -1]
    eval_updates = head + chunk * np.arange(1, num_evals + 1)  # updates done at each
    eval_steps = cum_steps[:, eval_updates - 1]  # [seeds, num_evals]
    final = out["final"].astype(np.float64)
    row = describe_run(env_id, algo, config, args)
    row.update(final_columns(final, args.resamples))
    row.update(
        eval_every_updates=chunk,
        eval_episodes=args.eval_episodes,
        eval_updates=eval_updates.tolist(),
        eval_env_steps_mean=eval_steps.mean(0).tolist(),
        eval_mean=out["evals"].mean(0).tolist(),
        env_steps_per_seed=total_steps.tolist(),
        compile_s=compile_s,
        run_s=run_s,
        steps_per_s=float(total_steps.sum() / run_s),
    )
    if row["threshold"] is not None:
        row.update(
            threshold_columns(
                row["threshold"], final, out["evals"], eval_steps, total_steps, run_s
            )
        )
    row["curve"] = curve_columns(out, cum_steps)
    row["total_s"] = time.perf_counter() - t_start
    row["command"] = args.command
    row["date"] = args.date
    return row


def preset_config(env_id: str, algo: str, args: argparse.Namespace):
    """The tuned preset with ``--set``'s changes (and ``--quick``'s num_updates)."""
    import jaxpg

    overrides = dict(args.overrides)
    if args.quick:
        overrides["num_updates"] = args.quick_updates
    return jaxpg.tuned_config(algo, env_id, **overrides)


def make_one_seed(
    env_id: str, config, args: argparse.Namespace, num_evals: int, chunk: int, head: int
):
    """One seed's run from its key: ``head`` updates, then ``num_evals`` chunks of
    ``chunk`` updates each followed by a greedy evaluation, then the final one."""
    import jax

    import jaxpg
    from jaxpg.evaluate import episode_returns

    env, env_params = jaxpg.make_env(env_id)
    trainer = jaxpg.make_trainer(config)
    policy = jaxpg.make_policy(config, env, env_params)
    eval_episodes, final_episodes = args.eval_episodes, args.final_episodes

    def one_seed(key):
        key_init, key_evals, key_final = jax.random.split(key, 3)
        state = trainer.init(key_init)
        head_metrics = None
        if head:
            state, head_metrics = trainer.run(state, head)

        def train_chunk(state, key_eval):
            state, metrics = trainer.run(state, chunk)
            returns = episode_returns(
                key_eval, policy, state.params["policy"], env, env_params, eval_episodes
            )
            return state, (metrics, returns.mean())

        state, (metrics, evals) = jax.lax.scan(
            train_chunk, state, jax.random.split(key_evals, num_evals)
        )
        metrics = jax.tree.map(lambda m: m.reshape((-1,) + m.shape[2:]), metrics)
        if head_metrics is not None:
            metrics = jax.tree.map(
                lambda a, b: jax.numpy.concatenate([a, b]), head_metrics, metrics
            )
        final = episode_returns(
            key_final, policy, state.params["policy"], env, env_params, final_episodes
        )
        return {
            "episode_return": metrics["episode_return"],
            "env_steps": metrics["env_steps"],
            "episodes_finished": metrics["episodes_finished"],
            "evals": evals,
            "final": final.mean(),
        }

    return one_seed


def compile_and_run(
    one_seed, args: argparse.Namespace
) -> tuple[dict[str, np.ndarray], float, float]:
    """``one_seed`` vmapped over ``args.seeds`` keys, compiled, then run: its
    outputs as numpy (leading axis: seeds), compile seconds, run seconds."""
    import jax

    import jaxpg

    keys = jax.random.split(jax.random.key(args.seed), args.seeds)
    t0 = time.perf_counter()
    compiled = jaxpg.jit(jax.vmap(one_seed)).lower(keys).compile()
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = jax.block_until_ready(compiled(keys))
    run_s = time.perf_counter() - t0
    return jax.tree.map(np.asarray, out), compile_s, run_s


def describe_run(env_id: str, algo: str, config, args: argparse.Namespace) -> dict:
    """The row's first columns: what was run (preset, changes, config, seeds)."""
    import dataclasses

    return {
        "env": env_id,
        "algo": algo,
        "label": LABELS[algo],
        "tag": args.tag,
        "changes": {k: _jsonable(v) for k, v in args.overrides.items()},
        "config_class": type(config).__name__,
        "config": {
            f.name: _jsonable(getattr(config, f.name))
            for f in dataclasses.fields(config)
        },
        "seeds": args.seeds,
        "seed": args.seed,
        "threshold": THRESHOLDS.get(env_id),
        "final_episodes": args.final_episodes,
    }


def final_columns(final: np.ndarray, resamples: int) -> dict:
    """Each seed's final return, their mean and its bootstrap interval."""
    lo, hi = bootstrap_ci(final, resamples)
    return {
        "final_per_seed": final.tolist(),
        "final_mean": float(final.mean()),
        "final_ci": [lo, hi],
    }


def threshold_columns(
    threshold: float,
    final: np.ndarray,
    evals: np.ndarray,
    eval_steps: np.ndarray,
    total_steps: np.ndarray,
    run_s: float,
) -> dict:
    """Seeds solved, and steps and wall time until the periodic evaluations
    (``evals``, ``eval_steps``: ``[seeds, num_evals]``) first reach ``threshold``."""
    solved = final >= threshold
    reached = evals >= threshold  # [seeds, num_evals]
    first = np.where(reached.any(1), reached.argmax(1), -1)
    to_threshold = [
        int(eval_steps[s, i]) if i >= 0 else None for s, i in enumerate(first)
    ]
    got = [i for i in first if i >= 0]
    hit_steps = [s for s in to_threshold if s is not None]
    return dict(
        solved_seeds=int(solved.sum()),
        steps_to_threshold=to_threshold,
        steps_to_threshold_median=float(np.median(hit_steps)) if hit_steps else None,
        # Prorated by environment steps (an update's cost follows its steps;
        # REINFORCE's updates grow with the episodes).
        wall_to_threshold_s=(
            float(run_s * np.median(hit_steps) / total_steps.mean()) if got else None
        ),
    )


def curve_columns(out: dict[str, np.ndarray], cum_steps: np.ndarray) -> dict:
    """The training-return curve: at most 200 bins, mean and t-interval over seeds."""
    curve = out["episode_return"].astype(np.float64)
    # Before a seed's first finished episode its metric is the initial 0, not a
    # return: leave those updates out of the curve.
    started = np.cumsum(out["episodes_finished"], axis=1) > 0
    curve = np.where(started, curve, np.nan)
    points = min(200, curve.shape[1])
    binned = _bin(curve, points)
    c_mean, c_lo, c_hi = t_interval(binned)
    return {
        "env_steps": _bin(cum_steps.mean(0).astype(np.float64), points).tolist(),
        "mean": _nan_to_none(c_mean),
        "lo": _nan_to_none(c_lo),
        "hi": _nan_to_none(c_hi),
    }


def _jsonable(value):
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _num(x: float | None, digits: int = 1) -> str:
    if x is None:
        return "—"
    return f"{x:,.{digits}f}".replace("-", "−")


def _steps(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:.2e}".replace("e+0", "e").replace("e+", "e")


def _secs(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:.0f} s" if x >= 10 else f"{x:.1f} s"


def table(rows: list[dict]) -> str:
    head = (
        "| env | algo | threshold | final return mean [95% CI] | solved seeds "
        "| steps to threshold (median) | wall to threshold | total wall (compile) |\n"
        "|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in rows:
        lo, hi = r["final_ci"]
        if r["threshold"] is None:
            solved = steps = wall = "—"
            threshold = "none"
        else:
            threshold = _num(r["threshold"], 0)
            solved = f"{r['solved_seeds']}/{r['seeds']}"
            got = sum(s is not None for s in r["steps_to_threshold"])
            steps = _steps(r["steps_to_threshold_median"])
            if got < r["seeds"]:
                steps += f" ({got}/{r['seeds']} reached)"
            wall = _secs(r["wall_to_threshold_s"])
        lines.append(
            f"| {r['env']} | {r['label']} | {threshold} | {_num(r['final_mean'])} "
            f"[{_num(lo)}, {_num(hi)}] | {solved} | {steps} | {wall} | "
            f"{_secs(r['total_s'])} ({_secs(r['compile_s'])}) |"
        )
    return head + "\n".join(lines) + "\n"


def experiments(rows: list[dict]) -> str:
    """Rows run with ``--set``/``--tag``: a preset with some fields changed."""
    head = (
        "| env | algo | tag: change to the preset | final return mean [95% CI] "
        "| solved seeds | steps to threshold (median) |\n|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in rows:
        lo, hi = r["final_ci"]
        change = ", ".join(f"{k}={v}" for k, v in r["changes"].items())
        solved = steps = "—"
        if r["threshold"] is not None:
            solved = f"{r['solved_seeds']}/{r['seeds']}"
            got = sum(s is not None for s in r["steps_to_threshold"])
            steps = _steps(r["steps_to_threshold_median"])
            if got < r["seeds"]:
                steps += f" ({got}/{r['seeds']} reached)"
        lines.append(
            f"| {r['env']} | {r['label']} | {r['tag']}: {change} | "
            f"{_num(r['final_mean'])} [{_num(lo)}, {_num(hi)}] | {solved} | {steps} |"
        )
    return head + "\n".join(lines) + "\n"


def targets(rows: list[dict]) -> str:
    by_key = {(r["env"], r["algo"]): r for r in rows}
    lines = []
    for env_id, algos, target, text in TARGETS:
        for algo in algos:
            r = by_key.get((env_id, algo))
            if r is None:
                continue
            lo, hi = r["final_ci"]
            met = "met" if r["final_mean"] >= target else "**missed**"
            ref = REFERENCES.get((env_id, algo))
            ref = f"; reference: {ref}" if ref else ""
            lines.append(
                f"- {env_id} {r['label']}: target {text} — {met}: mean "
                f"{_num(r['final_mean'])} [{_num(lo)}, {_num(hi)}]"
                f", lowest seed {_num(min(r['final_per_seed']))}{ref}"
            )
    return "\n".join(lines) + "\n"


def presets_table(rows: list[dict]) -> str:
    import jaxpg.presets as presets

    lines = [
        "| env | algo | preset fields (beyond the class defaults) | env steps per seed |",
        "|---|---|---|---|",
    ]
    for r in rows:
        fields = presets.PRESETS.get((r["algo"], r["env"]), {})
        shown = ", ".join(
            f"{k}={' '.join(map(str, v)) if isinstance(v, tuple) else v}"
            for k, v in fields.items()
        )
        if r["config"]["num_updates"] != fields.get(
            "num_updates", r["config"]["num_updates"]
        ):
            shown += f" (run with num_updates={r['config']['num_updates']})"
        lines.append(
            f"| {r['env']} | {r['label']} | {shown or 'class defaults'} | "
            f"{_steps(float(np.mean(r['env_steps_per_seed'])))} |"
        )
    return "\n".join(lines) + "\n"


def generated_section(data: dict) -> str:
    ordered = sorted(
        data["rows"],
        key=lambda r: (
            ENVS.index(r["env"]) if r["env"] in ENVS else 99,
            ALGOS.index(r["algo"]),
            r.get("tag") or "",
        ),
    )
    rows = [r for r in ordered if not r.get("tag")]
    tagged = [r for r in ordered if r.get("tag")]
    meta = data["meta"]
    commands = sorted({(r["date"], r["command"]) for r in ordered})
    cmd_lines = "\n".join(f"    {c}    # {d}" for d, c in commands)
    envs = [e for e in ENVS if any(r["env"] == e for r in rows)]
    ev_episodes = rows[0]["eval_episodes"] if rows else 10
    ev_count = len(rows[0]["eval_updates"]) if rows else 10
    imgs = "\n".join(f"![{e} learning curves](img/results-{e}.png)" for e in envs)
    return (
        f"{BEGIN}\n"
        "<!-- generated by scripts/results.py: edit the script, not this block -->\n\n"
        f"Generated by (UTC date of each run):\n\n{cmd_lines}\n\n"
        f"jax {meta['jax_version']}, jaxpg {meta['jaxpg_version']}, backend "
        f"{meta['backend']}, {meta['cpu_count']} CPUs ({meta['platform']}); "
        f"bootstrap: {meta['resamples']} resamples of the seeds, percentile "
        f"interval, numpy default_rng({meta['bootstrap_seed']}). Data: "
        "[data/results.json](data/results.json).\n\n"
        f"{table(rows)}\n"
        "Final return: mean over seeds of each seed's greedy evaluation "
        f"({rows[0]['final_episodes'] if rows else 100} episodes) after training. "
        "Steps and wall to threshold come from the periodic greedy evaluations "
        f"({ev_episodes} episodes after each of {ev_count} equal chunks of "
        "training), so their resolution is one chunk; wall to threshold is the "
        "run's execution time, compilation excluded, prorated by environment steps "
        "(the seeds run together in one call, so their times are not separable). "
        "Total wall includes compilation (in parentheses).\n\n"
        f"### Targets\n\n{targets(rows)}\n"
        f"### Presets used\n\n{presets_table(rows)}\n"
        + (
            "### Experiments: presets with fields changed (`--set ... --tag ...`)"
            f"\n\n{experiments(tagged)}\n"
            if tagged
            else ""
        )
        + f"### Learning curves\n\nTraining episode return (stochastic policy, the "
        "mean of the episodes that ended in each update), averaged over seeds; "
        "the band is a 95 % t-interval across seeds; updates before a seed's first finished "
        "episode are left out; dotted: the threshold.\n\n"
        f"{imgs}\n{END}\n"
    )


SKELETON = """# Results

Multi-seed results of jaxpg's tuned presets (`jaxpg.tuned_config`), regenerated by
`scripts/results.py`. The block below is written by the script.

{block}
"""


def write_markdown(path: Path, data: dict) -> None:
    block = generated_section(data)
    if path.exists():
        files.replace_section(path, BEGIN, END, block)
    else:
        files.write_atomic(path, SKELETON.format(block=block.rstrip("\n")))


def plot_env(path: Path, env_id: str, rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    for r in sorted(rows, key=lambda r: ALGOS.index(r["algo"])):
        c = r["curve"]
        x = np.asarray(c["env_steps"])
        mean, lo, hi = (
            np.array([np.nan if v is None else v for v in c[k]], np.float64)
            for k in ("mean", "lo", "hi")
        )
        (line,) = ax.plot(x, mean, label=f"{r['label']} ({r['seeds']} seeds)")
        ax.fill_between(x, lo, hi, alpha=0.25, color=line.get_color())
    threshold = THRESHOLDS.get(env_id)
    if threshold is not None:
        ax.axhline(threshold, color="k", linestyle=":", linewidth=1)
    ax.set_xlabel("environment steps per seed")
    ax.set_ylabel("training episode return")
    ax.set_title(env_id)
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)

    import jaxpg.presets as presets
    from jaxpg import cli

    if not args.no_cache:
        cli.enable_compilation_cache(cli.default_cache_dir())
    data_path = args.out / "data" / "results.json"
    data = load_data(data_path, args.resamples)
    jobs = [(e, a) for e in args.envs for a in args.algos if (a, e) in presets.PRESETS]
    t_all = time.perf_counter()
    for i, (env_id, algo) in enumerate(jobs, 1):
        print(
            f"[{i}/{len(jobs)}] {LABELS[algo]} on {env_id}: {args.seeds} seeds ...",
            flush=True,
        )
        row = run_one(env_id, algo, args)
        print_row(row)
        data["rows"] = [
            r
            for r in data["rows"]
            if (r["env"], r["algo"], r.get("tag")) != (env_id, algo, args.tag)
        ] + [row]
        write_outputs(args.out, data, env_id)
    print(
        f"wrote {args.out / 'results.md'}, {data_path} and "
        f"{args.out / 'img'}/results-*.png in {time.perf_counter() - t_all:.0f} s"
    )
    return 0


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line, checked; adds ``overrides`` (from ``--set``), ``command``
    and ``date``, and shrinks the evaluation sizes under ``--quick``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.overrides = {}
    for item in args.set:
        field, sep, text = item.partition("=")
        if not sep:
            parser.error(f"--set: expected FIELD=VALUE; got {item!r}")
        try:
            args.overrides[field] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            args.overrides[field] = text
    if bool(args.set) != bool(args.tag):
        parser.error("--set and --tag go together (an experiment has a name)")
    if args.seeds < 2:
        parser.error("--seeds must be >= 2 (an interval across seeds needs two)")
    import jaxpg.presets as presets

    unknown = [e for e in args.envs if not any(e == k[1] for k in presets.PRESETS)]
    if unknown:
        parser.error(
            f"--envs: no presets for {', '.join(unknown)}; known: {', '.join(ENVS)}"
        )
    if args.quick:
        args.evals = min(args.evals, 2)
        args.eval_episodes = min(args.eval_episodes, 3)
        args.final_episodes = min(args.final_episodes, 5)
        args.resamples = min(args.resamples, 1000)
    args.command = "python scripts/results.py " + shlex.join(argv)
    args.date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    return args


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="results.py", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--envs", nargs="+", default=list(ENVS), metavar="ENV_ID")
    parser.add_argument(
        "--algos", nargs="+", default=list(ALGOS), choices=ALGOS, metavar="ALGO"
    )
    parser.add_argument("--seeds", type=int, default=8, help="(default: 8)")
    parser.add_argument(
        "--seed", type=int, default=0, help="base PRNG seed (default 0)"
    )
    parser.add_argument(
        "--evals", type=int, default=10, help="periodic greedy evaluations (default 10)"
    )
    parser.add_argument("--eval-episodes", type=int, default=10, help="(default: 10)")
    parser.add_argument("--final-episodes", type=int, default=100, help="(default 100)")
    parser.add_argument(
        "--resamples", type=int, default=10_000, help="bootstrap resamples (10000)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a tiny run (num_updates from --quick-updates, fewer episodes) to test "
        "the script, not to measure anything",
    )
    parser.add_argument("--quick-updates", type=int, default=4, help=argparse.SUPPRESS)
    parser.add_argument(
        "--out", type=Path, default=Path("docs"), help="docs folder (default: docs)"
    )
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="FIELD=VALUE",
        help="an experiment: change these config fields of every preset run (Python "
        "literals); needs --tag, and the rows go to the experiments table",
    )
    parser.add_argument("--tag", default=None, help="name of a --set experiment")
    return parser


def load_data(path: Path, resamples: int) -> dict:
    """The rows already in ``path`` (none if it is missing) and this run's meta."""
    import jax

    import jaxpg

    data = {"rows": []}
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
    data["meta"] = {
        "jax_version": jax.__version__,
        "jaxpg_version": jaxpg.__version__,
        "backend": jax.default_backend(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(terse=True),
        "resamples": resamples,
        "bootstrap_seed": 0,
        "ci_level": CI_LEVEL,
    }
    return data


def print_row(row: dict) -> None:
    """The one-line summary of a finished row."""
    lo, hi = row["final_ci"]
    solved = (
        f", solved {row['solved_seeds']}/{row['seeds']}"
        if row["threshold"] is not None
        else ""
    )
    print(
        f"    final return {row['final_mean']:.1f} [{lo:.1f}, {hi:.1f}]{solved}; "
        f"{np.mean(row['env_steps_per_seed']):.3g} steps/seed; compile "
        f"{row['compile_s']:.1f} s, run {row['run_s']:.1f} s "
        f"({row['steps_per_s']:,.0f} steps/s), total {row['total_s']:.1f} s",
        flush=True,
    )


def write_outputs(out: Path, data: dict, env_id: str) -> None:
    """results.json, the plot of ``env_id`` and the page, from all rows so far."""
    (out / "data").mkdir(parents=True, exist_ok=True)
    (out / "img").mkdir(parents=True, exist_ok=True)
    files.write_json(out / "data" / "results.json", data, indent=1, allow_nan=True)
    plot_env(
        out / "img" / f"results-{env_id}.png",
        env_id,
        [r for r in data["rows"] if r["env"] == env_id and not r.get("tag")],
    )
    write_markdown(out / "results.md", data)


if __name__ == "__main__":
    sys.exit(main())
