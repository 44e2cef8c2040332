"""jaxpg: policy-gradient reinforcement learning as pure JAX functions.

>>> import jax, jaxpg
>>> config = jaxpg.ReinforceConfig(env_id="CartPole-v1", num_envs=8, num_updates=2)
>>> result = jax.jit(jaxpg.make_train(config))(jax.random.key(0))
"""

from jaxpg import diagnostics, losses, pathwise, returns
from jaxpg.algorithms.a2c import A2CConfig
from jaxpg.algorithms.ppo import PPOConfig
from jaxpg.algorithms.reinforce import ReinforceConfig
from jaxpg.checkpoint import load, save
from jaxpg.compilation import compile_options, jit
from jaxpg.envs import make_env, supported_env_ids
from jaxpg.evaluate import evaluate
from jaxpg.policy import Policy, act, make_policy, make_value
from jaxpg.presets import tuned_config
from jaxpg.rollout import Trajectory, episodic_rollout
from jaxpg.solve import SolveResult, make_solve
from jaxpg.state import HParams, Trainer, TrainResult, TrainState, hparams
from jaxpg.train import estimate_gradient, make_train, make_trainer
from jaxpg.version import __version__ as __version__

__all__ = [
    "A2CConfig",
    "HParams",
    "PPOConfig",
    "Policy",
    "ReinforceConfig",
    "SolveResult",
    "TrainResult",
    "TrainState",
    "Trainer",
    "Trajectory",
    "act",
    "compile_options",
    "diagnostics",
    "episodic_rollout",
    "estimate_gradient",
    "evaluate",
    "hparams",
    "jit",
    "load",
    "losses",
    "make_env",
    "make_policy",
    "make_solve",
    "make_train",
    "make_trainer",
    "make_value",
    "pathwise",
    "returns",
    "save",
    "supported_env_ids",
    "tuned_config",
]
