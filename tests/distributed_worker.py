"""Helper for tests/test_distributed.py: runs in a fresh process (its own devices).

    python tests/distributed_worker.py devices OUT.npz ALGO NUM_DEVICES
    python tests/distributed_worker.py process OUT.npz ALGO PORT NUM_PROCESSES PROCESS_ID
    python tests/distributed_worker.py join - - PORT NUM_PROCESSES PROCESS_ID

``devices``: trains ``ALGO`` once with plain ``jax.jit(jaxpg.make_train)`` and once
over a mesh of ``NUM_DEVICES`` forced host devices; saves both parameter sets, the
output shardings and the compiled HLO's per-device shapes.
``process``: joins a ``NUM_PROCESSES``-process run on localhost:PORT (gloo), trains
over the mesh of every process's devices and saves the (replicated) parameters.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys

ALGOS = {
    "reinforce": ("ReinforceConfig", {}),
    "a2c": ("A2CConfig", {"num_steps": 8}),
    "ppo": ("PPOConfig", {"num_steps": 16, "num_minibatches": 2}),
    # Recurrent policies (tests/test_recurrent_batched.py).
    "reinforce_memory": ("ReinforceConfig", {"memory_size": 4}),
    "ppo_memory": (
        "PPOConfig",
        {"num_steps": 16, "num_minibatches": 2, "memory_size": 4},
    ),
}
NUM_ENVS = 8
NUM_UPDATES = 3


def config_for(algo: str):
    import jaxpg

    name, extra = ALGOS[algo]
    return getattr(jaxpg, name)(num_envs=NUM_ENVS, num_updates=NUM_UPDATES, **extra)


def flat_params(params) -> dict:
    import jax
    import numpy as np

    leaves = jax.tree_util.tree_leaves_with_path(params)
    return {jax.tree_util.keystr(p): np.asarray(x) for p, x in leaves}


def devices(out: str, algo: str, num_devices: int) -> None:
    import jax
    import numpy as np

    import jaxpg
    from jaxpg import distributed

    assert jax.device_count() == num_devices, jax.devices()
    config = config_for(algo)
    key = jax.random.key(0)
    single = jax.jit(jaxpg.make_train(config))(key)
    train = distributed.make_train(config, mesh=distributed.make_mesh(num_devices))
    sharded = train(key)
    hlo = train.lower(key).compile().as_text()
    obs_dim = 4  # CartPole
    per_device = NUM_ENVS // num_devices
    facts = {
        "param_spec": list(jax.tree.leaves(sharded.params)[0].sharding.spec),
        "param_replicated": all(
            x.sharding.is_fully_replicated for x in jax.tree.leaves(sharded.params)
        ),
        "hlo_per_device_obs": len(re.findall(rf"f32\[{per_device},{obs_dim}\]", hlo)),
        "hlo_full_obs": len(re.findall(rf"f32\[{NUM_ENVS},{obs_dim}\]", hlo)),
        "hlo_all_reduce": hlo.count("all-reduce("),
    }
    if sharded.state.env_state is not None:
        obs = sharded.state.env_state.obs
        facts["env_obs_spec"] = list(obs.sharding.spec)
        facts["env_obs_shard_shapes"] = [
            list(s.data.shape) for s in obs.addressable_shards
        ]
    try:
        bad = dataclasses.replace(config, num_envs=NUM_ENVS - 2)
        distributed.make_train(bad, mesh=distributed.make_mesh(num_devices))
        facts["indivisible_error"] = None
    except ValueError as e:
        facts["indivisible_error"] = str(e)
    arrays = {f"single{k}": v for k, v in flat_params(single.params).items()}
    if algo == "reinforce":
        # Seeds × devices: S seeds split over the mesh vs one vmapped call.
        keys = jax.random.split(key, num_devices)
        seeds = distributed.make_seed_train(
            config, mesh=distributed.make_mesh(num_devices, distributed.SEED_AXIS)
        )(keys)
        vmapped = jax.jit(jax.vmap(jaxpg.make_train(config)))(keys)
        loss = seeds.metrics["loss"]
        facts["seed_spec"] = list(loss.sharding.spec)
        facts["seed_shard_shapes"] = [
            list(s.data.shape) for s in loss.addressable_shards
        ]
        arrays["seeds_vmapped_loss"] = np.asarray(vmapped.metrics["loss"])
        arrays["seeds_sharded_loss"] = np.asarray(loss)
    arrays.update({f"sharded{k}": v for k, v in flat_params(sharded.params).items()})
    np.savez(out, **arrays)
    print(json.dumps(facts))


def process(out: str, algo: str, port: int, num_processes: int, pid: int) -> None:
    from jaxpg import distributed

    info = distributed.initialize(f"localhost:{port}", num_processes, pid)
    import jax
    import numpy as np

    config = config_for(algo)
    distributed.check_same_across_processes(config, "config")
    train = distributed.make_train(config)
    result = train(jax.random.key(0))
    np.savez(out, **flat_params(result.params))
    print(
        json.dumps(
            {
                "process_id": info.process_id,
                "num_processes": info.num_processes,
                "global_devices": info.global_devices,
                "primary": distributed.is_primary(),
                "return": float(result.metrics["episode_return"][-1]),
            }
        )
    )
    jax.distributed.shutdown()


if __name__ == "__main__":
    mode, out, algo, *rest = sys.argv[1:]
    if mode == "devices":
        devices(out, algo, int(rest[0]))
    elif mode == "process":
        process(out, algo, *map(int, rest))
    elif mode == "join":  # initialize only (the process-count checks)
        from jaxpg import distributed

        port, num_processes, pid = map(int, rest)
        print(distributed.initialize(f"localhost:{port}", num_processes, pid))
    else:
        raise SystemExit(f"unknown mode {mode!r}")
