"""Where vmapped seeds cost more than one wide run: the split behind docs/benchmarks.md.

    python scripts/seeds_profile.py            # pinned to core 0 (default), ≈ 7 min
    python scripts/seeds_profile.py --cores all

`scripts/benchmark.py` measures the whole REINFORCE update: ``jax.vmap(train)`` over
K seeds of 64 environments against one seed with 64·K environments, per computed
env step. This script splits that ratio:

1. the episodic rollout alone (``jaxpg.rollout.episodic_rollout``), vmapped vs wide;
2. one gradient of the policy's log-probabilities over a whole batch of that
   size, vmapped over K parameter sets vs one;
3. the whole update's ratio (K = 32) for config variants: the default, no
   baseline, gradient clipping, a longer rollout chunk, a narrower MLP;
4. the whole update's ratio compiled with plain ``jax.jit`` vs ``jaxpg.jit``.

Every number is the median wall time of several calls of a compiled function
(compile excluded, ``block_until_ready``); the cores are shared, so compare
numbers from one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def _median_wall(fn, *args, repeats: int) -> float:
    import jax

    jax.block_until_ready(fn(*args))
    walls = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        walls.append(time.perf_counter() - t0)
    return statistics.median(walls)


def rollout_and_gradient(k: int, repeats: int) -> dict:
    """Items 1 and 2: ns per env step of the rollout; ms of one gradient."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    import jaxpg
    from jaxpg.envs import max_episode_steps
    from jaxpg.rollout import episodic_rollout

    config = jaxpg.ReinforceConfig(num_envs=64)
    env, env_params = jaxpg.make_env(config.env_id)
    policy = jaxpg.make_policy(config, env, env_params)
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

    vmapped = jaxpg.jit(jax.vmap(lambda key, p: roll(key, p, 64)))
    wide = jaxpg.jit(lambda key, p: roll(key, p, 64 * k))
    t_v = _median_wall(vmapped, keys, params, repeats=repeats)
    t_w = _median_wall(wide, keys[0], one, repeats=repeats)
    steps_v = int(np.asarray(vmapped(keys, params).steps_run).max()) * 64 * k
    steps_w = int(wide(keys[0], one).steps_run) * 64 * k

    t = steps_v // (64 * k)  # the same batch for both: t steps x 64·K envs
    obs = jax.random.normal(jax.random.key(1), (t, 64 * k, 4))
    act = jnp.zeros((t, 64 * k), jnp.int32)

    def log_likelihood(p, o, a):
        return jaxpg.policy.log_prob(policy.apply(p, o), a).sum()

    grad_v = jaxpg.jit(jax.vmap(jax.grad(log_likelihood)))
    grad_w = jaxpg.jit(jax.grad(log_likelihood))
    obs_v = obs.reshape(t, k, 64, 4).transpose(1, 0, 2, 3)
    act_v = act.reshape(t, k, 64).transpose(1, 0, 2)
    g_v = _median_wall(grad_v, params, obs_v, act_v, repeats=repeats)
    g_w = _median_wall(grad_w, one, obs, act, repeats=repeats)
    return {
        "k": k,
        "rollout_ns_per_step": [1e9 * t_v / steps_v, 1e9 * t_w / steps_w],
        "rollout_ratio": (t_v / steps_v) / (t_w / steps_w),
        "gradient_ms": [1e3 * g_v, 1e3 * g_w],
        "gradient_ratio": g_v / g_w,
    }


def update_ratio(k: int, overrides: dict, jit: str, repeats: int) -> dict:
    """Items 3 and 4: µs per computed step of vmap(train) over K seeds vs wide."""
    import jax
    import numpy as np

    import jaxpg

    jit_fn = jaxpg.jit if jit == "jaxpg.jit" else jax.jit

    def per_step(num_envs: int, seeds: int) -> float:
        config = jaxpg.ReinforceConfig(num_envs=num_envs, num_updates=10, **overrides)
        train = jaxpg.make_train(config)
        keys = jax.random.split(jax.random.key(0), seeds)
        fn = jit_fn(lambda ks: jax.vmap(train)(ks).metrics).lower(keys).compile()
        wall = _median_wall(fn, keys, repeats=repeats)
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


VARIANTS = (
    {},
    {"baseline": "none"},
    {"max_grad_norm": 1.0},
    {"rollout_chunk": 64},
    {"hidden_sizes": (8, 8)},
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cores", default="0", help="'all' or a core list, e.g. 0")
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    if args.cores != "all":
        os.sched_setaffinity(0, {int(c) for c in args.cores.split(",")})
    print(
        f"cores: {args.cores}; medians of {args.repeats} calls; K seeds x 64 envs "
        "vs 1 seed x 64·K envs; ratio = vmapped / wide",
        flush=True,
    )

    print("\n1-2. rollout alone and one whole-batch gradient (jaxpg.jit)")
    for k in (8, 32):
        r = rollout_and_gradient(k, args.repeats)
        (rv, rw), (gv, gw) = r["rollout_ns_per_step"], r["gradient_ms"]
        print(
            f"  K={k:2d}: rollout {rv:.0f} vs {rw:.0f} ns/step, ratio "
            f"{r['rollout_ratio']:.2f}; gradient {gv:.1f} vs {gw:.1f} ms, ratio "
            f"{r['gradient_ratio']:.2f}",
            flush=True,
        )

    print("\n3. whole update, K = 32, config variants (jaxpg.jit)")
    for overrides in VARIANTS:
        r = update_ratio(32, overrides, "jaxpg.jit", args.repeats)
        v, w = r["us_per_step"]
        name = ", ".join(f"{k}={v}" for k, v in overrides.items()) or "defaults"
        print(
            f"  {name:24s} {v:.3f} vs {w:.3f} µs/step, ratio {r['ratio']:.2f}",
            flush=True,
        )

    print("\n4. whole update, defaults, by jit")
    for k in (8, 32):
        for jit in ("jax.jit", "jaxpg.jit"):
            r = update_ratio(k, {}, jit, args.repeats)
            v, w = r["us_per_step"]
            print(
                f"  K={k:2d} {jit:10s} {v:.3f} vs {w:.3f} µs/step, ratio "
                f"{r['ratio']:.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
