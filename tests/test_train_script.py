"""scripts/train.py end to end, in a subprocess, with a tiny budget."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

import jaxpg
from jaxpg import checkpoint

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "train.py"
TINY = [
    "--env-id",
    "CartPole-v1",
    "--num-updates",
    "3",
    "--num-envs",
    "8",
    "--hidden-sizes",
    "8",
    "--eval-episodes",
    "5",
    "--chunk",
    "2",  # 3 updates = a chunk of 2 and a tail of 1: both code paths
    "--seed",
    "3",
]

pytestmark = pytest.mark.timeout(300)


def run_script(args, cache_dir, timeout=240):
    env = dict(os.environ, JAXPG_CACHE_DIR=str(cache_dir))
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def compile_seconds(stdout):
    match = re.search(r"compiled in ([\d.]+) (m?s)", stdout)
    assert match, stdout
    value = float(match.group(1))
    return value / 1000 if match.group(2) == "ms" else value


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("train_script")
    out = root / "run"
    proc = run_script([*TINY, "--out", str(out)], root / "cache")
    assert proc.returncode == 0, proc.stderr
    return out, proc, root / "cache"


def test_metrics_jsonl_has_one_row_per_update(tiny_run):
    out, _, _ = tiny_run
    rows = [
        json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()
    ]
    assert [r["update"] for r in rows] == [1, 2, 3]
    for row in rows:
        assert {"episode_return", "episodes_finished", "env_steps", "loss"} <= set(row)
        assert isinstance(row["env_steps"], int) and row["env_steps"] > 0
        assert isinstance(row["episode_return"], float)
        # One complete episode per environment per update.
        assert row["episodes_finished"] == 8
    totals = np.cumsum([r["env_steps"] for r in rows]).tolist()
    assert [r["env_steps_total"] for r in rows] == totals


def test_config_json_is_the_resolved_config(tiny_run):
    out, _, _ = tiny_run
    data = json.loads((out / "config.json").read_text())
    assert data["class"] == "ReinforceConfig"
    assert data["fields"]["num_updates"] == 3
    assert data["fields"]["hidden_sizes"] == [8]
    assert data["fields"]["learning_rate"] == jaxpg.ReinforceConfig().learning_rate
    assert data["run"]["seed"] == 3 and data["run"]["chunk"] == 2
    expected = jaxpg.ReinforceConfig(num_updates=3, num_envs=8, hidden_sizes=(8,))
    assert checkpoint.config_from_dict(data) == expected


def test_checkpoint_is_loadable_and_is_the_final_state(tiny_run):
    out, _, _ = tiny_run
    state, config = jaxpg.load(out / "checkpoint")
    assert config.num_updates == 3
    assert int(state.step) == 3
    rows = (out / "metrics.jsonl").read_text().splitlines()
    last = json.loads(rows[-1])
    np.testing.assert_allclose(float(state.last_episode_return), last["episode_return"])


def test_printed_progress_evaluation_and_timing(tiny_run):
    out, proc, _ = tiny_run
    lines = proc.stdout.strip().splitlines()
    assert any(re.match(r"update 3/3 \| env steps [\d,]+ \|", line) for line in lines)
    assert any(
        re.match(r"evaluation over 5 greedy episodes: return [\d.]+ ± [\d.]+", line)
        for line in lines
    )
    assert re.match(r"wall time [\d.]+ m?s$", lines[-1])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["eval"]["episodes"] == 5
    assert summary["status"] == "finished"
    last_row = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert summary["env_steps"] == [last_row["env_steps_total"]]
    assert "persistent cache cold" in proc.stdout


@pytest.mark.slow
def test_same_run_in_process_matches_the_checkpoint(tiny_run):
    """The script trains exactly what jaxpg.make_trainer does for that seed."""
    out, _, _ = tiny_run
    config = jaxpg.ReinforceConfig(num_updates=3, num_envs=8, hidden_sizes=(8,))
    trainer = jaxpg.make_trainer(config)
    key_init, _ = jax.random.split(jax.random.key(3))
    run = jax.jit(trainer.run, static_argnums=1)
    state, _ = run(trainer.init(key_init), 2)
    state, _ = run(state, 1)
    loaded, _ = jaxpg.load(out / "checkpoint")
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
        loaded.params,
        state.params,
    )


def test_second_launch_reuses_the_compilation_cache(tiny_run, tmp_path):
    _, first, cache = tiny_run
    proc = run_script([*TINY, "--out", str(tmp_path / "again")], cache)
    assert proc.returncode == 0, proc.stderr
    assert "persistent cache warm" in proc.stdout
    assert compile_seconds(proc.stdout) < 0.5 * compile_seconds(first.stdout)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--gamma", "2"], r"gamma must be a number in \[0.0, 1.0\]; got 2.0"),
        (["--env-id", "Cartpole"], r"unknown environment id 'Cartpole'.*'CartPole-v1'"),
        (["--baseline", "foo"], r"baseline must be one of 'none', 'mean', 'value'"),
        (["--num-envs", "abc"], r"argument --num-envs: invalid int value"),
        (["--chunk", "0"], r"--chunk must be an integer >= 1"),
        (
            ["--coordinator-address", "localhost:1", "--num-processes", "2"]
            + ["--process-id", "2"],
            r"process_id=2 is outside \[0, num_processes=2\)",
        ),
    ],
)
def test_bad_flags_exit_2_before_compiling(tmp_path, args, message):
    out = tmp_path / "run"
    proc = run_script([*args, "--out", str(out)], tmp_path / "cache", timeout=120)
    assert proc.returncode == 2
    assert re.search(message, proc.stderr), proc.stderr
    assert not out.exists()
    compiled = [p.name for p in (tmp_path / "cache").glob("*")]
    assert not [
        n for n in compiled if n.startswith(("jit_run", "jit_init", "jit_eval"))
    ]


def test_unusable_out_folder_is_refused_before_training(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    proc = run_script(["--out", str(blocker / "run")], tmp_path / "cache", timeout=120)
    assert proc.returncode == 2
    assert "is not a directory" in proc.stderr
    assert blocker.read_text() == "not a folder"
    assert not (tmp_path / "cache").exists()  # nothing was compiled

    full = tmp_path / "used"
    full.mkdir()
    (full / "metrics.jsonl").write_text("old\n")
    proc = run_script(["--out", str(full)], tmp_path / "cache", timeout=120)
    assert proc.returncode == 2
    assert "already holds files" in proc.stderr
    assert (full / "metrics.jsonl").read_text() == "old\n"
