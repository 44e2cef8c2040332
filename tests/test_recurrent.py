"""Recurrent policies (``memory_size > 0``, :mod:`jaxpg.recurrent`): the config
checks, ``act``'s carry, and REINFORCE's backpropagation through whole episodes
when the gradient is accumulated over time chunks."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import jaxpg
from jaxpg.algorithms import episodic
from jaxpg.algorithms.reinforce import episodic_batch

pytestmark = pytest.mark.timeout(300)

ENV, ENV_PARAMS = jaxpg.make_env("CartPole-v1")


@pytest.mark.parametrize(
    "cls", [jaxpg.ReinforceConfig, jaxpg.A2CConfig, jaxpg.PPOConfig]
)
@pytest.mark.parametrize("bad", [-1, 1.5, True, "4"])
def test_memory_size_must_be_a_non_negative_int(cls, bad):
    with pytest.raises(ValueError, match="memory_size"):
        cls(memory_size=bad)


def test_recurrent_ppo_minibatches_are_whole_environments():
    jaxpg.PPOConfig(num_envs=8, num_minibatches=4, memory_size=4)
    jaxpg.PPOConfig(num_envs=6, num_minibatches=4, num_steps=64)  # feed-forward
    with pytest.raises(ValueError, match="num_minibatches must divide num_envs"):
        jaxpg.PPOConfig(num_envs=6, num_minibatches=4, num_steps=64, memory_size=4)


def test_policy_has_initial_carry_only_with_memory():
    ff = jaxpg.make_policy(jaxpg.ReinforceConfig(), ENV, ENV_PARAMS)
    rnn = jaxpg.make_policy(jaxpg.ReinforceConfig(memory_size=5), ENV, ENV_PARAMS)
    assert ff.initial_carry is None
    assert rnn.initial_carry(()).shape == (5,)
    assert rnn.initial_carry((3, 2)).shape == (3, 2, 5)


def test_act_threads_the_carry():
    policy = jaxpg.make_policy(jaxpg.ReinforceConfig(memory_size=3), ENV, ENV_PARAMS)
    obs = jnp.ones((2, 4))
    params = {"policy": policy.init(jax.random.key(0), obs[0])}
    with pytest.raises(ValueError, match="carry"):
        jaxpg.act(policy, params, obs)
    carry = policy.initial_carry((2,))
    action, carry1 = jaxpg.act(policy, params, obs, carry=carry)
    assert action.shape == (2,) and carry1.shape == (2, 3)
    assert not np.allclose(carry1, carry)  # the observation entered the carry
    _, carry2 = jaxpg.act(policy, params, obs, carry=carry1)
    _, again = jaxpg.act(policy, params, obs, carry=carry)
    np.testing.assert_array_equal(again, carry1)  # pure: same carry in, same out
    assert not np.allclose(carry2, carry1)
    ff = jaxpg.make_policy(jaxpg.ReinforceConfig(), ENV, ENV_PARAMS)
    ff_params = {"policy": ff.init(jax.random.key(0), obs[0])}
    with pytest.raises(ValueError, match="feed-forward"):
        jaxpg.act(ff, ff_params, obs, carry=carry)


def _whole_episode_gradient(config, policy, value, params, traj, psi, target):
    """The loss of the whole padded episodes, one replay from h_0, one jax.grad."""
    loss_fn = episodic.make_loss(
        config,
        policy,
        value,
        jaxpg.hparams(config),
        config.num_envs,
        jnp.maximum(traj.mask.sum(), 1.0),
    )
    batch = episodic.batch_from(traj, psi, target)
    h0 = jax.tree.map(lambda x: x[0], traj.carry)
    return jax.grad(lambda p: loss_fn(p, batch, h0)[0])(params)


@pytest.mark.parametrize("baseline", ["mean", "value"])
def test_chunked_bptt_equals_whole_episode_gradient(baseline):
    config = jaxpg.ReinforceConfig(
        num_envs=4,
        memory_size=4,
        rollout_chunk=4,
        baseline=baseline,
        entropy_coef=0.01,
    )
    env_params = ENV_PARAMS.replace(max_steps_in_episode=32)  # 8 chunks
    built = jaxpg.train.build(config, ENV, env_params, None, None)
    state = jaxpg.make_trainer(config, ENV, env_params).init(jax.random.key(0))
    hp = jaxpg.hparams(config)

    @jax.jit
    def grads(key, params):
        traj, psi, target = episodic_batch(
            key, config, built.policy, built.value, built.env, env_params, params, hp
        )
        loss_fn = episodic.make_loss(
            config,
            built.policy,
            built.value,
            hp,
            config.num_envs,
            jnp.maximum(traj.mask.sum(), 1.0),
        )
        _, chunked, _ = episodic.batch_gradient(loss_fn, params, traj, psi, target, 4)
        whole = _whole_episode_gradient(
            config, built.policy, built.value, params, traj, psi, target
        )
        # Negative control: each chunk from its recorded carry, no gradient
        # across chunk boundaries (truncated BPTT).
        cut = jax.tree.map(jnp.zeros_like, params)
        batch = episodic.batch_from(traj, psi, target)
        for i in range(traj.mask.shape[0] // 4):
            piece = jax.tree.map(lambda x, i=i: x[4 * i : 4 * i + 4], batch)
            h = jax.tree.map(lambda x, i=i: x[4 * i], traj.carry)
            g = jax.grad(lambda p, b=piece, h=h: loss_fn(p, b, h)[0])(params)
            cut = jax.tree.map(jnp.add, cut, g)
        return chunked, whole, cut, traj.steps_run

    chunked, whole, cut, steps_run = grads(jax.random.key(1), state.params)
    assert int(steps_run) > 4  # the episodes crossed chunk boundaries
    chunked, whole, cut = (
        np.asarray(ravel_pytree(g)[0]) for g in (chunked, whole, cut)
    )
    np.testing.assert_allclose(
        chunked, whole, rtol=1e-5, atol=1e-5 * np.abs(whole).max()
    )
    assert np.abs(cut - whole).max() > 1e-2 * np.abs(whole).max()


def test_a_carry_taking_policy_without_initial_carry_is_refused():
    policy = jaxpg.Policy(
        lambda key, obs: {"w": jnp.zeros((4, 2))},
        lambda p, obs, carry: (obs @ p["w"], carry),
    )
    config = jaxpg.ReinforceConfig(num_envs=2)
    with pytest.raises(ValueError, match="no initial_carry"):
        jaxpg.make_trainer(config, policy=policy)
    with pytest.raises(ValueError, match="no initial_carry"):
        jaxpg.evaluate(jax.random.key(0), policy, {"policy": {}}, ENV, ENV_PARAMS, 2)


def test_per_trajectory_gradients_average_to_the_batch_gradient():
    # gradient_diagnostics' per-episode terms g_i replay each episode from h_0.
    config = jaxpg.ReinforceConfig(
        num_envs=4, memory_size=3, rollout_chunk=8, baseline="none"
    )
    env_params = ENV_PARAMS.replace(max_steps_in_episode=16)
    built = jaxpg.train.build(config, ENV, env_params, None, None)
    params = jaxpg.make_trainer(config, ENV, env_params).init(jax.random.key(0)).params
    hp = jaxpg.hparams(config)

    @jax.jit
    def both(key):
        traj, psi, target = episodic_batch(
            key, config, built.policy, None, built.env, env_params, params, hp
        )
        per = episodic.per_trajectory_gradients(
            built.policy, params["policy"], traj, psi
        )
        loss_fn = episodic.make_loss(
            config, built.policy, None, hp, 4, jnp.float32(1.0), score_only=True
        )
        _, grads, _ = episodic.batch_gradient(loss_fn, params, traj, psi, target, 8)
        return jax.tree.map(lambda g: g.mean(0), per), grads["policy"]

    mean, grads = both(jax.random.key(1))
    mean, grads = (np.asarray(ravel_pytree(g)[0]) for g in (mean, grads))
    np.testing.assert_allclose(mean, -grads, rtol=1e-5, atol=1e-6)
    assert np.abs(grads).max() > 1e-3
