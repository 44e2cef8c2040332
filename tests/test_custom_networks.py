"""A user's own networks (not made by jaxpg) with observation normalisation.

``normalize_observations=True`` wraps the policy and the critic so that their
parameters become ``{"net": ..., "obs_stats": ...}``; the optimizer, the update,
the checks and ``make_solve``'s greedy evaluation must all see the wrapped
networks, also when the user passes their own.
"""

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import pytest
from trees import all_finite

import jaxpg
from jaxpg import normalization
from jaxpg.rollout import episode_statistics, episodic_rollout
from jaxpg.solve import _EVAL_STREAM

pytestmark = pytest.mark.timeout(300)


class TinyLogits(nn.Module):
    """A two-action categorical policy: logits from one dense layer."""

    @nn.compact
    def __call__(self, obs):
        return nn.Dense(2)(obs)


class TinyValue(nn.Module):
    """A linear critic, one value per observation."""

    @nn.compact
    def __call__(self, obs):
        return nn.Dense(1)(obs)[..., 0]


def _user_networks():
    policy, value = TinyLogits(), TinyValue()
    return jaxpg.Policy(policy.init, policy.apply), jaxpg.Policy(
        value.init, value.apply
    )


CONFIGS = {
    "a2c": jaxpg.A2CConfig(
        num_envs=4, num_steps=8, num_updates=2, normalize_observations=True
    ),
    "ppo": jaxpg.PPOConfig(
        num_envs=4,
        num_steps=8,
        num_updates=2,
        num_epochs=2,
        num_minibatches=2,
        normalize_observations=True,
    ),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_user_networks_train_with_normalized_observations(name):
    policy, value = _user_networks()
    train = jaxpg.make_train(CONFIGS[name], policy=policy, value=value)
    result = jax.jit(train)(jax.random.key(0))
    assert all_finite(result.params) and all_finite(result.metrics)
    for net in ("policy", "value"):
        stats = result.params[net]["obs_stats"]
        # Refreshed after each of the 2 updates with T·N = 32 observations.
        assert normalization.exact_count(stats) == 64
        assert float(jnp.abs(stats.mean).max()) > 0.0
    # The user's network parameters sit under "net" and were trained.
    start = jax.jit(jaxpg.make_trainer(CONFIGS[name], policy=policy, value=value).init)
    before = start(jax.random.key(0)).params["policy"]["net"]
    moved = jax.tree.map(
        lambda a, b: float(jnp.abs(a - b).max()), result.params["policy"]["net"], before
    )
    assert max(jax.tree.leaves(moved)) > 0.0


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_make_solve_with_user_networks_evaluates_the_wrapped_policy(name):
    policy, value = _user_networks()
    config = dataclasses.replace(CONFIGS[name], num_updates=2)
    solve = jaxpg.make_solve(
        config, policy=policy, value=value, threshold=1e9, eval_episodes=4
    )
    result = jax.jit(solve)(jax.random.key(0))
    assert int(result.updates_used) == 2
    assert not bool(result.solved)
    assert all_finite(result.params)
    # The last evaluation (after update 2) ran the wrapped policy on the trained
    # params: replaying it with the documented key gives the same mean return.
    wrapped = normalization.normalize_observations(policy)
    env, env_params = jaxpg.make_env("CartPole-v1")
    key_eval = jax.random.fold_in(
        jax.random.fold_in(jax.random.key(0), _EVAL_STREAM), 2
    )
    traj = episodic_rollout(
        key_eval,
        wrapped,
        result.params["policy"],
        env,
        env_params,
        4,
        deterministic=True,
    )
    want = float(episode_statistics(traj)["return"].mean())
    assert float(result.eval_return) == pytest.approx(want)
