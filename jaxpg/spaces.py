"""Action spaces gymnax lacks: :class:`MultiDiscrete`.

gymnax has ``Discrete``, ``Box``, ``Tuple`` and ``Dict`` spaces but no
``MultiDiscrete``. An environment (or an adapter for another library) whose action
is a vector of D independent choices, choice d out of ``nvec[d]``, returns a
:class:`MultiDiscrete` from ``action_space(params)``; jaxpg's policy then has one
categorical per dimension (:class:`jaxpg.distributions.MultiCategorical`).

Legal-action masks travel in the observation: an environment whose raw observation
is a dict with an :data:`ACTION_MASK_KEY` entry (jumanji's observations carry one)
is encoded to one array with the mask last (:func:`encode_masked_observation`),
so rollouts carry plain arrays; :func:`jaxpg.make_policy` splits it off again
(:func:`split_action_mask`) and puts −inf on the illegal logits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

# The observation entry that holds the legal-action mask (True / 1: legal).
ACTION_MASK_KEY = "action_mask"


class MultiDiscrete:
    """D discrete choices: ``action[d] ∈ {0, …, nvec[d] − 1}``, an int ``[D]``.

    The gymnax space interface: ``shape``, ``dtype``, ``sample(key)`` and
    ``contains(x)``.

    Args:
      nvec: the number of choices of each dimension (each >= 1, at least one).
      dtype: the action's integer dtype.

    Raises:
      ValueError: for an empty ``nvec`` or a count that is not an integer >= 1.
    """

    def __init__(self, nvec: Sequence[int], dtype: Any = jnp.int32):
        counts = list(np.asarray(nvec, dtype=object).reshape(-1))
        if not counts or not all(_is_count(n) for n in counts):
            raise ValueError(
                f"nvec must be a non-empty sequence of integers >= 1; got {nvec!r}"
            )
        self.nvec = tuple(int(n) for n in counts)
        self.shape = (len(counts),)
        self.dtype = dtype

    def __repr__(self) -> str:
        return f"MultiDiscrete({list(self.nvec)})"

    def sample(self, rng: jax.Array) -> jax.Array:
        """A uniformly random action.

        Args:
          rng: a PRNG key.

        Returns:
          An int ``[D]`` action.
        """
        u = jax.random.uniform(rng, self.shape)
        return jnp.floor(u * jnp.asarray(self.nvec, jnp.float32)).astype(self.dtype)

    def contains(self, x: jax.Array) -> jax.Array:
        """Whether ``x`` is an action of this space.

        Args:
          x: a candidate action ``[D]``.

        Returns:
          A bool scalar.
        """
        x = jnp.asarray(x)
        return jnp.all((x >= 0) & (x < jnp.asarray(self.nvec)))


def _is_count(n: Any) -> bool:
    integer = isinstance(n, (int, np.integer)) and not isinstance(n, (bool, np.bool_))
    return integer and n >= 1


def is_multi_discrete(space: Any) -> bool:
    """Whether ``space`` is a ``MultiDiscrete`` space (jaxpg's or gymnasium's).

    Args:
      space: a space (or any object).

    Returns:
      True when its class is named ``MultiDiscrete`` and it has ``nvec``.
    """
    return type(space).__name__ == "MultiDiscrete" and hasattr(space, "nvec")


def action_mask_size(raw_obs: Any) -> int:
    """How many legal-action flags a raw observation carries (0: no mask).

    Args:
      raw_obs: one raw observation as the environment returns it (arrays or
        ``jax.ShapeDtypeStruct``s): a dict with :data:`ACTION_MASK_KEY`, or
        anything else.

    Returns:
      The number of entries of its mask, 0 when it has none.
    """
    if not isinstance(raw_obs, Mapping) or ACTION_MASK_KEY not in raw_obs:
        return 0
    return int(np.prod(raw_obs[ACTION_MASK_KEY].shape, dtype=np.int64))


def encode_masked_observation(obs: Mapping) -> jax.Array:
    """One float32 array from a raw observation dict that holds a mask, with the
    mask **last**: ``[D + n]`` (the other entries flattened in sorted key order),
    or for a single image entry ``[H, W, C + n]`` (the mask tiled over ``H, W``).

    :func:`split_action_mask` is its inverse. Applies to one observation (no
    batch axes).

    Args:
      obs: ``{name: array, ..., "action_mask": bool [n]}``.

    Returns:
      The encoded observation, float32.
    """
    rest = [jnp.asarray(obs[k]) for k in sorted(obs) if k != ACTION_MASK_KEY]
    if not rest:
        raise ValueError(
            f"the observation holds only {ACTION_MASK_KEY!r}: there is nothing for "
            "the policy to see"
        )
    if len(rest) == 1 and rest[0].ndim == 3:
        features = rest[0].astype(jnp.float32)
    else:
        features = jnp.concatenate([x.reshape(-1).astype(jnp.float32) for x in rest])
    return append_action_mask(features, obs[ACTION_MASK_KEY])


def append_action_mask(features: jax.Array, mask: jax.Array) -> jax.Array:
    """An encoded observation with its mask as the last entries of the last axis.

    Args:
      features: one encoded observation without the mask: a vector ``[D]`` or an
        image ``[H, W, C]``.
      mask: its legal-action flags, any shape with n entries.

    Returns:
      ``[D + n]``, or ``[H, W, C + n]`` with the mask tiled over ``H, W``
      (float32; :func:`split_action_mask` is the inverse).
    """
    flags = jnp.asarray(mask).reshape(-1).astype(jnp.float32)
    if features.ndim == 3:
        planes = jnp.broadcast_to(flags, (*features.shape[:2], flags.shape[0]))
        return jnp.concatenate([features.astype(jnp.float32), planes], axis=-1)
    return jnp.concatenate([features.reshape(-1).astype(jnp.float32), flags])


def split_action_mask(obs: jax.Array, size: int, event_ndim: int) -> tuple:
    """Separates the legal-action mask from an encoded observation (the inverse
    of :func:`encode_masked_observation`): the last ``size`` entries of the last
    axis, read at pixel ``[0, 0]`` for an image.

    Args:
      obs: encoded observations ``[..., D + size]`` or ``[..., H, W, C + size]``.
      size: the number of mask entries (n).
      event_ndim: the axes of one observation (1 or 3).

    Returns:
      ``(features, legal)``: ``[..., D]`` or ``[..., H, W, C]``, and bool
      ``[..., size]``.
    """
    features = obs[..., :-size]
    flags = obs[..., 0, 0, -size:] if event_ndim == 3 else obs[..., -size:]
    return features, flags > 0.5
