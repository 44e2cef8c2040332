"""Train over every device of one or several hosts (jaxpg.distributed).

    # every local device (GPUs of a node, or forced CPU devices):
    python scripts/train_distributed.py --algo ppo --num-envs 1024 --num-updates 200
    # the first 2 devices only:
    python scripts/train_distributed.py --devices 2
    # 4 CPU devices on one machine (shows sharding, not speed):
    XLA_FLAGS=--xla_force_host_platform_device_count=4 \\
        python scripts/train_distributed.py --num-envs 64
    # several hosts: the same command on each, with its own --process-id
    python scripts/train_distributed.py --coordinator-address host0:1234 \\
        --num-processes 2 --process-id 0
    # independent seeds split over the devices instead of environments:
    python scripts/train_distributed.py --num-seeds 8

Every field of the algorithm's config is a flag (``--help``). The environments are
split over the devices (``--num-envs`` must be divisible by the device count), the
parameters replicated; the host loop runs compiled chunks of ``--chunk`` updates.
Only process 0 prints and writes ``--out`` (``metrics.jsonl``, ``summary.json``);
every process takes part in writing ``checkpoint/`` (orbax is collective).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import jax
import numpy as np

import jaxpg
from jaxpg import distributed, files
from jaxpg.algorithms import registry
from jaxpg.run import flags


def _config_class(algo: str) -> type:
    return registry.get(algo).config_type


def build_parser(algo: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="train_distributed.py",
        description="Train with the environment batch split over devices and hosts.",
    )
    parser.add_argument("--algo", choices=registry.names(), default="reinforce")
    flags.add_dataclass_flags(parser.add_argument_group(algo), _config_class(algo))
    run = parser.add_argument_group("run")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--chunk", type=int, default=10, help="updates per compiled call")
    run.add_argument(
        "--devices",
        type=int,
        default=None,
        help="use the first N devices (default: every device of every process)",
    )
    run.add_argument(
        "--num-seeds",
        type=int,
        default=None,
        help="train this many independent seeds split over the devices (one "
        "compiled vmapped call) instead of splitting environments",
    )
    run.add_argument("--out", type=Path, default=None, help="folder for logs")
    dist = parser.add_argument_group(
        "multi-host (else $JAX_COORDINATOR_ADDRESS / $JAX_NUM_PROCESSES / "
        "$JAX_PROCESS_ID, or a cluster JAX detects)"
    )
    flags.add_multihost_flags(dist, "join a multi-process run")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--algo", choices=registry.names(), default="reinforce")
    algo = pre.parse_known_args(argv)[0].algo
    parser = build_parser(algo)
    args = parser.parse_args(argv)

    try:
        config = flags.dataclass_from_flags(_config_class(algo), args)
    except ValueError as error:
        parser.error(str(error))
    try:
        flags.join_multihost_run(args)  # before any other JAX call
    except ValueError as error:
        parser.error(str(error))

    info = distributed.process_info()
    primary = distributed.is_primary()
    distributed.check_same_across_processes((config, args.seed), "config and seed")

    def say(*parts: object) -> None:
        if primary:
            print(*parts, flush=True)

    say(
        f"{algo} on {config.env_id}: process {info.process_id}/{info.num_processes}, "
        f"{info.local_devices} local / {info.global_devices} global "
        f"{jax.devices()[0].platform} devices"
    )
    key = jax.random.key(args.seed)
    try:
        if args.num_seeds is not None:
            seed_run(key, config, args, say)
            return 0
        mesh = distributed.make_mesh(args.devices)
        trainer = distributed.make_trainer(config, mesh=mesh)
    except ValueError as error:
        parser.error(str(error))
    log = args.out / "metrics.jsonl" if (args.out is not None and primary) else None
    state, summary = chunked_run(key, config, trainer, args.chunk, log, say)
    summary = {
        "algo": algo,
        "devices": mesh.size,
        "processes": info.num_processes,
        **summary,
    }
    say(json.dumps(summary))
    if args.out is not None:
        if log is not None:
            files.write_json(args.out / "summary.json", summary, allow_nan=True)
        jaxpg.save(args.out / "checkpoint", state, config)  # every process: collective
    return 0


def seed_run(key: jax.Array, config: object, args: argparse.Namespace, say) -> None:
    """``--num-seeds`` independent seeds split over the devices; prints a summary."""
    mesh = distributed.make_mesh(args.devices, distributed.SEED_AXIS)
    train = distributed.make_seed_train(config, mesh=mesh)
    keys = jax.random.split(key, args.num_seeds)
    start = time.perf_counter()
    result = jax.block_until_ready(train(keys))
    returns = np.asarray(result.metrics["episode_return"][:, -1])
    say(
        f"{args.num_seeds} seeds on {mesh.size} devices: "
        f"{time.perf_counter() - start:.1f} s with compilation; final "
        f"episode_return mean {returns.mean():.1f} (min {returns.min():.1f}, "
        f"max {returns.max():.1f})"
    )


def chunked_run(key, config, trainer, chunk: int, log: Path | None, say):
    """Trains in compiled chunks, appending metric rows to ``log`` (process 0).

    Returns:
      ``(final state, summary fields)``.
    """
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("")
    state = trainer.init(key)
    chunk = max(1, min(chunk, config.num_updates))
    start = time.perf_counter()
    compiled = trainer.run.lower(state, chunk).compile()  # timed apart
    compile_s = time.perf_counter() - start
    say(f"compiled one chunk of {chunk} updates in {compile_s:.1f} s")
    done, env_steps, train_s = 0, 0, 0.0
    while done < config.num_updates:
        n = min(chunk, config.num_updates - done)
        run = compiled if n == chunk else (lambda s, n=n: trainer.run(s, n))
        tick = time.perf_counter()
        state, metrics = run(state)
        metrics = jax.device_get(metrics)  # replicated: readable in every process
        train_s += time.perf_counter() - tick
        rows = [
            {"update": done + i + 1, **{k: v[i].item() for k, v in metrics.items()}}
            for i in range(n)
        ]
        env_steps += sum(int(row["env_steps"]) for row in rows)
        if log is not None:
            with open(log, "a") as f:
                f.writelines(json.dumps(row) + "\n" for row in rows)
        done += n
        say(
            f"update {done:5d}  return {float(metrics['episode_return'][-1]):8.2f}  "
            f"env steps {env_steps}"
        )
    rate = env_steps / train_s if train_s > 0 else math.nan
    return state, {
        "num_envs": config.num_envs,
        "num_updates": config.num_updates,
        "compile_s": round(compile_s, 3),
        "train_s": round(train_s, 3),
        "env_steps": env_steps,
        "env_steps_per_s": round(rate, 1),
        "final_episode_return": float(metrics["episode_return"][-1]),
    }


if __name__ == "__main__":
    sys.exit(main())
