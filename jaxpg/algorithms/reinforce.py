"""REINFORCE: the score-function estimator on complete, independent episodes.

One update: N environments each play one whole episode with the current policy
(:func:`jaxpg.rollout.episodic_rollout`); the weights Ψ (:func:`reinforce_weights`)
multiply ``log π(a_t|s_t)`` in :func:`jaxpg.losses.score_function_loss`; the gradient
of that loss (plus the optional entropy bonus and critic regression) goes through
global-norm clipping and Adam.

The gradient is accumulated over time chunks of the rollout buffer inside a
``lax.while_loop`` that visits only the chunks the rollout actually ran, so an update
costs what its longest episode costs, not the horizon.

References:
  Williams, 1992, Simple statistical gradient-following algorithms for
  connectionist reinforcement learning.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from jaxpg import policy as pol
from jaxpg import returns as ret
from jaxpg.algorithms import base, common
from jaxpg.algorithms.episodic import (
    batch_gradient,
    gradient_metrics,
    make_loss,
)
from jaxpg.envs import max_episode_steps
from jaxpg.rollout.episodic import Trajectory, episode_statistics, episodic_rollout
from jaxpg.state import HParams, TrainState, hparams

WEIGHTS = ("return", "reward_to_go", "gae")
BASELINES = ("none", "mean", "value")


@dataclasses.dataclass(frozen=True)
class ReinforceConfig:
    """REINFORCE. Frozen, hashable, static under jit; validated on construction.

    Attributes:
      env_id: gymnax id (a label only when an ``env`` object is passed).
      num_envs: N, complete episodes per update (one per environment).
      num_updates: updates done by ``train``.
      learning_rate: Adam's step size.
      gamma: discount γ ∈ [0, 1]. The objective jaxpg reports is the undiscounted
        episodic return; γ < 1 is a variance-reduction device (see
        ``discount_weighting``).
      hidden_sizes: widths of the MLP torso (policy and critic).
      activation: torso nonlinearity.
      entropy_coef: weight of the entropy bonus (0: none; a bonus biases ∇J).
      max_grad_norm: global-norm gradient clip (``inf``: no clipping).
      weight: Ψ before any baseline: ``"return"`` (the whole discounted return R^γ(τ)
        on every step), ``"reward_to_go"`` (G^γ_t, causality: same expectation,
        lower variance), or ``"gae"``: the critic's GAE(λ) advantage (needs
        ``baseline="value"``, which supplies V; λ = ``gae_lambda``). λ = 1 gives
        G^γ_t − V(s_t), the value baseline again; λ < 1 is biased with an imperfect
        critic (the actor-critic shortcut) and has lower variance.
      baseline: ``"none"``; ``"mean"``: the leave-one-out mean of the other N − 1
        trajectories' weights at the same time index (unbiased; a mean including the
        trajectory itself would scale the expected gradient by 1 − 1/N); ``"value"``:
        a learned critic V(s_t) evaluated with the parameters from before this
        update (unbiased), trained on G^γ_t with its own loss.
      discount_weighting: multiply step t's weight by γ^t. With it, reward-to-go is
        an unbiased estimator of ∇J_γ (the discounted objective); without it (the
        default, and the usual practice) γ < 1 gives a biased, lower-variance
        surrogate (Thomas, 2014). Not allowed with ``weight="return"``, which is
        already unbiased for J_γ.
      normalize_weights: standardise Ψ over the batch's real steps, (Ψ − mean)/std.
        Biased (a random divisor computed from the same batch) but consistent.
      value_coef: weight of the critic's loss (``baseline="value"``).
      init_log_std: initial log-std of a Gaussian policy (continuous actions).
      squash: a tanh-squashed Gaussian rescaled to the action box (continuous
        actions with finite bounds; off by default: see docs/action_spaces.md).
      state_dependent_std: the Gaussian's log-std is a head on the torso instead
        of a state-independent parameter.
      rollout_chunk: time steps per compiled chunk of the rollout; the rollout stops
        after the first chunk in which every episode has ended.
      gae_lambda: λ of ``weight="gae"`` (a sweepable :class:`jaxpg.HParams` leaf);
        unused otherwise. The default 1 makes ``"gae"`` the unbiased G_t − V(s_t);
        actor-critic practice uses 0.9–0.97. The episode's end (terminated or truncated at the
        horizon) bootstraps from 0: the objective is the episodic return.
      gradient_diagnostics: add the metrics ``gradient_variance`` (trace of the
        covariance of the per-trajectory terms g_i of the score-function estimate,
        see :mod:`jaxpg.diagnostics`) and ``gradient_snr`` (‖mean g_i‖² / that
        variance) to every update. Off by default: then nothing is computed and the
        compiled update is the one without the option. On, it costs one more
        backward pass per trajectory over the whole padded horizon.
      memory_size: units of a GRU cell after the torso of the policy and of
        jaxpg's critic (:mod:`jaxpg.recurrent`); 0 (default): feed-forward.
    """

    env_id: str | None = "CartPole-v1"
    num_envs: int = 64
    num_updates: int = 100
    learning_rate: float = 1e-2
    gamma: float = 0.99
    hidden_sizes: tuple[int, ...] = (32, 32)
    activation: str = "tanh"
    entropy_coef: float = 0.0
    max_grad_norm: float = float("inf")
    weight: str = "reward_to_go"
    baseline: str = "mean"
    discount_weighting: bool = False
    normalize_weights: bool = False
    value_coef: float = 0.5
    init_log_std: float = 0.0
    squash: bool = False
    state_dependent_std: bool = False
    rollout_chunk: int = 32
    gae_lambda: float = 1.0
    gradient_diagnostics: bool = False
    memory_size: int = 0

    def __post_init__(self) -> None:
        common.check_common(self)
        common.check_choice("weight", self.weight, WEIGHTS)
        common.check_choice("baseline", self.baseline, BASELINES)
        common.check_bool("discount_weighting", self.discount_weighting)
        common.check_bool("normalize_weights", self.normalize_weights)
        common.check_int("rollout_chunk", self.rollout_chunk, 1)
        common.check_float("gae_lambda", self.gae_lambda, 0.0, 1.0)
        common.check_bool("gradient_diagnostics", self.gradient_diagnostics)
        if self.weight == "gae" and self.baseline != "value":
            raise ValueError(
                "weight='gae' needs baseline='value': GAE's advantages are built "
                f"from the critic V; got baseline={self.baseline!r}"
            )
        if self.discount_weighting and self.weight == "return":
            raise ValueError(
                "discount_weighting=True needs weight='reward_to_go': the whole "
                "discounted return (weight='return') is already unbiased for the "
                "discounted objective, and γ^t weighting would bias it"
            )
        if self.baseline == "mean" and self.num_envs < 2:
            raise ValueError(
                "baseline='mean' (leave-one-out) needs num_envs >= 2; got "
                f"num_envs={self.num_envs}"
            )

    @property
    def uses_value(self) -> bool:
        return self.baseline == "value"


def reinforce_weights(
    traj: Trajectory,
    gamma: jax.Array | float,
    *,
    weight: str = "reward_to_go",
    baseline: str = "none",
    discount_weighting: bool = False,
    normalize_weights: bool = False,
    gae_lambda: jax.Array | float = 1.0,
) -> tuple[jax.Array, jax.Array]:
    """Ψ for every step of an episodic batch.

    Nothing where ``traj.mask`` is 0 counts, whatever the trajectory holds there
    (the rollout records reward 0; a hand-built batch may not): rewards there are
    replaced by 0 with a select, and an episode ends at its last unmasked step even
    without a done flag there (as when a horizon shorter than the environment's
    cuts it), so neither a return nor GAE bootstraps from a masked step.

    Args:
      traj: an episodic :class:`Trajectory` (``traj.value`` holds V(s_t) for
        ``baseline="value"`` and ``weight="gae"``).
      gamma: γ.
      weight, baseline, discount_weighting, normalize_weights, gae_lambda: as in
        :class:`ReinforceConfig`. With ``weight="gae"`` the critic enters through
        the advantages, and ``baseline`` subtracts nothing more.

    Returns:
      ``(psi, reward_to_go)``, both ``[T, N]``; the second is the critic's target.
    """
    real = traj.mask != 0
    traj = traj._replace(reward=jnp.where(real, traj.reward, 0.0))
    next_real = jnp.concatenate([real[1:], jnp.zeros_like(real[:1])])
    ends = traj.terminated | traj.truncated | ~next_real
    done = ends.astype(traj.reward.dtype)
    discounts = gamma * (1.0 - done)
    g = jax.vmap(ret.reward_to_go, in_axes=1, out_axes=1)(traj.reward, discounts)
    if weight == "gae":
        psi = episodic_gae(traj, discounts, done, gae_lambda)
    else:
        psi = jnp.broadcast_to(g[:1], g.shape) if weight == "return" else g
        if baseline == "mean":
            psi = psi - ret.leave_one_out_mean(psi)
        elif baseline == "value":
            psi = psi - traj.value
    if discount_weighting:
        gammas = jnp.full(g.shape[:1], gamma, g.dtype)
        psi = psi * ret.discount_powers(gammas)[:, None]
    if normalize_weights:
        psi = ret.normalize(psi, traj.mask)
    return psi, g


def episodic_gae(
    traj: Trajectory, discounts: jax.Array, done: jax.Array, gae_lambda: Any
) -> jax.Array:
    """GAE(λ) advantages ``[T, N]`` of an episodic batch from ``traj.value``.

    ``next_values_t = V(s_{t+1})`` inside the episode and 0 where step t + 1 is
    masked (a select: V of a masked step may be anything); at the episode's end
    (terminated, or truncated at the horizon) the discount is 0, so nothing is
    bootstrapped: the objective is the episodic return, worth 0 after the horizon.
    """
    next_real = jnp.concatenate([traj.mask[1:] != 0, jnp.zeros_like(done[:1], bool)])
    next_values = jnp.concatenate([traj.value[1:], jnp.zeros_like(traj.value[:1])])
    next_values = jnp.where(next_real, next_values, 0.0)
    return jax.vmap(ret.gae, in_axes=(1, 1, 1, 1, None, 1), out_axes=1)(
        traj.reward, discounts, traj.value, next_values, gae_lambda, done
    )


def weights_from_config(
    traj: Trajectory, config: ReinforceConfig, gamma: Any, gae_lambda: Any = None
):
    """:func:`reinforce_weights` with the options of ``config``.

    ``gae_lambda`` (a traced :class:`HParams` leaf in the trainer) defaults to
    ``config.gae_lambda``.
    """
    return reinforce_weights(
        traj,
        gamma,
        weight=config.weight,
        baseline=config.baseline,
        discount_weighting=config.discount_weighting,
        normalize_weights=config.normalize_weights,
        gae_lambda=config.gae_lambda if gae_lambda is None else gae_lambda,
    )


def episodic_batch(
    key: jax.Array,
    config: ReinforceConfig,
    policy: pol.Policy,
    value: pol.Policy | None,
    env: Any,
    env_params: Any,
    params: dict,
    hp: HParams,
    *,
    sharding: Any = None,
) -> tuple[Trajectory, jax.Array, jax.Array]:
    """``config.num_envs`` complete episodes and their weights: ``(traj, Ψ, G)``.

    The one place where REINFORCE's batch is made (the update,
    :func:`jaxpg.estimate_gradient` and :mod:`jaxpg.diagnostics` call it): the
    episodic rollout with ``params`` (the critic, if any, records ``V(s_t)`` with the
    parameters from before the update), then :func:`weights_from_config`.
    """
    traj = episodic_rollout(
        key,
        policy,
        params["policy"],
        env,
        env_params,
        config.num_envs,
        chunk=config.rollout_chunk,
        max_steps=max_episode_steps(env_params),
        value=value,
        value_params=params.get("value"),
        sharding=sharding,
    )
    psi, target = weights_from_config(traj, config, hp.gamma, hp.gae_lambda)
    return traj, psi, target


def make_update(
    config: ReinforceConfig,
    env: Any,
    env_params: Any,
    policy: pol.Policy,
    value: pol.Policy | None,
    *,
    sharding: Any = None,
) -> base.Update:
    """REINFORCE's :class:`~jaxpg.algorithms.base.Update` (see the module doc)."""
    n = config.num_envs
    horizon = max_episode_steps(env_params)
    chunk = min(config.rollout_chunk, horizon)
    obs = pol.example_observation(env, env_params)

    def update(state: TrainState, _: Any = None) -> tuple[TrainState, dict]:
        hp = state.hparams
        key, key_rollout = jax.random.split(state.key)
        params = state.params
        traj, psi, target = episodic_batch(
            key_rollout,
            config,
            policy,
            value,
            env,
            env_params,
            params,
            hp,
            sharding=sharding,
        )
        num_steps = jnp.maximum(traj.mask.sum(), 1.0)
        loss_fn = make_loss(config, policy, value, hp, n, num_steps)
        loss, grads, aux = batch_gradient(loss_fn, params, traj, psi, target, chunk)
        new_params, opt_state, grad_norm = _flat_adam_step(
            hp, params, grads, state.opt_state
        )
        metrics = _metrics(config, traj, state, loss, aux, grad_norm)
        if config.gradient_diagnostics:  # opt-in: off adds nothing to the program
            metrics.update(gradient_metrics(policy, params["policy"], traj, psi))
        new_state = state._replace(
            params=new_params,
            opt_state=opt_state,
            key=key,
            step=state.step + 1,
            last_episode_return=metrics["episode_return"],
            last_episode_length=metrics["episode_length"],
        )
        return new_state, metrics

    def init(key: jax.Array, hparams_: HParams | None = None) -> TrainState:
        hp = hparams(config) if hparams_ is None else hparams_
        key, key_policy, key_value = jax.random.split(key, 3)
        params = {
            "policy": policy.init(key_policy, obs),
            "value": None if value is None else value.init(key_value, obs),
        }
        opt_state = base.make_optimizer(hp).init(ravel_pytree(params)[0])
        return base.initial_state(key, params, opt_state, None, hp)

    return base.Update(init, update)


def _flat_adam_step(hp: HParams, params: dict, grads: dict, opt_state: Any):
    """Clipping and Adam on one flat vector: ``(new params, opt state, ‖g‖)``.

    Elementwise Adam and the global norm are the same as per leaf, and XLA gets one
    kernel per step instead of one per parameter array.
    """
    flat_params, unravel = ravel_pytree(params)
    flat_grads = ravel_pytree(grads)[0]
    grad_norm = jnp.sqrt(jnp.sum(flat_grads * flat_grads))
    updates, opt_state = base.make_optimizer(hp).update(
        flat_grads, opt_state, flat_params
    )
    return unravel(optax.apply_updates(flat_params, updates)), opt_state, grad_norm


def _metrics(config, traj, state, loss, aux, grad_norm) -> dict[str, jax.Array]:
    """An update's metrics: episode statistics, losses, step counts.

    ``env_steps`` (real steps) and ``computed_steps`` (``steps_run · N``, the
    steps the rollout's chunks ran) are int32 counted in integers: exact below
    2^31, saturated at ``2^31 − 1`` above (never wrapped).
    """
    n = config.num_envs
    stats = episode_statistics(traj)
    metrics = base.episode_metrics(
        stats["return"], stats["length"], stats["finished"], state
    )
    real_steps = traj.mask.sum()
    metrics.update(
        loss=loss,
        policy_loss=aux["policy_loss"],
        entropy=aux["entropy"] * n / jnp.maximum(real_steps, 1.0),
        grad_norm=grad_norm,
        env_steps=base.count_steps(traj.mask),
        computed_steps=base.saturating_product(traj.steps_run, n),
    )
    if "value_loss" in aux:
        metrics["value_loss"] = aux["value_loss"]
    return metrics


ALGORITHM = base.Algorithm(
    name="reinforce",
    label="REINFORCE",
    config_type=ReinforceConfig,
    make_update=make_update,
    episodic=True,
)
