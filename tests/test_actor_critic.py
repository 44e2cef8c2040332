"""A2C and PPO: GAE by hand, truncation vs termination through the rollout,
the clipped surrogate by hand, probe environments, jit/vmap/sweep equivalence."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct
from gymnax.environments import environment, spaces
from trees import assert_trees_close

import jaxpg
from jaxpg import losses, normalization, returns
from jaxpg.algorithms import actor_critic
from jaxpg.rollout import fixed

pytestmark = pytest.mark.timeout(300)


# ---------------------------------------------------------------------------
# GAE on a hand-computed trajectory
# ---------------------------------------------------------------------------

# Four steps, γ = 0.5. The episode terminates at step 1 (so V(final obs) = 10 there
# must be ignored); a new episode starts at step 2 and is truncated at step 3, where
# it bootstraps from V(final obs) = 8.
R = jnp.array([1.0, 2.0, 3.0, 4.0])
TERMINATED = jnp.array([0.0, 1.0, 0.0, 0.0])
TRUNCATED = jnp.array([0.0, 0.0, 0.0, 1.0])
V = jnp.array([1.0, 1.0, 3.0, 4.0])  # V(s_t)
V_NEXT = jnp.array([1.0, 10.0, 4.0, 8.0])  # V(s_1), V(final_1), V(s_3), V(final_3)
GAMMA = 0.5
DISCOUNTS = GAMMA * (1.0 - TERMINATED)  # [0.5, 0, 0.5, 0.5]
CUTS = jnp.maximum(TERMINATED, TRUNCATED)  # [0, 1, 0, 1]


def test_gae_by_hand():
    # δ_t = r_t + d_t·V_next_t − V_t:
    #   δ_0 = 1 + .5·1 − 1 = 0.5 ; δ_1 = 2 + 0·10 − 1 = 1
    #   δ_2 = 3 + .5·4 − 3 = 2   ; δ_3 = 4 + .5·8 − 4 = 4
    # λ = 0.5, so d·λ = 0.25 inside an episode:
    #   A_3 = 4 ; A_2 = 2 + .25·4 = 3 ; A_1 = 1 (cut) ; A_0 = 0.5 + .25·1 = 0.75
    adv = returns.gae(R, DISCOUNTS, V, V_NEXT, 0.5, CUTS)
    np.testing.assert_allclose(adv, [0.75, 1.0, 3.0, 4.0], rtol=1e-6)


def test_gae_lambda_one_is_monte_carlo_minus_value():
    # Discounted return with the bootstrap at the truncation:
    #   G_3 = 4 + .5·8 = 8 ; G_2 = 3 + .5·8 = 7 ; G_1 = 2 (terminated) ;
    #   G_0 = 1 + .5·2 = 2 ; A = G − V = [1, 1, 4, 4].
    adv = returns.gae(R, DISCOUNTS, V, V_NEXT, 1.0, CUTS)
    np.testing.assert_allclose(adv, [1.0, 1.0, 4.0, 4.0], rtol=1e-6)


def test_gae_lambda_zero_is_td_error():
    adv = returns.gae(R, DISCOUNTS, V, V_NEXT, 0.0, CUTS)
    np.testing.assert_allclose(adv, [0.5, 1.0, 2.0, 4.0], rtol=1e-6)


# ---------------------------------------------------------------------------
# Truncation vs termination through rollout → advantages
# ---------------------------------------------------------------------------


@struct.dataclass
class TimerState(environment.EnvState):
    term_at: jax.Array  # terminate when time reaches this


@struct.dataclass
class TimerParams(environment.EnvParams):
    max_steps_in_episode: int = 3


class Timer(environment.Environment):
    """obs = [time]; reward = the new time; terminated when time == term_at; gymnax
    truncates at time 3. A reset starts at time 0 with term_at = 5 (never)."""

    @property
    def default_params(self):
        return TimerParams()

    def step_env(self, key, state, action, params):
        time = state.time + 1
        state = TimerState(time=time, term_at=state.term_at)
        obs = jnp.array([time], jnp.float32)
        return obs, state, time.astype(jnp.float32), time == state.term_at, {}

    def reset_env(self, key, params):
        state = TimerState(time=jnp.int32(0), term_at=jnp.int32(5))
        return jnp.zeros((1,), jnp.float32), state

    def observation_space(self, params):
        return spaces.Box(0.0, 10.0, (1,), jnp.float32)

    def action_space(self, params=None):
        return spaces.Discrete(2)


def _fixed_policy():
    return jaxpg.Policy(
        lambda key, obs: {}, lambda p, obs: jnp.zeros((*obs.shape[:-1], 2))
    )


# V(o) = 1 + o.
_TIMER_VALUE = jaxpg.Policy(lambda key, obs: {}, lambda p, obs: 1.0 + obs[..., 0])


def test_rollout_advantages_truncation_is_not_termination():
    env = jaxpg.envs.encode_env(Timer())
    params = env.default_params
    # Three environments started by hand: (time, term_at) = (0, 2), (1, 3), (0, 5).
    start = fixed.RolloutState(
        env_state=TimerState(time=jnp.array([0, 1, 0]), term_at=jnp.array([2, 3, 5])),
        obs=jnp.array([[0.0], [1.0], [0.0]]),
        episode_return=jnp.zeros(3),
        episode_length=jnp.zeros(3, jnp.int32),
    )
    end, data = fixed.rollout(
        jax.random.key(0), _fixed_policy(), {}, env, params, start, 5
    )
    np.testing.assert_array_equal(
        data.terminated.T, [[0, 1, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 0, 0, 0]]
    )
    # env 1 at step 1 reaches time 3 = term_at = the time limit: both flags.
    np.testing.assert_array_equal(
        data.truncated.T, [[0, 0, 0, 0, 1], [0, 1, 0, 0, 1], [0, 0, 1, 0, 0]]
    )
    batch = actor_critic.batch_from(data, _TIMER_VALUE, {}, 0.5, 0.5)
    # γ = λ = 0.5, V(o) = 1 + o, r = the new time.
    # env 0: obs 0,1 | 0,1,2 ; rewards 1,2(term) | 1,2,3(trunc, V(final 3) = 4)
    #   δ = [1+.5·2−1, 2−2, 1+.5·2−1, 2+.5·3−2, 3+.5·4−3] = [1, 0, 1, 1.5, 2]
    #   A_4 = 2, A_3 = 1.5+.25·2 = 2, A_2 = 1+.25·2 = 1.5, A_1 = 0, A_0 = 1+.25·0 = 1
    # env 1: obs 1,2 | 0,1,2 ; rewards 2,3(term AND trunc) | 1,2,3(trunc)
    #   δ_1 = 3 + 0·V(final 3) − 3 = 0: termination wins (as truncation: 3+.5·4−3 = 2)
    #   δ = [2+.5·3−2, 0, 1+.5·2−1, 2+.5·3−2, 3+.5·4−3] = [1.5, 0, 1, 1.5, 2]
    #   A = [1.5 + .25·0, 0, 1 + .25·2, 1.5 + .25·2, 2] = [1.5, 0, 1.5, 2, 2]
    # env 2: obs 0,1,2 | 0,1 ; rewards 1,2,3(trunc, V(final 3) = 4) | 1,2 (window
    #   ends: bootstrap from V(s_5) = V(2) = 3, no cut)
    #   δ = [1+.5·2−1, 2+.5·3−2, 3+.5·4−3, 1+.5·2−1, 2+.5·3−2] = [1, 1.5, 2, 1, 1.5]
    #   A_4 = 1.5, A_3 = 1+.25·1.5 = 1.375, A_2 = 2 (cut), A_1 = 1.5+.25·2 = 2,
    #   A_0 = 1+.25·2 = 1.5
    expected = np.array(
        [
            [1.0, 0.0, 1.5, 2.0, 2.0],
            [1.5, 0.0, 1.5, 2.0, 2.0],
            [1.5, 2.0, 2.0, 1.375, 1.5],
        ]
    )
    np.testing.assert_allclose(batch.advantage.T, expected, rtol=1e-6)
    np.testing.assert_allclose(batch.target, batch.advantage + batch.value, rtol=1e-6)
    # The rollout carries on from where it stopped: env 2 is at time 2.
    np.testing.assert_array_equal(end.env_state.time, [0, 0, 2])
    np.testing.assert_allclose(end.obs[:, 0], [0.0, 0.0, 2.0])
    # Finished episodes: env 0 returned 1+2 (length 2) then 1+2+3 (length 3), env 1
    # 2+3 (length 2: it started at time 1) then 6, env 2 returned 6.
    np.testing.assert_allclose(
        data.finished_return.T,
        [[0, 3, 0, 0, 6], [0, 5, 0, 0, 6], [0, 0, 6, 0, 0]],
    )
    np.testing.assert_allclose(
        data.finished_length.T,
        [[0, 2, 0, 0, 3], [0, 2, 0, 0, 3], [0, 0, 3, 0, 0]],
    )


# ---------------------------------------------------------------------------
# The clipped surrogate by hand
# ---------------------------------------------------------------------------


def test_clipped_surrogate_value_and_gradient():
    # ε = 0.2. Ratios ρ = [1.5, 0.5, 1.5, 0.5], advantages A = [1, 1, −1, −1]:
    #   min(ρA, clip(ρ)A) = [min(1.5, 1.2), min(.5, .8), min(−1.5, −1.2), min(−.5, −.8)]
    #                     = [1.2 (clipped), 0.5, −1.5, −0.8 (clipped)]
    #   loss = −mean = −(1.2 + .5 − 1.5 − .8)/4 = 0.15
    # d loss / d log π_i = −(1/4)·ρ_i A_i where the unclipped term is the min, else 0:
    #   [0, −.125, .375, 0]
    old = jnp.log(jnp.array([0.2, 0.4, 0.2, 0.4]))
    ratio = jnp.array([1.5, 0.5, 1.5, 0.5])
    adv = jnp.array([1.0, 1.0, -1.0, -1.0])
    logp = old + jnp.log(ratio)
    value, grads = jax.value_and_grad(losses.clipped_surrogate, argnums=(0, 1, 2))(
        logp, old, adv, 0.2
    )
    assert float(value) == pytest.approx(0.15, abs=1e-6)
    np.testing.assert_allclose(grads[0], [0.0, -0.125, 0.375, 0.0], atol=1e-6)
    # No gradient into the old log-probabilities or the advantages.
    np.testing.assert_array_equal(grads[1], 0.0)
    np.testing.assert_array_equal(grads[2], 0.0)


# ---------------------------------------------------------------------------
# Configs
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "field", "value"),
    [
        (jaxpg.A2CConfig, "num_steps", 0),
        (jaxpg.A2CConfig, "gae_lambda", 1.5),
        (jaxpg.A2CConfig, "normalize_advantages", 1),
        (jaxpg.A2CConfig, "anneal_lr", "yes"),
        (jaxpg.A2CConfig, "value_coef", -1.0),
        (jaxpg.PPOConfig, "clip_eps", 0.0),
        (jaxpg.PPOConfig, "num_epochs", 0),
        (jaxpg.PPOConfig, "num_minibatches", 0),
        (jaxpg.PPOConfig, "clip_value", None),
    ],
)
def test_bad_fields_are_rejected(cls, field, value):
    with pytest.raises(ValueError, match=field):
        cls(**{field: value})


def test_minibatches_must_divide_the_batch():
    with pytest.raises(ValueError, match="num_minibatches"):
        jaxpg.PPOConfig(num_steps=10, num_envs=3, num_minibatches=4)
    jaxpg.PPOConfig(num_steps=10, num_envs=2, num_minibatches=4)  # 20 / 4: fine


def test_configs_are_hashable_and_use_a_critic():
    for config in (jaxpg.A2CConfig(), jaxpg.PPOConfig()):
        hash(config)
        assert config.uses_value
    hp = jaxpg.hparams(jaxpg.PPOConfig(clip_eps=0.1, gae_lambda=0.9))
    assert float(hp.clip_eps) == pytest.approx(0.1)
    assert float(hp.gae_lambda) == pytest.approx(0.9)


# ---------------------------------------------------------------------------
# Probe environments
# ---------------------------------------------------------------------------


@struct.dataclass
class ProbeParams(environment.EnvParams):
    max_steps_in_episode: int = 10


class OneStep(environment.Environment):
    """One-step episodes with reward 1 whatever the action: V(s) = 1."""

    @property
    def default_params(self):
        return ProbeParams()

    def step_env(self, key, state, action, params):
        state = environment.EnvState(time=state.time + 1)
        return jnp.ones((1,)), state, jnp.float32(1.0), jnp.bool_(True), {}

    def reset_env(self, key, params):
        return jnp.ones((1,)), environment.EnvState(time=jnp.int32(0))

    def observation_space(self, params):
        return spaces.Box(0.0, 1.0, (1,), jnp.float32)

    def action_space(self, params=None):
        return spaces.Discrete(2)


class Bandit(OneStep):
    """One-step episodes: arm 1 pays 1, arm 0 pays 0."""

    def step_env(self, key, state, action, params):
        obs, state, _, done, info = super().step_env(key, state, action, params)
        return obs, state, (action == 1).astype(jnp.float32), done, info


class ContinuousBandit(OneStep):
    """One-step episodes with reward −(a − 0.5)²: the best mean action is 0.5."""

    def step_env(self, key, state, action, params):
        obs, state, _, done, info = super().step_env(key, state, action, params)
        return obs, state, -((action[0] - 0.5) ** 2), done, info

    def action_space(self, params=None):
        return spaces.Box(-2.0, 2.0, (1,), jnp.float32)


PROBE = {"num_envs": 8, "num_steps": 4, "num_updates": 150, "hidden_sizes": (16,)}
ALGOS = [
    ("a2c", lambda **kw: jaxpg.A2CConfig(env_id=None, **kw)),
    (
        "ppo",
        lambda **kw: jaxpg.PPOConfig(
            env_id=None, num_epochs=2, num_minibatches=2, **kw
        ),
    ),
]


@struct.dataclass
class CoinState(environment.EnvState):
    coin: jax.Array  # [] float32: 0 or 1


class StateValue(OneStep):
    """One-step episodes from a random state s ∈ {0, 1} (observed as [s]) that pay
    3s − 1 whatever the action: V(0) = −1, V(1) = 2. A critic that ignores the
    observation (or learns only the mean, 0.5) misses both values."""

    def reset_env(self, key, params):
        coin = jax.random.bernoulli(key).astype(jnp.float32)
        return coin[None], CoinState(time=jnp.int32(0), coin=coin)

    def step_env(self, key, state, action, params):
        new = CoinState(time=state.time + 1, coin=state.coin)
        return state.coin[None], new, 3.0 * state.coin - 1.0, jnp.bool_(True), {}


@pytest.mark.parametrize(("name", "make"), ALGOS)
def test_critic_learns_the_value_of_each_state(name, make):
    config = make(learning_rate=1e-2, **PROBE)
    env = StateValue()
    result = jax.jit(jaxpg.make_train(config, env=env))(jax.random.key(0))
    value = jaxpg.make_value(config, env, env.default_params)
    v0 = float(value.apply(result.params["value"], jnp.zeros((1,))))
    v1 = float(value.apply(result.params["value"], jnp.ones((1,))))
    assert v0 == pytest.approx(-1.0, abs=0.1)
    assert v1 == pytest.approx(2.0, abs=0.1)
    assert int(result.metrics["episode_length"][-1]) == 1


@pytest.mark.parametrize(("name", "make"), ALGOS)
def test_policy_picks_the_better_arm(name, make):
    config = make(learning_rate=1e-2, **PROBE)
    env = Bandit()
    result = jax.jit(jaxpg.make_train(config, env=env))(jax.random.key(0))
    policy = jaxpg.make_policy(config, env, env.default_params)
    probs = jax.nn.softmax(policy.apply(result.params["policy"], jnp.ones((1,))))
    assert float(probs[1]) > 0.95
    assert float(result.metrics["episode_return"][-10:].mean()) > 0.9


@pytest.mark.parametrize(("name", "make"), ALGOS)
def test_gaussian_policy_finds_the_best_action(name, make):
    config = make(learning_rate=1e-2, init_log_std=-1.0, **PROBE)
    env = ContinuousBandit()
    result = jax.jit(jaxpg.make_train(config, env=env))(jax.random.key(0))
    policy = jaxpg.make_policy(config, env, env.default_params)
    mean, _ = policy.apply(result.params["policy"], jnp.ones((1,)))
    assert float(mean[0]) == pytest.approx(0.5, abs=0.1)


# ---------------------------------------------------------------------------
# jit / vmap / sweep / chunking on CartPole
# ---------------------------------------------------------------------------

SMALL = {
    "a2c": jaxpg.A2CConfig(num_envs=4, num_steps=8, num_updates=3, hidden_sizes=(16,)),
    "ppo": jaxpg.PPOConfig(
        num_envs=4,
        num_steps=8,
        num_updates=3,
        hidden_sizes=(16,),
        num_epochs=2,
        num_minibatches=2,
        clip_value=True,
    ),
}


@pytest.mark.parametrize("name", ["a2c", "ppo"])
def test_chunks_equal_one_run_and_metrics_are_finite(name):
    # The environment state carried in TrainState.env_state makes 1 + 1 + 1 updates
    # the same computation as 3.
    config = SMALL[name]
    trainer = jaxpg.make_trainer(config)
    run = jax.jit(trainer.run, static_argnums=1)
    state = trainer.init(jax.random.key(3))
    whole, m3 = run(state, 3)
    part = state
    for _ in range(3):
        part, _ = run(part, 1)
    assert_trees_close(whole.params, part.params)
    assert_trees_close(whole.env_state, part.env_state)
    expected = {
        "episode_return",
        "episode_length",
        "episodes_finished",
        "loss",
        "policy_loss",
        "value_loss",
        "entropy",
        "grad_norm",
        "env_steps",
    }
    if name == "ppo":
        expected |= {"approx_kl", "clip_fraction"}
    assert expected <= set(m3)
    for k, v in m3.items():
        assert np.all(np.isfinite(np.asarray(v))), k
    np.testing.assert_array_equal(m3["env_steps"], 32)
    assert int(whole.step) == 3


def test_anneal_lr_decays_linearly():
    from jaxpg.algorithms import a2c

    config = a2c.A2CConfig(num_updates=4)
    opt = actor_critic.make_optimizer(jaxpg.hparams(config), config, 2)
    params = {"w": jnp.zeros(())}
    state = opt.init(params)
    # Adam's first step moves every coordinate by ≈ lr (sign of the gradient); with
    # 2 optimiser steps per update, the rate of update u is lr·(1 − u/4).
    moves = []
    for _ in range(8):
        updates, state = opt.update({"w": jnp.float32(1.0)}, state, params)
        moves.append(-float(updates["w"]))
    lr = config.learning_rate
    expected = lr * np.array([1.0, 1.0, 0.75, 0.75, 0.5, 0.5, 0.25, 0.25])
    np.testing.assert_allclose(moves, expected, rtol=1e-4)


# ---------------------------------------------------------------------------
# Observation normalisation and reward scaling
# ---------------------------------------------------------------------------


def test_running_stats_match_numpy():
    from jaxpg import normalization as norm

    x = jax.random.normal(jax.random.key(0), (50, 3)) * 3.0 + 1.0
    stats = norm.init_stats((3,))
    for chunk in (x[:10], x[10:35], x[35:]):
        stats = norm.update_stats(stats, chunk)
    np.testing.assert_allclose(stats.mean, np.mean(x, 0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(stats.var, np.var(x, 0), rtol=1e-3)
    assert norm.exact_count(stats) == 50


def test_reward_scaling_running_return_through_the_rollout():
    env = jaxpg.envs.encode_env(Timer())
    start = fixed.RolloutState(
        env_state=TimerState(time=jnp.array([0]), term_at=jnp.array([5])),
        obs=jnp.zeros((1, 1)),
        episode_return=jnp.zeros(1),
        episode_length=jnp.zeros(1, jnp.int32),
        reward_return=jnp.zeros(1),
        reward_stats=None,
    )
    end, data = fixed.rollout(
        jax.random.key(0), _fixed_policy(), {}, env, env.default_params, start, 5, 0.5
    )
    # Rewards 1, 2, 3 (truncated: R restarts), 1, 2 with γ = 0.5:
    #   R = 1, 2 + .5·1 = 2.5, 3 + .5·2.5 = 4.25 | 1, 2 + .5·1 = 2.5
    np.testing.assert_allclose(data.reward_return[:, 0], [1.0, 2.5, 4.25, 1.0, 2.5])
    np.testing.assert_allclose(end.reward_return, [2.5])


@pytest.mark.parametrize("name", ["a2c", "ppo"])
def test_normalized_observations_and_scaled_rewards(name):
    config = dataclasses.replace(
        SMALL[name], normalize_observations=True, scale_rewards=True
    )
    result = jax.jit(jaxpg.make_train(config))(jax.random.key(4))
    for k, v in result.metrics.items():
        assert np.all(np.isfinite(np.asarray(v))), k
    stats = result.params["policy"]["obs_stats"]
    # Refreshed after each of the 3 updates with T·N = 32 observations.
    assert normalization.exact_count(stats) == 96
    assert_trees_close(stats, result.params["value"]["obs_stats"])
    assert float(jnp.abs(stats.mean).max()) > 0.0
    assert normalization.exact_count(result.state.env_state.reward_stats) == 96
    # make_policy wraps too, so evaluate takes result.params as they are.
    env, env_params = jaxpg.make_env("CartPole-v1")
    policy = jaxpg.make_policy(config, env, env_params)
    returns_ = jaxpg.evaluate(
        jax.random.key(5), policy, result.params, env, env_params, 4
    )
    assert returns_.shape == (4,)


# ---------------------------------------------------------------------------
# Image observations: the conv torso
# ---------------------------------------------------------------------------


class ImageBandit(OneStep):
    """One-step episodes; a [5, 5, 2] image lights channel k ∈ {0, 1} (random);
    arm k pays 1, the other 0."""

    def step_env(self, key, state, action, params):
        state = ImageState(time=state.time + 1, k=state.k)
        reward = (action == state.k).astype(jnp.float32)
        return self._image(state.k), state, reward, jnp.bool_(True), {}

    def reset_env(self, key, params):
        k = jax.random.bernoulli(key).astype(jnp.int32)
        return self._image(k), ImageState(time=jnp.int32(0), k=k)

    @staticmethod
    def _image(k):
        return jnp.zeros((5, 5, 2)).at[:, :, k].set(1.0)

    def observation_space(self, params):
        return spaces.Box(0.0, 1.0, (5, 5, 2), jnp.float32)


@struct.dataclass
class ImageState(environment.EnvState):
    k: jax.Array  # the lit channel, the paying arm


def test_conv_torso_learns_an_image_bandit():
    config = jaxpg.PPOConfig(
        env_id=None,
        num_envs=8,
        num_steps=4,
        num_updates=100,
        hidden_sizes=(16,),
        num_epochs=2,
        num_minibatches=2,
        learning_rate=1e-2,
    )
    env = ImageBandit()
    result = jax.jit(jaxpg.make_train(config, env=env))(jax.random.key(0))
    assert "Conv_0" in result.params["policy"]["params"]["MLP_0"]
    policy = jaxpg.make_policy(config, env, env.default_params)
    images = jnp.stack([ImageBandit._image(0), ImageBandit._image(1)])
    probs = jax.nn.softmax(policy.apply(result.params["policy"], images))
    assert float(probs[0, 0]) > 0.9 and float(probs[1, 1]) > 0.9


def test_conv_channels_need_image_observations():
    with pytest.raises(ValueError, match="conv_channels"):
        jaxpg.make_train(jaxpg.A2CConfig(conv_channels=(8,)))
    with pytest.raises(ValueError, match="conv_channels"):
        jaxpg.PPOConfig(conv_channels=(0,))


def test_minatar_runs_with_the_conv_torso():
    config = jaxpg.PPOConfig(
        env_id="Breakout-MinAtar",
        num_envs=4,
        num_steps=8,
        num_updates=2,
        hidden_sizes=(32,),
        num_minibatches=2,
        num_epochs=1,
    )
    result = jax.jit(jaxpg.make_train(config))(jax.random.key(0))
    kernel = result.params["policy"]["params"]["MLP_0"]["Conv_0"]["kernel"]
    assert kernel.shape == (3, 3, 4, 16)
    for k, v in result.metrics.items():
        assert np.all(np.isfinite(np.asarray(v))), k
    # The convolution is on the gradient path: training moved its kernel.
    start = jaxpg.make_trainer(config).init(jax.random.key(0)).params
    before = start["policy"]["params"]["MLP_0"]["Conv_0"]["kernel"]
    assert float(jnp.abs(kernel - before).max()) > 1e-4
    # And the policy reads the image: moving one pixel changes its logits.
    env, env_params = jaxpg.make_env("Breakout-MinAtar")
    obs, _ = env.reset(jax.random.key(1), env_params)
    moved = obs.at[0, 0, 0].set(1.0 - obs[0, 0, 0])
    policy = jaxpg.make_policy(config, env, env_params)
    logits = policy.apply(result.params["policy"], jnp.stack([obs, moved]))
    assert not np.allclose(logits[0], logits[1])


# ---------------------------------------------------------------------------
# Learning CartPole-v1 (slow)
# ---------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("config", [jaxpg.A2CConfig(), jaxpg.PPOConfig()])
def test_default_config_solves_cartpole(config):
    result = jax.jit(jaxpg.make_train(config))(jax.random.key(0))
    env, env_params = jaxpg.make_env("CartPole-v1")
    policy = jaxpg.make_policy(config, env, env_params)
    returns_ = jaxpg.evaluate(
        jax.random.key(100), policy, result.params, env, env_params, 100
    )
    assert float(np.mean(returns_)) >= 475.0
