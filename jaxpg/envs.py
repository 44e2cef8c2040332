"""Environments: ``make_env`` and the observation-encoding wrapper.

Every jaxpg entry point (``make_train``, ``make_trainer``, ``estimate_gradient``,
``evaluate``) wraps the environment in :class:`EncodedEnv`, also when the user passes
their own gymnax ``Environment``; the wrapper is idempotent. After wrapping:

* observations are ``float32`` arrays: a ``Discrete(n)`` observation is one-hot
  encoded to shape ``[n]``, integer or boolean observations are cast to float;
* a continuous (``Box``) action is clipped to the box when it is sent to the
  environment (the policy's log-probability is of the unclipped sample);
* ``info["final_observation"]`` (gymnax >= 1.0: the observation before auto-reset)
  is encoded like every other observation;
* a dict (pytree) observation becomes one array (:func:`combine_observation`):
  vector entries are flattened and concatenated; where entries are images
  (``[H, W, C]``) of one size, they are stacked on the channel axis and every
  vector entry is tiled over the image as extra constant channels, so the conv
  torso sees the whole observation. An ``"action_mask"`` entry is kept out of
  that and appended last (:func:`jaxpg.spaces.append_action_mask`), for the
  policy to split off again.

``make_env("NAMESPACE:ID")`` builds an adapter for another JAX environment library
(:mod:`jaxpg.adapters`: brax, playground, jumanji, xminigrid, navix, craftax).

gymnax itself is imported lazily: ``import jaxpg`` does not pay for it.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxpg import adapters
from jaxpg.gymnax_import import import_gymnax
from jaxpg.spaces import (  # the space checks are re-exported: this module's API
    combine_observation as combine_observation,
)
from jaxpg.spaces import encode_dict_observation, is_box, is_dict_space, is_discrete

# Built-in gymnax ids that cannot be supported, with the reason.
UNSUPPORTED_ENVS: dict[str, str] = {
    "MNISTBandit-bsuite": (
        "it downloads the MNIST data set when it is constructed, and jaxpg never "
        "fetches data at run time"
    ),
}

# Environments that construct and run, but whose optimal policy needs memory
# (the observation alone does not identify the state): a feed-forward policy
# cannot solve them. They are accepted; the supported-environments table says so.
NEEDS_MEMORY: dict[str, str] = {
    "MemoryChain-bsuite": "the cue is shown only at the first step",
    "MetaMaze-misc": "the goal must be remembered across the episode",
}


def _gymnax_ids() -> list[str]:
    gymnax = import_gymnax()

    return list(gymnax.registered_envs)


def supported_env_ids(namespace: str | None = None) -> list[str]:
    """The ids :func:`make_env` accepts: gymnax's, or one adapter's.

    Args:
      namespace: None for gymnax's ids; an adapter namespace (``"brax"``,
        ``"playground"``, ``"jumanji"``, ``"xminigrid"``, ``"navix"``,
        ``"craftax"``) for that library's ids, ``"NAMESPACE:NAME"``.

    Returns:
      gymnax's registered ids, in its order, without :data:`UNSUPPORTED_ENVS`; or
      the adapter's ids.

    Raises:
      ValueError: for an unknown namespace, or one whose library is not installed
        (the message names the install command).
    """
    if namespace is not None:
        return adapters.adapter_ids(namespace)
    return [i for i in _gymnax_ids() if i not in UNSUPPORTED_ENVS]


def max_episode_steps(env_params: Any) -> int:
    """The horizon ``env_params.max_steps_in_episode`` as a Python int.

    Args:
      env_params: a gymnax environment's parameters (concrete, not traced).

    Returns:
      The horizon, >= 1.

    Raises:
      ValueError: when the parameters carry no such (concrete, positive) field.
    """
    value = getattr(env_params, "max_steps_in_episode", None)
    if value is None:
        raise ValueError(
            "env_params has no field max_steps_in_episode: jaxpg needs the "
            "environment's horizon to size its episodic rollout"
        )
    try:
        steps = int(value)
    except (TypeError, jax.errors.ConcretizationTypeError) as error:
        raise ValueError(
            "env_params.max_steps_in_episode must be a concrete number, not a traced "
            "value: pass env_params outside jax.jit"
        ) from error
    if steps < 1:
        raise ValueError(f"env_params.max_steps_in_episode must be >= 1, got {value!r}")
    return steps


class EncodedEnv:
    """A gymnax environment whose observations are float arrays (see module doc).

    It has the gymnax interface (``reset(key, params)``, ``step(key, state, action,
    params)`` returning ``obs, state, reward, terminated, truncated, info``,
    ``action_space``, ``observation_space``, ``default_params``) and forwards every
    other attribute to the wrapped environment.
    """

    def __init__(self, env: Any):
        if isinstance(env, EncodedEnv):  # pragma: no cover - guarded by encode_env
            env = env.env
        for attribute in ("reset", "step", "action_space", "observation_space"):
            if not hasattr(env, attribute):
                raise TypeError(
                    f"env must be a gymnax Environment; {type(env).__name__} has no "
                    f"{attribute!r}"
                )
        self.env = env

    def __getattr__(self, name: str) -> Any:
        return getattr(self.env, name)

    def __repr__(self) -> str:
        return f"EncodedEnv({type(self.env).__name__})"

    @property
    def name(self) -> str:
        return getattr(self.env, "name", type(self.env).__name__)

    @property
    def default_params(self) -> Any:
        return self.env.default_params

    def action_space(self, params: Any = None) -> Any:
        return self.env.action_space(params)

    def raw_observation_space(self, params: Any = None) -> Any:
        return self.env.observation_space(params)

    def observation_space(self, params: Any = None) -> Any:
        """The space of the *encoded* observations (a float ``Box``)."""
        from gymnax.environments import spaces

        space = self.env.observation_space(params)
        if is_discrete(space):
            return spaces.Box(0.0, 1.0, (int(space.n),), jnp.float32)
        if is_box(space):
            return spaces.Box(space.low, space.high, tuple(space.shape), jnp.float32)
        if is_dict_space(space):
            params = self.default_params if params is None else params
            shape = jax.eval_shape(
                lambda k: self.reset(k, params)[0], jax.random.key(0)
            ).shape
            return spaces.Box(-jnp.inf, jnp.inf, tuple(shape), jnp.float32)
        return space

    def encode(self, obs: Any, params: Any = None) -> jax.Array:
        """Encodes one raw observation (or a batch, for a ``Box`` space)."""
        space = self.env.observation_space(params)
        if is_discrete(space):
            return jax.nn.one_hot(obs, int(space.n), dtype=jnp.float32)
        if isinstance(obs, Mapping):
            return encode_dict_observation(obs, space if is_dict_space(space) else None)
        obs = jnp.asarray(obs)
        return obs.astype(jnp.float32)

    def clip_action(self, action: jax.Array, params: Any) -> jax.Array:
        """A ``Box`` action clipped to the box (what the environment receives)."""
        space = self.env.action_space(params)
        if is_box(space):
            return jnp.clip(action, space.low, space.high)
        return action

    def reset(self, key: jax.Array, params: Any = None) -> tuple[jax.Array, Any]:
        if params is None:
            params = self.env.default_params
        obs, state = self.env.reset(key, params)
        return self.encode(obs, params), state

    def step(
        self, key: jax.Array, state: Any, action: jax.Array, params: Any = None
    ) -> tuple[jax.Array, Any, jax.Array, jax.Array, jax.Array, dict]:
        if params is None:
            params = self.env.default_params
        out = self.env.step(key, state, self.clip_action(action, params), params)
        if len(out) != 6:
            raise TypeError(
                "env.step must return (obs, state, reward, terminated, truncated, "
                f"info) as gymnax >= 1.0 does; got a {len(out)}-tuple"
            )
        obs, state, reward, terminated, truncated, info = out
        info = dict(info)
        if "final_observation" in info:
            info["final_observation"] = self.encode(info["final_observation"], params)
        return (
            self.encode(obs, params),
            state,
            jnp.asarray(reward, jnp.float32),
            jnp.asarray(terminated, bool),
            jnp.asarray(truncated, bool),
            info,
        )


def unwrap(env: Any) -> Any:
    """The environment inside an :class:`EncodedEnv` (``env`` itself otherwise).

    Args:
      env: an environment, wrapped or not.

    Returns:
      The raw gymnax environment.
    """
    return env.env if isinstance(env, EncodedEnv) else env


def encode_env(env: Any) -> EncodedEnv:
    """Wraps ``env`` in :class:`EncodedEnv` unless it is wrapped already.

    Args:
      env: a gymnax ``Environment`` or an :class:`EncodedEnv`.

    Returns:
      The :class:`EncodedEnv` (``env`` itself when it is one).

    Raises:
      TypeError: ``env`` lacks the gymnax interface.
    """
    return env if isinstance(env, EncodedEnv) else EncodedEnv(env)


def make_env(id_or_env: Any, **kwargs: Any) -> tuple[EncodedEnv, Any]:
    """Builds a gymnax environment with jaxpg's observation encoding.

    Args:
      id_or_env: a gymnax id such as ``"CartPole-v1"``; an adapter id
        ``"NAMESPACE:ID"`` such as ``"brax:inverted_pendulum"`` (namespaces in
        :data:`jaxpg.adapters.LIBRARIES`; each needs its pip extra, e.g. ``pip
        install "jaxpg[brax]"``); or a gymnax ``Environment`` object.
      **kwargs: passed to the environment's constructor (ids only; for adapters
        see each module of :mod:`jaxpg.adapters`).

    Returns:
      ``(env, env_params)``: the encoded environment and its default parameters
      (for an adapter, :class:`jaxpg.adapters.AdapterParams` with the horizon).

    Raises:
      ValueError: for an unknown id (listing close matches), an unsupported one
        (with the reason), or an adapter whose library is not installed (naming
        the install command), before anything is built.

    >>> env, env_params = make_env("CartPole-v1")
    >>> env.action_space(env_params).n
    2
    """
    if not isinstance(id_or_env, str):
        if kwargs:
            raise TypeError(
                "make_env(env_object) takes no constructor kwargs; build the object "
                "with them yourself"
            )
        env = encode_env(id_or_env)
        return env, env.default_params
    env_id = id_or_env
    if ":" in env_id:
        namespace, _, name = env_id.partition(":")
        adapter = adapters.make_adapter(namespace, name, **kwargs)
        return EncodedEnv(adapter), adapter.default_params
    if env_id in UNSUPPORTED_ENVS:
        raise ValueError(f"{env_id} is not supported: {UNSUPPORTED_ENVS[env_id]}")
    known = supported_env_ids()
    if env_id not in known:
        lowered = {k.lower(): k for k in known}
        close = difflib.get_close_matches(
            env_id.lower(), list(lowered), n=3, cutoff=0.5
        )
        hint = (
            f"; did you mean {', '.join(repr(lowered[c]) for c in close)}?"
            if close
            else ""
        )
        raise ValueError(
            f"unknown environment id {env_id!r}{hint} (jaxpg.supported_env_ids() "
            "lists all)"
        )
    gymnax = import_gymnax()

    env, env_params = gymnax.make(env_id, **kwargs)
    return EncodedEnv(env), env_params


class Frozen:
    """A pytree (``env_params``) hashable by value: jitted builders are cached on it."""

    def __init__(self, tree: Any):
        self.tree = tree
        leaves, treedef = jax.tree.flatten(tree)
        parts = []
        for leaf in leaves:
            a = np.asarray(leaf)
            parts.append((a.dtype.str, a.shape, a.tobytes()))
        self.key = (treedef, tuple(parts))

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Frozen) and self.key == other.key
