"""Assertions on pytrees shared by the tests (``import trees``)."""

import jax
import numpy as np


def raw(leaf):
    """Comparable numpy data of a leaf (a typed key's raw key data)."""
    if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
        return np.asarray(jax.random.key_data(leaf))
    return np.asarray(leaf)


def assert_trees_close(a, b, rtol=1e-5, atol=1e-6):
    """Same structure, every leaf allclose."""
    la, ta = jax.tree.flatten(a)
    lb, tb = jax.tree.flatten(b)
    assert ta == tb
    for x, y in zip(la, lb, strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol)


def assert_bit_identical(a, b):
    """Same structure, and every leaf of the same dtype, shape and bits."""
    flat_a, tree_a = jax.tree_util.tree_flatten_with_path(a)
    flat_b, tree_b = jax.tree_util.tree_flatten_with_path(b)
    assert tree_a == tree_b
    for (path, x), (_, y) in zip(flat_a, flat_b, strict=True):
        name = jax.tree_util.keystr(path)
        assert x.dtype == y.dtype, name
        assert x.shape == y.shape, name
        np.testing.assert_array_equal(raw(x), raw(y), err_msg=name)


def all_finite(tree):
    """Whether every leaf of ``tree`` is finite (no NaN, no ±inf)."""
    return all(np.all(np.isfinite(np.asarray(x))) for x in jax.tree.leaves(tree))
