"""Where a REINFORCE update's time goes: the splits behind docs/benchmarks.md.

``scripts/profile_update.py`` prints these measurements. ``scripts/benchmark.py``
measures the whole REINFORCE update: ``jax.vmap(train)`` over K seeds of 64
environments against one seed with 64·K environments, per computed env step.
These functions split that ratio and the update's cost:

* items 1-2, :func:`rollout_and_gradient`: the episodic rollout alone, vmapped vs
  wide, and one gradient of the policy's log-probabilities over a whole batch of
  that size, vmapped over K parameter sets vs one;
* items 3-4, :func:`update_ratio`: the whole update's ratio for config variants
  (:data:`VARIANTS`) and with plain ``jax.jit`` vs ``jaxpg.jit``;
* item 5, :func:`rollout_share`: the episodic rollout's share of one update;
* item 6, :func:`rollout_by_buffer_length`: Breakout-MinAtar's rollout with its
  buffers padded to different lengths;
* item 7, :func:`matmul_forms`: K seeds' MLP matmuls (and their gradient)
  written as a vmap, an einsum, one block-diagonal product, vs one wide product.

Every number is the median wall time of several calls of a compiled function
(compile excluded, ``block_until_ready``; :func:`jaxpg.run.timing.median_wall`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxpg import compilation
from jaxpg import policy as pol
from jaxpg.algorithms.reinforce import ReinforceConfig
from jaxpg.envs import make_env, max_episode_steps
from jaxpg.policy import make_policy
from jaxpg.rollout import episodic_rollout
from jaxpg.run.bench_workers import trained_params
from jaxpg.run.timing import median_wall
from jaxpg.train import make_train, make_trainer

__all__ = [
    "VARIANTS",
    "matmul_forms",
    "rollout_and_gradient",
    "rollout_by_buffer_length",
    "rollout_share",
    "update_ratio",
]

# Config variants of item 3 (fields changed from ReinforceConfig's defaults).
VARIANTS = (
    {},
    {"baseline": "none"},
    {"max_grad_norm": 1.0},
    {"rollout_chunk": 64},
    {"hidden_sizes": (8, 8)},
)


def rollout_and_gradient(k: int, repeats: int) -> dict:
    """Items 1 and 2: ns per env step of the rollout; ms of one gradient.

    Args:
      k: seeds (vmapped) against one run with 64·k environments.
      repeats: timed calls per number.

    Returns:
      ``rollout_ns_per_step`` and ``gradient_ms`` as ``[vmapped, wide]`` pairs and
      their ratios.
    """
    config = ReinforceConfig(num_envs=64)
    env, env_params = make_env(config.env_id)
    policy = make_policy(config, env, env_params)
    horizon = max_episode_steps(env_params)
    keys = jax.random.split(jax.random.key(0), k)
    params = jax.vmap(lambda key: policy.init(key, jnp.zeros((4,))))(keys)
    one = jax.tree.map(lambda x: x[0], params)

    def roll(key, p, n):
        return episodic_rollout(
            key,
            policy,
            p,
            env,
            env_params,
            n,
            chunk=config.rollout_chunk,
            max_steps=horizon,
        )

    vmapped = compilation.jit(jax.vmap(lambda key, p: roll(key, p, 64)))
    wide = compilation.jit(lambda key, p: roll(key, p, 64 * k))
    t_v = median_wall(vmapped, keys, params, repeats=repeats)[0]
    t_w = median_wall(wide, keys[0], one, repeats=repeats)[0]
    steps_v = int(np.asarray(vmapped(keys, params).steps_run).max()) * 64 * k
    steps_w = int(wide(keys[0], one).steps_run) * 64 * k

    t = steps_v // (64 * k)  # the same batch for both: t steps x 64·K envs
    obs = jax.random.normal(jax.random.key(1), (t, 64 * k, 4))
    act = jnp.zeros((t, 64 * k), jnp.int32)

    def log_likelihood(p, o, a):
        return pol.log_prob(policy.apply(p, o), a).sum()

    grad_v = compilation.jit(jax.vmap(jax.grad(log_likelihood)))
    grad_w = compilation.jit(jax.grad(log_likelihood))
    obs_v = obs.reshape(t, k, 64, 4).transpose(1, 0, 2, 3)
    act_v = act.reshape(t, k, 64).transpose(1, 0, 2)
    g_v = median_wall(grad_v, params, obs_v, act_v, repeats=repeats)[0]
    g_w = median_wall(grad_w, one, obs, act, repeats=repeats)[0]
    return {
        "k": k,
        "rollout_ns_per_step": [1e9 * t_v / steps_v, 1e9 * t_w / steps_w],
        "rollout_ratio": (t_v / steps_v) / (t_w / steps_w),
        "gradient_ms": [1e3 * g_v, 1e3 * g_w],
        "gradient_ratio": g_v / g_w,
    }


def update_ratio(k: int, overrides: dict, jit: str, repeats: int) -> dict:
    """Items 3 and 4: µs per computed step of vmap(train) over K seeds vs wide.

    Args:
      k: seeds of 64 environments against one seed of 64·k.
      overrides: ReinforceConfig fields changed from the defaults.
      jit: ``"jaxpg.jit"`` or ``"jax.jit"``.
      repeats: timed calls per number.

    Returns:
      ``us_per_step`` ``[vmapped, wide]`` and their ratio.
    """
    jit_fn = compilation.jit if jit == "jaxpg.jit" else jax.jit

    def per_step(num_envs: int, seeds: int) -> float:
        config = ReinforceConfig(num_envs=num_envs, num_updates=10, **overrides)
        train = make_train(config)
        keys = jax.random.split(jax.random.key(0), seeds)
        fn = jit_fn(lambda ks: jax.vmap(train)(ks).metrics).lower(keys).compile()
        wall = median_wall(fn, keys, repeats=repeats)[0]
        steps = float(np.asarray(fn(keys)["computed_steps"], np.float64).sum())
        return 1e6 * wall / steps

    vmapped, wide = per_step(64, k), per_step(64 * k, 1)
    return {
        "k": k,
        "overrides": overrides,
        "jit": jit,
        "us_per_step": [vmapped, wide],
        "ratio": vmapped / wide,
    }


def rollout_share(
    env_id: str, num_envs: int, trained: bool, updates: int, repeats: int
) -> dict:
    """Item 5: steps/s of the rollout alone and of the update; the rollout's share.

    Both run ``updates`` times in one compiled call (the rollouts with the keys of
    a ``lax.map``, each reduced to a sum that reads every buffer so none is
    optimised away), and both are counted in computed steps.

    Args:
      env_id: the environment.
      num_envs: its environments.
      trained: start from :func:`jaxpg.run.bench_workers.trained_params`.
      updates: updates (and rollouts) per compiled call.
      repeats: timed calls per number.

    Returns:
      both rates, the update's seconds and computed steps, and the rollout's share.
    """
    config = ReinforceConfig(env_id=env_id, num_envs=num_envs)
    trainer = make_trainer(config)
    state = trainer.init(jax.random.key(0))
    if trained:
        state = state._replace(params=trained_params(env_id)[0])
    run = compilation.jit(lambda s: trainer.run(s, updates)[1])
    t_update = median_wall(run, state, repeats=repeats)[0]
    computed = float(np.sum(np.asarray(run(state)["computed_steps"])))

    env, env_params = make_env(env_id)
    policy = make_policy(config, env, env_params)
    horizon = max_episode_steps(env_params)

    def one(key, p):
        traj = episodic_rollout(
            key,
            policy,
            p,
            env,
            env_params,
            num_envs,
            chunk=config.rollout_chunk,
            max_steps=horizon,
        )
        # Small reductions that read every buffer (a full sum of the padded [T, N]
        # observation buffer would cost more than the rollout itself).
        used = sum(jnp.sum(x[0].astype(jnp.float32)) for x in traj[:-1])
        return traj.steps_run, used + traj.reward.sum()

    roll = compilation.jit(lambda keys, p: jax.lax.map(lambda k: one(k, p), keys))
    args = (jax.random.split(jax.random.key(1), updates), state.params["policy"])
    t_roll = median_wall(roll, *args, repeats=repeats)[0]
    roll_steps = float(np.sum(np.asarray(roll(*args)[0]))) * num_envs
    return {
        "rollout_steps_per_s": roll_steps / t_roll,
        "update_computed_steps_per_s": computed / t_update,
        "update_s": t_update / updates,
        "computed_steps": computed / updates,
        "share": (t_roll / roll_steps) / (t_update / computed),
    }


def rollout_by_buffer_length(horizons: tuple[int, ...], repeats: int) -> list[dict]:
    """Item 6: Breakout-MinAtar's rollout (64 envs, untrained), buffers padded.

    The trajectory buffers are padded to ``max_steps`` = each of ``horizons``: same
    episodes, same executed steps, only the buffers' length differs.

    Args:
      horizons: the buffer lengths.
      repeats: timed calls per number.

    Returns:
      one row per horizon: ms per rollout, steps/s and the longest ``steps_run``.
    """
    config = ReinforceConfig(env_id="Breakout-MinAtar", num_envs=64)
    env, env_params = make_env(config.env_id)
    policy = make_policy(config, env, env_params)
    params = make_trainer(config).init(jax.random.key(0)).params["policy"]
    keys = jax.random.split(jax.random.key(1), 50)
    rows = []
    for horizon in horizons:

        def one(key, horizon=horizon):
            traj = episodic_rollout(
                key, policy, params, env, env_params, 64, chunk=32, max_steps=horizon
            )
            return traj.steps_run, traj.reward.sum() + traj.obs[0].sum()

        fn = compilation.jit(lambda ks, one=one: jax.lax.map(one, ks))
        wall = median_wall(fn, keys, repeats=repeats)[0]
        steps_run = np.asarray(fn(keys)[0])
        rows.append(
            {
                "max_steps": horizon,
                "ms_per_rollout": 1e3 * wall / len(keys),
                "steps_per_s": float(steps_run.sum()) * 64 / wall,
                "longest_steps_run": int(steps_run.max()),
            }
        )
    return rows


def matmul_forms(k: int, repeats: int, width: int = 32, rows: int = 1024) -> dict:
    """Item 7: the gradient of a 2-layer tanh MLP's per-seed matmuls, four ways.

    K parameter sets on K batches of ``rows`` inputs: ``vmapped`` (``jax.vmap``
    of ``x @ W``: XLA's batched dot ``[K, B, H] x [K, H, H]``), ``einsum``
    (``"kbi,kij->kbj"``, written batched by hand), ``block_diagonal`` (one
    ``[B, K·H] x [K·H, K·H]`` product of the block-diagonal weights: one large
    matmul, K× the FLOPs), against ``wide``: one parameter set on K·B rows
    (``[K·B, H] x [H, H]``, what one run with K× the environments computes).

    Args:
      k: seeds.
      repeats: timed calls per number.
      width: H.
      rows: B, inputs per seed.

    Returns:
      ``ms`` per form and ``ratio`` (each form / wide).
    """
    x = jax.random.normal(jax.random.key(0), (k, rows, width))
    w = 0.1 * jax.random.normal(jax.random.key(1), (k, width, width))

    def mlp(x, w):
        return jnp.tanh(jnp.tanh(x @ w) @ w).sum()

    def einsum(w, x):
        h = jnp.tanh(jnp.einsum("kbi,kij->kbj", x, w))
        return jnp.tanh(jnp.einsum("kbi,kij->kbj", h, w)).sum()

    def block_diagonal(w, x):
        wb = jax.scipy.linalg.block_diag(*[w[i] for i in range(k)])
        return mlp(x.transpose(1, 0, 2).reshape(rows, k * width), wb)

    forms = {
        "vmapped": (lambda w, x: jax.vmap(mlp)(x, w).sum(), w),
        "einsum": (einsum, w),
        "block_diagonal": (block_diagonal, w),
        "wide": (lambda w, x: mlp(x.reshape(k * rows, width), w), w[0]),
    }
    ms = {}
    for name, (fn, params) in forms.items():
        grad = compilation.jit(jax.grad(fn))
        ms[name] = 1e3 * median_wall(grad, params, x, repeats=repeats)[0]
    return {"k": k, "ms": ms, "ratio": {n: t / ms["wide"] for n, t in ms.items()}}
