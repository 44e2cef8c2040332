"""make_solve: train until a greedy evaluation reaches a threshold, in one call."""

import jax
import numpy as np
import pytest
from trees import assert_trees_close

import jaxpg
from jaxpg.rollout import episode_statistics, episodic_rollout
from jaxpg.solve import _EVAL_STREAM

pytestmark = pytest.mark.timeout(300)

SMALL = jaxpg.ReinforceConfig(num_envs=8, num_updates=3, hidden_sizes=(16,))
EPISODES = 8


def test_unreachable_threshold_uses_the_budget_and_matches_make_train():
    key = jax.random.key(3)
    solve = jaxpg.make_solve(SMALL, threshold=1e9, eval_episodes=EPISODES)
    out = jax.jit(solve)(key)
    assert int(out.updates_used) == SMALL.num_updates
    assert not bool(out.solved)
    trained = jax.jit(jaxpg.make_train(SMALL))(key)
    assert_trees_close(out.params, trained.params)
    assert int(out.state.step) == SMALL.num_updates


def test_stops_at_the_first_evaluation_reaching_the_threshold():
    key = jax.random.key(5)
    config = jaxpg.ReinforceConfig(num_envs=8, num_updates=6, hidden_sizes=(16,))
    env, env_params = jaxpg.make_env(config.env_id)
    policy = jaxpg.make_policy(config, env, env_params)
    trainer = jaxpg.make_trainer(config)
    run = jax.jit(trainer.run, static_argnums=1)
    key_eval = jax.random.fold_in(key, _EVAL_STREAM)
    state = trainer.init(key)
    returns = []
    for u in range(1, config.num_updates + 1):
        state, _ = run(state, 1)
        traj = episodic_rollout(
            jax.random.fold_in(key_eval, u),
            policy,
            state.params["policy"],
            env,
            env_params,
            EPISODES,
            deterministic=True,
        )
        returns.append(float(episode_statistics(traj)["return"].mean()))
    # The first evaluation that beats every earlier one, after the first.
    first = next(
        (i for i in range(1, len(returns)) if returns[i] > max(returns[:i])), None
    )
    assert first is not None, returns
    threshold = returns[first]
    solve = jaxpg.make_solve(config, threshold=threshold, eval_episodes=EPISODES)
    out = jax.jit(solve)(key)
    assert int(out.updates_used) == first + 1
    assert bool(out.solved)
    np.testing.assert_allclose(float(out.eval_return), threshold)


def test_evaluates_every_k_updates():
    solve = jaxpg.make_solve(
        SMALL,
        threshold=0.0,
        eval_every=2,
        eval_episodes=EPISODES,
    )
    out = jax.jit(solve)(jax.random.key(0))
    assert int(out.updates_used) == 2
    assert bool(out.solved)
    assert float(out.eval_return) >= 1.0


def test_vmap_over_seeds():
    solve = jaxpg.make_solve(SMALL, threshold=1e9, eval_episodes=EPISODES)
    out = jax.jit(jax.vmap(solve))(jax.random.split(jax.random.key(0), 3))
    assert out.updates_used.shape == (3,)
    np.testing.assert_array_equal(out.updates_used, SMALL.num_updates)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"eval_every": 0},
        {"eval_every": 1.5},
        {"eval_episodes": 0},
        {"eval_episodes": True},
        {"threshold": float("nan")},
        {"threshold": "475"},
    ],
)
def test_bad_arguments_are_value_errors(kwargs):
    with pytest.raises(ValueError):
        jaxpg.make_solve(SMALL, **kwargs)
