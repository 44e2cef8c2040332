"""Critics fitted to a frozen policy's reward-to-go: the estimator lab's baselines.

A value baseline is unbiased when it does not depend on the batch it weighs; the
estimator lab (``scripts/estimators.py``, :mod:`jaxpg.lab`) therefore fits its
critics on episodes of their own, played by the frozen policy whose gradient is
measured, before any estimate uses them:

* :func:`fit_table`: a table V(s) for one-hot observations, the per-state mean of
  the reward-to-go (the least-squares table);
* :func:`fit_value`: jaxpg's critic network refitted by Adam on the masked squared
  error to the reward-to-go.

:func:`reward_to_go_batch` plays those episodes (REINFORCE's own batch,
:func:`jaxpg.algorithms.reinforce.episodic_batch`, with γ = 1 and no baseline).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxpg.algorithms.reinforce import ReinforceConfig, episodic_batch
from jaxpg.policy import Policy
from jaxpg.rollout import Trajectory
from jaxpg.state import hparams as config_hparams

__all__ = ["fit_table", "fit_value", "reward_to_go_batch", "table_critic"]


def reward_to_go_batch(
    key: jax.Array,
    policy: Policy,
    policy_params: Any,
    env: Any,
    env_params: Any,
    num_episodes: int,
) -> tuple[Trajectory, jax.Array]:
    """Complete episodes of a frozen policy and their undiscounted reward-to-go.

    Args:
      key: the episodes' PRNG key.
      policy: the policy's ``(init, apply)``.
      policy_params: its parameters.
      env: an encoded environment (:func:`jaxpg.make_env`).
      env_params: its parameters.
      num_episodes: N, one episode per environment.

    Returns:
      ``(trajectory [T, N], G [T, N])`` with ``G_t = Σ_{k≥t} r_k`` (γ = 1).
    """
    config = ReinforceConfig(
        env_id=None,
        num_envs=num_episodes,
        gamma=1.0,
        weight="reward_to_go",
        baseline="none",
    )
    params = {"policy": policy_params, "value": None}
    traj, _, target = episodic_batch(
        key, config, policy, None, env, env_params, params, config_hparams(config)
    )
    return traj, target


def fit_table(traj: Trajectory, target: jax.Array) -> jax.Array:
    """The least-squares table V(s): the per-state mean of ``target``.

    Args:
      traj: a batch ``[T, N]`` whose observations are one-hot ``[T, N, S]``.
      target: ``[T, N]`` the values to fit (e.g. the reward-to-go).

    Returns:
      ``[S]``: the mean of ``target`` over the unmasked visits of each state.
    """
    counts = jnp.einsum("tn,tns->s", traj.mask, traj.obs)
    return jnp.einsum("tn,tns->s", traj.mask * target, traj.obs) / counts


def table_critic(v_table: jax.Array) -> Policy:
    """A critic ``(init, apply)`` that looks a one-hot observation up in ``v_table``.

    Args:
      v_table: ``[S]`` one value per state.

    Returns:
      a :class:`jaxpg.Policy` pair: ``init`` returns ``{"v": v_table}``, ``apply``
      ``obs @ params["v"]``.
    """
    return Policy(lambda k, o: {"v": v_table}, lambda q, o: o @ q["v"])


def fit_value(
    value: Policy,
    value_params: Any,
    traj: Trajectory,
    target: jax.Array,
    steps: int = 300,
    learning_rate: float = 3e-3,
) -> tuple[Any, jax.Array]:
    """Refits a critic to ``target`` by full-batch Adam on the masked squared error.

    Args:
      value: the critic's ``(init, apply)``; ``apply(params, obs [T, N, ...])``
        returns ``[T, N]``.
      value_params: its starting parameters.
      traj: the episodes ``[T, N]`` (observations and mask are used).
      target: ``[T, N]`` what V(s_t) should be.
      steps: Adam steps, one compiled ``lax.scan``.
      learning_rate: Adam's step size.

    Returns:
      ``(fitted parameters, losses [steps])``: the mean squared error over the
      unmasked steps before each Adam step.
    """
    optimizer = optax.adam(learning_rate)

    def loss(v):
        err = value.apply(v, traj.obs) - target
        return jnp.sum(traj.mask * err**2) / traj.mask.sum()

    def step(carry, _):
        v, opt = carry
        grads = jax.grad(loss)(v)
        updates, opt = optimizer.update(grads, opt, v)
        return (optax.apply_updates(v, updates), opt), loss(v)

    (v, _), losses = jax.jit(
        lambda v: jax.lax.scan(step, (v, optimizer.init(v)), None, length=steps)
    )(value_params)
    return v, losses
