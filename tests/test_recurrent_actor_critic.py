"""A2C/PPO with recurrent networks: the update's replay of each environment's
window, from the carry stored at its start and reset after every episode end,
reproduces what the rollout sampled; PPO's minibatches are whole environments."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxpg
from jaxpg import policy as pol
from jaxpg import recurrent
from jaxpg.algorithms import actor_critic, ppo
from jaxpg.rollout import fixed_rollout, reset

pytestmark = pytest.mark.timeout(300)

ENV, ENV_PARAMS = jaxpg.make_env("CartPole-v1")
SHORT = ENV_PARAMS.replace(max_steps_in_episode=6)  # truncations inside a window
T, N = 16, 4


@jax.jit
def _two_windows(key):
    config = jaxpg.A2CConfig(memory_size=4)
    policy = jaxpg.make_policy(config, ENV, SHORT)
    value = jaxpg.make_value(config, ENV, SHORT)
    obs = pol.example_observation(ENV, SHORT)
    key_p, key_v, key_reset, key_1, key_2 = jax.random.split(key, 5)
    params = {"policy": policy.init(key_p, obs), "value": value.init(key_v, obs)}
    start = reset(
        key_reset, ENV, SHORT, N, carry=recurrent.initial_carries(policy, value, N)
    )
    out = []
    for k in (key_1, key_2):  # the second window starts from the first's end
        end, data = fixed_rollout(k, policy, params["policy"], ENV, SHORT, start, T)
        batch, h_value = actor_critic.recurrent_batch(
            data, value, params["value"], 0.99, 0.95, start.carry
        )
        replay = actor_critic.outputs(policy, params["policy"], batch, "policy")
        no_reset = batch._replace(done=jnp.zeros_like(batch.done))
        wrong = actor_critic.outputs(policy, params["policy"], no_reset, "policy")
        _, _, h_end = recurrent.unroll(
            policy, params["policy"], data.obs, start.carry.policy, batch.done
        )
        out.append(
            dict(
                sampled=data.log_prob,
                replayed=pol.log_prob(replay, data.action),
                no_reset=pol.log_prob(wrong, data.action),
                h_end=h_end,
                rollout_h_end=end.carry.policy,
                done=batch.done,
                truncated=data.truncated,
                values=batch.value,
                h_value=h_value,
            )
        )
        start = end._replace(carry=end.carry._replace(value=h_value))
    return out


def test_replay_reproduces_the_rollout_across_episode_ends_and_windows():
    for w in _two_windows(jax.random.key(0)):
        w = jax.tree.map(np.asarray, w)
        assert w["truncated"].any()  # episodes ended inside the window
        np.testing.assert_allclose(w["replayed"], w["sampled"], atol=1e-5)
        np.testing.assert_allclose(w["h_end"], w["rollout_h_end"], atol=1e-5)
        # Negative control: a replay that forgets the resets does not match.
        assert np.abs(w["no_reset"] - w["sampled"]).max() > 1e-3
        assert w["h_value"].shape == (N, 4)


def test_ppo_minibatches_are_whole_environments():
    env_id = jnp.arange(N, dtype=jnp.float32)
    column = jnp.broadcast_to(env_id, (T, N))
    batch = actor_critic.Batch(
        obs=jnp.broadcast_to(column[..., None], (T, N, 3)),
        action=column,
        log_prob=column,
        value=column,
        advantage=column,
        target=column,
        done=jnp.zeros((T, N), bool),
        carry=recurrent.Carry(jnp.broadcast_to(env_id[:, None], (N, 5)), None),
    )
    split = ppo.env_minibatches(2, None, jax.random.key(3), batch)
    assert split.obs.shape == (2, T, N // 2, 3)
    assert split.carry.policy.shape == (2, N // 2, 5)
    ids = np.asarray(split.carry.policy[..., 0])  # [M, N/M]
    assert sorted(ids.ravel().tolist()) == list(range(N))
    for leaf in (split.obs[..., 0], split.action, split.advantage):
        np.testing.assert_array_equal(
            np.asarray(leaf), np.broadcast_to(ids[:, None], leaf.shape)
        )


def test_recurrent_user_policy_needs_divisible_minibatches():
    config = jaxpg.PPOConfig(num_envs=6, num_steps=8, num_minibatches=4)
    policy = jaxpg.make_policy(jaxpg.PPOConfig(memory_size=3), ENV, ENV_PARAMS)
    with pytest.raises(ValueError, match="num_minibatches must divide num_envs"):
        jaxpg.make_trainer(config, policy=policy)
