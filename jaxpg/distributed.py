"""The same train function on many devices and many hosts, with ``jax.sharding``.

Data parallelism over environments: a 1-D :class:`~jax.sharding.Mesh` over the
devices (axis ``"envs"``), the environment batch axis of every per-environment array
sharded across it, parameters, optimizer state and keys replicated. The trainers are
*the same traced program* as on one device: :func:`jaxpg.make_trainer` /
:func:`jaxpg.make_train` take ``sharding=`` (a :class:`~jax.sharding.NamedSharding`
of the env axis, or None) and the rollouts pin their per-environment arrays to it
with :func:`jax.lax.with_sharding_constraint`. XLA's SPMD partitioner then splits the
environment work N/D per device and inserts the all-reduces itself: for the loss and
its gradient (a sum over trajectories), for cross-environment reductions (the
leave-one-out baseline, episode statistics, advantage normalisation). Because the
values do not depend on the layout, D devices give the parameters of one device up
to float reassociation of those sums; with ``sharding=None`` the annotations are
no-ops.

Random keys are drawn exactly as on one device: ``jax_threefry_partitionable`` (the
default since JAX 0.5) makes ``split(key, N)`` and batched sampling computable
shard by shard with the same bits.

Several hosts: :func:`initialize` wraps :func:`jax.distributed.initialize` (the CPU
collectives are gloo); afterwards ``jax.devices()`` lists every process's devices,
the mesh spans all of them, each process runs the same program on its own share of
the environments, and the result is one logical run whose replicated outputs every
process can read. Only :func:`is_primary` (process 0) should write logs; every
process calls :func:`jaxpg.save` (orbax writes collectively).

>>> import jax, jaxpg
>>> from jaxpg import distributed
>>> config = jaxpg.ReinforceConfig(num_envs=8, num_updates=2)
>>> train = distributed.make_train(config)  # every device of jax.devices()
>>> result = train(jax.random.key(0))
>>> all(x.sharding.is_fully_replicated for x in jax.tree.leaves(result.params))
True
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh

from jaxpg import train as _train
from jaxpg.sharding import (
    ENV_AXIS,
    SEED_AXIS,
    batch_sharding,
    check_divisible,
    constrain,
    make_mesh,
    num_shards,
    replicated,
    state_shardings,
)

__all__ = [
    "ENV_AXIS",
    "SEED_AXIS",
    "batch_sharding",
    "check_divisible",
    "constrain",
    "initialize",
    "is_primary",
    "make_mesh",
    "make_seed_train",
    "make_train",
    "make_trainer",
    "num_shards",
    "replicated",
    "state_shardings",
]


def _mesh_or_default(mesh: Mesh | None) -> Mesh:
    return make_mesh() if mesh is None else mesh


def make_trainer(
    config: Any,
    env: Any = None,
    env_params: Any = None,
    policy: Any = None,
    value: Any = None,
    *,
    mesh: Mesh | None = None,
):
    """:func:`jaxpg.make_trainer` over ``mesh``, with jitted ``init`` and ``run``.

    Returns a :class:`jaxpg.Trainer` whose ``init(key, hparams=None)`` and
    ``run(state, n)`` are compiled with the state's shardings
    (:func:`state_shardings`): parameters replicated, carried environments split.
    ``run`` compiles once per chunk length ``n``.

    Args:
      config, env, env_params, policy, value: as in :func:`jaxpg.make_trainer`.
      mesh: a 1-D device mesh for the env axis (:func:`make_mesh`); None: every
        device.

    Returns:
      A :class:`jaxpg.Trainer` of jitted functions.

    Raises:
      ValueError: ``config.num_envs`` is not divisible by the mesh's device count
        (before anything is compiled).
    """
    mesh = _mesh_or_default(mesh)
    check_divisible(config.num_envs, mesh.size)
    sharding = batch_sharding(mesh)
    trainer = _train.make_trainer(
        config, env, env_params, policy, value, sharding=sharding
    )
    shape = jax.eval_shape(trainer.init, jax.random.key(0))
    state_sh = state_shardings(shape, mesh, config.num_envs)
    rep = replicated(mesh)
    init = jax.jit(trainer.init, out_shardings=state_sh)
    run = jax.jit(
        trainer.run,
        static_argnums=1,
        in_shardings=(state_sh,),
        out_shardings=(state_sh, rep),
    )
    return _train.Trainer(init, run)


def make_train(
    config: Any,
    env: Any = None,
    env_params: Any = None,
    policy: Any = None,
    value: Any = None,
    *,
    mesh: Mesh | None = None,
):
    """A compiled ``train(key, hparams=None) → TrainResult`` over ``mesh``.

    The traced program is :func:`jaxpg.make_train`'s with ``sharding=`` the env
    axis of ``mesh`` (every device by default); the result is replicated except
    per-environment state, which stays split. With a mesh of one device it is the
    single-device program.

    Args:
      config, env, env_params, policy, value: as in :func:`jaxpg.make_train`.
      mesh: a 1-D device mesh for the env axis; None: every device.

    Returns:
      The jitted ``train``; its :class:`jaxpg.TrainResult` has ``metrics`` of
      shape ``[num_updates]``.

    Raises:
      ValueError: ``config.num_envs`` is not divisible by the device count.
    """
    mesh = _mesh_or_default(mesh)
    check_divisible(config.num_envs, mesh.size)
    sharded = _train.make_train(
        config, env, env_params, policy, value, sharding=batch_sharding(mesh)
    )
    shape = jax.eval_shape(sharded, jax.random.key(0))
    state_sh = state_shardings(shape.state, mesh, config.num_envs)
    rep = replicated(mesh)
    out = _train.TrainResult(
        state_sh.params, state_sh, jax.tree.map(lambda _: rep, shape.metrics)
    )
    return jax.jit(sharded, out_shardings=out)


def make_seed_train(
    config: Any,
    env: Any = None,
    env_params: Any = None,
    policy: Any = None,
    value: Any = None,
    *,
    mesh: Mesh | None = None,
):
    """``jax.jit(jax.vmap(train))`` with the seed axis split over ``mesh``.

    ``train(keys)`` takes ``[S]`` keys (S divisible by the device count); each
    device runs S/D independent seeds, and every output has the leading seed axis,
    split the same way. No communication: seeds are independent.

    Args:
      config, env, env_params, policy, value: as in :func:`jaxpg.make_train`.
      mesh: a 1-D device mesh for the seed axis; None: every device.

    Returns:
      ``train(keys)``: ``[S]`` keys to a :class:`jaxpg.TrainResult` whose leaves
      have a leading axis S (metrics ``[S, num_updates]``); a ``ValueError``
      when the device count does not divide S.

    >>> import jax, jaxpg
    >>> from jaxpg import distributed
    >>> config = jaxpg.ReinforceConfig(num_envs=4, num_updates=2)
    >>> train = distributed.make_seed_train(config)
    >>> keys = jax.random.split(jax.random.key(0), jax.device_count())
    >>> train(keys).metrics["loss"].shape[1:]
    (2,)
    """
    mesh = make_mesh(axis_name=SEED_AXIS) if mesh is None else mesh
    train = _train.make_train(config, env, env_params, policy, value)
    seeds = batch_sharding(mesh)
    jitted = jax.jit(jax.vmap(train), in_shardings=(seeds,), out_shardings=seeds)

    def seed_train(keys: jax.Array) -> Any:
        check_divisible(keys.shape[0], mesh.size, what="the number of seeds")
        return jitted(keys)

    return seed_train


# ------------------------------------------------------------------------ multi-host


@dataclasses.dataclass(frozen=True)
class ProcessInfo:
    """Where this process stands in a (possibly) multi-process run."""

    process_id: int  # this process's index, 0 .. num_processes - 1
    num_processes: int  # processes in the run (1: single-process)
    local_devices: int  # devices this process drives
    global_devices: int  # devices of all processes


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"${name} must be an integer; got {value!r}") from None


def _join_arguments(
    coordinator_address: str | None, num_processes: int | None, process_id: int | None
) -> tuple[str | None, int | None, int | None]:
    """:func:`initialize`'s arguments with the unset ones read from the environment
    (``$JAXPG_...``, then ``$JAX_...``); ValueError for a count below 1 or a process
    id outside ``[0, num_processes)``."""
    if coordinator_address is None:
        coordinator_address = os.environ.get(
            "JAXPG_COORDINATOR_ADDRESS", os.environ.get("JAX_COORDINATOR_ADDRESS")
        )
    if num_processes is None:
        num_processes = _env_int("JAXPG_NUM_PROCESSES")
    if num_processes is None:
        num_processes = _env_int("JAX_NUM_PROCESSES")
    if process_id is None:
        process_id = _env_int("JAXPG_PROCESS_ID")
    if process_id is None:
        process_id = _env_int("JAX_PROCESS_ID")
    if num_processes is not None and num_processes < 1:
        raise ValueError(f"num_processes must be >= 1; got {num_processes}")
    if (
        num_processes is not None
        and process_id is not None
        and not 0 <= process_id < num_processes
    ):
        raise ValueError(
            f"process_id={process_id} is outside [0, num_processes={num_processes})"
        )
    return coordinator_address, num_processes, process_id


def initialize(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    local_device_ids: Sequence[int] | None = None,
    initialization_timeout: int = 300,
) -> ProcessInfo:
    """Joins a multi-process JAX run (:func:`jax.distributed.initialize`).

    Call it first, before any other JAX call. Unset arguments come from
    ``$JAXPG_COORDINATOR_ADDRESS`` / ``$JAXPG_NUM_PROCESSES`` / ``$JAXPG_PROCESS_ID``,
    then from JAX's own ``$JAX_COORDINATOR_ADDRESS`` / ``$JAX_NUM_PROCESSES`` /
    ``$JAX_PROCESS_ID``, then from a cluster JAX detects (SLURM, Open MPI, Cloud
    TPU). On CPU the cross-process collectives are gloo.

    Args:
      coordinator_address: ``host:port`` of process 0's coordination service.
      num_processes: how many processes take part.
      process_id: this process's index in ``[0, num_processes)``.
      local_device_ids: the devices this process uses (GPU: one process per GPU).
      initialization_timeout: seconds to wait for every process to join.

    Returns:
      This process's :class:`ProcessInfo`.

    Raises:
      ValueError: a process id outside ``[0, num_processes)``, or the run formed
        with a different number of processes than ``num_processes`` says.
    """
    coordinator_address, num_processes, process_id = _join_arguments(
        coordinator_address, num_processes, process_id
    )
    # Cross-process collectives of the CPU backend (no effect on GPU/TPU).
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=coordinator_address,
        num_processes=num_processes,
        process_id=process_id,
        local_device_ids=local_device_ids,
        initialization_timeout=initialization_timeout,
    )
    info = process_info()
    if num_processes is not None and info.num_processes != num_processes:
        raise ValueError(
            f"num_processes={num_processes} but the run formed with "
            f"{info.num_processes} processes: every process must be started with "
            "the same process count"
        )
    return info


def process_info() -> ProcessInfo:
    """This process's index, the process count and the local/global device counts.

    Returns:
      A :class:`ProcessInfo`.
    """
    return ProcessInfo(
        process_id=jax.process_index(),
        num_processes=jax.process_count(),
        local_devices=jax.local_device_count(),
        global_devices=jax.device_count(),
    )


def is_primary() -> bool:
    """True in process 0: the one that writes logs.

    Returns:
      ``jax.process_index() == 0``.
    """
    return jax.process_index() == 0


def check_same_across_processes(value: Any, what: str) -> None:
    """``ValueError`` unless every process passes the same ``value`` (collective).

    A cheap guard against processes started with different flags: it compares a
    hash of ``repr(value)``.
    """
    if jax.process_count() == 1:
        return
    from jax.experimental import multihost_utils

    digest = np.frombuffer(
        __import__("hashlib").sha256(repr(value).encode()).digest()[:8], np.int32
    )
    everyone = np.asarray(multihost_utils.process_allgather(digest))
    if not (everyone == everyone[0]).all():
        raise ValueError(
            f"{what} differs between processes (process {jax.process_index()} has "
            f"{value!r}): start every process with the same flags"
        )
