"""Learning: REINFORCE with its defaults solves CartPole-v1 (slow)."""

import jax
import numpy as np
import pytest

import jaxpg

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.mark.parametrize("seed", [0, 1])
def test_reinforce_solves_cartpole(seed):
    config = jaxpg.ReinforceConfig(env_id="CartPole-v1")
    result = jax.jit(jaxpg.make_train(config))(jax.random.key(seed))
    env, env_params = jaxpg.make_env("CartPole-v1")
    policy = jaxpg.make_policy(config, env, env_params)
    returns = jaxpg.evaluate(
        jax.random.key(100 + seed), policy, result.params, env, env_params, 100
    )
    assert float(np.mean(returns)) >= 475.0
