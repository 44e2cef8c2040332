"""jaxpg.jit / jaxpg.compile_options: XLA options, and what they do to the numbers."""

import jax
import numpy as np
import pytest

import jaxpg
from jaxpg.algorithms import registry
from jaxpg.run import compile_drift

pytestmark = pytest.mark.timeout(300)


def test_options_are_cpu_only():
    assert jaxpg.compile_options(backend="cpu") == {"xla_backend_optimization_level": 1}
    fast = jaxpg.compile_options(fast_compile=True, backend="cpu")
    assert fast["xla_cpu_use_fusion_emitters"] is False
    assert jaxpg.compile_options(fast_compile=True, backend="gpu") == {}


def _small_config(name):
    config_type = registry.get(name).config_type
    fields = {"num_envs": 8, "num_updates": 3, "hidden_sizes": (16,)}
    if name != "reinforce":
        fields["num_steps"] = 16
    if name == "ppo":
        fields["num_minibatches"] = 2
    return config_type(**fields)


def _params(result):
    return [np.asarray(x) for x in jax.tree.leaves(result.params)]


@pytest.mark.parametrize("name", registry.names())
def test_compiler_options_against_plain_jit(name):
    # What each option does to the numbers, per algorithm, after 3 updates
    # (docs/benchmarks.md, "What the compiler options compute").
    train = jaxpg.make_train(_small_config(name))
    key = jax.random.key(1)
    expected = _params(jax.jit(train)(key))
    # xla_backend_optimization_level=1 (jaxpg.jit's default): bit-identical.
    for a, b in zip(expected, _params(jaxpg.jit(train)(key)), strict=True):
        np.testing.assert_array_equal(a, b)
    # fast_compile (fusion emitters off) fuses differently: floating-point results
    # are rounded differently (last bits), so only closeness holds; over many
    # updates the runs drift apart like any reassociation. Not asserted to differ:
    # a later XLA may make them equal.
    got = _params(jaxpg.jit(train, fast_compile=True)(key))
    for a, b in zip(expected, got, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_user_options_win(monkeypatch):
    # What jaxpg.jit hands jax.jit: the caller's value replaces jaxpg's for a key
    # jaxpg sets itself; jaxpg's other options stay; other jit arguments pass through.
    seen = {}
    real_jit = jax.jit

    def spy(fn, **kwargs):
        seen.update(kwargs)
        return real_jit(fn, **kwargs)

    monkeypatch.setattr(jax, "jit", spy)
    mine = {"xla_backend_optimization_level": 2}
    f = jaxpg.jit(
        lambda x: x + 1, fast_compile=True, compiler_options=mine, donate_argnums=()
    )
    assert seen["compiler_options"] == {**jaxpg.compile_options(True), **mine}
    assert seen["donate_argnums"] == ()
    assert int(f(1)) == 2
    monkeypatch.undo()
    # And XLA receives the caller's value: an invalid one is rejected by its name.
    bad = jaxpg.jit(
        lambda x: x + 1, compiler_options={"xla_backend_optimization_level": "high"}
    )
    with pytest.raises(jax.errors.JaxRuntimeError, match="xla_backend_optimization"):
        bad.lower(np.float32(1.0)).compile()


def test_drift_report_of_a_tiny_run():
    # scripts/compile_drift.py's measurement, shrunk: the rows and the section.
    report = compile_drift.report(["reinforce"], (1, 2), num_envs=4, hidden_sizes=(8,))
    rows = report["runs"][0]["methods"]
    assert set(rows) == set(compile_drift.METHODS)
    assert [r["updates"] for r in rows["jax.jit"]] == [1, 2]
    assert all(r["bit_identical"] and r["max_abs_diff"] == 0 for r in rows["jax.jit"])
    assert rows["jaxpg.jit"][0]["bit_identical"]
    assert rows["jaxpg.jit(fast_compile=True)"][0]["max_abs_diff"] < 1e-5
    text = compile_drift.markdown(report, "python scripts/compile_drift.py")
    assert text.startswith(compile_drift.BEGIN)
    assert text.rstrip().endswith(compile_drift.END)
    assert text.count("| reinforce |") == 4  # 2 methods x 2 checkpoints
