"""What jaxpg's compiler options do to the numbers, over a training run.

:func:`drift` trains one algorithm's tuned CartPole-v1 preset from the same key
three ways — plain ``jax.jit``, ``jaxpg.jit`` and ``jaxpg.jit(fast_compile=True)``
— and compares the parameters with plain ``jax.jit``'s after a few, tens and
hundreds of updates. :func:`markdown` renders the section of docs/benchmarks.md
that ``scripts/compile_drift.py`` writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

from jaxpg.compilation import jit
from jaxpg.presets import tuned_config
from jaxpg.run.bench import environment
from jaxpg.run.timing import machine_line
from jaxpg.train import make_trainer

__all__ = ["BEGIN", "END", "METHODS", "drift", "markdown", "report"]

BEGIN = "<!-- compile_drift:begin -->"
END = "<!-- compile_drift:end -->"

# label -> how ``trainer.run`` is compiled (static chunk length).
METHODS = {
    "jax.jit": lambda f: jax.jit(f, static_argnums=1),
    "jaxpg.jit": lambda f: jit(f, static_argnums=1),
    "jaxpg.jit(fast_compile=True)": lambda f: jit(
        f, fast_compile=True, static_argnums=1
    ),
}


def drift(
    algorithm: str,
    env_id: str = "CartPole-v1",
    checkpoints: Sequence[int] = (3, 30, 90, 300),
    seed: int = 0,
    **overrides: Any,
) -> dict:
    """Parameters of each compilation in :data:`METHODS` against ``jax.jit``'s.

    Every method runs the same chunk function (``trainer.run(state, c)`` with
    ``c = checkpoints[0]``) from the same ``trainer.init(jax.random.key(seed))``.

    Args:
      algorithm: a registered algorithm with a tuned preset on ``env_id``.
      env_id: the environment.
      checkpoints: update counts to compare at, increasing multiples of the first.
      seed: the key's seed.
      **overrides: config fields that replace the preset's (tests shrink it).

    Returns:
      ``{"algorithm", "env_id", "seed", "checkpoints", "methods": {label: [row per
      checkpoint]}}``; a row holds ``updates``, ``bit_identical``, ``max_abs_diff``
      (largest ``|p - p_jax.jit|`` over all parameters), ``max_abs_param`` and
      ``episode_return`` (the training return of the last update).
    """
    chunk = checkpoints[0]
    if any(c % chunk or c <= 0 for c in checkpoints):
        raise ValueError(f"checkpoints must be positive multiples of {chunk}")
    config = tuned_config(
        algorithm, env_id, **{"num_updates": checkpoints[-1], **overrides}
    )
    trainer = make_trainer(config)
    start = trainer.init(jax.random.key(seed))
    params: dict[str, list] = {}
    returns: dict[str, list] = {}
    for label, compile_ in METHODS.items():
        params[label], returns[label] = _train_to(
            compile_(trainer.run), start, checkpoints
        )
    reference = params["jax.jit"]
    methods = {}
    for label in METHODS:
        methods[label] = [
            _row(updates, ref, got, ret)
            for updates, ref, got, ret in zip(
                checkpoints, reference, params[label], returns[label], strict=True
            )
        ]
    return {
        "algorithm": algorithm,
        "env_id": env_id,
        "seed": seed,
        "checkpoints": list(checkpoints),
        "methods": methods,
    }


def _train_to(run: Any, state: Any, checkpoints: Sequence[int]) -> tuple[list, list]:
    """Runs ``run(state, checkpoints[0])`` up to each checkpoint: the parameter
    leaves (numpy) and the last update's training return at each."""
    chunk, done = checkpoints[0], 0
    params, returns = [], []
    for target in checkpoints:
        while done < target:
            state, metrics = run(state, chunk)
            done += chunk
        params.append([np.asarray(p) for p in jax.tree.leaves(state.params)])
        returns.append(float(metrics["episode_return"][-1]))
    return params, returns


def _row(updates: int, ref: list, got: list, episode_return: float) -> dict:
    """One checkpoint's comparison with the reference parameters."""
    return {
        "updates": updates,
        "bit_identical": all(
            np.array_equal(a, b) for a, b in zip(ref, got, strict=True)
        ),
        "max_abs_diff": max(
            float(np.max(np.abs(a - b))) for a, b in zip(ref, got, strict=True)
        ),
        "max_abs_param": max(float(np.max(np.abs(a))) for a in ref),
        "episode_return": episode_return,
    }


def markdown(report: dict, command: str) -> str:
    """The section, from ``BEGIN`` to ``END``.

    Args:
      report: ``{"environment": ..., "runs": [drift(...), ...]}``.
      command: the command line shown as its source.

    Returns:
      The section's text.
    """
    env = report["environment"]
    lines = [
        BEGIN,
        "### What the compiler options compute (scripts/compile_drift.py)",
        "",
        f"Command: `{command}`",
        "",
        machine_line(env, env["date"]),
        "",
        "Each algorithm's tuned CartPole-v1 preset, trained from the same key with "
        "the same chunk function (`trainer.run`, "
        f"{report['runs'][0]['checkpoints'][0]} updates a call) compiled three ways; "
        "the largest difference of any parameter from plain `jax.jit`'s after that "
        "many updates (0 = bit-identical), the largest parameter, and the training "
        "return of the last update. `jaxpg.jit` lowers LLVM's optimisation level; "
        "`fast_compile` also turns XLA:CPU's fusion emitters off, which fuses "
        "operations differently. Either changes how the same computation is "
        "rounded, as a reassociation does; a training run amplifies the difference "
        "chaotically, more in some runs than in others.",
        "",
        "| algorithm | compiled with | updates | max abs diff | max abs param "
        "| episode return | jax.jit's return |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in report["runs"]:
        ref = run["methods"]["jax.jit"]
        for label, rows in run["methods"].items():
            if label == "jax.jit":
                continue
            for row, base in zip(rows, ref, strict=True):
                diff = (
                    "0 (bit-identical)"
                    if row["bit_identical"]
                    else (f"{row['max_abs_diff']:.2g}")
                )
                lines.append(
                    f"| {run['algorithm']} | `{label}` | {row['updates']} | {diff} | "
                    f"{row['max_abs_param']:.3g} | {row['episode_return']:.1f} | "
                    f"{base['episode_return']:.1f} |"
                )
    lines += ["", END]
    return "\n".join(lines) + "\n"


def report(
    algorithms: Sequence[str], checkpoints: Sequence[int], **overrides: Any
) -> dict:
    """:func:`drift` of each algorithm, with the machine: :func:`markdown`'s input.

    Args:
      algorithms: registered algorithm names.
      checkpoints: as in :func:`drift`.
      **overrides: as in :func:`drift`.

    Returns:
      ``{"environment": the machine and versions, "runs": [drift(...), ...]}``.
    """
    runs = [drift(a, checkpoints=checkpoints, **overrides) for a in algorithms]
    return {"environment": environment(), "runs": runs}
