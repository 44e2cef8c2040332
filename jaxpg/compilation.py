"""How jaxpg's programs are compiled: XLA's compiler options.

``compile_options`` and ``jit`` choose XLA's compiler options (the persistent
compilation cache is host-side: :mod:`jaxpg.run.cache`).

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

Neither preserves results bit for bit. Both change how XLA:CPU compiles the same
computation (``jaxpg.jit`` LLVM's optimisation level; ``fast_compile`` also which
operations are fused into one kernel), which rounds some floating-point results
differently, as a reassociation does; a training run amplifies that chaotically.
Measured against plain ``jax.jit`` on the tuned CartPole-v1 presets
(``scripts/compile_drift.py``, docs/benchmarks.md): ``jaxpg.jit`` was
bit-identical after 3 and 30 updates of REINFORCE, A2C and PPO, not always later
(PPO: parameters 0.46 apart after 300 updates); ``fast_compile`` differed by
~1e-7 after 3 updates (PPO: 0.3 after 30). tests/test_compilation.py asserts
what holds after 3 updates. Compare runs compiled differently after a few
updates, with a tolerance.
The options are CPU settings; on other backends :func:`compile_options` is empty.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax

__all__ = ["compile_options", "jit"]


def compile_options(fast_compile: bool = False, backend: str | None = None) -> dict:
    """jaxpg's recommended ``compiler_options`` for ``jax.jit``.

    Neither option preserves results bit for bit over long runs (module doc).

    Args:
      fast_compile: also turn off XLA:CPU's fusion emitters (much faster to
        compile, slower to run: for short runs). It fuses operations
        differently, so floating-point results differ in the last bits from
        the first update on, and long runs diverge.
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
    (or ``vmap`` it), not inside another ``jax.jit``. The result computes what
    ``jax.jit(fn)`` does up to floating-point rounding, not bit for bit (module
    doc).

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
