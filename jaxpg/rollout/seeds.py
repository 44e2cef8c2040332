"""Seed batching for chunked rollout loops: one chunk counter for every seed.

:func:`seed_batched` wraps a loop so that ``jax.vmap`` over seeds folds the seed
axis into the loop's own batch instead of batching a ``lax.while_loop`` (see its
docstring); :func:`closure_free` turns a traced piece into a function of explicit
arguments, which a ``custom_vmap`` rule needs.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp


def closure_free(fun: Any, *example: Any) -> tuple[Any, list]:
    """``fun`` as ``f(consts, *args)`` with every captured value in ``consts``."""
    closed, out_shape = jax.make_jaxpr(fun, return_shape=True)(*example)
    out_tree = jax.tree.structure(out_shape)

    def converted(consts, *args):
        out = jax.core.eval_jaxpr(closed.jaxpr, consts, *jax.tree.leaves(args))
        return jax.tree.unflatten(out_tree, out)

    return converted, list(closed.consts)


def seed_batched(loop: Any, spec: Any, size: int | None) -> Any:
    """``loop(spec, args)`` as a function of ``args`` whose vmap batches seeds.

    A plain ``jax.vmap`` of the rollout turns its ``lax.while_loop`` into one whose
    every iteration selects, per seed, between the new and the old carry -- the
    whole ``[T, N]`` trajectory buffers included -- and whose buffer writes at a
    per-seed time index become scatters: K vmapped seeds then cost about twice as
    much per step as one run with K·N environments. Under vmap this function
    instead runs ``loop`` with the seed axis inside the chunks and one chunk
    counter for all seeds (it stops when every seed's environments are done, like
    one wide rollout). Each seed's records are the same as its own rollout's; its
    ``steps_run`` is the batch's. Nested vmaps merge into one seed axis.
    """

    @jax.custom_batching.custom_vmap
    def run(*args):
        return loop(spec, args)

    @run.def_vmap
    def rule(axis_size, in_batched, *args):
        outer = tuple(in_batched)
        inner = spec if spec is not None else jax.tree.map(lambda _: False, outer)
        batched_args = jax.tree.map(
            lambda x, b, s: _merge(x, b, s, axis_size, size), tuple(args), outer, inner
        )
        new_spec = jax.tree.map(lambda b, s: b or s, outer, inner)
        merged = axis_size * (size or 1)
        out = seed_batched(loop, tuple(new_spec), merged)(*batched_args)
        if size is not None:
            out = jax.tree.map(
                lambda x: x.reshape((axis_size, size) + x.shape[1:]), out
            )
        return out, jax.tree.map(lambda _: True, out)

    return run


def _merge(x: Any, outer: bool, inner: bool, outer_size: int, inner_size: int | None):
    """One argument leaf with the new (outer) vmap axis folded into the seed axis."""
    if inner_size is None:  # first level: the seed axis is the vmapped one
        return x
    if not (outer or inner):
        return x
    if not outer:
        x = jnp.broadcast_to(x, (outer_size,) + x.shape)
    elif not inner:
        x = jnp.broadcast_to(x[:, None], (outer_size, inner_size) + x.shape[1:])
    return x.reshape((outer_size * inner_size,) + x.shape[2:])
