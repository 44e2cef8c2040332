"""``make_env("xminigrid:ID")``: XLand-MiniGrid (``pip install "jaxpg[xminigrid]"``).

xminigrid's ``step`` returns a ``TimeStep`` whose ``discount`` is 0 exactly when the
goal was reached (termination) and whose ``step_type`` is ``LAST`` also when
``step_num`` reaches ``params.max_steps`` (truncation); the adapter reads both
(``terminated = discount == 0``, ``truncated = LAST and not terminated``).
Observations are the agent's ``[view, view, 2]`` grid of (tile, colour) integers:
an image for jaxpg's conv torso. The horizon is xminigrid's ``max_steps``.
The XLand-MiniGrid-R* ids need a benchmark ruleset, which xminigrid downloads; they
are not offered (jaxpg fetches no data at run time).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxpg.adapters.base import Adapter, box, discrete

NAMESPACE = "xminigrid"
MODULE = "xminigrid"
EXAMPLE = "xminigrid:MiniGrid-Empty-5x5"


def ids() -> list[str]:
    """The ids this adapter builds (the library must be installed).

    Returns:
      ``["xminigrid:MiniGrid-...", ...]`` without the ruleset-downloading ones.
    """
    import xminigrid

    names = xminigrid.registered_environments()
    return [f"{NAMESPACE}:{n}" for n in names if not n.startswith("XLand-")]


class XMiniGridAdapter(Adapter):
    """An xminigrid environment behind gymnax's interface."""

    def __init__(self, name: str, env: Any, env_params: Any):
        super().__init__(f"{NAMESPACE}:{name}", int(env_params.max_steps))
        self.env = env
        self.env_params = env_params

    def library_reset(self, key: jax.Array, inner_params: Any) -> tuple[Any, Any]:
        timestep = self.env.reset(self.env_params, key)
        return timestep.observation, timestep

    def library_step(
        self, key: jax.Array, inner: Any, action: jax.Array, inner_params: Any
    ) -> tuple[Any, Any, jax.Array, jax.Array, jax.Array]:
        timestep = self.env.step(self.env_params, inner, action)
        terminated = timestep.discount == 0
        truncated = timestep.last() & ~terminated
        return timestep.observation, timestep, timestep.reward, terminated, truncated

    def action_space(self, params: Any = None) -> Any:
        return discrete(self.env.num_actions(self.env_params))

    def observation_space(self, params: Any = None) -> Any:
        shape = self.env.observation_shape(self.env_params)
        return box(0, 255, shape, jnp.uint8)


def make(name: str, **kwargs: Any) -> XMiniGridAdapter:
    """Builds ``xminigrid:name``.

    Args:
      name: an xminigrid id such as ``"MiniGrid-Empty-5x5"``.
      **kwargs: ``EnvParams`` fields (e.g. ``max_steps``, ``view_size``).

    Returns:
      The adapter.

    Raises:
      ValueError: for an unknown or a ruleset-downloading id.
    """
    import xminigrid

    if name.startswith("XLand-"):
        raise ValueError(
            f"xminigrid:{name} is not supported: the XLand-MiniGrid ids need a "
            "benchmark ruleset that xminigrid downloads, and jaxpg fetches no data"
        )
    if name not in xminigrid.registered_environments():
        raise ValueError(
            f"unknown xminigrid id {name!r}; jaxpg.supported_env_ids('xminigrid') "
            "lists them"
        )
    env, env_params = xminigrid.make(name, **kwargs)
    return XMiniGridAdapter(name, env, env_params)
