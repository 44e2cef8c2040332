"""What every adapter shares: the state and parameters it carries, auto-reset with
the final observation, and the conversion of a library's spaces to gymnax's.

An adapter wraps one environment of another JAX library in the gymnax interface
that jaxpg's rollouts use: ``reset(key, params) -> (obs, state)`` and
``step(key, state, action, params) -> (obs, state, reward, terminated, truncated,
info)`` with auto-reset, ``info["final_observation"]`` (the observation before the
reset) and ``params.max_steps_in_episode`` (the horizon). A subclass only maps the
library's own reset and step (:meth:`Adapter.library_reset`,
:meth:`Adapter.library_step`), keeping the library's termination and truncation
apart.

The libraries are imported inside the functions that need them (and gymnax's
spaces likewise): importing this module costs nothing beyond jax and flax.
"""

from __future__ import annotations

import abc
import importlib.util
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct


@struct.dataclass
class AdapterParams:
    """An adapter's parameters.

    Attributes:
      max_steps_in_episode: the horizon (int): a step that reaches it is truncated,
        unless the library terminated the episode on it.
      inner: the library's own parameters, where it has any (else None).
    """

    max_steps_in_episode: int
    inner: Any = None


@struct.dataclass
class AdapterState:
    """An adapter's state.

    Attributes:
      inner: the library's state (or timestep).
      time: steps taken in this episode, int32 ``[]``.
    """

    inner: Any
    time: jax.Array


def missing_library(namespace: str, module: str) -> str | None:
    """The install hint when ``module`` is not importable, else None.

    Args:
      namespace: the ``make_env`` namespace (also the pip extra's name).
      module: the library's top-level import name.

    Returns:
      None when the library is installed; otherwise the message of the
      ``ValueError`` that :func:`jaxpg.make_env` raises.
    """
    if importlib.util.find_spec(module) is not None:
        return None
    return (
        f"{namespace}: environments need the {module} library, which is not "
        f'installed: pip install "jaxpg[{namespace}]"'
    )


class Adapter(abc.ABC):
    """Base class: a library's environment behind gymnax's interface.

    Subclasses set :attr:`name` and implement :meth:`library_reset`,
    :meth:`library_step`, :meth:`action_space` and :meth:`observation_space`.
    """

    name: str = "adapter"

    def __init__(self, name: str, horizon: int, inner_params: Any = None):
        if int(horizon) < 1:
            raise ValueError(f"the horizon must be >= 1, got {horizon!r}")
        self.name = name
        self._default = AdapterParams(int(horizon), inner_params)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    @property
    def default_params(self) -> AdapterParams:
        """The parameters the adapter was built with."""
        return self._default

    @abc.abstractmethod
    def library_reset(self, key: jax.Array, inner_params: Any) -> tuple[Any, Any]:
        """The library's reset: ``(observation, library state)``."""

    @abc.abstractmethod
    def library_step(
        self, key: jax.Array, inner: Any, action: jax.Array, inner_params: Any
    ) -> tuple[Any, Any, jax.Array, jax.Array, jax.Array]:
        """The library's step: ``(obs, state, reward, terminated, truncated)``."""

    @abc.abstractmethod
    def action_space(self, params: Any = None) -> Any:
        """The action space (a gymnax space)."""

    @abc.abstractmethod
    def observation_space(self, params: Any = None) -> Any:
        """The observation space (a gymnax space; ``Dict`` for pytrees)."""

    def reset(
        self, key: jax.Array, params: AdapterParams | None = None
    ) -> tuple[Any, AdapterState]:
        """Starts an episode.

        Args:
          key: a PRNG key.
          params: the adapter's parameters (None: the defaults).

        Returns:
          ``(observation, state)``.
        """
        params = self._default if params is None else params
        with jax.numpy_rank_promotion("allow"):  # the library's own broadcasting
            obs, inner = self.library_reset(key, params.inner)
        return obs, AdapterState(inner, jnp.zeros((), jnp.int32))

    def step(
        self,
        key: jax.Array,
        state: AdapterState,
        action: jax.Array,
        params: AdapterParams | None = None,
    ) -> tuple[Any, AdapterState, jax.Array, jax.Array, jax.Array, dict]:
        """One step, with auto-reset where the episode ended.

        Args:
          key: a PRNG key.
          state: the adapter's state.
          action: the action.
          params: the adapter's parameters (None: the defaults).

        Returns:
          ``(obs, state, reward, terminated, truncated, info)``: after an episode
          end ``obs``/``state`` start the next episode and
          ``info["final_observation"]`` is the observation the step reached.
          ``truncated`` is False wherever ``terminated`` is True.
        """
        params = self._default if params is None else params
        key_step, key_reset = jax.random.split(key)
        with jax.numpy_rank_promotion("allow"):  # the library's own broadcasting
            obs, inner, reward, terminated, truncated = self.library_step(
                key_step, state.inner, action, params.inner
            )
        time = state.time + 1
        terminated = jnp.asarray(terminated).astype(bool)
        out_of_time = time >= params.max_steps_in_episode
        truncated = (jnp.asarray(truncated).astype(bool) | out_of_time) & ~terminated
        done = terminated | truncated
        obs_reset, state_reset = self.reset(key_reset, params)
        next_state = _select(done, state_reset, AdapterState(inner, time))
        next_obs = _select(done, obs_reset, obs)
        info = {"final_observation": obs}
        return (
            next_obs,
            next_state,
            jnp.asarray(reward, jnp.float32),
            terminated,
            truncated,
            info,
        )


def _select(pred: jax.Array, on_true: Any, on_false: Any) -> Any:
    return jax.tree.map(lambda a, b: jax.lax.select(pred, a, b), on_true, on_false)


def box(low: Any, high: Any, shape: tuple[int, ...], dtype: Any = jnp.float32) -> Any:
    """A gymnax ``Box``.

    Args:
      low: lower bound (scalar or array).
      high: upper bound (scalar or array).
      shape: the shape of one element.
      dtype: its dtype.

    Returns:
      ``gymnax.environments.spaces.Box``.
    """
    from gymnax.environments import spaces

    return spaces.Box(low, high, tuple(int(s) for s in shape), dtype)


def discrete(n: int) -> Any:
    """A gymnax ``Discrete(n)``.

    Args:
      n: the number of actions.

    Returns:
      ``gymnax.environments.spaces.Discrete``.
    """
    from gymnax.environments import spaces

    return spaces.Discrete(int(n))


def dict_space(spaces_by_key: dict[str, Any]) -> Any:
    """A gymnax ``Dict`` space.

    Args:
      spaces_by_key: ``{name: space}``.

    Returns:
      ``gymnax.environments.spaces.Dict``.
    """
    from gymnax.environments import spaces

    return spaces.Dict(dict(spaces_by_key))


def space_of_example(obs: Any) -> Any:
    """A space read off an example observation (pytree of arrays): a ``Box`` per
    leaf (unbounded, the leaf's shape and dtype), a ``Dict`` for a dict.

    Args:
      obs: an observation, or a pytree of ``jax.ShapeDtypeStruct``.

    Returns:
      A gymnax ``Box`` or ``Dict`` of them.
    """
    if isinstance(obs, dict):
        return dict_space({k: space_of_example(v) for k, v in obs.items()})
    dtype = np.dtype(obs.dtype)
    if np.issubdtype(dtype, np.integer) or dtype == np.bool_:
        info = np.iinfo(dtype) if dtype != np.bool_ else None
        low, high = (0, 1) if info is None else (info.min, info.max)
        return box(low, high, obs.shape, dtype)
    return box(-jnp.inf, jnp.inf, obs.shape, dtype)
