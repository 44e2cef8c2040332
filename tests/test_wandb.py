"""--wandb PROJECT: the run's metrics, evaluations and config in Weights & Biases.

Offline (WANDB_MODE=offline, every W&B folder under tmp_path): no network. The
W&B run is read back from its transaction log (RUN/wandb/offline-run-*/run-*.wandb:
LevelDB-style log records of wandb's protobuf ``Record``s).
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from harness import interrupt_at

import jaxpg
from jaxpg import run

pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parents[1]
CONFIG = jaxpg.ReinforceConfig(
    env_id="CartPole-v1", num_envs=4, num_updates=4, hidden_sizes=(8,)
)
OPTIONS = run.RunOptions(
    seed=1,
    seeds=2,
    chunk=2,
    eval_every=2,
    eval_episodes=3,
    progress="lines",
    wandb="jaxpg-test",
)


def log_records(path: Path):
    """The serialized records of a .wandb transaction log (32 KiB blocks of
    [crc32 u32, length u16, type u8] headers; type 1 full, 2-4 first/middle/last)."""
    data, block, pos, parts = path.read_bytes(), 32768, 7, b""
    assert data[:4] == b":W&B", data[:7]
    while pos + 7 <= len(data):
        left = block - pos % block
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if left < 7 or (kind == 0 and length == 0):
            pos += left  # the block's zero padding
            continue
        chunk, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        if kind == 1:
            yield chunk
        elif kind in (2, 3):
            parts = (parts if kind == 3 else b"") + chunk
        elif kind == 4:
            yield parts + chunk


def read_wandb_run(path: Path) -> dict:
    """{"id", "config", "history": [row], "summary"} of one offline W&B run."""
    from wandb.proto import wandb_internal_pb2

    found = {"config": {}, "history": [], "summary": {}}

    def key(item):
        return item.key or "/".join(item.nested_key)

    for raw in log_records(path):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(raw)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            found["id"] = record.run.run_id
            for item in record.run.config.update:
                found["config"][key(item)] = json.loads(item.value_json)
        elif kind == "history":
            row = {key(i): json.loads(i.value_json) for i in record.history.item}
            found["history"].append(row)
        elif kind == "summary":
            for item in record.summary.update:
                found["summary"][key(item)] = json.loads(item.value_json)
    return found


@pytest.fixture
def offline(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_ERROR_REPORTING", "false")  # no network at all
    for name in ("DIR", "CACHE_DIR", "CONFIG_DIR", "DATA_DIR", "ARTIFACT_DIR"):
        folder = tmp_path / f"wandb-{name.lower()}"
        folder.mkdir()
        monkeypatch.setenv(f"WANDB_{name}", str(folder))
    return tmp_path


@pytest.mark.timeout(400)
def test_metrics_evaluations_and_config_go_to_wandb_offline(offline):
    pytest.importorskip("wandb")
    out = offline / "run"
    stopped = run.train_run(
        CONFIG, OPTIONS, out, log=lambda _: None, on_chunk=interrupt_at(2)
    )
    assert stopped.status == "interrupted"
    resumed = run.train_run(CONFIG, OPTIONS, out, resume=True, log=lambda _: None)
    assert resumed.status == "finished"
    logs = sorted((out / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(logs) == 2  # the run, and its resumption
    first, second = (read_wandb_run(p) for p in logs)
    # One W&B run, continued on resume; its id is kept in the run folder.
    stored = json.loads((out / "wandb.json").read_text())
    assert stored == {"project": "jaxpg-test", "id": first["id"]}
    assert second["id"] == first["id"]
    # The config is config.json's content.
    saved = json.loads((out / "config.json").read_text())
    assert {k: first["config"][k] for k in saved} == saved
    # Every metric of every update: the mean over seeds of metrics.jsonl's rows.
    history = first["history"] + second["history"]
    rows = run.read_metrics(out)
    train = {r["update"]: r for r in history if "train/loss" in r}
    assert sorted(train) == [1, 2, 3, 4]
    assert [r["update"] for r in first["history"] if "train/loss" in r] == [1, 2]
    for update, logged in train.items():
        mine = [r for r in rows if r["update"] == update]
        assert len(mine) == 2
        for name in ("loss", "episode_return", "env_steps", "episodes_finished"):
            expected = np.mean([r[name] for r in mine])
            assert logged[f"train/{name}"] == pytest.approx(expected, rel=1e-9)
    # Each evaluation (periodic, and the final one): evals.jsonl's mean.
    evals = [json.loads(x) for x in (out / "evals.jsonl").read_text().splitlines()]
    logged = {r["update"]: r for r in history if "eval/mean_return" in r}
    assert sorted(logged) == [e["update"] for e in evals] == [2, 4]
    for e in evals:
        mean = float(np.mean(e["mean_return"]))
        assert logged[e["update"]]["eval/mean_return"] == pytest.approx(mean, rel=1e-6)
    assert second["summary"]["status"] == "finished"
    assert second["summary"]["updates"] == 4
    assert first["summary"]["status"] == "interrupted"


def test_without_wandb_train_run_stops_before_anything(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # import fails
    with pytest.raises(run.RunError, match=r'pip install "jaxpg\[wandb\]"'):
        run.train_run(CONFIG, OPTIONS, tmp_path / "run", log=lambda _: None)
    assert not (tmp_path / "run").exists()


HIDDEN = """
import runpy, sys
sys.modules["wandb"] = None  # as where the package is not installed
sys.argv = ["train.py", *sys.argv[1:]]
runpy.run_path(sys.argv.pop(1), run_name="__main__")
"""


def test_train_script_without_wandb_says_how_to_install_it(tmp_path):
    out = tmp_path / "run"
    args = ["--num-updates", "2", "--num-envs", "4", "--wandb", "p", "--out", out]
    proc = subprocess.run(
        [sys.executable, "-c", HIDDEN, ROOT / "scripts" / "train.py", *args],
        capture_output=True,
        text=True,
        timeout=200,
        env=dict(os.environ, JAXPG_CACHE_DIR=str(tmp_path / "cache")),
    )
    assert proc.returncode == 2, proc.stderr
    assert 'pip install "jaxpg[wandb]"' in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "compiled in" not in proc.stdout
    assert not out.exists()


def test_a_wandb_run_that_cannot_start_is_exit_2_with_nothing_written(
    offline, monkeypatch
):
    wandb = pytest.importorskip("wandb")

    def no_login(**_):
        raise wandb.errors.UsageError("No API key configured.")

    monkeypatch.setattr(wandb, "init", no_login)
    out = offline / "run"
    with pytest.raises(run.RunError, match=r"--wandb jaxpg-test: could not start"):
        run.train_run(CONFIG, OPTIONS, out, log=lambda _: None)
    assert not out.exists()  # as it was: a new run can use it
