"""What an update evaluates with which parameters.

* The value baseline (REINFORCE) and the critic's values, advantages and targets
  (A2C, PPO) come from the parameters from *before* the update, in every epoch and
  minibatch: a baseline evaluated with parameters fitted to this very batch would
  depend on the trajectories' own actions.
* Observation statistics are refreshed *after* the update: within one update the
  policy that sampled the batch is the policy that is optimised, so PPO's ratio is
  exactly 1 before its first step.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxpg
from jaxpg import losses
from jaxpg import normalization as norm
from jaxpg import policy as pol
from jaxpg.algorithms import a2c, actor_critic, ppo, reinforce
from jaxpg.rollout import fixed

pytestmark = pytest.mark.timeout(300)


# --- observation statistics: refreshed after the update ----------------------

ORDER = jaxpg.PPOConfig(
    num_envs=4,
    num_steps=16,
    num_updates=3,
    num_epochs=1,
    num_minibatches=1,
    learning_rate=1e-12,
    normalize_observations=True,
)


def _refresh_first(original):
    """``ppo.make_optimize`` whose optimize merges the batch's observations into
    the statistics *before* optimising: the wrong order."""

    def make_optimize(config, policy, value, *, sharding=None):
        optimize = original(config, policy, value, sharding=sharding)

        def refreshed_first(optimizer, params, opt_state, batch, key, hp):
            params = norm.refresh_obs_stats(params, batch.obs, 1)
            return optimize(optimizer, params, opt_state, batch, key, hp)

        return refreshed_first

    return make_optimize


def test_stats_refreshed_after_the_update_keep_the_first_ratio_at_one():
    # One epoch, one minibatch: PPO's approx_kl is measured before its only step,
    # on the very parameters and statistics that sampled the batch.
    kl = jax.jit(jaxpg.make_train(ORDER))(jax.random.key(0)).metrics["approx_kl"]
    np.testing.assert_array_equal(kl, 0.0)


def test_control_stats_refreshed_before_the_update_move_the_policy(monkeypatch):
    monkeypatch.setattr(ppo, "make_optimize", _refresh_first(ppo.make_optimize))
    kl = jax.jit(jaxpg.make_train(ORDER))(jax.random.key(0)).metrics["approx_kl"]
    print("approx_kl with the statistics refreshed first:", kl)
    assert float(kl[0]) > 1e-4 and float(jnp.min(kl)) > 1e-6


# --- the critic: evaluated with the parameters from before the update ----------


def _differs(a, b, tol):
    return float(jnp.max(jnp.abs(a - b))) > 100 * tol


def test_reinforce_value_baseline_uses_the_parameters_before_the_update():
    config = jaxpg.ReinforceConfig(
        num_envs=16,
        num_updates=1,
        hidden_sizes=(16,),
        baseline="value",
        learning_rate=3e-2,
    )
    env, env_params = jaxpg.make_env(config.env_id)
    policy = jaxpg.make_policy(config, env, env_params)
    value = jaxpg.make_value(config, env, env_params)
    trainer = jaxpg.make_trainer(config)
    before = trainer.init(jax.random.key(0))
    after, metrics = jax.jit(trainer.run, static_argnums=1)(before, 1)
    hp = before.hparams
    _, key_rollout = jax.random.split(before.key)

    @jax.jit
    def policy_loss_with(value_params):
        # The update's batch, rebuilt from the building blocks, with the critic
        # evaluated on ``value_params``.
        params = {**before.params, "value": value_params}
        traj, psi, _ = reinforce.episodic_batch(
            key_rollout, config, policy, value, env, env_params, params, hp
        )
        logp = pol.log_prob(
            policy.apply(before.params["policy"], traj.obs), traj.action
        )
        return losses.score_function_loss(logp, psi, traj.mask), traj

    want, traj = policy_loss_with(before.params["value"])
    control, _ = policy_loss_with(after.params["value"])
    tol = 1e-5 * abs(float(want))
    assert float(metrics["policy_loss"][0]) == pytest.approx(float(want), abs=tol)
    assert abs(float(control) - float(want)) > 100 * tol
    # The recorded V(s_t) is the critic before the update.
    real = np.asarray(traj.mask) > 0
    v_before = value.apply(before.params["value"], traj.obs)
    v_after = value.apply(after.params["value"], traj.obs)
    np.testing.assert_allclose(
        np.asarray(traj.value)[real], np.asarray(v_before)[real], rtol=1e-6, atol=1e-6
    )
    assert _differs(v_after[real], v_before[real], 1e-6)


def _spy_on(monkeypatch, module, seen):
    """Wraps ``module.loss`` to record, at every call, the minibatch's inputs and
    the critic parameters the loss is evaluated at."""
    original = module.loss

    def record(obs, values, target, value_params):
        seen.append((obs, values, target, value_params))

    def loss(params, batch, policy, value, hp, *flags):
        jax.debug.callback(
            record, batch.obs, batch.value, batch.target, params["value"]
        )
        return original(params, batch, policy, value, hp, *flags)

    monkeypatch.setattr(module, "loss", loss)


CRITIC_CONFIGS = {
    "a2c": (a2c, jaxpg.A2CConfig(num_envs=4, num_steps=8, learning_rate=1e-2)),
    "ppo": (
        ppo,
        jaxpg.PPOConfig(
            num_envs=4,
            num_steps=8,
            num_epochs=3,
            num_minibatches=2,
            learning_rate=1e-2,
        ),
    ),
}


@pytest.mark.parametrize("name", sorted(CRITIC_CONFIGS))
def test_actor_critic_values_and_targets_use_the_parameters_before_the_update(
    monkeypatch, name
):
    module, config = CRITIC_CONFIGS[name]
    config = dataclasses.replace(config, num_updates=1, hidden_sizes=(16,))
    seen = []
    _spy_on(monkeypatch, module, seen)
    env, env_params = jaxpg.make_env(config.env_id)
    policy = jaxpg.make_policy(config, env, env_params)
    value = jaxpg.make_value(config, env, env_params)
    trainer = jaxpg.make_trainer(config)
    before = trainer.init(jax.random.key(0))
    jax.block_until_ready(jax.jit(trainer.run, static_argnums=1)(before, 1))
    jax.effects_barrier()
    steps = 1 if name == "a2c" else config.num_epochs * config.num_minibatches
    assert len(seen) == steps
    # The whole batch rebuilt from the building blocks with the critic from before.
    _, key_rollout, _ = jax.random.split(before.key, 3)
    hp = before.hparams
    _, data = fixed.rollout(
        key_rollout,
        policy,
        before.params["policy"],
        env,
        env_params,
        before.env_state,
        config.num_steps,
        hp.gamma,
    )
    batch = actor_critic.batch_from(
        data, value, before.params["value"], hp.gamma, hp.gae_lambda
    )
    all_targets = np.sort(np.asarray(batch.target).reshape(-1))
    v_before = before.params["value"]
    moved = 0
    for i, (obs, values, target, value_params) in enumerate(seen):
        np.testing.assert_allclose(
            values, value.apply(v_before, obs), rtol=1e-6, atol=1e-6
        )
        if i > 0:  # the loss itself runs at the partly updated critic
            moved += _differs(value.apply(value_params, obs), values, 1e-6)
        # Each minibatch's targets are entries of the batch built before the update.
        idx = np.searchsorted(all_targets, np.asarray(target).reshape(-1))
        np.testing.assert_allclose(
            all_targets[np.clip(idx, 0, all_targets.size - 1)],
            np.asarray(target).reshape(-1),
            rtol=1e-6,
        )
    # The control has teeth: in PPO the critic moved between minibatch steps.
    assert moved == steps - 1
