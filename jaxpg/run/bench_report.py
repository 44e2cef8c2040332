"""docs/benchmarks.md's throughput section, from ``docs/data/benchmark.json``.

:func:`markdown` renders the report :func:`jaxpg.run.bench.measure` returns
(``scripts/benchmark.py`` puts it between the throughput markers): the machine,
one table of steps/s per environment, the REINFORCE target, compile times and the
seeds table.
"""

from __future__ import annotations

from jaxpg.algorithms import registry
from jaxpg.run.bench_workers import (
    FIXED_LENGTH_UPDATE_CAPS,
    PINNED_MAX_ENVS,
    TARGET_STEPS,
)

__all__ = [
    "PNG_NAME",
    "compile_section",
    "env_section",
    "fmt_rate",
    "header",
    "markdown",
    "seeds_section",
    "table_line",
    "target_section",
]

PNG_NAME = "benchmark-throughput.png"  # under docs/img/


def fmt_rate(x: float) -> str:
    """Steps/s as text.

    Args:
      x: steps per second.

    Returns:
      ``1.23 M``, ``4.5 k`` or ``678``.
    """
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
    """The section (without its markers) from a report.

    Args:
      report: :func:`jaxpg.run.bench.measure`'s report (any of ``target``,
        ``compile``, ``seeds`` may be missing).
      command: the command line shown as its source.

    Returns:
      the section's text.
    """
    lines = header(report, command)
    for env_id, rows in report["throughput"].items():
        lines += env_section(report, env_id, rows)
    lines += target_section(report) + compile_section(report) + seeds_section(report)
    lines += [
        "Not covered here: a GPU run (none on this machine). Time-to-solve is "
        "`scripts/solve_benchmark.py`, the PyTorch comparison "
        "`scripts/compare_torch.py` (both above).",
        "",
    ]
    return "\n".join(lines)


def header(report: dict, command: str) -> list[str]:
    """The title, command, machine, what each column means and the plot.

    Args:
      report: the report (``environment``, ``repeats``, load and duration).
      command: the command line shown as its source.

    Returns:
      the lines.
    """
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
        f"![steps/s vs num_envs, one panel per environment](img/{PNG_NAME})",
        "",
        "The plot is drawn from `docs/data/benchmark.json`; "
        "`python scripts/benchmark.py --plot-only` redraws it without measuring.",
        "",
    ]
    return lines


def env_section(report: dict, env_id: str, rows: dict) -> list[str]:
    """One environment's heading, notes and table of steps/s by num_envs.

    Args:
      report: the whole report (budgets, repeats, the core-0 rows).
      env_id: the environment.
      rows: its throughput rows (:func:`jaxpg.run.bench_workers.worker_throughput`).

    Returns:
      the section's lines.
    """
    lines = [f"### {env_id}", ""]
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
    head = (
        "| num_envs | env ceiling | env (core 0) | rollout ceiling | rollout (core 0) |"
    )
    sep = "|---|---|---|---|---|"
    has_train = any(
        name in r
        for k, r in rows.items()
        if k.isdigit()
        for name in FIXED_LENGTH_UPDATE_CAPS
    )
    if has_train:
        head += (
            " REINFORCE untrained computed / real (masked) |"
            " REINFORCE trained computed / real (masked) | "
            + " | ".join(registry.get(k).label for k in FIXED_LENGTH_UPDATE_CAPS)
            + " |"
        )
        sep += "---|---|" + "---|" * len(FIXED_LENGTH_UPDATE_CAPS)
    lines += [head, sep]
    for n, r in rows.items():
        if n.isdigit():
            lines.append(table_line(n, r, pinned.get(n), has_train))
    lines.append("")
    return lines


def table_line(n: str, r: dict, p: dict | None, has_train: bool) -> str:
    """One num_envs line of an environment's table.

    Args:
      n: num_envs, as the report's key.
      r: its row.
      p: its core-0 row, or None.
      has_train: whether the table has the training columns.

    Returns:
      the line.
    """
    cells = [
        n,
        fmt_rate(r["env"]["steps_per_s"]),
        fmt_rate(p["env"]["steps_per_s"]) if p else "—",
        fmt_rate(r["rollout"]["steps_per_s"]),
        fmt_rate(p["rollout"]["steps_per_s"]) if p else "—",
    ]
    if has_train:
        for key in ("reinforce_untrained", "reinforce_trained"):
            t = r.get(key)
            cells.append(
                f"{fmt_rate(t['computed_steps_per_s'])} / "
                f"{fmt_rate(t['real_steps_per_s'])} ({t['masked_fraction']:.0%})"
                if t
                else "—"
            )
        cells += [
            fmt_rate(r[k]["real_steps_per_s"]) if k in r else "—"
            for k in FIXED_LENGTH_UPDATE_CAPS
        ]
    return "| " + " | ".join(cells) + " |"


def target_section(report: dict) -> list[str]:
    """The ≥ 50 %-of-the-ceiling target lines.

    Args:
      report: the report (its ``target`` rows, if any).

    Returns:
      the lines (none without targets).
    """
    lines: list[str] = []
    target = report.get("target")
    if target:
        lines += ["### Target: REINFORCE training ≥ 50 % of the rollout ceiling", ""]
        for t in target:
            lines.append(
                f"- {t['env_id']}, num_envs {t['num_envs']}, {t['policy']} policy: "
                f"computed {fmt_rate(t['computed'])} steps/s / rollout ceiling "
                f"{fmt_rate(t['ceiling'])} steps/s = **{t['ratio']:.0%}** → "
                f"**{'met' if t['met'] else 'missed'}**"
            )
        lines.append("")
    return lines


def compile_section(report: dict) -> list[str]:
    """The compile-time table.

    Args:
      report: the report (its ``compile`` rows, if any).

    Returns:
      the lines (none without compile rows).
    """
    lines: list[str] = []
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
    return lines


def seeds_section(report: dict) -> list[str]:
    """The seeds table, all cores and core 0.

    Args:
      report: the report (``seeds`` and ``seeds_core0``, if any).

    Returns:
      the lines (none without seed rows).
    """
    lines: list[str] = []
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
    return lines
