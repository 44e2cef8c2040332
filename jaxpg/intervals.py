"""Confidence intervals across seeds: pure numpy functions of arrays.

:func:`t_interval` is the Student-t interval of a mean over seeds (the learning-curve
bands of ``scripts/plot.py`` and ``scripts/results.py``); :func:`bootstrap_ci` the
percentile-bootstrap interval of a mean (the final-return column of
``docs/results.md``). scipy (a dependency of jax) is imported when a t quantile is
needed.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CI_LEVEL", "bootstrap_ci", "t_interval"]

CI_LEVEL = 0.95


def t_interval(curves: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and 95 % t-interval over axis 0 (seeds); NaN entries are left out.

    Where fewer than two seeds have a value the interval is the mean itself; where
    none has one, all three are NaN.

    Args:
      curves: ``[seeds, ...]`` values, NaN where a seed has none.

    Returns:
      ``(mean, low, high)``, each ``curves.shape[1:]``: the mean over the seeds that
      have a value and ``mean ∓ t(0.975, n − 1) · s / √n`` (s: the sample standard
      deviation, ``ddof=1``).

    >>> mean, low, high = t_interval(np.array([[1.0, np.nan], [3.0, 2.0]]))
    >>> mean.tolist(), (high - mean).round(3).tolist()
    ([2.0, 2.0], [12.706, 0.0])
    """
    from scipy import stats

    n = np.sum(~np.isnan(curves), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        total = np.nansum(curves, axis=0)
        mean = np.where(n > 0, total / np.maximum(n, 1), np.nan)
        dev = np.nansum((curves - mean) ** 2, axis=0)
        std = np.sqrt(dev / np.maximum(n - 1, 1))
        half = (
            stats.t.ppf(0.975, np.maximum(n - 1, 1)) * std / np.sqrt(np.maximum(n, 1))
        )
    half = np.where(n >= 2, half, 0.0)
    return mean, mean - half, mean + half


def bootstrap_ci(
    values: np.ndarray, resamples: int, seed: int = 0
) -> tuple[float, float]:
    """Percentile-bootstrap ``CI_LEVEL`` interval of the mean of ``values``.

    Args:
      values: ``[n]`` one value per seed.
      resamples: how many resamples (with replacement) of the n values.
      seed: the ``numpy.random.default_rng`` seed (fixed: the interval is
        reproducible).

    Returns:
      ``(low, high)``: the 2.5 % and 97.5 % quantiles of the resampled means.

    >>> bootstrap_ci(np.full(8, 7.0), 100)
    (7.0, 7.0)
    """
    values = np.asarray(values, np.float64)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(values), size=(resamples, len(values)))
    means = values[idx].mean(axis=1)
    alpha = (1.0 - CI_LEVEL) / 2
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return float(lo), float(hi)
