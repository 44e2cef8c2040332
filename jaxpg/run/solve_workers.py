"""Time-to-solve measurements, each run in a fresh worker process.

``python -m jaxpg.run.solve_workers --seed N --method M [--eval-every E]
[--count-steps] [--cache-dir D]`` times one solve of CartPole-v1 with the default
``ReinforceConfig`` (:func:`worker_solve`); ``--compile train|solve --method M``
times one compile instead (:func:`worker_compile`). Either prints its result as
one JSON line. :mod:`jaxpg.run.solve_bench` starts the workers (pinned or not,
with a persistent compilation cache or none) and summarises them.

The solve function is compiled one of four ways (``method``): ``fast`` =
``jaxpg.jit(solve, fast_compile=True)``, ``jaxpg`` = ``jaxpg.jit(solve)``,
``solve`` = plain ``jax.jit(solve)``, or ``host`` = a host loop over compiled
``trainer.run`` chunks with ``jaxpg.evaluate`` in between.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import jax
import numpy as np

from jaxpg import compilation
from jaxpg.algorithms.reinforce import ReinforceConfig
from jaxpg.envs import make_env
from jaxpg.evaluate import evaluate
from jaxpg.policy import make_policy
from jaxpg.run.timing import median_wall
from jaxpg.solve import make_solve
from jaxpg.train import make_train, make_trainer

__all__ = [
    "EVAL_EPISODES",
    "JITS",
    "THRESHOLD",
    "host_loop_solve",
    "jit_with",
    "replay_steps",
    "worker_compile",
    "worker_main",
    "worker_solve",
]

THRESHOLD = 475.0  # the greedy evaluation's mean return that counts as solved
EVAL_EPISODES = 100  # episodes of each greedy evaluation
# How the solve function is compiled (see jit_with): plain jax.jit, jaxpg.jit with
# its recommended XLA options, or jaxpg.jit(fast_compile=True).
JITS = ("solve", "jaxpg", "fast")


def jit_with(method: str, f):
    """``f`` compiled as ``method`` says.

    Args:
      method: ``"solve"``: plain ``jax.jit``; ``"jaxpg"``: ``jaxpg.jit``
        (recommended XLA options); ``"fast"``: ``jaxpg.jit(fast_compile=True)``.
      f: the function.

    Returns:
      the jitted function.
    """
    if method == "solve":
        return jax.jit(f)
    return compilation.jit(f, fast_compile=method == "fast")


def worker_solve(
    seed: int, method: str, eval_every: int, count_steps: bool = False
) -> dict:
    """Wall time from the first call into jaxpg until a solved policy is in hand.

    Args:
      seed: the key is ``jax.random.key(seed)``.
      method: one of :data:`JITS`, or ``"host"``.
      eval_every: updates between greedy evaluations.
      count_steps: also replay the updates used to count their environment steps
        and training steps/s (:func:`replay_steps`, outside the clock).

    Returns:
      ``seed``, ``seconds``, ``updates``, ``eval_return`` and ``solved`` (and the
      replay's counts).
    """
    config = ReinforceConfig()
    key = jax.random.key(seed)
    start = time.perf_counter()
    if method in JITS:
        solve = make_solve(
            config,
            threshold=THRESHOLD,
            eval_every=eval_every,
            eval_episodes=EVAL_EPISODES,
        )
        out = jax.block_until_ready(jit_with(method, solve)(key))
        elapsed = time.perf_counter() - start
        updates, ret, solved = (
            int(out.updates_used),
            float(out.eval_return),
            bool(out.solved),
        )
    else:
        updates, ret, solved = host_loop_solve(config, key, eval_every)
        elapsed = time.perf_counter() - start
    row = {
        "seed": seed,
        "seconds": elapsed,
        "updates": updates,
        "eval_return": ret,
        "solved": solved,
    }
    if count_steps:
        row.update(replay_steps(key, config, updates, method))
    return row


def host_loop_solve(config: Any, key: jax.Array, eval_every: int):
    """Compiled chunks of updates, each followed by a greedy evaluation on the host.

    Until solved or ``config.num_updates``.

    Args:
      config: the REINFORCE config.
      key: the training key (the evaluations fold in 1, then the update count).
      eval_every: updates per chunk.

    Returns:
      ``(updates used, last evaluation's mean return, solved)``.
    """
    env, env_params = make_env(config.env_id)
    policy = make_policy(config, env, env_params)
    trainer = make_trainer(config)
    run = jax.jit(trainer.run, static_argnums=1)
    key_eval = jax.random.fold_in(key, 1)
    state = jax.jit(trainer.init)(key)
    updates, ret, solved = 0, float("-inf"), False
    while updates < config.num_updates and not solved:
        n = min(eval_every, config.num_updates - updates)
        state, _ = run(state, n)
        updates += n
        returns = evaluate(
            jax.random.fold_in(key_eval, updates),
            policy,
            state.params,
            env,
            env_params,
            num_episodes=EVAL_EPISODES,
        )
        ret = float(returns.mean())
        solved = ret >= THRESHOLD
    return updates, ret, solved


def replay_steps(key, config, updates: int, method: str, repeats: int = 3) -> dict:
    """Environment steps and training steps/s of the updates a solve used.

    After the timed solve (outside its clock): ``trainer.init(key)`` and
    ``trainer.run(state, updates)`` — the same keys, so the same episodes as the
    solve's training up to floating-point reassociation — compiled apart with the
    solve's jit, then the median wall of ``repeats`` calls (no evaluation in it).

    Args:
      key: the solve's key.
      config: its config.
      updates: the updates it used.
      method: its jit (``"host"`` replays with ``jaxpg.jit``).
      repeats: timed calls.

    Returns:
      real and computed environment steps, episodes, the median wall and both
      steps/s.
    """
    trainer = make_trainer(config)

    def replay(key):
        return trainer.run(trainer.init(key), updates)[1]

    jit_method = method if method in JITS else "jaxpg"
    compiled = jit_with(jit_method, replay).lower(key).compile()
    wall, metrics = median_wall(compiled, key, repeats=repeats, warmup=False)
    env_steps = int(np.sum(np.asarray(metrics["env_steps"], np.int64)))
    computed = int(np.sum(np.asarray(metrics["computed_steps"], np.int64)))
    return {
        "env_steps": env_steps,
        "computed_steps": computed,
        "episodes": int(np.sum(np.asarray(metrics["episodes_finished"], np.int64))),
        "train_wall_s": wall,
        "steps_per_s": env_steps / wall,
        "computed_steps_per_s": computed / wall,
    }


def worker_compile(which: str, method: str) -> dict:
    """Build, trace + lower and compile time of the default train or solve function.

    Args:
      which: ``"train"`` (``make_train``) or ``"solve"`` (``make_solve``).
      method: one of :data:`JITS`.

    Returns:
      the seconds of each phase, the compile's process CPU seconds and the
      compiled program's fusion and while-loop counts.
    """
    config = ReinforceConfig()
    key = jax.random.key(0)
    start = time.perf_counter()
    if which == "train":
        f = make_train(config)
    else:
        f = make_solve(config, threshold=THRESHOLD, eval_episodes=EVAL_EPISODES)
    built = time.perf_counter()
    lowered = jit_with(method, f).lower(key)
    traced = time.perf_counter()
    cpu = time.process_time()
    compiled = lowered.compile()
    done = time.perf_counter()
    cpu = time.process_time() - cpu
    text = compiled.as_text()
    return {
        "function": which,
        "jit": method,
        "build_s": built - start,
        "trace_lower_s": traced - built,
        "compile_s": done - traced,
        "compile_cpu_s": cpu,
        "fusions": text.count(" fusion("),
        "while_loops": text.count(" while("),
    }


def worker_main(argv: list[str] | None = None) -> None:
    """The worker's command line (see the module docstring); prints one JSON line.

    Without ``--cache-dir`` the persistent compilation cache is off; with it, every
    compile goes through that directory (no minimum compile time or size).

    Args:
      argv: the arguments (default: the command line's).
    """
    ap = argparse.ArgumentParser(prog="python -m jaxpg.run.solve_workers")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--method", default="solve")
    ap.add_argument("--eval-every", type=int, default=1)
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--compile", default=None)
    ap.add_argument("--count-steps", action="store_true")
    args = ap.parse_args(argv)
    if args.cache_dir:
        jax.config.update("jax_compilation_cache_dir", args.cache_dir)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    else:
        jax.config.update("jax_enable_compilation_cache", False)
    if args.compile:
        result = worker_compile(args.compile, args.method)
    else:
        result = worker_solve(args.seed, args.method, args.eval_every, args.count_steps)
    print(json.dumps(result))


if __name__ == "__main__":
    worker_main()
