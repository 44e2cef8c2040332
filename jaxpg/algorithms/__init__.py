"""Algorithm configurations and update functions."""

from jaxpg.algorithms.reinforce import ReinforceConfig

__all__ = ["ReinforceConfig"]
