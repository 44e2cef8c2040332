"""``make_solve``: train until a greedy evaluation reaches a threshold.

``solve(key)`` is one jittable pure function: a ``lax.while_loop`` over chunks of
``eval_every`` updates (the same update ``make_train`` runs, traced once), each
followed by a greedy evaluation of ``eval_episodes`` complete episodes inside the
same compiled call. An evaluation whose mean undiscounted return is
``>= threshold`` is confirmed by a second, independent one (fresh episodes) of the
same parameters; ``solve`` stops at the first point where both pass, or after
``config.num_updates`` updates.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxpg import policy as pol
from jaxpg.rollout import episode_statistics, episodic_rollout
from jaxpg.state import HParams, Trainer, TrainState
from jaxpg.train import build, make_trainer

# Evaluation keys are derived with ``fold_in(key, _EVAL_STREAM)``, so ``solve(key)``
# trains with exactly the keys ``train(key)`` uses. After ``done`` updates the
# evaluation plays with ``fold_in(key_eval, done)`` and its confirmation with
# ``fold_in(fold_in(key_eval, done), _CONFIRM_STREAM)``.
_EVAL_STREAM = 0x45564C  # "EVL"
_CONFIRM_STREAM = 0x434E46  # "CNF"


class SolveResult(NamedTuple):
    """What ``solve(key)`` returns."""

    params: dict  # the policy that was evaluated last: what act / evaluate take
    state: TrainState  # the final train state (resume from it)
    updates_used: jax.Array  # [] int32: updates done before stopping
    eval_return: jax.Array  # [] float32: mean return of the last greedy evaluation
    solved: jax.Array  # [] bool: eval_return (and confirm_return) >= threshold
    # [] float32: mean return of the confirming evaluation of the same params,
    # played with a fresh key; -inf where none was played (the last evaluation
    # did not pass, or confirm=False).
    confirm_return: jax.Array


class _Loop(NamedTuple):
    state: TrainState
    returns: jax.Array  # [2] float32: the last evaluation, its confirmation (-inf)


def make_solve(
    config: Any,
    env: Any = None,
    env_params: Any = None,
    policy: pol.Policy | None = None,
    value: pol.Policy | None = None,
    *,
    threshold: float = 475.0,
    eval_every: int = 1,
    eval_episodes: int = 100,
    confirm: bool = True,
):
    """A pure ``solve(key, hparams=None) → SolveResult`` for ``config``.

    Trains as ``make_train(config, ...)`` (a key gives the same parameters after the
    same number of updates); after every ``eval_every`` updates it plays
    ``eval_episodes`` complete greedy episodes (the policy's mode). A mean undiscounted
    return ``>= threshold`` is confirmed at once by ``eval_episodes`` more greedy
    episodes of the same parameters with a fresh key (from the evaluation stream:
    training keys are untouched); ``solve`` stops when both pass, so a pass by luck does
    not end the run, or after ``config.num_updates`` updates (the last chunk is
    shortened; the final parameters are evaluated). It is one compiled function (jit it,
    or vmap it over keys); on CPU compilation dominates a cold start:
    ``jaxpg.jit(solve, fast_compile=True)`` compiles it ≈ 2.5× faster than ``jax.jit``
    for a slower run, rounded differently (docs/benchmarks.md).

    Args:
      config: an algorithm config (e.g. :class:`jaxpg.ReinforceConfig`).
      env, env_params, policy, value: as in :func:`jaxpg.make_train`.
      threshold: the mean evaluation return that counts as solved (CartPole: 475).
      eval_every: updates between evaluations (an integer >= 1).
      eval_episodes: greedy episodes per evaluation (an integer >= 1).
      confirm: confirm a passing evaluation (the default); ``False`` stops at the
        first evaluation ``>= threshold`` (``confirm_return`` stays -inf), for
        comparisons (``scripts/solve_reliability.py``).

    Returns:
      ``solve(key, hparams=None)``, which returns a :class:`SolveResult`.

    Raises:
      ValueError: for a non-integer or non-positive ``eval_every`` or
        ``eval_episodes``, a non-finite ``threshold`` or a non-bool ``confirm``.

    >>> import jax, jaxpg
    >>> config = jaxpg.ReinforceConfig(num_envs=4, num_updates=2)
    >>> solve = jaxpg.make_solve(config, threshold=500.0, eval_episodes=4)
    >>> int(jax.jit(solve)(jax.random.key(0)).updates_used) <= 2
    True
    """
    _check_solve_args(threshold, eval_every, eval_episodes, confirm)
    env, env_params, policy, value = build(config, env, env_params, policy, value)
    plan = _Plan(
        trainer=make_trainer(config, env, env_params, policy, value),
        evaluate=_evaluator(config, env, env_params, policy, eval_episodes),
        budget=config.num_updates,
        eval_every=eval_every,
        threshold=threshold,
        confirm=confirm,
    )
    return functools.partial(_solve, plan)


def _evaluator(
    config: Any, env: Any, env_params: Any, policy: pol.Policy, episodes: int
) -> Callable[[jax.Array, dict], jax.Array]:
    """``(key, params) → []``: :func:`_greedy_return` of ``episodes`` episodes."""
    return functools.partial(
        _greedy_return,
        policy,
        env,
        env_params,
        episodes,
        getattr(config, "rollout_chunk", 32),
    )


class _Plan(NamedTuple):
    """What :func:`_solve` closes over (static: Python values and functions)."""

    trainer: Trainer
    evaluate: Callable[[jax.Array, dict], jax.Array]  # (key, params) -> [] mean
    budget: int
    eval_every: int
    threshold: float
    confirm: bool


def _passed(plan: _Plan, returns: jax.Array) -> jax.Array:
    """[] bool: the evaluation passed, and so did its confirmation if asked for."""
    return jnp.all(returns[: 2 if plan.confirm else 1] >= plan.threshold)


def _evaluations(plan: _Plan, key: jax.Array, params: dict) -> jax.Array:
    """``[2]``: the evaluation with ``key``, then (only if it passed, and if
    ``plan.confirm``) its confirmation with ``fold_in(key, _CONFIRM_STREAM)``;
    -inf for one not played. One traced rollout in a while loop: under ``vmap`` it
    runs twice only when some seed passed."""
    keys = jnp.stack([key, jax.random.fold_in(key, _CONFIRM_STREAM)])

    def body(c: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
        i, returns = c
        return i + 1, returns.at[i].set(plan.evaluate(keys[i], params))

    def cond(c: tuple[jax.Array, jax.Array]) -> jax.Array:
        i, returns = c
        again = plan.confirm & (i == 1) & (returns[0] >= plan.threshold)
        return (i == 0) | again

    init = (jnp.int32(0), jnp.full((2,), -jnp.inf, jnp.float32))
    return jax.lax.while_loop(cond, body, init)[1]


def _solve(plan: _Plan, key: jax.Array, hparams: HParams | None = None) -> SolveResult:
    """``solve(key, hparams)`` of :func:`make_solve`: one ``lax.while_loop``."""
    key_eval = jax.random.fold_in(key, _EVAL_STREAM)
    state = plan.trainer.init(key, hparams)
    start = state.step

    def body(loop: _Loop) -> _Loop:
        state, _ = plan.trainer.run(loop.state, 1)
        done = state.step - start
        due = (done % plan.eval_every == 0) | (done >= plan.budget)
        returns = jax.lax.cond(
            due,
            lambda: _evaluations(
                plan, jax.random.fold_in(key_eval, done), state.params
            ),
            lambda: loop.returns,
        )
        return _Loop(state, returns)

    def cond(loop: _Loop) -> jax.Array:
        return (loop.state.step - start < plan.budget) & ~_passed(plan, loop.returns)

    init = _Loop(state, jnp.full((2,), -jnp.inf, jnp.float32))
    loop = jax.lax.while_loop(cond, body, init)
    return SolveResult(
        params=loop.state.params,
        state=loop.state,
        updates_used=loop.state.step - start,
        eval_return=loop.returns[0],
        solved=_passed(plan, loop.returns),
        confirm_return=loop.returns[1],
    )


def _check_solve_args(
    threshold: Any, eval_every: Any, eval_episodes: Any, confirm: Any
) -> None:
    """``ValueError`` naming the argument, before anything is built."""
    if not isinstance(confirm, bool):
        raise ValueError(f"confirm must be True or False; got {confirm!r}")
    for name, v in (("eval_every", eval_every), ("eval_episodes", eval_episodes)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be an integer >= 1; got {v!r}")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        raise ValueError(f"threshold must be a finite number; got {threshold!r}")
    if not math.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number; got {threshold!r}")


def _greedy_return(
    policy: pol.Policy,
    env: Any,
    env_params: Any,
    episodes: int,
    chunk: int,
    key: jax.Array,
    params: dict,
) -> jax.Array:
    """The mean return of ``episodes`` complete greedy episodes, ``[]``."""
    traj = episodic_rollout(
        key,
        policy,
        params["policy"],
        env,
        env_params,
        episodes,
        chunk=chunk,
        deterministic=True,
    )
    return episode_statistics(traj)["return"].mean()
