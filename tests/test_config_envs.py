"""Bad input is a clear ValueError before anything is built or traced."""

import math
import re

import jax
import pytest

import jaxpg
from jaxpg import tabular

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize(
    "field, value, allowed",
    [
        ("num_envs", 0, "integer >= 1"),
        ("num_envs", 2.5, "integer >= 1"),
        ("num_updates", -1, "integer >= 1"),
        ("learning_rate", 0.0, "(0.0, inf)"),
        ("learning_rate", math.nan, "(0.0, inf)"),
        ("gamma", 1.5, "[0.0, 1.0]"),
        ("gamma", -0.1, "[0.0, 1.0]"),
        ("hidden_sizes", (64, -1), "positive integers"),
        ("hidden_sizes", "64", "positive integers"),
        ("activation", "sigmoid", "'tanh'"),
        ("entropy_coef", -0.1, "[0.0, inf)"),
        ("max_grad_norm", 0.0, "(0.0, inf]"),
        ("weight", "returns", "'return', 'reward_to_go'"),
        ("baseline", "median", "'none', 'mean', 'value'"),
        ("discount_weighting", 1, "True or False"),
        ("normalize_weights", "yes", "True or False"),
        ("rollout_chunk", 0, "integer >= 1"),
    ],
)
def test_config_rejects_bad_values_naming_the_field(field, value, allowed):
    with pytest.raises(ValueError) as err:
        jaxpg.ReinforceConfig(**{field: value})
    message = str(err.value)
    assert message.startswith(field)
    assert allowed in message


def test_inconsistent_options():
    with pytest.raises(ValueError, match="discount_weighting"):
        jaxpg.ReinforceConfig(weight="return", discount_weighting=True)
    with pytest.raises(ValueError, match="num_envs >= 2"):
        jaxpg.ReinforceConfig(baseline="mean", num_envs=1)


def test_config_is_hashable_and_lists_become_tuples():
    a = jaxpg.ReinforceConfig(hidden_sizes=[32, 32])
    assert a.hidden_sizes == (32, 32)
    assert hash(a) == hash(jaxpg.ReinforceConfig(hidden_sizes=(32, 32)))


def test_unknown_env_lists_close_matches():
    with pytest.raises(ValueError, match=re.escape("did you mean 'CartPole-v1'")):
        jaxpg.make_env("Cartpole-v1")
    with pytest.raises(ValueError, match="unknown environment id"):
        jaxpg.make_train(jaxpg.ReinforceConfig(env_id="NoSuchEnv"))


def test_unsupported_env_says_why_without_building_it():
    with pytest.raises(ValueError, match="downloads"):
        jaxpg.make_env("MNISTBandit-bsuite")


def test_every_supported_id_builds_with_float_observations():
    for env_id in jaxpg.supported_env_ids():
        env, env_params = jaxpg.make_env(env_id)
        obs, _ = env.reset(jax.random.key(0), env_params)
        assert obs.dtype == jax.numpy.float32, env_id


def test_discrete_observations_are_one_hot():
    env, params = jaxpg.make_env(tabular.TabularMDP())
    obs, _ = env.reset(jax.random.key(0), params)
    assert obs.shape == (3,) and float(obs.sum()) == 1.0
    env2, _ = jaxpg.make_env("FrozenLake-misc")
    obs, _ = env2.reset(jax.random.key(0), env2.default_params)
    assert obs.shape == (16,) and float(obs.sum()) == 1.0


def test_env_object_wins_over_env_id():
    cfg = jaxpg.ReinforceConfig(env_id="CartPole-v1", num_envs=2, num_updates=1)
    result = jax.jit(
        jaxpg.make_train(cfg, env=tabular.TabularMDP(), policy=tabular.table_policy())
    )(jax.random.key(0))
    assert result.params["policy"]["logits"].shape == (3, 2)


def test_not_an_env():
    with pytest.raises(TypeError, match="gymnax Environment"):
        jaxpg.make_env(object())
