"""Policies as pairs of pure functions, and their distributions.

A :class:`Policy` is ``(init, apply)``: ``init(key, obs) → params`` and
``apply(params, obs) → output``, where the output is a logits array ``[..., A]``
(categorical policy) or a ``(mean, log_std)`` pair of ``[..., A]`` arrays (diagonal
Gaussian). Any pair of that form -- a flax module's ``init``/``apply``, or a table
of logits -- can be passed wherever jaxpg takes ``policy=``. A value function is the
same kind of pair whose ``apply`` returns one number per observation. A recurrent
policy (``memory_size > 0``, :mod:`jaxpg.recurrent`) has a third function,
``initial_carry(batch_shape)``, and ``apply(params, obs, carry) → (output, carry)``.

The distributions are robust at their edges: a Gaussian's log-std is clipped to
:data:`LOG_STD_RANGE`, and categorical logits may be −inf (action masks).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxpg import networks, recurrent
from jaxpg.envs import encode_env, is_box, is_discrete
from jaxpg.networks import Policy, PolicyOutput
from jaxpg.normalization import normalize_observations

# The Gaussian's log-std is clipped to this range wherever it is used (sample,
# log_prob, entropy), whatever network produced it: exp(±log_std) stays far from
# float32's overflow (log-stds beyond ≈ ±88 gave inf and NaN). The range holds
# every init_log_std a config accepts ([−10, 5]); inside it nothing changes, bit for
# bit. The gradient passes straight through the clip (it is the gradient at the
# bound), so a log-std pushed past the range is still pulled back.
LOG_STD_RANGE = (-20.0, 10.0)


def _bounded_log_std(log_std: jax.Array) -> jax.Array:
    """``clip(log_std, *LOG_STD_RANGE)`` in value, identity in gradient."""
    bound = jax.lax.stop_gradient(jnp.clip(log_std, *LOG_STD_RANGE) - log_std)
    return log_std + bound


def is_gaussian(output: PolicyOutput) -> bool:
    """Whether a policy output is a ``(mean, log_std)`` pair.

    Args:
      output: what a policy's ``apply`` returned.

    Returns:
      True for a diagonal Gaussian's pair, False for categorical logits.
    """
    return isinstance(output, (tuple, list))


def sample(key: jax.Array, output: PolicyOutput) -> jax.Array:
    """Draws one action per leading index of ``output``.

    A Gaussian's log-std is clipped to :data:`LOG_STD_RANGE` first.

    Args:
      key: a PRNG key.
      output: logits ``[..., A]`` or a ``(mean, log_std)`` pair of ``[..., A]``.

    Returns:
      Actions: int ``[...]`` (categorical) or float ``[..., A]`` (Gaussian,
      unclipped).
    """
    if is_gaussian(output):
        mean, log_std = output
        log_std = _bounded_log_std(log_std)
        return mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape, mean.dtype)
    return jax.random.categorical(key, output, axis=-1)


def mode(output: PolicyOutput) -> jax.Array:
    """The most likely action: the arg-max logit, or the Gaussian mean.

    Args:
      output: logits ``[..., A]`` or a ``(mean, log_std)`` pair of ``[..., A]``.

    Returns:
      Actions: int ``[...]`` or float ``[..., A]``.
    """
    if is_gaussian(output):
        return output[0]
    return jnp.argmax(output, axis=-1)


def log_prob(output: PolicyOutput, action: jax.Array) -> jax.Array:
    """``log π(a | s)``, shape ``output``'s batch shape.

    For a Gaussian this is the density of the unclipped action summed over its
    dimensions, with the log-std clipped to :data:`LOG_STD_RANGE`. For a
    categorical policy, −inf logits (illegal actions) are allowed: a legal
    action's log-probability and its gradient stay finite.

    Args:
      output: logits ``[..., A]`` or a ``(mean, log_std)`` pair of ``[..., A]``.
      action: int ``[...]`` (categorical) or float ``[..., A]`` (Gaussian).

    Returns:
      ``log π(a | s)``, ``[...]``.
    """
    if is_gaussian(output):
        mean, log_std = output
        log_std = _bounded_log_std(log_std)
        z = (action - mean) * jnp.exp(-log_std)
        per_dim = -0.5 * z**2 - log_std - 0.5 * math.log(2 * math.pi)
        return per_dim.sum(-1)
    logp = jax.nn.log_softmax(output, axis=-1)
    return jnp.take_along_axis(logp, action[..., None].astype(jnp.int32), -1)[..., 0]


def entropy(output: PolicyOutput) -> jax.Array:
    """Entropy of the action distribution (nats), shape the batch shape.

    A Gaussian's log-std is clipped to :data:`LOG_STD_RANGE`. Categorical logits
    may be −inf (illegal actions: they count 0, as p log p → 0); the entropy and
    its gradient stay finite.

    Args:
      output: logits ``[..., A]`` or a ``(mean, log_std)`` pair of ``[..., A]``.

    Returns:
      The entropy, ``[...]``.
    """
    if is_gaussian(output):
        _, log_std = output
        log_std = _bounded_log_std(log_std)
        return (log_std + 0.5 * (1.0 + math.log(2 * math.pi))).sum(-1)
    # −inf (an illegal action) becomes −√(largest float) (≈ −1.8·10¹⁹ in float32):
    # its probability is still exactly 0, but p·log p is 0, not 0 · (−inf) = NaN,
    # and no gradient overflows. A select on the input leaves the finite path's
    # computation as it was.
    fill = -math.sqrt(float(jnp.finfo(output.dtype).max))
    output = jnp.where(jnp.isneginf(output), fill, output)
    logp = jax.nn.log_softmax(output, axis=-1)
    return -(jnp.exp(logp) * logp).sum(-1)


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
    is not clipped: the environment wrapper clips a continuous action. A recurrent
    policy (:mod:`jaxpg.recurrent`) takes its carry and returns the next one: start
    an episode with ``policy.initial_carry(batch_shape)``.

    Args:
      policy: the :class:`Policy`.
      params: the full params dict (``params["policy"]`` is used).
      obs: an encoded observation, or a batch ``[B, ...]``.
      key: a PRNG key to sample, or None for the mode.
      carry: the recurrent policy's carry (batch shape ``[]`` / ``[B]``); must be
        None for a feed-forward policy.

    Returns:
      The action (int ``[]`` / ``[B]`` or float ``[A]`` / ``[B, A]``); for a
      recurrent policy the pair ``(action, carry)``.

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


def example_observation(env: Any, env_params: Any) -> jax.Array:
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
    ``Box`` actions get a diagonal Gaussian with a learned state-independent
    log-std (``apply`` returns ``(mean, log_std)``).

    Args:
      config: an algorithm config (``hidden_sizes``, ``activation``, and where
        present ``init_log_std``, ``conv_channels``, ``normalize_observations``).
      env: the environment (wrapped or raw).
      env_params: its parameters.

    Returns:
      A :class:`Policy` ``(init, apply)``: ``init(key, obs)`` → params,
      ``apply(params, obs)`` → logits ``[..., A]`` or ``(mean, log_std)``.

    Raises:
      ValueError: for an action space that is neither.
    """
    env = encode_env(env)
    space = env.action_space(env_params)
    ndim = _obs_ndim(env, env_params)
    hidden = tuple(config.hidden_sizes)
    conv = _conv_channels(config, ndim)
    if is_discrete(space):
        module = networks.CategoricalPolicyNet(
            int(space.n), hidden, config.activation, ndim, conv
        )
    elif is_box(space):
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
        )
    else:
        raise ValueError(
            f"unsupported action space {space!r}: jaxpg handles Discrete and 1-D Box"
        )
    return _maybe_normalized(config, recurrent.with_memory(module, _memory(config)))


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
      A :class:`Policy` whose ``apply(params, obs)`` returns ``V(s)``, ``[...]``.
    """
    ndim = _obs_ndim(env, env_params)
    module = networks.ValueNet(
        tuple(config.hidden_sizes),
        config.activation,
        ndim,
        _conv_channels(config, ndim),
    )
    return _maybe_normalized(config, recurrent.with_memory(module, _memory(config)))
