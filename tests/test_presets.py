"""jaxpg.tuned_config / jaxpg.presets, and scripts/train.py starting from a preset."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import jaxpg
from jaxpg import adapters, presets
from jaxpg.algorithms import registry

pytestmark = pytest.mark.timeout(300)

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "train.py"


@pytest.mark.parametrize("key", sorted(presets.PRESETS), ids="-".join)
def test_every_preset_builds_a_valid_config_that_make_trainer_accepts(key):
    algorithm, env_id = key
    if ":" in env_id:  # an adapter's preset: needs that library's extra
        namespace = env_id.partition(":")[0]
        pytest.importorskip(adapters.LIBRARIES[namespace].MODULE)
    config = jaxpg.tuned_config(algorithm, env_id)
    assert type(config) is registry.get(algorithm).config_type
    assert config.env_id == env_id
    for field, value in presets.PRESETS[key].items():
        assert getattr(config, field) == value, field
    jaxpg.make_trainer(config)  # the environment-dependent checks pass too


def test_presets_cover_every_results_environment():
    for env_id in (
        "CartPole-v1",
        "Acrobot-v1",
        "MountainCar-v0",
        "Pendulum-v1",
        "MountainCarContinuous-v0",
        "Breakout-MinAtar",
    ):
        assert ("ppo", env_id) in presets.PRESETS
        assert ("a2c", env_id) in presets.PRESETS


def test_cartpole_presets_are_the_class_defaults_trained_longer_at_most():
    for name, cls in (
        (a.name, a.config_type) for a in map(registry.get, registry.names())
    ):
        config = jaxpg.tuned_config(name, "CartPole-v1")
        assert dataclasses.replace(config, num_updates=cls().num_updates) == cls()
        assert config.num_updates >= cls().num_updates


def test_explicit_overrides_win():
    base = jaxpg.tuned_config("ppo", "Pendulum-v1")
    assert base.num_epochs != 3 and base.learning_rate != 5e-4
    config = jaxpg.tuned_config("PPO", "Pendulum-v1", num_epochs=3, learning_rate=5e-4)
    assert (config.num_epochs, config.learning_rate) == (3, 5e-4)
    # Everything not overridden is the preset's.
    same = dataclasses.replace(
        config, num_epochs=base.num_epochs, learning_rate=base.learning_rate
    )
    assert same == base


def test_the_preset_table_is_read_only_and_copies_are_returned():
    with pytest.raises(TypeError):
        presets.PRESETS[("ppo", "Acrobot-v1")]["num_envs"] = 1
    copy = presets.preset_overrides("ppo", "Acrobot-v1")
    copy["num_envs"] = 1
    assert jaxpg.tuned_config("ppo", "Acrobot-v1").num_envs != 1


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("dqn", "CartPole-v1"), {}, r"'reinforce', 'a2c', 'ppo'; got 'dqn'"),
        (("ppo", "Cartpole"), {}, r"'Cartpole'.*CartPole-v1.*Acrobot-v1"),
        (("reinforce", "Breakout-MinAtar"), {}, r"presets for 'reinforce' exist for"),
        (("ppo", "Acrobot-v1"), {"num_step": 3}, r"no field\(s\) num_step.*num_steps"),
        (("ppo", "Acrobot-v1"), {"clip_eps": -1.0}, r"clip_eps must be"),
    ],
)
def test_bad_input_is_a_value_error_naming_what_is_allowed(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        jaxpg.tuned_config(*args, **kwargs)


def _train(args, tmp_path):
    env = dict(os.environ, JAXPG_CACHE_DIR=str(tmp_path / "cache"))
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )


def _fields(out: Path) -> dict:
    return json.loads((out / "config.json").read_text())["fields"]


def test_train_script_starts_from_the_preset_and_flags_win(tmp_path):
    out = tmp_path / "run"
    tiny = ["--num-updates", "2", "--num-steps", "8", "--eval-episodes", "2"]
    proc = _train(
        ["--algo", "ppo", "--env-id", "Acrobot-v1", *tiny, "--out", out], tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert "preset: tuned for ppo on Acrobot-v1" in proc.stdout
    fields = _fields(out)
    preset = presets.PRESETS[("ppo", "Acrobot-v1")]
    assert fields["num_updates"] == 2 and fields["num_steps"] == 8  # the flags
    assert fields["num_envs"] == preset["num_envs"] != jaxpg.PPOConfig().num_envs
    assert fields["normalize_observations"] is True  # from the preset

    bare = tmp_path / "bare"
    proc = _train(
        ["--algo", "ppo", "--env-id", "Acrobot-v1", "--preset", "none", *tiny]
        + ["--out", bare],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "preset: none (--preset none)" in proc.stdout
    assert _fields(bare)["num_envs"] == jaxpg.PPOConfig().num_envs
    assert _fields(bare)["normalize_observations"] is False


def test_train_script_reports_a_flag_that_clashes_with_the_preset(tmp_path):
    # The Pendulum preset's 16 minibatches do not divide 5 steps x 3 envs.
    proc = _train(
        [
            "--algo",
            "ppo",
            "--env-id",
            "Pendulum-v1",
            "--num-steps",
            "5",
            "--num-envs",
            "3",
        ]
        + ["--out", tmp_path / "run"],
        tmp_path,
    )
    assert proc.returncode == 2
    assert "num_minibatches must divide" in proc.stderr
    assert "--preset none" in proc.stderr
    assert not (tmp_path / "run").exists()
