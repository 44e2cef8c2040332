"""The benchmark's measurements, each run inside a fresh worker process.

``python -m jaxpg.run.bench_workers --worker JSON [--cache-dir D]`` runs one of
them and prints its result as one JSON line; :func:`jaxpg.run.bench.measure`
starts the workers (pinned to core 0 or not, with a persistent compilation cache
directory or not) and puts the report together.

* :func:`worker_throughput`: per num_envs, the env ceiling (raw gymnax env, random
  actions), the rollout ceiling (jaxpg's policy acting, no learning) and the
  training rates of REINFORCE (untrained and trained policy), A2C and PPO;
* :func:`worker_compile`: ``jaxpg.jit(make_train(config)).lower(key)`` and
  ``.compile()`` of every registered algorithm's default config, timed apart;
* :func:`worker_seeds`: ``jax.vmap(train)`` over K seeds of 64 environments
  against one seed with K × 64 environments, per computed environment step.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import gymnax
import jax
import jax.numpy as jnp
import numpy as np

from jaxpg import policy as pol
from jaxpg.algorithms import registry
from jaxpg.algorithms.reinforce import ReinforceConfig
from jaxpg.compilation import jit
from jaxpg.envs import make_env
from jaxpg.policy import make_policy
from jaxpg.run.timing import compile_and_time
from jaxpg.train import make_train, make_trainer

__all__ = [
    "FIXED_LENGTH_UPDATE_CAPS",
    "PINNED_MAX_ENVS",
    "SEED_ENVS",
    "TARGET_ENVS",
    "TARGET_STEPS",
    "TRAIN_BUDGET",
    "WORKERS",
    "ceiling",
    "clamp",
    "random_action",
    "train_rate",
    "trained_params",
    "training_rows",
    "worker_compile",
    "worker_main",
    "worker_seeds",
    "worker_throughput",
]

PINNED_MAX_ENVS = 256  # ceilings in a process pinned to core 0 up to this num_envs
TARGET_STEPS = 1 << 18  # computed env steps per timed call (roughly)
TARGET_ENVS = 1024  # the num_envs of the "training ≥ 50 % of the ceiling" target
SEED_ENVS = 64  # num_envs of each vmapped seed
# Per-environment training budget: (computed env steps per timed call, largest
# num_envs at which the algorithms are trained, fewest updates per call, timed calls
# per training measurement). With its conv torso, A2C/PPO on Breakout-MinAtar run
# at ~10^3-10^4 steps/s on this 2-core CPU (PPO < 3k), so its training rows stop at num_envs
# 64 with ~4k steps and one timed call (after the untimed one) per measurement; its
# env and rollout ceilings are measured at every num_envs with the usual repeats.
TRAIN_BUDGET = {"Breakout-MinAtar": (1 << 12, 64, 1, 1)}
# The fixed-length algorithms of the throughput table and the most updates of one
# timed call (their row key is the registry name).
FIXED_LENGTH_UPDATE_CAPS = {"a2c": 1000, "ppo": 100}


# --------------------------------------------------------------------------- worker


def random_action(env, params):
    """Uniformly random actions of ``env``'s action space.

    Args:
      env: a gymnax environment.
      params: its parameters.

    Returns:
      ``(key, n) → n`` actions (integers for a discrete space, floats in the box).
    """
    space = env.action_space(params)
    if hasattr(space, "n"):
        return lambda k, n: jax.random.randint(k, (n,), 0, int(space.n))
    low = jnp.asarray(space.low, jnp.float32)
    high = jnp.asarray(space.high, jnp.float32)
    return lambda k, n: jax.random.uniform(
        k, (n, *space.shape), minval=low, maxval=high
    )


def ceiling(env_id: str, n: int, steps: int, repeats: int, policy: bool) -> dict:
    """Steps/s of a fixed-length auto-reset loop (random or policy actions).

    Args:
      env_id: the environment.
      n: parallel environments (``jax.vmap``).
      steps: ``lax.scan`` steps per call.
      repeats: timed calls.
      policy: True: ``jaxpg.make_env``'s env with the default REINFORCE policy
        sampling the actions; False: the raw gymnax env with random actions.

    Returns:
      ``{"steps", "compile_s", "wall_s", "steps_per_s"}``.
    """
    if policy:
        env, params = make_env(env_id)
        net = make_policy(ReinforceConfig(env_id=env_id), env, params)
        net_params = net.init(jax.random.key(1), pol.example_observation(env, params))
    else:
        env, params = gymnax.make(env_id)
        net = net_params = None
        rand = random_action(env, params)

    def run(key):
        obs, state = jax.vmap(env.reset, in_axes=(0, None))(
            jax.random.split(key, n), params
        )

        def step(carry, _):
            key, obs, state = carry
            key, k_act, k_env = jax.random.split(key, 3)
            if policy:
                action = pol.sample(k_act, net.apply(net_params, obs))
            else:
                action = rand(k_act, n)
            obs, state, reward, done, _ = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
                jax.random.split(k_env, n), state, action, params
            )[:5]
            return (key, obs, state), reward.sum()

        _, rewards = jax.lax.scan(step, (key, obs, state), None, length=steps)
        return rewards.sum()

    r = compile_and_time(run, (jax.random.key(0),), repeats)
    return {
        "steps": steps * n,
        "compile_s": r["compile_s"],
        "wall_s": r["wall_s"],
        "steps_per_s": steps * n / r["wall_s"],
    }


def trained_params(env_id: str) -> tuple:
    """Parameters of a REINFORCE policy trained on CartPole to a return of ~500.

    Args:
      env_id: the environment (CartPole-v1 in the benchmarks).

    Returns:
      ``(params, mean return of the last update)``: at most 200 updates of the
      default config, in chunks of 10, stopping once a chunk ends at ≥ 495.
    """
    config = ReinforceConfig(env_id=env_id)
    trainer = make_trainer(config)
    state = trainer.init(jax.random.key(0))
    run = jit(trainer.run, static_argnums=1)
    ret = 0.0
    for _ in range(20):
        state, metrics = run(state, 10)
        ret = float(metrics["episode_return"][-1])
        if ret >= 495:
            break
    return state.params, ret


def train_rate(config: Any, repeats: int, updates: int, params=None) -> dict:
    """Steps/s of ``updates`` updates of ``make_trainer(config)`` from ``init``.

    Args:
      config: any registered algorithm's config.
      repeats: timed calls.
      updates: updates per call.
      params: parameters to start from instead of the initial ones.

    Returns:
      compile and wall seconds, computed and real steps/s, the masked fraction and
      the mean episode return of the last call.
    """
    trainer = make_trainer(config)
    state = trainer.init(jax.random.key(0))
    if params is not None:
        state = state._replace(params=params)

    def run(state):
        return trainer.run(state, updates)[1]

    r = compile_and_time(run, (state,), repeats)
    m = r["out"]
    real = float(np.sum(np.asarray(m["env_steps"], np.float64)))
    computed = (
        float(np.sum(np.asarray(m["computed_steps"], np.float64)))
        if "computed_steps" in m
        else real
    )
    return {
        "updates": updates,
        "compile_s": r["compile_s"],
        "wall_s": r["wall_s"],
        "computed_steps_per_s": computed / r["wall_s"],
        "real_steps_per_s": real / r["wall_s"],
        "masked_fraction": 1.0 - real / computed,
        "episode_return": float(np.mean(np.asarray(m["episode_return"]))),
    }


def clamp(x: float, lo: int, hi: int) -> int:
    """``round(x)`` clamped to ``[lo, hi]``.

    Args:
      x: the value.
      lo: the smallest result.
      hi: the largest result.

    Returns:
      an int.
    """
    return int(max(lo, min(hi, round(x))))


def worker_throughput(env_id: str, ns: list[int], repeats: int, what: str) -> dict:
    """The throughput rows of one environment, one per num_envs in ``ns``.

    Args:
      env_id: the environment.
      ns: the num_envs values.
      repeats: timed calls per measurement.
      what: ``"train"``: ceilings and training rates; ``"ceiling"``: ceilings only.

    Returns:
      ``{str(n): row}`` (and ``trained_return`` when a trained policy was used).
    """
    out: dict = {}
    trained = None
    if "train" in what and env_id == "CartPole-v1":
        params, ret = trained_params(env_id)
        trained = params
        out["trained_return"] = ret
    budget = TRAIN_BUDGET.get(env_id, (TARGET_STEPS, None, 2, repeats))
    for n in ns:
        row: dict = {}
        steps = clamp(TARGET_STEPS / n, 32, 4096)
        row["env"] = ceiling(env_id, n, steps, repeats, policy=False)
        row["rollout"] = ceiling(env_id, n, steps, repeats, policy=True)
        if "train" in what and (budget[1] is None or n <= budget[1]):
            row.update(training_rows(env_id, n, budget, trained))
        out[str(n)] = row
        print(f"# {env_id} N={n} done", file=sys.stderr, flush=True)
    return out


def training_rows(env_id: str, n: int, budget: tuple, trained: Any) -> dict:
    """REINFORCE (untrained; trained when ``trained``), then A2C and PPO at ``n``.

    REINFORCE on CartPole computes ~32 steps per env per update untrained, ~512
    trained; other envs run their full horizon. The leave-one-out mean baseline
    needs two episodes: none at N = 1.

    Args:
      env_id: the environment.
      n: num_envs.
      budget: ``(computed steps per call, largest num_envs, fewest updates per
        call, timed calls)``.
      trained: parameters of a trained CartPole policy, or None.

    Returns:
      ``{row key: train_rate(...)}``.
    """
    target, _, lo, train_repeats = budget
    rows = {}
    r = ReinforceConfig(env_id=env_id, num_envs=n, baseline="mean" if n > 1 else "none")
    rows["reinforce_untrained"] = train_rate(
        r, train_repeats, clamp(target / (32 * n), lo, 20)
    )
    if trained is not None:
        rows["reinforce_trained"] = train_rate(
            r, train_repeats, clamp(target / (512 * n), 1, 20), trained
        )
    for name, cap in FIXED_LENGTH_UPDATE_CAPS.items():
        config = registry.get(name).config_type(env_id=env_id, num_envs=n)
        rows[name] = train_rate(
            config, train_repeats, clamp(target / (config.num_steps * n), lo, cap)
        )
    return rows


def worker_compile(algo: str, env_id: str) -> dict:
    """Trace + lower and compile seconds of ``jaxpg.jit(make_train(config))``.

    Args:
      algo: a registered algorithm's name (its default config is used).
      env_id: the environment.

    Returns:
      ``{"lower_s", "compile_s"}``.
    """
    config = registry.get(algo).config_type(env_id=env_id)
    train = make_train(config)
    t0 = time.perf_counter()
    lowered = jit(train).lower(jax.random.key(0))
    t1 = time.perf_counter()
    lowered.compile()
    t2 = time.perf_counter()
    return {"lower_s": t1 - t0, "compile_s": t2 - t1}


def worker_seeds(ks: list[int], updates: int, repeats: int) -> dict:
    """K seeds × :data:`SEED_ENVS` envs vmapped against 1 seed × K·SEED_ENVS envs.

    Args:
      ks: the K values.
      updates: REINFORCE updates per call (from init, CartPole-v1).
      repeats: timed calls.

    Returns:
      ``{"updates", "num_envs", "rows"}``; each row has both runs' wall and µs per
      computed step, and their ratio (vmapped / wide).
    """

    def per_step(num_envs: int, k: int) -> dict:
        train = make_train(ReinforceConfig(num_envs=num_envs, num_updates=updates))
        keys = jax.random.split(jax.random.key(0), k)
        r = compile_and_time(lambda ks: jax.vmap(train)(ks).metrics, (keys,), repeats)
        # Vmapped seeds share one rollout loop: each seed reports its steps.
        computed = float(np.asarray(r["out"]["computed_steps"], np.float64).sum())
        return {
            "seeds": k,
            "num_envs": num_envs,
            "wall_s": r["wall_s"],
            "compile_s": r["compile_s"],
            "computed_steps": computed,
            "us_per_step": 1e6 * r["wall_s"] / computed,
        }

    rows = []
    for k in ks:
        vm = per_step(SEED_ENVS, k)
        one = per_step(SEED_ENVS * k, 1)
        rows.append(
            {
                "k": k,
                "vmap": vm,
                "wide": one,
                "ratio": vm["us_per_step"] / one["us_per_step"],
            }
        )
        print(f"# seeds K={k} done", file=sys.stderr, flush=True)
    return {"updates": updates, "num_envs": SEED_ENVS, "rows": rows}


WORKERS = {
    "throughput": worker_throughput,
    "compile": worker_compile,
    "seeds": worker_seeds,
}


def worker_main(argv: list[str] | None = None) -> None:
    """``python -m jaxpg.run.bench_workers --worker '["kind", ...]' [--cache-dir D]``.

    Runs one worker of :data:`WORKERS` and prints its result as one JSON line.
    With ``--cache-dir`` every compile goes through that persistent cache
    (``jax_persistent_cache_min_compile_time_secs = 0``, no size minimum).

    Args:
      argv: the arguments (default: the command line's).
    """
    ap = argparse.ArgumentParser(prog="python -m jaxpg.run.bench_workers")
    ap.add_argument("--worker", required=True)
    ap.add_argument("--cache-dir", default=None)
    args = ap.parse_args(argv)
    if args.cache_dir:
        jax.config.update("jax_compilation_cache_dir", args.cache_dir)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    kind, *rest = json.loads(args.worker)
    print(json.dumps(WORKERS[kind](*rest)))


if __name__ == "__main__":
    worker_main()
