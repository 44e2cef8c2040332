"""``make_env("jumanji:ID")``: InstaDeep's Jumanji (``pip install "jaxpg[jumanji]"``).

Jumanji's ``TimeStep`` follows dm_env: ``step_type`` LAST ends an episode, with
``discount`` 0 for a termination and a non-zero discount for a truncation
(``jumanji.types.termination`` / ``truncation``). Many Jumanji environments (Maze,
Snake, PacMan) end an episode at their ``time_limit`` through ``termination``, i.e.
as if the time limit were part of the task. jaxpg treats a time limit as a
truncation (the state has a value beyond it), so where the environment has a
``time_limit`` the adapter builds it with ``time_limit = horizon + 1`` (the
library's limit never fires) and truncates at ``horizon`` itself; every LAST step
with discount 0 is then a real termination. The horizon is the environment's own
``time_limit`` (or a ``time_limit=`` keyword), and :data:`DEFAULT_HORIZON` for an
environment without one.

Observations (NamedTuples, possibly nested) become flat dicts keyed by their
field paths (``"agent_position.row"``, ``"walls"``, ``"action_mask"``).
Only environments with one discrete action (``DiscreteArray``) are offered
(Maze, Snake, PacMan, Game2048, ...); a ``MultiDiscreteArray`` action is refused
with a message. Sokoban is refused: it downloads its level data set when built.
"""

from __future__ import annotations

from typing import Any

import jax

from jaxpg.adapters.base import Adapter, discrete, space_of_example

NAMESPACE = "jumanji"
MODULE = "jumanji"
EXAMPLE = "jumanji:Maze-v0"
# The horizon of an environment without a time limit of its own (e.g. Game2048).
DEFAULT_HORIZON = 1000
# Ids that fetch data when they are built.
DOWNLOADS = ("Sokoban-v0",)


def ids() -> list[str]:
    """The ids this adapter builds (the library must be installed).

    Returns:
      ``["jumanji:Maze-v0", ...]`` without the data-downloading ones.
    """
    import jumanji

    names = sorted(jumanji.registered_environments())
    return [f"{NAMESPACE}:{n}" for n in names if n not in DOWNLOADS]


def observation_dict(obs: Any) -> Any:
    """A Jumanji observation as a flat ``{field path: array}`` dict.

    Args:
      obs: an observation (a NamedTuple tree, or an array).

    Returns:
      The array itself, or the dict of the tree's leaves keyed by their paths.
    """
    leaves = jax.tree_util.tree_flatten_with_path(obs)[0]
    if len(leaves) == 1 and not leaves[0][0]:
        return leaves[0][1]
    return {".".join(_key_name(k) for k in path): leaf for path, leaf in leaves}


def _key_name(key: Any) -> str:
    for attribute in ("name", "key", "idx"):
        if hasattr(key, attribute):
            return str(getattr(key, attribute))
    return str(key)


class JumanjiAdapter(Adapter):
    """A Jumanji environment behind gymnax's interface."""

    def __init__(self, name: str, env: Any, horizon: int):
        super().__init__(f"{NAMESPACE}:{name}", horizon)
        self.env = env

    def library_reset(self, key: jax.Array, inner_params: Any) -> tuple[Any, Any]:
        state, timestep = self.env.reset(key)
        return observation_dict(timestep.observation), state

    def library_step(
        self, key: jax.Array, inner: Any, action: jax.Array, inner_params: Any
    ) -> tuple[Any, Any, jax.Array, jax.Array, jax.Array]:
        state, timestep = self.env.step(inner, action)
        last = timestep.last()
        terminated = last & (timestep.discount == 0)
        truncated = last & (timestep.discount != 0)
        obs = observation_dict(timestep.observation)
        return obs, state, timestep.reward, terminated, truncated

    def action_space(self, params: Any = None) -> Any:
        return discrete(int(self.env.action_spec.num_values))

    def observation_space(self, params: Any = None) -> Any:
        shapes = jax.eval_shape(lambda k: self.reset(k)[0], jax.random.key(0))
        return space_of_example(shapes)


def make(name: str, **kwargs: Any) -> JumanjiAdapter:
    """Builds ``jumanji:name``.

    Args:
      name: a Jumanji id such as ``"Maze-v0"``.
      **kwargs: passed to the environment's constructor (``time_limit`` sets the
        horizon).

    Returns:
      The adapter.

    Raises:
      ValueError: for an unknown id, a data-downloading one, or an action that is
        neither discrete nor continuous (MultiDiscrete, until jaxpg has it).
    """
    import jumanji

    if name in DOWNLOADS:
        raise ValueError(
            f"jumanji:{name} is not supported: it downloads data when it is built, "
            "and jaxpg fetches no data at run time"
        )
    if name not in jumanji.registered_environments():
        raise ValueError(
            f"unknown jumanji id {name!r}; jaxpg.supported_env_ids('jumanji') lists "
            "them"
        )
    env = jumanji.make(name, **kwargs)
    horizon = getattr(env, "time_limit", None)
    if horizon is None:
        horizon = DEFAULT_HORIZON
    else:
        env = jumanji.make(name, **{**kwargs, "time_limit": int(horizon) + 1})
    spec = env.action_spec
    if not (hasattr(spec, "num_values") and spec.shape == ()):
        raise ValueError(
            f"jumanji:{name} has the action spec {type(spec).__name__}{spec.shape}; "
            "jaxpg's jumanji adapter handles one discrete action (DiscreteArray)"
        )
    return JumanjiAdapter(name, env, int(horizon))
