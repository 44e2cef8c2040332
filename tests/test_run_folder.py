"""The run folder under stress: two processes, interrupted saves, damaged logs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from harness import load_script
from trees import assert_bit_identical

import jaxpg
from jaxpg import run

pytestmark = pytest.mark.timeout(240)

ROOT = Path(__file__).resolve().parents[1]
CONFIG = jaxpg.ReinforceConfig(
    env_id="CartPole-v1", num_envs=4, num_updates=6, hidden_sizes=(8,)
)
OPTIONS = run.RunOptions(
    seed=1, chunk=2, checkpoint_every=2, eval_episodes=3, progress="lines"
)


def quiet(_: str) -> None:
    pass


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished 6-update run with checkpoints every 2 updates."""
    out = tmp_path_factory.mktemp("finished") / "run"
    outcome = run.train_run(CONFIG, OPTIONS, out, log=quiet)
    assert outcome.status == "finished"
    return out, outcome


def copy_of(finished, tmp_path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(finished[0], out)
    return out


def files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# --------------------------------------------------------------- the folder lock

# Another run in that folder, as the kernel sees it: flock on RUN/.lock, its PID inside.
HOLDER = """
import fcntl, os, sys, time
fd = os.open(os.path.join(sys.argv[1], ".lock"), os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
os.write(fd, f"{os.getpid()}\\n".encode())
print("locked", flush=True)
time.sleep(120)
"""


@pytest.fixture
def held_folder(finished, tmp_path):
    """A copy of the finished run whose lock another process holds."""
    out = copy_of(finished, tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(out)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield out, holder.pid
    finally:
        holder.kill()
        holder.wait(timeout=30)


def test_a_running_run_folder_is_refused_naming_the_holder(held_folder):
    out, pid = held_folder
    before = files(out)
    assert ".lock" in before
    config, section = run.read_run_config(out)
    options = run.options_from_run(section, out)
    with pytest.raises(
        run.RunError, match=rf"--resume {out}: .*still running \(PID {pid}"
    ):
        run.train_run(config, options, out, resume=True, log=quiet)
    with pytest.raises(
        run.RunError, match=rf"--out {out}: .*still running \(PID {pid}"
    ):
        run.train_run(CONFIG, OPTIONS, out, log=quiet)
    assert files(out) == before


def test_train_script_exits_2_on_a_running_run_folder(held_folder):
    out, pid = held_folder
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train.py"), "--resume", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert proc.returncode == 2, proc.stderr
    assert f"still running (PID {pid} holds" in proc.stderr
    assert str(out) in proc.stderr and "Traceback" not in proc.stderr


def test_the_lock_is_held_during_the_run_and_removed_after(tmp_path):
    out = tmp_path / "run"
    seen = []

    def probe(done: int) -> None:
        with pytest.raises(run.RunError, match=f"PID {os.getpid()}"):
            run.check_out_dir(out, must_be_empty=False)
        seen.append(done)

    run.train_run(CONFIG, OPTIONS, out, log=quiet, on_chunk=probe)
    assert seen == [2, 4, 6]
    assert ".lock" not in files(out)
    run.check_out_dir(out, must_be_empty=False)  # free again


def test_a_stale_lock_file_locks_nothing(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / ".lock").write_text("999999\n")  # left by a killed run
    outcome = run.train_run(CONFIG, OPTIONS, out, log=quiet)
    assert outcome.status == "finished"


# -------------------------------------------- a crash between the renames of a save


def crash_between_renames(out: Path, damage_new: bool = False) -> None:
    """What save() leaves when killed between its two os.replace calls."""
    ckpt = out / "checkpoint"
    shutil.copytree(ckpt, out / ".checkpoint.partial")
    os.replace(ckpt, out / ".checkpoint.old")
    if damage_new:
        (out / ".checkpoint.partial" / "state.json").unlink()  # not yet written


def test_reading_a_run_after_an_interrupted_save_uses_the_new_copy(finished, tmp_path):
    out = copy_of(finished, tmp_path)
    crash_between_renames(out)
    before = files(out)
    notes = []
    state, config, _ = run.load_run(out, log=notes.append)
    assert config == CONFIG and int(state.step) == 6
    assert_bit_identical(state, finished[1].state)
    assert "reading .checkpoint.partial" in notes[0]
    assert files(out) == before  # evaluate.py reads; it never moves anything


@pytest.mark.parametrize("damage_new", [False, True], ids=["new", "old"])
def test_resume_after_an_interrupted_save_restores_the_newest_intact_copy(
    finished, tmp_path, damage_new
):
    out = copy_of(finished, tmp_path)
    crash_between_renames(out, damage_new)
    logs = []
    outcome = run.train_run(CONFIG, OPTIONS, out, resume=True, log=logs.append)
    assert outcome.status == "finished"
    used = ".checkpoint.old" if damage_new else ".checkpoint.partial"
    assert any(f"restored it from {used}" in line for line in logs), logs
    names = [p.name for p in out.iterdir()]
    assert "checkpoint" in names and not [n for n in names if n.startswith(".ch")]
    state, _ = jaxpg.load(out / "checkpoint")
    assert_bit_identical(state, finished[1].state)


def test_no_intact_copy_is_a_clear_error(finished, tmp_path):
    out = copy_of(finished, tmp_path)
    crash_between_renames(out, damage_new=True)
    shutil.rmtree(out / ".checkpoint.old" / "state")
    with pytest.raises(run.RunError, match=r"no checkpoint .* no intact copy"):
        run.train_run(CONFIG, OPTIONS, out, resume=True, log=quiet)
    with pytest.raises(run.RunError, match="no copy beside it is intact"):
        run.load_run(out, log=quiet)


# ------------------------------------------------------ logs after a crash, resumed

LOGGED = run.RunOptions(
    seed=2,
    seeds=2,
    chunk=1,
    eval_every=1,
    checkpoint_every=2,
    eval_episodes=3,
    progress="lines",
)


class Crash(Exception):
    """Stands for the process dying (SIGKILL, power loss) after update 4."""


def crash_at(update: int):
    def hook(done: int) -> None:
        if done == update:
            raise Crash

    return hook


def evals(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "evals.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """An uninterrupted 2-seed run, evaluated after every update."""
    out = tmp_path_factory.mktemp("logged") / "whole"
    run.train_run(CONFIG, LOGGED, out, log=quiet)
    return out


def crashed(tmp_path) -> Path:
    """The same run, dead after update 4 was logged: checkpoint at 2, evals to 3."""
    out = tmp_path / "crashed"
    with pytest.raises(Crash):
        run.train_run(CONFIG, LOGGED, out, log=quiet, on_chunk=crash_at(4))
    assert run.load_run(out)[0].step.tolist() == [2, 2]
    assert [e["update"] for e in evals(out)] == [1, 2, 3]
    return out


def test_resume_trims_both_logs_to_the_checkpoint(logged, tmp_path):
    out = crashed(tmp_path)
    with open(out / "metrics.jsonl", "a") as f:
        f.write('{"update": 5, "seed_index": 0, "env_st')  # cut by the crash
    logs = []
    run.train_run(CONFIG, LOGGED, out, resume=True, log=logs.append)
    assert run.read_metrics(out) == run.read_metrics(logged)
    assert [e["update"] for e in evals(out)] == [1, 2, 3, 4, 5, 6]
    assert evals(out) == evals(logged)  # no evaluation twice
    assert any("metrics.jsonl: line 9 damaged" in line for line in logs), logs


def test_lost_rows_before_the_checkpoint_keep_the_totals_right(logged, tmp_path):
    out = crashed(tmp_path)
    # The page cache lost the tail of the log: update 2's rows (the checkpoint's)
    # are gone, the last line is cut short.
    lines = (out / "metrics.jsonl").read_text().splitlines(keepends=True)
    (out / "metrics.jsonl").write_text("".join(lines[:2]) + lines[2][:20])
    logs = []
    run.train_run(CONFIG, LOGGED, out, resume=True, log=logs.append)
    table = run.read_metrics(out)
    whole = run.read_metrics(logged)
    assert [r["update"] for r in table] == [1, 1, 3, 3, 4, 4, 5, 5, 6, 6]
    assert table == [r for r in whole if r["update"] != 2]  # totals included
    summary = json.loads((out / "summary.json").read_text())
    assert summary["env_steps"] == [r["env_steps_total"] for r in whole[-2:]]
    assert any("line 3 damaged" in line for line in logs), logs


@pytest.mark.parametrize(
    "bad_row",
    [
        '{"update": "x", "seed_index": 0, "env_steps_total": 1}',
        '{"update": 1, "seed_index": 7, "env_steps_total": 1}',
        '{"update": 1, "seed_index": 0}',
        "[1, 2, 3]",
    ],
    ids=["update-string", "seed-index-out-of-range", "no-total", "not-an-object"],
)
def test_a_malformed_row_is_dropped_with_a_warning(logged, tmp_path, bad_row):
    out = crashed(tmp_path)
    text = (out / "metrics.jsonl").read_text()
    (out / "metrics.jsonl").write_text(bad_row + "\n" + text)
    logs = []
    outcome = run.train_run(CONFIG, LOGGED, out, resume=True, log=logs.append)
    assert outcome.status == "finished"
    assert run.read_metrics(out) == run.read_metrics(logged)
    assert any("metrics.jsonl: line 1 damaged" in line for line in logs), logs


# ------------------------------------------------------- resume keeps the options


KEPT = run.RunOptions(
    seed=1,
    chunk=2,
    eval_every=2,
    eval_episodes=3,
    stop_at_return=1e6,
    checkpoint_every=4,
    progress="lines",
)


def test_resume_keeps_every_run_option_and_saves_new_ones(tmp_path):
    out = tmp_path / "run"
    run.train_run(CONFIG, KEPT, out, log=quiet)
    parse = load_script("train").parse
    # What the "resume with" line prints is enough to continue as before.
    config, options, folder, resume, _, _ = parse(["--resume", str(out)])
    assert (config, options, folder, resume) == (CONFIG, KEPT, out, True)
    # Options that do not change the numbers may change on resume...
    _, options, *_ = parse(["--resume", str(out), "--eval-every", "3"])
    assert options == run.RunOptions(**{**KEPT.__dict__, "eval_every": 3})
    run.train_run(CONFIG, options, out, resume=True, log=quiet)
    # ...and are kept for the next resume.
    assert run.read_run_config(out)[1]["eval_every"] == 3
    assert parse(["--resume", str(out)])[1] == options


def test_resume_refuses_options_that_change_the_numbers(tmp_path, capsys):
    out = tmp_path / "run"
    run.train_run(CONFIG, KEPT, out, log=quiet)
    with pytest.raises(SystemExit) as exit_info:
        load_script("train").parse(["--resume", str(out), "--chunk", "3"])
    assert exit_info.value.code == 2
    assert "--chunk (the run has 2, the command line says 3)" in capsys.readouterr().err
    changed = run.RunOptions(**{**KEPT.__dict__, "seed": 5})
    with pytest.raises(
        run.RunError, match=r"keeps these options: --seed \(the run has 1"
    ):
        run.train_run(CONFIG, changed, out, resume=True, log=quiet)


# ------------------------------------------------------------------- Ctrl-C twice

SLEEPER = """
import time
from jaxpg.run.console import Signals
with Signals() as signals:
    print("ready", flush=True)
    end = time.monotonic() + 60
    while time.monotonic() < end:
        time.sleep(0.05)
print("finished", flush=True)
"""


def test_a_second_sigint_stops_at_once_even_when_sigint_started_ignored():
    """A background job of a non-interactive shell starts with SIGINT ignored."""
    # As sh starts a background job: SIGINT ignored, kept across exec. (Not
    # preexec_fn: forking this multithreaded JAX process can deadlock.)
    proc = subprocess.Popen(
        ["sh", "-c", 'trap "" INT; exec "$0" "$@"', sys.executable, "-c", SLEEPER],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGINT)
        line = ""
        while not line.strip():  # the message starts on a new line
            line = proc.stderr.readline()
        assert "SIGINT received" in line
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == -signal.SIGINT
    finally:
        proc.kill()
        proc.wait(timeout=30)
