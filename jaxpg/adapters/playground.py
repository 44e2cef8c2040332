"""``make_env("playground:NAME")``: MuJoCo Playground (``pip install "jaxpg[playground]"``).

Playground environments have brax's API (``reset(rng)``, ``step(state, action)``,
``state.done`` is the termination) and no time limit of their own; Playground's
own training wrapper (``mujoco_playground.wrapper.wrap_for_brax_training``) puts
them in brax's ``EpisodeWrapper`` with the config's ``episode_length`` and
``action_repeat``. The adapter does the same (see :mod:`jaxpg.adapters.brax` for
how truncation is read) with the environment's default config: the horizon is
``config.episode_length`` steps of ``action_repeat`` physics steps each. Dict
observations (e.g. locomotion's ``"state"``/``"privileged_state"``) stay dicts.
On a CPU backend the adapter selects MJX's ``impl="jax"`` unless ``impl=`` is
given: the ``"warp"`` default of many configs failed under ``jit(vmap(...))`` here.
"""

from __future__ import annotations

from typing import Any

import jax

from jaxpg.adapters.brax import EpisodeAdapter

NAMESPACE = "playground"
MODULE = "mujoco_playground"
EXAMPLE = "playground:CartpoleBalance"


def ids() -> list[str]:
    """The ids this adapter builds (the library must be installed).

    Returns:
      ``["playground:CartpoleBalance", ...]``.
    """
    from mujoco_playground import registry

    return [f"{NAMESPACE}:{n}" for n in sorted(registry.ALL_ENVS)]


def make(name: str, **kwargs: Any) -> EpisodeAdapter:
    """Builds ``playground:name``.

    Args:
      name: a Playground environment such as ``"CartpoleBalance"``.
      **kwargs: overrides of the environment's default config (e.g.
        ``episode_length=500``).

    Returns:
      The adapter.

    Raises:
      ValueError: for an unknown name.
    """
    from mujoco_playground import registry

    if name not in registry.ALL_ENVS:
        raise ValueError(
            f"unknown playground environment {name!r}; "
            "jaxpg.supported_env_ids('playground') lists them"
        )
    config = registry.get_default_config(name)
    if "impl" in config and "impl" not in kwargs and jax.default_backend() == "cpu":
        # MJX's warp implementation (many configs' default) leaked a tracer out
        # of jit(vmap(step)) here on CPU, and then hung; the JAX one works.
        config.impl = "jax"
    config.update(kwargs)
    env = registry.load(name, config=config)
    return EpisodeAdapter(
        f"{NAMESPACE}:{name}",
        env,
        int(config.episode_length),
        int(config.get("action_repeat", 1)),
    )
