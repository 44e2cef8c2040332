"""jit, vmap over seeds, a sweep over HParams and chunked runs give the same
numbers as the plain computation, for every algorithm of the registry.

DESIGN (testing conventions): compare after 2-3 updates with rtol ~1e-5; longer
comparisons only measure floating-point reassociation.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from trees import assert_trees_close

import jaxpg
from jaxpg.algorithms import registry

pytestmark = pytest.mark.timeout(300)

BUILTIN = ("reinforce", "a2c", "ppo")


def small(name: str, **changes):
    """A tiny config of algorithm ``name``: 4 envs, 2 updates, an 8-unit torso."""
    cls = registry.get(name).config_type
    fields = {f.name for f in dataclasses.fields(cls)}
    values = {"num_envs": 4, "num_updates": 2, "hidden_sizes": (8,)}
    if "num_steps" in fields:
        values["num_steps"] = 8
    if "num_minibatches" in fields:
        values.update(num_minibatches=2, num_epochs=2)
    return cls(**{**values, **changes})


def test_every_builtin_algorithm_is_covered():
    assert set(BUILTIN) <= set(registry.names())


def _row(tree, i):
    return jax.tree.map(lambda x: x[i], tree)


@pytest.mark.parametrize("name", BUILTIN)
def test_jit_equals_unjitted(name):
    train = jaxpg.make_train(small(name))
    key = jax.random.key(0)
    jitted = jax.jit(train)(key)
    with jax.disable_jit():
        plain = train(key)
    assert_trees_close(jitted.params, plain.params, rtol=1e-5)
    assert_trees_close(jitted.metrics, plain.metrics, rtol=1e-5)


@pytest.mark.parametrize("name", BUILTIN)
def test_vmap_over_seeds_equals_a_loop(name):
    train = jaxpg.make_train(small(name))
    keys = jax.random.split(jax.random.key(1), 3)
    batched = jax.jit(jax.vmap(train))(keys)
    single = jax.jit(train)
    for i in range(3):
        one = single(keys[i])
        assert_trees_close(_row(batched.params, i), one.params, rtol=1e-5)
        # computed_steps: vmapped episodic seeds share one rollout loop.
        got = {
            k: v for k, v in _row(batched.metrics, i).items() if k != "computed_steps"
        }
        want = {k: v for k, v in one.metrics.items() if k != "computed_steps"}
        assert_trees_close(got, want, rtol=1e-5)
    # The seeds really differ.
    leaf = jax.tree.leaves(batched.params["policy"])[0]
    assert not np.allclose(leaf[0], leaf[1])


@pytest.mark.parametrize("name", BUILTIN)
def test_sweep_over_hparams_equals_separate_runs(name):
    config = small(name)
    train = jaxpg.make_train(config)
    hp = jaxpg.hparams(config)
    variants = [
        hp._replace(learning_rate=jnp.float32(1e-3)),
        hp._replace(learning_rate=jnp.float32(1e-2), gamma=jnp.float32(0.9)),
        hp._replace(entropy_coef=jnp.float32(0.05), max_grad_norm=jnp.float32(0.1)),
    ]
    sweep = jax.tree.map(lambda *x: jnp.stack(x), *variants)
    key = jax.random.key(2)
    swept = jax.jit(jax.vmap(train, in_axes=(None, 0)))(key, sweep)
    single = jax.jit(train)
    for i, variant in enumerate(variants):
        alone = single(key, variant)
        assert_trees_close(_row(swept.params, i), alone.params, rtol=1e-5)
        assert_trees_close(_row(swept.metrics, i), alone.metrics, rtol=1e-5)
    leaf = jax.tree.leaves(swept.params["policy"])[0]
    assert not np.allclose(leaf[0], leaf[1])


@pytest.mark.parametrize("name", BUILTIN)
def test_chunks_equal_one_run(name):
    config = small(name, num_updates=3)
    trainer = jaxpg.make_trainer(config)
    run = jax.jit(trainer.run, static_argnums=1)
    state = trainer.init(jax.random.key(3))
    whole, metrics = run(state, 3)
    part = state
    for _ in range(3):
        part, _ = run(part, 1)
    assert_trees_close(whole.params, part.params, rtol=1e-5)
    assert int(part.step) == 3
    result = jax.jit(jaxpg.make_train(config))(jax.random.key(3))
    assert_trees_close(result.params, whole.params, rtol=1e-5)
    assert set(metrics) >= {"episode_return", "loss", "env_steps", "grad_norm"}
