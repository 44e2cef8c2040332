"""How jaxpg's programs are compiled: XLA options and the persistent cache.

``compile_options`` and ``jit`` choose XLA's compiler options;
``enable_compilation_cache`` turns JAX's persistent compilation cache on (in
``default_cache_dir``) and ``CacheEvents`` counts its hits and misses, which
``scripts/train.py`` reports.

jaxpg's functions (``make_train``, ``make_solve``, ...) return pure, un-jitted
functions, so how they are compiled is the caller's choice. On CPU, XLA's default
options spend most of a cold start in LLVM, optimising many small kernels. Measured
on CartPole-v1 with ``ReinforceConfig()`` defaults (docs/benchmarks.md):

* ``xla_backend_optimization_level=1`` (jaxpg's default recommendation): ≈ 15–25 %
  less compile time, no slower to run (also at 1024 environments).
* ``fast_compile=True`` adds ``xla_cpu_use_fusion_emitters=False``: compile time
  about 2.5× lower again, but the compiled program runs ≈ 1.5× slower. Worth it
  when compilation dominates (a short run such as ``make_solve`` on CartPole);
  not for long training runs.

Neither changes what is computed: the same keys gave the same trained parameters.
The options are CPU settings; on other backends :func:`compile_options` is empty.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import jax
import jax.monitoring

__all__ = [
    "CacheEvents",
    "compile_options",
    "default_cache_dir",
    "enable_compilation_cache",
    "jit",
]


def compile_options(fast_compile: bool = False, backend: str | None = None) -> dict:
    """jaxpg's recommended ``compiler_options`` for ``jax.jit``.

    Args:
      fast_compile: also turn off XLA:CPU's fusion emitters (much faster to
        compile, slower to run: for short runs).
      backend: the platform the program will run on; ``jax.default_backend()``
        by default. Only ``"cpu"`` gets options.

    Returns:
      A dict for ``jax.jit(f, compiler_options=...)`` (empty off CPU).

    >>> compile_options(backend="cpu")
    {'xla_backend_optimization_level': 1}
    """
    if (backend or jax.default_backend()) != "cpu":
        return {}
    options: dict[str, Any] = {"xla_backend_optimization_level": 1}
    if fast_compile:
        options["xla_cpu_use_fusion_emitters"] = False
    return options


def jit(fn: Callable, *, fast_compile: bool = False, **jit_kwargs: Any) -> Callable:
    """``jax.jit(fn, **jit_kwargs)`` with :func:`compile_options`.

    Options given in ``jit_kwargs["compiler_options"]`` take precedence. jax
    accepts compiler options only on a top-level jit: call the result directly
    (or ``vmap`` it), not inside another ``jax.jit``.

    Args:
      fn: the function to compile.
      fast_compile: as in :func:`compile_options`.
      **jit_kwargs: passed to ``jax.jit``; ``compiler_options`` are merged over
        jaxpg's.

    Returns:
      The jitted function.

    >>> import jax, jaxpg
    >>> config = jaxpg.ReinforceConfig(num_envs=4, num_updates=2)
    >>> train = jaxpg.jit(jaxpg.make_train(config))
    >>> train(jax.random.key(0)).metrics["episode_return"].shape
    (2,)
    """
    options = {
        **compile_options(fast_compile),
        **(jit_kwargs.pop("compiler_options", None) or {}),
    }
    return jax.jit(fn, compiler_options=options or None, **jit_kwargs)


# ------------------------------------------------------------- the persistent cache


def default_cache_dir() -> str:
    """The persistent compilation cache's folder.

    Returns:
      ``$JAXPG_CACHE_DIR``, else ``$XDG_CACHE_HOME/jaxpg/jax`` (``~/.cache/...``),
      as an absolute path.
    """
    explicit = os.environ.get("JAXPG_CACHE_DIR")
    if explicit:
        return os.path.abspath(os.path.expanduser(explicit))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache"
    )
    return os.path.join(base, "jaxpg", "jax")


def enable_compilation_cache(directory: str | None) -> None:
    """Turns JAX's persistent compilation cache on (``directory``) or off (None).

    Every program is cached, however small or quick to compile, so a second
    launch with the same shapes loads the executables instead of compiling them.
    Call this before anything is compiled: JAX decides once per process.

    Args:
      directory: the cache folder (e.g. :func:`default_cache_dir`), or None.
    """
    if directory is None:
        jax.config.update("jax_enable_compilation_cache", False)
        return
    jax.config.update("jax_enable_compilation_cache", True)
    jax.config.update("jax_compilation_cache_dir", directory)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)


class CacheEvents:
    """Counts persistent-cache hits and misses (writes) reported by JAX.

    >>> events = CacheEvents()
    >>> events.hits, events.misses
    (0, 0)
    """

    HIT = "/jax/compilation_cache/cache_hits"
    MISS = "/jax/compilation_cache/cache_misses"

    def __init__(self) -> None:
        self.hits = 0
        self.misses = 0
        jax.monitoring.register_event_listener(self._on_event)

    def _on_event(self, event: str, **kwargs: Any) -> None:
        if event == self.HIT:
            self.hits += 1
        elif event == self.MISS:
            self.misses += 1

    def snapshot(self) -> tuple[int, int]:
        """The counts so far.

        Returns:
          ``(hits, misses)``.
        """
        return self.hits, self.misses
