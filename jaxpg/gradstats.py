"""Statistics of per-trajectory gradient terms: pure functions of arrays.

Given the N terms g_i of a batch estimate ``ĝ = (1/N) Σ_i g_i`` (a pytree whose
leaves have a leading axis N), :func:`gradient_statistics` gives their mean, the
trace of their sample covariance, the signal-to-noise ratio and the cosine with a
reference gradient; :func:`samples_for_cosine` the batch size at which an estimate
reaches a target cosine. :mod:`jaxpg.diagnostics` explains them and computes the
g_i of REINFORCE's estimator.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

__all__ = [
    "GradientStats",
    "cosine_similarity",
    "flat_rows",
    "gradient_statistics",
    "samples_for_cosine",
]


class GradientStats(NamedTuple):
    """Statistics of N per-trajectory gradient terms g_i."""

    mean: Any  # params-shaped: (1/N) Σ_i g_i, the batch estimate (ascent direction)
    variance: jax.Array  # [] float32: trace of the sample covariance of the g_i
    snr: jax.Array  # [] float32: ‖mean‖² / variance
    cosine: jax.Array  # [] float32: cos(mean, reference); NaN without a reference


def flat_rows(grads: Any) -> jax.Array:
    """The N terms of a pytree whose leaves have a leading axis N, flattened.

    Args:
      grads: a pytree whose leaves have a leading axis N (the g_i).

    Returns:
      ``[N, P]``: row i is term i raveled (``jax.flatten_util.ravel_pytree`` order).
    """
    return jax.vmap(lambda g: ravel_pytree(g)[0])(grads)


def cosine_similarity(a: Any, b: Any) -> jax.Array:
    """``a·b / (‖a‖ ‖b‖)`` of two pytrees of the same structure (NaN if one is 0).

    Args:
      a: a pytree of arrays (e.g. a gradient).
      b: a pytree of the same structure and shapes.

    Returns:
      The cosine of the flattened pytrees, a scalar.

    >>> float(cosine_similarity({"w": jnp.array([1.0, 0.0])}, {"w": jnp.array([1.0, 1.0])}))
    0.7071067...
    """
    x, y = ravel_pytree(a)[0], ravel_pytree(b)[0]
    return jnp.dot(x, y) / (jnp.linalg.norm(x) * jnp.linalg.norm(y))


def gradient_statistics(grads: Any, reference: Any = None) -> GradientStats:
    """Mean, total variance, SNR and cosine of per-trajectory terms.

    Args:
      grads: a pytree whose leaves have a leading axis N ≥ 2 (the g_i, e.g. from
        :func:`per_trajectory_gradients`).
      reference: a pytree shaped like one g_i (the exact or a high-sample
        gradient), or None.

    Returns:
      :class:`GradientStats`; ``variance`` uses ``ddof=1``.

    >>> g = {"w": jnp.array([[1.0, 0.0], [3.0, 2.0]])}
    >>> s = gradient_statistics(g, reference={"w": jnp.array([1.0, 0.0])})
    >>> float(s.variance), float(s.snr), round(float(s.cosine), 4)
    (4.0, 1.25, 0.8944)
    """
    rows = flat_rows(grads)
    n = rows.shape[0]
    if n < 2:
        raise ValueError(f"gradient_statistics needs N >= 2 terms; got {n}")
    mean = rows.mean(0)
    variance = jnp.sum((rows - mean[None]) ** 2) / (n - 1)
    snr = jnp.dot(mean, mean) / variance
    if reference is None:
        cosine = jnp.full((), jnp.nan, mean.dtype)
    else:
        ref = ravel_pytree(reference)[0].astype(mean.dtype)
        cosine = jnp.dot(mean, ref) / (jnp.linalg.norm(mean) * jnp.linalg.norm(ref))
    unravel = ravel_pytree(jax.tree.map(lambda x: x[0], grads))[1]
    return GradientStats(unravel(mean), variance, snr, cosine)


def samples_for_cosine(
    mean: Any,
    variance: jax.Array,
    reference: Any,
    target: float = 0.9,
    num_samples: int | None = None,
) -> jax.Array:
    """Batch size n at which a batch estimate's cosine with ``reference`` is ``target``.

    A batch of n independent terms with mean m and total variance v has, for a
    high-dimensional gradient (the noise's squared norm concentrates at v / n and
    its projections average out), ``cos ≈ (m·r̂) / sqrt(‖m‖² + v / n)`` with r̂ the
    unit reference. Solving for n:

        n = v / ((m·r̂)² / c² − ‖m‖²),

    ``inf`` when the estimator's own direction is further than ``target`` from the
    reference (a bias no batch size removes). For m = reference (unbiased) this is
    ``(c² / (1 − c²)) / snr`` with ``snr = ‖reference‖² / v``: 4.26 / snr at c = 0.9.

    Args:
      mean: the estimator's expectation m (pytree).
      variance: the total variance v of one term.
      reference: the true (or a high-sample) gradient (pytree).
      target: the cosine c ∈ (0, 1).
      num_samples: when ``mean`` is itself an average of this many terms, its
        squared norm overstates ‖m‖² by ``variance / num_samples``, which is
        removed.

    Returns:
      n, a scalar (``inf`` when no batch size reaches ``target``).

    >>> r = {"w": jnp.array([1.0, 0.0])}
    >>> round(float(samples_for_cosine(r, jnp.float32(1.0), r, 0.9)), 3)
    4.263
    """
    m = ravel_pytree(mean)[0]
    r = ravel_pytree(reference)[0].astype(m.dtype)
    along = jnp.dot(m, r) / jnp.linalg.norm(r)
    norm2 = jnp.dot(m, m)
    if num_samples is not None:
        norm2 = norm2 - variance / num_samples
    room = along**2 / target**2 - norm2
    return jnp.where((room > 0) & (along > 0), variance / room, jnp.inf)
