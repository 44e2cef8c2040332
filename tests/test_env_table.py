"""The supported-environments table's smoke runs (jaxpg.run.smoke, scripts/env_table.py)."""

from __future__ import annotations

import pytest

from jaxpg.algorithms import registry
from jaxpg.run import smoke

pytestmark = pytest.mark.timeout(120)


def test_every_smoke_config_is_its_registered_algorithms():
    configs = smoke.smoke_configs("Pendulum-v1")
    assert list(configs) == smoke.labels() == ["REINFORCE", "A2C", "PPO"]
    for name, config in zip(smoke.SMOKE_BUDGETS, configs.values(), strict=True):
        assert type(config) is registry.get(name).config_type
        assert config.env_id == "Pendulum-v1" and config.hidden_sizes == (32, 32)
        assert config.num_envs == 16


def test_an_unsupported_id_is_described_by_its_reason_without_training():
    lines = []
    record = smoke.describe_env("MNISTBandit-bsuite", lines.append)
    assert record["supported"] is False and "download" in record["reason"]
    assert lines == []


def test_a_smoke_run_trains_and_evaluates(monkeypatch):
    monkeypatch.setitem(
        smoke.SMOKE_BUDGETS, "reinforce", dict(num_envs=4, num_updates=2)
    )
    monkeypatch.setitem(
        smoke.SMOKE_BUDGETS, "a2c", dict(num_envs=4, num_steps=4, num_updates=2)
    )
    monkeypatch.setitem(
        smoke.SMOKE_BUDGETS, "ppo", dict(num_envs=4, num_steps=8, num_updates=2)
    )
    lines = []
    record = smoke.describe_env("CartPole-v1", lines.append)
    assert (record["action_space"], record["observation_space"]) == (
        "Discrete(2)",
        "Box(4,)",
    )
    assert record["horizon"] == 500 and len(lines) == 3
    a2c = record["smoke"]["A2C"]
    assert a2c["env_steps"] == 2 * 4 * 4 and a2c["finite"]
    for r in record["smoke"].values():
        assert 1 <= r["before"] <= 500 and 1 <= r["after"] <= 500
