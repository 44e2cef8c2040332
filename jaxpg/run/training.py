"""A training run from start to end: :func:`train_run`, what scripts/train.py runs.

:func:`train_run` takes named steps: check the input and the run folder and build
the run's parts (:func:`_ready`: nothing compiled or written yet, so bad input is
a :class:`~jaxpg.run.options.RunError`), compile its programs ahead of time
(timed apart from training), write the run folder's first files, run the chunk
loop (:class:`~jaxpg.run.loop.ChunkLoop`), then evaluate and summarise. What a
run folder holds: :mod:`jaxpg.run.folder`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax

from jaxpg.files import write_json
from jaxpg.run import console, folder, lock, records, tracking
from jaxpg.run.keep import Keeper
from jaxpg.run.loop import ChunkLoop, RunSpec
from jaxpg.run.options import RunOptions, RunOutcome
from jaxpg.run.parts import Parts, build_parts
from jaxpg.run.programs import (
    Compiled,
    Placement,
    cache_key,
    chunk_sizes,
    compile_programs,
    evaluator,
    placement,
    programs_note,
)

__all__ = ["train_run"]


class _Ready(NamedTuple):
    """A run ready to compile: its parts, starting point and placement."""

    parts: Parts
    start: folder.Start
    where: Placement
    lock: lock.RunLock | None  # the run folder's lock (process 0), held to the end


def _ready(spec: RunSpec, given: Parts) -> _Ready:
    """Checks the run folder and input; builds the parts; locks the folder; loads
    a resumed state.

    Raises:
      RunError: before anything is compiled or written (the lock is given back).
    """
    config, options = spec.config, spec.options
    flag = "--resume" if spec.resume else "--out"
    if spec.primary:  # the others could see the files process 0 is writing
        folder.check_out_dir(spec.out, must_be_empty=not spec.resume)
    if spec.resume:
        folder.check_resume_options(spec.out, config, options)
    if options.tensorboard:
        console.check_tensorboard()
    if options.wandb is not None:
        tracking.check_wandb()
    parts = build_parts(config, options, given, spec.mesh)
    held = (
        lock.acquire(spec.out, flag, must_be_empty=not spec.resume)
        if spec.primary
        else None
    )
    try:
        start = (
            folder.checkpoint_start(
                spec.out,
                parts.trainer,
                config,
                options,
                restore=spec.primary,
                log=spec.log,
            )
            if spec.resume
            else folder.Start(None, 0)
        )
        where = placement(parts.trainer, spec.mesh, config, options.seed)
        if spec.resume and where.state is not None:
            start = start._replace(state=jax.device_put(start.state, where.state))
    except BaseException:
        if held is not None:
            held.release()
        raise
    return _Ready(parts, start, where, held)


def _compile(spec: RunSpec, ready: _Ready, custom: bool) -> Compiled:
    """The run's compiled programs and starting state (:class:`Compiled`)."""
    config, options, parts = spec.config, spec.options, ready.parts
    chunk = min(options.chunk, config.num_updates)
    return compile_programs(
        parts.trainer,
        evaluator(
            parts.policy,
            parts.env,
            parts.env_params,
            options.eval_episodes,
            options.seeds,
        ),
        options,
        chunk_sizes(chunk, config.num_updates, ready.start.done),
        ready.start.state,
        ready.where,
        cache_key(config, options.seeds, spec.mesh, custom),
        config.num_updates,
    )


def _open_loop(
    spec: RunSpec,
    ready: _Ready,
    compiled: Compiled,
    compile_time: float,
    cache_note: Callable[[], str] | None,
    tracker: tracking.WandbTracker | None,
) -> ChunkLoop:
    """Writes the run folder's first files and the lines before training."""
    config, options, done = spec.config, spec.options, ready.start.done
    totals = records.prepare_run_folder(
        spec.out,
        config,
        options,
        ready.start,
        resume=spec.resume,
        primary=spec.primary,
        log=spec.log,
    )
    writer = (
        console.tensorboard_writer(spec.out)
        if options.tensorboard and spec.primary
        else None
    )
    keeper = Keeper(spec.out, options.keep, options.keep_best, spec.primary)
    keeper.start(done)
    spec.log(
        f"compiled in {console.seconds(compile_time)} "
        + programs_note(compiled, options.fast_compile)
        + (f"; {cache_note()}" if cache_note is not None else "")
    )
    if spec.resume:
        spec.log(
            f"resuming at update {done}/{config.num_updates} from "
            f"{spec.out / 'checkpoint'}"
        )
    return ChunkLoop(
        spec=spec,
        programs=compiled.programs,
        writer=writer,
        progress=console.Progress(
            options.progress if spec.primary else "off", config.num_updates, done
        ),
        state=compiled.state,
        done=done,
        totals=totals,
        last_checkpoint=done if spec.resume else None,
        keeper=keeper,
        tracker=tracker,
    )


def _finish(loop: ChunkLoop, times: dict[str, float], t_start: float) -> RunOutcome:
    """Evaluates a finished run, writes summary.json, logs the last lines."""
    spec = loop.spec
    final = loop.final_evaluation()
    if loop.writer is not None:
        loop.writer.close()
    times = {"total": time.perf_counter() - t_start, **times}
    summary = loop.summary(final, times)
    if spec.primary:
        write_json(spec.out / "summary.json", summary)
    if loop.tracker is not None:
        loop.tracker.finish(summary, loop.exit_code)
    if final is not None:
        spec.log(
            console.final_eval_text(
                final, spec.options.eval_episodes, spec.options.seeds
            )
        )
    if loop.message:
        spec.log(loop.message)
    return RunOutcome(loop.status, loop.done, loop.state, loop.message, loop.exit_code)


def _train(
    spec: RunSpec,
    ready: _Ready,
    custom: bool,
    cache_note: Callable[[], str] | None,
    on_chunk: Callable[[int], None] | None,
    t_start: float,
) -> RunOutcome:
    """Compiles, trains and finishes a ready run (its folder locked)."""
    spec.log(console.header(spec.config, spec.options, spec.out, spec.mesh))
    # Before compiling and the first write: a W&B run that cannot start (no login)
    # is reported at once and leaves the folder as it was.
    options = spec.options
    tracker = (
        tracking.WandbTracker(spec.out, spec.config, options, spec.resume)
        if options.wandb is not None and spec.primary
        else None
    )
    t0 = time.perf_counter()  # compile (AOT), timed apart from training
    compiled = _compile(spec, ready, custom)
    spec.log("programs: " + "; ".join(compiled.compiled))
    compile_time = time.perf_counter() - t0
    loop = _open_loop(spec, ready, compiled, compile_time, cache_note, tracker)
    train_time = loop.run(on_chunk)
    return _finish(loop, {"compile": compile_time, "train": train_time}, t_start)


def _print(text: str) -> None:
    print(text, flush=True)


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
      config: a registered algorithm's config.
      options: the run options.
      out: the run folder: new or empty, or (``resume=True``) a run folder whose
        ``config.json`` matches ``config`` and ``options`` (checked by the caller:
        scripts/train.py) and which holds a checkpoint.
      resume: continue from ``out/checkpoint``.
      trainer: a custom trainer (e.g. a test's); built from ``config`` otherwise.
      env: the environment the evaluation uses (and the trainer, when built).
      env_params: its parameters.
      policy: the policy the evaluation uses (and the trainer, when built).
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
      before anything is compiled or written; so does a run folder that another
      process is running in (process 0 holds ``RUN/.lock`` from before its
      first write to the end of the run).
    """
    t_start = time.perf_counter()
    primary = jax.process_index() == 0
    log = console.quiet if not primary else (log or _print)
    spec = RunSpec(config, options, Path(out), resume, primary, mesh, log)
    given = Parts(trainer, env, env_params, policy)
    custom = trainer is not None or env is not None or policy is not None
    ready = _ready(spec, given)
    try:
        return _train(spec, ready, custom, cache_note, on_chunk, t_start)
    finally:
        if ready.lock is not None:
            ready.lock.release()
