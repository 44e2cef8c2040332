"""``make_env("craftax:ID")``: Craftax and Craftax-Classic (``pip install "jaxpg[craftax]"``).

Craftax's environments are gymnax-style, but built on craftax's own base classes
with the pre-1.0 gymnax ``step`` (one ``done``). Their ``is_terminal`` is
``timestep >= params.max_timesteps`` (the time limit) or the player's death (or,
in Craftax, the final boss beaten). The adapter uses the no-auto-reset variant
(``make_craftax_env_from_name(name, auto_reset=False)``) and splits ``done``:
``terminated`` is ``is_terminal`` evaluated with ``max_timesteps`` set out of reach
(death or victory only), ``truncated`` is the rest of ``done``. The horizon is
``params.max_timesteps`` (Craftax 100000, Classic 10000). Symbolic observations
are flat vectors; pixel observations are ``[H, W, 3]`` images for the conv torso.
World generation runs inside every step (the reset that auto-reset selects), as
in craftax's own auto-reset environments.
"""

from __future__ import annotations

from typing import Any

import jax

from jaxpg.adapters.base import Adapter, box, discrete

NAMESPACE = "craftax"
MODULE = "craftax"
EXAMPLE = "craftax:Craftax-Classic-Symbolic-v1"
NAMES = (
    "Craftax-Symbolic-v1",
    "Craftax-Pixels-v1",
    "Craftax-Classic-Symbolic-v1",
    "Craftax-Classic-Pixels-v1",
)
NEVER = 2**31 - 1


def ids() -> list[str]:
    """The ids this adapter builds.

    Returns:
      ``["craftax:Craftax-Symbolic-v1", ...]``.
    """
    return [f"{NAMESPACE}:{n}" for n in NAMES]


class CraftaxAdapter(Adapter):
    """A Craftax environment behind gymnax's (>= 1.0) interface."""

    def __init__(self, name: str, env: Any, env_params: Any):
        super().__init__(
            f"{NAMESPACE}:{name}", int(env_params.max_timesteps), env_params
        )
        self.env = env

    def library_reset(self, key: jax.Array, inner_params: Any) -> tuple[Any, Any]:
        return self.env.reset_env(key, inner_params)

    def library_step(
        self, key: jax.Array, inner: Any, action: jax.Array, inner_params: Any
    ) -> tuple[Any, Any, jax.Array, jax.Array, jax.Array]:
        obs, state, reward, done, _ = self.env.step_env(
            key, inner, action, inner_params
        )
        terminated = self.env.is_terminal(
            state, inner_params.replace(max_timesteps=NEVER)
        )
        return obs, state, reward, terminated, done & ~terminated

    def action_space(self, params: Any = None) -> Any:
        return discrete(self.env.num_actions)

    def observation_space(self, params: Any = None) -> Any:
        params = self.default_params if params is None else params
        space = self.env.observation_space(params.inner)
        return box(space.low, space.high, tuple(space.shape), space.dtype)


def make(name: str, **kwargs: Any) -> CraftaxAdapter:
    """Builds ``craftax:name``.

    Args:
      name: one of :data:`NAMES`.
      **kwargs: fields of craftax's ``EnvParams`` (e.g. ``max_timesteps``).

    Returns:
      The adapter.

    Raises:
      ValueError: for an unknown name.
    """
    if name not in NAMES:
        raise ValueError(f"unknown craftax id {name!r}; the ids are {list(NAMES)}")
    from craftax.craftax_env import make_craftax_env_from_name

    env = make_craftax_env_from_name(name, auto_reset=False)
    params = env.default_params.replace(**kwargs) if kwargs else env.default_params
    return CraftaxAdapter(name, env, params)
