"""Train REINFORCE on a gymnax environment from the command line.

    python scripts/train.py --env-id CartPole-v1 --num-updates 100

Every ``jaxpg.ReinforceConfig`` field is a flag (``--help`` lists them with their
defaults). The host loop runs one compiled chunk of ``--chunk`` updates at a time and
prints progress between chunks; nothing inside the compiled function talks to the
host. Compilation is done up front and timed apart from training, and JAX's
persistent compilation cache (``$JAXPG_CACHE_DIR``, default ``~/.cache/jaxpg/jax``)
lets a second launch with the same shapes skip it. At the end: a greedy evaluation,
and in the run folder ``config.json``, ``metrics.jsonl`` (one row per update),
``summary.json`` and ``checkpoint/`` (``jaxpg.load`` reads it).

Invalid flags exit with status 2 and a message naming the flag, before anything is
compiled or written.
"""

from __future__ import annotations

import time

_START = time.perf_counter()

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import jax  # noqa: E402
import numpy as np  # noqa: E402

import jaxpg  # noqa: E402
from jaxpg import checkpoint, cli  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="train.py",
        description="Train REINFORCE (jaxpg.ReinforceConfig) on a gymnax environment.",
    )
    algo = parser.add_argument_group("REINFORCE configuration (jaxpg.ReinforceConfig)")
    cli.add_dataclass_flags(algo, jaxpg.ReinforceConfig)
    run = parser.add_argument_group("run")
    run.add_argument("--seed", type=int, default=0, help="PRNG seed (default: 0)")
    run.add_argument(
        "--chunk",
        type=int,
        default=10,
        help="updates per compiled chunk; progress is printed between chunks "
        "(default: 10)",
    )
    run.add_argument(
        "--eval-episodes",
        type=int,
        default=100,
        help="greedy evaluation episodes after training (default: 100)",
    )
    run.add_argument(
        "--out",
        type=Path,
        default=None,
        help="run folder for config.json, metrics.jsonl, summary.json, checkpoint/ "
        "(default: runs/<env-id>-<timestamp>); must be new or empty",
    )
    run.add_argument(
        "--no-cache",
        action="store_true",
        help="do not use JAX's persistent compilation cache ($JAXPG_CACHE_DIR, "
        "default ~/.cache/jaxpg/jax)",
    )
    return parser


def _resolve_out(out: Path | None, env_id: str) -> Path:
    """The run folder, checked but not created: ValueError/OSError if unusable.

    It must be new or empty, and writable: a temporary file is created (and
    removed) in it or in its nearest existing parent.
    """
    if out is None:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        out = Path("runs") / f"{env_id}-{stamp}"
        suffix = 1
        while out.exists():
            out = Path("runs") / f"{env_id}-{stamp}-{suffix}"
            suffix += 1
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()):
        raise ValueError(
            f"--out {out}: already holds files; choose a new or empty folder"
        )
    existing = out.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"--out {out}: {existing} is not a directory")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        raise ValueError(f"--out {out}: cannot write in {existing} ({error})") from None
    return out


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")
    os.replace(tmp, path)


def _python(value: Any) -> Any:
    """A numpy scalar as a JSON-ready Python number (non-finite floats → null)."""
    value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _seconds(s: float) -> str:
    return f"{s:.1f} s" if s >= 0.1 else f"{s * 1000:.0f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)

    # JAX decides once per process, at the first compilation, whether the
    # persistent cache is used: configure it before anything else runs.
    cache_dir = None if args.no_cache else cli.default_cache_dir()
    cli.enable_compilation_cache(cache_dir)
    cache_events = cli.CacheEvents()

    # ---- validation: every failure is a usage error (exit 2), nothing compiled
    if args.chunk < 1:
        parser.error(f"--chunk must be an integer >= 1; got {args.chunk}")
    if args.eval_episodes < 1:
        parser.error(
            f"--eval-episodes must be an integer >= 1; got {args.eval_episodes}"
        )
    if not 0 <= args.seed < 2**32:
        parser.error(f"--seed must be an integer in [0, 2**32); got {args.seed}")
    try:
        config = cli.dataclass_from_flags(jaxpg.ReinforceConfig, args)
    except ValueError as error:
        parser.error(str(error))
    if config.env_id is None:
        parser.error("--env-id is required (a gymnax id such as CartPole-v1)")
    try:
        out = _resolve_out(args.out, config.env_id)
    except (OSError, ValueError) as error:
        parser.error(str(error))
    try:
        env, env_params = jaxpg.make_env(config.env_id)
        trainer = jaxpg.make_trainer(config, env, env_params)
        policy = jaxpg.make_policy(config, env, env_params)
    except (ValueError, TypeError) as error:
        parser.error(f"--env-id {config.env_id}: {error}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        parser.error(f"--out {out}: cannot create it ({error})")

    chunk = min(args.chunk, config.num_updates)
    tail = config.num_updates % chunk
    run_info = {
        "seed": args.seed,
        "chunk": chunk,
        "eval_episodes": args.eval_episodes,
        "jaxpg_version": jaxpg.__version__,
        "jax_version": jax.__version__,
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
    }
    _write_json(
        out / "config.json", {**checkpoint.config_to_dict(config), "run": run_info}
    )
    print(
        f"jaxpg REINFORCE on {config.env_id}: {config.num_envs} envs x "
        f"{config.num_updates} updates, seed {args.seed}, {jax.default_backend()} "
        f"| run folder {out}",
        flush=True,
    )

    # ---- compile everything up front (AOT), timed apart from training
    key_init, key_eval = jax.random.split(jax.random.key(args.seed))
    t0 = time.perf_counter()
    init = jax.jit(trainer.init).lower(key_init).compile()
    state = init(key_init)
    run_chunk = jax.jit(trainer.run, static_argnums=1)
    chunk_fn = run_chunk.lower(state, chunk).compile()
    tail_fn = run_chunk.lower(state, tail).compile() if tail else None
    t1 = time.perf_counter()
    num_eval = args.eval_episodes

    def evaluate(key, params):
        return jaxpg.evaluate(key, policy, params, env, env_params, num_eval)

    eval_fn = jax.jit(evaluate).lower(key_eval, state.params).compile()
    t2 = time.perf_counter()
    compile_train, compile_eval = t1 - t0, t2 - t1
    hits, misses = cache_events.snapshot()
    if cache_dir is None:
        cache_note = "persistent cache off"
    elif misses == 0 and hits > 0:
        cache_note = f"persistent cache warm: {hits} programs loaded from {cache_dir}"
    elif hits == 0:
        cache_note = (
            f"persistent cache cold: {misses} programs compiled and saved to "
            f"{cache_dir}"
        )
    else:
        cache_note = (
            f"persistent cache partly warm: {hits} loaded, {misses} compiled "
            f"({cache_dir})"
        )
    print(
        f"compiled in {_seconds(compile_train + compile_eval)} (training chunk of "
        f"{chunk} updates{' + tail' if tail else ''} {_seconds(compile_train)}, "
        f"evaluation {_seconds(compile_eval)}); {cache_note}",
        flush=True,
    )

    # ---- training: one compiled chunk at a time; host work between chunks
    done, env_steps_total = 0, 0
    last_print = -math.inf
    t_train = time.perf_counter()
    with open(out / "metrics.jsonl", "w", encoding="utf-8") as log:
        while done < config.num_updates:
            n = min(chunk, config.num_updates - done)
            state, metrics = (chunk_fn if n == chunk else tail_fn)(state)
            metrics = jax.device_get(metrics)
            for i in range(n):
                env_steps_total += int(metrics["env_steps"][i])
                row = {"update": done + i + 1, "env_steps_total": env_steps_total}
                row.update({k: _python(v[i]) for k, v in sorted(metrics.items())})
                log.write(json.dumps(row, allow_nan=False) + "\n")
            log.flush()
            done += n
            now = time.perf_counter()
            if now - last_print >= 1.0 or done == config.num_updates:
                last_print = now
                rate = env_steps_total / max(now - t_train, 1e-9)
                print(
                    f"update {done:>{len(str(config.num_updates))}}/"
                    f"{config.num_updates} | env steps {env_steps_total:,} | "
                    f"{rate:,.0f} steps/s | return "
                    f"{float(metrics['episode_return'][-1]):.1f}",
                    flush=True,
                )
    train_time = time.perf_counter() - t_train

    # ---- evaluation, then everything to disk
    t_eval = time.perf_counter()
    returns = np.asarray(jax.device_get(eval_fn(key_eval, state.params)))
    eval_time = time.perf_counter() - t_eval
    mean, std = float(returns.mean()), float(returns.std())
    t_save = time.perf_counter()
    jaxpg.save(out / "checkpoint", state, config)
    compile_time = compile_train + compile_eval
    startup_time = t0 - _START  # imports, validation, building env and trainer
    saving_time = time.perf_counter() - t_save
    wall = time.perf_counter() - _START
    _write_json(
        out / "summary.json",
        {
            "env_id": config.env_id,
            "num_updates": config.num_updates,
            "env_steps": env_steps_total,
            "final_train_return": float(metrics["episode_return"][-1]),
            "eval": {
                "episodes": num_eval,
                "deterministic": True,
                "mean_return": mean,
                "std_return": std,
                "min_return": float(returns.min()),
                "max_return": float(returns.max()),
            },
            "seconds": {
                "wall": wall,
                "startup": startup_time,
                "compile": compile_time,
                "train": train_time,
                "eval": eval_time,
                "saving": saving_time,
            },
            "cache": {"dir": cache_dir, "hits": hits, "misses": misses},
        },
    )
    print(f"saved config.json, metrics.jsonl, summary.json, checkpoint/ in {out}")
    print(
        f"evaluation over {num_eval} greedy episodes: return {mean:.1f} ± {std:.1f} "
        f"(min {returns.min():.1f}, max {returns.max():.1f})"
    )
    print(
        f"wall time {_seconds(wall)}: startup {_seconds(startup_time)} | compile "
        f"{_seconds(compile_time)} | train {_seconds(train_time)} | eval "
        f"{_seconds(eval_time)} | saving {_seconds(saving_time)}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
