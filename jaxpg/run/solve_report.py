"""docs/benchmarks.md's time-to-solve section, from ``docs/data/solve_benchmark.json``.

:func:`markdown` renders the report of ``scripts/solve_benchmark.py``
(:mod:`jaxpg.run.solve_bench`'s configurations and compile rows, and the training
script's whole-process times), markers included.
"""

from __future__ import annotations

from jaxpg.run.solve_bench import JIT_LABELS
from jaxpg.run.timing import machine_line

__all__ = ["BEGIN", "END", "compile_lines", "markdown", "train_script_lines"]

BEGIN = "<!-- solve_benchmark:begin -->"
END = "<!-- solve_benchmark:end -->"


def markdown(report: dict, command: str) -> str:
    """The section, from ``BEGIN`` to ``END``.

    Args:
      report: the saved report (``environment``, ``date``, ``seeds``,
        ``configurations``, ``compile``, optionally ``train_script``).
      command: the command line shown as its source.

    Returns:
      the section's text.
    """
    env = report["environment"]
    lines = [
        BEGIN,
        "## Time to solve CartPole-v1 (REINFORCE defaults)",
        "",
        f"Command: `{command}`",
        "",
        machine_line(env, report["date"]),
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
    lines += compile_lines(report["compile"])
    lines += train_script_lines(report.get("train_script"))
    lines += ["", END]
    return "\n".join(lines)


def compile_lines(rows: list[dict]) -> list[str]:
    """The compile table (after a blank line).

    Args:
      rows: the report's ``compile`` rows.

    Returns:
      the lines.
    """
    lines = [
        "",
        "Compile of the default `make_train` / `make_solve` functions, "
        "`jit(f).lower(key).compile()`, fresh process, no persistent cache (median "
        "of the runs; compile wall time and the process CPU time it used):",
        "",
        "| function | jit | cores | trace+lower s | compile s | compile CPU s | "
        "fusions | while loops |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        cpu = row.get("compile_cpu_s")
        lines.append(
            f"| {row['function']} | {JIT_LABELS[row.get('jit', 'solve')]} | "
            f"{row['cores']} | {row['trace_lower_s']:.2f} | {row['compile_s']:.2f} | "
            f"{'' if cpu is None else f'{cpu:.2f}'} | {row['fusions']} | "
            f"{row['while_loops']} |"
        )
    return lines


def train_script_lines(train_script: dict | None) -> list[str]:
    """The training script's whole-process times (none without them).

    Args:
      train_script: ``{cores: times or None}`` from the report.

    Returns:
      the lines.
    """
    if not train_script:
        return []
    lines = [
        "",
        "Whole-process time of the training script (defaults: 100 updates, "
        "then a 100-episode evaluation and a checkpoint):",
        "",
    ]
    for cores, t in train_script.items():
        if t:
            lines.append(
                f"- `{t['command']}` (cores={cores}): cold cache {t['cold_s']:.2f} s "
                f"(exit {t['cold_rc']}), warm cache {t['warm_s']:.2f} s "
                f"(exit {t['warm_rc']})"
            )
    return lines
