"""The compiled programs of a run, where their arrays live, and the run's keys.

A run compiles (ahead of time, timed apart from training) one init program, one
chunk program per chunk length it will call (which also checks that the new
parameters are finite) and a greedy evaluation, each vmapped over seeds when
``seeds > 1`` — and nothing else: the keys are made inside the programs from the
seed, so no small program is compiled for them on the host. With a mesh
(:func:`jaxpg.distributed.make_mesh`) the state's environments are split over its
devices and the parameters replicated (:func:`placement`). Programs of runs built
from a config alone are kept for the process (tests, notebooks) under a key that
names everything that defines them.
"""

from __future__ import annotations

import concurrent.futures
import os
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxpg import compilation
from jaxpg.evaluate import episode_returns
from jaxpg.run.keys import RunKeys, run_keys
from jaxpg.run.options import RunOptions
from jaxpg.run.placement import Placement, placement

__all__ = [
    "Compiled",
    "Init",
    "Placement",
    "Programs",
    "RunKeys",
    "cache_key",
    "chunk_sizes",
    "compile_programs",
    "evaluator",
    "placement",
    "programs_note",
    "run_keys",
    "state_template",
]


class Programs(NamedTuple):
    """The compiled programs the loop calls."""

    chunks: dict[int, Any]  # n: state -> (state after n updates, metrics,
    #                            [seeds] bool: every parameter still finite)
    evaluate: Any  # (seed, update, params) -> [seeds, episodes] greedy returns


class Compiled(NamedTuple):
    """What :func:`compile_programs` gives the loop."""

    programs: Programs
    state: Any  # the TrainState the run starts from
    compiled: tuple[str, ...]  # one line per compiled program: what and why


class Init(NamedTuple):
    """A run's own init program (a sweep's, :mod:`jaxpg.run.sweep_programs`)
    in place of :func:`compile_programs`' ``seed -> TrainState``."""

    fn: Callable  # (seed, *args) -> TrainState, the keys made inside
    args: tuple  # the arguments after the seed (e.g. the states' HParams)
    why: str  # the line that names it in ``programs:``


def _seed_arg(seed: int) -> np.uint32:
    """The seed as the programs take it (``0 <= seed < 2**32``, RunOptions)."""
    return np.uint32(seed)


def _init_fn(trainer: Any, seeds: int) -> Callable:
    if seeds == 1:
        return trainer.init
    return lambda keys: jax.vmap(trainer.init)(keys)


def _init_program(trainer: Any, seeds: int) -> Callable:
    """``seed -> TrainState``: the keys and the first state in one program."""
    init = _init_fn(trainer, seeds)
    return lambda seed: init(run_keys(seed, seeds).init)


def state_template(trainer: Any, options: RunOptions) -> Any:
    """The abstract TrainState of a run (batched over seeds when seeds > 1).

    Args:
      trainer: the run's :class:`jaxpg.Trainer`.
      options: the run options (seed and seeds).

    Returns:
      ``jax.eval_shape`` of the run's init program.
    """
    init = _init_program(trainer, options.seeds)
    return jax.eval_shape(init, _seed_arg(options.seed))


def _all_finite(tree: Any, seeds: int) -> jax.Array:
    """Per seed ([seeds] bool): every leaf of ``tree`` finite."""
    leaves = [x for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.inexact)]
    if seeds == 1:
        ok = [jnp.all(jnp.isfinite(x)) for x in leaves]
        return jnp.stack(ok).all(keepdims=True) if ok else jnp.ones(1, bool)
    ok = [jnp.isfinite(x).reshape(seeds, -1).all(axis=1) for x in leaves]
    return jnp.stack(ok).all(axis=0) if ok else jnp.ones(seeds, bool)


def _chunk_program(trainer: Any, seeds: int, n: int) -> Callable:
    """``state -> (state, metrics, finite)``: ``n`` updates, then the NaN check
    of the new parameters in the same program (no second program for it)."""
    run = lambda state: trainer.run(state, n)  # noqa: E731
    if seeds > 1:
        run = jax.vmap(run)

    def chunk(state):
        state, metrics = run(state)
        return state, metrics, _all_finite(state.params, seeds)

    return chunk


def evaluator(
    policy: Any, env: Any, env_params: Any, episodes: int, seeds: int
) -> Callable:
    """The greedy evaluation of a run's parameters (traceable, not jitted).

    Args:
      policy: the run's :class:`jaxpg.Policy`.
      env: its environment.
      env_params: the environment's parameters.
      episodes: episodes per evaluation.
      seeds: seeds in the run (the key is split per seed when > 1).

    Returns:
      ``(key, params) -> [seeds, episodes]`` greedy returns.
    """

    def evaluate(key, params):
        def one(k, p):
            return episode_returns(k, policy, p["policy"], env, env_params, episodes)

        if seeds == 1:
            return one(key, params)[None]
        return jax.vmap(one)(jax.random.split(key, seeds), params)

    return evaluate


def _eval_program(evaluate: Callable, seeds: int) -> Callable:
    """``(seed, update, params) -> returns``: the evaluation key
    ``fold_in(run_keys(seed).eval, update)`` made inside the program."""

    def program(seed, update, params):
        key = jax.random.fold_in(run_keys(seed, seeds).eval, update)
        return evaluate(key, params)

    return program


def programs_note(compiled: Compiled, fast_compile: bool) -> str:
    """``"(3 programs)"``, or ``"(3 programs, fast_compile)"``: how many were
    compiled, and with which options (the ``compiled in`` line of a run)."""
    options = ", fast_compile" if fast_compile else ""
    return f"({len(compiled.compiled)} programs{options})"


def chunk_sizes(chunk: int, total: int, done: int) -> list[int]:
    """The update counts of the chunks left after update ``done``.

    The last chunk is shorter when ``chunk`` does not divide ``total``; a run
    resumed at that last chunk never calls (so never compiles) a full one.

    Args:
      chunk: updates per chunk.
      total: the run's number of updates.
      done: updates already done.

    Returns:
      The distinct chunk lengths still to run, ascending.
    """
    sizes = {chunk} | ({total % chunk} if total % chunk else set())
    return [n for n in sorted(sizes) if done + n <= total]


# Compiled programs reused across runs in one process (tests, notebooks): keyed by
# everything that defines them, only for runs built from a config alone.
_COMPILED: dict[tuple, Any] = {}


def cache_key(config: Any, seeds: int, mesh: Any, custom: bool) -> tuple | None:
    """The name of a run's programs in the process-wide cache.

    Args:
      config: the algorithm config.
      seeds: seeds trained together.
      mesh: the run's mesh, or None.
      custom: whether the run has its own trainer, environment or policy.

    Returns:
      A hashable key, or None for a custom run: the key cannot name those
      objects, so its programs are compiled anew and not kept.
    """
    if custom:
        return None
    mesh_key = None if mesh is None else tuple(d.id for d in mesh.devices.flat)
    return (config, seeds, mesh_key)


class _Job(NamedTuple):
    """One program to compile: its cache key, function, jit kwargs, arguments
    (arrays or ``jax.ShapeDtypeStruct`` s) and the line that says why."""

    key: tuple | None
    fn: Callable
    jit_kwargs: dict
    args: tuple
    why: str


def _compile_jobs(jobs: list[_Job], fast_compile: bool = False) -> list[Any]:
    """Each job's program, compiled (AOT) with ``jaxpg.jit``'s options
    (``fast_compile``: :func:`jaxpg.compilation.compile_options`).

    Traced and lowered one after the other; the XLA compilations run side by
    side on the cores this process may use (one at a time on one core). Kept in
    the process under the job's key and taken from there the next time (None:
    compiled anew, not kept).
    """
    todo = [job for job in jobs if job.key is None or job.key not in _COMPILED]
    options = compilation.compile_options(fast_compile)
    lowered = [
        jax.jit(job.fn, compiler_options=options, **job.jit_kwargs).lower(*job.args)
        for job in todo
    ]
    workers = min(len(lowered), len(os.sched_getaffinity(0))) or 1
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        done = list(pool.map(lambda low: low.compile(), lowered))
    fresh = dict(zip([id(job) for job in todo], done, strict=True))
    programs = []
    for job in jobs:
        program = fresh.get(id(job)) or _COMPILED[job.key]
        if job.key is not None:
            _COMPILED[job.key] = program
        programs.append(program)
    return programs


def _chunk_why(n: int, chunk: int, total: int) -> str:
    if n == chunk:
        return f"run x{n}: {n} updates a call, then the NaN check of the parameters"
    return f"run x{n}: the last, shorter chunk ({total} updates = {chunk}·k + {n})"


def _eval_why(options: RunOptions) -> str:
    when = "after the last update"
    if options.eval_every:
        when = f"every {options.eval_every} updates and {when}"
    return f"evaluate: {options.eval_episodes} greedy episodes {when}"


def _jobs(trainer, evaluate, options, sizes, like, where, cache_key, total):
    """The chunk and evaluation programs' :class:`_Job` s, lowered on ``like``."""

    def key(*parts: Any) -> tuple | None:
        return None if cache_key is None else (*cache_key, *parts)

    seeds, chunk = options.seeds, max(sizes, default=0)
    jobs = [
        _Job(
            key("run", n),
            _chunk_program(trainer, seeds, n),
            where.run,
            (like,),
            _chunk_why(n, chunk, total),
        )
        for n in sizes
    ]
    args = (_seed_arg(options.seed), np.uint32(0), like.params)
    evaluate = _eval_program(evaluate, seeds)
    key_eval = key("eval", options.eval_episodes)
    jobs.append(_Job(key_eval, evaluate, where.small, args, _eval_why(options)))
    return jobs


def compile_programs(
    trainer: Any,
    evaluate: Callable,
    options: RunOptions,
    sizes: list[int],
    state: Any,
    where: Placement,
    cache_key: tuple | None,
    total: int,
    init: Init | None = None,
) -> Compiled:
    """Compiles (AOT) a run's programs: init (unless resumed), one chunk program
    per length in ``sizes``, the evaluation.

    Args:
      trainer: the run's trainer.
      evaluate: the :func:`evaluator` of the run.
      options: the run options.
      sizes: the chunk lengths to compile (:func:`chunk_sizes`).
      state: the resumed TrainState, or None: then the compiled init program
        makes a fresh one from ``options.seed`` (the other programs are lowered
        on its shapes).
      where: the programs' :class:`Placement`.
      cache_key: names the run in the process-wide cache (None: compiled anew,
        not cached).
      total: the run's number of updates.
      init: the run's own init program (a sweep's); None: ``seed ->
        TrainState`` with :func:`run_keys`' keys.

    Returns:
      The programs, the state the run starts from, and what was compiled.
    """
    seeds, seed = options.seeds, _seed_arg(options.seed)
    if cache_key is not None:  # the compiler options make different programs
        cache_key = (*cache_key, "fast_compile" if options.fast_compile else "")
    if init is None:
        why = "init: the first TrainState from the seed"
        if seeds > 1:
            why += f" ({seeds} seeds side by side)"
        init = Init(_init_program(trainer, seeds), (), why)
    args = (seed, *init.args)
    # Lowered on the fresh state's shapes also on resume: a state read back from
    # a checkpoint has lost its weak types (gymnax's step counter), which would
    # make a different program and miss the persistent cache's copy.
    like = jax.eval_shape(init.fn, *args)
    jobs = _jobs(trainer, evaluate, options, sizes, like, where, cache_key, total)
    if state is None:
        key = None if cache_key is None else (*cache_key, "init")
        jobs.insert(0, _Job(key, init.fn, where.init, args, init.why))
    programs = _compile_jobs(jobs, options.fast_compile)
    if state is None:
        state = programs.pop(0)(*args)
    evaluate_fn = programs.pop()
    chunks = dict(zip(sizes, programs, strict=True))
    return Compiled(Programs(chunks, evaluate_fn), state, tuple(j.why for j in jobs))
