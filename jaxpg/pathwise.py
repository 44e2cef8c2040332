"""Pathwise (reparameterised, backpropagation-through-time) policy gradients.

For a Gaussian policy an action is a differentiable function of θ and a noise
draw, ``a_t = μ_θ(s_t) + σ_θ ⊙ ε_t`` (:func:`jaxpg.policy.sample` already computes
it that way). When the environment's transition ``s_{t+1} = f(s_t, a_t)`` and
reward ``r(s_t, a_t)`` are differentiable too, the return of one episode is a
differentiable function ``R(θ; ε, s_0)``, and

    ∇_θ J = ∇_θ E_{ε, s_0}[R(θ; ε, s_0)] = E[∇_θ R(θ; ε, s_0)]

wherever differentiation and expectation may be swapped: the pathwise estimator
(Mohamed et al. 2020). It needs ∂f/∂s and ∂r/∂a, which the score-function
estimator never uses, and it fails in two known ways the estimator lab measures:

* the product of Jacobians ∂s_{t+1}/∂s_t over a long horizon can grow
  exponentially (chaotic dynamics: Parmas et al. 2018), so its variance explodes;
* a reward that is a step function of the state (MountainCarContinuous's +100 at
  the goal) has zero derivative almost everywhere: its contribution to ∇J is
  invisible to the pathwise gradient, which is then biased.

gymnax (≥ 1.0) detaches each transition's outputs with ``stop_gradient`` unless
the environment was built with ``env.with_transition_gradients()`` (supported by
Pendulum-v1, MountainCarContinuous-v0, PointRobot-misc, Reacher-misc and
Swimmer-misc in gymnax 1.0.1). :func:`differentiable_env` builds one.

Both estimators here share the objective: the expected return of an episode cut at
``horizon`` steps (or at its end), ``J_H = E[Σ_{t<H} γ^t r_t]``, with the same
policy, clipping of the action to the box, and the same trajectories for a given
key (common random numbers, so their difference can be tested paired).

References:
  Mohamed, Rosca, Figurnov, Mnih, 2020, Monte Carlo Gradient Estimation in Machine
  Learning. JMLR 21.
  Parmas, Rasmussen, Peters, Doya, 2018, PIPPS: Flexible model-based policy search
  robust to the curse of chaos. ICML.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxpg import diagnostics
from jaxpg import policy as pol
from jaxpg.algorithms.reinforce import reinforce_weights
from jaxpg.envs import encode_env, make_env
from jaxpg.gymnax_import import import_gymnax
from jaxpg.rollout import Trajectory

__all__ = [
    "differentiable_env",
    "differentiable_rollout",
    "linear_gaussian_policy",
    "pathwise_gradients",
    "score_function_gradients",
]


def differentiable_env(env_id_or_env: Any, **kwargs: Any) -> tuple[Any, Any]:
    """``jaxpg.make_env`` of a gymnax environment whose transitions keep gradients.

    Args:
      env_id_or_env: a gymnax id (e.g. ``"MountainCarContinuous-v0"``) or a gymnax
        environment (or jaxpg's wrapper of one).
      **kwargs: passed to ``gymnax.make`` with an id.

    Returns:
      ``(env, env_params)`` as from :func:`jaxpg.make_env`, the environment built
      with ``with_transition_gradients()``.

    Raises:
      ValueError: when gymnax does not implement differentiable transitions for it.
    """
    if isinstance(env_id_or_env, str):
        gymnax = import_gymnax()

        raw, _ = gymnax.make(env_id_or_env, **kwargs)
    else:
        raw = getattr(env_id_or_env, "env", env_id_or_env)
    if not getattr(raw, "supports_transition_gradients", False):
        raise ValueError(
            f"{getattr(raw, 'name', type(raw).__name__)} has no differentiable "
            "transitions in gymnax (env.supports_transition_gradients is False)"
        )
    return make_env(raw.with_transition_gradients())


def linear_gaussian_policy(
    weights: Any, bias: float = 0.0, log_std: float = 0.0
) -> pol.Policy:
    """A one-dimensional Gaussian policy with mean ``obs · weights + bias``.

    ``init`` ignores its arguments and returns these parameters
    (``{"w", "b", "log_std"}``), so ``policy.init(None, None)`` is the starting
    point; small and smooth, for comparing estimators where a network's
    nonlinearity would only add noise. ``linear_gaussian_policy([0.0, 15.0],
    log_std=-0.5)`` pushes MountainCarContinuous along its velocity and reaches
    the goal in many episodes.

    Args:
      weights: ``w``, ``[obs_dim]``.
      bias: ``b``, a scalar.
      log_std: the log standard deviation, a scalar (state-independent).

    Returns:
      A :class:`jaxpg.Policy` whose ``apply`` returns ``(mean, log_std)``, each
      ``[..., 1]``.
    """
    start = {
        "w": jnp.asarray(weights, jnp.float32),
        "b": jnp.asarray(bias, jnp.float32),
        "log_std": jnp.asarray(log_std, jnp.float32),
    }

    def init(key: Any, obs: Any) -> dict:
        del key, obs
        return start

    def apply(params: dict, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        mean = (obs @ params["w"] + params["b"])[..., None]
        return mean, jnp.broadcast_to(params["log_std"], mean.shape)

    return pol.Policy(init, apply)


def _episode(key, policy, policy_params, env, env_params, horizon):
    """One episode of at most ``horizon`` steps, differentiable in the parameters.

    Returns ``(obs, action, reward, terminated, truncated, mask, log_prob)``, each
    ``[H, ...]``. After the episode ends the state and observation are frozen,
    the mask is 0 and the reward 0 (a select: a step from an ended state may
    return NaN).
    """
    raw = getattr(env, "env", env)
    key_reset, key = jax.random.split(key)
    obs, state = env.reset(key_reset, env_params)

    def step(carry, t):
        key, obs, state, alive = carry
        key, key_act, key_env = jax.random.split(key, 3)
        output = policy.apply(policy_params, obs)
        action = pol.sample(key_act, output)  # μ + σ ε: reparameterised
        logp = pol.log_prob(output, action)
        nobs, nstate, reward, terminated, _ = raw.step_env(
            key_env, state, env.clip_action(action, env_params), env_params
        )
        nobs = env.encode(nobs, env_params)
        truncated = t + 1 >= horizon
        maskf = alive.astype(jnp.float32)
        terminated = jnp.asarray(terminated, bool)
        done = terminated | truncated
        nstate = jax.tree.map(lambda n, o: jnp.where(alive, n, o), nstate, state)
        nobs = jnp.where(alive, nobs, obs)
        record = (
            obs,
            action,
            jnp.where(alive, jnp.asarray(reward, jnp.float32), 0.0),  # NaN-safe
            terminated & alive,
            truncated & alive,
            maskf,
            logp,
        )
        return (key, nobs, nstate, alive & ~done), record

    _, records = jax.lax.scan(
        step, (key, obs, state, jnp.array(True)), jnp.arange(horizon)
    )
    return records


def differentiable_rollout(
    key: jax.Array,
    policy: pol.Policy,
    policy_params: Any,
    env: Any,
    env_params: Any,
    num_envs: int,
    horizon: int,
) -> Trajectory:
    """``num_envs`` episodes cut at ``horizon``, as a :class:`Trajectory` ``[H, N]``.

    Its rewards, observations and actions are differentiable functions of
    ``policy_params`` when ``env`` keeps transition gradients. Episode i uses
    ``split(key, N)[i]``, so :func:`pathwise_gradients` with the same key
    differentiates exactly these episodes.

    Args:
      key: a PRNG key.
      policy: the :class:`jaxpg.Policy`.
      policy_params: its parameters.
      env: the environment (from :func:`differentiable_env` for gradients).
      env_params: its parameters.
      num_envs: N, the number of episodes.
      horizon: H, the steps of each episode (cut there).

    Returns:
      A :class:`jaxpg.Trajectory` with ``[H, N]`` fields (``value`` zeros).
    """
    env = encode_env(env)
    keys = jax.random.split(key, num_envs)
    rec = jax.vmap(_episode, in_axes=(0, None, None, None, None, None), out_axes=1)(
        keys, policy, policy_params, env, env_params, int(horizon)
    )
    obs, action, reward, terminated, truncated, mask, logp = rec
    return Trajectory(
        obs,
        action,
        reward,
        terminated,
        truncated,
        mask,
        logp,
        jnp.zeros_like(reward),
        jnp.int32(horizon),
    )


def _check_gradients(env: Any) -> None:
    raw = getattr(env, "env", env)
    if not getattr(raw, "transition_gradients_enabled", False):
        raise ValueError(
            "the pathwise gradient needs an environment whose transitions keep "
            "gradients: build it with jaxpg.pathwise.differentiable_env (gymnax's "
            "env.with_transition_gradients()); this one detaches them"
        )


def _discounts(horizon: int, gamma: Any) -> jax.Array:
    return jnp.asarray(gamma, jnp.float32) ** jnp.arange(horizon, dtype=jnp.float32)


def pathwise_gradients(
    key: jax.Array,
    policy: pol.Policy,
    policy_params: Any,
    env: Any,
    env_params: Any,
    num_envs: int,
    horizon: int,
    gamma: float | jax.Array = 1.0,
) -> Any:
    """Per-episode pathwise gradients ``∇_θ Σ_{t<H} γ^t r_t`` (BPTT), leading axis N.

    Their mean is the pathwise estimate of ∇J_H; feed them to
    :func:`jaxpg.diagnostics.gradient_statistics` for variance and SNR.

    Args:
      key, policy, policy_params, env, env_params, num_envs, horizon: as in
        :func:`differentiable_rollout` (the same episodes for the same key).
      gamma: γ of the objective ``Σ_{t<H} γ^t r_t``.

    Returns:
      A pytree shaped like ``policy_params`` with a leading axis N: episode i's
      gradient.

    Raises:
      ValueError: when ``env`` detaches its transitions (gymnax's default).
    """
    env = encode_env(env)
    _check_gradients(env)
    weights = _discounts(int(horizon), gamma)

    def episode_return(params, k):
        _, _, reward, *_ = _episode(k, policy, params, env, env_params, int(horizon))
        return jnp.dot(weights, reward)

    keys = jax.random.split(key, num_envs)
    return jax.vmap(jax.grad(episode_return), in_axes=(None, 0))(policy_params, keys)


def score_function_gradients(
    key: jax.Array,
    policy: pol.Policy,
    policy_params: Any,
    env: Any,
    env_params: Any,
    num_envs: int,
    horizon: int,
    gamma: float | jax.Array = 1.0,
    baseline: str = "none",
) -> Any:
    """Per-episode score-function terms for the same objective and episodes.

    ``g_i = Σ_t γ^t (G^γ_{i,t} − b_{i,t}) ∇log π(a_{i,t}|s_{i,t})`` (reward-to-go
    with γ^t weighting: unbiased for J_H with any γ), ``b`` from ``baseline``
    (``"none"`` or ``"mean"``, leave-one-out). Same key → same episodes as
    :func:`pathwise_gradients`. Works with any environment (no model gradients).

    Args:
      key, policy, policy_params, env, env_params, num_envs, horizon: as in
        :func:`differentiable_rollout`.
      gamma: γ of the objective.
      baseline: ``"none"`` or ``"mean"`` (the leave-one-out mean).

    Returns:
      A pytree shaped like ``policy_params`` with a leading axis N: episode i's
      term ``g_i``.
    """
    traj = jax.lax.stop_gradient(
        differentiable_rollout(
            key, policy, policy_params, env, env_params, num_envs, horizon
        )
    )
    psi, _ = reinforce_weights(
        traj,
        gamma,
        weight="reward_to_go",
        baseline=baseline,
        discount_weighting=True,
    )
    return diagnostics.per_trajectory_gradients(policy, policy_params, traj, psi)
