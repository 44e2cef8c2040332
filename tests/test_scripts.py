"""scripts/train.py, evaluate.py and plot.py as a user runs them: in subprocesses."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import jaxpg
from jaxpg import run
from jaxpg.run import gym_eval

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--num-envs", "4", "--hidden-sizes", "8", "--eval-episodes", "3"]

pytestmark = pytest.mark.timeout(300)


def script(name, args, cache, timeout=240):
    env = dict(os.environ, JAXPG_CACHE_DIR=str(cache))
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / name), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=ROOT,
    )


def snapshot(folder: Path) -> dict:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def two_seeds(tmp_path_factory, cache):
    """A finished 2-seed REINFORCE run on CartPole-v1."""
    out = tmp_path_factory.mktemp("scripts") / "two-seeds"
    args = [*TINY, "--num-updates", "4", "--chunk", "2", "--seeds", "2"]
    proc = script("train.py", [*args, "--eval-every", "2", "--out", out], cache)
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_seeds_train_in_one_call_with_periodic_evaluation(two_seeds):
    out, proc = two_seeds
    assert "seed 0 x 2 seeds (one vmapped call)" in proc.stdout
    assert re.search(r"evaluation at update 2: greedy return [\d.]+ ± ", proc.stdout)
    rows = run.read_metrics(out)
    assert len(rows) == 4 * 2
    assert sorted({r["seed_index"] for r in rows}) == [0, 1]
    state, _, options = run.load_run(out)
    assert options.seeds == 2 and np.asarray(state.step).tolist() == [4, 4]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--env-id", "Acrobot"], r"unknown environment id 'Acrobot'.*'Acrobot-v1'"),
        (["--algo", "a2c", "--gamma", "1.5"], r"--gamma: gamma must be .*got 1.5"),
        (
            ["--algo", "ppo", "--num-envs", "3", "--num-minibatches", "5"],
            r"--num-minibatches, --num-steps, --num-envs: num_minibatches must divide .* = 192",
        ),
        (["--hidden-sizes", "0"], r"--hidden-sizes: hidden_sizes must be a sequence"),
        (["--seeds", "0"], r"--seeds must be an integer >= 1"),
        (["--stop-at-return", "100"], r"--stop-at-return needs .*--eval-every"),
        (["--algo", "sac"], r"argument --algo: invalid choice: 'sac'"),
    ],
)
def test_bad_flags_exit_2_naming_the_flag(tmp_path, cache, args, message):
    proc = script("train.py", [*args, "--out", tmp_path / "run"], cache, timeout=120)
    assert proc.returncode == 2, proc.stdout
    assert re.search(message, proc.stderr), proc.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--learning-rate", "0.5"], r"--learning-rate \(the run has 0.01, .* 0.5\)"),
        (["--seeds", "3"], r"--seeds \(the run has 2, the command line says 3\)"),
        (["--algo", "ppo"], r"was trained with --algo reinforce"),
    ],
)
def test_resume_with_a_different_config_is_refused(two_seeds, cache, args, message):
    out, _ = two_seeds
    before = snapshot(out)
    proc = script("train.py", ["--resume", out, *args], cache, timeout=120)
    assert proc.returncode == 2
    assert re.search(message, proc.stderr), proc.stderr
    assert snapshot(out) == before


def test_resume_of_a_missing_run_folder(tmp_path, cache):
    proc = script("train.py", ["--resume", tmp_path / "nowhere"], cache, timeout=120)
    assert proc.returncode == 2
    assert "no such run folder" in proc.stderr


@pytest.mark.skipif(
    importlib.util.find_spec("tensorboardX") is not None,
    reason="tensorboardX is installed",
)
def test_tensorboard_without_the_package_says_what_to_install(tmp_path, cache):
    proc = script(
        "train.py", [*TINY, "--tensorboard", "--out", tmp_path / "run"], cache
    )
    assert proc.returncode == 2
    assert "pip install tensorboardX" in proc.stderr
    assert not (tmp_path / "run").exists()


def _interrupted(tmp_path, cache):
    """Starts a long run, sends SIGINT after its first progress line."""
    out = tmp_path / "run"
    args = [*TINY, "--num-updates", "2000", "--chunk", "2", "--out", out]
    env = dict(os.environ, JAXPG_CACHE_DIR=str(cache))
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "train.py"), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("update "):
            proc.send_signal(signal.SIGINT)
            break
    stdout, stderr = proc.communicate(timeout=200)
    return out, proc.returncode, "".join(seen) + stdout, stderr


def test_sigint_saves_a_checkpoint_and_prints_the_resume_command(tmp_path, cache):
    out, code, stdout, stderr = _interrupted(tmp_path, cache)
    assert code == 128 + signal.SIGINT, stderr
    assert "Traceback" not in stderr
    assert "SIGINT received: finishing the current chunk" in stderr
    match = re.search(r"SIGINT: stopped after update (\d+)/2000", stdout)
    assert match, stdout
    assert f"python scripts/train.py --resume {out}" in stdout
    state, _ = jaxpg.load(out / "checkpoint")
    assert int(state.step) == int(match.group(1))
    assert run.read_metrics(out)[-1]["update"] == int(state.step)
    assert json.loads((out / "summary.json").read_text())["status"] == "interrupted"


@pytest.mark.slow
def test_resumed_subprocess_run_is_bit_identical(tmp_path, cache):
    """Interrupted at a random chunk by a real SIGINT, resumed in a new process."""
    args = [*TINY, "--num-updates", "30", "--chunk", "2", "--checkpoint-every", "0"]
    whole = tmp_path / "whole"
    assert script("train.py", [*args, "--out", whole], cache).returncode == 0
    split = tmp_path / "split"
    env = dict(os.environ, JAXPG_CACHE_DIR=str(cache))
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "train.py"), *map(str, args)]
        + ["--out", str(split)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    for line in proc.stdout:
        if line.startswith("update "):
            proc.send_signal(signal.SIGINT)
            break
    proc.communicate(timeout=200)
    if proc.returncode == 0:
        pytest.skip("the run finished before the signal arrived")
    stopped_at = int(jaxpg.load(split / "checkpoint")[0].step)
    assert 0 < stopped_at < 30
    resumed = script("train.py", ["--resume", split], cache)
    assert resumed.returncode == 0, resumed.stderr
    a, _ = jaxpg.load(whole / "checkpoint")
    b, _ = jaxpg.load(split / "checkpoint")
    for x, y in zip(
        jax_leaves(a.params) + [a.step], jax_leaves(b.params) + [b.step], strict=True
    ):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    assert run.read_metrics(whole) == run.read_metrics(split)


def jax_leaves(tree):
    import jax

    return jax.tree.leaves(tree)


def test_evaluate_prints_gymnax_and_gymnasium_returns_and_renders_a_gif(
    two_seeds, cache, tmp_path
):
    out, _ = two_seeds
    gif = tmp_path / "episode.gif"
    args = [out, "--episodes", "3", "--seed-index", "1", "--gif", gif]
    proc = script("evaluate.py", args, cache)
    number = r"[\d.]+ ± [\d.]+ \(min [\d.]+, max [\d.]+\)"
    assert re.search(
        rf"gymnax +CartPole-v1: 3 greedy episodes x 2 seeds: return {number}",
        proc.stdout,
    ), proc.stdout + proc.stderr
    assert re.search(
        rf"gymnasium +CartPole-v1: 3 greedy episodes \(seed index 1\): return {number}",
        proc.stdout,
    )
    if importlib.util.find_spec("pygame") is None:
        assert proc.returncode == 1
        assert "pip install pygame" in proc.stderr
        return
    assert proc.returncode == 0, proc.stderr
    from PIL import Image

    with Image.open(gif) as image:
        assert image.format == "GIF" and image.n_frames > 3
    match = re.search(r"saved a (\d+)-step greedy episode", proc.stdout)
    assert match and int(match.group(1)) >= 8  # CartPole lasts at least ~8 steps


def test_evaluate_refuses_bad_input(two_seeds, cache, tmp_path):
    out, _ = two_seeds
    proc = script("evaluate.py", [out, "--seed-index", "2"], cache, timeout=120)
    assert proc.returncode == 2
    assert "--seed-index must be in [0, 2)" in proc.stderr
    proc = script("evaluate.py", [tmp_path], cache, timeout=120)
    assert proc.returncode == 2
    assert "not a jaxpg run folder: it has no config.json" in proc.stderr


def test_plot_writes_a_png_for_several_runs(two_seeds, cache, tmp_path):
    out, _ = two_seeds
    png = tmp_path / "curves.png"
    proc = script("plot.py", [out, out, "--labels", "a", "b", "--out", png], cache)
    assert proc.returncode == 0, proc.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert re.search(r"^a: final episode_return [\d.]+ \(seeds ", proc.stdout, re.M)
    bad = script("plot.py", [out, "--metric", "nope"], cache, timeout=120)
    assert bad.returncode == 2 and "--metric nope: not in" in bad.stderr


def test_interval_is_the_student_t_interval_of_the_seed_mean():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import plot
    finally:
        sys.path.pop(0)
    x = np.array([0.0, 10.0])
    curves = [(x, np.array([1.0, 3.0])), (x, np.array([3.0, 5.0]))]
    grid, mean, low, high = plot.mean_and_interval(curves, points=3)
    np.testing.assert_allclose(grid, [0.0, 5.0, 10.0])
    np.testing.assert_allclose(mean, [2.0, 3.0, 4.0])
    # Two seeds 2 apart: sample std √2, standard error 1, t(0.975, 1) = 12.706.
    np.testing.assert_allclose(high - mean, 12.7062, rtol=1e-4)
    np.testing.assert_allclose(mean - low, 12.7062, rtol=1e-4)
    np.testing.assert_allclose(plot.smooth(np.array([1.0, 3.0, 5.0]), 2), [1, 2, 4])


def test_gymnasium_actions_are_clipped_to_the_box_and_discrete_ones_are_ints():
    import gymnasium

    box = gymnasium.spaces.Box(-2.0, 2.0, (1,), np.float32)
    action = gym_eval._to_env_action(np.array([5.0]), box)
    assert action.dtype == np.float32 and action.tolist() == [2.0]
    assert gym_eval._to_env_action(np.array(-0.5), box).tolist() == [-0.5]
    assert gym_eval._to_env_action(np.array(1), gymnasium.spaces.Discrete(2)) == 1
    with pytest.raises(ValueError, match="no gymnasium twin"):
        gym_eval.gymnasium_returns("Catch-bsuite", None, {}, 1)
