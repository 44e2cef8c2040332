"""scripts/train.py --config FILE: a TOML file or a run folder's config.json."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from harness import load_script

import jaxpg
from jaxpg import run

pytestmark = pytest.mark.timeout(240)

ROOT = Path(__file__).resolve().parents[1]

TOML = """\
algo = "ppo"
preset = "auto"

[config]
env_id = "CartPole-v1"
num_envs = 8
num_updates = 3
hidden_sizes = [16, 8]
learning_rate = 1e-3
max_grad_norm = inf
normalize_advantages = false

[run]
seeds = 2
eval_every = 2
stop_at_return = 400
keep = 2
"""


def parse(argv):
    config, options, *_ = load_script("train").parse([str(a) for a in argv])
    return config, options


def write(tmp_path: Path, text: str, name: str = "run.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def exit_2(argv, capsys) -> str:
    with pytest.raises(SystemExit) as info:
        parse(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_a_toml_file_sets_the_algorithm_config_and_run_options(tmp_path):
    config, options = parse(["--config", write(tmp_path, TOML)])
    assert config == jaxpg.PPOConfig(
        env_id="CartPole-v1",
        num_envs=8,
        num_updates=3,
        hidden_sizes=(16, 8),
        learning_rate=1e-3,
        max_grad_norm=float("inf"),
        normalize_advantages=False,
        # Not in the file: the tuned preset for ppo on CartPole-v1, then defaults.
        **{
            k: v
            for k, v in jaxpg.presets.preset_overrides("ppo", "CartPole-v1").items()
            if k not in ("num_envs", "num_updates", "learning_rate", "hidden_sizes")
        },
    )
    assert options == run.RunOptions(seeds=2, eval_every=2, stop_at_return=400, keep=2)


def test_explicit_flags_win_over_the_file_and_the_file_over_the_preset(tmp_path):
    path = write(tmp_path, TOML)
    config, options = parse(
        ["--config", path, "--num-envs", "4", "--keep", "3", "--hidden-sizes", "5"]
    )
    assert (config.num_envs, config.hidden_sizes, config.num_updates) == (4, (5,), 3)
    assert (options.keep, options.seeds) == (3, 2)
    # The preset for ppo on CartPole-v1 sets num_updates; the file's 3 wins.
    assert jaxpg.presets.preset_overrides("ppo", "CartPole-v1")["num_updates"] != 3
    # A boolean flag given explicitly wins too, in either direction.
    config, _ = parse(["--config", path, "--normalize-advantages"])
    assert config.normalize_advantages is True
    # --algo on the command line wins over the file's algo.
    config, _ = parse(
        ["--config", write(tmp_path, "algo = 'ppo'\n", "a.toml"), "--algo", "a2c"]
    )
    assert type(config) is jaxpg.A2CConfig


def test_none_for_optional_fields_as_on_the_command_line(tmp_path):
    text = "[config]\nenv_id = 'CartPole-v1'\n[run]\nstop_at_return = 'none'\n"
    _, options = parse(["--config", write(tmp_path, text)])
    assert options.stop_at_return is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[config]\nnum_envz = 8\n", "unknown key 'num_envz' in [config]"),
        ("[run]\nseedz = 1\n", "unknown key 'seedz' in [run]"),
        ("nume_envs = 8\n", "unknown key 'nume_envs' (the top level holds algo,"),
        ("[config]\nclip_eps = 0.2\n", "unknown key 'clip_eps' in [config]"),
        ("algo = 'dqn'\n", "algo must be one of reinforce, a2c, ppo; got 'dqn'"),
        ("config = 3\n", "config must be a table ([config])"),
        ("[config]\nnum_envs = = 8\n", "not valid TOML: Invalid value (at line 2,"),
        ("a = 1\n\n[config\n", "not valid TOML: Expected ']' at the end of a table"),
        ("[config]\nnum_envs = 0\n", "[config] num_envs = 0: num_envs must be"),
        ("[config]\nnum_envs = '8'\n", "[config] num_envs = '8': num_envs must be"),
        ("[config]\ngamma = 1.5\n", "[config] gamma = 1.5: gamma must be"),
        ("[config]\nhidden_sizes = [8, -1]\n", "[config] hidden_sizes = (8, -1):"),
        ("[run]\nkeep = 0\n", "[run] keep = 0: --keep must be an integer >= 1"),
        ("[run]\nkeep = -1\n", "[run] keep = -1: --keep must be an integer >= 1"),
        ("[run]\nkeep_best = true\n", "[run] keep_best = True: --keep-best keeps"),
        ("[run]\nseeds = 2.5\n", "[run] seeds = 2.5: --seeds must be an integer"),
        ("[run]\nwandb = 'a/b'\n", "[run] wandb = 'a/b': --wandb must be a Weights"),
    ],
)
def test_bad_files_exit_2_naming_the_key_and_the_file(tmp_path, capsys, text, message):
    path = write(tmp_path, text)
    err = exit_2(["--config", path], capsys)
    assert f"--config {path}: " in err, err
    assert message in err, err


def test_a_bad_value_in_the_file_that_a_flag_replaces_is_not_used(tmp_path, capsys):
    path = write(tmp_path, "[config]\nnum_envs = 0\n[run]\nkeep = 0\n")
    config, options = parse(["--config", path, "--num-envs", "4", "--keep", "2"])
    assert (config.num_envs, options.keep) == (4, 2)
    # A bad flag is reported as the flag, not as the file.
    err = exit_2(["--config", path, "--num-envs", "-3", "--keep", "2"], capsys)
    assert "--num-envs: num_envs must be" in err and "[config]" not in err


def test_missing_file_and_config_with_resume_exit_2(tmp_path, capsys):
    err = exit_2(["--config", tmp_path / "nowhere.toml"], capsys)
    assert "nowhere.toml: no such file" in err
    path = write(tmp_path, "[config]\nnum_envs = 8\n")
    err = exit_2(["--config", path, "--resume", tmp_path], capsys)
    assert "--config and --resume" in err
    bad = tmp_path / "bad.json"
    bad.write_text('{"class": "ReinforceConfig", "fields": {"num_envz": 1}}')
    err = exit_2(["--config", bad], capsys)
    assert f"--config {bad}: ReinforceConfig has no field(s) num_envz" in err


def test_a_run_repeated_from_its_config_json_gives_identical_metrics(tmp_path):
    config = jaxpg.A2CConfig(
        env_id="CartPole-v1", num_envs=4, num_steps=8, num_updates=3, hidden_sizes=(8,)
    )
    options = run.RunOptions(
        seed=7, seeds=2, chunk=2, eval_every=2, eval_episodes=3, progress="lines"
    )
    first = tmp_path / "first"
    run.train_run(config, options, first, log=lambda _: None)
    # The folder or its config.json; a flag still wins.
    for given in (first / "config.json", first):
        again, again_options = parse(["--config", given, "--out", tmp_path / "x"])
        assert (again, again_options) == (config, options)
    _, other = parse(["--config", first, "--seed", "8"])
    assert other.seed == 8
    second = tmp_path / "second"
    run.train_run(again, again_options, second, log=lambda _: None)
    assert run.read_metrics(second) == run.read_metrics(first)
    evals = [(p / "evals.jsonl").read_text() for p in (first, second)]
    assert evals[0] == evals[1] and evals[0].count("\n") == 2
    assert (first / "config.json").read_text() == (second / "config.json").read_text()


def test_the_shipped_example_config_file_parses(tmp_path):
    config, options = parse(["--config", ROOT / "configs" / "ppo-cartpole.toml"])
    assert type(config) is jaxpg.PPOConfig
    assert (config.num_envs, config.num_updates, config.hidden_sizes) == (
        8,
        300,
        (64, 64),
    )
    assert (options.seeds, options.eval_every, options.keep, options.keep_best) == (
        4,
        20,
        3,
        True,
    )


TINY_TOML = """\
[config]
env_id = "CartPole-v1"
num_envs = 4
num_updates = 4
hidden_sizes = [8]

[run]
chunk = 1
eval_every = 2
eval_episodes = 3
checkpoint_every = 1
keep = 2
keep_best = true
progress = "lines"
"""


def test_the_scripts_end_to_end_with_a_config_file_and_kept_checkpoints(tmp_path):
    import subprocess

    env = dict(os.environ, JAXPG_CACHE_DIR=str(tmp_path / "cache"))
    out = tmp_path / "run"

    def script(name, *args):
        return subprocess.run(
            [sys.executable, ROOT / "scripts" / name, *map(str, args)],
            capture_output=True,
            text=True,
            env=env,
            timeout=200,
        )

    proc = script("train.py", "--config", write(tmp_path, TINY_TOML), "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert "config file" in proc.stdout and "4 updates" in proc.stdout
    assert "checkpoint/, checkpoints/ in" in proc.stdout
    names = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert [n for n in names if n.startswith("update-")] == ["update-3", "update-4"]
    proc = script("evaluate.py", out, "--checkpoint", "3", "--no-gymnasium")
    assert proc.returncode == 0, proc.stderr
    assert "checkpoint at update 3/4 (--checkpoint 3)" in proc.stdout
