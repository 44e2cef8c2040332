"""Evaluate the policy saved in a run folder (written by scripts/train.py).

    python scripts/evaluate.py runs/CartPole-v1-20261125-171743 --episodes 100
    python scripts/evaluate.py RUN_DIR --gif docs/img/cartpole.gif

Loads ``RUN_DIR/checkpoint`` (the latest save; ``--checkpoint best`` the best
greedy evaluation kept by ``train.py --keep-best``, ``--checkpoint U`` the save
at update U kept by ``--keep N``), runs the policy for ``--episodes`` episodes in gymnax
(``jaxpg.evaluate``) and, for CartPole-v1, Acrobot-v1, MountainCar-v0, Pendulum-v1
and MountainCarContinuous-v0, in gymnasium's own implementation of the task
(``jaxpg.run.gym_eval``); prints mean ± std of the undiscounted return for each.
Actions are the policy's mode unless ``--stochastic``. ``--gif`` renders one
gymnasium episode to an animated GIF (needs pygame).

Exit status 2 for bad input, before anything is evaluated (no run folder, a
broken checkpoint, a --checkpoint the run did not keep, an unknown seed index, a --gif path that cannot be written,
more --episodes than fit in memory); 1 when the GIF cannot be rendered.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import jax
import numpy as np

import jaxpg
from jaxpg.evaluate import check_evaluation_memory
from jaxpg.memory import INT32_MAX
from jaxpg.run import (
    RunError,
    algorithm_label,
    check_output_file,
    gym_eval,
    load_run,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evaluate.py",
        description="Evaluate the policy of a run folder in gymnax and gymnasium.",
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    parser.add_argument(
        "--episodes",
        type=int,
        default=100,
        help="episodes per evaluation (default: 100)",
    )
    parser.add_argument(
        "--checkpoint",
        default="latest",
        metavar="latest|best|UPDATE",
        help="which checkpoint: latest (RUN_DIR/checkpoint), best (the best "
        "periodic greedy evaluation, kept with train.py --keep-best) or the update "
        "number of one kept with --keep N (default: latest)",
    )
    parser.add_argument(
        "--stochastic",
        action="store_true",
        help="sample actions from the policy (default: its mode, i.e. greedy)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="PRNG / reset seed (default: 0)"
    )
    parser.add_argument(
        "--seed-index",
        type=int,
        default=0,
        help="which trained seed of a --seeds K run to use in gymnasium and for "
        "the GIF (default: 0); gymnax evaluates all of them",
    )
    parser.add_argument(
        "--no-gymnasium",
        action="store_true",
        help="skip the evaluation in gymnasium's environment",
    )
    parser.add_argument(
        "--gif",
        type=Path,
        default=None,
        help="render one episode (gymnasium, seed --seed) to this animated GIF",
    )
    return parser


def _stats(returns: np.ndarray) -> str:
    return (
        f"return {returns.mean():.1f} ± {returns.std():.1f} "
        f"(min {returns.min():.1f}, max {returns.max():.1f})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 1 <= args.episodes <= INT32_MAX:
        parser.error(
            f"--episodes must be an integer >= 1 and <= {INT32_MAX}; got {args.episodes}"
        )
    if not 0 <= args.seed < 2**32:
        parser.error(f"--seed must be an integer in [0, 2**32); got {args.seed}")
    if not 0 <= args.seed_index <= INT32_MAX:
        parser.error(
            f"--seed-index must be an integer >= 0 and <= {INT32_MAX}; got "
            f"{args.seed_index}"
        )
    if not re.fullmatch(r"latest|best|\d+", args.checkpoint):
        parser.error(
            f"--checkpoint must be latest, best or an update number; got "
            f"{args.checkpoint!r}"
        )
    try:
        if args.gif is not None:  # before anything is evaluated
            check_output_file(args.gif, "--gif")
        state, config, options = load_run(
            args.run_dir,
            log=lambda note: print(f"evaluate.py: {note}", file=sys.stderr),
            which=args.checkpoint,
        )
    except RunError as error:
        parser.error(str(error))
    seeds = options.seeds
    if not 0 <= args.seed_index < seeds:
        parser.error(
            f"--seed-index must be in [0, {seeds}) for this {seeds}-seed run; "
            f"got {args.seed_index}"
        )
    if args.gif is not None and config.env_id not in gym_eval.GYMNASIUM_IDS:
        parser.error(
            f"--gif renders gymnasium's environments ({', '.join(gym_eval.GYMNASIUM_IDS)}); "
            f"this run is {config.env_id}"
        )
    env, env_params = jaxpg.make_env(config.env_id)
    try:
        check_evaluation_memory(env, env_params, args.episodes, field="--episodes")
    except ValueError as error:
        parser.error(str(error))
    policy = jaxpg.make_policy(config, env, env_params)
    params = jax.device_get(state.params)
    step = int(np.asarray(state.step).reshape(-1)[0])
    how = "sampled" if args.stochastic else "greedy"
    print(
        f"{args.run_dir}: {algorithm_label(config)} on {config.env_id}, "
        f"checkpoint at update {step}/{config.num_updates}"
        + (f" (--checkpoint {args.checkpoint})" if args.checkpoint != "latest" else "")
        + (f", {seeds} seeds" if seeds > 1 else "")
    )

    key = jax.random.key(args.seed)
    per_seed = []
    for i in range(seeds):
        own = params if seeds == 1 else jax.tree.map(lambda x, i=i: x[i], params)
        returns = jaxpg.evaluate(
            jax.random.fold_in(key, i),
            policy,
            own,
            env,
            env_params,
            args.episodes,
            deterministic=not args.stochastic,
        )
        per_seed.append(np.asarray(returns))
    everything = np.concatenate(per_seed)
    print(
        f"gymnax     {config.env_id}: {args.episodes} {how} episodes"
        + (f" x {seeds} seeds" if seeds > 1 else "")
        + f": {_stats(everything)}"
    )
    if seeds > 1:
        means = ", ".join(f"{i}: {r.mean():.1f}" for i, r in enumerate(per_seed))
        print(f"  mean return per seed index: {means}")

    chosen = (
        params if seeds == 1 else jax.tree.map(lambda x: x[args.seed_index], params)
    )
    if not args.no_gymnasium:
        if config.env_id in gym_eval.GYMNASIUM_IDS:
            returns = gym_eval.gymnasium_returns(
                config.env_id,
                policy,
                chosen,
                args.episodes,
                stochastic=args.stochastic,
                seed=args.seed,
            )
            which = f" (seed index {args.seed_index})" if seeds > 1 else ""
            print(
                f"gymnasium  {config.env_id}: {args.episodes} {how} episodes{which}: "
                f"{_stats(returns)}"
            )
        else:
            print(f"gymnasium: no twin of {config.env_id} (gymnax only)")
    if args.gif is not None:
        try:
            frames, total = gym_eval.gymnasium_frames(
                config.env_id,
                policy,
                chosen,
                stochastic=args.stochastic,
                seed=args.seed,
            )
        except RuntimeError as error:
            print(f"evaluate.py: error: --gif: {error}", file=sys.stderr)
            return 1
        try:
            gym_eval.save_gif(args.gif, frames)
        except OSError as error:
            print(f"evaluate.py: error: --gif {args.gif}: {error}", file=sys.stderr)
            return 1
        size = args.gif.stat().st_size
        print(
            f"saved a {len(frames) - 1}-step {how} episode (return {total:.1f}) to "
            f"{args.gif} ({size / 1024:.0f} KiB)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
