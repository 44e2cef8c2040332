"""Multi-seed results of the tuned presets: the runs behind docs/results.md.

:func:`run_one` trains ``seeds`` seeds of one preset (:func:`jaxpg.tuned_config`) in
ONE compiled call: ``jax.vmap`` over the seeds' keys of a function that trains in
``evals`` chunks, each followed by a greedy evaluation of ``eval_episodes`` episodes,
then evaluates ``final_episodes`` episodes. On the host it makes the row of
``results.json``: the final return with a bootstrap interval (:func:`final_columns`),
steps and wall time to the threshold (:func:`threshold_columns`) and the binned
training curve with a t-interval (:func:`curve_columns`). ``scripts/results.py`` is
the command line; :mod:`jaxpg.run.results_report` writes the page.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, NamedTuple

import jax
import numpy as np

from jaxpg.algorithms import registry
from jaxpg.compilation import jit
from jaxpg.envs import make_env
from jaxpg.evaluate import episode_returns
from jaxpg.intervals import bootstrap_ci, t_interval
from jaxpg.policy import make_policy
from jaxpg.presets import tuned_config
from jaxpg.train import make_trainer

__all__ = [
    "THRESHOLDS",
    "Settings",
    "bin_last_axis",
    "compile_and_run",
    "curve_columns",
    "describe_run",
    "final_columns",
    "jsonable",
    "make_one_seed",
    "nan_to_none",
    "preset_config",
    "run_one",
    "threshold_columns",
]

# The return a seed's final evaluation must reach to count as solved (None: no
# target). MountainCar-v0: gym's own "solved" level; the target (better than
# the -200 of never reaching the goal) is checked separately in TARGETS.
THRESHOLDS = {
    "CartPole-v1": 475.0,
    "Acrobot-v1": -90.0,
    "MountainCar-v0": -110.0,
    "Pendulum-v1": -250.0,
    "MountainCarContinuous-v0": 80.0,
    "Breakout-MinAtar": None,
    # Recurrent presets: MemoryChain returns +1 / −1 (right / wrong recall).
    "MemoryChain-bsuite": 0.9,
    "MetaMaze-misc": None,
}


class Settings(NamedTuple):
    """How every row of one ``scripts/results.py`` invocation is run."""

    seeds: int  # seeds trained together (≥ 2)
    seed: int  # the base PRNG seed: keys = split(key(seed), seeds)
    evals: int  # periodic greedy evaluations (at most num_updates)
    eval_episodes: int  # episodes of each periodic evaluation
    final_episodes: int  # episodes of the final evaluation
    resamples: int  # bootstrap resamples of the seeds
    quick: bool  # num_updates = quick_updates (a test, not a measurement)
    quick_updates: int
    overrides: dict  # config fields changed from the preset (``--set``)
    tag: str | None  # the experiment's name (with ``overrides``)
    command: str  # the command line recorded in the row
    date: str  # the UTC date recorded in the row


def run_one(env_id: str, algo: str, settings: Settings) -> dict:
    """Trains ``settings.seeds`` seeds of one preset in one compiled call; one row.

    Args:
      env_id: the environment.
      algo: the algorithm's registry name.
      settings: how to run it.

    Returns:
      the row of ``results.json`` (see the module docstring).
    """
    t_start = time.perf_counter()
    config = preset_config(env_id, algo, settings)
    num_evals = min(settings.evals, config.num_updates)
    chunk, head = divmod(config.num_updates, num_evals)
    one_seed = make_one_seed(env_id, config, settings, num_evals, chunk, head)
    out, compile_s, run_s = compile_and_run(one_seed, settings)

    steps = out["env_steps"].astype(np.int64)  # [seeds, num_updates]
    cum_steps = np.cumsum(steps, axis=1)
    total_steps = cum_steps[:, -1]
    eval_updates = head + chunk * np.arange(1, num_evals + 1)  # updates done at each
    eval_steps = cum_steps[:, eval_updates - 1]  # [seeds, num_evals]
    final = out["final"].astype(np.float64)
    row = describe_run(env_id, algo, config, settings)
    row.update(final_columns(final, settings.resamples))
    row.update(
        eval_every_updates=chunk,
        eval_episodes=settings.eval_episodes,
        eval_updates=eval_updates.tolist(),
        eval_env_steps_mean=eval_steps.mean(0).tolist(),
        eval_mean=out["evals"].mean(0).tolist(),
        env_steps_per_seed=total_steps.tolist(),
        compile_s=compile_s,
        run_s=run_s,
        steps_per_s=float(total_steps.sum() / run_s),
    )
    if row["threshold"] is not None:
        row.update(
            threshold_columns(
                row["threshold"], final, out["evals"], eval_steps, total_steps, run_s
            )
        )
    row["curve"] = curve_columns(out, cum_steps)
    row["total_s"] = time.perf_counter() - t_start
    row["command"] = settings.command
    row["date"] = settings.date
    return row


def preset_config(env_id: str, algo: str, settings: Settings) -> Any:
    """The tuned preset with ``settings.overrides`` (and ``--quick``'s num_updates).

    Args:
      env_id: the environment.
      algo: the algorithm's registry name.
      settings: the overrides and quick mode.

    Returns:
      the config.
    """
    overrides = dict(settings.overrides)
    if settings.quick:
        overrides["num_updates"] = settings.quick_updates
    return tuned_config(algo, env_id, **overrides)


def make_one_seed(
    env_id: str, config: Any, settings: Settings, num_evals: int, chunk: int, head: int
):
    """One seed's run from its key.

    ``head`` updates, then ``num_evals`` chunks of ``chunk`` updates each followed by
    a greedy evaluation, then the final one.

    Args:
      env_id: the environment.
      config: the algorithm's config.
      settings: the evaluation sizes.
      num_evals: periodic evaluations.
      chunk: updates per evaluation.
      head: updates before the first chunk (``num_updates % num_evals``).

    Returns:
      ``one_seed(key) → dict`` of ``episode_return``, ``env_steps`` and
      ``episodes_finished`` ``[num_updates]``, ``evals`` ``[num_evals]`` and
      ``final`` (a scalar).
    """
    env, env_params = make_env(env_id)
    trainer = make_trainer(config)
    policy = make_policy(config, env, env_params)
    eval_episodes, final_episodes = settings.eval_episodes, settings.final_episodes

    def one_seed(key):
        key_init, key_evals, key_final = jax.random.split(key, 3)
        state = trainer.init(key_init)
        head_metrics = None
        if head:
            state, head_metrics = trainer.run(state, head)

        def train_chunk(state, key_eval):
            state, metrics = trainer.run(state, chunk)
            returns = episode_returns(
                key_eval, policy, state.params["policy"], env, env_params, eval_episodes
            )
            return state, (metrics, returns.mean())

        state, (metrics, evals) = jax.lax.scan(
            train_chunk, state, jax.random.split(key_evals, num_evals)
        )
        metrics = jax.tree.map(lambda m: m.reshape((-1,) + m.shape[2:]), metrics)
        if head_metrics is not None:
            metrics = jax.tree.map(
                lambda a, b: jax.numpy.concatenate([a, b]), head_metrics, metrics
            )
        final = episode_returns(
            key_final, policy, state.params["policy"], env, env_params, final_episodes
        )
        return {
            "episode_return": metrics["episode_return"],
            "env_steps": metrics["env_steps"],
            "episodes_finished": metrics["episodes_finished"],
            "evals": evals,
            "final": final.mean(),
        }

    return one_seed


def compile_and_run(
    one_seed, settings: Settings
) -> tuple[dict[str, np.ndarray], float, float]:
    """``one_seed`` vmapped over ``settings.seeds`` keys, compiled, then run.

    Args:
      one_seed: from :func:`make_one_seed`.
      settings: the seeds and base seed.

    Returns:
      its outputs as numpy (leading axis: seeds), compile seconds, run seconds.
    """
    keys = jax.random.split(jax.random.key(settings.seed), settings.seeds)
    t0 = time.perf_counter()
    compiled = jit(jax.vmap(one_seed)).lower(keys).compile()
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = jax.block_until_ready(compiled(keys))
    run_s = time.perf_counter() - t0
    return jax.tree.map(np.asarray, out), compile_s, run_s


def describe_run(env_id: str, algo: str, config: Any, settings: Settings) -> dict:
    """The row's first columns: what was run (preset, changes, config, seeds).

    Args:
      env_id: the environment.
      algo: the algorithm's registry name (its label comes from the registry).
      config: the config that ran.
      settings: the seeds, tag and changes.

    Returns:
      the columns.
    """
    return {
        "env": env_id,
        "algo": algo,
        "label": registry.get(algo).label,
        "tag": settings.tag,
        "changes": {k: jsonable(v) for k, v in settings.overrides.items()},
        "config_class": type(config).__name__,
        "config": {
            f.name: jsonable(getattr(config, f.name))
            for f in dataclasses.fields(config)
        },
        "seeds": settings.seeds,
        "seed": settings.seed,
        "threshold": THRESHOLDS.get(env_id),
        "final_episodes": settings.final_episodes,
    }


def final_columns(final: np.ndarray, resamples: int) -> dict:
    """Each seed's final return, their mean and its bootstrap interval.

    Args:
      final: ``[seeds]`` final evaluation returns.
      resamples: bootstrap resamples.

    Returns:
      ``final_per_seed``, ``final_mean`` and ``final_ci``.
    """
    lo, hi = bootstrap_ci(final, resamples)
    return {
        "final_per_seed": final.tolist(),
        "final_mean": float(final.mean()),
        "final_ci": [lo, hi],
    }


def threshold_columns(
    threshold: float,
    final: np.ndarray,
    evals: np.ndarray,
    eval_steps: np.ndarray,
    total_steps: np.ndarray,
    run_s: float,
) -> dict:
    """Seeds solved, and steps and wall time until the evaluations reach ``threshold``.

    Args:
      threshold: the return to reach.
      final: ``[seeds]`` final evaluation returns.
      evals: ``[seeds, num_evals]`` periodic evaluation returns.
      eval_steps: ``[seeds, num_evals]`` environment steps at each evaluation.
      total_steps: ``[seeds]`` environment steps of the whole run.
      run_s: the run's execution time.

    Returns:
      ``solved_seeds``, ``steps_to_threshold`` (per seed, None: never),
      its median and ``wall_to_threshold_s`` (prorated by environment steps).
    """
    solved = final >= threshold
    reached = evals >= threshold  # [seeds, num_evals]
    first = np.where(reached.any(1), reached.argmax(1), -1)
    to_threshold = [
        int(eval_steps[s, i]) if i >= 0 else None for s, i in enumerate(first)
    ]
    got = [i for i in first if i >= 0]
    hit_steps = [s for s in to_threshold if s is not None]
    return dict(
        solved_seeds=int(solved.sum()),
        steps_to_threshold=to_threshold,
        steps_to_threshold_median=float(np.median(hit_steps)) if hit_steps else None,
        # Prorated by environment steps (an update's cost follows its steps;
        # REINFORCE's updates grow with the episodes).
        wall_to_threshold_s=(
            float(run_s * np.median(hit_steps) / total_steps.mean()) if got else None
        ),
    )


def curve_columns(out: dict[str, np.ndarray], cum_steps: np.ndarray) -> dict:
    """The training-return curve: at most 200 bins, mean and t-interval over seeds.

    Args:
      out: :func:`compile_and_run`'s outputs (``episode_return`` and
        ``episodes_finished``, ``[seeds, num_updates]``).
      cum_steps: ``[seeds, num_updates]`` cumulative environment steps.

    Returns:
      ``env_steps``, ``mean``, ``lo`` and ``hi`` lists (None where no seed had
      finished an episode).
    """
    curve = out["episode_return"].astype(np.float64)
    # Before a seed's first finished episode its metric is the initial 0, not a
    # return: leave those updates out of the curve.
    started = np.cumsum(out["episodes_finished"], axis=1) > 0
    curve = np.where(started, curve, np.nan)
    points = min(200, curve.shape[1])
    binned = bin_last_axis(curve, points)
    c_mean, c_lo, c_hi = t_interval(binned)
    return {
        "env_steps": bin_last_axis(
            cum_steps.mean(0).astype(np.float64), points
        ).tolist(),
        "mean": nan_to_none(c_mean),
        "lo": nan_to_none(c_lo),
        "hi": nan_to_none(c_hi),
    }


def bin_last_axis(x: np.ndarray, points: int) -> np.ndarray:
    """Averages the last axis into at most ``points`` equal bins (NaN: left out).

    Args:
      x: ``[..., n]``.
      points: the most bins.

    Returns:
      ``[..., min(n, points)]``.
    """
    n = x.shape[-1]
    if n <= points:
        return x
    edges = np.linspace(0, n, points + 1).astype(int)
    out = []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        part = x[..., a:b]
        count = np.sum(~np.isnan(part), axis=-1)
        total = np.nansum(part, axis=-1)
        out.append(np.where(count > 0, total / np.maximum(count, 1), np.nan))
    return np.stack(out, axis=-1)


def nan_to_none(values: np.ndarray) -> list:
    """A list of floats with None for NaN (strict JSON).

    Args:
      values: ``[n]`` floats.

    Returns:
      the list.
    """
    return [None if math.isnan(v) else float(v) for v in values]


def jsonable(value):
    """A config value as JSON: tuples as lists, non-finite floats as strings.

    Args:
      value: the value.

    Returns:
      what JSON can hold.
    """
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value
