"""The sweep of bad inputs: every config field of every registered algorithm, every
run option, and every flag of scripts/train.py, evaluate.py and plot.py, tried
with wrong types, signs, zero, NaN, ±inf and 2**40.

A value is either refused with a ValueError (a usage error, exit 2) that names the
field or flag, or accepted where it is legal; the tables below say which. No
traceback, and nothing written. Config and flag cases run in process (the scripts'
parse functions or ``main`` with a run folder that does not exist, which exits 2
after the flags are checked); a few run as subprocesses.
"""

from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from harness import load_script

from jaxpg import run
from jaxpg.algorithms import registry

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[1]
HUGE = 2**40
VALUES = {
    "string": "7",
    "float": 2.5,
    "negative": -1,
    "zero": 0,
    "nan": math.nan,
    "inf": math.inf,
    "-inf": -math.inf,
    "huge": HUGE,
    "none": None,
    "bool": True,
}
# The values each field accepts (all others are a ValueError naming the field).
# Everything is refused inside a tuple, e.g. hidden_sizes=(2**40,).
CONFIG_ACCEPTS = {
    "anneal_lr": {"bool"},
    "clip_eps": {"float", "huge"},
    "clip_value": {"bool"},
    "conv_channels": {"none"},
    "discount_weighting": {"bool"},
    "entropy_coef": {"float", "huge", "zero"},
    "env_id": {"none", "string"},  # any id string: make_env checks it (ValueError)
    "gae_lambda": {"zero"},
    "gamma": {"zero"},
    "gradient_diagnostics": {"bool"},
    "init_log_std": {"float", "negative", "zero"},
    "learning_rate": {"float", "huge"},
    "max_grad_norm": {"float", "huge", "inf"},
    "memory_size": {"zero"},
    "normalize_advantages": {"bool"},
    "normalize_observations": {"bool"},
    "normalize_weights": {"bool"},
    "scale_rewards": {"bool"},
    "squash": {"bool"},
    "state_dependent_std": {"bool"},
    "value_coef": {"float", "huge", "zero"},
}
RUN_ACCEPTS = {
    "seed": {"zero"},
    "eval_every": {"zero"},
    "checkpoint_every": {"zero"},
    "stop_at_return": {"float", "negative", "zero", "none", "huge"},
    "tensorboard": {"bool"},
    "keep_best": {"bool"},
    "wandb": {"string", "none"},  # a project name
    "fast_compile": {"bool"},
}


def _outcome(make, name):
    try:
        make()
    except ValueError as error:
        return str(error)
    return None


def _config_fields():
    for algo in registry.names():
        cls = registry.get(algo).config_type
        for field in dataclasses.fields(cls):
            yield pytest.param(cls, field.name, id=f"{algo}-{field.name}")


@pytest.mark.parametrize(("cls", "name"), list(_config_fields()))
def test_every_config_field_refuses_bad_values_by_name(cls, name):
    accepts = CONFIG_ACCEPTS.get(name, set())
    for kind, value in VALUES.items():
        for wrapped in (False, True):
            given = (value,) if wrapped else value
            error = _outcome(lambda given=given: cls(**{name: given}), name)
            legal = kind in accepts and not wrapped
            if legal:
                assert error is None, (kind, wrapped, error)
            else:
                assert error is not None, f"{name}={given!r} was accepted"
                assert error.startswith(name), error


@pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(run.RunOptions)])
def test_every_run_option_refuses_bad_values_naming_the_flag(name):
    accepts = RUN_ACCEPTS.get(name, set())
    flag = "--" + name.replace("_", "-")
    for kind, value in VALUES.items():
        # stop_at_return and keep_best need periodic evaluation to be legal at all.
        extra = {"eval_every": 1} if name in ("stop_at_return", "keep_best") else {}
        error = _outcome(
            lambda value=value, extra=extra: run.RunOptions(**{name: value}, **extra),
            name,
        )
        if kind in accepts:
            assert error is None, (kind, error)
        else:
            assert error is not None, f"{name}={value!r} was accepted"
            assert error.startswith(flag), error


# ------------------------------------------------------------------ the scripts

TEXTS = {
    "word": "abc",
    "negative": "-1",
    "zero": "0",
    "nan": "nan",
    "inf": "inf",
    "-inf": "-inf",
    "huge": str(HUGE),
}


def _flags(parser):
    """``(flag, takes a value, type)`` of every option of an argparse parser."""
    for action in parser._actions:
        if not action.option_strings or action.option_strings[0] in ("-h",):
            continue
        yield action.option_strings[0], action.nargs != 0, action.type


def _call(fn, argv, capsys):
    """(exit code or None, stderr) of ``fn(argv)``."""
    try:
        fn(argv)
    except SystemExit as exit_:
        code = exit_.code
    else:
        code = None
    return code, capsys.readouterr().err


def _check(flag, text, code, err, accepted_message):
    assert "Traceback" not in err, err
    if code is None or (accepted_message and accepted_message in err):
        return True  # accepted (checked later, or legal)
    assert code == 2, (flag, text, code, err)
    assert flag in err, (flag, text, err)
    return False


ANY = set(TEXTS) - {"-inf"}  # argparse takes "-inf" for an option: exit 2
# The samples each flag accepts: legal values, and values checked later (train.py:
# the environment id, the folders, the coordinator's address are checked by
# train_run before anything is compiled or written). Every other sample is exit 2
# naming the flag.
TRAIN_ACCEPTS = {
    "--env-id": ANY,
    "--out": ANY,
    "--coordinator-address": ANY,
    "--learning-rate": {"huge"},
    "--gamma": {"zero"},
    "--entropy-coef": {"zero", "huge"},
    "--max-grad-norm": {"inf", "huge"},
    "--value-coef": {"zero", "huge"},
    "--init-log-std": {"negative", "zero"},
    "--gae-lambda": {"zero"},
    "--clip-eps": {"huge"},
    "--seed": {"zero"},
    "--eval-every": {"zero"},
    "--checkpoint-every": {"zero"},
    "--process-id": {"zero"},
    "--sweep-random": {"zero"},  # 0: the grid (no --sweep: a plain run)
    "--wandb": ANY,  # a project name; whether wandb is installed: train_run
    "--memory-size": {"zero"},
}
EVALUATE_ACCEPTS = {
    "--gif": ANY,
    "--seed": {"zero"},
    "--seed-index": {"zero"},
    "--checkpoint": {"zero", "huge"},  # an update number: the run folder says
}
PLOT_ACCEPTS = {"--out": ANY, "--metric": ANY, "--labels": ANY, "--title": ANY}


def _sweep(fn, parser, prefix, accepts, later_message, capsys):
    """Every flag of ``parser`` with every sample, through ``fn(argv)``."""
    for flag, takes_value, _ in _flags(parser):
        samples = TEXTS.items() if takes_value else [("explicit", "abc")]
        for name, text in samples:
            argv = prefix + ([flag, text] if takes_value else [f"{flag}={text}"])
            code, err = _call(fn, argv, capsys)
            accepted = _check(flag, text, code, err, later_message)
            assert accepted == (name in accepts.get(flag, ())), (flag, text, err)
            assert "--resume" not in err or fn.__module__ == "train"


@pytest.mark.parametrize("algo", registry.names())
def test_every_train_flag_refuses_bad_values_by_name(
    algo, tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    train = load_script("train")
    parser = train.build_parser(algo)
    _sweep(train.parse, parser, ["--algo", algo], TRAIN_ACCEPTS, None, capsys)
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_every_evaluate_flag_refuses_bad_values_by_name(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evaluate = load_script("evaluate")
    prefix = [str(tmp_path / "nowhere")]
    parser = evaluate.build_parser()
    _sweep(evaluate.main, parser, prefix, EVALUATE_ACCEPTS, "no such run", capsys)
    assert list(tmp_path.iterdir()) == []


def test_every_plot_flag_refuses_bad_values_by_name(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    plot = load_script("plot")
    prefix = [str(tmp_path / "nowhere")]
    _sweep(plot.main, plot.build_parser(), prefix, PLOT_ACCEPTS, "no such run", capsys)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------- as a user would

SUBPROCESS_CASES = [
    ("train.py", ["--num-updates", str(HUGE)], "--num-updates: num_updates must be"),
    ("train.py", ["--num-envs", str(2**30)], "--num-envs: num_envs: one update's"),
    ("train.py", ["--eval-episodes", "100000000"], "--eval-episodes: 100000000 eval"),
    ("train.py", ["--weight", "gae"], "--weight, --baseline: weight='gae' needs"),
    ("evaluate.py", ["RUN", "--episodes", str(HUGE)], "--episodes must be an integer"),
    ("plot.py", ["RUN", "--smooth", "nan"], "argument --smooth: invalid int value"),
]


@pytest.mark.parametrize(("name", "args", "message"), SUBPROCESS_CASES)
def test_scripts_exit_2_without_a_traceback(tmp_path, name, args, message):
    args = [str(tmp_path / "run") if a == "RUN" else a for a in args]
    if name == "train.py":
        args += ["--out", str(tmp_path / "run")]
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / name), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=dict(os.environ, JAXPG_CACHE_DIR=str(tmp_path / "cache")),
    )
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "run").exists()
    compiled = [p.name for p in (tmp_path / "cache").glob("*")]
    assert not [
        n for n in compiled if n.startswith(("jit_run", "jit_init", "jit_eval"))
    ]


# ------------------------------------------------- bad files given to the scripts


@pytest.fixture(scope="module")
def a_run(tmp_path_factory):
    import jaxpg

    out = tmp_path_factory.mktemp("bad_input") / "run"
    config = jaxpg.ReinforceConfig(num_envs=4, num_updates=2, hidden_sizes=(8,))
    options = run.RunOptions(seed=1, chunk=2, eval_episodes=3, progress="lines")
    run.train_run(config, options, out, log=lambda _: None)
    return out


def _copy(a_run, tmp_path):
    import shutil

    shutil.copytree(a_run, tmp_path / "run")
    return tmp_path / "run"


@pytest.mark.parametrize("where", ["directory", "under-a-file"])
def test_evaluate_gif_that_cannot_be_written_exits_before_evaluating(
    a_run, tmp_path, capsys, where
):
    evaluate = load_script("evaluate")
    (tmp_path / "file").write_text("keep")
    gif = tmp_path if where == "directory" else tmp_path / "file" / "x.gif"
    code, err = _call(evaluate.main, [str(a_run), "--gif", str(gif)], capsys)
    assert code == 2 and f"--gif {gif}" in err and "Traceback" not in err
    assert "not a directory" in err or "is a directory" in err
    assert capsys.readouterr().out == ""  # nothing was evaluated


def test_evaluate_and_plot_errors_do_not_mention_resume(a_run, tmp_path, capsys):
    evaluate, plot = load_script("evaluate"), load_script("plot")
    broken = _copy(a_run, tmp_path)
    (broken / "checkpoint" / "state.json").write_text("{")
    empty = tmp_path / "empty"
    empty.mkdir()
    for fn, folder in [
        (evaluate.main, tmp_path / "nowhere"),
        (evaluate.main, broken),
        (evaluate.main, empty),
        (plot.main, tmp_path / "nowhere"),
    ]:
        code, err = _call(fn, [str(folder)], capsys)
        assert code == 2 and str(folder) in err
        assert "resume" not in err and "new run" not in err, err


def test_plot_writes_exactly_the_out_it_names(a_run, tmp_path, capsys):
    plot = load_script("plot")
    out = tmp_path / "curves"  # no suffix: matplotlib would write curves.png
    code, _ = _call(plot.main, [str(a_run), "--out", str(out)], capsys)
    assert code in (0, None)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["curves"]
    code, err = _call(plot.main, [str(a_run), "--out", str(tmp_path)], capsys)
    assert code == 2 and "--out" in err and "is a directory" in err
    (tmp_path / "file").write_text("keep")
    bad = tmp_path / "file" / "x.png"
    code, err = _call(plot.main, [str(a_run), "--out", str(bad)], capsys)
    assert code == 2 and "--out" in err and "not a directory" in err


def _damage_metrics(folder, how):
    path = folder / "metrics.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    if how == "directory":
        path.unlink()
        path.mkdir()
    elif how == "first-line":
        path.write_text('{"update": 1, "seed_in\n' + "".join(lines[1:]))
    elif how == "no-total":
        path.write_text(
            lines[0].replace('"env_steps_total"', '"x"') + "".join(lines[1:])
        )
    elif how == "string-value":
        path.write_text(
            lines[0].replace('"episode_return":', '"episode_return": "a", "_":')
            + "".join(lines[1:])
        )


@pytest.mark.parametrize(
    ("how", "code", "message"),
    [
        ("directory", 2, "cannot read"),
        ("first-line", 0, "skipped 1 damaged row(s) (lines 1)"),
        ("no-total", 0, "skipped 1 damaged row(s) (lines 1)"),
        ("string-value", 0, "skipped 1 damaged row(s)"),
    ],
)
def test_plot_of_damaged_metrics(a_run, tmp_path, capsys, how, code, message):
    plot = load_script("plot")
    folder = _copy(a_run, tmp_path)
    _damage_metrics(folder, how)
    png = tmp_path / "c.png"
    got, err = _call(plot.main, [str(folder), "--out", str(png)], capsys)
    assert (got or 0) == code, err
    assert message in err and "Traceback" not in err
    assert png.exists() == (code == 0)


def test_a_truncated_checkpoint_is_exit_2_without_tracebacks(a_run, tmp_path):
    folder = _copy(a_run, tmp_path)
    manifest = folder / "checkpoint" / "state" / "manifest.ocdbt"
    manifest.write_bytes(manifest.read_bytes()[: manifest.stat().st_size // 2])
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "evaluate.py"), str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "manifest.ocdbt does not match its checksum" in proc.stderr
    assert "Traceback" not in proc.stderr and "Event loop" not in proc.stderr
