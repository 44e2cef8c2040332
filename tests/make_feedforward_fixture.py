"""Writes tests/data/feedforward_updates.npz: what feed-forward training computes.

The fixture pins ``memory_size=0`` to the results of the code before recurrent
policies existed (commit 04cf061): 3 updates of each algorithm (REINFORCE with the
leave-one-out and the value baseline, A2C, PPO on a discrete and on a continuous
environment with observation normalisation and reward scaling), a greedy
evaluation and one ``estimate_gradient``. tests/test_memory_zero.py asserts that
the current code reproduces every array bit for bit.

Run from the repository root: ``python tests/make_feedforward_fixture.py``. Rerun
it only on purpose (a deliberate change of feed-forward results), never to make
the test pass.
"""

from __future__ import annotations

import pathlib
import platform

import jax
import numpy as np
from jax.flatten_util import ravel_pytree

import jaxpg

PATH = pathlib.Path(__file__).parent / "data" / "feedforward_updates.npz"


def cases() -> dict:
    """Name → config: small, fast, and covering every update path."""
    return {
        "reinforce_mean": jaxpg.ReinforceConfig(
            env_id="CartPole-v1", num_envs=8, num_updates=3, rollout_chunk=16
        ),
        "reinforce_value_gae": jaxpg.ReinforceConfig(
            env_id="CartPole-v1",
            num_envs=8,
            num_updates=3,
            baseline="value",
            weight="gae",
            gae_lambda=0.9,
            entropy_coef=0.01,
        ),
        "a2c": jaxpg.A2CConfig(env_id="CartPole-v1", num_envs=4, num_updates=3),
        "ppo": jaxpg.PPOConfig(
            env_id="CartPole-v1", num_envs=4, num_steps=16, num_updates=3
        ),
        "ppo_pendulum": jaxpg.PPOConfig(
            env_id="Pendulum-v1",
            num_envs=4,
            num_steps=16,
            num_updates=3,
            normalize_observations=True,
            scale_rewards=True,
            clip_value=True,
        ),
    }


def compute() -> dict[str, np.ndarray]:
    """Every array the fixture holds, keyed ``case/what``."""
    out: dict[str, np.ndarray] = {}
    key = jax.random.key(0)
    for name, config in cases().items():
        result = jax.jit(jaxpg.make_train(config))(key)
        out[f"{name}/params"] = np.asarray(ravel_pytree(result.params)[0])
        for metric, values in result.metrics.items():
            out[f"{name}/{metric}"] = np.asarray(values)
    config = cases()["reinforce_mean"]
    env, env_params = jaxpg.make_env("CartPole-v1")
    policy = jaxpg.make_policy(config, env, env_params)
    params = jax.jit(jaxpg.make_train(config))(key).params
    out["evaluate/returns"] = np.asarray(
        jaxpg.evaluate(jax.random.key(1), policy, params, env, env_params, 8)
    )
    grad = jaxpg.estimate_gradient(jax.random.key(2), config, params, env, env_params)
    out["estimate_gradient/policy"] = np.asarray(ravel_pytree(grad["policy"])[0])
    return out


def main() -> None:
    arrays = compute()
    arrays["meta/jax_version"] = np.asarray(jax.__version__)
    arrays["meta/machine"] = np.asarray(platform.machine())
    PATH.parent.mkdir(exist_ok=True)
    np.savez(PATH, **arrays)
    print(f"wrote {len(arrays)} arrays to {PATH}")


if __name__ == "__main__":
    main()
