"""jaxpg.run.train_run in-process: resume, signals, NaN stops, bad folders."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from harness import interrupt_at
from trees import assert_bit_identical

import jaxpg
from jaxpg import run
from jaxpg.algorithms import registry
from jaxpg.run import flags

pytestmark = pytest.mark.timeout(240)

CONFIG = jaxpg.ReinforceConfig(
    env_id="CartPole-v1", num_envs=4, num_updates=6, hidden_sizes=(8,)
)
OPTIONS = run.RunOptions(seed=1, chunk=2, eval_episodes=3, progress="lines")


def snapshot(folder: Path) -> dict:
    """{relative path: sha256} of every file under ``folder``."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def rows(folder: Path) -> list[dict]:
    return run.read_metrics(folder)


@pytest.fixture(scope="module")
def two_seed_runs(tmp_path_factory):
    """An uninterrupted 2-seed run, and one interrupted by SIGINT then resumed."""
    root = tmp_path_factory.mktemp("runner")
    options = run.RunOptions(
        seed=1, seeds=2, chunk=2, eval_episodes=3, checkpoint_every=0, progress="lines"
    )
    logs: list[str] = []
    whole = run.train_run(CONFIG, options, root / "whole", log=logs.append)
    stopped = run.train_run(
        CONFIG,
        options,
        root / "split",
        log=logs.append,
        on_chunk=interrupt_at(2),
    )
    after_stop = snapshot(root / "split")
    stopped_rows = rows(root / "split")
    resumed = run.train_run(
        CONFIG, options, root / "split", resume=True, log=logs.append
    )
    return root, whole, stopped, resumed, after_stop, stopped_rows, logs


def test_interrupted_and_resumed_run_is_bit_identical(two_seed_runs):
    root, whole, stopped, resumed, _, _, _ = two_seed_runs
    assert whole.status == resumed.status == "finished"
    assert stopped.status == "interrupted" and stopped.updates == 2
    assert stopped.exit_code == 128 + signal.SIGINT
    # In memory and on disk, the resumed run ends exactly where the other one does.
    assert_bit_identical(resumed.state, whole.state)
    state_a, config_a, options_a = run.load_run(root / "whole")
    state_b, config_b, _ = run.load_run(root / "split")
    assert config_a == config_b == CONFIG and options_a.seeds == 2
    assert_bit_identical(state_a, state_b)
    assert np.asarray(state_a.step).tolist() == [6, 6]
    # Not a vacuous comparison: the two seeds differ, and training moved the params.
    kernel = jax.tree.leaves(state_a.params["policy"])[-1]
    assert not np.array_equal(kernel[0], kernel[1])
    # The metrics logs agree row for row as well.
    assert rows(root / "whole") == rows(root / "split")


def test_signal_saves_a_checkpoint_and_names_the_resume_command(two_seed_runs):
    root, _, stopped, _, after_stop, stopped_rows, _ = two_seed_runs
    assert "resume with:" in stopped.message
    assert f"python scripts/train.py --resume {root / 'split'}" in stopped.message
    assert "checkpoint/state.json" in after_stop
    assert max(r["update"] for r in stopped_rows) == 2
    summary = json.loads((root / "whole" / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["checkpoint_update"] == 6


def test_seeds_give_one_row_per_update_per_seed(two_seed_runs):
    root, *_ = two_seed_runs
    table = rows(root / "whole")
    assert [(r["update"], r["seed_index"]) for r in table] == [
        (u, s) for u in range(1, 7) for s in (0, 1)
    ]
    for s in (0, 1):
        own = [r for r in table if r["seed_index"] == s]
        assert [r["env_steps_total"] for r in own] == np.cumsum(
            [r["env_steps"] for r in own]
        ).tolist()
    # Different seeds see different episodes.
    assert table[0]["env_steps"] != table[1]["env_steps"] or (
        table[0]["loss"] != table[1]["loss"]
    )


def poisoned_trainer(config, bad_update: int):
    """CONFIG's trainer, except that update ``bad_update`` makes everything NaN."""
    real = jaxpg.make_trainer(config)

    def run(state, n):
        def one(state, _):
            state, metrics = real.run(state, 1)
            metrics = jax.tree.map(lambda m: m[0], metrics)
            bad = state.step >= bad_update
            poison = lambda x: jnp.where(bad, jnp.nan, x)
            state = state._replace(params=jax.tree.map(poison, state.params))
            metrics["loss"] = poison(metrics["loss"])
            return state, metrics

        return jax.lax.scan(one, state, None, length=n)

    return jaxpg.Trainer(real.init, run)


def test_nan_stops_at_that_chunk_and_keeps_the_last_good_checkpoint(tmp_path):
    out = tmp_path / "run"
    options = run.RunOptions(
        seed=0, chunk=2, checkpoint_every=2, eval_episodes=3, progress="lines"
    )
    logs: list[str] = []
    outcome = run.train_run(
        CONFIG, options, out, trainer=poisoned_trainer(CONFIG, 6), log=logs.append
    )
    assert outcome.status == "diverged" and outcome.exit_code == 1
    assert outcome.updates == 4
    assert "the loss is nan at update 6" in outcome.message
    assert "last good checkpoint (update 4)" in outcome.message
    state, _ = jaxpg.load(out / "checkpoint")
    assert int(state.step) == 4
    assert all(np.isfinite(x).all() for x in jax.tree.leaves(state.params))
    # The log keeps the good update before the bad one (5), not the bad one (6),
    # and summary.json's env steps are those of the rows in the log.
    table = rows(out)
    assert [r["update"] for r in table] == [1, 2, 3, 4, 5]
    assert all(r["loss"] is not None for r in table)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "diverged" and summary["checkpoint_update"] == 4
    assert summary["env_steps"] == [table[-1]["env_steps_total"]]
    assert summary["failure"] == "the loss is nan at update 6"


def test_nan_in_the_first_chunk_writes_no_checkpoint(tmp_path):
    out = tmp_path / "run"
    outcome = run.train_run(
        CONFIG,
        OPTIONS,
        out,
        trainer=poisoned_trainer(CONFIG, 1),
        log=lambda _: None,
    )
    assert outcome.status == "diverged"
    assert "the loss is nan at update 1" in outcome.message
    assert "no checkpoint had been saved yet" in outcome.message
    assert not (out / "checkpoint").exists()


def test_a_missing_episode_is_not_a_nan(tmp_path):
    # Bandit-like runs where no episode finishes in an update carry the previous
    # return: only loss and parameters are checked, so such a run finishes.
    config = jaxpg.A2CConfig(
        env_id="Pendulum-v1", num_envs=2, num_steps=4, num_updates=4, hidden_sizes=(8,)
    )
    outcome = run.train_run(config, OPTIONS, tmp_path / "run", log=lambda _: None)
    assert outcome.status == "finished"
    table = rows(tmp_path / "run")
    assert all(r["episodes_finished"] == 0 for r in table)  # Pendulum: 200 steps
    assert all(r["episode_return"] == 0.0 for r in table)


def test_stop_at_return_ends_early_with_a_checkpoint(tmp_path):
    out = tmp_path / "run"
    options = run.RunOptions(
        seed=0, chunk=2, eval_every=2, stop_at_return=5.0, eval_episodes=3
    )
    outcome = run.train_run(CONFIG, options, out, log=lambda _: None)
    # CartPole's greedy episodes last at least ~8 steps: the first evaluation stops it.
    assert outcome.status == "solved" and outcome.updates == 2
    assert "reached --stop-at-return 5" in outcome.message
    assert int(jaxpg.load(out / "checkpoint")[0].step) == 2
    evals = [
        json.loads(line) for line in (out / "evals.jsonl").read_text().splitlines()
    ]
    assert [e["update"] for e in evals] == [2]
    assert evals[0]["mean_return"][0] >= 5.0


def test_unwritable_out_folder_fails_before_anything(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("keep")
    with pytest.raises(run.RunError, match="is not a directory"):
        run.train_run(CONFIG, OPTIONS, blocker / "run", log=lambda _: None)
    assert blocker.read_text() == "keep"
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


@pytest.mark.skipif(
    sys.platform == "win32" or os.geteuid() == 0,
    reason="file permissions do not bind the superuser",
)
def test_read_only_out_folder_fails_before_anything(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(run.RunError, match="cannot write in"):
            run.train_run(CONFIG, OPTIONS, folder / "run", log=lambda _: None)
    finally:
        folder.chmod(0o700)


def test_tensorboard_without_tensorboardx_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # import fails
    options = run.RunOptions(tensorboard=True)
    with pytest.raises(run.RunError, match="--tensorboard needs the tensorboardX"):
        run.train_run(CONFIG, options, tmp_path / "run", log=lambda _: None)
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("finished") / "run"
    run.train_run(CONFIG, OPTIONS, out, log=lambda _: None)
    return out


def _broken_copy(finished_run, tmp_path, damage):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(finished_run, out)
    damage(out)
    return out, snapshot(out)


def _truncate_arrays(out: Path) -> None:
    files = [p for p in (out / "checkpoint" / "state").rglob("*") if p.is_file()]
    biggest = max(files, key=lambda p: p.stat().st_size)
    biggest.write_bytes(biggest.read_bytes()[: biggest.stat().st_size // 2])
    for p in files:  # and every data file cut short
        if p.stat().st_size > 64 and p != biggest:
            p.write_bytes(p.read_bytes()[:16])


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            lambda out: __import__("shutil").rmtree(out / "checkpoint"),
            "has no checkpoint",
        ),
        (_truncate_arrays, "cannot read the checkpoint .*checkpoint"),
        (
            lambda out: (out / "checkpoint" / "state.json").write_text('{"leaves": ['),
            r"cannot read the checkpoint .*state\.json is not valid JSON",
        ),
        (
            lambda out: (out / "config.json").write_text("{"),
            r"config\.json is corrupted",
        ),
    ],
    ids=["missing", "truncated", "corrupted-manifest", "corrupted-config"],
)
def test_broken_checkpoint_is_a_clear_error_and_nothing_changes(
    finished_run, tmp_path, damage, message
):
    out, before = _broken_copy(finished_run, tmp_path, damage)
    with pytest.raises(run.RunError, match=message):
        state, config, options = run.load_run(out)
        run.train_run(config, options, out, resume=True, log=lambda _: None)
    with pytest.raises(run.RunError, match=message):
        config, section = run.read_run_config(out)
        run.train_run(
            config,
            run.options_from_run(section, out),
            out,
            resume=True,
            log=lambda _: None,
        )
    assert snapshot(out) == before


def test_run_options_are_validated_with_flag_names():
    with pytest.raises(
        ValueError, match="--seeds must be an integer >= 1 and < 2147483648; got 0"
    ):
        run.RunOptions(seeds=0)
    with pytest.raises(ValueError, match="--stop-at-return needs periodic evaluation"):
        run.RunOptions(stop_at_return=100.0)
    with pytest.raises(ValueError, match=r"--seed must be an integer >= 0 and < 4294"):
        run.RunOptions(seed=-1)


@pytest.mark.skipif(
    __import__("importlib").util.find_spec("tensorboardX") is None,
    reason="tensorboardX is not installed",
)
def test_tensorboard_event_file_holds_training_and_eval_scalars(tmp_path):
    options = run.RunOptions(
        chunk=2, eval_every=2, eval_episodes=3, tensorboard=True, progress="lines"
    )
    run.train_run(CONFIG, options, tmp_path / "run", log=lambda _: None)
    (events,) = (tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*")
    data = events.read_bytes()
    assert b"train/loss" in data and b"train/episode_return" in data
    assert b"eval/mean_return" in data


@pytest.mark.parametrize("algo", sorted(registry.names()))
def test_every_config_field_is_a_flag_that_round_trips(algo):
    import argparse
    import dataclasses

    cls = registry.get(algo).config_type
    parser = argparse.ArgumentParser()
    flags.add_dataclass_flags(parser, cls)
    assert flags.dataclass_from_flags(cls, parser.parse_args([])) == cls()
    optional_tuples = [
        f.name
        for f in dataclasses.fields(cls)
        if "tuple" in str(f.type) and "None" in str(f.type)
    ]
    for name in optional_tuples:  # e.g. conv_channels: tuple[int, ...] | None
        flag = "--" + name.replace("_", "-")
        args = parser.parse_args([flag, "4", "8"])
        assert getattr(args, name) == [4, 8]
        assert getattr(parser.parse_args([flag, "none"]), name) == [None]
