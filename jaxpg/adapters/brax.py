"""``make_env("brax:NAME")``: brax's environments (``pip install "jaxpg[brax]"``).

A brax environment's ``state.done`` is its termination (e.g. an unhealthy Ant);
brax has no time limit of its own. Its training wrapper
``brax.envs.training.EpisodeWrapper`` counts steps and, at ``episode_length``,
sets ``done`` to 1 and ``state.info["truncation"] = 1 - done_before`` -- 1 only
where the environment had not terminated on that step. The adapter wraps the
environment in that ``EpisodeWrapper`` (``action_repeat=1``) and reads
``terminated = done and not truncation``, ``truncated = truncation``; it does not
use brax's ``AutoResetWrapper`` (the adapter resets, keeping the final
observation). The horizon is ``episode_length`` (default 1000, as in brax's
training code). MuJoCo Playground environments are wrapped the same way
(:mod:`jaxpg.adapters.playground`). Actions are ``Box(-1, 1, (action_size,))``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxpg.adapters.base import Adapter, box, space_of_example

NAMESPACE = "brax"
MODULE = "brax"
EXAMPLE = "brax:inverted_pendulum"
DEFAULT_EPISODE_LENGTH = 1000


def ids() -> list[str]:
    """The ids this adapter builds (the library must be installed).

    Returns:
      ``["brax:ant", ...]``.
    """
    from brax import envs

    # brax keeps its registry in a private dict; it has no public listing.
    return [f"{NAMESPACE}:{n}" for n in sorted(envs._envs)]


class EpisodeAdapter(Adapter):
    """A brax-API environment (brax or Playground) in brax's ``EpisodeWrapper``."""

    def __init__(
        self, name: str, env: Any, episode_length: int, action_repeat: int = 1
    ):
        from brax.envs.wrappers.training import EpisodeWrapper

        super().__init__(name, episode_length)
        self.env = EpisodeWrapper(env, int(episode_length), int(action_repeat))
        self.action_size = int(env.action_size)

    def library_reset(self, key: jax.Array, inner_params: Any) -> tuple[Any, Any]:
        state = self.env.reset(jax.random.key_data(key))
        return state.obs, state

    def library_step(
        self, key: jax.Array, inner: Any, action: jax.Array, inner_params: Any
    ) -> tuple[Any, Any, jax.Array, jax.Array, jax.Array]:
        state = self.env.step(inner, action)
        truncated = state.info["truncation"] > 0
        terminated = (state.done > 0) & ~truncated
        return state.obs, state, state.reward, terminated, truncated

    def action_space(self, params: Any = None) -> Any:
        return box(-1.0, 1.0, (self.action_size,), jnp.float32)

    def observation_space(self, params: Any = None) -> Any:
        shapes = jax.eval_shape(lambda k: self.reset(k)[0], jax.random.key(0))
        return space_of_example(shapes)


def make(name: str, **kwargs: Any) -> EpisodeAdapter:
    """Builds ``brax:name``.

    Args:
      name: a brax environment name such as ``"inverted_pendulum"``.
      **kwargs: ``episode_length`` (the horizon, default 1000); the rest goes to
        ``brax.envs.get_environment`` (e.g. ``backend="positional"``).

    Returns:
      The adapter.

    Raises:
      ValueError: for an unknown name.
    """
    from brax import envs

    if name not in envs._envs:
        raise ValueError(
            f"unknown brax environment {name!r}; jaxpg.supported_env_ids('brax') "
            "lists them"
        )
    episode_length = int(kwargs.pop("episode_length", DEFAULT_EPISODE_LENGTH))
    env = envs.get_environment(name, **kwargs)
    return EpisodeAdapter(f"{NAMESPACE}:{name}", env, episode_length)
