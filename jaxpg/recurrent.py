"""Recurrent policies: a GRU cell between the torso and the head, and its carry.

A recurrent :class:`~jaxpg.networks.Policy` has a third function,
``initial_carry(batch_shape) → carry``, and its ``apply`` takes and returns the
carry: ``output, carry = apply(params, obs, carry)``. A feed-forward policy has
``initial_carry=None`` and ``apply(params, obs) → output``. jaxpg's own recurrent
network (``memory_size = k > 0``) is

``features = torso(obs)`` (the MLP/conv torso) → ``h' = GRU(h, features)`` (k units)
→ ``output = head(h')``

and its carry is ``h``, float32 ``[*batch_shape, k]``, zeros at an episode's start.

The carry is reset to ``initial_carry`` at every episode start: rollouts apply
:func:`reset` with the step's episode-end flags after each step, and the updates
replay a stored sequence with :func:`unroll`, which does the same, so the replayed
outputs are the ones the rollout sampled from.

The GRU's recurrent kernel is LeCun-normal, not flax's default orthogonal one: an
orthogonal initialiser runs a QR decomposition, and a batched QR under
``jit(vmap(...))`` (several seeds at once) can deadlock on CPU with jax 0.10.
"""

from __future__ import annotations

import inspect
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxpg import networks
from jaxpg.networks import Policy


class RecurrentNet(nn.Module):
    """``torso → GRU cell → head``; ``__call__(obs, carry) → (output, carry)``.

    ``carry`` None means the initial (zero) carry, so ``init(key, obs)`` needs no
    carry.

    Attributes:
      torso: the MLP/conv torso.
      memory_size: the GRU's units.
      head: the output head.
      parent: flax's module parent (set by flax).
      name: flax's module name (set by flax).
    """

    torso: nn.Module  # obs [..., *obs_shape] → features [..., F]
    memory_size: int  # k, the GRU's units
    head: nn.Module  # features [..., k] → the network's output

    @nn.compact
    def __call__(self, obs: jax.Array, carry: jax.Array | None = None) -> Any:
        features = self.torso(obs)
        if carry is None:
            carry = jnp.zeros(features.shape[:-1] + (self.memory_size,), jnp.float32)
        cell = nn.GRUCell(
            self.memory_size, recurrent_kernel_init=nn.initializers.lecun_normal()
        )
        carry, h = cell(carry, features)
        return self.head(h), carry


def is_recurrent(policy: Policy | None) -> bool:
    """Whether ``policy`` carries a state (has an ``initial_carry``).

    Args:
      policy: a :class:`jaxpg.Policy` (or None).

    Returns:
      True for a recurrent policy.
    """
    return policy is not None and getattr(policy, "initial_carry", None) is not None


def zeros_carry(memory_size: int):
    """``initial_carry`` of jaxpg's GRU: ``batch_shape → zeros [*batch_shape, k]``.

    Args:
      memory_size: k, the GRU's units.

    Returns:
      The ``initial_carry`` function (float32 zeros).
    """

    def initial_carry(batch_shape: tuple[int, ...] = ()) -> jax.Array:
        return jnp.zeros(tuple(batch_shape) + (memory_size,), jnp.float32)

    return initial_carry


def with_memory(module: nn.Module, memory_size: int) -> Policy:
    """One of :mod:`jaxpg.networks`' nets as a :class:`Policy`, with a GRU if asked.

    Args:
      module: a policy or value net with the fields ``hidden_sizes``,
        ``activation``, ``obs_ndim`` and ``conv_channels`` (its torso) and a head.
      memory_size: 0: ``Policy(module.init, module.apply)``, unchanged;
        k > 0: its torso, a GRU cell of k units, then its head.

    Returns:
      The feed-forward or recurrent :class:`Policy`.
    """
    if memory_size == 0:
        return Policy(module.init, module.apply)
    torso = networks.MLP(
        tuple(module.hidden_sizes),
        module.activation,
        module.obs_ndim,
        tuple(module.conv_channels),
    )
    # The same head class with an empty torso: its MLP of no layers on 1-D
    # features is the identity, so only the head's own layers remain.
    head = module.clone(hidden_sizes=(), obs_ndim=1, conv_channels=(), parent=None)
    net = RecurrentNet(torso, memory_size, head)
    return Policy(net.init, net.apply, zeros_carry(memory_size))


def reset(policy: Policy, carry: Any, done: jax.Array) -> Any:
    """``carry`` with the initial carry where ``done`` (the episode ended).

    Args:
      policy: the recurrent policy.
      carry: a carry of batch shape ``done.shape``.
      done: bool ``[*batch_shape]``: the step ended an episode.

    Returns:
      The carry to act on the next observation with.
    """
    start = policy.initial_carry(done.shape)

    def pick(fresh, old):
        where = done.reshape(done.shape + (1,) * (old.ndim - done.ndim))
        return jnp.where(where, fresh, old)

    return jax.tree.map(pick, start, carry)


def unroll(
    policy: Policy, params: Any, obs: jax.Array, carry: Any, done: jax.Array
) -> tuple[Any, Any, Any]:
    """Replays a time-major sequence from ``carry``, resetting after episode ends.

    ``h_0 = carry``; for each t: ``output_t, h'_t = apply(params, obs_t, h_t)``
    and ``h_{t+1} = initial_carry`` where ``done_t``, else ``h'_t``. The gradient
    flows through every ``h`` (backpropagation through time).

    Args:
      policy: the recurrent policy.
      params: its parameters.
      obs: ``[T, *batch_shape, *obs_shape]``.
      carry: the carry before step 0, batch shape ``batch_shape``.
      done: bool ``[T, *batch_shape]``: step t ended an episode.

    Returns:
      ``(outputs [T, ...], carries_after [T, ...], final_carry)``:
      ``carries_after[t] = h'_t`` (before any reset), ``final_carry = h_T``.
    """

    def step(h, x):
        obs_t, done_t = x
        output, h_after = policy.apply(params, obs_t, h)
        return reset(policy, h_after, done_t), (output, h_after)

    final, (outputs, after) = jax.lax.scan(step, carry, (obs, done))
    return outputs, after, final


def require_carry(policy: Policy, carry: Any, where: str) -> None:
    """ValueError for a carry given to a feed-forward policy or missing for a
    recurrent one (before anything is traced).

    Args:
      policy: the :class:`Policy` about to be applied.
      carry: the carry given with it, or None.
      where: the function the message names (e.g. ``"act"``).

    Raises:
      ValueError: a recurrent policy without a carry, or a feed-forward one with.
    """
    if is_recurrent(policy) and carry is None:
        raise ValueError(
            f"{where}: a recurrent policy needs carry= (start with "
            "policy.initial_carry(batch_shape)); it returns (action, carry)"
        )
    if not is_recurrent(policy) and carry is not None:
        raise ValueError(
            f"{where}: carry= is only for recurrent policies (Policy with an "
            "initial_carry); this policy is feed-forward"
        )


class Carry(NamedTuple):
    """The carries of a policy and its critic; None for a feed-forward one."""

    policy: Any = None  # the policy's carry, batch shape [N] (or [T, N] recorded)
    value: Any = None  # the critic's carry, likewise


def initial_carries(policy: Policy, value: Policy | None, num_envs: int) -> Carry:
    """Both networks' carries at an episode start for ``num_envs`` environments.

    Args:
      policy: the policy.
      value: the critic, or None.
      num_envs: N.

    Returns:
      :class:`Carry` (None for a network that is feed-forward or absent).
    """

    def start(net):
        return net.initial_carry((num_envs,)) if is_recurrent(net) else None

    return Carry(start(policy), start(value))


def apply(net: Policy, params: Any, obs: jax.Array, carry: Any) -> tuple[Any, Any]:
    """``(output, next carry)`` of a recurrent net, ``(output, None)`` of a
    feed-forward one (``carry`` None).

    Args:
      net: the policy or critic.
      params: its parameters.
      obs: the observations.
      carry: the carry (batch shape of ``obs``), or None for a feed-forward net.

    Returns:
      ``(output, carry)``; the carry None for a feed-forward net.
    """
    if carry is None:
        return net.apply(params, obs), None
    return net.apply(params, obs, carry)


def check_form(policy: Policy, name: str = "policy") -> None:
    """ValueError, before anything is traced, for an ``apply`` that needs a carry
    (three required positional arguments) on a policy without ``initial_carry``.

    Args:
      policy: a :class:`Policy`.
      name: how the message names it (``"policy"``, ``"value"``).
    """
    if is_recurrent(policy):
        return
    try:
        signature = inspect.signature(policy.apply)
    except (TypeError, ValueError):  # a builtin or C function: nothing to check
        return
    required = [
        p
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        and p.default is p.empty
    ]
    if len(required) >= 3:
        raise ValueError(
            f"{name}.apply takes a carry ({len(required)} required arguments) but "
            f"{name} has no initial_carry: a recurrent Policy is "
            "Policy(init, apply, initial_carry) with initial_carry(batch_shape) → "
            "the carry at an episode's start"
        )
