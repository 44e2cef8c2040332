"""Gradient diagnostics: the mean, variance and SNR of a policy-gradient estimator.

A batch estimate of ∇J is ``ĝ = (1/N) Σ_i g_i`` with one term per trajectory,

    g_i = Σ_t m_{i,t} Ψ_{i,t} ∇_θ log π_θ(a_{i,t} | s_{i,t}),

where Ψ is whatever the estimator weights the steps with (:func:`reinforce_weights`:
the return, the reward-to-go, either minus a baseline, GAE(λ), ...). This module
computes every g_i with ``jax.vmap(jax.grad(...))`` over the batch, using the same
loss that training differentiates (:func:`jaxpg.algorithms.episodic.make_loss`),
so ``mean_i g_i`` *is* the batch estimate, to float rounding.

**Definition with coupled weights.** Ψ_{i,t} is computed from the whole batch
*before* the per-trajectory split. With the leave-one-out baseline (or
``normalize_weights``) Ψ_i depends on the other trajectories, so the g_i are
exchangeable but not independent: their mean is still exactly the batch estimate,
but ``variance / N`` is the batch estimate's variance only up to the covariance
between terms (for leave-one-out it is of order ‖∇J‖² / (N − 1)², small next to
the variance of one term). For return, reward-to-go, a value baseline and GAE with
a critic from before the batch, the g_i are independent draws.

Statistics (:func:`gradient_statistics`), on the flattened ``[N, P]`` terms:

* ``mean``: ``(1/N) Σ_i g_i``, the batch estimate (ascent direction);
* ``variance``: the trace of their sample covariance (``ddof=1``): the total
  variance of ONE trajectory's term. A batch of n independent terms has ``variance
  / n``;
* ``snr``: ``‖mean‖² / variance``, signal-to-noise of one term. (‖mean‖² itself
  overstates ‖E g‖² by ``variance / N``; where the true gradient is known, pass it
  as ``reference`` and use ``‖reference‖² / variance``);
* ``cosine``: ``cos(mean, reference)`` (NaN without a reference).

:func:`samples_for_cosine` turns these into the batch size at which a batch
estimate's expected cosine with the true gradient reaches a target: for an unbiased
estimator ``n ≈ (c² / (1 − c²)) / snr``, so the sample cost is 1/SNR.

All functions are pure and jittable. ``ReinforceConfig(gradient_diagnostics=True)``
adds ``gradient_variance`` and ``gradient_snr`` to the training metrics.

References:
  Mohamed, Rosca, Figurnov, Mnih, 2020, Monte Carlo Gradient Estimation in
  Machine Learning (JMLR 21).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax

from jaxpg import policy as pol
from jaxpg.algorithms import episodic, reinforce
from jaxpg.algorithms.episodic import per_trajectory_gradients
from jaxpg.gradstats import (
    GradientStats,
    cosine_similarity,
    gradient_statistics,
    samples_for_cosine,
)
from jaxpg.rollout import Trajectory
from jaxpg.state import hparams as config_hparams
from jaxpg.train import build

__all__ = [
    "GradientStats",
    "cosine_similarity",
    "gradient_statistics",
    "make_gradient_diagnostics",
    "per_trajectory_gradients",
    "samples_for_cosine",
]


# The metrics ``ReinforceConfig(gradient_diagnostics=True)`` adds to each update.
training_metrics = episodic.gradient_metrics


class Diagnosis(NamedTuple):
    """What the function from :func:`make_gradient_diagnostics` returns."""

    stats: GradientStats  # of the N terms of this batch
    grads: Any  # policy-params-shaped, leading axis N: the g_i
    trajectory: Trajectory  # the batch [T, N]
    psi: jax.Array  # [T, N]: the weights Ψ of the estimator


def make_gradient_diagnostics(
    config: reinforce.ReinforceConfig,
    env: Any = None,
    env_params: Any = None,
    policy: pol.Policy | None = None,
    value: pol.Policy | None = None,
):
    """A pure ``diagnose(key, params, hparams=None, reference=None) → Diagnosis``.

    ``diagnose`` plays ``config.num_envs`` episodes with ``params`` (the full
    ``{"policy", "value"}`` dict), weights them as ``config`` says (any
    :class:`jaxpg.ReinforceConfig`: weight ``"return"``/``"reward_to_go"``/
    ``"gae"``, baseline ``"none"``/``"mean"``/``"value"``, γ^t weighting, weight
    normalisation) and returns the per-trajectory terms and their statistics. It is
    jittable and vmappable over keys; its stats' mean equals
    :func:`jaxpg.estimate_gradient` with the same key (policy part).

    Args:
      config: a :class:`jaxpg.ReinforceConfig` (episodic batches; other configs
        are a ``ValueError``).
      env, env_params, policy, value: as in :func:`jaxpg.make_train`.

    Returns:
      ``diagnose(key, params, hparams=None, reference=None)``: ``params`` the
      full ``{"policy", "value"}`` dict, ``reference`` a policy-params pytree
      (or a full params dict) to compare with, or None; it returns a
      :class:`Diagnosis` whose ``stats`` are :class:`GradientStats`.

    >>> import jax, jaxpg
    >>> config = jaxpg.ReinforceConfig(num_envs=4, hidden_sizes=(8,))
    >>> diagnose = make_gradient_diagnostics(config)
    >>> params = jaxpg.make_trainer(config).init(jax.random.key(0)).params
    >>> d = jax.jit(diagnose)(jax.random.key(1), params)
    >>> d.stats.variance.shape
    ()
    """
    if not isinstance(config, reinforce.ReinforceConfig):
        raise ValueError(
            "make_gradient_diagnostics takes a ReinforceConfig (episodic batches); "
            f"got {type(config).__name__}"
        )
    env, env_params, policy, value = build(config, env, env_params, policy, value)

    def diagnose(key, params, hparams=None, reference=None) -> Diagnosis:
        hp = config_hparams(config) if hparams is None else hparams
        traj, psi, _ = reinforce.episodic_batch(
            key, config, policy, value, env, env_params, params, hp
        )
        grads = per_trajectory_gradients(policy, params["policy"], traj, psi)
        ref = reference  # a policy-params pytree, or a full params dict
        if isinstance(ref, dict) and "policy" in ref:
            ref = ref["policy"]
        return Diagnosis(gradient_statistics(grads, ref), grads, traj, psi)

    return diagnose
