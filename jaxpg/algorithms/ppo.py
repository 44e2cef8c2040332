"""PPO: proximal policy optimisation with the clipped surrogate and GAE.

One update: a fixed-length rollout and GAE(λ) advantages exactly as in A2C
(:mod:`jaxpg.algorithms.actor_critic`), then ``num_epochs`` passes over the T·N
samples, each shuffled and cut into ``num_minibatches`` equal minibatches, one
Adam step per minibatch (a ``lax.scan`` over epochs around a ``lax.scan`` over
minibatches, all inside the one compiled update). Per minibatch of B samples:

``L = −(1/B) Σ min(ρ A, clip(ρ, 1 − ε, 1 + ε) A) + c_v · L_V − c_e · (1/B) Σ H``

with ``ρ = π(a|s) / π_old(a|s)`` (:func:`jaxpg.losses.clipped_surrogate`) and the
critic loss ``L_V = ½ (1/B) Σ (V(s) − target)²``, or with ``clip_value`` the PPO2
form ``½ (1/B) Σ max((V − target)², (V_old + clip(V − V_old, −ε, ε) − target)²)``.
With ``normalize_advantages`` the advantages are standardised per minibatch. The
clip (and any normalisation) biases the gradient; that is the design.

Metrics averaged over all minibatch steps of the update: ``approx_kl`` is the
estimator ``mean((ρ − 1) − log ρ)`` of KL(π_old ‖ π) (non-negative per sample),
``clip_fraction`` the share of samples with ``|ρ − 1| > ε``.

References:
  Schulman et al., 2017, Proximal Policy Optimization Algorithms.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxpg import losses, recurrent
from jaxpg import policy as pol
from jaxpg import returns as ret
from jaxpg.algorithms import actor_critic, base, common
from jaxpg.sharding import constrain


@dataclasses.dataclass(frozen=True)
class PPOConfig:
    """PPO with GAE. Frozen, hashable, static under jit; validated on construction.

    The defaults are tuned for CartPole-v1: 150 updates of 8 × 64 steps (7.7·10⁴
    environment steps) reach a greedy return of 500 on each of the seeds tried.

    Attributes:
      env_id: gymnax id (a label only when an ``env`` object is passed).
      num_envs: N, parallel environments.
      num_updates: updates done by ``train``; each takes T·N environment steps.
      learning_rate: Adam's step size (the start value when ``anneal_lr``).
      gamma: discount γ ∈ [0, 1].
      hidden_sizes: widths of the MLP torsos (policy and critic, separate).
      activation: torso nonlinearity.
      entropy_coef: weight of the entropy bonus.
      max_grad_norm: global-norm gradient clip (``inf``: none).
      value_coef: weight c_v of the critic's loss.
      init_log_std: initial log-std of a Gaussian policy (continuous actions).
      squash: a tanh-squashed Gaussian rescaled to the action box (continuous
        actions with finite bounds; off by default: see docs/action_spaces.md).
      state_dependent_std: the Gaussian's log-std is a head on the torso instead
        of a state-independent parameter.
      num_steps: T, steps per environment per update (the rollout length).
      gae_lambda: λ ∈ [0, 1] of GAE.
      normalize_advantages: standardise the advantages of each minibatch.
      anneal_lr: decay the learning rate linearly to 0 over ``num_updates``.
      normalize_observations: standardise observations with running statistics
        kept in the policy's and critic's params (``jaxpg.normalization``).
      scale_rewards: divide rewards by the running std of a discounted return
        before GAE (episode-return metrics stay raw).
      conv_channels: channels of the 3×3 ReLU convolutions before the MLP torso,
        for image observations ``[H, W, C]`` (MinAtar); ``None`` (default): one
        16-channel layer for image observations and none otherwise; ``()``: none.
      clip_eps: ε of the clipped surrogate (> 0).
      num_epochs: passes over the batch per update.
      num_minibatches: minibatches per pass; must divide ``num_steps · num_envs``
        (and ``num_envs`` when recurrent: minibatches of whole environments).
      clip_value: clip the critic's change as PPO2 does (same ε).
      memory_size: units of a GRU cell after the torso of the policy and of
        jaxpg's critic (:mod:`jaxpg.recurrent`); 0 (default): feed-forward.
    """

    env_id: str | None = "CartPole-v1"
    num_envs: int = 8
    num_updates: int = 150
    learning_rate: float = 2.5e-3
    gamma: float = 0.99
    hidden_sizes: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    entropy_coef: float = 0.0
    max_grad_norm: float = 0.5
    value_coef: float = 0.5
    init_log_std: float = 0.0
    squash: bool = False
    state_dependent_std: bool = False
    num_steps: int = 64
    gae_lambda: float = 0.95
    normalize_advantages: bool = True
    anneal_lr: bool = True
    normalize_observations: bool = False
    scale_rewards: bool = False
    conv_channels: tuple[int, ...] | None = None
    clip_eps: float = 0.2
    num_epochs: int = 4
    num_minibatches: int = 4
    clip_value: bool = False
    memory_size: int = 0

    def __post_init__(self) -> None:
        actor_critic.check_actor_critic(self)
        common.check_float(
            "clip_eps", self.clip_eps, 0.0, math.inf, low_open=True, high_open=True
        )
        common.check_int("num_epochs", self.num_epochs, 1)
        common.check_int("num_minibatches", self.num_minibatches, 1)
        common.check_bool("clip_value", self.clip_value)
        batch = self.num_steps * self.num_envs
        if batch % self.num_minibatches:
            raise ValueError(
                "num_minibatches must divide num_steps · num_envs = "
                f"{self.num_steps} · {self.num_envs} = {batch}; got "
                f"num_minibatches={self.num_minibatches}"
            )
        if self.memory_size and self.num_envs % self.num_minibatches:
            raise ValueError(
                "num_minibatches must divide num_envs when memory_size > 0 (a "
                "recurrent policy's minibatches are groups of whole environments); "
                f"got num_minibatches={self.num_minibatches}, num_envs={self.num_envs}"
            )

    @property
    def uses_value(self) -> bool:
        return True


def loss(
    params: dict,
    batch: actor_critic.Batch,
    policy: pol.Policy,
    value: pol.Policy,
    hp: Any,
    normalize_advantages: bool,
    clip_value: bool,
) -> tuple[jax.Array, dict]:
    """PPO's loss on one minibatch ``[B]``; returns ``(loss, parts)``."""
    adv = batch.advantage
    if normalize_advantages:
        adv = ret.normalize(adv, None)
    output = actor_critic.outputs(policy, params["policy"], batch, "policy")
    logp = pol.log_prob(output, batch.action)
    policy_loss = losses.clipped_surrogate(logp, batch.log_prob, adv, hp.clip_eps)
    v = actor_critic.outputs(value, params["value"], batch, "value")
    target = jax.lax.stop_gradient(batch.target)
    if clip_value:
        v_clipped = batch.value + jnp.clip(v - batch.value, -hp.clip_eps, hp.clip_eps)
        value_loss = 0.5 * jnp.maximum((v - target) ** 2, (v_clipped - target) ** 2)
        value_loss = value_loss.mean()
    else:
        value_loss = losses.value_loss(v, target, jnp.ones_like(v), v.size)
    entropy = pol.entropy(output).mean()
    total = policy_loss + hp.value_coef * value_loss - hp.entropy_coef * entropy
    log_ratio = jax.lax.stop_gradient(logp - batch.log_prob)
    ratio = jnp.exp(log_ratio)
    return total, {
        "policy_loss": policy_loss,
        "value_loss": value_loss,
        "entropy": entropy,
        "approx_kl": ((ratio - 1.0) - log_ratio).mean(),
        "clip_fraction": (jnp.abs(ratio - 1.0) > hp.clip_eps).mean(),
    }


def make_optimize(
    config: PPOConfig,
    policy: pol.Policy,
    value: pol.Policy,
    *,
    sharding: Any = None,
) -> actor_critic.Optimize:
    """``num_epochs`` shuffled passes of ``num_minibatches`` Adam steps each.

    ``sharding`` (a ``NamedSharding`` of the env axis, :mod:`jaxpg.distributed`)
    splits every minibatch's samples over its devices; None: no annotation.
    """
    grad_fn = jax.value_and_grad(loss, has_aux=True)
    num_minibatches = config.num_minibatches
    size = config.num_steps * config.num_envs

    def optimize(optimizer, params, opt_state, batch, key, hp):
        split = flat = None
        if batch.carry is not None:  # recurrent: minibatches of whole environments
            split = functools.partial(env_minibatches, num_minibatches, sharding)
        else:
            flat = jax.tree.map(lambda x: x.reshape((size,) + x.shape[2:]), batch)

        def minibatch_step(carry, mb):
            params, opt_state = carry
            (total, parts), grads = grad_fn(
                params,
                mb,
                policy,
                value,
                hp,
                config.normalize_advantages,
                config.clip_value,
            )
            updates, opt_state = optimizer.update(grads, opt_state, params)
            params = optax.apply_updates(params, updates)
            metrics = {"loss": total, "grad_norm": optax.tree.norm(grads), **parts}
            return (params, opt_state), metrics

        def epoch(carry, key_epoch):
            if split is not None:
                return jax.lax.scan(minibatch_step, carry, split(key_epoch, batch))
            order = jax.random.permutation(key_epoch, size)
            shuffled = jax.tree.map(
                lambda x: x[order].reshape((num_minibatches, -1) + x.shape[1:]), flat
            )
            shuffled = constrain(shuffled, sharding, axis=1)
            return jax.lax.scan(minibatch_step, carry, shuffled)

        keys = jax.random.split(key, config.num_epochs)
        (params, opt_state), metrics = jax.lax.scan(epoch, (params, opt_state), keys)
        return params, opt_state, jax.tree.map(jnp.mean, metrics)

    return optimize


def env_minibatches(
    num_minibatches: int, sharding: Any, key: jax.Array, batch: actor_critic.Batch
) -> actor_critic.Batch:
    """A recurrent batch shuffled by environment and cut into minibatches.

    The N environments are permuted and split into ``num_minibatches`` groups of
    N / M whole ``[T]`` sequences, each with its carries at the window's start
    and its episode-end flags, so the loss can replay them.

    Args:
      num_minibatches: M (divides N).
      sharding: the env axis's ``NamedSharding``, or None.
      key: this epoch's PRNG key.
      batch: the ``[T, N]`` :class:`~jaxpg.algorithms.actor_critic.Batch` with
        ``done`` and ``carry``.

    Returns:
      The batch with a leading minibatch axis: ``[M, T, N/M, ...]`` and carries
      ``[M, N/M, ...]``.
    """
    num_envs = batch.done.shape[1]
    order = jax.random.permutation(key, num_envs)

    def by_env(x, axis):
        x = jnp.take(x, order, axis=axis)
        shape = x.shape[:axis] + (num_minibatches, -1) + x.shape[axis + 1 :]
        return jnp.moveaxis(x.reshape(shape), axis, 0)

    steps = jax.tree.map(lambda x: by_env(x, 1), batch._replace(carry=None))
    carry = jax.tree.map(lambda x: by_env(x, 0), batch.carry)
    steps = constrain(steps, sharding, axis=2)
    return steps._replace(carry=constrain(carry, sharding, axis=1))


def make_update(
    config: PPOConfig,
    env: Any,
    env_params: Any,
    policy: pol.Policy,
    value: pol.Policy,
    *,
    sharding: Any = None,
) -> base.Update:
    """PPO's :class:`~jaxpg.algorithms.base.Update`: a fixed-length rollout, GAE,
    then :func:`make_optimize` (see :func:`jaxpg.algorithms.actor_critic.make_update`)."""
    recurrent_nets = recurrent.is_recurrent(policy) or recurrent.is_recurrent(value)
    if recurrent_nets and config.num_envs % config.num_minibatches:
        raise ValueError(
            "num_minibatches must divide num_envs with a recurrent policy or critic "
            "(minibatches are groups of whole environments); got "
            f"num_minibatches={config.num_minibatches}, num_envs={config.num_envs}"
        )
    return actor_critic.make_update(
        config,
        env,
        env_params,
        policy,
        value,
        lambda p, v: make_optimize(config, p, v, sharding=sharding),
        config.num_epochs * config.num_minibatches,
        sharding=sharding,
    )


ALGORITHM = base.Algorithm(
    name="ppo",
    label="PPO",
    config_type=PPOConfig,
    make_update=make_update,
    episodic=False,
)
