"""Adapters for JAX environment libraries beyond gymnax: ``make_env("NAMESPACE:ID")``.

One module per library (:data:`LIBRARIES`); each has ``NAMESPACE`` (also the name
of its pip extra), ``MODULE`` (the import name checked before anything is built),
``EXAMPLE``, ``ids()`` and ``make(name, **kwargs)``. The library itself is
imported only inside those functions.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from jaxpg.adapters import brax, craftax, jumanji, navix, playground, xminigrid
from jaxpg.adapters.base import Adapter, AdapterParams, AdapterState, missing_library

__all__ = [
    "LIBRARIES",
    "Adapter",
    "AdapterParams",
    "AdapterState",
    "adapter_ids",
    "make_adapter",
    "split_id",
]

LIBRARIES: dict[str, ModuleType] = {
    m.NAMESPACE: m for m in (brax, playground, jumanji, xminigrid, navix, craftax)
}


def split_id(env_id: str) -> tuple[str, str] | None:
    """``("namespace", "name")`` for an adapter id, None for a gymnax id.

    Args:
      env_id: an environment id.

    Returns:
      The namespace and the library's name, or None when ``env_id`` has no known
      ``NAMESPACE:`` prefix.
    """
    namespace, sep, name = env_id.partition(":")
    if not sep or namespace not in LIBRARIES:
        return None
    return namespace, name


def _library(namespace: str) -> ModuleType:
    if namespace not in LIBRARIES:
        raise ValueError(
            f"unknown environment namespace {namespace!r}; the adapters are "
            f"{sorted(LIBRARIES)}"
        )
    module = LIBRARIES[namespace]
    message = missing_library(namespace, module.MODULE)
    if message is not None:
        raise ValueError(message)
    return module


def adapter_ids(namespace: str) -> list[str]:
    """The ids one adapter builds.

    Args:
      namespace: one of :data:`LIBRARIES`.

    Returns:
      ``["namespace:name", ...]``.

    Raises:
      ValueError: for an unknown namespace, or when the library is not installed
        (the message names the pip command).
    """
    return _library(namespace).ids()


def make_adapter(namespace: str, name: str, **kwargs: Any) -> Adapter:
    """Builds one library's environment behind gymnax's interface.

    Args:
      namespace: one of :data:`LIBRARIES`.
      name: the library's id.
      **kwargs: passed on (see each module's ``make``).

    Returns:
      The adapter (its ``default_params`` carry the horizon).

    Raises:
      ValueError: for an unknown namespace or id, or a missing library (before
        anything is built).
    """
    return _library(namespace).make(name, **kwargs)
