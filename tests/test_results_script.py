"""The multi-seed results (jaxpg.run.results, scripts/results.py): well-formed data,
markdown and plots; the intervals they report (jaxpg.intervals)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jaxpg.intervals import bootstrap_ci, t_interval
from jaxpg.run import results, results_report

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_quick_run_writes_consistent_json_markdown_and_png(tmp_path):
    out = tmp_path / "docs"
    (out).mkdir()
    # Hand-written text outside the generated block must survive a rewrite.
    (out / "results.md").write_text(
        "# Results\n\nhand-written intro\n\n<!-- results:begin -->\nold\n"
        "<!-- results:end -->\n\nhand-written discussion\n"
    )
    env = dict(os.environ, JAXPG_CACHE_DIR=str(tmp_path / "cache"))
    args = ["--quick", "--envs", "CartPole-v1", "--algos", "ppo", "--seeds", "3"]
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "results.py"), *args, "--out", out],
        capture_output=True,
        text=True,
        env=env,
        timeout=220,
    )
    assert proc.returncode == 0, proc.stderr
    assert "[1/1] PPO on CartPole-v1: 3 seeds" in proc.stdout

    data = json.loads((out / "data" / "results.json").read_text())
    assert data["meta"]["jax_version"] and data["meta"]["cpu_count"] >= 1
    (row,) = data["rows"]
    assert (row["env"], row["algo"], row["seeds"]) == ("CartPole-v1", "ppo", 3)
    assert len(row["final_per_seed"]) == 3
    lo, hi = row["final_ci"]
    assert lo <= row["final_mean"] <= hi
    assert min(row["final_per_seed"]) <= lo and hi <= max(row["final_per_seed"])
    np.testing.assert_allclose(row["final_mean"], np.mean(row["final_per_seed"]))
    assert all(0 <= r <= 500 for r in row["final_per_seed"])
    # env steps summed on the host: 4 quick updates of 8 envs x 64 steps per seed.
    assert row["env_steps_per_seed"] == [4 * 8 * 64] * 3
    assert row["solved_seeds"] == sum(r >= 475 for r in row["final_per_seed"])
    assert len(row["steps_to_threshold"]) == 3
    assert row["compile_s"] > 0 and row["total_s"] >= row["compile_s"] + row["run_s"]
    curve = row["curve"]
    assert len(curve["env_steps"]) == len(curve["mean"]) == 4
    mean, lo = (np.array(curve[k], dtype=np.float64) for k in ("mean", "lo"))
    assert np.all(lo <= mean + 1e-9)  # CartPole: episodes end in the first update
    assert np.all(np.diff(curve["env_steps"]) > 0)

    md = (out / "results.md").read_text()
    assert "hand-written intro" in md and "hand-written discussion" in md
    assert "\nold\n" not in md
    rows = [line for line in md.splitlines() if line.startswith("| CartPole-v1 |")]
    assert len(rows) == 2  # the results table and the presets table
    ci = re.search(r"\| PPO \| 475 \| ([\d.,−-]+) \[([\d.,−-]+), ([\d.,−-]+)\]", md)
    assert ci, md
    assert float(ci.group(1).replace(",", "")) == pytest.approx(
        row["final_mean"], abs=0.05
    )
    assert "python scripts/results.py --quick" in md
    png = out / "img" / "results-CartPole-v1.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bootstrap_interval_is_ordered_and_reproducible():
    values = np.array([1.0, 2.0, 3.0, 10.0, 4.0, 2.5, 3.5, 0.5])
    lo, hi = bootstrap_ci(values, 2000)
    assert lo < values.mean() < hi
    assert (lo, hi) == bootstrap_ci(values, 2000)  # fixed rng seed
    assert bootstrap_ci(np.full(8, 7.0), 100) == (7.0, 7.0)
    wide = bootstrap_ci(values * 10, 2000)
    assert wide[1] - wide[0] == pytest.approx(10 * (hi - lo))


def test_curve_interval_leaves_out_updates_before_the_first_episode():
    nan = np.nan
    curves = np.array(
        [[nan, nan, 1.0, 3.0], [nan, 2.0, 3.0, 5.0], [nan, nan, 2.0, 4.0]]
    )
    mean, lo, hi = t_interval(curves)
    assert np.isnan(mean[0]) and np.isnan(lo[0])
    assert mean[1] == lo[1] == hi[1] == 2.0  # one seed: no interval
    np.testing.assert_allclose(mean[2:], [2.0, 4.0])
    assert np.all(lo[2:] < mean[2:]) and np.all(mean[2:] < hi[2:])
    np.testing.assert_allclose(
        results.bin_last_axis(curves, 2), [[nan, 2.0], [2.0, 4.0], [nan, 3.0]]
    )


@pytest.mark.timeout(120)
def test_one_row_in_process_and_its_block(tmp_path):
    settings = results.Settings(
        seeds=2,
        seed=0,
        evals=2,
        eval_episodes=2,
        final_episodes=3,
        resamples=100,
        quick=True,
        quick_updates=3,
        overrides={},
        tag=None,
        command="python scripts/results.py --quick",
        date="today",
    )
    row = results.run_one("CartPole-v1", "a2c", settings)
    assert (row["label"], row["config_class"]) == ("A2C", "A2CConfig")
    assert row["config"]["num_updates"] == 3 and len(row["final_per_seed"]) == 2
    assert row["eval_updates"] == [2, 3]  # 1 head update, then two chunks of 1
    assert row["threshold"] == 475.0 and len(row["steps_to_threshold"]) == 2
    assert len(row["curve"]["mean"]) == 3
    meta = {
        "jax_version": "0",
        "jaxpg_version": "0",
        "backend": "cpu",
        "cpu_count": 2,
        "platform": "Linux",
        "resamples": 100,
        "bootstrap_seed": 0,
    }
    page = tmp_path / "results.md"
    results_report.write_markdown(page, {"meta": meta, "rows": [row]})
    text = page.read_text()
    assert text.startswith("# Results\n") and text.count(results_report.BEGIN) == 1
    assert "| CartPole-v1 | A2C | 475 |" in text
    assert "- CartPole-v1 A2C: target ≥ 475 for every algorithm" in text
    assert "python scripts/results.py --quick    # today" in text
