"""The trainer: pure, jittable, vmappable; metrics NaN-free; bad input caught early."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from trees import assert_trees_close

import jaxpg
from jaxpg import tabular

pytestmark = pytest.mark.timeout(300)

SMALL = jaxpg.ReinforceConfig(num_envs=8, num_updates=3, hidden_sizes=(16,))


def test_vmap_over_seeds_equals_a_loop():
    train = jaxpg.make_train(SMALL)
    keys = jax.random.split(jax.random.key(1), 4)
    batched = jax.jit(jax.vmap(train))(keys)
    single = jax.jit(train)
    computed = []
    for i in range(4):
        one = single(keys[i])
        assert_trees_close(
            jax.tree.map(lambda x, i=i: x[i], batched.params), one.params
        )
        metrics = {k: v[i] for k, v in batched.metrics.items()}
        computed.append(one.metrics.pop("computed_steps"))
        assert_trees_close(
            {k: v for k, v in metrics.items() if k != "computed_steps"}, one.metrics
        )
    # Vmapped seeds share one rollout loop (like one run with 4x the envs): each
    # seed's computed steps are the longest seed's in that update.
    longest = np.max(np.stack(computed), axis=0)
    for i in range(4):
        np.testing.assert_array_equal(batched.metrics["computed_steps"][i], longest)


def test_second_call_does_not_retrace():
    train = jaxpg.make_train(SMALL)
    traces = []

    def counted(key):
        traces.append(1)
        return train(key)

    f = jax.jit(counted)
    f(jax.random.key(0))
    f(jax.random.key(1))
    assert len(traces) == 1


def test_chunks_equal_one_run():
    trainer = jaxpg.make_trainer(SMALL)
    run = jax.jit(trainer.run, static_argnums=1)
    state = trainer.init(jax.random.key(3))
    a, _ = run(state, 2)
    a, _ = run(a, 2)
    b, _ = jax.jit(trainer.run, static_argnums=1)(state, 4)
    assert_trees_close(a.params, b.params)
    assert int(a.step) == 4


def test_metrics_are_complete_and_nan_free():
    result = jax.jit(jaxpg.make_train(SMALL))(jax.random.key(4))
    m = result.metrics
    for name in [
        "episode_return",
        "episodes_finished",
        "episode_length",
        "loss",
        "grad_norm",
        "entropy",
        "env_steps",
    ]:
        assert m[name].shape == (3,), name
        assert np.all(np.isfinite(np.asarray(m[name], np.float64))), name
    # Each of the 8 envs finishes exactly one CartPole episode per update.
    np.testing.assert_array_equal(m["episodes_finished"], 8)
    # CartPole pays 1 per step: the real steps are the summed episode lengths.
    np.testing.assert_allclose(m["env_steps"], 8 * m["episode_length"], rtol=1e-6)
    np.testing.assert_allclose(m["episode_return"], m["episode_length"], rtol=1e-6)
    assert np.all(m["computed_steps"] >= m["env_steps"])
    # Entropy of a near-uniform 2-action policy is close to log 2.
    assert 0.5 < float(m["entropy"][0]) <= math.log(2) + 1e-6


class NeverEnds(tabular.TabularMDP):
    """Never terminates or truncates: no episode finishes inside the horizon."""

    def step_env(self, key, state, action, params):
        obs, new, reward, _, info = super().step_env(key, state, action, params)
        s = jnp.where(obs == 0, 0, obs)
        return s, new.replace(s=s), reward, jnp.array(False), info

    def is_truncated(self, state, params):
        return jnp.array(False)


def test_metrics_carry_over_when_no_episode_finishes():
    cfg = jaxpg.ReinforceConfig(env_id=None, num_envs=4, num_updates=3)
    result = jax.jit(
        jaxpg.make_train(cfg, env=NeverEnds(), policy=tabular.table_policy())
    )(jax.random.key(0))
    m = result.metrics
    np.testing.assert_array_equal(m["episodes_finished"], 0)
    np.testing.assert_array_equal(
        m["episode_return"], 0.0
    )  # the initial value, carried
    np.testing.assert_array_equal(m["env_steps"], 4 * tabular.HORIZON)


@pytest.mark.parametrize("baseline", ["value", "none"])
def test_the_reported_loss_is_its_parts_with_their_coefficients(baseline):
    """loss = policy_loss − c_e·(summed entropy)/N + c_v·value_loss, with the
    per-step mean entropy that the metrics report scaled back to a sum over the
    real steps; a flipped sign or a dropped coefficient breaks it."""
    cfg = jaxpg.ReinforceConfig(
        num_envs=8,
        num_updates=2,
        hidden_sizes=(8,),
        baseline=baseline,
        normalize_weights=True,
        entropy_coef=0.05,
        value_coef=0.7,
        max_grad_norm=0.5,
    )
    m = jax.jit(jaxpg.make_train(cfg))(jax.random.key(0)).metrics
    steps = np.asarray(m["env_steps"], np.float64)
    entropy_sum = np.asarray(m["entropy"], np.float64) * steps / cfg.num_envs
    expected = np.asarray(m["policy_loss"], np.float64) - 0.05 * entropy_sum
    if baseline == "value":
        expected = expected + 0.7 * np.asarray(m["value_loss"], np.float64)
        assert np.all(np.asarray(m["value_loss"]) > 0)
    else:
        assert "value_loss" not in m
    np.testing.assert_allclose(np.asarray(m["loss"]), expected, rtol=1e-5, atol=1e-6)
    # Categorical entropy per step lies in (0, log 2] for CartPole's two actions.
    assert np.all(
        (np.asarray(m["entropy"]) > 0)
        & (np.asarray(m["entropy"]) <= math.log(2) + 1e-6)
    )


def test_continuous_actions_are_gaussian_and_clipped():
    cfg = jaxpg.ReinforceConfig(
        env_id="Pendulum-v1", num_envs=4, num_updates=2, hidden_sizes=(8,)
    )
    env, env_params = jaxpg.make_env("Pendulum-v1")
    policy = jaxpg.make_policy(cfg, env, env_params)
    params = {"policy": policy.init(jax.random.key(0), jnp.zeros(3))}
    out = policy.apply(params["policy"], jnp.zeros((5, 3)))
    assert isinstance(out, tuple) and out[0].shape == (5, 1) and out[1].shape == (5, 1)
    # act() is unclipped; the env wrapper clips what it sends to the env.
    big = (out[0] + 100.0, out[1])
    a = jaxpg.policy.sample(jax.random.key(1), big)
    assert float(a.max()) > 2.0
    assert float(env.clip_action(a, env_params).max()) == pytest.approx(2.0)
    r = jax.jit(jaxpg.make_train(cfg))(jax.random.key(0))
    assert np.all(np.isfinite(np.asarray(r.metrics["loss"])))


def test_estimate_gradient_has_params_structure_and_zero_value():
    cfg = jaxpg.ReinforceConfig(
        num_envs=8, num_updates=1, hidden_sizes=(8,), baseline="value"
    )
    result = jax.jit(jaxpg.make_train(cfg))(jax.random.key(0))
    env, env_params = jaxpg.make_env("CartPole-v1")
    g = jaxpg.estimate_gradient(jax.random.key(1), cfg, result.params, env, env_params)
    assert jax.tree.structure(g) == jax.tree.structure(result.params)
    assert all(float(jnp.abs(x).max()) == 0.0 for x in jax.tree.leaves(g["value"]))
    assert any(float(jnp.abs(x).max()) > 0.0 for x in jax.tree.leaves(g["policy"]))


def test_act_and_evaluate():
    cfg = jaxpg.ReinforceConfig(hidden_sizes=(8,))
    env, env_params = jaxpg.make_env("CartPole-v1")
    policy = jaxpg.make_policy(cfg, env, env_params)
    params = {"policy": policy.init(jax.random.key(0), jnp.zeros(4)), "value": None}
    obs = jnp.zeros((3, 4))
    greedy = jaxpg.act(policy, params, obs)
    np.testing.assert_array_equal(
        greedy, jnp.argmax(policy.apply(params["policy"], obs), -1)
    )
    assert jaxpg.act(policy, params, obs, key=jax.random.key(0)).shape == (3,)
    returns = jaxpg.evaluate(
        jax.random.key(1), policy, params, env, env_params, num_episodes=7
    )
    assert returns.shape == (7,)
    assert np.all((np.asarray(returns) >= 1) & (np.asarray(returns) <= 500))
    # Deterministic: the same key gives the same returns; evaluating the raw gymnax
    # env object gives the same as the encoded one.
    again = jaxpg.evaluate(
        jax.random.key(1), policy, params, env.env, None, num_episodes=7
    )
    np.testing.assert_array_equal(returns, again)


def test_estimate_gradient_rejects_actor_critic_configs():
    env, env_params = jaxpg.make_env("CartPole-v1")
    with pytest.raises(ValueError, match="ReinforceConfig"):
        jaxpg.estimate_gradient(
            jax.random.key(0), jaxpg.PPOConfig(), {}, env, env_params
        )


def test_nested_vmap_over_rates_and_seeds_equals_separate_runs():
    # The rollout folds every vmap axis into one seed batch (jaxpg.rollout); two
    # nested axes must still give each (rate, seed) its own run.
    config = jaxpg.algorithms.common.replace(SMALL, num_updates=2)
    train = jaxpg.make_train(config)
    hp = jaxpg.hparams(config)
    rates = [1e-3, 1e-2]
    sweep = jax.tree.map(
        lambda *x: jnp.stack(x),
        *[hp._replace(learning_rate=jnp.float32(r)) for r in rates],
    )
    keys = jax.random.split(jax.random.key(3), 2)
    grid = jax.jit(jax.vmap(jax.vmap(train, in_axes=(0, None)), in_axes=(None, 0)))(
        keys, sweep
    )
    single = jax.jit(train)
    for i, r in enumerate(rates):
        for j in range(2):
            one = single(keys[j], hp._replace(learning_rate=jnp.float32(r)))
            assert_trees_close(
                jax.tree.map(lambda x, i=i, j=j: x[i, j], grid.params), one.params
            )
