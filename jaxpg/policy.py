"""Policies as pairs of pure functions, and their distributions.

A :class:`Policy` is ``(init, apply)``: ``init(key, obs) → params`` and
``apply(params, obs) → output``, where the output is a logits array ``[..., A]``
(categorical policy) or a ``(mean, log_std)`` pair of ``[..., A]`` arrays (diagonal
Gaussian), or one of :mod:`jaxpg.distributions`' richer outputs
(:class:`~jaxpg.distributions.MultiCategorical` for ``MultiDiscrete`` actions,
:class:`~jaxpg.distributions.SquashedGaussian` for a tanh-squashed Gaussian). Any
pair of that form -- a flax module's ``init``/``apply``, or a table of logits -- can
be passed wherever jaxpg takes ``policy=``. A value function is the same kind of
pair whose ``apply`` returns one number per observation. A recurrent policy
(``memory_size > 0``, :mod:`jaxpg.recurrent`) has a third function,
``initial_carry(batch_shape)``, and ``apply(params, obs, carry) → (output, carry)``.

The distributions (:func:`sample`, :func:`mode`, :func:`log_prob`,
:func:`entropy`, from :mod:`jaxpg.distributions`) are robust at their edges: a
Gaussian's log-std is clipped to :data:`LOG_STD_RANGE`, and categorical logits may
be −inf (action masks).
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from jaxpg import heads, networks, recurrent
from jaxpg import spaces as sp
from jaxpg.distributions import (
    LOG_STD_RANGE,
    MultiCategorical,
    SquashedGaussian,
    entropy,
    log_prob,
    mode,
    sample,
)
from jaxpg.distributions import is_continuous as is_gaussian
from jaxpg.envs import encode_env, is_box, is_discrete, unwrap
from jaxpg.networks import Policy
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
    policy: Policy,
    params: dict,
    obs: jax.Array,
    key: jax.Array | None = None,
    carry: Any = None,
) -> Any:
    """An action for ``obs``: sampled with ``key``, the mode when ``key`` is None.

    ``params`` is the full parameter dict (``result.params``); ``obs`` must be
    encoded (as the environments from :func:`jaxpg.make_env` return it). The action
    is not clipped: the environment wrapper clips a continuous action (a squashed
    Gaussian's lies inside the bounds already). A recurrent policy
    (:mod:`jaxpg.recurrent`) takes its carry and returns the next one: start an
    episode with ``policy.initial_carry(batch_shape)``.

    Args:
      policy: the :class:`Policy`.
      params: the full params dict (``params["policy"]`` is used).
      obs: an encoded observation, or a batch ``[B, ...]``.
      key: a PRNG key to sample, or None for the mode.
      carry: the recurrent policy's carry (batch shape ``[]`` / ``[B]``); must be
        None for a feed-forward policy.

    Returns:
      The action (int ``[]`` / ``[B]``; int ``[D]`` / ``[B, D]`` for
      ``MultiDiscrete``; float ``[A]`` / ``[B, A]``); for a recurrent policy the
      pair ``(action, carry)``.

    Raises:
      ValueError: a recurrent policy without ``carry``, or a feed-forward one
        with it.
    """
    recurrent.require_carry(policy, carry, "act")
    if carry is None:
        output = policy.apply(params["policy"], obs)
    else:
        output, carry = policy.apply(params["policy"], obs, carry)
    action = mode(output) if key is None else sample(key, output)
    return action if carry is None else (action, carry)


def example_observation(env: Any, env_params: Any) -> Any:
    """An encoded observation of the right shape and dtype (zeros), built without
    running the environment.

    Args:
      env: the environment (wrapped or raw).
      env_params: its parameters.

    Returns:
      Zeros shaped like one encoded observation.
    """
    shape = _observation_shape(env, env_params)
    return jax.device_put(np.zeros(shape.shape, shape.dtype))  # no program compiled


def _observation_shape(env: Any, env_params: Any) -> jax.ShapeDtypeStruct:
    """One encoded observation's shape and dtype; the key is made inside the
    trace, so nothing is compiled (a host-side key or array would be)."""
    env = encode_env(env)
    return jax.eval_shape(lambda: env.reset(jax.random.key(0), env_params)[0])


def _obs_ndim(env: Any, env_params: Any) -> int:
    return max(1, len(_observation_shape(env, env_params).shape))


def _mask_size(env: Any, env_params: Any) -> int:
    """Entries of the raw observation's legal-action mask (0: none); the key is
    made inside the trace, so nothing is compiled."""
    raw = unwrap(env)
    shape = jax.eval_shape(lambda: raw.reset(jax.random.key(0), env_params)[0])
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
    With ``config.memory_size > 0`` a GRU follows the torso (:mod:`jaxpg.recurrent`)
    and the policy is recurrent.

    Args:
      config: an algorithm config (``hidden_sizes``, ``activation``, and where
        present ``init_log_std``, ``squash``, ``state_dependent_std``,
        ``conv_channels``, ``normalize_observations``, ``memory_size``).
      env: the environment (wrapped or raw).
      env_params: its parameters.

    Returns:
      A :class:`Policy`: ``init(key, obs)`` → params, ``apply(params, obs)`` →
      the output above (recurrent: ``apply(params, obs, carry)`` → ``(output,
      carry)``, with ``initial_carry``).

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
    heads.check_mask(config, space, size)
    return heads.masked(net, space, size, ndim, policy=True)


def _head(config: Any, space: Any, ndim: int) -> Policy:
    """The torso (and GRU) and the head for ``space`` (see :func:`make_policy`)."""
    hidden, memory = tuple(config.hidden_sizes), _memory(config)
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
        net = recurrent.with_memory(module, memory)
        return heads.multi_categorical_head(net, nvec)
    if is_discrete(space):
        module = networks.CategoricalPolicyNet(
            int(space.n), hidden, config.activation, ndim, conv
        )
        return recurrent.with_memory(module, memory)
    if not is_box(space):
        raise ValueError(
            f"unsupported action space {space!r}: jaxpg handles Discrete, "
            "MultiDiscrete and 1-D Box"
        )
    if len(space.shape) != 1:
        raise ValueError(
            f"Box action spaces must be 1-D, got shape {tuple(space.shape)}"
        )
    module = networks.GaussianPolicyNet(
        int(space.shape[0]),
        hidden,
        config.activation,
        ndim,
        float(getattr(config, "init_log_std", 0.0)),
        conv,
        bool(getattr(config, "state_dependent_std", False)),
    )
    net = recurrent.with_memory(module, memory)
    return heads.squashed(net, space) if squash else net


def _memory(config: Any) -> int:
    """``config.memory_size`` (0, feed-forward, for configs without the field)."""
    return int(getattr(config, "memory_size", 0))


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
      A :class:`Policy` whose ``apply(params, obs)`` returns ``V(s)``, ``[...]``
      (recurrent with ``config.memory_size > 0``).
    """
    env = encode_env(env)
    ndim = _obs_ndim(env, env_params)
    module = networks.ValueNet(
        tuple(config.hidden_sizes),
        config.activation,
        ndim,
        _conv_channels(config, ndim),
    )
    net = _maybe_normalized(config, recurrent.with_memory(module, _memory(config)))
    size = _mask_size(env, env_params)
    if not size:
        return net
    return heads.masked(net, env.action_space(env_params), size, ndim, policy=False)
