"""Tuned configurations per (algorithm, environment): ``tuned_config``.

Each config class's defaults are tuned for CartPole-v1. For the other classic-control
environments and Breakout-MinAtar, :data:`PRESETS` holds the fields that differ from
those defaults; :func:`tuned_config` applies them (and any explicit overrides, which
win) and returns a validated config. ``scripts/train.py`` starts from the preset of
its ``--algo``/``--env-id`` (``--preset none`` turns that off), and
``scripts/results.py`` trains every preset over several seeds and writes
docs/results.md, which records what each preset reaches and at what cost.

The REINFORCE presets use reward-to-go weights with the leave-one-out mean baseline
or a learned value baseline: the unbiased variance reductions of DESIGN.md (γ < 1
without ``discount_weighting`` is the usual biased, lower-variance surrogate).

>>> import jaxpg
>>> config = jaxpg.tuned_config("ppo", "Acrobot-v1", num_updates=10)
>>> config.num_updates, config.env_id
(10, 'Acrobot-v1')
"""

from __future__ import annotations

import dataclasses
from types import MappingProxyType
from typing import Any

from jaxpg.algorithms import registry

__all__ = [
    "PRESETS",
    "preset_env_ids",
    "preset_overrides",
    "tuned_config",
]

# Fields that differ from the config class's defaults (those are tuned for
# CartPole-v1). Measured by scripts/results.py; see
# docs/results.md for what each reaches.
_PRESETS: dict[tuple[str, str], dict[str, Any]] = {
    # ---- CartPole-v1: the class defaults, trained longer where some seeds of the
    # default budget stopped short of 475 (A2C: 5 of 8; PPO: 6 of 8).
    ("reinforce", "CartPole-v1"): {},
    ("a2c", "CartPole-v1"): {"num_updates": 8000},
    ("ppo", "CartPole-v1"): {"num_updates": 300},
    # ---- Acrobot-v1 (-1 per step until the tip swings up; 500-step horizon).
    ("reinforce", "Acrobot-v1"): {
        "num_envs": 32,
        "num_updates": 150,
        "learning_rate": 3e-3,
        "hidden_sizes": (64, 64),
        "entropy_coef": 0.01,
        "baseline": "value",
    },
    ("a2c", "Acrobot-v1"): {
        "num_envs": 16,
        "num_updates": 1000,
        "learning_rate": 3e-3,
        "num_steps": 16,
        "normalize_observations": True,
    },
    ("ppo", "Acrobot-v1"): {
        "num_envs": 16,
        "num_updates": 100,
        "num_steps": 128,
        "normalize_observations": True,
    },
    # ---- MountainCar-v0 (-1 per step until the goal; 200-step horizon: sparse).
    # Observation normalisation is what makes the actor-critics find the goal.
    ("reinforce", "MountainCar-v0"): {
        "num_envs": 16,
        "num_updates": 100,
        "learning_rate": 3e-3,
        "hidden_sizes": (64, 64),
        "entropy_coef": 0.01,
        "baseline": "value",
    },
    ("a2c", "MountainCar-v0"): {
        "num_envs": 16,
        "num_updates": 1500,
        "learning_rate": 3e-3,
        "entropy_coef": 0.01,
        "num_steps": 16,
        "normalize_observations": True,
    },
    ("ppo", "MountainCar-v0"): {
        "num_envs": 16,
        "num_updates": 150,
        "entropy_coef": 0.01,
        "num_steps": 128,
        "normalize_observations": True,
    },
    # ---- Pendulum-v1 (dense cost, continuous torque; 200-step horizon).
    ("reinforce", "Pendulum-v1"): {
        "num_envs": 32,
        "num_updates": 300,
        "gamma": 0.95,
        "hidden_sizes": (64, 64),
        "baseline": "value",
    },
    ("a2c", "Pendulum-v1"): {
        "num_envs": 16,
        "num_updates": 4000,
        "learning_rate": 3e-3,
        "gamma": 0.95,
        "num_steps": 16,
        "gae_lambda": 0.9,
        "normalize_observations": True,
        "scale_rewards": True,
    },
    ("ppo", "Pendulum-v1"): {
        "num_envs": 16,
        "num_updates": 120,
        "learning_rate": 1e-3,
        "gamma": 0.95,
        "num_steps": 128,
        "normalize_observations": True,
        "scale_rewards": True,
        "num_epochs": 10,
        "num_minibatches": 16,
    },
    # ---- MountainCarContinuous-v0 (+100 at the goal, -0.1·a² per step; 999 steps).
    ("reinforce", "MountainCarContinuous-v0"): {
        "num_envs": 16,
        "num_updates": 150,
        "learning_rate": 3e-3,
        "hidden_sizes": (64, 64),
        "baseline": "value",
    },
    ("a2c", "MountainCarContinuous-v0"): {
        "num_envs": 16,
        "num_updates": 1000,
        "num_steps": 16,
        "normalize_observations": True,
    },
    ("ppo", "MountainCarContinuous-v0"): {
        "num_envs": 16,
        "num_updates": 60,
        "learning_rate": 3e-3,
        "num_steps": 128,
        "normalize_observations": True,
    },
    # ---- Breakout-MinAtar (10×10×4 images). On CPU the flatten + MLP torso
    # (conv_channels=()) is several times faster than the conv torso.
    ("a2c", "Breakout-MinAtar"): {
        "num_envs": 32,
        "num_updates": 1500,
        "learning_rate": 3e-3,
        "hidden_sizes": (128, 128),
        "entropy_coef": 0.01,
        "num_steps": 16,
        "conv_channels": (),
    },
    ("ppo", "Breakout-MinAtar"): {
        "num_envs": 32,
        "num_updates": 150,
        "hidden_sizes": (128, 128),
        "entropy_coef": 0.01,
        "conv_channels": (),
    },
    # ---- Partially observed: recurrent policies (memory_size > 0, a GRU after
    # the torso). MemoryChain-bsuite shows its cue only at the first step and asks
    # for it 5 steps later (+1 right, −1 wrong); the feed-forward policy stays at
    # chance (docs/results.md, the feed-forward experiment).
    ("reinforce", "MemoryChain-bsuite"): {
        "num_envs": 64,
        "num_updates": 100,
        "learning_rate": 3e-3,
        "memory_size": 32,
    },
    ("ppo", "MemoryChain-bsuite"): {
        "num_envs": 32,
        "num_updates": 60,
        "learning_rate": 1e-3,
        "num_steps": 32,
        "memory_size": 32,
    },
    # MetaMaze-misc: the goal stays put within an episode and the agent is moved
    # to a random cell on reaching it (it sees only its surroundings, its last
    # action and reward), so remembering where the goal was pays.
    ("ppo", "MetaMaze-misc"): {
        "num_envs": 32,
        "num_updates": 150,
        "learning_rate": 1e-3,
        "entropy_coef": 0.01,
        "num_steps": 32,
        "memory_size": 64,
    },
}

PRESETS: MappingProxyType[tuple[str, str], MappingProxyType[str, Any]] = (
    MappingProxyType({k: MappingProxyType(v) for k, v in _PRESETS.items()})
)
"""``(algorithm, env_id) → {field: value}``: read-only; fields not named keep the
config class's default."""


def _algorithm(algorithm: str) -> str:
    """The registered name of ``algorithm`` (any case); ``ValueError`` otherwise."""
    return registry.get(algorithm).name


def preset_env_ids(algorithm: str) -> tuple[str, ...]:
    """The environment ids that have a tuned preset for ``algorithm``.

    Args:
      algorithm: a registered algorithm's name (any case).

    Returns:
      The ids, in the order of :data:`PRESETS`.

    Raises:
      ValueError: for an unknown algorithm (the message lists the known ones).
    """
    name = _algorithm(algorithm)
    return tuple(env for algo, env in PRESETS if algo == name)


def preset_overrides(algorithm: str, env_id: str) -> dict[str, Any] | None:
    """A copy of the preset's fields for ``(algorithm, env_id)``; None if none.

    Args:
      algorithm: a registered algorithm's name (any case).
      env_id: a gymnax id.

    Returns:
      ``{field: value}`` the preset changes from the config's defaults, or None.

    Raises:
      ValueError: for an unknown algorithm.
    """
    preset = PRESETS.get((_algorithm(algorithm), env_id))
    return None if preset is None else dict(preset)


def tuned_config(algorithm: str, env_id: str, **overrides: Any) -> Any:
    """The tuned config of ``algorithm`` on ``env_id``, with ``overrides`` applied.

    Args:
      algorithm: ``"reinforce"``, ``"a2c"`` or ``"ppo"`` (any case).
      env_id: a gymnax id with a preset for that algorithm
        (:func:`preset_env_ids`).
      **overrides: config fields that replace the preset's values (and the
        defaults); they always win.

    Returns:
      A validated :class:`ReinforceConfig`, :class:`A2CConfig` or :class:`PPOConfig`.

    Raises:
      ValueError: an unknown algorithm, an environment without a preset for it
        (the message lists those with one), an unknown field, or a value the
        config rejects (its own message, naming the field).

    >>> from jaxpg.algorithms.reinforce import ReinforceConfig
    >>> tuned_config("reinforce", "CartPole-v1") == ReinforceConfig()
    True
    """
    name = _algorithm(algorithm)
    preset = preset_overrides(name, env_id)
    if preset is None:
        raise ValueError(
            f"no tuned preset for algorithm {name!r} on env_id {env_id!r}; presets "
            f"for {name!r} exist for: {', '.join(preset_env_ids(name))}"
        )
    config_cls = registry.get(name).config_type
    fields = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(
            f"{config_cls.__name__} has no field(s) {', '.join(unknown)}; its fields "
            f"are {', '.join(sorted(fields))}"
        )
    values = {**preset, **overrides}
    values.setdefault("env_id", env_id)
    return config_cls(**values)
