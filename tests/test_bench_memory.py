"""The recurrent-vs-feed-forward benchmark table (scripts/benchmark_memory.py)."""

from __future__ import annotations

import pytest

from jaxpg.run import bench_memory


def _rate(steps_per_s: float, compile_s: float) -> dict:
    return {"real_steps_per_s": steps_per_s, "compile_s": compile_s}


def test_memory_table_rows_and_ratio():
    rows = [
        {
            "algo": "ppo",
            "label": "PPO",
            "updates": 3,
            "feedforward": _rate(12_000.0, 50.0),
            "recurrent": _rate(3_000.0, 60.5),
            "ratio": 0.25,
        }
    ]
    table = bench_memory.memory_table(rows, 32)
    lines = table.strip().splitlines()
    assert "GRU(32)" in lines[0] and len(lines) == 3
    assert lines[2] == "| PPO | 12,000 | 3,000 | 0.25 | 50.0 s → 60.5 s |"


@pytest.mark.timeout(400)
def test_memory_rows_time_both_variants():
    lines = []
    rows = bench_memory.memory_rows(
        "CartPole-v1", 64, 2, 1, algos=("a2c",), log=lines.append
    )
    (row,) = rows
    ff, rec = row["feedforward"], row["recurrent"]
    assert ff["real_steps_per_s"] > 0 and rec["real_steps_per_s"] > 0
    assert row["ratio"] == pytest.approx(
        rec["real_steps_per_s"] / ff["real_steps_per_s"]
    )
    assert len(lines) == 2 and "memory_size=2" in lines[1]


def test_updates_per_call():
    import jaxpg

    assert bench_memory.updates_per_call(jaxpg.ReinforceConfig(num_envs=64)) == 5
    assert bench_memory.updates_per_call(jaxpg.A2CConfig(num_envs=64)) == 50
    assert bench_memory.updates_per_call(jaxpg.PPOConfig(num_envs=64)) == 3
