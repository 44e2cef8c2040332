"""``make_env("navix:ID")``: NAVIX grid worlds (``pip install "jaxpg[navix]"``).

NAVIX's ``Timestep.step_type`` is 0 for a transition, 1 for a truncation (``t``
reached ``max_steps``) and 2 for a termination; where both happen NAVIX reports 2
(``terminations.check_truncation`` clips ``truncated + 2·terminated``), so
termination wins as in jaxpg. NAVIX's own ``step`` resets on the call *after* an
episode end; the adapter resets in the same step instead (it never hands NAVIX a
finished timestep). The horizon is NAVIX's ``max_steps`` (``make``'s default 100,
a ``max_steps=`` keyword changes it). A NAVIX ``Discrete`` observation (a grid of
integer codes) becomes a gymnax ``Box`` of its shape and dtype.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from jaxpg.adapters.base import Adapter, box, discrete

NAMESPACE = "navix"
MODULE = "navix"
EXAMPLE = "navix:Navix-Empty-5x5-v0"


def ids() -> list[str]:
    """The ids this adapter builds (the library must be installed).

    Returns:
      ``["navix:Navix-...", ...]``.
    """
    import navix

    return [f"{NAMESPACE}:{n}" for n in sorted(navix.registry())]


class NavixAdapter(Adapter):
    """A NAVIX environment behind gymnax's interface."""

    def __init__(self, name: str, env: Any):
        super().__init__(f"{NAMESPACE}:{name}", int(env.max_steps))
        self.env = env
        # NAVIX computes its spaces' sizes with jnp (traced under jit): read them
        # once here, outside any trace.
        self.num_actions = int(env.action_space.n)
        space = env.observation_space
        self.obs_bounds = (np.asarray(space.minimum), np.asarray(space.maximum))
        self.obs_shape = tuple(int(s) for s in space.shape)
        self.obs_dtype = space.dtype

    def library_reset(self, key: jax.Array, inner_params: Any) -> tuple[Any, Any]:
        timestep = self.env.reset(key)
        return timestep.observation, timestep

    def library_step(
        self, key: jax.Array, inner: Any, action: jax.Array, inner_params: Any
    ) -> tuple[Any, Any, jax.Array, jax.Array, jax.Array]:
        timestep = self.env.step(inner, action)
        terminated = timestep.step_type == 2
        truncated = timestep.step_type == 1
        return timestep.observation, timestep, timestep.reward, terminated, truncated

    def action_space(self, params: Any = None) -> Any:
        return discrete(self.num_actions)

    def observation_space(self, params: Any = None) -> Any:
        return box(*self.obs_bounds, self.obs_shape, self.obs_dtype)


def make(name: str, **kwargs: Any) -> NavixAdapter:
    """Builds ``navix:name``.

    Args:
      name: a NAVIX id such as ``"Navix-Empty-5x5-v0"``.
      **kwargs: passed to ``navix.make`` (e.g. ``max_steps``, ``observation_fn``).

    Returns:
      The adapter.

    Raises:
      ValueError: for an unknown id.
    """
    import navix

    if name not in navix.registry():
        raise ValueError(
            f"unknown navix id {name!r}; jaxpg.supported_env_ids('navix') lists them"
        )
    return NavixAdapter(name, navix.make(name, **kwargs))
