"""jaxpg.distributed: many devices and many processes give one device's parameters.

The main pytest process has already initialised JAX with one CPU device, so every
multi-device or multi-process run happens in a fresh subprocess
(tests/distributed_worker.py) with ``--xla_force_host_platform_device_count`` or
``jax.distributed.initialize`` over localhost (gloo CPU collectives).
Comparisons are after 3 updates with rtol 1e-5 (float reassociation of the
cross-device sums grows chaotically over longer runs; see DESIGN.md).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

import jaxpg
from jaxpg import distributed, run

WORKER = Path(__file__).with_name("distributed_worker.py")
ROOT = Path(__file__).resolve().parents[1]
RTOL, ATOL = 1e-5, 1e-6


def _env(num_devices: int) -> dict:
    env = dict(os.environ)
    flags = env.get("XLA_FLAGS", "")
    env["XLA_FLAGS"] = (
        f"{flags} --xla_force_host_platform_device_count={num_devices}".strip()
    )
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT), env.get("PYTHONPATH")])
    )
    return env


def _facts(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _assert_trees_close(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=RTOL, atol=ATOL, err_msg=k)


def _run_devices(tmp_path: Path, algo: str, num_devices: int) -> tuple[dict, dict]:
    out = tmp_path / f"{algo}.npz"
    proc = subprocess.run(
        [sys.executable, str(WORKER), "devices", str(out), algo, str(num_devices)],
        env=_env(num_devices),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return _facts(proc.stdout), dict(np.load(out))


def _split(arrays: dict, prefix: str) -> dict:
    return {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_reinforce_four_devices_match_one(tmp_path):
    facts, arrays = _run_devices(tmp_path, "reinforce", 4)
    # Same parameters as the unannotated one-device program, after 3 updates.
    single, sharded = _split(arrays, "single"), _split(arrays, "sharded")
    assert single
    _assert_trees_close(sharded, single)
    # The rollout really is partitioned: per-device observation batches of N/D = 2
    # environments, none of the full N = 8; the gradient is all-reduced.
    assert facts["hlo_per_device_obs"] > 0
    assert facts["hlo_full_obs"] == 0
    assert facts["hlo_all_reduce"] >= 1
    assert facts["param_replicated"]
    # Divisibility is checked before compiling.
    msg = facts["indivisible_error"]
    assert msg is not None and "num_envs=6" in msg and "device count 4" in msg
    # Seeds × devices: 4 seeds split 1 per device = one vmapped single-device call.
    assert facts["seed_spec"] == ["seeds"]
    assert facts["seed_shard_shapes"] == [[1, 3]] * 4
    np.testing.assert_allclose(
        arrays["seeds_sharded_loss"], arrays["seeds_vmapped_loss"], rtol=RTOL
    )


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("algo", ["a2c", "ppo"])
def test_actor_critic_four_devices_match_one(tmp_path, algo):
    facts, arrays = _run_devices(tmp_path, algo, 4)
    _assert_trees_close(_split(arrays, "sharded"), _split(arrays, "single"))
    assert facts["hlo_per_device_obs"] > 0
    assert facts["hlo_full_obs"] == 0
    # The environments carried between updates stay split: 2 per device.
    assert facts["env_obs_spec"] == ["envs"]
    assert facts["env_obs_shard_shapes"] == [[2, 4]] * 4


def _start_processes(tmp_path, algo, counts, timeout=180, mode="process"):
    """Starts one worker per entry of ``counts`` (its num_processes) on one port."""
    port = _free_port()
    procs = []
    for pid, n in enumerate(counts):
        out = tmp_path / f"process{pid}.npz"
        cmd = [sys.executable, str(WORKER), mode, str(out), algo]
        cmd += [str(port), str(n), str(pid)]
        procs.append(
            subprocess.Popen(
                cmd,
                env=_env(1),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    results = []
    try:
        for p in procs:
            stdout, stderr = p.communicate(timeout=timeout)
            results.append((p.returncode, stdout, stderr))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return results


@pytest.mark.timeout(240)
def test_two_processes_train_one_run(tmp_path):
    results = _start_processes(tmp_path, "reinforce", [2, 2])
    for rc, _, stderr in results:
        assert rc == 0, stderr[-3000:]
    facts = [_facts(stdout) for _, stdout, _ in results]
    assert [f["process_id"] for f in facts] == [0, 1]
    assert [f["primary"] for f in facts] == [True, False]
    assert all(f["global_devices"] == 2 for f in facts)
    p0 = dict(np.load(tmp_path / "process0.npz"))
    p1 = dict(np.load(tmp_path / "process1.npz"))
    for k in p0:  # one logical run: bit-identical replicated parameters
        np.testing.assert_array_equal(p0[k], p1[k], err_msg=k)
    # ... equal to this single-device process's result for the same key.
    sys.path.insert(0, str(WORKER.parent))
    try:
        import distributed_worker as worker
    finally:
        sys.path.remove(str(WORKER.parent))
    config = worker.config_for("reinforce")
    single = jax.jit(jaxpg.make_train(config))(jax.random.key(0))
    _assert_trees_close(p0, worker.flat_params(single.params))


@pytest.mark.timeout(120)
def test_mismatched_process_count_is_an_error(tmp_path):
    # Process 1 believes in 3 processes, the coordinator (process 0) in 2.
    results = _start_processes(tmp_path, "-", [2, 3], timeout=90, mode="join")
    rc, _, stderr = results[1]
    assert rc != 0
    assert "num_processes=3 but the run formed with 2 processes" in stderr


@pytest.mark.timeout(30)
def test_divisibility_and_argument_errors():
    with pytest.raises(ValueError, match=r"num_envs=6 .*device count 4"):
        distributed.check_divisible(6, 4)
    distributed.check_divisible(8, 4)
    with pytest.raises(ValueError, match=r"process_id=2 is outside"):
        distributed.initialize("localhost:1", num_processes=2, process_id=2)
    with pytest.raises(ValueError, match=r"devices=5"):
        distributed.make_mesh(5)


@pytest.mark.timeout(120)
def test_mesh_of_one_is_the_single_device_program():
    """On one device the sharded trainer is the plain one, bit for bit."""
    config = jaxpg.ReinforceConfig(num_envs=4, num_updates=2)
    key = jax.random.key(0)
    plain = jax.jit(jaxpg.make_train(config))(key)
    mesh = distributed.make_mesh(1)
    # The chunked trainer: init + run over the mesh, 2 updates in one chunk.
    trainer = distributed.make_trainer(config, mesh=mesh)
    state, metrics = trainer.run(trainer.init(key), 2)
    jax.tree.map(np.testing.assert_array_equal, state.params, plain.params)
    assert metrics["loss"].shape == (2,)


def _train_script(args: list, cwd: Path) -> subprocess.CompletedProcess:
    env = _env(4)
    env["JAXPG_CACHE_DIR"] = str(cwd / "cache")
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train.py"), *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        cwd=cwd,
    )


@pytest.mark.timeout(300)
def test_train_script_devices_flag_matches_one_device(tmp_path):
    common = ["--env-id", "CartPole-v1", "--num-envs", "8", "--num-updates", "3"]
    common += ["--eval-episodes", "5", "--hidden-sizes", "8", "--seed", "3"]
    runs = {}
    for devices in (4, 1):
        out = tmp_path / f"devices{devices}"
        proc = _train_script([*common, "--devices", devices, "--out", out], tmp_path)
        assert proc.returncode == 0, proc.stderr[-3000:]
        rows = run.read_metrics(out)
        assert [r["update"] for r in rows] == [1, 2, 3]
        state, config = jaxpg.load(out / "checkpoint")
        assert config.num_envs == 8
        runs[devices] = state
        assert ("over 4 devices" in proc.stdout) == (devices == 4)
    sharded = jax.tree.leaves(jax.device_get(runs[4].params))
    single = jax.tree.leaves(jax.device_get(runs[1].params))
    assert len(sharded) == len(single) > 0
    for a, b in zip(sharded, single, strict=True):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)

    # An indivisible env count is refused before anything is compiled or written.
    out = tmp_path / "indivisible"
    proc = _train_script(
        [*common[:2], "--num-envs", "6", "--devices", "4", "--out", out], tmp_path
    )
    assert proc.returncode == 2
    assert "--num-envs" in proc.stderr and "device count 4" in proc.stderr
    assert "compiled" not in proc.stdout
    assert not out.exists()

    # Seeds are not laid over the devices by train.py: a clear refusal.
    proc = _train_script([*common, "--devices", "4", "--seeds", "2"], tmp_path)
    assert proc.returncode == 2
    assert "--seeds 2 with --devices 4" in proc.stderr
