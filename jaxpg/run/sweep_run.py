"""A sweep from start to end: :func:`sweep_run`, what ``train.py --sweep`` runs.

A sweep of C configurations × K seeds is a run of ``C · K`` states trained side
by side by the chunk loop of every run (:class:`~jaxpg.run.loop.ChunkLoop`):
one compiled chunk program vmapped over the states, each state carrying its
configuration's :class:`jaxpg.HParams`. Progress, evaluations, checkpoints,
Ctrl-C and ``--resume`` are the run loop's; the progress line and evaluations
show the best, median and worst configuration. A finished sweep writes
``sweep.jsonl`` and ``sweep.md`` (:mod:`jaxpg.run.sweep_report`).

The run folder is a run folder (:mod:`jaxpg.run.folder`) plus ``sweep.json``
(:mod:`jaxpg.run.sweep`): config.json holds the base config and the run options
as given (``seeds`` is K); metrics.jsonl, evals.jsonl, summary.json and the
checkpoint are those of a ``C · K``-seed run whose ``seed_index`` is the state
index ``m = c · K + k``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax

from jaxpg.files import write_json
from jaxpg.run import console, folder, lock, records
from jaxpg.run.logs import trim_for_resume
from jaxpg.run.loop import ChunkLoop, RunSpec
from jaxpg.run.options import RunError, RunOptions, RunOutcome
from jaxpg.run.parts import Parts, build_parts
from jaxpg.run.programs import (
    Init,
    Placement,
    cache_key,
    chunk_sizes,
    compile_programs,
    programs_note,
)
from jaxpg.run.sweep import (
    SWEEP_FILE,
    Sweep,
    read_sweep,
    sweep_to_dict,
)
from jaxpg.run.sweep_programs import sweep_evaluator, sweep_hparams, sweep_init
from jaxpg.run.sweep_report import (
    SWEEP_ROWS,
    SWEEP_TABLE,
    describe,
    ranked_table,
    sweep_rows,
    write_sweep_results,
)

__all__ = ["state_options", "sweep_run"]


def state_options(options: RunOptions, sweep: Sweep) -> RunOptions:
    """The run options the loop runs a sweep with: ``seeds`` = the C · K states.

    Args:
      options: the run options as given (``seeds`` = K).
      sweep: the sweep.

    Returns:
      The options with ``seeds`` replaced.
    """
    return dataclasses.replace(options, seeds=sweep.members)


def _refuse_unsupported(options: RunOptions) -> None:
    """RunError naming the first run option a sweep does not take."""
    given = (
        ("--keep", options.keep > 1),
        ("--keep-best", options.keep_best),
        ("--wandb", options.wandb is not None),
    )
    for flag, on in given:
        if on:
            raise RunError(
                f"{flag} is not supported with --sweep (a sweep keeps only "
                f"RUN/checkpoint and logs to its run folder); drop {flag}"
            )


def _check_input(out: Path, config: Any, options: RunOptions, sweep, resume: bool):
    """RunError unless ``out`` can take (or continue) this sweep with these
    options."""
    _refuse_unsupported(options)
    if options.tensorboard:
        console.check_tensorboard()
    folder.check_out_dir(out, must_be_empty=not resume)
    if not resume:
        return
    folder.check_resume_options(out, config, options)
    saved = read_sweep(out)
    if saved is None:
        raise RunError(
            f"--resume {out}: not a sweep (no {SWEEP_FILE}); resume it without --sweep"
        )
    if saved != sweep:
        raise RunError(
            f"--resume {out}: a resumed sweep keeps its configurations; the --sweep "
            f"flags given differ from {out / SWEEP_FILE}"
        )


def _start(out: Path, parts: Parts, config: Any, states: RunOptions, resume, log):
    if not resume:
        return folder.Start(None, 0)
    return folder.checkpoint_start(
        out, parts.trainer, config, states, restore=True, log=log
    )


def _prepare_folder(out, config, options, sweep, start, resume, log) -> list[int]:
    """config.json and sweep.json of a new sweep, or its logs trimmed on resume."""
    if not resume:
        write_json(out / "config.json", records.run_config_json(config, options))
        write_json(out / SWEEP_FILE, sweep_to_dict(sweep))
        return [0] * sweep.members
    records.keep_run_options(out, options)
    return trim_for_resume(
        out, start.done, sweep.members, config.num_updates, start.env_steps, log
    )


def _open(
    spec: RunSpec, options, sweep, parts, start, cache_note
) -> tuple[ChunkLoop, float]:
    """Compiles the sweep's programs; writes its first files.

    Returns the loop to run and the seconds spent compiling.
    """
    config, states = spec.config, spec.options
    evaluate = sweep_evaluator(
        parts.policy, parts.env, parts.env_params, states.eval_episodes, sweep
    )
    init = Init(
        sweep_init(parts.trainer, sweep),
        (sweep_hparams(config, sweep),),
        f"init: the first TrainStates of {sweep.size} configurations x "
        f"{sweep.seeds} seeds from the seed and their HParams",
    )
    chunk = min(states.chunk, config.num_updates)
    name = cache_key(config, states.seeds, None, False) + ("sweep", sweep.seeds)
    t0 = time.perf_counter()
    compiled = compile_programs(
        parts.trainer,
        evaluate,
        states,
        chunk_sizes(chunk, config.num_updates, start.done),
        start.state,
        Placement(None, {}, {}, {}),
        name,
        config.num_updates,
        init,
    )
    compile_time = time.perf_counter() - t0
    spec.log("programs: " + "; ".join(compiled.compiled))
    totals = _prepare_folder(
        spec.out, config, options, sweep, start, spec.resume, spec.log
    )
    spec.log(
        f"compiled in {console.seconds(compile_time)} "
        + programs_note(compiled, options.fast_compile)
        + (f"; {cache_note()}" if cache_note is not None else "")
    )
    if spec.resume:
        spec.log(f"resuming at update {start.done}/{config.num_updates}")
    loop = ChunkLoop(
        spec=spec,
        programs=compiled.programs,
        writer=console.tensorboard_writer(spec.out) if states.tensorboard else None,
        progress=console.Progress(states.progress, config.num_updates, start.done),
        state=compiled.state,
        done=start.done,
        totals=totals,
        last_checkpoint=start.done if spec.resume else None,
        describe=describe(sweep),
    )
    return loop, compile_time


def _intro(spec: RunSpec, sweep: Sweep, update: int) -> str:
    """sweep.md's text above the table."""
    config, episodes = spec.config, spec.options.eval_episodes
    drawn = (
        f"; drawn by --sweep-random {sweep.sampled} (sampling seed "
        f"{sweep.sampling_seed}) from "
        + ", ".join(
            f"{f} {lo:g}..{hi:g} ({scale})"
            for f, (lo, hi, scale) in zip(sweep.fields, sweep.ranges, strict=True)
        )
        if sweep.sampled
        else ""
    )
    return (
        f"# Sweep: {console.algorithm_label(config)} on {config.env_id}\n\n"
        f"{sweep.size} configurations × {sweep.seeds} seeds, trained in one vmapped "
        f"call ({config.num_updates} updates each, seed {spec.options.seed}){drawn}. "
        f"Ranked by the mean over seeds of the final greedy return ({episodes} "
        f"episodes per seed, after update {update}), ± the half-width of its 95% "
        f"Student-t interval. One row per configuration and seed: {SWEEP_ROWS}."
    )


def _finish(loop: ChunkLoop, sweep: Sweep, times: dict[str, float]) -> RunOutcome:
    """Evaluates, writes summary.json, sweep.jsonl and sweep.md; logs the table."""
    spec = loop.spec
    final = loop.final_evaluation()
    if loop.writer is not None:
        loop.writer.close()
    summary = loop.summary(final, times)
    summary["sweep"] = {"configurations": sweep.size, "seeds": sweep.seeds}
    write_json(spec.out / "summary.json", summary)
    if final is not None:
        rows = sweep_rows(sweep, loop.last_eval, loop.totals, loop.done)
        table = ranked_table(sweep, rows)
        write_sweep_results(spec.out, rows, table, _intro(spec, sweep, loop.done))
        spec.log(
            f"final greedy evaluation ({spec.options.eval_episodes} episodes per "
            f"seed), configurations ranked (also in {spec.out / SWEEP_TABLE}):\n"
            + table.rstrip()
        )
    if loop.status == "diverged":
        spec.log(
            f"(in this sweep seed index m is configuration m // {sweep.seeds}, seed "
            f"m % {sweep.seeds}; {spec.out / SWEEP_FILE} lists the configurations)"
        )
    if loop.message:
        spec.log(loop.message)
    return RunOutcome(loop.status, loop.done, loop.state, loop.message, loop.exit_code)


def _header(config: Any, options: RunOptions, sweep: Sweep, out: Path) -> str:
    fields = ", ".join(sweep.fields)
    return (
        f"jaxpg {console.algorithm_label(config)} on {config.env_id}: sweep of "
        f"{sweep.size} configurations ({fields}) x {sweep.seeds} seeds = "
        f"{sweep.members} runs in one vmapped call; {config.num_envs} envs x "
        f"{config.num_updates} updates each, seed {options.seed}, "
        f"{jax.default_backend()} | run folder {out}"
    )


def sweep_run(
    config: Any,
    options: RunOptions,
    sweep: Sweep,
    out: Path,
    *,
    resume: bool = False,
    log: Callable[[str], None] | None = None,
    on_chunk: Callable[[int], None] | None = None,
    cache_note: Callable[[], str] | None = None,
) -> RunOutcome:
    """Trains every configuration of ``sweep`` × its seeds into the run folder ``out``.

    One process, one device: the ``C · K`` states are one vmapped batch.

    Args:
      config: the base config (a registered algorithm's); the swept fields'
        values replace its own.
      options: the run options as given; ``options.seeds`` must be
        ``sweep.seeds``.
      sweep: the sweep (:func:`jaxpg.run.sweep.parse_sweep`).
      out: the run folder: new or empty, or (``resume``) a sweep's folder with
        the same config, options and sweep.
      resume: continue from ``out/checkpoint``.
      log: where messages go (``print`` by default).
      on_chunk: called with the update count after every chunk.
      cache_note: called after compiling; its text is added to the "compiled
        in" line.

    Returns:
      A :class:`RunOutcome` (its state batched over the ``C · K`` states).
      Problems with the input (also ``keep > 1``, ``keep_best`` or ``wandb``,
      which a sweep does not take) raise :class:`RunError` before anything is
      compiled or written.
    """
    t_start = time.perf_counter()
    log = log or (lambda text: print(text, flush=True))
    out = Path(out)
    if options.seeds != sweep.seeds:
        raise ValueError("sweep_run: options.seeds must equal sweep.seeds")
    _check_input(out, config, options, sweep, resume)
    states = state_options(options, sweep)
    parts = build_parts(config, states, Parts(None, None, None, None), None)
    flag = "--resume" if resume else "--out"
    held = lock.acquire(out, flag, must_be_empty=not resume)
    try:
        start = _start(out, parts, config, states, resume, log)
        spec = RunSpec(config, states, out, resume, True, None, log)
        log(_header(config, options, sweep, out))
        loop, compile_time = _open(spec, options, sweep, parts, start, cache_note)
        train_time = loop.run(on_chunk)
        times = {
            "total": time.perf_counter() - t_start,
            "compile": compile_time,
            "train": train_time,
        }
        return _finish(loop, sweep, times)
    finally:
        held.release()
