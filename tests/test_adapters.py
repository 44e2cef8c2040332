"""The adapters behind make_env("NAMESPACE:ID"): each library's contract test.

Per library (skipped where it is not installed; see the README for the extras):
termination and truncation kept apart, the final observation under auto-reset, an
episodic REINFORCE rollout, one PPO update and a checkpoint round trip, all on a
tiny configuration (a short horizon, 8 environments, an 8-unit MLP). The tests of
the libraries that are slow to compile here (brax, playground, craftax) are
marked ``adapters_heavy``.
"""

from __future__ import annotations

import importlib.util

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from trees import assert_bit_identical

import jaxpg
from jaxpg import adapters

pytestmark = pytest.mark.timeout(900)

HEAVY = pytest.mark.adapters_heavy
# id, constructor kwargs giving a short horizon, the horizon, whether random
# play terminates episodes within it, and whether the library is heavy here.
CASES = {
    "xminigrid": ("xminigrid:MiniGrid-Empty-5x5", dict(max_steps=20), 20, True),
    "navix": ("navix:Navix-Empty-5x5-v0", dict(max_steps=20), 20, True),
    "jumanji": ("jumanji:Maze-v0", dict(time_limit=20), 20, True),
    "brax": (
        "brax:inverted_pendulum",
        dict(episode_length=12, backend="positional"),
        12,
        True,
    ),
    "playground": ("playground:CartpoleBalance", dict(episode_length=12), 12, False),
    "craftax": (
        "craftax:Craftax-Classic-Symbolic-v1",
        dict(max_timesteps=12),
        12,
        False,
    ),
}
HEAVY_LIBRARIES = ("brax", "playground", "craftax")


def _param(namespace):
    module = adapters.LIBRARIES[namespace].MODULE
    marks = [HEAVY] if namespace in HEAVY_LIBRARIES else []
    if importlib.util.find_spec(module) is None:
        marks.append(
            pytest.mark.skip(reason=f'pip install "jaxpg[{namespace}]" to run it')
        )
    return pytest.param(namespace, marks=marks, id=namespace)


LIBRARIES = [_param(n) for n in CASES]


@pytest.fixture(scope="module", params=LIBRARIES)
def case(request):
    env_id, kwargs, horizon, terminates = CASES[request.param]
    env, env_params = jaxpg.make_env(env_id, **kwargs)
    return env_id, env, env_params, horizon, terminates


def _random_walk(env, env_params, num_envs, num_steps, seed=0):
    """num_steps auto-resetting steps of random actions: what each step saw."""
    space = env.action_space(env_params)
    reset = jax.vmap(env.reset, in_axes=(0, None))
    step = jax.vmap(env.step, in_axes=(0, 0, 0, None))

    def body(carry, key):
        obs, state = carry
        key_act, key_step = jax.random.split(key)
        actions = jax.vmap(space.sample)(jax.random.split(key_act, num_envs))
        out = step(jax.random.split(key_step, num_envs), state, actions, env_params)
        next_obs, next_state, reward, terminated, truncated, info = out
        record = dict(
            obs=obs,
            next_obs=next_obs,
            final=info["final_observation"],
            reward=reward,
            terminated=terminated,
            truncated=truncated,
            time=next_state.time,
        )
        return (next_obs, next_state), record

    key_reset, key_walk = jax.random.split(jax.random.key(seed))
    start = reset(jax.random.split(key_reset, num_envs), env_params)
    walk = jax.jit(lambda k: jax.lax.scan(body, start, jax.random.split(k, num_steps)))
    return jax.tree.map(np.asarray, walk(key_walk)[1])


def test_termination_truncation_and_final_observation(case):
    env_id, env, env_params, horizon, terminates = case
    assert env_params.max_steps_in_episode == horizon
    rec = _random_walk(env, env_params, num_envs=64, num_steps=3 * horizon)
    terminated, truncated = rec["terminated"], rec["truncated"]
    assert not np.any(terminated & truncated)
    # Episode lengths: a truncation happens exactly at the horizon, a
    # termination before or at it.
    length = np.zeros(terminated.shape[1], int)
    lengths_truncated, lengths_terminated = [], []
    for t in range(terminated.shape[0]):
        length += 1
        lengths_truncated += list(length[truncated[t]])
        lengths_terminated += list(length[terminated[t]])
        length[terminated[t] | truncated[t]] = 0
    assert lengths_truncated and set(lengths_truncated) == {horizon}
    assert (len(lengths_terminated) > 0) == terminates
    assert all(n <= horizon for n in lengths_terminated)
    # Auto-reset: after an end the clock restarts and the next observation is a
    # new episode's; elsewhere the final observation is the next observation.
    done = terminated | truncated
    assert np.all(rec["time"][done] == 0) and np.all(rec["time"][~done] > 0)
    np.testing.assert_array_equal(rec["final"][~done], rec["next_obs"][~done])
    assert np.all(np.isfinite(rec["final"])) and np.all(np.isfinite(rec["reward"]))
    differs = [
        not np.array_equal(a, b)
        for a, b in zip(rec["final"][done], rec["next_obs"][done], strict=True)
    ]
    assert any(differs)


def test_episodic_rollout_and_one_reinforce_update(case):
    env_id, env, env_params, horizon, _ = case
    config = jaxpg.ReinforceConfig(
        env_id=env_id, num_envs=8, num_updates=1, hidden_sizes=(8,)
    )
    train = jaxpg.make_train(config, env=env, env_params=env_params)
    result = jax.jit(train)(jax.random.key(0))
    steps = int(result.metrics["env_steps"][0])
    assert 8 <= steps <= 8 * horizon
    assert int(result.metrics["episodes_finished"][0]) == 8
    assert np.isfinite(float(result.metrics["episode_return"][0]))


def test_one_ppo_update_and_checkpoint_round_trip(case, tmp_path):
    env_id, env, env_params, horizon, _ = case
    config = jaxpg.PPOConfig(
        env_id=env_id,
        num_envs=8,
        num_steps=horizon,
        num_updates=1,
        num_epochs=1,
        num_minibatches=1,
        hidden_sizes=(8,),
    )
    trainer = jaxpg.make_trainer(config, env=env, env_params=env_params)
    state0 = trainer.init(jax.random.key(1))
    state1, metrics = jax.jit(trainer.run, static_argnums=1)(state0, 1)
    for name in ("policy_loss", "value_loss"):
        assert np.all(np.isfinite(np.asarray(metrics[name])))
    moved = jax.tree.map(
        lambda a, b: bool(jnp.any(a != b)), state0.params, state1.params
    )
    assert any(jax.tree.leaves(moved))
    # MJX's state (playground) holds zero-size arrays (no contacts in Cartpole),
    # which orbax refuses; jaxpg.checkpoint stores them by shape and dtype.
    jaxpg.save(tmp_path / "ckpt", state1, config)
    like = jax.eval_shape(trainer.init, jax.random.key(0))
    loaded, loaded_config = jaxpg.load(tmp_path / "ckpt", like=like)
    assert loaded_config == config
    assert_bit_identical(loaded, state1)


# --- without any library: dispatch, install hints, dict observations ---------


def test_a_missing_library_names_the_install_command(monkeypatch):
    monkeypatch.setattr(adapters.LIBRARIES["brax"], "MODULE", "no_such_module_jaxpg")
    with pytest.raises(ValueError, match=r'pip install "jaxpg\[brax\]"'):
        jaxpg.make_env("brax:inverted_pendulum")
    with pytest.raises(ValueError, match=r'pip install "jaxpg\[brax\]"'):
        jaxpg.supported_env_ids("brax")


def test_an_unknown_namespace_lists_the_adapters():
    with pytest.raises(ValueError, match="brax.*craftax.*jumanji.*navix"):
        jaxpg.make_env("gym:CartPole-v1")
    assert adapters.split_id("CartPole-v1") is None
    assert adapters.split_id("navix:Navix-Empty-5x5-v0") == (
        "navix",
        "Navix-Empty-5x5-v0",
    )


def test_dict_observations_of_vectors_are_concatenated_in_key_order():
    from gymnax.environments import spaces

    from jaxpg.envs import combine_observation

    space = spaces.Dict(
        {
            "b": spaces.Box(0, 1, (2, 2), jnp.float32),
            "a": spaces.Discrete(3),
            "c": spaces.Box(0, 9, (), jnp.int32),
        }
    )
    obs = {"b": jnp.array([[1.0, 2.0], [3.0, 4.0]]), "a": 2, "c": jnp.int32(7)}
    out = combine_observation(obs, space)
    np.testing.assert_array_equal(out, [0, 0, 1, 1, 2, 3, 4, 7])
    # A batch of two: leading axes are kept.
    batch = jax.tree.map(lambda x: jnp.stack([jnp.asarray(x)] * 2), obs)
    assert combine_observation(batch, space).shape == (2, 8)


def test_dict_observations_with_an_image_keep_it_and_tile_the_vectors():
    from jaxpg.envs import combine_observation

    image = jnp.arange(2 * 3 * 4, dtype=jnp.float32).reshape(2, 3, 4)
    obs = {"grid": image, "pos": jnp.array([5.0, 6.0]), "t": jnp.float32(9)}
    out = combine_observation(obs)
    assert out.shape == (2, 3, 4 + 2 + 1)
    np.testing.assert_array_equal(out[..., :4], image)
    np.testing.assert_array_equal(out[..., 4:], np.broadcast_to([5, 6, 9], (2, 3, 3)))
    # Images of different sizes cannot be stacked: everything is flattened.
    obs["other"] = jnp.zeros((1, 1, 2))
    assert combine_observation(obs).shape == (2 * 3 * 4 + 2 + 2 + 1,)


def test_an_adapter_must_implement_every_library_hook():
    class Partial(adapters.base.Adapter):
        def library_reset(self, key, inner_params):
            return jnp.zeros(1), None

    with pytest.raises(TypeError, match="library_step"):
        Partial("partial", horizon=5)
