"""Training runs on the host: the logic behind ``scripts/train.py``.

A *run folder* holds one training run::

    RUN/
      config.json     the algorithm config ({"class", "fields"}) and "run": the run
                      options (seed, seeds, chunk, ...) and versions
      metrics.jsonl   one JSON object per update per seed
      evals.jsonl     one JSON object per periodic greedy evaluation
      summary.json    written when the run ends (finished, stopped early or failed)
      checkpoint/     the latest good TrainState (``jaxpg.save``; batched over seeds
                      when ``seeds > 1``): :func:`load_run` reads it
      tensorboard/    event files, with ``--tensorboard``

The host loop calls one compiled chunk of ``chunk`` updates at a time (``Trainer.run``,
vmapped over seeds when ``seeds > 1``); progress, logging, evaluation, checkpoints,
the NaN check and signal handling all happen between chunks, never inside the
compiled function. Chunk boundaries are the multiples of ``chunk`` (plus the final
update), so a run resumed from a checkpoint executes the same compiled chunks on the
same states as an uninterrupted run and ends bit-identical to it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import math
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxpg import checkpoint
from jaxpg.algorithms.a2c import A2CConfig
from jaxpg.algorithms.ppo import PPOConfig
from jaxpg.algorithms.reinforce import ReinforceConfig
from jaxpg.envs import encode_env
from jaxpg.evaluate import episode_returns

__all__ = [
    "ALGORITHMS",
    "RunError",
    "RunOptions",
    "RunOutcome",
    "check_out_dir",
    "load_run",
    "read_metrics",
    "resume_command",
    "train_run",
]

ALGORITHMS: dict[str, type] = {
    "reinforce": ReinforceConfig,
    "a2c": A2CConfig,
    "ppo": PPOConfig,
}

# Run options that change the numbers a run produces: a resumed run must keep them.
FIXED_ON_RESUME = ("seed", "seeds", "chunk")


class RunError(Exception):
    """A problem with the user's input or files, found before training starts."""


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """How a run is driven (everything that is not the algorithm config).

    Attributes:
      seed: PRNG seed of the run (0 <= seed < 2**32).
      seeds: number of seeds trained together in one vmapped call; seed index i
        uses the i-th key of ``jax.random.split(key_init, seeds)``.
      chunk: updates per compiled chunk; the host logs, evaluates and checkpoints
        between chunks.
      eval_every: greedy evaluation at the end of the chunk that reaches each
        multiple of this many updates (0: only after training).
      eval_episodes: episodes per greedy evaluation.
      stop_at_return: end the run once a periodic evaluation's mean return reaches
        this value for every seed (None: never).
      checkpoint_every: checkpoint at the end of the chunk that reaches each
        multiple of this many updates (0: only at the end); always at the end, on
        SIGINT/SIGTERM and before stopping early.
      tensorboard: also write TensorBoard event files (needs tensorboardX).
      progress: "bar" (tqdm), "lines" (a line every second) or "auto" (a bar on a
        terminal, lines otherwise).
    """

    seed: int = 0
    seeds: int = 1
    chunk: int = 10
    eval_every: int = 0
    eval_episodes: int = 100
    stop_at_return: float | None = None
    checkpoint_every: int = 100
    tensorboard: bool = False
    progress: Literal["auto", "bar", "lines"] = "auto"

    def __post_init__(self) -> None:
        def integer(name: str, minimum: int, maximum: int | None = None) -> None:
            value = getattr(self, name)
            ok = isinstance(value, int) and not isinstance(value, bool)
            ok = ok and value >= minimum and (maximum is None or value < maximum)
            if not ok:
                upper = f" and < {maximum}" if maximum is not None else ""
                raise ValueError(
                    f"--{name.replace('_', '-')} must be an integer >= {minimum}"
                    f"{upper}; got {value!r}"
                )

        integer("seed", 0, 2**32)
        integer("seeds", 1)
        integer("chunk", 1)
        integer("eval_every", 0)
        integer("eval_episodes", 1)
        integer("checkpoint_every", 0)
        if self.stop_at_return is not None and not math.isfinite(self.stop_at_return):
            raise ValueError(
                f"--stop-at-return must be a finite number; got {self.stop_at_return}"
            )
        if self.stop_at_return is not None and self.eval_every == 0:
            raise ValueError(
                "--stop-at-return needs periodic evaluation: set --eval-every N"
            )
        if self.progress not in ("auto", "bar", "lines"):
            raise ValueError(
                f"--progress must be one of auto, bar, lines; got {self.progress!r}"
            )


@dataclasses.dataclass
class RunOutcome:
    """What :func:`train_run` ended with."""

    status: str  # "finished" | "solved" | "interrupted" | "diverged"
    updates: int  # updates done (and in the checkpoint, except when "diverged")
    state: Any  # the last good TrainState
    message: str  # what was printed last
    exit_code: int  # what a script should exit with


# ------------------------------------------------------------------ run folder


def check_out_dir(out: Path, *, must_be_empty: bool) -> None:
    """Raises RunError unless ``out`` is a usable (writable) run folder.

    Nothing is created: a temporary file is made and removed in ``out`` or in its
    nearest existing parent.
    """
    flag = "--out" if must_be_empty else "--resume"
    if out.exists() and not out.is_dir():
        raise RunError(f"{flag} {out}: exists and is not a directory")
    if must_be_empty and out.is_dir() and any(out.iterdir()):
        raise RunError(
            f"{flag} {out}: already holds files; choose a new or empty folder "
            "(or continue that run with --resume)"
        )
    existing = out.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise RunError(f"{flag} {out}: {existing} is not a directory")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        raise RunError(f"{flag} {out}: cannot write in {existing} ({error})") from None


def default_out(env_id: str) -> Path:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path("runs") / f"{env_id}-{stamp}"
    suffix = 1
    while out.exists():
        out = Path("runs") / f"{env_id}-{stamp}-{suffix}"
        suffix += 1
    return out


def write_json(path: Path, data: Any) -> None:
    """Atomically (a renamed sibling) writes strict JSON."""
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")
    os.replace(tmp, path)


def read_run_config(run_dir: Path) -> tuple[Any, dict]:
    """(algorithm config, run options dict) from ``RUN/config.json``."""
    path = run_dir / "config.json"
    if not run_dir.is_dir():
        raise RunError(f"--resume {run_dir}: no such run folder")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(
            f"{run_dir} is not a jaxpg run folder: it has no config.json"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RunError(f"{path} is corrupted (not valid JSON: {error})") from None
    try:
        config = checkpoint.config_from_dict(data)
    except (ValueError, TypeError) as error:
        raise RunError(f"{path}: {error}") from None
    run = data.get("run")
    if not isinstance(run, dict):
        raise RunError(f'{path} has no "run" section: not written by scripts/train.py')
    return config, run


def algorithm_name(config: Any) -> str:
    for name, cls in ALGORITHMS.items():
        if type(config) is cls:
            return name
    raise TypeError(f"unknown config type {type(config).__name__}")


def algorithm_label(config: Any) -> str:
    names = {"reinforce": "REINFORCE", "a2c": "A2C", "ppo": "PPO"}
    try:
        return names[algorithm_name(config)]
    except TypeError:
        return type(config).__name__


def resume_command(run_dir: Path) -> str:
    return f"python scripts/train.py --resume {run_dir}"


def read_metrics(run_dir: Path) -> list[dict]:
    """The rows of ``RUN/metrics.jsonl`` (a truncated last line is ignored)."""
    rows = []
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return rows
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            break  # a line cut by a crash: everything after it is unreliable
    return rows


# ------------------------------------------------------------ compiled programs


def _init_fn(trainer: Any, seeds: int) -> Callable:
    if seeds == 1:
        return trainer.init
    return lambda keys: jax.vmap(trainer.init)(keys)


def _init_keys(seed: int, seeds: int) -> tuple[jax.Array, jax.Array]:
    """(initialisation key or keys [seeds], evaluation key)."""
    key_init, key_eval = jax.random.split(jax.random.key(seed))
    if seeds > 1:
        key_init = jax.random.split(key_init, seeds)
    return key_init, key_eval


def state_template(trainer: Any, options: RunOptions) -> Any:
    """The abstract TrainState of a run (batched over seeds when seeds > 1)."""
    key_init, _ = _init_keys(options.seed, options.seeds)
    return jax.eval_shape(_init_fn(trainer, options.seeds), key_init)


def _chunk_program(trainer: Any, seeds: int, n: int) -> Callable:
    if seeds == 1:
        return lambda state: trainer.run(state, n)
    return jax.vmap(lambda state: trainer.run(state, n))


def _all_finite(tree: Any, seeds: int) -> jax.Array:
    """Per seed ([seeds] bool): every leaf of ``tree`` finite."""
    leaves = [x for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.inexact)]
    if seeds == 1:
        ok = [jnp.all(jnp.isfinite(x)) for x in leaves]
        return jnp.stack(ok).all(keepdims=True) if ok else jnp.ones(1, bool)
    ok = [jnp.isfinite(x).reshape(seeds, -1).all(axis=1) for x in leaves]
    return jnp.stack(ok).all(axis=0) if ok else jnp.ones(seeds, bool)


# Compiled programs reused across runs in one process (tests, notebooks): keyed by
# everything that defines them, only for runs built from a config alone.
_COMPILED: dict[tuple, Any] = {}


def _compiled(key: tuple | None, build: Callable[[], Any]) -> Any:
    if key is None:
        return build()
    if key not in _COMPILED:
        _COMPILED[key] = build()
    return _COMPILED[key]


# ----------------------------------------------------------------- loading a run


def load_run(run_dir: str | os.PathLike) -> tuple[Any, Any, RunOptions]:
    """(state, config, options) of a run folder's checkpoint.

    The state is batched over seeds (a leading axis) when ``options.seeds > 1``.

    Raises:
      RunError: not a run folder, no checkpoint, or a corrupted one.
    """
    from jaxpg.train import make_trainer

    run_dir = Path(run_dir)
    config, run = read_run_config(run_dir)
    options = options_from_run(run, run_dir)
    trainer = make_trainer(config)
    state = load_checkpoint(run_dir, trainer, config, options)
    return state, config, options


def options_from_run(run: dict, run_dir: Path) -> RunOptions:
    names = {f.name for f in dataclasses.fields(RunOptions)}
    try:
        return RunOptions(**{k: v for k, v in run.items() if k in names})
    except (TypeError, ValueError) as error:
        raise RunError(
            f"{run_dir}/config.json: invalid run options ({error})"
        ) from None


def load_checkpoint(run_dir: Path, trainer: Any, config: Any, options: RunOptions):
    path = run_dir / "checkpoint"
    if not path.exists():
        raise RunError(
            f"{run_dir} has no checkpoint (checkpoint/ is missing: the run stopped "
            "before its first checkpoint); start a new run instead"
        )
    try:
        state, saved_config = checkpoint.load(
            path, like=state_template(trainer, options)
        )
    except (OSError, ValueError) as error:
        raise RunError(f"cannot resume from {path}: {error}") from None
    if saved_config != config:
        raise RunError(
            f"{path} holds a checkpoint of a different config than "
            f"{run_dir}/config.json; the run folder is inconsistent"
        )
    return state


# --------------------------------------------------------------------- the loop


def _python(value: Any) -> Any:
    """A numpy scalar as a JSON-ready Python number (non-finite floats → null)."""
    value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def seconds(s: float) -> str:
    return f"{s:.1f} s" if s >= 0.1 else f"{s * 1000:.0f} ms"


def _crossed(before: int, after: int, every: int) -> bool:
    return every > 0 and after // every > before // every


class _Signals:
    """Records SIGINT/SIGTERM so the loop can stop after the current chunk."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        self.received = signum
        # A second signal acts immediately (the default handler).
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        print(
            f"\n{signal.Signals(signum).name} received: finishing the current chunk, "
            "then saving a checkpoint (send it again to stop at once)",
            file=sys.stderr,
            flush=True,
        )

    def __enter__(self) -> _Signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            # Outside the main thread signals cannot be caught: leave them alone.
            with contextlib.suppress(ValueError):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


class _Progress:
    """A tqdm bar, or a line at most every second ("off": nothing)."""

    def __init__(self, mode: str, total: int, initial: int) -> None:
        self.off = mode == "off"
        if mode == "auto":
            mode = "bar" if sys.stderr.isatty() else "lines"
        self.total = total
        self.bar = None
        self.last = -math.inf
        if mode == "bar":
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=total, initial=initial, unit="upd", dynamic_ncols=True
            )

    def update(self, done: int, n: int, env_steps: int, rate: float, ret: float):
        if self.off:
            return
        if self.bar is not None:
            self.bar.set_postfix_str(
                f"env steps {env_steps:,} | {rate:,.0f} steps/s | return {ret:.1f}",
                refresh=False,
            )
            self.bar.update(n)
            return
        now = time.perf_counter()
        if now - self.last >= 1.0 or done == self.total:
            self.last = now
            self.write(
                f"update {done:>{len(str(self.total))}}/{self.total} | env steps "
                f"{env_steps:,} | {rate:,.0f} steps/s | return {ret:.1f}"
            )

    def write(self, text: str) -> None:
        if self.off:
            return
        if self.bar is not None:
            self.bar.write(text)
        else:
            print(text, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _tensorboard_writer(out: Path) -> Any:
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise RunError(
            "--tensorboard needs the tensorboardX package, which is not installed "
            "(pip install tensorboardX); metrics.jsonl is written either way"
        ) from None
    return SummaryWriter(str(out / "tensorboard"))


def check_tensorboard() -> None:
    """RunError when ``--tensorboard`` cannot work (before anything is compiled)."""
    try:
        import tensorboardX  # noqa: F401
    except ImportError:
        _tensorboard_writer(Path("."))


def _describe_failure(metrics: dict, finite: np.ndarray, done: int, seeds: int):
    """(first bad update index, text) for a chunk with a non-finite value."""
    loss = np.asarray(metrics["loss"]).reshape(seeds, -1)
    n = loss.shape[1]
    bad_loss = ~np.isfinite(loss)
    if bad_loss.any():
        step = int(np.nonzero(bad_loss.any(axis=0))[0][0])
        who = np.nonzero(bad_loss[:, step])[0].tolist()
        value = loss[who[0], step]
        where = f" (seed index {', '.join(map(str, who))})" if seeds > 1 else ""
        return (
            done + step + 1,
            f"the loss is {value} at update {done + step + 1}{where}",
        )
    who = np.nonzero(~finite)[0].tolist()
    where = f" (seed index {', '.join(map(str, who))})" if seeds > 1 else ""
    return done + n, (
        f"the parameters are not finite after update {done + n}{where} (the loss of "
        f"updates {done + 1}-{done + n} was finite)"
    )


def _quiet(text: str) -> None:
    """The log of every process but process 0."""


def _build(config, options, trainer, env, env_params, policy, mesh):
    """The trainer, environment and policy of a run (``RunError`` on bad input)."""
    import jaxpg

    sharding = None
    if mesh is not None:
        from jaxpg import distributed

        if options.seeds > 1:
            raise RunError(
                f"--seeds {options.seeds} with --devices {mesh.size}: seeds are not "
                "split over devices by train.py; use --devices 1 with --seeds, or "
                "scripts/train_distributed.py --num-seeds "
                f"{options.seeds} (jaxpg.distributed.make_seed_train)"
            )
        try:
            distributed.check_divisible(config.num_envs, mesh.size)
        except ValueError as error:
            raise RunError(f"--num-envs: {error}") from None
        if trainer is not None:
            raise ValueError("train_run: pass either trainer= or mesh=, not both")
        sharding = distributed.batch_sharding(mesh)
    try:
        if env is None:
            if config.env_id is None:
                raise ValueError("is required (a gymnax id such as CartPole-v1)")
            env, env_params = jaxpg.make_env(config.env_id)
        if trainer is None:
            trainer = jaxpg.make_trainer(
                config, env, env_params, policy, sharding=sharding
            )
        if policy is None:
            policy = jaxpg.make_policy(config, env, env_params)
    except (ValueError, TypeError) as error:
        raise RunError(f"--env-id {config.env_id}: {error}") from None
    if env_params is None:
        env_params = encode_env(env).default_params
    return trainer, env, env_params, policy


def _placement(trainer, mesh, config, key_init):
    """jit keyword arguments placing the state over ``mesh`` (empty without one).

    Parameters are replicated, carried environments split. Returns the state's
    shardings (None without a mesh) and the kwargs of the init, chunk and small
    (finite check, evaluation) programs.
    """
    if mesh is None:
        return None, {}, {}, {}
    from jaxpg import distributed

    state_sh = distributed.state_shardings(
        jax.eval_shape(trainer.init, key_init), mesh, config.num_envs
    )
    rep = distributed.replicated(mesh)
    return (
        state_sh,
        {"out_shardings": state_sh},
        {"in_shardings": (state_sh,), "out_shardings": (state_sh, rep)},
        {"out_shardings": rep},
    )


def _metric_rows(metrics, first_update, count, seeds, totals):
    """JSONL rows (one per update per seed) of a chunk's first ``count`` updates.

    ``totals`` (cumulative real env steps per seed, Python ints) is advanced.
    """
    for i in range(count):
        for s in range(seeds):
            per_seed = (
                {k: v[i] for k, v in metrics.items()}
                if seeds == 1
                else {k: v[s, i] for k, v in metrics.items()}
            )
            totals[s] += int(per_seed["env_steps"])
            row = {
                "update": first_update + i,
                "seed_index": s,
                "env_steps_total": totals[s],
            }
            row.update({k: _python(v) for k, v in sorted(per_seed.items())})
            yield row


def _final_eval(returns: np.ndarray, update: int, episodes: int) -> dict:
    """summary.json's "eval" entry from ``[seeds, episodes]`` returns."""
    return {
        "update": update,
        "episodes": episodes,
        "deterministic": True,
        "mean_return": float(returns.mean()),
        "std_return": float(returns.std()),
        "min_return": float(returns.min()),
        "max_return": float(returns.max()),
        "per_seed_mean": returns.mean(axis=1).tolist(),
    }


def _checkpoint_start(
    out: Path, trainer: Any, config: Any, options: RunOptions
) -> tuple[Any, int]:
    """(state, update count) of the checkpoint a resumed run starts from."""
    state = load_checkpoint(out, trainer, config, options)
    done = int(np.asarray(state.step).reshape(-1)[0])
    if done > config.num_updates:
        raise RunError(
            f"the checkpoint in {out} is at update {done}, past "
            f"num_updates={config.num_updates}"
        )
    return state, done


def _header(config: Any, options: RunOptions, out: Path, mesh: Any) -> str:
    """The first line a run logs: what it trains, on what, into which folder."""
    seeds = options.seeds
    return (
        f"jaxpg {algorithm_label(config)} on {config.env_id}: {config.num_envs} envs x "
        f"{config.num_updates} updates, seed {options.seed}"
        + (f" x {seeds} seeds (one vmapped call)" if seeds > 1 else "")
        + (
            f" over {mesh.size} devices ({jax.process_count()} processes)"
            if mesh is not None
            else ""
        )
        + f", {jax.default_backend()} | run folder {out}"
    )


class _Programs(NamedTuple):
    """The compiled programs the loop calls."""

    chunks: dict[int, Any]  # n: state -> (state after n updates, metrics)
    finite: Any  # params -> [seeds] bool (every leaf finite)
    evaluate: Any  # (key, params) -> [seeds, episodes] greedy returns


def _chunk_sizes(chunk: int, total: int, done: int) -> list[int]:
    """The update counts of the chunks left after update ``done``.

    The last chunk is shorter when ``chunk`` does not divide ``total``; a run
    resumed at that last chunk never calls (so never compiles) a full one.
    """
    sizes = {chunk} | ({total % chunk} if total % chunk else set())
    return [n for n in sorted(sizes) if done + n <= total]


def _evaluator(
    policy: Any, env: Any, env_params: Any, episodes: int, seeds: int
) -> Callable:
    """(key, params) -> [seeds, episodes] greedy returns (the key split per seed)."""

    def evaluate(key, params):
        def one(k, p):
            return episode_returns(k, policy, p["policy"], env, env_params, episodes)

        if seeds == 1:
            return one(key, params)[None]
        return jax.vmap(one)(jax.random.split(key, seeds), params)

    return evaluate


def _compile_programs(
    trainer: Any,
    evaluate: Callable,
    options: RunOptions,
    sizes: list[int],
    keys: tuple[jax.Array, jax.Array],
    state: Any,
    jit_kwargs: tuple[dict, dict, dict],
    cache_key: tuple | None,
) -> tuple[_Programs, Any]:
    """Compiles (AOT) a run's programs; returns them and the starting state.

    ``state`` is the resumed TrainState, or None: then the compiled init program
    makes a fresh one (the other programs are lowered on it). ``cache_key`` names
    the run in the process-wide cache (None: compiled anew, not cached).
    """
    seeds, episodes = options.seeds, options.eval_episodes
    key_init, key_eval = keys
    init_jit, run_jit, small_jit = jit_kwargs

    def key(*parts: Any) -> tuple | None:
        return None if cache_key is None else (*cache_key, *parts)

    init_fn = _compiled(
        key("init"),
        lambda: jax.jit(_init_fn(trainer, seeds), **init_jit).lower(key_init).compile(),
    )
    if state is None:
        state = init_fn(key_init)
    chunks = {
        n: _compiled(
            key("run", n),
            lambda n=n: (
                jax.jit(_chunk_program(trainer, seeds, n), **run_jit)
                .lower(state)
                .compile()
            ),
        )
        for n in sizes
    }
    finite_fn = _compiled(
        key("finite"),
        lambda: (
            jax.jit(lambda p: _all_finite(p, seeds), **small_jit)
            .lower(state.params)
            .compile()
        ),
    )
    eval_fn = _compiled(
        key("eval", episodes),
        lambda: jax.jit(evaluate, **small_jit).lower(key_eval, state.params).compile(),
    )
    return _Programs(chunks, finite_fn, eval_fn), state


def _prepare_run_folder(
    out: Path,
    config: Any,
    options: RunOptions,
    done: int,
    *,
    resume: bool,
    primary: bool,
) -> list[int]:
    """Creates ``out``; returns each seed's env steps up to update ``done``.

    Only process 0 writes: a resumed run's metrics.jsonl loses the rows logged
    after its checkpoint (the loop redoes those updates), a new run gets its
    config.json.
    """
    out.mkdir(parents=True, exist_ok=True)
    rows_before = [r for r in read_metrics(out) if r.get("update", 0) <= done]
    totals = [0] * options.seeds
    for row in rows_before:
        totals[row.get("seed_index", 0)] = row["env_steps_total"]
    if resume and primary:  # drop rows logged after the checkpoint: they are redone
        lines = "".join(json.dumps(r, allow_nan=False) + "\n" for r in rows_before)
        tmp = out / ".metrics.jsonl.partial"
        tmp.write_text(lines, encoding="utf-8")
        os.replace(tmp, out / "metrics.jsonl")
    elif primary:
        write_json(out / "config.json", run_config_json(config, options))
    return totals


def _divergence_message(what: str, last_checkpoint: int | None, out: Path) -> str:
    """What a diverged run prints last: what failed, what is kept, what to try."""
    kept = (
        f"the last good checkpoint (update {last_checkpoint}) is kept in "
        f"{out / 'checkpoint'}"
        if last_checkpoint is not None
        else "no checkpoint had been saved yet"
    )
    return (
        f"training stopped: {what}; the state after that chunk was not "
        f"saved, {kept}. Try a smaller --learning-rate or "
        "--max-grad-norm."
    )


def _interrupted_message(
    signum: int, done: int, total: int, out: Path, mesh: Any
) -> str:
    """What a run stopped by a signal prints last: how to resume it."""
    name = signal.Signals(signum).name
    return (
        f"{name}: stopped after update {done}/{total} and saved a "
        f"checkpoint in {out / 'checkpoint'}; resume with:\n  "
        f"{resume_command(out)}"
        + (f" --devices {mesh.size}" if mesh is not None else "")
    )


def _tensorboard_chunk(
    writer: Any, metrics: dict, seeds: int, n: int, before: int
) -> None:
    """Every metric of a chunk's ``n`` updates after ``before`` (mean over seeds)."""
    for i in range(n):
        for k, v in metrics.items():
            value = np.asarray(v).reshape(seeds, n)[:, i].astype(float)
            writer.add_scalar(f"train/{k}", float(value.mean()), before + i + 1)


@dataclasses.dataclass(kw_only=True)
class _Loop:
    """The chunk loop of :func:`train_run` and where it stands.

    ``state`` is the last good TrainState (after update ``done``); the other
    fields are what the summary reports. Only process 0 writes files; every
    process saves the checkpoint (collective).
    """

    programs: _Programs
    config: Any
    options: RunOptions
    out: Path
    primary: bool
    key_eval: jax.Array
    writer: Any  # a tensorboardX SummaryWriter, or None
    progress: _Progress
    state: Any
    done: int
    totals: list[int]  # env steps per seed
    last_checkpoint: int | None
    status: str = "finished"  # as RunOutcome.status
    message: str = ""
    exit_code: int = 0
    last_eval: np.ndarray | None = None  # [seeds, episodes] greedy returns
    last_return: float = math.nan  # mean training return of the last update

    def save(self) -> None:
        checkpoint.save(self.out / "checkpoint", self.state, self.config)
        self.last_checkpoint = self.done

    def evaluate(self, announce: bool = True) -> np.ndarray:
        """The state's greedy returns [seeds, episodes], appended to evals.jsonl."""
        at, seeds = self.done, self.options.seeds
        key = jax.random.fold_in(self.key_eval, at)
        returns = self.programs.evaluate(key, self.state.params)
        returns = np.asarray(jax.device_get(returns))
        row = {
            "update": at,
            "env_steps_total": self.totals[:],
            "mean_return": returns.mean(axis=1).tolist(),
            "std_return": returns.std(axis=1).tolist(),
        }
        if self.primary:
            with open(self.out / "evals.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
        if self.writer is not None:
            self.writer.add_scalar("eval/mean_return", float(returns.mean()), at)
        means = returns.mean(axis=1)
        per_seed = (
            f" (seeds: {', '.join(f'{m:.1f}' for m in means)})" if seeds > 1 else ""
        )
        if announce:
            self.progress.write(
                f"evaluation at update {at}: greedy return {returns.mean():.1f} ± "
                f"{returns.std():.1f} over {self.options.eval_episodes} episodes"
                f"{per_seed}"
            )
        return returns

    def _check(self, new_state: Any, metrics: dict, n: int) -> tuple[int, str | None]:
        """(updates of the chunk to keep, what went wrong: None when all finite)."""
        seeds = self.options.seeds
        finite = np.asarray(self.programs.finite(new_state.params)).reshape(seeds)
        loss_ok = np.isfinite(np.asarray(metrics["loss"])).all()
        if bool(loss_ok and finite.all()):
            return n, None
        bad, what = _describe_failure(metrics, finite, self.done, seeds)
        return bad - self.done, what

    def _write_rows(self, file: Any, metrics: dict, count: int) -> None:
        """metrics.jsonl rows of the first ``count`` updates after ``done``."""
        seeds = self.options.seeds
        for row in _metric_rows(metrics, self.done + 1, count, seeds, self.totals):
            file.write(json.dumps(row, allow_nan=False) + "\n")
        file.flush()

    def _advance(
        self, new_state: Any, metrics: dict, n: int, t_train: float, steps_at_start: int
    ) -> None:
        """Takes a good chunk's state; reports its return and speed."""
        seeds = self.options.seeds
        self.state = new_state
        before, self.done = self.done, self.done + n
        returns = np.asarray(metrics["episode_return"]).reshape(seeds, n)[:, -1]
        self.last_return = float(returns.mean())
        if self.writer is not None:
            _tensorboard_chunk(self.writer, metrics, seeds, n, before)
        rate = (sum(self.totals) - steps_at_start) / max(
            time.perf_counter() - t_train, 1e-9
        )
        self.progress.update(
            self.done, n, sum(self.totals) // seeds, rate, self.last_return
        )

    def _stops(self, before: int, signals: _Signals, mesh: Any) -> bool:
        """Evaluates and checkpoints when due after a chunk; True: stop the run.

        A run stops when an evaluation reaches ``stop_at_return`` or a signal has
        come; both save a checkpoint first.
        """
        options, total = self.options, self.config.num_updates
        if _crossed(before, self.done, options.eval_every) and self.done < total:
            self.last_eval = self.evaluate()
            target = options.stop_at_return
            if target is not None and (self.last_eval.mean(axis=1) >= target).all():
                self.status = "solved"
                self.message = (
                    f"stopped early at update {self.done}: the greedy evaluation "
                    f"reached --stop-at-return {target:g}"
                )
                self.save()
                return True
        if signals.received is not None:
            self.save()
            self.status, self.exit_code = "interrupted", 128 + signals.received
            self.message = _interrupted_message(
                signals.received, self.done, total, self.out, mesh
            )
            return True
        if self.done == total or _crossed(before, self.done, options.checkpoint_every):
            self.save()
        return False

    def run(
        self, chunk: int, mesh: Any, on_chunk: Callable[[int], None] | None
    ) -> float:
        """Runs chunks until the end, a divergence, an early stop or a signal.

        Closes the progress display; returns the seconds spent training.
        """
        total = self.config.num_updates
        t_train = time.perf_counter()
        steps_at_start = sum(self.totals)
        with (
            _Signals() as signals,
            open(
                self.out / "metrics.jsonl" if self.primary else os.devnull,
                "a",
                encoding="utf-8",
            ) as metrics_file,
        ):
            while self.done < total:
                before, n = self.done, min(chunk, total - self.done)
                new_state, metrics = self.programs.chunks[n](self.state)
                metrics = jax.device_get(metrics)
                good, failure = self._check(new_state, metrics, n)
                # The rows before a bad update are logged; the chunk's state is not kept.
                self._write_rows(metrics_file, metrics, good)
                if failure is not None:
                    self.status, self.exit_code = "diverged", 1
                    self.message = _divergence_message(
                        failure, self.last_checkpoint, self.out
                    )
                    break
                self._advance(new_state, metrics, n, t_train, steps_at_start)
                if on_chunk is not None:
                    on_chunk(self.done)
                if self._stops(before, signals, mesh):
                    break
        self.progress.close()
        return time.perf_counter() - t_train

    def final_evaluation(self) -> dict | None:
        """summary.json's "eval" (None unless the run finished or was solved).

        A finished run is evaluated once more; a solved one reports the evaluation
        that stopped it.
        """
        if self.status == "finished":
            self.last_eval = self.evaluate(announce=False)
        if self.status in ("finished", "solved") and self.last_eval is not None:
            return _final_eval(self.last_eval, self.done, self.options.eval_episodes)
        return None


def _summary(loop: _Loop, final: dict | None, times: dict[str, float]) -> dict:
    """summary.json: how the run ended, its env steps, returns and timings."""
    last_return = loop.last_return
    return {
        "env_id": loop.config.env_id,
        "status": loop.status,
        "updates": loop.done,
        "num_updates": loop.config.num_updates,
        "checkpoint_update": loop.last_checkpoint,
        "env_steps": loop.totals,
        "final_train_return": last_return if math.isfinite(last_return) else None,
        "eval": final,
        "seconds": times,
    }


def _final_eval_text(final: dict, episodes: int, seeds: int) -> str:
    """The line that reports summary.json's "eval"."""
    return (
        f"evaluation over {episodes} greedy episodes"
        + (f" x {seeds} seeds" if seeds > 1 else "")
        + f": return {final['mean_return']:.1f} ± {final['std_return']:.1f} "
        f"(min {final['min_return']:.1f}, max {final['max_return']:.1f})"
    )


def train_run(
    config: Any,
    options: RunOptions,
    out: Path,
    *,
    resume: bool = False,
    trainer: Any = None,
    env: Any = None,
    env_params: Any = None,
    policy: Any = None,
    log: Callable[[str], None] | None = None,
    on_chunk: Callable[[int], None] | None = None,
    cache_note: Callable[[], str] | None = None,
    mesh: Any = None,
) -> RunOutcome:
    """Trains ``config`` with ``options`` into the run folder ``out``.

    Args:
      config: an algorithm config.
      options: the run options.
      out: the run folder: new or empty, or (``resume=True``) a run folder whose
        ``config.json`` matches ``config`` and ``options`` (checked by the caller:
        scripts/train.py) and which holds a checkpoint.
      resume: continue from ``out/checkpoint``.
      trainer, env, env_params, policy: a custom trainer (e.g. a test's) and the
        environment/policy the evaluation uses; built from ``config`` otherwise.
      log: where messages go (``print`` by default).
      on_chunk: called with the update count after every chunk (tests use it to
        simulate a signal).
      cache_note: called after compiling; its text is added to the "compiled in"
        line (scripts/train.py reports the persistent compilation cache).
      mesh: a :func:`jaxpg.distributed.make_mesh` mesh to split the environments
        over (parameters replicated); None: the single-device program. With
        several processes (:func:`jaxpg.distributed.initialize`) only process 0
        logs and writes the run folder's files; every process saves the
        checkpoint (collective).

    Returns:
      A :class:`RunOutcome`. Problems with the input raise :class:`RunError`
      before anything is compiled or written.
    """

    t_start = time.perf_counter()
    primary = jax.process_index() == 0
    if not primary:
        log = _quiet
    log = log or (lambda text: print(text, flush=True))
    out = Path(out)
    if primary:  # the others could see the files process 0 is writing
        check_out_dir(out, must_be_empty=not resume)
    if options.tensorboard:
        check_tensorboard()
    custom = trainer is not None or env is not None or policy is not None
    trainer, env, env_params, policy = _build(
        config, options, trainer, env, env_params, policy, mesh
    )
    seeds, chunk = options.seeds, min(options.chunk, config.num_updates)
    total = config.num_updates
    key_init, key_eval = _init_keys(options.seed, seeds)

    # ---- the starting state: the checkpoint, or (None) a fresh one made below
    state, done = (
        _checkpoint_start(out, trainer, config, options) if resume else (None, 0)
    )
    state_sh, init_jit, run_jit, small_jit = _placement(trainer, mesh, config, key_init)
    if resume and state_sh is not None:
        state = jax.device_put(state, state_sh)
    # Programs of a custom trainer/env/policy are not cached: the key cannot name them.
    mesh_key = None if mesh is None else tuple(d.id for d in mesh.devices.flat)
    cache_key = None if custom else (config, seeds, mesh_key)
    log(_header(config, options, out, mesh))

    # ---- compile (AOT), timed apart from training
    t0 = time.perf_counter()
    programs, state = _compile_programs(
        trainer,
        _evaluator(policy, env, env_params, options.eval_episodes, seeds),
        options,
        _chunk_sizes(chunk, total, done),
        (key_init, key_eval),
        state,
        (init_jit, run_jit, small_jit),
        cache_key,
    )
    compile_time = time.perf_counter() - t0

    # ---- files: from here on the run folder is written
    totals = _prepare_run_folder(
        out, config, options, done, resume=resume, primary=primary
    )
    writer = _tensorboard_writer(out) if options.tensorboard and primary else None
    log(
        f"compiled in {seconds(compile_time)}"
        + (f"; {cache_note()}" if cache_note is not None else "")
    )
    if resume:
        log(f"resuming at update {done}/{total} from {out / 'checkpoint'}")

    # ---- training: one compiled chunk at a time
    loop = _Loop(
        programs=programs,
        config=config,
        options=options,
        out=out,
        primary=primary,
        key_eval=key_eval,
        writer=writer,
        progress=_Progress(options.progress if primary else "off", total, done),
        state=state,
        done=done,
        totals=totals,
        last_checkpoint=done if resume else None,
    )
    train_time = loop.run(chunk, mesh, on_chunk)

    # ---- the end: a final evaluation of a finished run, and the summary
    final = loop.final_evaluation()
    if writer is not None:
        writer.close()
    times = {
        "total": time.perf_counter() - t_start,
        "compile": compile_time,
        "train": train_time,
    }
    summary = _summary(loop, final, times)
    if primary:
        write_json(out / "summary.json", summary)
    if final is not None:
        log(_final_eval_text(final, options.eval_episodes, seeds))
    if loop.message:
        log(loop.message)
    return RunOutcome(loop.status, loop.done, loop.state, loop.message, loop.exit_code)


def run_config_json(config: Any, options: RunOptions) -> dict:
    import jaxpg

    run = dataclasses.asdict(options)
    run.update(
        jaxpg_version=jaxpg.__version__,
        jax_version=jax.__version__,
        backend=jax.default_backend(),
    )
    return {**checkpoint.config_to_dict(config), "run": run}
