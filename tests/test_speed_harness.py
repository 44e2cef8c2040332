"""The harnesses behind docs/benchmarks.md's issue-13 sections: medians and
targets of scripts/compare_peers.py, compile stages of scripts/profile_update.py."""

from __future__ import annotations

import jax.numpy as jnp
import pytest

from jaxpg.run import compare_peers, compile_profile

pytestmark = pytest.mark.timeout(120)


def test_summary_medians_ratio_and_targets():
    runs = {
        "jaxpg-ppo": [
            {"wall_s": w, "compile_s": c, "env_steps": 10}
            for w, c in ((3.0, 2.0), (5.0, 3.0), (4.0, 2.6))
        ],
        "rejax-ppo": [{"wall_s": w} for w in (10.0, 6.0, 9.0)],
        "cli": [
            {"compile_s": 2.0, "process_s": 7.0, "exit": 0},
            {"compile_s": 3.0, "process_s": 5.0, "exit": 0},
        ],
    }
    s = compare_peers.summary(runs)
    assert s["medians"]["jaxpg-ppo"] == {
        "wall_s": 4.0,
        "compile_s": 2.6,
        "env_steps": 10,
    }
    assert "exit" not in s["medians"]["cli"]
    assert s["ratio"]["jaxpg-ppo"] == pytest.approx(4.0 / 9.0)
    met = {name: ok for name, _, _, ok in s["targets"]}
    # 0.44 <= 0.5; 2.6 > 2.5; 2.5 <= 2.5; 6.0 <= 6.0
    assert met == {
        "ratio_to_rejax": True,
        "ppo_compile_s": False,
        "cli_compile_s": True,
        "cli_process_s": True,
    }


def test_stage_times_counts_the_compiled_module():
    def f(x):
        return jnp.tanh(x @ x.T).sum() + jnp.sin(x).max()

    r = compile_profile.stage_times(f, (jnp.ones((8, 4)),))
    assert r["fusions"] >= 1 and r["whiles"] == 0
    assert r["hlo_chars"] > 100
    assert min(r["trace_s"], r["lower_s"], r["compile_s"]) >= 0.0
