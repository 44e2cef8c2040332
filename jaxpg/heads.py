"""What jaxpg puts around a network's raw output: squashing, several categorical
dimensions, legal-action masks -- for feed-forward and recurrent networks alike.

:func:`jaxpg.make_policy` builds a network (:mod:`jaxpg.networks`, with a GRU when
``memory_size > 0``: :mod:`jaxpg.recurrent`) and wraps it here. Every wrapper keeps
the network's form: a feed-forward ``apply(params, obs) → output`` stays one, a
recurrent ``apply(params, obs, carry) → (output, carry)`` keeps its carry and its
``initial_carry``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxpg import recurrent
from jaxpg import spaces as sp
from jaxpg.distributions import (
    MultiCategorical,
    SquashedGaussian,
    mask_logits,
    multi_categorical,
    spread_dimensions,
)
from jaxpg.envs import is_discrete
from jaxpg.networks import Policy

__all__ = ["check_mask", "masked", "multi_categorical_head", "squashed", "wrap"]


def _same(x: Any, *_: Any) -> Any:
    return x


def wrap(
    net: Policy,
    inputs: Callable[[Any], Any] = _same,
    outputs: Callable[[Any, Any], Any] = _same,
) -> Policy:
    """``net`` reading ``inputs(obs)`` and returning ``outputs(output, obs)``.

    Args:
      net: a feed-forward or recurrent :class:`jaxpg.Policy`.
      inputs: ``obs → what the network sees``.
      outputs: ``(network output, obs) → the policy's output``.

    Returns:
      A :class:`jaxpg.Policy` of the same form as ``net`` (the same carry).
    """

    def init(key: jax.Array, obs: Any) -> Any:
        return net.init(key, inputs(obs))

    if not recurrent.is_recurrent(net):
        return Policy(
            init, lambda params, obs: outputs(net.apply(params, inputs(obs)), obs)
        )

    def apply(params: Any, obs: Any, carry: Any) -> tuple[Any, Any]:
        output, carry = net.apply(params, inputs(obs), carry)
        return outputs(output, obs), carry

    return Policy(init, apply, net.initial_carry)


def squashed(net: Policy, space: Any) -> Policy:
    """A Gaussian ``net``'s ``(mean, log_std)`` as a tanh-squashed Gaussian
    rescaled to the bounds of a 1-D ``Box``.

    Args:
      net: a policy returning ``(mean, log_std)`` ``[..., A]``.
      space: the ``Box`` action space (finite bounds, ``high > low``).

    Returns:
      The policy returning a :class:`~jaxpg.distributions.SquashedGaussian`.

    Raises:
      ValueError: unbounded or empty bounds.
    """
    dim = int(space.shape[0])
    low = np.broadcast_to(np.asarray(space.low, np.float32), (dim,))
    high = np.broadcast_to(np.asarray(space.high, np.float32), (dim,))
    if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
        raise ValueError(
            "squash=True needs finite action bounds to rescale tanh to; this Box "
            f"has low={low.tolist()}, high={high.tolist()}"
        )
    if not np.all(high > low):
        raise ValueError(
            f"squash=True needs high > low in every dimension; got low="
            f"{low.tolist()}, high={high.tolist()}"
        )

    def outputs(output: Any, _obs: Any) -> SquashedGaussian:
        mean, log_std = output
        return SquashedGaussian(
            mean,
            log_std,
            jnp.broadcast_to(jnp.asarray(low), mean.shape),
            jnp.broadcast_to(jnp.asarray(high), mean.shape),
        )

    return wrap(net, outputs=outputs)


def multi_categorical_head(net: Policy, nvec: tuple[int, ...]) -> Policy:
    """``net``'s flat logits ``[..., sum(nvec)]`` as a ``MultiCategorical``.

    Args:
      net: a policy returning logits ``[..., sum(nvec)]``.
      nvec: the number of actions of each dimension.

    Returns:
      The policy returning a :class:`~jaxpg.distributions.MultiCategorical`.
    """

    def outputs(logits: jax.Array, _obs: Any) -> MultiCategorical:
        return multi_categorical(logits, nvec)

    return wrap(net, outputs=outputs)


def check_mask(config: Any, space: Any, size: int) -> None:
    """ValueError unless one observation's mask fits the action space.

    ``[n]`` for ``Discrete(n)``, ``[sum(nvec)]`` (the dimensions' masks one after
    another) for ``MultiDiscrete``; and the observations are not normalised (the
    statistics would standardise the mask too).

    Args:
      config: the algorithm config (its ``normalize_observations``).
      space: the action space.
      size: entries of one observation's mask.

    Raises:
      ValueError: a mask that does not fit, or normalised observations.
    """
    if getattr(config, "normalize_observations", False):
        raise ValueError(
            "normalize_observations=True cannot be used with an environment that "
            f"supplies {sp.ACTION_MASK_KEY!r}: the running statistics would "
            "standardise the mask with the observation"
        )
    if sp.is_multi_discrete(space):
        want = sum(int(n) for n in space.nvec)
        what = "the concatenated per-dimension masks, [sum(nvec)]"
    elif is_discrete(space):
        want, what = int(space.n), "[n]"
    else:
        raise ValueError(
            f"an action mask needs a Discrete or MultiDiscrete action space; this "
            f"environment's is {type(space).__name__}"
        )
    if size != want:
        raise ValueError(
            f"the observation's {sp.ACTION_MASK_KEY!r} must have {want} entries "
            f"({what}) for {space!r}; got {size} (a joint mask over all "
            "combinations cannot be applied to independent dimensions)"
        )


def masked(net: Policy, space: Any, size: int, ndim: int, policy: bool) -> Policy:
    """``net`` on the observation without its mask (the mask is encoded last).

    Args:
      net: the network (policy or critic).
      space: the action space.
      size: entries of one observation's mask.
      ndim: axes of one encoded observation.
      policy: True: −inf on the illegal logits of the output; False (a critic):
        the output unchanged.

    Returns:
      The wrapped :class:`jaxpg.Policy`.
    """
    nvec = tuple(int(n) for n in space.nvec) if sp.is_multi_discrete(space) else None

    def inputs(obs: jax.Array) -> jax.Array:
        return sp.split_action_mask(obs, size, ndim)[0]

    def outputs(output: Any, obs: jax.Array) -> Any:
        legal = sp.split_action_mask(obs, size, ndim)[1]
        if nvec is not None:
            legal = spread_dimensions(legal, nvec, False)
        return mask_logits(output, legal)

    return wrap(net, inputs, outputs if policy else _same)
