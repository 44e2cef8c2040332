"""Sharding primitives: meshes, the env-axis sharding, and pinning arrays to it.

Rollouts and updates call :func:`constrain` on every per-environment array; with
``sharding=None`` it returns its input, so the single-device program is the same
code. The trainers that use these (and multi-host set-up) live in
:mod:`jaxpg.distributed`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = [
    "ENV_AXIS",
    "SEED_AXIS",
    "batch_sharding",
    "check_divisible",
    "constrain",
    "make_mesh",
    "num_shards",
    "replicated",
    "state_shardings",
]

ENV_AXIS = "envs"
SEED_AXIS = "seeds"


def make_mesh(
    devices: Sequence[Any] | int | None = None, axis_name: str = ENV_AXIS
) -> Mesh:
    """A 1-D mesh named ``axis_name`` over ``devices``.

    Args:
      devices: a list of devices, a count (the first that many of
        ``jax.devices()``), or None for every device of every process.
      axis_name: the mesh axis name.

    Returns:
      A ``jax.sharding.Mesh`` of shape ``[len(devices)]``.

    Raises:
      ValueError: a count of devices that this runtime does not have.
    """
    everything = jax.devices()
    if devices is None:
        devices = everything
    elif isinstance(devices, int):
        if not 1 <= devices <= len(everything):
            raise ValueError(
                f"devices={devices}: this JAX runtime has {len(everything)} "
                f"device(s) ({everything[0].platform}); on CPU, force more with "
                "XLA_FLAGS=--xla_force_host_platform_device_count=<n>"
            )
        devices = everything[:devices]
    return Mesh(np.asarray(list(devices)), (axis_name,))


def batch_sharding(mesh: Mesh, axis_name: str | None = None) -> NamedSharding:
    """The sharding of a ``[N, ...]`` array split over ``mesh`` on its first axis.

    Args:
      mesh: the device mesh.
      axis_name: the mesh axis to split over; None: its first axis.

    Returns:
      A ``NamedSharding`` with spec ``PartitionSpec(axis_name)``.
    """
    name = mesh.axis_names[0] if axis_name is None else axis_name
    return NamedSharding(mesh, PartitionSpec(name))


def replicated(mesh: Mesh) -> NamedSharding:
    """A copy of the whole array on every device of ``mesh``.

    Args:
      mesh: the device mesh.

    Returns:
      A ``NamedSharding`` with an empty spec.
    """
    return NamedSharding(mesh, PartitionSpec())


def num_shards(sharding: NamedSharding) -> int:
    """How many pieces ``sharding`` cuts the env axis into.

    Args:
      sharding: a sharding of a ``[N, ...]`` array (:func:`batch_sharding`).

    Returns:
      The product of the mesh axis sizes its first dimension is split over (1
      when it is not split).
    """
    names = sharding.spec[0] if len(sharding.spec) else None
    if names is None:
        return 1
    names = names if isinstance(names, tuple) else (names,)
    return int(np.prod([sharding.mesh.shape[n] for n in names]))


def constrain(tree: Any, sharding: NamedSharding | None, axis: int = 0) -> Any:
    """Pins every array of ``tree`` to ``sharding`` on its env axis ``axis``.

    ``sharding`` describes a ``[N, ...]`` array (:func:`batch_sharding`); for
    ``axis=1`` (time-major ``[T, N, ...]`` buffers) its spec is shifted right by one.
    Leaves with fewer than ``axis + 1`` dimensions (scalars carried beside the
    per-environment arrays), and leaves whose ``axis`` the devices do not divide,
    are left to the partitioner. With ``sharding=None`` this returns ``tree``
    unchanged, so the single-device program is the same code.

    Args:
      tree: a pytree of arrays with the env axis at ``axis`` (``[N, ...]`` or
        ``[T, N, ...]``).
      sharding: the env-axis sharding of a ``[N, ...]`` array, or None.
      axis: where the env axis is.

    Returns:
      ``tree`` with sharding constraints (inside ``jax.jit``).
    """
    if sharding is None:
        return tree
    spec = PartitionSpec(*([None] * axis), *sharding.spec)
    target = NamedSharding(sharding.mesh, spec)
    shards = num_shards(sharding)

    def pin(x):
        if not hasattr(x, "ndim") or x.ndim <= axis or x.shape[axis] % shards:
            return x
        return jax.lax.with_sharding_constraint(x, target)

    return jax.tree.map(pin, tree)


def check_divisible(num_envs: int, num_devices: int, what: str = "num_envs") -> None:
    """``ValueError`` unless ``num_devices`` divides ``num_envs``.

    Args:
      num_envs: the batch size to split.
      num_devices: the number of devices it is split over.
      what: the name the message uses for ``num_envs``.

    Raises:
      ValueError: naming the next multiple that would do.
    """
    if num_envs % num_devices:
        raise ValueError(
            f"{what}={num_envs} is not divisible by the device count "
            f"{num_devices}: each device steps {what} / devices environments; choose "
            f"a multiple of {num_devices} (e.g. {num_envs + (-num_envs) % num_devices})"
        )


def state_shardings(state: Any, mesh: Mesh, num_envs: int) -> Any:
    """Shardings for a :class:`jaxpg.TrainState` (or its ``jax.eval_shape``).

    The per-environment arrays carried in ``state.env_state`` (actor-critic
    rollouts) are split on their first axis; everything else is replicated.

    Args:
      state: a :class:`jaxpg.TrainState` or its shape (``jax.eval_shape``).
      mesh: the device mesh.
      num_envs: N: leaves of ``env_state`` with a leading axis of N are split.

    Returns:
      A pytree of ``NamedSharding`` shaped like ``state``.
    """
    rep = replicated(mesh)
    env = batch_sharding(mesh)

    def of_env(x):
        return env if x.ndim >= 1 and x.shape[0] == num_envs else rep

    shardings = jax.tree.map(lambda _: rep, state)
    if state.env_state is not None:
        shardings = shardings._replace(env_state=jax.tree.map(of_env, state.env_state))
    return shardings
