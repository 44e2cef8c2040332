"""Import gymnax without paying for its plotting libraries up front.

gymnax's ``__init__`` imports every environment, and five of them (Pong, Catch,
FourRooms, MetaMaze, PointRobot) import ``matplotlib.pyplot`` — Pong also
``seaborn``, which pulls in pandas and scipy.stats — at module level, only to
use them in their ``render`` methods. That is about two thirds of
``import gymnax`` (``docs/benchmarks.md``, "Import time").

:func:`import_gymnax` imports gymnax with those two modules registered as deferred
modules: ``sys.modules`` holds the module object, with its ``__spec__``,
``__path__`` and ``__file__``, whose code runs on the first access to any other
attribute. (:class:`importlib.util.LazyLoader` is not enough: on Python 3.11 the
``import`` statement itself reads ``__spec__`` through it, which loads the
module.) Nothing about them
changes but *when* they load: ``env.render`` (``plt.subplots()``,
``sns.color_palette``), or a user's own ``import seaborn as sns;
sns.set_theme()``, loads the real module into that same object then.

A module that is already imported, or not installed, is left alone (gymnax's
own import then behaves as it always did). ``JAXPG_DEFER_PLOTTING=0`` turns the
deferral off, e.g. for code that needs seaborn's import-time side effects (its
colormaps registered with matplotlib) before it touches ``seaborn`` itself.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
from types import ModuleType

# What gymnax imports at module level and only uses to render.
DEFERRED_MODULES = ("matplotlib.pyplot", "seaborn")


_LOCK = threading.RLock()


class _DeferredModule(ModuleType):
    """A module whose code runs on the first lookup of a missing attribute."""

    def __getattr__(self, attr: str):
        with _LOCK:
            state = self.__dict__
            if type(self) is _DeferredModule and "_jaxpg_loading" not in state:
                state["_jaxpg_loading"] = True
                try:
                    self.__spec__.loader.exec_module(self)
                    self.__class__ = ModuleType
                finally:
                    del state["_jaxpg_loading"]
        # Raises AttributeError for a name the module does not define (also
        # while its own code is still running, as a normal import would).
        return ModuleType.__getattribute__(self, attr)


def deferral_enabled() -> bool:
    """False when ``JAXPG_DEFER_PLOTTING`` is ``0``/``false``/``no``/``off``."""
    value = os.environ.get("JAXPG_DEFER_PLOTTING", "1").strip().lower()
    return value not in ("0", "false", "no", "off")


def defer_module(name: str) -> bool:
    """Register ``name`` in ``sys.modules`` as a module that loads on first use.

    Args:
      name: a dotted module name; its parent package, if any, is imported now
        (``matplotlib`` for ``matplotlib.pyplot``: ≈ 0.1 s).

    Returns:
      True if a lazy module was registered; False if ``name`` was already
      imported or cannot be found (then nothing is changed).
    """
    if name in sys.modules:
        return False
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    if spec is None or spec.loader is None:
        return False
    module = importlib.util.module_from_spec(spec)
    module.__class__ = _DeferredModule
    sys.modules[name] = module
    parent, _, child = name.rpartition(".")
    if parent:
        # What the import system does for a submodule: ``matplotlib.pyplot``
        # must also be reachable as an attribute of ``matplotlib``.
        setattr(sys.modules[parent], child, module)
    return True


def import_gymnax() -> ModuleType:
    """``import gymnax``, with :data:`DEFERRED_MODULES` loading on first use.

    Returns:
      The ``gymnax`` module. Once gymnax is imported this only returns it.
    """
    if "gymnax" not in sys.modules and deferral_enabled():
        for name in DEFERRED_MODULES:
            defer_module(name)
    # The import statement, not importlib.import_module: ``python -X importtime``
    # reports only the former (scripts/import_time.py reads that report).
    import gymnax

    return gymnax
