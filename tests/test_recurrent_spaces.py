"""Memory combined with the richer action spaces: a GRU policy (memory_size > 0)
with legal-action masks, MultiDiscrete actions and the tanh-squashed Gaussian.

The wrappers of jaxpg.heads keep the network's form, so each combination is a
recurrent Policy whose outputs obey the space's rule (masked actions never taken,
one action per dimension, actions inside the box)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from spaces_envs import NVEC, MaskedEnv, MatchEnv
from trees import all_finite

import jaxpg
from jaxpg import distributions as dist
from jaxpg import recurrent

pytestmark = pytest.mark.timeout(600)


def _configs(num_updates, memory_size=8):
    return {
        "reinforce": jaxpg.ReinforceConfig(
            env_id=None,
            num_envs=16,
            num_updates=num_updates,
            learning_rate=3e-2,
            memory_size=memory_size,
        ),
        "a2c": jaxpg.A2CConfig(
            env_id=None,
            num_envs=8,
            num_updates=num_updates,
            num_steps=8,
            memory_size=memory_size,
        ),
        "ppo": jaxpg.PPOConfig(
            env_id=None,
            num_envs=8,
            num_updates=num_updates,
            num_steps=16,
            memory_size=memory_size,
        ),
    }


@pytest.mark.parametrize("algo", ["reinforce", "a2c", "ppo"])
def test_recurrent_masked_policy_never_takes_an_illegal_action(algo):
    env, env_params = jaxpg.make_env(MaskedEnv())
    config = _configs(2)[algo]
    policy = jaxpg.make_policy(config, env, env_params)
    value = jaxpg.make_value(config, env, env_params)
    assert recurrent.is_recurrent(policy) and recurrent.is_recurrent(value)
    result = jax.jit(jaxpg.make_train(config, env=env, env_params=env_params))(
        jax.random.key(0)
    )
    assert all_finite(result.params) and all_finite(result.metrics)
    traj = jaxpg.episodic_rollout(
        jax.random.key(1), policy, result.params["policy"], env, env_params, 256
    )
    taken = np.asarray(traj.action)[np.asarray(traj.mask) > 0]
    assert taken.size == 256 * 4 and not np.any(taken == 0)  # action 0 is illegal
    # The critic sees the observation without its mask and keeps its carry.
    obs, _ = env.reset(jax.random.key(2), env_params)
    v_params = value.init(jax.random.key(3), obs)
    v, carry = value.apply(v_params, obs, value.initial_carry(()))
    assert v.shape == () and carry.shape == (config.memory_size,)


@pytest.mark.parametrize("algo", ["reinforce", "ppo"])
def test_recurrent_multi_discrete_policy_acts_per_dimension(algo):
    env, env_params = jaxpg.make_env(MatchEnv())
    config = _configs(2)[algo]
    policy = jaxpg.make_policy(config, env, env_params)
    assert recurrent.is_recurrent(policy)
    result = jax.jit(jaxpg.make_train(config, env=env, env_params=env_params))(
        jax.random.key(0)
    )
    assert all_finite(result.params)
    obs, _ = env.reset(jax.random.key(1), env_params)
    batch = jnp.stack([obs] * 2048)
    carry = policy.initial_carry((2048,))
    actions, carry = jaxpg.act(
        policy, result.params, batch, jax.random.key(2), carry=carry
    )
    assert actions.shape == (2048, len(NVEC)) and carry.shape == (2048, 8)
    for d, n in enumerate(NVEC):  # every dimension draws inside its own range
        values = np.unique(np.asarray(actions[:, d]))
        assert values.min() >= 0 and values.max() <= n - 1


def test_recurrent_squashed_gaussian_stays_in_the_box_and_keeps_its_carry():
    env, env_params = jaxpg.make_env("Pendulum-v1")
    config = jaxpg.PPOConfig(
        env_id="Pendulum-v1",
        num_envs=4,
        num_steps=16,
        num_updates=2,
        memory_size=8,
        squash=True,
    )
    policy = jaxpg.make_policy(config, env, env_params)
    assert recurrent.is_recurrent(policy)
    result = jax.jit(jaxpg.make_train(config))(jax.random.key(0))
    assert all_finite(result.params)
    obs, _ = env.reset(jax.random.key(1), env_params)
    carry = policy.initial_carry(())
    output, carry2 = policy.apply(result.params["policy"], obs, carry)
    assert isinstance(output, dist.SquashedGaussian)
    assert not np.allclose(carry2, carry)  # the GRU moved its state
    draws = jax.vmap(lambda k: dist.sample(k, output))(
        jax.random.split(jax.random.key(2), 4096)
    )
    space = env.action_space(env_params)
    assert np.all(np.asarray(draws) >= space.low) and np.all(
        np.asarray(draws) <= space.high
    )
    assert all_finite(jax.vmap(lambda a: dist.log_prob(output, a))(draws))
