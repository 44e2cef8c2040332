"""The persistent compilation cache: where it lives, turning it on, counting hits.

``enable_compilation_cache`` turns JAX's persistent compilation cache on (in
``default_cache_dir``) and ``CacheEvents`` counts its hits and misses, which
``scripts/train.py`` reports.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import jax.monitoring

__all__ = [
    "CacheEvents",
    "cache_note",
    "default_cache_dir",
    "enable_compilation_cache",
]


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


def cache_note(events: CacheEvents, cache_dir: str | None) -> str:
    """A line on the persistent compilation cache's use so far.

    Args:
      events: the cache's hit and miss counters.
      cache_dir: the cache's folder, or None when it is off.

    Returns:
      Whether the cache is off, warm, cold or partly warm, with counts.
    """
    hits, misses = events.snapshot()
    if cache_dir is None:
        return "persistent cache off"
    if misses == 0 and hits > 0:
        return f"persistent cache warm: {hits} programs loaded from {cache_dir}"
    if hits == 0:
        return f"persistent cache cold: {misses} programs compiled and saved to {cache_dir}"
    return (
        f"persistent cache partly warm: {hits} loaded, {misses} compiled ({cache_dir})"
    )
