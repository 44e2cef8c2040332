"""make_solve: train until a greedy evaluation reaches a threshold, in one call."""

import jax
import numpy as np
import pytest
from trees import assert_trees_close

import jaxpg
from jaxpg.rollout import episode_statistics, episodic_rollout
from jaxpg.run import solve_reliability
from jaxpg.run.bench import environment
from jaxpg.solve import _CONFIRM_STREAM, _EVAL_STREAM

pytestmark = pytest.mark.timeout(300)

SMALL = jaxpg.ReinforceConfig(num_envs=8, num_updates=3, hidden_sizes=(16,))
EPISODES = 8


def test_unreachable_threshold_uses_the_budget_and_matches_make_train():
    key = jax.random.key(3)
    solve = jaxpg.make_solve(SMALL, threshold=1e9, eval_episodes=EPISODES)
    out = jax.jit(solve)(key)
    assert int(out.updates_used) == SMALL.num_updates
    assert not bool(out.solved)
    assert float(out.confirm_return) == -np.inf  # no pass, so no confirmation
    trained = jax.jit(jaxpg.make_train(SMALL))(key)
    assert_trees_close(out.params, trained.params)
    assert int(out.state.step) == SMALL.num_updates


def _evaluations(key, config, episodes):
    """Per update u = 1..num_updates: the greedy evaluation solve plays after u
    updates and its confirmation, replayed on the host with solve's keys."""
    env, env_params = jaxpg.make_env(config.env_id)
    policy = jaxpg.make_policy(config, env, env_params)
    trainer = jaxpg.make_trainer(config)
    run = jax.jit(trainer.run, static_argnums=1)
    key_eval = jax.random.fold_in(key, _EVAL_STREAM)
    state = trainer.init(key)
    pairs = []
    for u in range(1, config.num_updates + 1):
        state, _ = run(state, 1)
        key_u = jax.random.fold_in(key_eval, u)
        pair = []
        for k in (key_u, jax.random.fold_in(key_u, _CONFIRM_STREAM)):
            traj = episodic_rollout(
                k,
                policy,
                state.params["policy"],
                env,
                env_params,
                episodes,
                deterministic=True,
            )
            pair.append(float(episode_statistics(traj)["return"].mean()))
        pairs.append(tuple(pair))
    return pairs


LUCKY_KEY = jax.random.key(3)
LUCKY = jaxpg.ReinforceConfig(num_envs=8, num_updates=4, hidden_sizes=(16,))


@pytest.fixture(scope="module")
def lucky_pairs():
    return _evaluations(LUCKY_KEY, LUCKY, EPISODES)


def test_a_lucky_pass_is_not_confirmed_and_training_goes_on(lucky_pairs):
    # A threshold that an evaluation passes first (every earlier one missed it)
    # while its confirmation (fresh episodes, same params) misses, and that both
    # evaluations pass at a later update. The old rule (stop at the first passing
    # evaluation) stopped at the lucky one; solve trains on to the later one.
    pairs = lucky_pairs
    firsts = [a for a, _ in pairs]
    case = None
    for i, (first, confirm) in enumerate(pairs):
        below = max([confirm, *firsts[:i]])
        if first <= below:
            continue
        threshold = (below + first) / 2
        later = [j for j in range(i + 1, len(pairs)) if min(pairs[j]) >= threshold]
        if later:
            case = (i, threshold, later[0])
            break
    assert case is not None, pairs  # the keys above were chosen to give one
    lucky, threshold, stop = case
    solve = jaxpg.make_solve(LUCKY, threshold=threshold, eval_episodes=EPISODES)
    out = jax.jit(solve)(LUCKY_KEY)
    assert int(out.updates_used) == stop + 1 > lucky + 1
    assert bool(out.solved)
    np.testing.assert_allclose(float(out.eval_return), pairs[stop][0])
    np.testing.assert_allclose(float(out.confirm_return), pairs[stop][1])
    # confirm=False is the old rule: it stops at the lucky evaluation.
    old = jaxpg.make_solve(
        LUCKY, threshold=threshold, eval_episodes=EPISODES, confirm=False
    )
    out = jax.jit(old)(LUCKY_KEY)
    assert int(out.updates_used) == lucky + 1
    assert bool(out.solved)
    assert float(out.confirm_return) == -np.inf


def test_solved_means_the_confirmation_passed_too(lucky_pairs):
    # Whenever solve reports `solved`, both evaluations of the returned params are
    # >= threshold, and they replay with solve's documented keys.
    threshold = float(np.median([min(p) for p in lucky_pairs]))
    solve = jaxpg.make_solve(LUCKY, threshold=threshold, eval_episodes=EPISODES)
    out = jax.jit(solve)(LUCKY_KEY)
    assert bool(out.solved)
    assert float(out.eval_return) >= threshold
    assert float(out.confirm_return) >= threshold
    u = int(out.updates_used)
    np.testing.assert_allclose(
        (float(out.eval_return), float(out.confirm_return)), lucky_pairs[u - 1]
    )


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
        {"confirm": 1},
    ],
)
def test_bad_arguments_are_value_errors(kwargs):
    with pytest.raises(ValueError):
        jaxpg.make_solve(SMALL, **kwargs)


def test_reliability_report_of_a_tiny_run():
    # scripts/solve_reliability.py's measurement, shrunk: both rules, 2 seeds.
    runs = [
        solve_reliability.reliability(
            "reinforce",
            2,
            confirm=confirm,
            threshold=10.0,
            eval_episodes=4,
            recheck_episodes=4,
            num_envs=4,
            num_updates=3,
            hidden_sizes=(8,),
        )
        for confirm in (True, False)
    ]
    for run in runs:
        assert len(run["updates"]) == len(run["recheck_return"]) == 2
        assert run["held"] <= run["solved"] <= 2
        solved = np.asarray(run["solved_each"])
        assert run["held"] == int(
            (solved & (np.asarray(run["recheck_return"]) >= 10.0)).sum()
        )
    assert all(c is None for c in runs[1]["confirm_return"])  # confirm=False
    report = {"environment": environment(), "runs": runs}
    text = solve_reliability.markdown(report, "python scripts/solve_reliability.py")
    assert text.startswith(solve_reliability.BEGIN)
    assert text.rstrip().endswith(solve_reliability.END)
    assert text.count("| reinforce |") == 2
