"""A2C: synchronous advantage actor-critic with GAE.

One update: a fixed-length rollout of ``num_steps`` steps in each of ``num_envs``
environments (:mod:`jaxpg.algorithms.actor_critic`), GAE(λ) advantages from the
critic as it was before the update, then ONE gradient step on

``−(1/TN) Σ_{t,i} log π(a_{t,i}|s_{t,i}) · sg(A_{t,i})
+ c_v · ½ (1/TN) Σ_{t,i} (V(s_{t,i}) − sg(A_{t,i} + V_old(s_{t,i})))²
− c_e · (1/TN) Σ_{t,i} H(π(·|s_{t,i}))``

where sg is stop-gradient. The policy term is
:func:`jaxpg.losses.score_function_loss` divided by the constant T (it divides by
N): the average over all T·N samples (DESIGN, "Loss scale"). With a learned critic
and λ < 1 the advantage is biased; ``normalize_advantages`` (a random divisor) adds
a further, consistent bias.

References:
  Mnih et al., 2016, Asynchronous Methods for Deep Reinforcement Learning.
  Schulman et al., 2016, High-Dimensional Continuous Control Using Generalized
  Advantage Estimation.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxpg import losses
from jaxpg import policy as pol
from jaxpg import returns as ret
from jaxpg.algorithms import actor_critic, base


@dataclasses.dataclass(frozen=True)
class A2CConfig:
    """A2C with GAE. Frozen, hashable, static under jit; validated on construction.

    The defaults are tuned for CartPole-v1: 4000 updates of 8 × 5 steps (1.6·10⁵
    environment steps) reach a greedy return ≥ 475 on each of the seeds tried.

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
      gae_lambda: λ ∈ [0, 1] of GAE (1: Monte-Carlo return minus V; 0: TD error).
      normalize_advantages: standardise the advantages over the batch.
      anneal_lr: decay the learning rate linearly to 0 over ``num_updates``.
      normalize_observations: standardise observations with running statistics
        kept in the policy's and critic's params (``jaxpg.normalization``).
      scale_rewards: divide rewards by the running std of a discounted return
        before GAE (episode-return metrics stay raw).
      conv_channels: channels of the 3×3 ReLU convolutions before the MLP torso,
        for image observations ``[H, W, C]`` (MinAtar); ``None`` (default): one
        16-channel layer for image observations and none otherwise; ``()``: none.
      memory_size: units of a GRU cell after the torso of the policy and of
        jaxpg's critic (:mod:`jaxpg.recurrent`); 0 (default): feed-forward.
    """

    env_id: str | None = "CartPole-v1"
    num_envs: int = 8
    num_updates: int = 4000
    learning_rate: float = 1e-3
    gamma: float = 0.99
    hidden_sizes: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    entropy_coef: float = 0.0
    max_grad_norm: float = 0.5
    value_coef: float = 0.5
    init_log_std: float = 0.0
    squash: bool = False
    state_dependent_std: bool = False
    num_steps: int = 5
    gae_lambda: float = 0.95
    normalize_advantages: bool = True
    anneal_lr: bool = True
    normalize_observations: bool = False
    scale_rewards: bool = False
    conv_channels: tuple[int, ...] | None = None
    memory_size: int = 0

    def __post_init__(self) -> None:
        actor_critic.check_actor_critic(self)

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
) -> tuple[jax.Array, dict]:
    """A2C's loss on a ``[T, N]`` batch; returns ``(loss, parts)``."""
    num_steps = batch.advantage.shape[0]
    adv = batch.advantage
    if normalize_advantages:
        adv = ret.normalize(adv, None)
    ones = jnp.ones_like(adv)
    output = actor_critic.outputs(policy, params["policy"], batch, "policy")
    logp = pol.log_prob(output, batch.action)
    policy_loss = losses.score_function_loss(logp, adv, ones) / num_steps
    v = actor_critic.outputs(value, params["value"], batch, "value")
    value_loss = losses.value_loss(v, batch.target, ones, adv.size)
    entropy = pol.entropy(output).mean()
    total = policy_loss + hp.value_coef * value_loss - hp.entropy_coef * entropy
    return total, {
        "policy_loss": policy_loss,
        "value_loss": value_loss,
        "entropy": entropy,
    }


def make_optimize(
    config: A2CConfig, policy: pol.Policy, value: pol.Policy
) -> actor_critic.Optimize:
    """One gradient step of :func:`loss` on the whole batch."""
    grad_fn = jax.value_and_grad(loss, has_aux=True)

    def optimize(optimizer, params, opt_state, batch, key, hp):
        del key  # A2C draws no randomness in its update.
        (total, parts), grads = grad_fn(
            params, batch, policy, value, hp, config.normalize_advantages
        )
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        metrics = {"loss": total, "grad_norm": optax.tree.norm(grads), **parts}
        return params, opt_state, metrics

    return optimize


def make_update(
    config: A2CConfig,
    env: Any,
    env_params: Any,
    policy: pol.Policy,
    value: pol.Policy,
    *,
    sharding: Any = None,
) -> base.Update:
    """A2C's :class:`~jaxpg.algorithms.base.Update`: a fixed-length rollout, GAE,
    one gradient step (see :func:`jaxpg.algorithms.actor_critic.make_update`)."""
    return actor_critic.make_update(
        config,
        env,
        env_params,
        policy,
        value,
        lambda p, v: make_optimize(config, p, v),
        1,
        sharding=sharding,
    )


ALGORITHM = base.Algorithm(
    name="a2c",
    label="A2C",
    config_type=A2CConfig,
    make_update=make_update,
    episodic=False,
)
