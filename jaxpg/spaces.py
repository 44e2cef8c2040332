"""Action spaces gymnax lacks: :class:`MultiDiscrete`.

gymnax has ``Discrete``, ``Box``, ``Tuple`` and ``Dict`` spaces but no
``MultiDiscrete``. An environment (or an adapter for another library) whose action
is a vector of D independent choices, choice d out of ``nvec[d]``, returns a
:class:`MultiDiscrete` from ``action_space(params)``; jaxpg's policy then has one
categorical per dimension (:class:`jaxpg.distributions.MultiCategorical`).

Legal-action masks travel in the observation: an environment whose observation is
a dict with an :data:`ACTION_MASK_KEY` entry (jumanji's observations carry one)
gets a policy that puts −inf on the illegal logits (:func:`jaxpg.make_policy`).
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


def split_action_mask(obs: Any) -> tuple[Any, Any]:
    """Separates the legal-action mask from the rest of an observation.

    Args:
      obs: an observation (or a batch): an array, or a dict that may hold
        :data:`ACTION_MASK_KEY`.

    Returns:
      ``(features, mask)``: ``mask`` is the dict's mask (None when there is none);
      ``features`` is the observation without it -- the one remaining entry itself
      when only one is left, else the smaller dict.
    """
    if not isinstance(obs, Mapping) or ACTION_MASK_KEY not in obs:
        return obs, None
    rest = {k: v for k, v in obs.items() if k != ACTION_MASK_KEY}
    if not rest:
        raise ValueError(
            f"the observation holds only {ACTION_MASK_KEY!r}: there is nothing for "
            "the policy to see"
        )
    features = next(iter(rest.values())) if len(rest) == 1 else rest
    return features, obs[ACTION_MASK_KEY]
