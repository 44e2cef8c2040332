"""The one list of algorithms: the trainer, CLI, presets, checkpoints and scripts
read it.

>>> from jaxpg.algorithms import registry
>>> registry.names()
('reinforce', 'a2c', 'ppo')
>>> registry.get("PPO").label
'PPO'

A new algorithm is one module in :mod:`jaxpg.algorithms` with an
:class:`~jaxpg.algorithms.base.Algorithm` entry, added to ``_BUILTIN`` below, or
registered at run time with :func:`register` (tests do that).
"""

from __future__ import annotations

from typing import Any

from jaxpg.algorithms import a2c, ppo, reinforce
from jaxpg.algorithms.base import Algorithm

_BUILTIN = (reinforce.ALGORITHM, a2c.ALGORITHM, ppo.ALGORITHM)
_REGISTRY: dict[str, Algorithm] = {a.name: a for a in _BUILTIN}


def register(algorithm: Algorithm) -> Algorithm:
    """Adds ``algorithm`` (its name and config class must be new); returns it.

    Args:
      algorithm: an :class:`~jaxpg.algorithms.base.Algorithm` entry.

    Returns:
      ``algorithm``.

    Raises:
      TypeError: not an ``Algorithm``.
      ValueError: a malformed or taken name, or a config class already registered.
    """
    if not isinstance(algorithm, Algorithm):
        raise TypeError(f"register takes an Algorithm; got {type(algorithm).__name__}")
    name = algorithm.name
    if not name or name != name.lower() or not name.replace("_", "").isalnum():
        raise ValueError(
            f"an algorithm name is lower-case letters, digits and _; got {name!r}"
        )
    if name in _REGISTRY:
        raise ValueError(f"an algorithm named {name!r} is already registered")
    if any(a.config_type is algorithm.config_type for a in _REGISTRY.values()):
        raise ValueError(
            f"{algorithm.config_type.__name__} is already the config of an algorithm"
        )
    _REGISTRY[name] = algorithm
    return algorithm


def unregister(name: str) -> None:
    """Removes a registered algorithm (the built-in ones stay).

    Args:
      name: the algorithm's name; an unknown one is ignored.

    Raises:
      ValueError: for a built-in algorithm.
    """
    if any(a.name == name for a in _BUILTIN):
        raise ValueError(f"{name!r} is built in and cannot be removed")
    _REGISTRY.pop(name, None)


def names() -> tuple[str, ...]:
    """Every registered algorithm's name, built-in ones first.

    Returns:
      The names, in registration order.
    """
    return tuple(_REGISTRY)


def get(name: str) -> Algorithm:
    """The algorithm called ``name`` (any case); ``ValueError`` listing the names.

    Args:
      name: an algorithm's name, e.g. ``"PPO"``.

    Returns:
      Its :class:`~jaxpg.algorithms.base.Algorithm` entry.
    """
    key = name.lower() if isinstance(name, str) else None
    if key not in _REGISTRY:
        raise ValueError(
            f"algorithm must be one of {', '.join(map(repr, _REGISTRY))}; got {name!r}"
        )
    return _REGISTRY[key]


def config_types() -> tuple[type, ...]:
    """The config classes of every registered algorithm.

    Returns:
      The classes, in the order of :func:`names`.
    """
    return tuple(a.config_type for a in _REGISTRY.values())


def for_config(config: Any) -> Algorithm:
    """The algorithm whose config class ``config`` is; ``TypeError`` otherwise.

    Args:
      config: a config instance (its exact class is looked up).

    Returns:
      The :class:`~jaxpg.algorithms.base.Algorithm` entry.
    """
    for algorithm in _REGISTRY.values():
        if type(config) is algorithm.config_type:
            return algorithm
    allowed = ", ".join(c.__name__ for c in config_types())
    raise TypeError(f"config must be one of {allowed}; got {type(config).__name__}")


def by_config_name(class_name: str) -> Algorithm:
    """The algorithm whose config class is called ``class_name`` (checkpoints).

    Args:
      class_name: e.g. ``"PPOConfig"``.

    Returns:
      The :class:`~jaxpg.algorithms.base.Algorithm` entry; ``ValueError`` for
      an unknown class.
    """
    for algorithm in _REGISTRY.values():
        if algorithm.config_type.__name__ == class_name:
            return algorithm
    allowed = ", ".join(c.__name__ for c in config_types())
    raise ValueError(f"unknown config class {class_name!r}; known: {allowed}")
