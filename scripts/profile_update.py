"""Where a REINFORCE update's time goes: the splits behind docs/benchmarks.md.

    python scripts/profile_update.py                 # pinned to core 0 (default)
    python scripts/profile_update.py --parts share   # only items 5-6, ≈ 1 min
    python scripts/profile_update.py --cores all

Items 1-4 (``--parts seeds``, ≈ 7 min) split the vmapped-seeds ratio.

`scripts/benchmark.py` measures the whole REINFORCE update: ``jax.vmap(train)`` over
K seeds of 64 environments against one seed with 64·K environments, per computed
env step. This script splits that ratio:

1. the episodic rollout alone (``jaxpg.rollout.episodic_rollout``), vmapped vs wide;
2. one gradient of the policy's log-probabilities over a whole batch of that
   size, vmapped over K parameter sets vs one;
3. the whole update's ratio (K = 32) for config variants: the default, no
   baseline, gradient clipping, a longer rollout chunk, a narrower MLP;
4. the whole update's ratio compiled with plain ``jax.jit`` vs ``jaxpg.jit``.

Item 5 (``--parts share``): the episodic rollout's share of one update, from the
rollout alone vs ``trainer.run`` with the same policy and num_envs (CartPole-v1 at
1024 envs with a trained policy, Breakout-MinAtar at 64 envs untrained). Item 6:
the same MinAtar rollout with its buffers padded to different lengths.

Every number is the median wall time of several calls of a compiled function
(compile excluded, ``block_until_ready``); the cores are shared, so compare
numbers from one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


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


def rollout_share(
    env_id: str, num_envs: int, trained: bool, updates: int, repeats: int
) -> dict:
    """Item 5: steps/s of the rollout alone and of the update; the rollout's share.

    Both run ``updates`` times in one compiled call (the rollouts with the keys of
    a ``lax.map``, each reduced to a sum that reads every buffer so none is
    optimised away),
    and both are counted in computed steps.
    """
    import jax
    import jax.numpy as jnp
    import numpy as np
    from benchmark import _trained_params

    import jaxpg
    from jaxpg.envs import max_episode_steps
    from jaxpg.rollout import episodic_rollout

    config = jaxpg.ReinforceConfig(env_id=env_id, num_envs=num_envs)
    trainer = jaxpg.make_trainer(config)
    state = trainer.init(jax.random.key(0))
    if trained:
        state = state._replace(params=_trained_params(env_id)[0])
    run = jaxpg.jit(lambda s: trainer.run(s, updates)[1])
    t_update = _median_wall(run, state, repeats=repeats)
    computed = float(np.sum(np.asarray(run(state)["computed_steps"])))

    env, env_params = jaxpg.make_env(env_id)
    policy = jaxpg.make_policy(config, env, env_params)
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

    roll = jaxpg.jit(lambda keys, p: jax.lax.map(lambda k: one(k, p), keys))
    args = (jax.random.split(jax.random.key(1), updates), state.params["policy"])
    t_roll = _median_wall(roll, *args, repeats=repeats)
    roll_steps = float(np.sum(np.asarray(roll(*args)[0]))) * num_envs
    return {
        "rollout_steps_per_s": roll_steps / t_roll,
        "update_computed_steps_per_s": computed / t_update,
        "update_s": t_update / updates,
        "computed_steps": computed / updates,
        "share": (t_roll / roll_steps) / (t_update / computed),
    }


def rollout_by_buffer_length(horizons: tuple[int, ...], repeats: int) -> list[dict]:
    """Item 6: Breakout-MinAtar's rollout (64 envs, untrained) with its trajectory
    buffers padded to ``max_steps`` = each of ``horizons``: same episodes, same
    executed steps, only the buffers' length differs."""
    import jax
    import numpy as np

    import jaxpg
    from jaxpg.rollout import episodic_rollout

    config = jaxpg.ReinforceConfig(env_id="Breakout-MinAtar", num_envs=64)
    env, env_params = jaxpg.make_env(config.env_id)
    policy = jaxpg.make_policy(config, env, env_params)
    params = jaxpg.make_trainer(config).init(jax.random.key(0)).params["policy"]
    keys = jax.random.split(jax.random.key(1), 50)
    rows = []
    for horizon in horizons:

        def one(key, horizon=horizon):
            traj = episodic_rollout(
                key, policy, params, env, env_params, 64, chunk=32, max_steps=horizon
            )
            return traj.steps_run, traj.reward.sum() + traj.obs[0].sum()

        fn = jaxpg.jit(lambda ks, one=one: jax.lax.map(one, ks))
        wall = _median_wall(fn, keys, repeats=repeats)
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
    ap.add_argument("--parts", default="seeds,share", help="seeds, share or both")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    if not parts <= {"seeds", "share"}:
        ap.error(f"--parts: choose from seeds, share; got {args.parts!r}")
    if args.cores != "all":
        os.sched_setaffinity(0, {int(c) for c in args.cores.split(",")})
    print(f"cores: {args.cores}; medians of {args.repeats} calls", flush=True)

    if "seeds" in parts:
        seeds_parts(args.repeats)
    if "share" in parts:
        print("\n5. the episodic rollout's share of a REINFORCE update (jaxpg.jit)")
        for env_id, n, trained, updates in (
            ("CartPole-v1", 1024, True, 3),
            ("Breakout-MinAtar", 64, False, 50),
        ):
            r = rollout_share(env_id, n, trained, updates, args.repeats)
            policy = "trained" if trained else "untrained"
            print(
                f"  {env_id} {n} envs, {policy}: rollout alone "
                f"{r['rollout_steps_per_s'] / 1e6:.2f} M steps/s, update "
                f"{r['update_computed_steps_per_s'] / 1e6:.2f} M computed steps/s "
                f"({r['update_s'] * 1e3:.0f} ms for {r['computed_steps'] / 1e3:.0f} k per "
                "update); "
                f"rollout share {r['share']:.0%}",
                flush=True,
            )
        print("\n6. Breakout-MinAtar rollout, 64 envs, untrained, by buffer length")
        for r in rollout_by_buffer_length((1000, 500, 250), args.repeats):
            print(
                f"  max_steps {r['max_steps']:4d}: {r['ms_per_rollout']:.1f} ms per "
                f"rollout, {r['steps_per_s'] / 1e6:.2f} M steps/s (longest "
                f"steps_run {r['longest_steps_run']})",
                flush=True,
            )


def seeds_parts(repeats: int) -> None:
    """Items 1-4: K seeds x 64 envs vs 1 seed x 64·K envs; ratio = vmapped / wide."""
    print("\nK seeds x 64 envs vs 1 seed x 64·K envs; ratio = vmapped / wide")
    print("\n1-2. rollout alone and one whole-batch gradient (jaxpg.jit)")
    for k in (8, 32):
        r = rollout_and_gradient(k, repeats)
        (rv, rw), (gv, gw) = r["rollout_ns_per_step"], r["gradient_ms"]
        print(
            f"  K={k:2d}: rollout {rv:.0f} vs {rw:.0f} ns/step, ratio "
            f"{r['rollout_ratio']:.2f}; gradient {gv:.1f} vs {gw:.1f} ms, ratio "
            f"{r['gradient_ratio']:.2f}",
            flush=True,
        )

    print("\n3. whole update, K = 32, config variants (jaxpg.jit)")
    for overrides in VARIANTS:
        r = update_ratio(32, overrides, "jaxpg.jit", repeats)
        v, w = r["us_per_step"]
        name = ", ".join(f"{k}={v}" for k, v in overrides.items()) or "defaults"
        print(
            f"  {name:24s} {v:.3f} vs {w:.3f} µs/step, ratio {r['ratio']:.2f}",
            flush=True,
        )

    print("\n4. whole update, defaults, by jit")
    for k in (8, 32):
        for jit in ("jax.jit", "jaxpg.jit"):
            r = update_ratio(k, {}, jit, repeats)
            v, w = r["us_per_step"]
            print(
                f"  K={k:2d} {jit:10s} {v:.3f} vs {w:.3f} µs/step, ratio "
                f"{r['ratio']:.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
