"""docs/results.md's generated block, from the rows of ``results.json``.

:func:`write_markdown` rewrites the block between the ``results:begin`` /
``results:end`` markers (text outside them is kept) from every row that
:func:`jaxpg.run.results.run_one` produced: the results table, the targets, the
presets used, the experiments (rows with a tag) and the learning-curve images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jaxpg import files, presets
from jaxpg.algorithms import registry

__all__ = [
    "BEGIN",
    "END",
    "ENVS",
    "REFERENCES",
    "SKELETON",
    "TARGETS",
    "experiments",
    "generated_section",
    "presets_table",
    "table",
    "targets",
    "write_markdown",
]

BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"

# The environments of the page, in its order.
ENVS = (
    "CartPole-v1",
    "Acrobot-v1",
    "MountainCar-v0",
    "Pendulum-v1",
    "MountainCarContinuous-v0",
    "Breakout-MinAtar",
    "MemoryChain-bsuite",
    "MetaMaze-misc",
)
# (env, algorithms the target is for — None: every registered one —, target on
# the mean final return, text)
TARGETS = (
    ("CartPole-v1", None, 475.0, "≥ 475 for every algorithm"),
    ("Acrobot-v1", None, -90.0, "≥ −90"),
    ("MountainCar-v0", None, -199.999, "better than −200"),
    ("Pendulum-v1", ("ppo",), -250.0, "≥ −250 (PPO)"),
    ("MountainCarContinuous-v0", None, 80.0, "≥ 80"),
    ("MemoryChain-bsuite", ("ppo",), 0.9, "≥ 0.9 of the maximum 1 (recurrent PPO)"),
)
REFERENCES = {
    ("Acrobot-v1", "ppo"): "gymnax-blines PPO −79",
    ("MountainCar-v0", "ppo"): "gymnax-blines PPO −118",
    ("Pendulum-v1", "a2c"): "RL Zoo A2C −163",
    ("MountainCarContinuous-v0", "ppo"): "RL Zoo PPO 88",
}


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
    """The results table: one line per untagged row.

    Args:
      rows: rows of ``results.json``, in the page's order.

    Returns:
      the table, ending in a newline.
    """
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
            # Thresholds below 10 (MemoryChain's 0.9) keep one decimal.
            threshold = _num(r["threshold"], 0 if abs(r["threshold"]) >= 10 else 1)
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
    """Rows run with ``--set``/``--tag``: a preset with some fields changed.

    Args:
      rows: the tagged rows.

    Returns:
      the table, ending in a newline.
    """
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
    """One bullet per (environment, algorithm) of :data:`TARGETS` that has a row.

    Args:
      rows: the untagged rows.

    Returns:
      the list, ending in a newline.
    """
    by_key = {(r["env"], r["algo"]): r for r in rows}
    lines = []
    for env_id, algos, target, text in TARGETS:
        for algo in algos or registry.names():
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
    """The preset fields each row ran with (:data:`jaxpg.presets.PRESETS`).

    Args:
      rows: the untagged rows.

    Returns:
      the table, ending in a newline.
    """
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
    """The block between the markers, from every row of ``data``.

    Args:
      data: ``results.json``: ``meta`` and ``rows`` (tagged rows go to the
        experiments table).

    Returns:
      the block, markers included, ending in a newline.
    """
    ordered = sorted(data["rows"], key=_order)
    rows = [r for r in ordered if not r.get("tag")]
    tagged = [r for r in ordered if r.get("tag")]
    envs = [e for e in ENVS if any(r["env"] == e for r in rows)]
    ev_episodes = rows[0]["eval_episodes"] if rows else 10
    ev_count = len(rows[0]["eval_updates"]) if rows else 10
    imgs = "\n".join(f"![{e} learning curves](img/results-{e}.png)" for e in envs)
    return (
        f"{BEGIN}\n" + _provenance(data["meta"], ordered) + f"{table(rows)}\n"
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


def _order(row: dict) -> tuple:
    """Rows sort by the page's environment order, the registry's, then tag."""
    return (
        ENVS.index(row["env"]) if row["env"] in ENVS else 99,
        registry.names().index(row["algo"]),
        row.get("tag") or "",
    )


def _provenance(meta: dict, ordered: list[dict]) -> str:
    """The block's opening: the commands that made its rows and the versions."""
    commands = sorted({(r["date"], r["command"]) for r in ordered})
    cmd_lines = "\n".join(f"    {c}    # {d}" for d, c in commands)
    return (
        "<!-- generated by scripts/results.py: edit the script, not this block -->\n\n"
        f"Generated by (UTC date of each run):\n\n{cmd_lines}\n\n"
        f"jax {meta['jax_version']}, jaxpg {meta['jaxpg_version']}, backend "
        f"{meta['backend']}, {meta['cpu_count']} CPUs ({meta['platform']}); "
        f"bootstrap: {meta['resamples']} resamples of the seeds, percentile "
        f"interval, numpy default_rng({meta['bootstrap_seed']}). Data: "
        "[data/results.json](data/results.json).\n\n"
    )


SKELETON = """# Results

Multi-seed results of jaxpg's tuned presets (`jaxpg.tuned_config`), regenerated by
`scripts/results.py`. The block below is written by the script.

{block}
"""


def write_markdown(path: Path, data: dict) -> None:
    """Rewrites the block of ``path`` (a new page: :data:`SKELETON` around it).

    Args:
      path: results.md.
      data: ``results.json``.
    """
    block = generated_section(data)
    if path.exists():
        files.replace_section(path, BEGIN, END, block)
    else:
        files.write_atomic(path, SKELETON.format(block=block.rstrip("\n")))
