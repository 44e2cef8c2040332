"""docs/benchmarks.md's jaxpg-against-PyTorch section.

:func:`markdown` renders the report of ``scripts/compare_torch.py`` once
:func:`jaxpg.run.compare.summarize` has added its ``summary``.
"""

from __future__ import annotations

from jaxpg.run.compare import TARGET_RATIO

__all__ = [
    "BEGIN",
    "END",
    "INSTALL",
    "markdown",
    "seed_lines",
    "split_lines",
    "table_lines",
]

BEGIN = "<!-- torch:begin -->"
END = "<!-- torch:end -->"
INSTALL = 'pip install -e ".[bench]"'  # what the comparison needs


def _k(x: float) -> str:
    return f"{x / 1e3:.1f} k" if x < 1e6 else f"{x / 1e6:.2f} M"


def markdown(report: dict) -> str:
    """The section (without its markers) from a summarised report.

    Args:
      report: the comparison's report with its ``summary``
        (:func:`jaxpg.run.compare.summarize`).

    Returns:
      the section's text.
    """
    s = report["summary"]
    env = report["environment"]
    cap = report["time_cap_s"]
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
    ]
    lines += table_lines(report)
    lines += split_lines(s["jaxpg"].get("split"), s["torch"])
    lines += seed_lines(report["torch_runs"])
    return "\n".join(lines)


def table_lines(report: dict) -> list[str]:
    """The side-by-side table and the target's verdict.

    Args:
      report: the report with its ``summary``.

    Returns:
      the lines.
    """
    s = report["summary"]
    j, t, r = s["jaxpg"], s["torch"], s["ratios"]
    cap = report["time_cap_s"]
    ge = "≥ " if r["lower_bound"] else ""

    def med(c: dict) -> str:
        return f"> {cap:.0f}" if c["censored"] else f"{c['median_s']:.2f}"

    return [
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


def split_lines(sp: dict | None, t: dict) -> list[str]:
    """Where jaxpg's time goes (none without the split measurement).

    Args:
      sp: the summary's ``jaxpg.split``.
      t: the summary's ``torch`` part (its evaluation share).

    Returns:
      the paragraph's lines.
    """
    if not sp:
        return []
    when = (
        f" (measured {sp['date']}, load average {sp['load'][0]:.2f})"
        if sp.get("date")
        else ""
    )
    return [
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


def seed_lines(torch_runs: list[dict]) -> list[str]:
    """The per-seed table of the PyTorch runs.

    Args:
      torch_runs: the report's ``torch_runs``.

    Returns:
      the table's lines and a blank line.
    """
    lines = [
        "Per PyTorch seed (s; `—` = not met within the cap):",
        "",
        "| seed | eval ≥ 475: wall s (episodes, of which eval s) | running reward > "
        "475: training s (episodes) | steps/s | episodes run |",
        "|---|---|---|---|---|",
    ]
    for run in torch_runs:
        e, rr = run["eval_hit"], run["running_hit"]
        lines.append(
            f"| {run['seed']} | "
            + (f"{e['wall_s']:.2f} ({e['episodes']}, {e['eval_s']:.2f})" if e else "—")
            + " | "
            + (f"{rr['train_s']:.2f} ({rr['episodes']})" if rr else "—")
            + f" | {run['steps_per_s']:.0f} | {run['episodes']} |"
        )
    lines.append("")
    return lines
