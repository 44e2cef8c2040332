"""flax.linen modules: an MLP torso with categorical, Gaussian and value heads.

Initialisation uses flax's default (LeCun-normal) kernels and a small-scale last
layer. Orthogonal initialisation is deliberately avoided: it runs a QR
decomposition, and a batched QR under ``jit(vmap(...))`` (training several seeds at
once) can deadlock on small CPU machines with jax 0.10.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

# logits [..., A], (mean [..., A], log_std [..., A]), or a MultiCategorical /
# SquashedGaussian (jaxpg.distributions)
PolicyOutput = Any


class Policy(NamedTuple):
    """A policy (or value function) as pure functions.

    Feed-forward: ``apply(params, obs) → output`` and ``initial_carry`` None.
    Recurrent (:mod:`jaxpg.recurrent`): ``apply(params, obs, carry) → (output,
    carry)`` and ``initial_carry(batch_shape) → carry``.
    """

    init: Callable[[jax.Array, jax.Array], Any]  # (key, obs) → params
    apply: Callable[..., Any]  # (params, obs) → output, or (params, obs, carry)
    # batch_shape → the carry at an episode's start; None: feed-forward
    initial_carry: Callable[[tuple[int, ...]], Any] | None = None


ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
    "gelu": jax.nn.gelu,
    "elu": jax.nn.elu,
    "silu": jax.nn.silu,
}


class MLP(nn.Module):
    """Fully connected torso: ``Dense → activation`` for each hidden size.

    Observations with more than one feature axis (``obs_ndim > 1``) are flattened.
    With ``conv_channels`` (image observations ``[..., H, W, C]``, ``obs_ndim ==
    3``), ``3×3 Conv → ReLU`` layers (stride 1, same padding) come first.
    """

    hidden_sizes: Sequence[int]
    activation: str = "tanh"
    obs_ndim: int = 1
    conv_channels: Sequence[int] = ()

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        x = obs
        if self.conv_channels:
            if self.obs_ndim != 3:
                raise ValueError(
                    "conv_channels needs image observations [H, W, C]; got "
                    f"{self.obs_ndim}-D observations"
                )
            batch_shape = obs.shape[:-3]
            x = x.reshape((-1, *obs.shape[-3:]))
            for channels in self.conv_channels:
                x = jax.nn.relu(nn.Conv(channels, (3, 3), padding="SAME")(x))
            x = x.reshape((*batch_shape, *x.shape[-3:]))
        if self.obs_ndim != 1:
            batch_shape = x.shape[: x.ndim - self.obs_ndim]
            x = x.reshape(*batch_shape, -1)
        act = ACTIVATIONS[self.activation]
        for size in self.hidden_sizes:
            x = act(nn.Dense(size)(x))
        return x


def _head_init(scale: float) -> Callable:
    return nn.initializers.variance_scaling(scale, "fan_avg", "uniform")


class CategoricalPolicyNet(nn.Module):
    """Logits ``[..., num_actions]`` of a categorical policy."""

    num_actions: int
    hidden_sizes: Sequence[int]
    activation: str = "tanh"
    obs_ndim: int = 1
    conv_channels: Sequence[int] = ()

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        x = MLP(self.hidden_sizes, self.activation, self.obs_ndim, self.conv_channels)(
            obs
        )
        return nn.Dense(self.num_actions, kernel_init=_head_init(0.01))(x)


class GaussianPolicyNet(nn.Module):
    """Mean ``[..., action_dim]`` and a learned log-std ``[..., action_dim]``.

    The log-std is one parameter per action dimension (state-independent), or with
    ``state_dependent_std`` a second linear head on the torso whose kernel starts
    at zero and bias at ``init_log_std`` (the same start as the parameter).
    """

    action_dim: int
    hidden_sizes: Sequence[int]
    activation: str = "tanh"
    obs_ndim: int = 1
    init_log_std: float = 0.0
    conv_channels: Sequence[int] = ()
    state_dependent_std: bool = False

    @nn.compact
    def __call__(self, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        x = MLP(self.hidden_sizes, self.activation, self.obs_ndim, self.conv_channels)(
            obs
        )
        mean = nn.Dense(self.action_dim, kernel_init=_head_init(0.01))(x)
        if self.state_dependent_std:
            log_std = nn.Dense(
                self.action_dim,
                kernel_init=nn.initializers.zeros,
                bias_init=nn.initializers.constant(self.init_log_std),
                name="log_std_head",
            )(x)
            return mean, log_std
        log_std = self.param(
            "log_std", nn.initializers.constant(self.init_log_std), (self.action_dim,)
        )
        return mean, jnp.broadcast_to(log_std, mean.shape)


class ValueNet(nn.Module):
    """State value ``V(s)``: one number per observation, shape ``[...]``."""

    hidden_sizes: Sequence[int]
    activation: str = "tanh"
    obs_ndim: int = 1
    conv_channels: Sequence[int] = ()

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        x = MLP(self.hidden_sizes, self.activation, self.obs_ndim, self.conv_channels)(
            obs
        )
        return nn.Dense(1, kernel_init=_head_init(1.0))(x)[..., 0]
