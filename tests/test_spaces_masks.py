"""Legal-action masks: −inf on illegal logits, finite log-probs, entropies and
gradients, the mask carried last in the encoded observation, and masked training."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnax.environments import spaces
from harness import np_log_softmax
from spaces_envs import LEGAL, NVEC, MaskedEnv, MatchEnv
from trees import all_finite

import jaxpg
from jaxpg import distributions as dist
from jaxpg import spaces as jspaces

pytestmark = pytest.mark.timeout(300)

FLAT = jnp.array(
    [[0.3, -1.0, 2.0, 0.5, 0.1, -0.2, 1.5, 0.0, 0.7], [1.0] * 9], jnp.float32
)


# --- legal-action masks ---------------------------------------------------------


def test_masked_sampling_never_picks_an_illegal_action():
    logits = jnp.array([5.0, 0.0, -1.0, 2.0, 1.0])
    legal = jnp.array([False, True, True, False, True])
    masked = dist.mask_logits(logits, legal)
    draws = jax.vmap(lambda k: dist.sample(k, masked))(
        jax.random.split(jax.random.key(0), 20000)
    )
    freq = np.bincount(np.asarray(draws), minlength=5) / 20000
    assert freq[0] == 0 and freq[3] == 0
    p = np.where(legal, np.exp(logits - logits.max()), 0.0)
    p = p / p.sum()
    np.testing.assert_allclose(freq, p, atol=4 * np.sqrt(p.max() / 20000))
    assert int(dist.mode(masked)) == 4  # the best legal one, not the arg-max 0
    # Control: without the mask the illegal arg-max dominates.
    assert int(dist.mode(logits)) == 0
    # A row with no legal action is left as it was (no NaN).
    none = dist.mask_logits(logits, jnp.zeros(5, bool))
    np.testing.assert_array_equal(none, logits)


@pytest.mark.parametrize("multi", [False, True])
def test_masked_log_prob_entropy_and_gradients_are_finite(multi):
    if multi:
        legal_flat = jnp.array([1, 0, 1, 0, 1, 1, 1, 0, 0], bool)

        def output(x):
            legal = dist.spread_dimensions(legal_flat, NVEC, False)
            return dist.mask_logits(dist.multi_categorical(x, NVEC), legal)

        x = FLAT[0]
        action = jnp.array([2, 1, 1])
        legal_p = [(0, 2), (1,), (0, 1)]
    else:

        def output(x):
            return dist.mask_logits(x, jnp.array([True, False, True, False]))

        x = jnp.array([0.5, 3.0, -1.0, 2.0])
        action = jnp.array(2)
        legal_p = None
    out = output(x)
    logits = out.logits if multi else out
    assert np.any(np.isneginf(logits))
    logp = dist.log_prob(out, action)
    h = dist.entropy(out)
    g_logp = jax.grad(lambda x: dist.log_prob(output(x), action))(x)
    g_h = jax.grad(lambda x: dist.entropy(output(x)))(x)
    assert all_finite((logp, h, g_logp, g_h))
    # Values by hand: softmax over the legal logits only.
    if multi:
        starts = (0, 3, 5)
        want_lp, want_h = 0.0, 0.0
        for d, legal in enumerate(legal_p):
            z = np.asarray(x[starts[d] + np.asarray(legal)], np.float64)
            lp = np_log_softmax(z)
            want_lp += lp[list(legal).index(int(action[d]))]
            want_h += -(np.exp(lp) * lp).sum()
    else:
        lp = np_log_softmax(np.asarray(x[jnp.array([0, 2])]))
        want_lp, want_h = lp[1], -(np.exp(lp) * lp).sum()
    assert float(logp) == pytest.approx(want_lp, rel=1e-5)
    assert float(h) == pytest.approx(want_h, rel=1e-5)
    # Illegal logits get no gradient.
    illegal = ~np.asarray(
        jnp.array([1, 0, 1, 0, 1, 1, 1, 0, 0], bool)
        if multi
        else jnp.array([True, False, True, False])
    )
    np.testing.assert_array_equal(np.asarray(g_logp)[illegal], 0.0)
    np.testing.assert_array_equal(np.asarray(g_h)[illegal], 0.0)


def test_masked_observation_encoding_round_trips():
    obs = {"b": jnp.arange(3.0), "action_mask": jnp.array([True, False]), "a": 7.0}
    enc = jspaces.encode_masked_observation(obs)
    np.testing.assert_array_equal(enc, [7.0, 0.0, 1.0, 2.0, 1.0, 0.0])  # mask last
    features, legal = jspaces.split_action_mask(jnp.stack([enc, enc]), 2, 1)
    np.testing.assert_array_equal(features, [[7.0, 0.0, 1.0, 2.0]] * 2)
    np.testing.assert_array_equal(legal, [[True, False]] * 2)
    image = jnp.arange(2 * 3 * 4.0).reshape(2, 3, 4)
    enc = jspaces.encode_masked_observation(
        {"grid": image, "action_mask": jnp.array([0, 1, 1])}
    )
    assert enc.shape == (2, 3, 7)
    features, legal = jspaces.split_action_mask(enc, 3, 3)
    np.testing.assert_array_equal(features, image)
    np.testing.assert_array_equal(legal, [False, True, True])


def test_make_policy_masks_from_the_observation():
    env, env_params = jaxpg.make_env(MaskedEnv())
    config = jaxpg.PPOConfig(env_id=None, hidden_sizes=(8,))
    policy = jaxpg.make_policy(config, env, env_params)
    obs, _ = env.reset(jax.random.key(0), env_params)
    assert obs.shape == (2 + 4,)  # one array, the mask last
    params = {"policy": policy.init(jax.random.key(1), obs)}
    # The network sees the observation without its mask (2 inputs, not 6).
    first = params["policy"]["params"]["MLP_0"]["Dense_0"]["kernel"]
    assert first.shape == (2, 8)
    logits = policy.apply(params["policy"], obs)
    np.testing.assert_array_equal(np.isneginf(logits), ~np.asarray(LEGAL))
    batch = jnp.stack([obs] * 4096)
    draws = jaxpg.act(policy, params, batch, jax.random.key(2))
    assert not np.any(np.asarray(draws) == 0)  # action 0 is illegal
    value = jaxpg.make_value(config, env, env_params)
    v_params = value.init(jax.random.key(3), obs)
    assert v_params["params"]["MLP_0"]["Dense_0"]["kernel"].shape == (2, 8)
    assert value.apply(v_params, batch).shape == (4096,)


def _masked_configs(num_updates):
    return {
        "reinforce": jaxpg.ReinforceConfig(
            env_id=None, num_envs=16, num_updates=num_updates, learning_rate=3e-2
        ),
        "a2c": jaxpg.A2CConfig(
            env_id=None, num_envs=8, num_updates=num_updates, num_steps=8
        ),
        "ppo": jaxpg.PPOConfig(
            env_id=None, num_envs=8, num_updates=num_updates, num_steps=16
        ),
    }


@pytest.mark.parametrize("algo", ["reinforce", "a2c", "ppo"])
def test_masked_training_never_takes_an_illegal_action(algo):
    env, env_params = jaxpg.make_env(MaskedEnv())
    config = _masked_configs(2)[algo]
    config = jaxpg.algorithms.common.replace(config, entropy_coef=0.01)
    result = jax.jit(jaxpg.make_train(config, env=env, env_params=env_params))(
        jax.random.key(0)
    )
    assert all_finite(result.params) and all_finite(result.metrics)
    policy = jaxpg.make_policy(config, env, env_params)
    traj = jaxpg.episodic_rollout(
        jax.random.key(1), policy, result.params["policy"], env, env_params, 256
    )
    taken = np.asarray(traj.action)[np.asarray(traj.mask) > 0]
    assert taken.size == 256 * 4 and not np.any(taken == 0)
    assert float(traj.reward.sum(0).max()) <= 4.0  # only legal rewards (<= 1/step)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_masked_ppo_learns_the_best_legal_action_and_the_unmasked_control_does_not():
    config = _masked_configs(40)["ppo"]

    def greedy_return(env):
        env, env_params = jaxpg.make_env(env)
        result = jax.jit(jaxpg.make_train(config, env=env, env_params=env_params))(
            jax.random.key(0)
        )
        policy = jaxpg.make_policy(config, env, env_params)
        return float(
            jaxpg.evaluate(
                jax.random.key(1), policy, result.params, env, env_params, 64
            ).mean()
        )

    assert greedy_return(MaskedEnv()) == 4.0  # the legal target every step

    class Unmasked(MaskedEnv):  # the same numbers as a plain array: no mask
        def _obs(self, context):
            obs = super()._obs(context)
            return jnp.concatenate([obs["obs"], obs["action_mask"].astype(float)])

        def observation_space(self, params):
            return spaces.Box(0.0, 1.0, (6,), jnp.float32)

    assert greedy_return(Unmasked()) == 8.0  # it learns the illegal action 0


def test_mask_of_the_wrong_shape_or_with_normalization_is_a_value_error():
    class JointMask(MatchEnv):
        def _obs(self, context):
            return {
                "obs": jax.nn.one_hot(context, 2),
                "action_mask": jnp.ones(NVEC, bool),  # a joint mask [3, 2, 4]
            }

    env, env_params = jaxpg.make_env(JointMask())
    with pytest.raises(ValueError, match="must have 9 entries.*got 24"):
        jaxpg.make_policy(jaxpg.PPOConfig(env_id=None), env, env_params)
    env, env_params = jaxpg.make_env(MaskedEnv())
    with pytest.raises(ValueError, match="^normalize_observations=True cannot"):
        jaxpg.make_train(
            jaxpg.PPOConfig(env_id=None, normalize_observations=True),
            env=env,
            env_params=env_params,
        )
