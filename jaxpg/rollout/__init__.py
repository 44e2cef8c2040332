"""Rollouts: ``jax.vmap`` over environments, ``lax.scan`` over time.

:mod:`jaxpg.rollout.episodic`: one complete episode per environment (REINFORCE,
evaluation). :mod:`jaxpg.rollout.fixed`: ``num_steps`` steps per environment with
auto-reset, continued across updates (A2C, PPO).
"""

from jaxpg.rollout.episodic import Trajectory, episode_statistics, episodic_rollout
from jaxpg.rollout.fixed import Rollout, RolloutState, reset
from jaxpg.rollout.fixed import rollout as fixed_rollout

__all__ = [
    "Rollout",
    "RolloutState",
    "Trajectory",
    "episode_statistics",
    "episodic_rollout",
    "fixed_rollout",
    "reset",
]
