"""Sizes have bounds: int32 for every count, and a memory lower bound checked
before anything is compiled (jaxpg.memory)."""

from __future__ import annotations

import jax
import pytest

import jaxpg
from jaxpg import memory, run

pytestmark = pytest.mark.timeout(120)

HUGE = 2**40


@pytest.mark.parametrize(
    ("cls", "field", "value"),
    [
        (jaxpg.ReinforceConfig, "num_envs", HUGE),
        (jaxpg.ReinforceConfig, "num_updates", HUGE),
        (jaxpg.ReinforceConfig, "rollout_chunk", HUGE),
        (jaxpg.A2CConfig, "num_steps", HUGE),
        (jaxpg.PPOConfig, "num_epochs", HUGE),
        (jaxpg.PPOConfig, "num_minibatches", HUGE),
        (jaxpg.ReinforceConfig, "hidden_sizes", (HUGE,)),
        (jaxpg.PPOConfig, "conv_channels", (HUGE,)),
    ],
)
def test_every_size_is_at_most_int32(cls, field, value):
    with pytest.raises(ValueError, match=rf"^{field} must be .*2147483647"):
        cls(**{field: value})


def test_the_samples_of_one_batch_fit_int32():
    with pytest.raises(
        ValueError, match=r"^num_steps · num_envs must be <= 2147483647"
    ):
        jaxpg.A2CConfig(num_envs=2**16, num_steps=2**16)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            jaxpg.ReinforceConfig(num_envs=2**30),
            r"^num_envs: one update's 1073741824 episodes of up to 500 steps would "
            r"take at least .*TiB, more than the .* of memory",
        ),
        (
            jaxpg.PPOConfig(num_envs=2**20, num_steps=2**10, num_minibatches=1),
            r"^num_envs · num_steps: one update's 1048576 × 1024 steps would take",
        ),
        (
            jaxpg.ReinforceConfig(hidden_sizes=(2**20, 2**20)),
            r"^hidden_sizes \(1048576, 1048576\): the networks' parameters",
        ),
    ],
    ids=["reinforce-envs", "ppo-batch", "hidden-sizes"],
)
def test_a_batch_larger_than_memory_is_refused_before_tracing(config, message):
    with pytest.raises(ValueError, match=message):
        jaxpg.make_trainer(config)
    with pytest.raises(ValueError, match=message):
        jaxpg.make_train(config)


def test_the_bound_is_a_lower_bound_that_real_runs_pass():
    config = jaxpg.PPOConfig(num_envs=64, num_steps=128)
    jaxpg.make_trainer(config)  # 64 × 128 CartPole steps: far below any memory
    env, params = jaxpg.make_env("CartPole-v1")
    assert memory.rollout_bytes(env, params, 128, 64) == 128 * 64 * (4 * 4 + 12)
    assert memory.available_bytes() > 2**20


def test_evaluation_episodes_are_bounded(tmp_path):
    config = jaxpg.ReinforceConfig(num_envs=4, hidden_sizes=(8,))
    env, env_params = jaxpg.make_env("CartPole-v1")
    policy = jaxpg.make_policy(config, env, env_params)
    params = {"policy": policy.init(jax.random.key(0), env.reset(jax.random.key(0))[0])}
    for episodes, message in [
        (HUGE, r"num_episodes must be an integer >= 1 and <= 2147483647"),
        (10**8, r"num_episodes: 100000000 evaluation episodes of up to 500 steps"),
    ]:
        with pytest.raises(ValueError, match=message):
            jaxpg.evaluate(jax.random.key(1), policy, params, env, env_params, episodes)


def test_a_run_whose_final_evaluation_cannot_fit_fails_before_training(tmp_path):
    config = jaxpg.ReinforceConfig(num_envs=4, num_updates=2, hidden_sizes=(8,))
    options = run.RunOptions(eval_episodes=10**8)
    with pytest.raises(run.RunError, match=r"^--eval-episodes: 100000000 evaluation"):
        run.train_run(config, options, tmp_path / "run", log=lambda _: None)
    assert not (tmp_path / "run").exists()
    options = run.RunOptions(seeds=2**30)
    with pytest.raises(run.RunError, match=r"^--num-envs: .* × 1073741824 --seeds wo"):
        run.train_run(config, options, tmp_path / "run", log=lambda _: None)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("name", ["seeds", "chunk", "eval_every", "checkpoint_every"])
def test_run_options_are_at_most_int32(name):
    with pytest.raises(
        ValueError, match=rf"--{name.replace('_', '-')} must be .*< 2147483648"
    ):
        run.RunOptions(**{name: HUGE})
