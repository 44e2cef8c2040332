"""Recurrent policies under vmap over seeds, the HParams sweep and a mesh of
devices: each equals the separate single runs after 3 updates (rtol 1e-5)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxpg

pytestmark = pytest.mark.timeout(600)

RTOL, ATOL = 1e-5, 1e-6
WORKER = Path(__file__).with_name("distributed_worker.py")
ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {
    "reinforce": jaxpg.ReinforceConfig(
        num_envs=4, num_updates=3, memory_size=4, hidden_sizes=(16,)
    ),
    "ppo": jaxpg.PPOConfig(
        num_envs=4,
        num_steps=8,
        num_updates=3,
        num_minibatches=2,
        memory_size=4,
        hidden_sizes=(16,),
    ),
}


def _close(a, b):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("algo", list(CONFIGS))
def test_vmapped_seeds_and_sweep_equal_separate_runs(algo):
    config = CONFIGS[algo]
    train = jaxpg.make_train(config)
    single = jax.jit(train)
    keys = jax.random.split(jax.random.key(0), 2)
    seeds = jax.jit(jax.vmap(train))(keys)
    hp = jaxpg.hparams(config)
    hps = [hp, hp._replace(learning_rate=jnp.float32(3e-3))]
    stacked = jax.tree.map(lambda *x: jnp.stack(x), *hps)
    sweep = jax.jit(jax.vmap(train, in_axes=(None, 0)))(keys[0], stacked)
    for i in range(2):
        alone = single(keys[i])
        _close(jax.tree.map(lambda x, i=i: x[i], seeds.params), alone.params)
        _close(
            jax.tree.map(lambda x, i=i: x[i], seeds.state.env_state),
            alone.state.env_state,
        )
        swept = single(keys[0], hps[i])
        _close(jax.tree.map(lambda x, i=i: x[i], sweep.params), swept.params)
    # The two learning rates gave different parameters: the sweep is not trivial.
    diff = jax.tree.map(lambda x: np.abs(np.asarray(x[0] - x[1])).max(), sweep.params)
    assert max(jax.tree.leaves(diff)) > 1e-4


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["reinforce_memory", "ppo_memory"])
def test_four_devices_match_one(tmp_path, algo):
    out = tmp_path / "out.npz"
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT), env.get("PYTHONPATH")])
    )
    proc = subprocess.run(
        [sys.executable, str(WORKER), "devices", str(out), algo, "4"],
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    arrays = dict(np.load(out))
    single = {k[6:]: v for k, v in arrays.items() if k.startswith("single")}
    sharded = {k[7:]: v for k, v in arrays.items() if k.startswith("sharded")}
    assert any("GRUCell" in k for k in single) and single.keys() == sharded.keys()
    for k in single:
        np.testing.assert_allclose(sharded[k], single[k], rtol=RTOL, atol=ATOL)
