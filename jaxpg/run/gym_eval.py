"""A trained policy in gymnasium's own environments, stepped on the host.

gymnax re-implements several classic-control tasks in JAX. To check that a policy
trained in gymnax also works in the reference implementation, :func:`gymnasium_returns`
runs it in ``gymnasium.make(env_id)``: each observation goes to the jitted policy as
float32, the action comes back to the host (an int for ``Discrete`` spaces; clipped
to the action space for ``Box`` ones). :func:`gymnasium_frames` and :func:`save_gif`
render one episode to an animated GIF (gymnasium's ``rgb_array`` rendering needs
pygame: ``pip install pygame``).

gymnasium is imported inside the functions (it is a gymnax dependency).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxpg import policy as pol
from jaxpg.recurrent import is_recurrent

# gymnax ids whose gymnasium twin has the same observations, actions and horizon.
GYMNASIUM_IDS = (
    "CartPole-v1",
    "Acrobot-v1",
    "MountainCar-v0",
    "Pendulum-v1",
    "MountainCarContinuous-v0",
)

__all__ = ["GYMNASIUM_IDS", "gymnasium_frames", "gymnasium_returns", "save_gif"]


def _actor(policy: pol.Policy, stochastic: bool):
    """A jitted ``(params, obs, key, carry) → (action, carry)`` for one
    observation; the carry (a recurrent policy's, on the host between steps) is
    None for a feed-forward policy."""

    @jax.jit
    def act(params: dict, obs: jax.Array, key: jax.Array, carry: Any) -> Any:
        key = key if stochastic else None
        if carry is None:
            return pol.act(policy, params, obs, key), None
        return pol.act(policy, params, obs, key, carry=carry)

    return act


def _start_carry(policy: pol.Policy) -> Any:
    """A recurrent policy's carry at an episode's start (None: feed-forward)."""
    return policy.initial_carry(()) if is_recurrent(policy) else None


def _to_env_action(action: np.ndarray, space: Any) -> Any:
    import gymnasium

    if isinstance(space, gymnasium.spaces.Discrete):
        return int(action)
    action = np.asarray(action, dtype=space.dtype).reshape(space.shape)
    return np.clip(action, space.low, space.high)


def _check_id(env_id: str) -> None:
    if env_id not in GYMNASIUM_IDS:
        raise ValueError(
            f"{env_id} has no gymnasium twin here; gymnasium evaluation covers "
            f"{', '.join(GYMNASIUM_IDS)}"
        )


def _episode(env, act, params, key, seed, carry, frames=None) -> float:
    obs, _ = env.reset(seed=seed)
    total, done = 0.0, False
    if frames is not None:
        frames.append(env.render())
    while not done:
        key, key_act = jax.random.split(key)
        action, carry = act(params, jnp.asarray(obs, jnp.float32), key_act, carry)
        action = _to_env_action(np.asarray(action), env.action_space)
        obs, reward, terminated, truncated, _ = env.step(action)
        total += float(reward)
        done = terminated or truncated
        if frames is not None:
            frames.append(env.render())
    return total


def gymnasium_returns(
    env_id: str,
    policy: pol.Policy,
    params: dict,
    num_episodes: int = 10,
    *,
    stochastic: bool = False,
    seed: int = 0,
) -> np.ndarray:
    """Undiscounted returns ``[num_episodes]`` of ``policy`` in gymnasium's env.

    Episode i resets with ``seed + i``; ``stochastic`` samples actions (keys from
    ``jax.random.key(seed)``), otherwise the policy's mode is taken.

    Args:
      env_id: one of :data:`GYMNASIUM_IDS`.
      policy: the trained :class:`jaxpg.Policy`.
      params: its full params dict (``params["policy"]`` is used).
      num_episodes: episodes to run.
      stochastic: sample actions instead of taking the mode.
      seed: the first episode's reset seed, and the sampling key's seed.

    Returns:
      The returns, ``[num_episodes]``.

    Raises:
      ValueError: an ``env_id`` without a gymnasium twin.
    """
    import gymnasium

    _check_id(env_id)
    env = gymnasium.make(env_id)
    act = _actor(policy, stochastic)
    key = jax.random.key(seed)
    returns = []
    try:
        for i in range(num_episodes):
            key, key_episode = jax.random.split(key)
            start = _start_carry(policy)
            returns.append(_episode(env, act, params, key_episode, seed + i, start))
    finally:
        env.close()
    return np.asarray(returns)


def gymnasium_frames(
    env_id: str,
    policy: pol.Policy,
    params: dict,
    *,
    stochastic: bool = False,
    seed: int = 0,
) -> tuple[list[np.ndarray], float]:
    """One episode rendered by gymnasium.

    Args:
      env_id: one of :data:`GYMNASIUM_IDS`.
      policy: the trained :class:`jaxpg.Policy`.
      params: its full params dict.
      stochastic: sample actions instead of taking the mode.
      seed: the episode's reset seed, and the sampling key's seed.

    Returns:
      ``(RGB frames, return)``.

    Raises:
      ValueError: an ``env_id`` without a gymnasium twin.
      RuntimeError: when gymnasium cannot render (pygame is not installed).
    """
    import os

    import gymnasium

    _check_id(env_id)
    # Headless: pygame draws off-screen and needs no sound card.
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    try:
        env = gymnasium.make(env_id, render_mode="rgb_array")
        env.reset(seed=seed)
        env.render()
    except gymnasium.error.DependencyNotInstalled as error:
        raise RuntimeError(
            f"gymnasium cannot render {env_id} without pygame ({error}); install it "
            "with: pip install pygame"
        ) from None
    frames: list[np.ndarray] = []
    try:
        total = _episode(
            env,
            _actor(policy, stochastic),
            params,
            jax.random.key(seed),
            seed,
            _start_carry(policy),
            frames,
        )
    finally:
        env.close()
    return frames, total


def save_gif(
    path: str | Path, frames: list[np.ndarray], fps: int = 50, every: int = 2
) -> Path:
    """Writes ``frames`` (every ``every``-th) as an animated GIF with Pillow.

    ``fps`` is the rate of the environment's own steps (CartPole's 0.02 s step:
    50), so the GIF plays in real time.

    Frames are halved in size and share one adaptive palette, which keeps a
    500-step CartPole episode well under a megabyte.

    Args:
      path: the GIF to write (its folder is created; written to a hidden
        sibling first and renamed, so a failed write leaves no partial GIF).
      frames: RGB frames (:func:`gymnasium_frames`).
      fps: environment steps per second of playback.
      every: keep every ``every``-th frame.

    Returns:
      ``path``.
    """
    from PIL import Image

    path = Path(path)
    images = [Image.fromarray(f).reduce(2) for f in frames[::every]]
    palette = images[0].quantize(colors=32, method=Image.Quantize.MEDIANCUT)
    images = [im.quantize(palette=palette, dither=Image.Dither.NONE) for im in images]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")  # renamed once complete
    try:
        images[0].save(
            tmp,
            format="GIF",
            save_all=True,
            append_images=images[1:],
            duration=round(1000 * every / fps),
            loop=0,
            optimize=True,
        )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
