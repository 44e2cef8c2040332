"""The episodic rollout: one complete episode per env, nothing after its end."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxpg
from jaxpg import policy as pol
from jaxpg.rollout import episode_statistics, episodic_rollout

pytestmark = pytest.mark.timeout(180)

N = 16


@pytest.fixture(scope="module")
def cartpole():
    env, env_params = jaxpg.make_env("CartPole-v1")
    config = jaxpg.ReinforceConfig(hidden_sizes=(8,))
    policy = jaxpg.make_policy(config, env, env_params)
    params = policy.init(jax.random.key(1), jnp.zeros(4))
    return env, env_params, policy, params


@pytest.fixture(scope="module")
def traj(cartpole):
    env, env_params, policy, params = cartpole
    return jax.jit(
        lambda k: episodic_rollout(k, policy, params, env, env_params, N, chunk=8)
    )(jax.random.key(7))


def test_mask_is_a_prefix_ending_at_the_first_done(traj):
    mask = np.asarray(traj.mask)
    done = np.asarray(traj.terminated | traj.truncated)
    for i in range(N):
        first_done = int(np.argmax(done[:, i]))
        assert done[first_done, i]
        np.testing.assert_array_equal(mask[: first_done + 1, i], 1.0)
        np.testing.assert_array_equal(mask[first_done + 1 :, i], 0.0)


def test_exactly_one_episode_per_env(traj):
    ends = np.asarray((traj.terminated | traj.truncated) & (traj.mask > 0))
    np.testing.assert_array_equal(ends.sum(0), 1)
    stats = episode_statistics(traj)
    assert bool(stats["finished"].all())


def test_nothing_after_the_end_contributes(traj):
    reward = np.asarray(traj.reward)
    assert np.all(reward[np.asarray(traj.mask) == 0] == 0.0)
    # CartPole pays 1 per step, so the return is the episode length.
    stats = episode_statistics(traj)
    np.testing.assert_array_equal(stats["return"], stats["length"])


def test_stops_early_without_changing_the_episodes(cartpole, traj):
    env, env_params, policy, params = cartpole
    full = jax.jit(
        lambda k: episodic_rollout(
            k, policy, params, env, env_params, N, chunk=8, stop_early=False
        )
    )(jax.random.key(7))
    steps = int(traj.steps_run)
    assert steps < 500  # an untrained policy: every episode ends long before 500
    assert int(full.steps_run) == 504  # ceil(500 / 8) · 8
    np.testing.assert_array_equal(full.mask[:steps], traj.mask[:steps])
    np.testing.assert_array_equal(full.mask[steps:], 0.0)
    np.testing.assert_array_equal(full.reward[:steps], traj.reward[:steps])


def test_returns_match_stepping_by_hand(cartpole, traj):
    # Replays the documented key schedule with the plain gymnax API in Python.
    env, env_params, policy, params = cartpole
    key_reset, key = jax.random.split(jax.random.key(7))
    obs, state = jax.vmap(env.reset, (0, None))(
        jax.random.split(key_reset, N), env_params
    )
    totals = np.zeros(N)
    alive = np.ones(N, bool)
    for _ in range(500):
        key, key_act, key_env = jax.random.split(key, 3)
        action = pol.sample(key_act, policy.apply(params, obs))
        keys = jax.random.split(key_env, N)
        out = [
            env.step(
                keys[i], jax.tree.map(lambda x, i=i: x[i], state), action[i], env_params
            )
            for i in range(N)
        ]
        obs = jnp.stack([o[0] for o in out])
        state = jax.tree.map(lambda *x: jnp.stack(x), *[o[1] for o in out])
        for i, o in enumerate(out):
            if alive[i]:
                totals[i] += float(o[2])
                if bool(o[3]) or bool(o[4]):
                    alive[i] = False
        if not alive.any():
            break
    np.testing.assert_allclose(episode_statistics(traj)["return"], totals)


def test_deterministic_rollout_uses_the_mode(cartpole):
    env, env_params, policy, params = cartpole
    a = episodic_rollout(
        jax.random.key(0), policy, params, env, env_params, 4, deterministic=True
    )
    logits = policy.apply(params, a.obs)
    real = np.asarray(a.mask) > 0
    np.testing.assert_array_equal(
        np.asarray(a.action)[real], np.asarray(jnp.argmax(logits, -1))[real]
    )


def test_user_horizon_shorter_than_the_env(cartpole):
    env, env_params, policy, params = cartpole
    t = episodic_rollout(
        jax.random.key(0), policy, params, env, env_params, 4, max_steps=5, chunk=4
    )
    assert t.mask.shape[0] == 8
    assert float(t.mask[5:].sum()) == 0.0
