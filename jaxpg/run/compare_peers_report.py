"""The ``peers`` section of docs/benchmarks.md from a ``scripts/compare_peers.py``
report (:func:`markdown`)."""

from __future__ import annotations

from jaxpg.run.compare_peers import TARGETS

__all__ = ["BEGIN", "END", "markdown"]

BEGIN = "<!-- peers:begin -->"
END = "<!-- peers:end -->"

_LABELS = {
    "jaxpg-ppo": "jaxpg PPO, tuned preset, `jax.jit(make_train)`",
    "jaxpg-ppo-jaxpg-jit": "jaxpg PPO, tuned preset, `jaxpg.jit(make_train)`",
    "jaxpg-ppo-fast-compile": "jaxpg PPO, tuned preset, "
    "`jaxpg.jit(make_train, fast_compile=True)`",
    "rejax-ppo": "rejax 0.1.3 PPO, its CartPole-v1 config, `jax.jit(algo.train)`",
}
_TARGET_NAMES = {
    "ratio_to_rejax": "jaxpg PPO wall to a trained policy / rejax's",
    "ppo_compile_s": "PPO compile (s)",
    "cli_compile_s": "README's first command, compile as printed, cold (s)",
    "cli_process_s": "README's first command, whole process (s)",
}


def _f(value, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def markdown(report: dict, command: str) -> str:
    """The section, from :data:`BEGIN` to :data:`END`.

    Args:
      report: ``scripts/compare_peers.py``'s report (``env``, ``runs``,
        ``summary``, ``load``, ``when``, ``cores``, ``processes``, ``pythons``).
      command: the command that produced it.

    Returns:
      The markdown.
    """
    env, s, med = report["env"], report["summary"], report["summary"]["medians"]
    load = report["load"]
    lines = [
        BEGIN,
        "## jaxpg vs rejax, and the README's first command (scripts/compare_peers.py)",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {env['processor']}, {env['cpu_count']} cores shared with other "
        f"engineers' jobs; jax {env['jax']}, Python {env['python']}. Measured "
        f"{report['when']}; 1-minute load average {load['start']:.2f} at the start, "
        f"{load['end']:.2f} at the end. {report['processes']} fresh processes per "
        f"row, run in turns, each pinned to core(s) `{report['cores']}`, persistent "
        "compilation cache off (cold); medians. rejax runs in its own virtual "
        f"environment ({report['pythons']['rejax-ppo']}): rejax 0.1.3 co-installs "
        "with jaxpg's pins but calls gymnax's pre-1.0 `step` (5 return values) and "
        "fails with gymnax 1.0.1, so it runs with gymnax 0.0.9 and the same jax.",
        "",
        "| | trace+lower s | compile s (CPU s) | run s | wall to a trained policy s"
        " | import s | final greedy return | env steps |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for kind, label in _LABELS.items():
        if kind not in med:
            continue
        m = med[kind]
        lines.append(
            f"| {label} | {_f(m.get('trace_lower_s'))} | {_f(m.get('compile_s'))} "
            f"({_f(m.get('compile_cpu_s'))}) | {_f(m.get('run_s'))} | "
            f"**{_f(m.get('wall_s'))}** | {_f(m.get('import_s'))} | "
            f"{_f(m.get('final_return'), 1)} | {int(m.get('env_steps', 0)):,} |"
        )
    for kind, flag in (("cli", ""), ("cli-fast-compile", " --fast-compile")):
        if kind not in med:
            continue
        m = med[kind]
        lines.append(
            f"| `python scripts/train.py --env-id CartPole-v1{flag}` (whole process)"
            f" | — | {_f(m.get('compile_s'))} as printed | — | process "
            f"**{_f(m.get('process_s'))}** | — | — | — |"
        )
    lines += ["", *_target_rows(s["targets"])]
    lines += ["", *_spread(report)]
    programs = [r["programs"] for r in report["runs"].get("cli", []) if r["programs"]]
    if programs:
        lines += ["", f"The CLI's programs, as it prints them: `{programs[0]}`"]
    lines += ["", END]
    return "\n".join(lines) + "\n"


def _spread(report: dict) -> list[str]:
    """Each row's range over its processes, and the CPU-time comparison."""
    out = ["Range over the processes (wall to a trained policy, or process, s):"]
    for kind, rows in report["runs"].items():
        walls = [r.get("wall_s", r.get("process_s")) for r in rows]
        walls = [w for w in walls if w is not None]
        returns = [r["final_return"] for r in rows if "final_return" in r]
        shown = f"{min(walls):.1f}–{max(walls):.1f}" if walls else "—"
        if returns:
            shown += f"; final returns {', '.join(f'{x:.0f}' for x in returns)}"
        out.append(f"- {kind}: {shown}")
    med = report["summary"]["medians"]
    if "jaxpg-ppo" in med and "rejax-ppo" in med:
        a, b = med["jaxpg-ppo"], med["rejax-ppo"]
        out += [
            "",
            "Under load, wall times follow the other jobs more than the programs; "
            "the process CPU time of the XLA compile is steadier: jaxpg "
            f"{a['compile_cpu_s']:.2f} s vs rejax {b['compile_cpu_s']:.2f} s "
            f"({a['compile_cpu_s'] / b['compile_cpu_s']:.2f}×); run {a['run_s']:.2f} "
            f"s vs {b['run_s']:.2f} s ({a['run_s'] / b['run_s']:.2f}×).",
        ]
    return out


def _target_rows(targets: list) -> list[str]:
    """The targets table: measured, target, and by how much it is missed."""
    lines = ["| target | measured | target | |", "|---|---|---|---|"]
    for name, value, target, met in targets:
        verdict = "met" if met else f"missed by {value - target:.2f}"
        if name == "ratio_to_rejax":
            verdict = "met" if met else f"missed ({value / target:.1f}× the target)"
        lines.append(
            f"| {_TARGET_NAMES[name]} | {value:.2f} | ≤ {TARGETS[name]} | {verdict} |"
        )
    return lines
