"""Recurrent policies outside the update: checkpoints (the carry lives in the
train state across updates), ``evaluate`` and gymnasium evaluation (the carry is
threaded through each episode), and ``--memory-size`` on the CLI."""

from __future__ import annotations

import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from trees import assert_bit_identical

import jaxpg
from jaxpg import cue_pomdp
from jaxpg.run import gym_eval

pytestmark = pytest.mark.timeout(300)

CONFIG = jaxpg.A2CConfig(
    env_id="CartPole-v1", num_envs=4, num_updates=4, hidden_sizes=(8,), memory_size=3
)


def test_checkpoint_round_trip_and_bit_identical_resume(tmp_path):
    trainer = jaxpg.make_trainer(CONFIG)
    run = jax.jit(trainer.run, static_argnums=1)
    state2, _ = run(trainer.init(jax.random.key(0)), 2)
    assert state2.env_state.carry.policy.shape == (4, 3)
    assert np.abs(np.asarray(state2.env_state.carry.policy)).max() > 0
    uninterrupted, metrics_a = run(state2, 2)
    jaxpg.save(tmp_path / "ckpt", state2, CONFIG)
    restored, config = jaxpg.load(tmp_path / "ckpt")
    assert config.memory_size == 3
    assert_bit_identical(restored, state2)
    resumed, metrics_b = run(restored, 2)
    assert_bit_identical(resumed, uninterrupted)
    assert_bit_identical(metrics_b, metrics_a)


def _host_returns(policy, params):
    """Greedy returns of both cues, by stepping ``act`` with the carry by hand."""
    out = {}
    for cue in range(2):
        carry, total = policy.initial_carry(()), 0.0
        for t in range(cue_pomdp.HORIZON):
            obs = jax.nn.one_hot(cue_pomdp.view(jnp.int32(cue), t), 4)
            action, carry = jaxpg.act(policy, params, obs, carry=carry)
            total += cue_pomdp.BLANK_REWARD * (t == 1 and int(action) == 0)
            total += float(t == 2 and int(action) == cue)
        out[cue] = total
    return out


def test_evaluate_threads_the_carry_through_each_episode():
    # Memory weights that make the greedy answer right for both cues.
    params = dict(cue_pomdp.PARAMS)
    params["w_x"] = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    params["w_h"] = np.array([[1.5, 0.0], [0.0, 0.0]])
    params["u"] = np.array([[2.0, -2.0], [0.0, 0.0]])
    params["d"] = np.array([0.0, 0.0])
    params["b"] = np.array([0.0, 0.0])
    policy = cue_pomdp.cue_policy(params)
    full = {"policy": policy.init(None, None)}
    expected = _host_returns(policy, full)
    assert expected == {0: 1.5, 1: 1.0}  # remembers the cue at the query
    returns = np.asarray(
        jaxpg.evaluate(jax.random.key(0), policy, full, cue_pomdp.CuePOMDP(), None, 32)
    )
    # Cue 1's episodes score 1.0 (right answer, no blank reward): without the
    # carry (all-zero memory at the query) the answer would be cue 0's.
    assert set(returns.tolist()) == {1.5, 1.0}


def test_gymnasium_evaluation_carries_on_the_host():
    policy = jaxpg.make_policy(CONFIG, *jaxpg.make_env("CartPole-v1"))
    params = {"policy": policy.init(jax.random.key(0), jnp.zeros(4))}
    returns = gym_eval.gymnasium_returns("CartPole-v1", policy, params, 2)
    assert returns.shape == (2,) and (returns >= 1).all()


def test_cli_has_memory_size():
    out = subprocess.run(
        [sys.executable, "scripts/train.py", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "--memory-size" in out
    bad = subprocess.run(
        [sys.executable, "scripts/train.py", "--algo", "ppo", "--memory-size", "-2"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "memory" in bad.stderr
