"""The benchmarks' own logic: the PyTorch REINFORCE (when torch is installed), the
censored median of the comparison, the throughput workers, PNG and tables."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jaxpg.run import (
    bench,
    bench_report,
    compare,
    compare_report,
    solve_bench,
    solve_report,
)

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.timeout(120)


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------- PyTorch REINFORCE


@pytest.fixture(scope="module")
def tr():
    pytest.importorskip("torch")
    pytest.importorskip("gymnasium")
    return load("torch_reinforce")


def test_normalized_returns_hand_example(tr):
    # γ = 0.5, rewards 1, 1, 1: G = (1 + 0.5·1.5, 1 + 0.5·1, 1) = (1.75, 1.5, 1).
    g = np.array([1.75, 1.5, 1.0])
    mean = g.mean()
    std = math.sqrt(((g - mean) ** 2).sum() / 2)  # unbiased (n - 1), as torch.std
    expected = (g - mean) / (std + tr.EPS)
    got = tr.normalized_returns([1.0, 1.0, 1.0], gamma=0.5).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert abs(got.mean()) < 1e-6


def test_reinforce_loss_is_minus_sum_and_its_gradient(tr):
    import torch

    log_probs = torch.tensor([-0.5, -1.0], requires_grad=True)
    weights = torch.tensor([2.0, 3.0])
    loss = tr.reinforce_loss(log_probs, weights)
    assert loss.item() == pytest.approx(-(-0.5 * 2.0 - 1.0 * 3.0))  # = 4
    loss.backward()
    # Descent on the loss moves each log-prob along +weight (ascent on J).
    np.testing.assert_allclose(log_probs.grad.numpy(), [-2.0, -3.0])


def test_policy_matches_the_example(tr):
    import torch

    policy = tr.Policy()
    assert policy.hidden.in_features == 4 and policy.hidden.out_features == 128
    assert policy.out.in_features == 128 and policy.out.out_features == 2
    assert policy.dropout.p == 0.6
    obs = torch.ones(5, 4)
    policy.eval()  # dropout off: deterministic
    torch.testing.assert_close(policy(obs), policy(obs))
    policy.train()  # dropout on while acting in training, as in the example
    torch.manual_seed(0)
    assert not torch.equal(policy(obs), policy(obs))


def test_greedy_returns_and_a_capped_run(tr):
    import gymnasium as gym

    policy = tr.Policy()
    envs = [gym.make(tr.ENV_ID) for _ in range(3)]
    returns = tr.greedy_returns(policy, envs, [0, 1, 2])
    assert returns.shape == (3,) and np.all((returns >= 1) & (returns <= 500))
    assert policy.training  # mode restored
    again = tr.greedy_returns(policy, envs, [0, 1, 2])
    np.testing.assert_array_equal(returns, again)  # greedy + seeded resets

    out = tr.run(0, eval_every=2, eval_episodes=3, time_cap=1.0, max_episodes=6)
    assert out["episodes"] == 6 or out["elapsed_s"] > 1.0
    assert out["evals"] == out["episodes"] // 2 or out["eval_solved"]
    assert out["steps"] >= out["episodes"] and out["steps_per_s"] > 0
    assert out["torch_threads"] == 1
    json.dumps(out)  # what the comparison reads from the worker


# ----------------------------------------------------------------- comparison


@pytest.fixture(scope="module")
def ct():
    return load("compare_torch")


def test_censored_median():
    m = compare.censored_median([3.0, None, 1.0], cap=10.0)
    assert m["median_s"] == 3.0 and not m["censored"] and m["met"] == 2
    m = compare.censored_median([3.0, None, None], cap=10.0)
    assert m["median_s"] == 10.0 and m["censored"]  # only "> 10 s" is known
    m = compare.censored_median([4.0, 2.0, 1.0, 3.0], cap=10.0)
    assert m["median_s"] == 2.5 and not m["censored"]


def test_comparison_without_torch_names_the_extra(ct, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # find_spec → None
    with pytest.raises(SystemExit) as exc:
        ct.require_torch()
    assert 'pip install -e ".[bench]"' in str(exc.value)


def test_comparison_markdown_from_a_small_report():
    cold = [
        {
            "seed": 0,
            "seconds": 2.0,
            "updates": 10,
            "env_steps": 50_000,
            "episodes": 640,
            "steps_per_s": 2e5,
            "computed_steps_per_s": 4e5,
            "train_wall_s": 0.25,
        }
    ]
    summary = {"median_s": 2.0, "solved": 1, "seeds": 1, "median_updates": 10}
    hit = {"wall_s": 50.0, "train_s": 45.0, "eval_s": 5.0, "episodes": 300}
    torch_run = {
        "seed": 0,
        "eval_solved": True,
        "eval_hit": {**hit, "steps": 30_000, "eval_return": 480.0},
        "running_solved": False,
        "running_hit": None,
        "steps_per_s": 2000.0,
        "episodes": 900,
    }
    report = {
        "date": "today",
        "environment": {"processor": "x86_64", "cpu_count": 2, "jax": "0"},
        "torch_version": "2",
        "gymnasium_version": "1",
        "cores": "0",
        "load_start": [1.0],
        "load_end": [1.0],
        "time_cap_s": 60.0,
        "torch_eval_every": 10,
        "command": "python scripts/compare_torch.py",
        "jaxpg": {
            "cold": summary,
            "warm": {**summary, "median_s": 1.0},
            "cold_runs": cold,
        },
        "torch_runs": [torch_run],
        "split": {
            "trace_lower_s": 0.5,
            "compile_s": 1.0,
            "seeds": {
                "0": {"run_s": 0.4, "train_s": 0.25, "eval_solved_s": 0.02},
            },
            "repeats": 3,
        },
    }
    report["summary"] = compare.summarize(report)
    r = report["summary"]["ratios"]
    assert r["steps_per_s"] == pytest.approx(100.0)
    assert r["solve_cold"] == pytest.approx(25.0) and r["target_met"]
    assert report["summary"]["torch"]["running"]["censored"]
    text = compare_report.markdown(report)
    assert "25.0× cold → met" in text and "> 60" in text
    split = report["summary"]["jaxpg"]["split"]
    assert split["median_eval_loop_s"] == pytest.approx(0.4 - 0.25)
    assert "XLA compile 1.00 s" in text


# ------------------------------------------------------------------ throughput PNG

# What bench.environment() records, for reports made up by the tests below.
ENVIRONMENT = {
    "processor": "x86_64",
    "cpu_count": 2,
    "device": "cpu:0",
    "jax": "0",
    "python": "3",
    "date": "today",
    "loadavg_start": [0.0],
}


def test_plot_only_writes_a_png_from_a_small_json(tmp_path):
    def rate(x):
        return {"steps_per_s": x, "computed_steps_per_s": x, "real_steps_per_s": x / 2}

    rows = {
        str(n): {
            "env": rate(1e5 * n),
            "rollout": rate(5e4 * n),
            "reinforce_untrained": rate(2e4 * n),
            "a2c": rate(1e4 * n),
            "ppo": rate(5e3 * n),
        }
        for n in (1, 16, 64)
    }
    report = {
        "environment": ENVIRONMENT,
        "throughput": {"CartPole-v1": rows, "Pendulum-v1": rows},
    }
    src = tmp_path / "bench.json"
    src.write_text(json.dumps(report))
    out = tmp_path / "img" / "plot.png"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "benchmark.py"),
            "--plot-only",
            str(out),
            "--json",
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=100,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 10_000


# ------------------------------------------------------------------ seeds table


def test_seeds_table_lists_both_core_settings_and_judges_each_ratio():
    def row(k, ratio):
        return {
            "k": k,
            "vmap": {"wall_s": 0.5, "us_per_step": ratio},
            "wide": {"wall_s": 0.5, "us_per_step": 1.0},
            "ratio": ratio,
        }

    seeds = {"updates": 10, "num_envs": 64}
    report = {
        "environment": ENVIRONMENT,
        "repeats": 3,
        "throughput": {},
        "seeds": {**seeds, "rows": [row(8, 1.24)]},
        "seeds_core0": {**seeds, "rows": [row(8, 1.10)]},
    }
    text = bench_report.markdown(report, "python scripts/benchmark.py")
    assert "| all | 8 | 0.500 | 1.240 | 0.500 | 1.000 | 1.24 (missed) |" in text
    assert "| 0 | 8 | 0.500 | 1.100 | 0.500 | 1.000 | 1.10 (met) |" in text


# ------------------------------------------------------------------ workers


def test_a_pinned_worker_measures_both_ceilings():
    # A fresh process pinned to core 0, as the "(core 0)" columns are measured.
    rows = bench.spawn(["throughput", "CartPole-v1", [2], 1, "ceiling"], cores="0")
    assert list(rows) == ["2"]
    for kind in ("env", "rollout"):
        r = rows["2"][kind]
        assert r["steps"] == 2 * 4096  # clamp(2^18 / 2, 32, 4096) steps x 2 envs
        assert r["steps_per_s"] == pytest.approx(r["steps"] / r["wall_s"])
        assert r["compile_s"] > 0


def test_the_target_compares_reinforce_with_the_rollout_ceiling():
    def rate(x):
        return {"computed_steps_per_s": x}

    row = {
        "rollout": {"steps_per_s": 100.0},
        "reinforce_untrained": rate(40.0),
        "reinforce_trained": rate(60.0),
    }
    (trained, untrained) = bench.target_rows({"CartPole-v1": {"1024": row}})
    assert (trained["policy"], trained["ratio"], trained["met"]) == (
        "trained",
        0.6,
        True,
    )
    assert (untrained["ratio"], untrained["met"]) == (0.4, False)
    assert bench.target_rows({"CartPole-v1": {"64": row}}) == []


# ------------------------------------------------------------------ time to solve


def test_solve_summary_and_section_from_made_up_runs():
    runs = [{"seconds": s, "updates": u} for s, u in ((3.0, 10), (1.0, 14), (2.0, 12))]
    s = solve_bench.summary(runs, 3)
    assert s["median_s"] == 2.0 and s["median_updates"] == 12
    assert (s["min_s"], s["max_s"]) == (1.0, 3.0)
    assert s["q1_s"] <= s["median_s"] <= s["q3_s"]
    assert (s["solved"], s["seeds"]) == (3, 3)
    compile_row = {
        "function": "solve",
        "jit": "fast",
        "cores": "0",
        "trace_lower_s": 0.5,
        "compile_s": 1.0,
        "compile_cpu_s": 1.5,
        "fusions": 9,
        "while_loops": 2,
    }
    report = {
        "environment": ENVIRONMENT,
        "date": "today",
        "seeds": [0, 1, 2],
        "configurations": [
            {"cores": "0", "method": "fast", "eval_every": 1, "cold": s, "warm": s}
        ],
        "compile": [compile_row],
    }
    text = solve_report.markdown(report, "python scripts/solve_benchmark.py")
    assert text.startswith(solve_report.BEGIN) and text.endswith(solve_report.END)
    assert "| 0 | jaxpg.jit(fast_compile=True) (eval every 1) | cold | 2.00 |" in text
    assert (
        "| solve | jaxpg.jit(fast_compile=True) | 0 | 0.50 | 1.00 | 1.50 | 9 | 2 |"
        in text
    )
    assert "Whole-process time" not in text  # no train-script times measured


def test_a_compile_worker_counts_the_program():
    row = solve_bench.spawn(["--compile", "train", "--method", "fast"], "all", None)
    assert (row["function"], row["jit"]) == ("train", "fast")
    assert row["compile_s"] > 0 and row["fusions"] > 0 and row["while_loops"] > 0
