"""The compiled programs of a run, where their arrays live, and the run's keys.

A run compiles (ahead of time, timed apart from training) one init program, one
chunk program per chunk length it will call, a finite-check of the parameters and
a greedy evaluation, each vmapped over seeds when ``seeds > 1``. With a mesh
(:func:`jaxpg.distributed.make_mesh`) the state's environments are split over its
devices and the parameters replicated (:func:`placement`). Programs of runs built
from a config alone are kept for the process (tests, notebooks) under a key that
names everything that defines them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxpg import distributed
from jaxpg.envs import encode_env, make_env
from jaxpg.evaluate import check_evaluation_memory, episode_returns
from jaxpg.policy import make_policy
from jaxpg.run.flags import flag_message
from jaxpg.run.options import RunError, RunOptions
from jaxpg.train import build, check_memory, make_trainer

__all__ = [
    "Compiled",
    "Parts",
    "Placement",
    "Programs",
    "RunKeys",
    "build_parts",
    "cache_key",
    "chunk_sizes",
    "compile_programs",
    "evaluator",
    "placement",
    "run_keys",
    "state_template",
]


class Parts(NamedTuple):
    """What a run's programs are made of (a caller's, or built from the config)."""

    trainer: Any  # a jaxpg.Trainer
    env: Any  # the environment the evaluation runs in
    env_params: Any  # its parameters
    policy: Any  # the jaxpg.Policy the evaluation acts with


class RunKeys(NamedTuple):
    """The keys of a run, both made from ``jax.random.key(seed)``."""

    init: jax.Array  # the initialisation key, or [seeds] keys when seeds > 1
    eval: jax.Array  # the greedy evaluations' key (folded with the update count)
    # A sweep's (jaxpg.run.sweep) HParams, one per state ([seeds] leaves), passed
    # to Trainer.init beside the keys; None: the config's own.
    hparams: Any = None


class Placement(NamedTuple):
    """Where a run's arrays live: ``jax.jit`` keyword arguments per program.

    All empty (and ``state`` None) without a mesh: the single-device programs.
    """

    state: Any  # the TrainState's shardings, or None
    init: dict  # jit kwargs of the init program
    run: dict  # jit kwargs of the chunk programs
    small: dict  # jit kwargs of the finite check and the evaluation


class Programs(NamedTuple):
    """The compiled programs the loop calls."""

    chunks: dict[int, Any]  # n: state -> (state after n updates, metrics)
    finite: Any  # params -> [seeds] bool (every leaf finite)
    evaluate: Any  # (key, params) -> [seeds, episodes] greedy returns


class Compiled(NamedTuple):
    """What :func:`compile_programs` gives the loop."""

    programs: Programs
    state: Any  # the TrainState the run starts from


def _mesh_sharding(config: Any, options: RunOptions, trainer: Any, mesh: Any) -> Any:
    """The env-axis sharding over ``mesh`` (None without one), after its checks."""
    if mesh is None:
        return None
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
    return distributed.batch_sharding(mesh)


def build_parts(config: Any, options: RunOptions, given: Parts, mesh: Any) -> Parts:
    """The trainer, environment and policy of a run.

    Args:
      config: the algorithm config (any registered algorithm's).
      options: the run options.
      given: the caller's own trainer, env, env_params or policy; None fields are
        built from ``config``.
      mesh: a mesh to split the environments over, or None.

    Returns:
      The completed :class:`Parts`.

    Raises:
      RunError: input that cannot be trained (an unknown environment, a
        config the environment rejects, seeds or a num_envs the mesh cannot
        take).
    """
    trainer, env, env_params, policy = given
    sharding = _mesh_sharding(config, options, trainer, mesh)
    try:
        if env is None:
            if config.env_id is None:
                raise ValueError("is required (a gymnax id such as CartPole-v1)")
            env, env_params = make_env(config.env_id)
        if trainer is None:
            trainer = make_trainer(config, env, env_params, policy, sharding=sharding)
            if options.seeds > 1:  # the seeds' states side by side
                built = build(config, env, env_params, policy, None)
                check_memory(
                    config, built, copies=options.seeds, copies_field="--seeds"
                )
        if policy is None:
            policy = make_policy(config, env, env_params)
    except (ValueError, TypeError) as error:
        names = [f.name for f in dataclasses.fields(config)]
        message = flag_message(str(error), names)
        if message == str(error):
            message = f"--env-id {config.env_id}: {error}"
        raise RunError(message) from None
    if env_params is None:
        env_params = encode_env(env).default_params
    try:
        check_evaluation_memory(
            env,
            env_params,
            options.eval_episodes,
            options.seeds,
            "--eval-episodes",
            "--seeds",
        )
    except ValueError as error:
        raise RunError(str(error)) from None
    return Parts(trainer, env, env_params, policy)


def run_keys(seed: int, seeds: int) -> RunKeys:
    """The initialisation key(s) and evaluation key of a run.

    Args:
      seed: the run's seed.
      seeds: how many seeds train together (the init key is split when > 1).

    Returns:
      A :class:`RunKeys`.
    """
    key_init, key_eval = jax.random.split(jax.random.key(seed))
    if seeds > 1:
        key_init = jax.random.split(key_init, seeds)
    return RunKeys(key_init, key_eval)


def _init_fn(trainer: Any, seeds: int, swept: bool = False) -> Callable:
    if swept:  # (keys, hparams) -> state, hparams batched like the keys
        return trainer.init if seeds == 1 else jax.vmap(trainer.init)
    if seeds == 1:
        return trainer.init
    return lambda keys: jax.vmap(trainer.init)(keys)


def state_template(trainer: Any, options: RunOptions) -> Any:
    """The abstract TrainState of a run (batched over seeds when seeds > 1).

    Args:
      trainer: the run's :class:`jaxpg.Trainer`.
      options: the run options (seed and seeds).

    Returns:
      ``jax.eval_shape`` of the run's init program.
    """
    keys = run_keys(options.seed, options.seeds)
    return jax.eval_shape(_init_fn(trainer, options.seeds), keys.init)


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


def placement(trainer: Any, mesh: Any, config: Any, key_init: jax.Array) -> Placement:
    """jit keyword arguments placing the state over ``mesh`` (empty without one).

    Parameters are replicated, carried environments split.

    Args:
      trainer: the run's trainer.
      mesh: a :func:`jaxpg.distributed.make_mesh` mesh, or None.
      config: the algorithm config (its ``num_envs``).
      key_init: the initialisation key.

    Returns:
      A :class:`Placement`.
    """
    if mesh is None:
        return Placement(None, {}, {}, {})
    state_sh = distributed.state_shardings(
        jax.eval_shape(trainer.init, key_init), mesh, config.num_envs
    )
    rep = distributed.replicated(mesh)
    return Placement(
        state=state_sh,
        init={"out_shardings": state_sh},
        run={"in_shardings": (state_sh,), "out_shardings": (state_sh, rep)},
        small={"out_shardings": rep},
    )


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


def _compiled(key: tuple | None, fn: Callable, jit_kwargs: dict, *args: Any) -> Any:
    """``jax.jit(fn, **jit_kwargs)`` compiled (AOT) for ``args``.

    Kept in the process under ``key`` and taken from there the next time (None:
    compiled anew, not kept).
    """
    if key is not None and key in _COMPILED:
        return _COMPILED[key]
    program = jax.jit(fn, **jit_kwargs).lower(*args).compile()
    if key is not None:
        _COMPILED[key] = program
    return program


def compile_programs(
    trainer: Any,
    evaluate: Callable,
    options: RunOptions,
    sizes: list[int],
    keys: RunKeys,
    state: Any,
    where: Placement,
    cache_key: tuple | None,
) -> Compiled:
    """Compiles (AOT) a run's programs.

    Args:
      trainer: the run's trainer.
      evaluate: the :func:`evaluator` of the run.
      options: the run options.
      sizes: the chunk lengths to compile (:func:`chunk_sizes`).
      keys: the run's keys.
      state: the resumed TrainState, or None: then the compiled init program
        makes a fresh one (the other programs are lowered on it).
      where: the programs' :class:`Placement`.
      cache_key: names the run in the process-wide cache (None: compiled anew,
        not cached).

    Returns:
      The programs and the state the run starts from.
    """
    seeds, episodes = options.seeds, options.eval_episodes

    def key(*parts: Any) -> tuple | None:
        return None if cache_key is None else (*cache_key, *parts)

    swept = keys.hparams is not None
    init_args = (keys.init, keys.hparams) if swept else (keys.init,)
    init_fn = _compiled(
        key("init", swept), _init_fn(trainer, seeds, swept), where.init, *init_args
    )
    if state is None:
        state = init_fn(*init_args)
    chunks = {
        n: _compiled(key("run", n), _chunk_program(trainer, seeds, n), where.run, state)
        for n in sizes
    }
    finite_fn = _compiled(
        key("finite"), lambda p: _all_finite(p, seeds), where.small, state.params
    )
    eval_fn = _compiled(
        key("eval", episodes), evaluate, where.small, keys.eval, state.params
    )
    return Compiled(Programs(chunks, finite_fn, eval_fn), state)
