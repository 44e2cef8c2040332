"""Algorithm configurations and update functions."""

from jaxpg.algorithms.a2c import A2CConfig
from jaxpg.algorithms.ppo import PPOConfig
from jaxpg.algorithms.reinforce import ReinforceConfig

__all__ = ["A2CConfig", "PPOConfig", "ReinforceConfig"]
