"""jaxpg.jit / jaxpg.compile_options: XLA options that change compile time only."""

import jax
import numpy as np
import pytest

import jaxpg

pytestmark = pytest.mark.timeout(300)

SMALL = jaxpg.ReinforceConfig(num_envs=8, num_updates=2, hidden_sizes=(16,))


def test_options_are_cpu_only():
    assert jaxpg.compile_options(backend="cpu") == {"xla_backend_optimization_level": 1}
    fast = jaxpg.compile_options(fast_compile=True, backend="cpu")
    assert fast["xla_cpu_use_fusion_emitters"] is False
    assert jaxpg.compile_options(fast_compile=True, backend="gpu") == {}


@pytest.mark.parametrize("fast_compile", [False, True])
def test_same_result_as_plain_jit(fast_compile):
    train = jaxpg.make_train(SMALL)
    key = jax.random.key(1)
    expected = jax.jit(train)(key)
    got = jaxpg.jit(train, fast_compile=fast_compile)(key)
    for a, b in zip(
        jax.tree.leaves(expected.params), jax.tree.leaves(got.params), strict=True
    ):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)


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
