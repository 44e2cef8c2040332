"""Action distributions as pure array functions on a policy's output.

A policy's ``apply`` returns one of four outputs; :func:`sample`, :func:`mode`,
:func:`log_prob` and :func:`entropy` dispatch on its type:

* logits ``[..., A]`` (a plain array): a categorical policy (``Discrete``);
* :class:`MultiCategorical` ``(logits [..., D, K])``: one categorical per
  dimension of a ``MultiDiscrete`` action, independent given the state; the
  log-probability and entropy are sums over the D dimensions;
* ``(mean, log_std)`` (a plain pair of ``[..., A]`` arrays): a diagonal Gaussian
  whose samples are unbounded (the environment wrapper clips them to the box);
* :class:`SquashedGaussian` ``(mean, log_std, low, high)``: ``u ~ N(mean, std²)``
  squashed by ``tanh`` and rescaled to ``[low, high]``; the log-probability carries
  the change-of-variables correction.

Edges that stay finite: a Gaussian's log-std is clipped to :data:`LOG_STD_RANGE`
(with the gradient passing straight through), and categorical logits may be −inf
(illegal actions, or the padding of :class:`MultiCategorical`): a legal action's
log-probability, the entropy and their gradients stay finite.

No environment, network or configuration is known here (floor 0).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

# The Gaussian's log-std is clipped to this range wherever it is used (sample,
# log_prob, entropy), whatever network produced it: exp(±log_std) stays far from
# float32's overflow (log-stds beyond ≈ ±88 gave inf and NaN). The range holds
# every init_log_std a config accepts ([−10, 5]); inside it nothing changes, bit for
# bit. The gradient passes straight through the clip (it is the gradient at the
# bound), so a log-std pushed past the range is still pulled back.
LOG_STD_RANGE = (-20.0, 10.0)

# Gauss–Hermite nodes and weights for E[f(u)], u ~ N(μ, σ²), in the squashed
# Gaussian's entropy: E[f(u)] ≈ Σ_i w_i f(μ + √2 σ x_i) / √π.
_GH_NODES, _GH_WEIGHTS = np.polynomial.hermite.hermgauss(64)


class MultiCategorical(NamedTuple):
    """Independent categoricals, one per action dimension (``MultiDiscrete``)."""

    logits: jax.Array  # [..., D, K] float: dimension d's logits; −inf past nvec[d]


class SquashedGaussian(NamedTuple):
    """``a = c + h · tanh(u)``, ``u ~ N(mean, exp(log_std)²)`` per dimension, with
    ``c = (high + low) / 2`` and ``h = (high − low) / 2``."""

    mean: jax.Array  # [..., A] float: the mean of u (before the squash)
    log_std: jax.Array  # [..., A] float: the log-std of u
    low: jax.Array  # [..., A] float: the box's lower bounds (finite)
    high: jax.Array  # [..., A] float: the box's upper bounds (finite, > low)


def bounded_log_std(log_std: jax.Array) -> jax.Array:
    """``clip(log_std, *LOG_STD_RANGE)`` in value, the identity in gradient.

    Args:
      log_std: a log standard deviation, any shape.

    Returns:
      The clipped value, same shape.
    """
    bound = jax.lax.stop_gradient(jnp.clip(log_std, *LOG_STD_RANGE) - log_std)
    return log_std + bound


def is_continuous(output: Any) -> bool:
    """Whether a policy output is a Gaussian (squashed or not).

    Args:
      output: what a policy's ``apply`` returned.

    Returns:
      True for a ``(mean, log_std)`` pair or a :class:`SquashedGaussian`.
    """
    return isinstance(output, (tuple, list)) and not isinstance(
        output, MultiCategorical
    )


def multi_categorical(logits: jax.Array, nvec: tuple[int, ...]) -> MultiCategorical:
    """Splits the logits of all dimensions into a padded :class:`MultiCategorical`.

    Args:
      logits: ``[..., sum(nvec)]``: dimension d's ``nvec[d]`` logits in order.
      nvec: the number of choices of each dimension.

    Returns:
      ``MultiCategorical`` with logits ``[..., D, max(nvec)]``, −inf where
      ``k >= nvec[d]`` (those choices have probability 0).
    """
    return MultiCategorical(spread_dimensions(logits, nvec, -jnp.inf))


def spread_dimensions(x: jax.Array, nvec: tuple[int, ...], fill: Any) -> jax.Array:
    """``[..., sum(nvec)]`` (dimension after dimension) → ``[..., D, max(nvec)]``.

    Args:
      x: per-choice values of all dimensions, concatenated (logits or a mask).
      nvec: the number of choices of each dimension.
      fill: the value past ``nvec[d]`` in row d (−inf for logits, False for a
        mask).

    Returns:
      ``[..., D, max(nvec)]``.
    """
    nvec = tuple(int(n) for n in nvec)
    if x.shape[-1] != sum(nvec):
        raise ValueError(
            f"expected a last axis of sum(nvec) = {sum(nvec)} for nvec={nvec}; got "
            f"shape {tuple(x.shape)}"
        )
    width = max(nvec)
    starts = np.cumsum((0,) + nvec[:-1])
    k = np.arange(width)
    valid = k[None, :] < np.asarray(nvec)[:, None]
    index = np.where(valid, starts[:, None] + k[None, :], 0)
    spread = jnp.take(x, index, axis=-1)
    return jnp.where(jnp.broadcast_to(valid, spread.shape), spread, fill)


def mask_logits(output: Any, legal: jax.Array) -> Any:
    """Puts −inf on the logits of illegal actions.

    A row in which no action is legal is left unmasked (it would otherwise have no
    distribution at all).

    Args:
      output: logits ``[..., A]`` or a :class:`MultiCategorical` ``[..., D, K]``.
      legal: bool (or 0/1), shaped like the logits (for a ``MultiCategorical``
        ``[..., D, K]``: :func:`spread_dimensions` builds it from the
        concatenated per-dimension masks).

    Returns:
      The same kind of output with −inf where an action is illegal.
    """
    if isinstance(output, MultiCategorical):
        return MultiCategorical(_masked(output.logits, legal))
    return _masked(output, legal)


def _masked(logits: jax.Array, legal: jax.Array) -> jax.Array:
    legal = jnp.broadcast_to(legal.astype(bool), logits.shape)
    legal = legal | ~legal.any(-1, keepdims=True)
    return jnp.where(legal, logits, -jnp.inf)


def _squash(u: jax.Array, low: jax.Array, high: jax.Array) -> jax.Array:
    return 0.5 * (high + low) + 0.5 * (high - low) * jnp.tanh(u)


def log1m_tanh_sq(u: jax.Array) -> jax.Array:
    """``log(1 − tanh(u)²)``, finite for every finite u.

    Written as ``2 (log 2 − u − softplus(−2u))`` (``1 − tanh² = 4 e^{−2u} /
    (1 + e^{−2u})²``): the direct form is ``log 0 = −inf`` once ``tanh(u)`` rounds to
    ±1 (``|u| ≳ 9`` in float32).

    Args:
      u: pre-squash values, any shape.

    Returns:
      ``log(1 − tanh(u)²)``, same shape.
    """
    return 2.0 * (math.log(2.0) - u - jax.nn.softplus(-2.0 * u))


def _unsquash(output: SquashedGaussian, action: jax.Array) -> jax.Array:
    """``u = atanh((a − c) / h)`` with ``(a − c) / h`` kept strictly inside (−1, 1)
    (an action on the bound, where tanh rounded to ±1, maps to the last finite u)."""
    half = 0.5 * (output.high - output.low)
    y = (action - 0.5 * (output.high + output.low)) / half
    edge = 1.0 - float(jnp.finfo(y.dtype).epsneg)
    return jnp.arctanh(jnp.clip(y, -edge, edge))


def sample(key: jax.Array, output: Any) -> jax.Array:
    """Draws one action per leading index of ``output``.

    Args:
      key: a PRNG key.
      output: a policy output (see the module docstring).

    Returns:
      Actions: int ``[...]`` (categorical), int ``[..., D]`` (multi-categorical),
      float ``[..., A]`` (Gaussian: unclipped; squashed: inside ``[low, high]``).
    """
    if isinstance(output, MultiCategorical):
        return jax.random.categorical(key, output.logits, axis=-1)
    if isinstance(output, SquashedGaussian):
        std = jnp.exp(bounded_log_std(output.log_std))
        noise = jax.random.normal(key, output.mean.shape, output.mean.dtype)
        return _squash(output.mean + std * noise, output.low, output.high)
    if is_continuous(output):
        mean, log_std = output
        log_std = bounded_log_std(log_std)
        return mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape, mean.dtype)
    return jax.random.categorical(key, output, axis=-1)


def mode(output: Any) -> jax.Array:
    """The deterministic action: the arg-max logit (per dimension), the Gaussian
    mean, or for a squashed Gaussian the squashed mean (its median).

    Args:
      output: a policy output (see the module docstring).

    Returns:
      Actions shaped as :func:`sample` returns them.
    """
    if isinstance(output, MultiCategorical):
        return jnp.argmax(output.logits, axis=-1)
    if isinstance(output, SquashedGaussian):
        return _squash(output.mean, output.low, output.high)
    if is_continuous(output):
        return output[0]
    return jnp.argmax(output, axis=-1)


def _gaussian_log_prob(mean, log_std, x) -> jax.Array:
    log_std = bounded_log_std(log_std)
    z = (x - mean) * jnp.exp(-log_std)
    return -0.5 * z**2 - log_std - 0.5 * math.log(2 * math.pi)


def _categorical_log_prob(logits: jax.Array, action: jax.Array) -> jax.Array:
    logp = jax.nn.log_softmax(logits, axis=-1)
    return jnp.take_along_axis(logp, action[..., None].astype(jnp.int32), -1)[..., 0]


def log_prob(output: Any, action: jax.Array) -> jax.Array:
    """``log π(a | s)``, shape ``output``'s batch shape.

    Gaussian: the density of the unclipped action, summed over dimensions.
    Squashed Gaussian: ``log N(u) − Σ log(1 − tanh²u) − Σ log h`` with
    ``u = atanh((a − c) / h)`` (the change of variables ``a = c + h tanh u``).
    Multi-categorical: the sum of the dimensions' log-probabilities. −inf logits
    (illegal actions) are allowed: a legal action's value and gradient are finite.

    Args:
      output: a policy output (see the module docstring).
      action: an action as :func:`sample` returns it.

    Returns:
      ``log π(a | s)``, ``[...]``.
    """
    if isinstance(output, MultiCategorical):
        return _categorical_log_prob(output.logits, action).sum(-1)
    if isinstance(output, SquashedGaussian):
        u = jax.lax.stop_gradient(_unsquash(output, action))
        half = 0.5 * (output.high - output.low)
        per_dim = _gaussian_log_prob(output.mean, output.log_std, u)
        return (per_dim - log1m_tanh_sq(u) - jnp.log(half)).sum(-1)
    if is_continuous(output):
        mean, log_std = output
        return _gaussian_log_prob(mean, log_std, action).sum(-1)
    return _categorical_log_prob(output, action)


def _categorical_entropy(logits: jax.Array) -> jax.Array:
    # −inf (an illegal action) becomes −√(largest float) (≈ −1.8·10¹⁹ in float32):
    # its probability is still exactly 0, but p·log p is 0, not 0 · (−inf) = NaN,
    # and no gradient overflows. A select on the input leaves the finite path's
    # computation as it was.
    fill = -math.sqrt(float(jnp.finfo(logits.dtype).max))
    logits = jnp.where(jnp.isneginf(logits), fill, logits)
    logp = jax.nn.log_softmax(logits, axis=-1)
    return -(jnp.exp(logp) * logp).sum(-1)


def _gaussian_entropy(log_std: jax.Array) -> jax.Array:
    return bounded_log_std(log_std) + 0.5 * (1.0 + math.log(2 * math.pi))


# ∫ softplus(−2|u|) du over the real line, = π²/12.
_BUMP_MASS = math.pi**2 / 12.0
# Above this std the quadrature switches to the wide-std form (see below).
_WIDE_STD = 5.0


def _expected_log1m_tanh_sq(mean: jax.Array, std: jax.Array) -> jax.Array:
    """``E[log(1 − tanh²u)]`` for ``u ~ N(mean, std²)``: no closed form exists.

    Narrow (std <= 5): 64-point Gauss–Hermite quadrature of the smooth integrand.
    Wide: ``log(1 − tanh²u) = 2 log 2 − 2|u| − 2 softplus(−2|u|)``; ``E|u|`` is the
    folded normal's mean (exact), and the last term, a bump of mass π²/12 around 0,
    is its mass times the normal density at 0 (relative error ≈ 0.15 / std²).
    Both are computed and one is selected, so both stay finite.
    """
    lead = (1,) * mean.ndim  # explicit ranks: no implicit rank promotion
    nodes = jnp.asarray(_GH_NODES * math.sqrt(2.0)).reshape(lead + (-1,))
    weights = jnp.asarray(_GH_WEIGHTS / math.sqrt(math.pi)).reshape(lead + (-1,))
    narrow_std = jnp.minimum(std, _WIDE_STD)
    u = mean[..., None] + narrow_std[..., None] * nodes
    narrow = (log1m_tanh_sq(u) * weights).sum(-1)
    wide_std = jnp.maximum(std, _WIDE_STD)
    z = mean / wide_std
    density_at_0 = jnp.exp(-0.5 * jnp.square(z)) / (wide_std * math.sqrt(2 * math.pi))
    folded_mean = wide_std * math.sqrt(2.0 / math.pi) * jnp.exp(
        -0.5 * jnp.square(z)
    ) + mean * jax.scipy.special.erf(z / math.sqrt(2.0))
    wide = 2.0 * math.log(2.0) - 2.0 * folded_mean - 2.0 * _BUMP_MASS * density_at_0
    return jnp.where(std <= _WIDE_STD, narrow, wide)


def _squashed_entropy(output: SquashedGaussian) -> jax.Array:
    """Per dimension: ``H(N(μ, σ²)) + log h + E[log(1 − tanh²u)]``."""
    std = jnp.exp(bounded_log_std(output.log_std))
    expected = _expected_log1m_tanh_sq(output.mean, std)
    half = 0.5 * (output.high - output.low)
    return _gaussian_entropy(output.log_std) + jnp.log(half) + expected


def entropy(output: Any) -> jax.Array:
    """Entropy of the action distribution (nats), shape the batch shape.

    Categorical logits may be −inf (illegal actions count 0, as p log p → 0).
    Multi-categorical: the sum of the dimensions' entropies (they are independent).
    Squashed Gaussian: the entropy of the squashed, rescaled action, ``H(u) +
    Σ log h + Σ E[log(1 − tanh²u)]``. The expectation has no closed form; it is
    computed deterministically and differentiably by quadrature (Gauss–Hermite for
    a std up to 5, an asymptotic form with the exact ``E|u|`` beyond), within a few
    thousandths of a nat of numeric integrals (tests/test_spaces_continuous.py).

    Args:
      output: a policy output (see the module docstring).

    Returns:
      The entropy, ``[...]``.
    """
    if isinstance(output, MultiCategorical):
        return _categorical_entropy(output.logits).sum(-1)
    if isinstance(output, SquashedGaussian):
        return _squashed_entropy(output).sum(-1)
    if is_continuous(output):
        return _gaussian_entropy(output[1]).sum(-1)
    return _categorical_entropy(output)
