"""The parts a run is made of: its trainer, environment and policy.

:func:`build_parts` completes what a caller passed (its own trainer, environment
or policy) from the config, with every check that needs the environment done
before anything is traced or compiled (a :class:`~jaxpg.run.options.RunError`).
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

from jaxpg import distributed
from jaxpg.envs import encode_env, make_env
from jaxpg.evaluate import check_evaluation_memory
from jaxpg.policy import make_policy
from jaxpg.run.flags import flag_message
from jaxpg.run.options import RunError, RunOptions
from jaxpg.train import build, check_memory, make_trainer

__all__ = ["Parts", "build_parts"]


class Parts(NamedTuple):
    """What a run's programs are made of (a caller's, or built from the config)."""

    trainer: Any  # a jaxpg.Trainer
    env: Any  # the environment the evaluation runs in
    env_params: Any  # its parameters
    policy: Any  # the jaxpg.Policy the evaluation acts with


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
