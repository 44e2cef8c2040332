"""Where an actor-critic train function's compile time goes, piece by piece.

``scripts/profile_update.py --parts compile`` prints these. For A2C's or PPO's
tuned CartPole-v1 config, each piece is jitted on its own and timed in three
stages: tracing (``jit(f).trace``), lowering to StableHLO (``.lower()``) and the
XLA backend (``.compile()``, wall and process CPU time); the compiled module's
size is given by its HLO text length and its count of fusions (≈ CPU kernels,
which is what XLA:CPU's LLVM time follows) and ``while`` loops (every threefry
random draw is one on CPU). The pieces:

* ``init``: ``trainer.init`` (networks, Adam state, N reset environments);
* ``rollout``: the fixed-length rollout of one update;
* ``advantages``: the critic on every observation and GAE (``batch_from``);
* ``optimize``: the algorithm's optimisation of one batch (PPO: epochs ×
  minibatches of Adam steps in two ``lax.scan`` s);
* ``update``: one whole update (``trainer.run(state, 1)``);
* ``train``: ``make_train`` — init and ``num_updates`` updates in one scan.

``train`` ≈ ``init`` + ``update`` in every column says the update is traced and
compiled once (the scan does not unroll it), and nothing twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jax

from jaxpg import compilation
from jaxpg.algorithms import a2c, actor_critic, ppo
from jaxpg.presets import tuned_config
from jaxpg.rollout.fixed import rollout
from jaxpg.train import build, make_train, make_trainer

__all__ = ["BEGIN", "END", "PIECES", "compile_pieces", "markdown", "stage_times"]

BEGIN = "<!-- compile_pieces:begin -->"
END = "<!-- compile_pieces:end -->"
PIECES = ("init", "rollout", "advantages", "optimize", "update", "train")


def stage_times(fn: Callable, args: tuple, jit: str = "jax.jit") -> dict:
    """Trace, lower and compile times of ``fn(*args)`` and the module's size.

    Args:
      fn: the function (not jitted).
      args: its arguments (arrays or ``jax.ShapeDtypeStruct`` s).
      jit: ``"jax.jit"``, ``"jaxpg.jit"`` or ``"fast_compile"``
        (``jaxpg.jit(fn, fast_compile=True)``).

    Returns:
      ``trace_s``, ``lower_s``, ``compile_s``, ``compile_cpu_s``, ``hlo_chars``
      (of the lowered module), ``fusions`` and ``whiles`` (of the compiled one).
    """
    if jit == "jax.jit":
        jitted = jax.jit(fn)
    else:
        jitted = compilation.jit(fn, fast_compile=jit == "fast_compile")
    t0 = time.perf_counter()
    traced = jitted.trace(*args)
    t1 = time.perf_counter()
    lowered = traced.lower()
    t2, c2 = time.perf_counter(), time.process_time()
    compiled = lowered.compile()
    t3, c3 = time.perf_counter(), time.process_time()
    text = compiled.as_text()
    return {
        "trace_s": t1 - t0,
        "lower_s": t2 - t1,
        "compile_s": t3 - t2,
        "compile_cpu_s": c3 - c2,
        "hlo_chars": len(lowered.as_text()),
        "fusions": text.count(" fusion("),
        "whiles": text.count(" while("),
    }


def _pieces(algo: str) -> dict[str, tuple[Callable, tuple]]:
    """Each piece's function and abstract arguments."""
    config = tuned_config(algo, "CartPole-v1")
    env, env_params, policy, value = build(config, None, None, None, None)
    trainer = make_trainer(config)
    key = jax.eval_shape(lambda: jax.random.key(0))
    state = jax.eval_shape(trainer.init, key)
    if algo == "ppo":
        optimize = ppo.make_optimize(config, policy, value)
        steps = config.num_epochs * config.num_minibatches
    else:
        optimize = a2c.make_optimize(config, policy, value)
        steps = 1

    def roll(k, s):
        return rollout(
            k,
            policy,
            s.params["policy"],
            env,
            env_params,
            s.env_state,
            config.num_steps,
            s.hparams.gamma,
        )

    data = jax.eval_shape(roll, key, state)[1]

    def advantages(d, s):
        return actor_critic.batch_from(
            d, value, s.params["value"], s.hparams.gamma, s.hparams.gae_lambda
        )

    batch = jax.eval_shape(advantages, data, state)

    def opt(s, b, k):
        optimizer = actor_critic.make_optimizer(s.hparams, config, steps)
        return optimize(optimizer, s.params, s.opt_state, b, k, s.hparams)

    return {
        "init": (trainer.init, (key,)),
        "rollout": (roll, (key, state)),
        "advantages": (advantages, (data, state)),
        "optimize": (opt, (state, batch, key)),
        "update": (lambda s: trainer.run(s, 1), (state,)),
        "train": (make_train(config), (key,)),
    }


def compile_pieces(algo: str, jit: str = "jax.jit", pieces: Any = PIECES) -> dict:
    """:func:`stage_times` of each piece of ``algo``'s tuned CartPole-v1 config.

    Args:
      algo: ``"a2c"`` or ``"ppo"``.
      jit: ``"jax.jit"`` or ``"jaxpg.jit"``.
      pieces: which of :data:`PIECES`.

    Returns:
      piece → :func:`stage_times`.
    """
    built = _pieces(algo)
    return {name: stage_times(*built[name], jit=jit) for name in pieces}


def markdown(rows: dict, command: str, note: str) -> str:
    """The ``compile_pieces`` section of docs/benchmarks.md.

    Args:
      rows: ``(algo, jit)`` label → :func:`compile_pieces`' result.
      command: the command that produced it.
      note: the machine, time and load line.

    Returns:
      The markdown, from :data:`BEGIN` to :data:`END`.
    """
    lines = [
        BEGIN,
        "### Where A2C's and PPO's compile time goes (scripts/profile_update.py)",
        "",
        f"Command: `{command}`",
        "",
        note,
        "",
        "Each piece of the tuned CartPole-v1 config jitted on its own, one process "
        "(see `jaxpg/run/compile_profile.py`). CPU s is the process CPU time of "
        "`.compile()`; under load the wall time stretches by the load, CPU time "
        "much less. `train` ≈ `init` + `update` in fusions and while loops: the "
        "update is traced and compiled once (PPO's epochs and minibatches are two "
        "`lax.scan` s, not unrolled), and nothing twice.",
        "",
        "| algorithm | jit | piece | trace s | lower s | compile s | compile CPU s "
        "| HLO chars | fusions | while loops |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, pieces in rows.items():
        for name, r in pieces.items():
            lines.append(
                f"| {label[0]} | {label[1]} | {name} | {r['trace_s']:.2f} | "
                f"{r['lower_s']:.2f} | {r['compile_s']:.2f} | "
                f"{r['compile_cpu_s']:.2f} | {r['hlo_chars']:,} | {r['fusions']} | "
                f"{r['whiles']} |"
            )
    return "\n".join([*lines, "", END]) + "\n"
