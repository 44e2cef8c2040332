"""Policies as pairs of pure functions, and their distributions.

A :class:`Policy` is ``(init, apply)``: ``init(key, obs) → params`` and
``apply(params, obs) → output``, where the output is a logits array ``[..., A]``
(categorical policy) or a ``(mean, log_std)`` pair of ``[..., A]`` arrays (diagonal
Gaussian), or one of :mod:`jaxpg.distributions`' richer outputs
(:class:`~jaxpg.distributions.MultiCategorical` for ``MultiDiscrete`` actions,
:class:`~jaxpg.distributions.SquashedGaussian` for a tanh-squashed Gaussian). Any
pair of that form -- a flax module's ``init``/``apply``, or a table of logits -- can
be passed wherever jaxpg takes ``policy=``. A value function is the same kind of
pair whose ``apply`` returns one number per observation.

The distributions (:func:`sample`, :func:`mode`, :func:`log_prob`,
:func:`entropy`, from :mod:`jaxpg.distributions`) are robust at their edges: a
Gaussian's log-std is clipped to :data:`LOG_STD_RANGE`, and categorical logits may
be −inf (action masks).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxpg import networks
from jaxpg import spaces as sp
from jaxpg.distributions import (
    LOG_STD_RANGE,
    MultiCategorical,
    SquashedGaussian,
    entropy,
    log_prob,
    mask_logits,
    mode,
    multi_categorical,
    sample,
    spread_dimensions,
)
from jaxpg.distributions import is_continuous as is_gaussian
from jaxpg.envs import encode_env, is_box, is_discrete, unwrap
from jaxpg.networks import Policy, PolicyOutput
from jaxpg.normalization import normalize_observations

__all__ = [
    "LOG_STD_RANGE",
    "MultiCategorical",
    "Policy",
    "SquashedGaussian",
    "act",
    "entropy",
    "example_observation",
    "is_gaussian",
    "log_prob",
    "make_policy",
    "make_value",
    "mode",
    "sample",
]


def act(
    policy: Policy, params: dict, obs: jax.Array, key: jax.Array | None = None
) -> jax.Array:
    """An action for ``obs``: sampled with ``key``, the mode when ``key`` is None.

    ``params`` is the full parameter dict (``result.params``); ``obs`` must be
    encoded (as the environments from :func:`jaxpg.make_env` return it). The action
    is not clipped: the environment wrapper clips a continuous action (a squashed
    Gaussian's lies inside the bounds already).

    Args:
      policy: the :class:`Policy`.
      params: the full params dict (``params["policy"]`` is used).
      obs: an encoded observation, or a batch ``[B, ...]``.
      key: a PRNG key to sample, or None for the mode.

    Returns:
      The action (int ``[]`` / ``[B]``; int ``[D]`` / ``[B, D]`` for
      ``MultiDiscrete``; float ``[A]`` / ``[B, A]``).
    """
    output = policy.apply(params["policy"], obs)
    return mode(output) if key is None else sample(key, output)


def example_observation(env: Any, env_params: Any) -> Any:
    """An encoded observation of the right shape and dtype (zeros), built without
    running the environment.

    Args:
      env: the environment (wrapped or raw).
      env_params: its parameters.

    Returns:
      Zeros shaped like one encoded observation.
    """
    env = encode_env(env)
    shape = jax.eval_shape(lambda k: env.reset(k, env_params)[0], jax.random.key(0))
    return jnp.zeros(shape.shape, shape.dtype)


def _obs_ndim(env: Any, env_params: Any) -> int:
    return max(1, example_observation(env, env_params).ndim)


def _mask_size(env: Any, env_params: Any) -> int:
    """Entries of the raw observation's legal-action mask (0: none)."""
    raw = unwrap(env)
    shape = jax.eval_shape(lambda k: raw.reset(k, env_params)[0], jax.random.key(0))
    return sp.action_mask_size(shape)


def _conv_channels(config: Any, ndim: int) -> tuple[int, ...]:
    """``config.conv_channels``: None → ``(16,)`` for image observations (``[H, W,
    C]``), else none; configs without the field get no convolution."""
    channels = getattr(config, "conv_channels", ())
    if channels is None:
        return (16,) if ndim == 3 else ()
    if channels and ndim != 3:
        raise ValueError(
            f"conv_channels={tuple(channels)} needs image observations [H, W, C]; "
            f"this environment's observations have {ndim} axes"
        )
    return tuple(channels)


def make_policy(config: Any, env: Any, env_params: Any) -> Policy:
    """jaxpg's MLP policy for ``env``'s action space.

    ``Discrete`` actions get a categorical head (``apply`` returns logits);
    ``MultiDiscrete`` (:class:`jaxpg.spaces.MultiDiscrete`) one head with the
    logits of every dimension, returned as a
    :class:`~jaxpg.distributions.MultiCategorical`; ``Box`` actions a diagonal
    Gaussian (``apply`` returns ``(mean, log_std)``), or with ``config.squash`` a
    :class:`~jaxpg.distributions.SquashedGaussian` rescaled to the box's bounds.
    The log-std is learned, state-independent unless ``config.state_dependent_std``.
    An environment whose raw observation is a dict with an ``"action_mask"`` entry
    (:data:`jaxpg.spaces.ACTION_MASK_KEY`; encoded with the mask last) gets −inf
    on the illegal logits; the network sees the observation without the mask.

    Args:
      config: an algorithm config (``hidden_sizes``, ``activation``, and where
        present ``init_log_std``, ``squash``, ``state_dependent_std``,
        ``conv_channels``, ``normalize_observations``).
      env: the environment (wrapped or raw).
      env_params: its parameters.

    Returns:
      A :class:`Policy` ``(init, apply)``: ``init(key, obs)`` → params,
      ``apply(params, obs)`` → the output above.

    Raises:
      ValueError: for an action space jaxpg does not handle, ``squash`` with
        unbounded or continuous-less actions, or a mask of the wrong shape.
    """
    env = encode_env(env)
    space = env.action_space(env_params)
    ndim = _obs_ndim(env, env_params)
    net = _maybe_normalized(config, _head(config, space, ndim))
    size = _mask_size(env, env_params)
    if not size:
        return net
    _check_mask(config, space, size)
    return _masked(net, space, size, ndim)


def _head(config: Any, space: Any, ndim: int) -> Policy:
    """The torso and the head for ``space`` (see :func:`make_policy`)."""
    hidden = tuple(config.hidden_sizes)
    conv = _conv_channels(config, ndim)
    squash = bool(getattr(config, "squash", False))
    if squash and not is_box(space):
        raise ValueError(
            f"squash=True needs a Box action space (continuous actions); this "
            f"environment's is {type(space).__name__}"
        )
    if sp.is_multi_discrete(space):
        nvec = tuple(int(n) for n in space.nvec)
        module = networks.CategoricalPolicyNet(
            sum(nvec), hidden, config.activation, ndim, conv
        )
        return _multi_categorical(Policy(module.init, module.apply), nvec)
    if is_discrete(space):
        module = networks.CategoricalPolicyNet(
            int(space.n), hidden, config.activation, ndim, conv
        )
        return Policy(module.init, module.apply)
    if is_box(space):
        return _gaussian(config, space, hidden, ndim, conv, squash)
    raise ValueError(
        f"unsupported action space {space!r}: jaxpg handles Discrete, "
        "MultiDiscrete and 1-D Box"
    )


def _gaussian(config, space, hidden, ndim, conv, squash) -> Policy:
    """The Gaussian head for a 1-D ``Box``; squashed to its bounds with ``squash``."""
    if len(space.shape) != 1:
        raise ValueError(
            f"Box action spaces must be 1-D, got shape {tuple(space.shape)}"
        )
    dim = int(space.shape[0])
    module = networks.GaussianPolicyNet(
        dim,
        hidden,
        config.activation,
        ndim,
        float(getattr(config, "init_log_std", 0.0)),
        conv,
        bool(getattr(config, "state_dependent_std", False)),
    )
    if not squash:
        return Policy(module.init, module.apply)
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

    def apply(params: Any, obs: jax.Array) -> SquashedGaussian:
        mean, log_std = module.apply(params, obs)
        return SquashedGaussian(
            mean,
            log_std,
            jnp.broadcast_to(jnp.asarray(low), mean.shape),
            jnp.broadcast_to(jnp.asarray(high), mean.shape),
        )

    return Policy(module.init, apply)


def _multi_categorical(net: Policy, nvec: tuple[int, ...]) -> Policy:
    """``net``'s flat logits ``[..., sum(nvec)]`` as a ``MultiCategorical``."""

    def apply(params: Any, obs: jax.Array) -> MultiCategorical:
        return multi_categorical(net.apply(params, obs), nvec)

    return Policy(net.init, apply)


def _check_mask(config: Any, space: Any, size: int) -> None:
    """ValueError unless one observation's mask fits the action space: ``[n]`` for
    ``Discrete(n)``, ``[sum(nvec)]`` (the dimensions' masks one after another) for
    ``MultiDiscrete``; and the observations are not normalised (the statistics
    would standardise the mask too)."""
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


def _masked(net: Policy, space: Any, size: int, ndim: int) -> Policy:
    """``net`` on the observation without its mask, −inf on illegal logits."""
    nvec = tuple(int(n) for n in space.nvec) if sp.is_multi_discrete(space) else None

    def init(key: jax.Array, obs: jax.Array) -> Any:
        return net.init(key, sp.split_action_mask(obs, size, ndim)[0])

    def apply(params: Any, obs: jax.Array) -> PolicyOutput:
        features, legal = sp.split_action_mask(obs, size, ndim)
        if nvec is not None:
            legal = spread_dimensions(legal, nvec, False)
        return mask_logits(net.apply(params, features), legal)

    return Policy(init, apply)


def _without_mask(net: Policy, size: int, ndim: int) -> Policy:
    """``net`` (a critic) on the observation without its mask."""
    return Policy(
        lambda key, obs: net.init(key, sp.split_action_mask(obs, size, ndim)[0]),
        lambda params, obs: net.apply(params, sp.split_action_mask(obs, size, ndim)[0]),
    )


def _maybe_normalized(config: Any, network: Policy) -> Policy:
    """With ``config.normalize_observations``, the network on standardised inputs."""
    if getattr(config, "normalize_observations", False):
        return normalize_observations(network)
    return network


def make_value(config: Any, env: Any, env_params: Any) -> Policy:
    """jaxpg's MLP critic ``V(s)`` (same torso sizes as the policy).

    Args:
      config: an algorithm config, as for :func:`make_policy`.
      env: the environment (wrapped or raw).
      env_params: its parameters.

    Returns:
      A :class:`Policy` whose ``apply(params, obs)`` returns ``V(s)``, ``[...]``.
    """
    ndim = _obs_ndim(env, env_params)
    module = networks.ValueNet(
        tuple(config.hidden_sizes),
        config.activation,
        ndim,
        _conv_channels(config, ndim),
    )
    net = _maybe_normalized(config, Policy(module.init, module.apply))
    size = _mask_size(env, env_params)
    return _without_mask(net, size, ndim) if size else net
