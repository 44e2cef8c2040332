"""Does a solve stay solved? ``make_solve``'s policies, evaluated again.

:func:`reliability` runs ``make_solve`` of a tuned preset over many seeds in one
compiled, vmapped call, then plays each returned policy for a fresh set of greedy
episodes (``jaxpg.evaluate`` with keys from a root independent of the solve's) and
counts the solved runs whose re-evaluation is still ``>= threshold``: with the
confirmation (``confirm=True``, the default) and without (the first passing
evaluation stops the run). :func:`markdown` renders the section of
docs/benchmarks.md that ``scripts/solve_reliability.py`` writes.
"""

from __future__ import annotations

import time
from typing import Any

import jax
import numpy as np

from jaxpg.compilation import jit
from jaxpg.envs import make_env
from jaxpg.evaluate import evaluate
from jaxpg.policy import make_policy
from jaxpg.presets import tuned_config
from jaxpg.run.timing import machine_line
from jaxpg.solve import make_solve

__all__ = ["BEGIN", "END", "SOLVE_ROOT", "RECHECK_ROOT", "markdown", "reliability"]

BEGIN = "<!-- solve_reliability:begin -->"
END = "<!-- solve_reliability:end -->"
SOLVE_ROOT = 0  # seed i solves with jax.random.split(jax.random.key(0), seeds)[i]
RECHECK_ROOT = 1  # and is re-evaluated with split(key(1), seeds)[i]


def reliability(
    algorithm: str,
    seeds: int = 16,
    *,
    confirm: bool = True,
    env_id: str = "CartPole-v1",
    threshold: float = 475.0,
    eval_every: int = 1,
    eval_episodes: int = 100,
    recheck_episodes: int = 100,
    **overrides: Any,
) -> dict:
    """Solves ``seeds`` seeds of the tuned preset, then re-evaluates each result.

    Args:
      algorithm: a registered algorithm with a tuned preset on ``env_id``.
      seeds: runs, vmapped in one ``jaxpg.jit`` call.
      confirm: ``make_solve``'s ``confirm``.
      env_id: the environment.
      threshold: the mean greedy return that counts as solved.
      eval_every: ``make_solve``'s ``eval_every``.
      eval_episodes: greedy episodes of each of ``make_solve``'s evaluations.
      recheck_episodes: greedy episodes of the independent re-evaluation.
      **overrides: config fields that replace the preset's (tests shrink it).

    Returns:
      A dict: the arguments, ``seconds`` (compile and run of the one call),
      ``solved`` and ``held`` (solved runs whose re-evaluation is
      ``>= threshold``) counts, and per seed lists ``updates``, ``eval_return``,
      ``confirm_return`` (None where none was played), ``solved_each`` and
      ``recheck_return``.
    """
    config = tuned_config(algorithm, env_id, **overrides)
    solve_kwargs = {
        "threshold": threshold,
        "eval_every": eval_every,
        "eval_episodes": eval_episodes,
        "confirm": confirm,
    }
    start = time.perf_counter()
    outs = _solve_and_recheck(config, env_id, seeds, recheck_episodes, solve_kwargs)
    seconds = time.perf_counter() - start
    updates, first, second, solved, recheck = outs
    return {
        "algorithm": algorithm,
        "env_id": env_id,
        "seeds": seeds,
        "num_updates": config.num_updates,
        **solve_kwargs,
        "recheck_episodes": recheck_episodes,
        "seconds": seconds,
        "solved": int(solved.sum()),
        "held": int((solved & (recheck >= threshold)).sum()),
        "updates": updates.tolist(),
        "eval_return": first.tolist(),
        "confirm_return": [None if not np.isfinite(c) else float(c) for c in second],
        "solved_each": solved.tolist(),
        "recheck_return": recheck.tolist(),
    }


def _solve_and_recheck(
    config: Any, env_id: str, seeds: int, recheck_episodes: int, solve_kwargs: dict
) -> list[np.ndarray]:
    """``[seeds]`` arrays: updates used, evaluation, confirmation, solved, and the
    mean return of the independent re-evaluation (one compiled, vmapped call)."""
    env, env_params = make_env(env_id)
    policy = make_policy(config, env, env_params)
    solve = make_solve(config, env, env_params, policy, **solve_kwargs)

    def one(key: jax.Array, key_recheck: jax.Array) -> tuple:
        out = solve(key)
        recheck = evaluate(
            key_recheck, policy, out.params, env, env_params, recheck_episodes
        )
        return (
            out.updates_used,
            out.eval_return,
            out.confirm_return,
            out.solved,
            recheck.mean(),
        )

    keys = jax.random.split(jax.random.key(SOLVE_ROOT), seeds)
    rechecks = jax.random.split(jax.random.key(RECHECK_ROOT), seeds)
    outs = jax.device_get(jit(jax.vmap(one))(keys, rechecks))
    return [np.asarray(x) for x in outs]


def markdown(report: dict, command: str) -> str:
    """The section, from ``BEGIN`` to ``END``.

    Args:
      report: ``{"environment": ..., "runs": [reliability(...), ...]}``.
      command: the command line shown as its source.

    Returns:
      The section's text.
    """
    env = report["environment"]
    runs = report["runs"]
    lines = [
        BEGIN,
        "## Does a solve stay solved? (scripts/solve_reliability.py)",
        "",
        f"Command: `{command}`",
        "",
        machine_line(env, env["date"]),
        "",
        "`jaxpg.make_solve` of each tuned CartPole-v1 preset, seeds vmapped in one "
        "`jaxpg.jit` call (seed i: `jax.random.split(jax.random.key(0), n)[i]`), "
        f"threshold {runs[0]['threshold']:g}, a {runs[0]['eval_episodes']}-episode "
        "greedy evaluation after every "
        f"{'update' if runs[0]['eval_every'] == 1 else str(runs[0]['eval_every']) + ' updates'}"
        "; with and without the confirming second evaluation. Each returned policy is "
        f"then played for {runs[0]['recheck_episodes']} fresh greedy episodes "
        "(`jaxpg.evaluate`, keys from `jax.random.key(1)`): *held* counts the solved "
        "runs whose re-evaluation is still ≥ the threshold.",
        "",
        "*went on*: runs in which a passing evaluation was not confirmed, so "
        "training continued past where the first-pass rule stopped (the same "
        "seeds, compared with that rule's run).",
        "",
        "| algorithm | rule | solved | held / solved | re-evaluation of solved runs "
        "(min, median) | median updates (solved) | went on | seconds (compile + run) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    first_pass = {r["algorithm"]: r for r in runs if not r["confirm"]}
    lines += [_row(run, first_pass.get(run["algorithm"])) for run in runs]
    lines += ["", END]
    return "\n".join(lines) + "\n"


def _row(run: dict, first_pass: dict | None) -> str:
    """One run's table row; ``first_pass`` is the same seeds' ``confirm=False`` run."""
    solved = [i for i, s in enumerate(run["solved_each"]) if s]
    rechecks = [run["recheck_return"][i] for i in solved]
    updates = [run["updates"][i] for i in solved]
    rule = "confirmed (default)" if run["confirm"] else "first pass (`confirm=False`)"
    spread = f"{min(rechecks):.1f}, {float(np.median(rechecks)):.1f}" if solved else "—"
    median_updates = f"{float(np.median(updates)):g}" if solved else "—"
    went_on = "—"
    if (
        run["confirm"]
        and first_pass is not None
        and first_pass["seeds"] == run["seeds"]
    ):
        pairs = zip(run["updates"], first_pass["updates"], strict=True)
        went_on = str(sum(a > b for a, b in pairs))
    return (
        f"| {run['algorithm']} | {rule} | {run['solved']}/{run['seeds']} | "
        f"{run['held']}/{run['solved']} | {spread} | {median_updates} | "
        f"{went_on} | {run['seconds']:.0f} |"
    )
