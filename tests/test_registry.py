"""The algorithm registry is the one list: an algorithm added here, in this file
alone, trains through make_train, make_trainer, save/load and the run loop.

The extra algorithm is vanilla policy gradient on fixed-length rollouts: Ψ is the
discounted reward-to-go inside the window (cut at episode ends, 0 past the
window's last step), no critic, one gradient step per update.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from trees import assert_bit_identical, assert_trees_close

import jaxpg
from jaxpg import losses, returns, run
from jaxpg import policy as pol
from jaxpg.algorithms import base, common, registry
from jaxpg.rollout import fixed


@dataclasses.dataclass(frozen=True)
class VPGConfig:
    """Vanilla policy gradient on windows of ``num_steps`` steps."""

    env_id: str | None = "CartPole-v1"
    num_envs: int = 8
    num_updates: int = 3
    learning_rate: float = 1e-2
    gamma: float = 0.99
    hidden_sizes: tuple[int, ...] = (16,)
    activation: str = "tanh"
    entropy_coef: float = 0.0
    max_grad_norm: float = float("inf")
    value_coef: float = 0.5
    init_log_std: float = 0.0
    num_steps: int = 16

    def __post_init__(self) -> None:
        common.check_common(self)
        common.check_int("num_steps", self.num_steps, 1)

    @property
    def uses_value(self) -> bool:
        return False


def _vpg_update(config, env, env_params, policy, value, *, sharding=None):
    del value  # no critic
    obs = pol.example_observation(env, env_params)

    def loss_fn(params, data, psi):
        logp = pol.log_prob(policy.apply(params["policy"], data.obs), data.action)
        return losses.score_function_loss(logp, psi, jnp.ones_like(psi)) / psi.shape[0]

    def update(state, _=None):
        hp = state.hparams
        key, key_rollout = jax.random.split(state.key)
        env_end, data = fixed.rollout(
            key_rollout,
            policy,
            state.params["policy"],
            env,
            env_params,
            state.env_state,
            config.num_steps,
            sharding=sharding,
        )
        done = data.terminated | data.truncated
        discounts = hp.gamma * (1.0 - done.astype(jnp.float32))
        psi = jax.vmap(returns.reward_to_go, in_axes=1, out_axes=1)(
            data.reward, discounts
        )
        loss, grads = jax.value_and_grad(loss_fn)(state.params, data, psi)
        optimizer = base.make_optimizer(hp)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        metrics = base.episode_metrics(
            data.finished_return, data.finished_length, done, state
        )
        metrics.update(loss=loss, env_steps=jnp.int32(done.size))
        new_state = state._replace(
            params=optax.apply_updates(state.params, updates),
            opt_state=opt_state,
            key=key,
            env_state=env_end,
            step=state.step + 1,
            last_episode_return=metrics["episode_return"],
            last_episode_length=metrics["episode_length"],
        )
        return new_state, metrics

    def init(key, hparams=None):
        hp = jaxpg.hparams(config) if hparams is None else hparams
        key, key_policy, key_reset = jax.random.split(key, 3)
        params = {"policy": policy.init(key_policy, obs), "value": None}
        start = fixed.reset(key_reset, env, env_params, config.num_envs)
        opt_state = base.make_optimizer(hp).init(params)
        return base.initial_state(key, params, opt_state, start, hp)

    return base.Update(init, update)


VPG = base.Algorithm(
    name="vpg",
    label="VPG",
    config_type=VPGConfig,
    make_update=_vpg_update,
    episodic=False,
)


@pytest.fixture(scope="module", autouse=True)
def vpg_registered():
    registry.register(VPG)
    yield
    registry.unregister("vpg")


def test_a_registered_algorithm_trains_through_make_train_and_vmaps():
    config = VPGConfig()
    assert registry.for_config(config) is VPG
    assert "vpg" in registry.names()
    train = jaxpg.make_train(config)
    result = jax.jit(train)(jax.random.key(0))
    assert result.metrics["loss"].shape == (3,)
    np.testing.assert_array_equal(result.metrics["env_steps"], 8 * 16)
    # The parameters moved, and nothing is NaN.
    start = jaxpg.make_trainer(config).init(jax.random.key(0)).params
    moved = jax.tree.map(lambda a, b: float(jnp.abs(a - b).max()), result.params, start)
    assert max(jax.tree.leaves(moved)) > 0
    assert all(np.isfinite(x).all() for x in jax.tree.leaves(result.params))
    # Seeds: vmap matches a loop (DESIGN: compare after a few updates).
    keys = jax.random.split(jax.random.key(1), 2)
    batched = jax.jit(jax.vmap(train))(keys)
    for i in range(2):
        one = jax.jit(train)(keys[i])
        assert_trees_close(
            jax.tree.map(lambda x, i=i: x[i], batched.params), one.params, rtol=1e-5
        )


def test_a_registered_algorithm_checkpoints_and_resumes_bit_exactly(tmp_path):
    config = VPGConfig()
    trainer = jaxpg.make_trainer(config)
    run = jax.jit(trainer.run, static_argnums=1)
    state, _ = run(trainer.init(jax.random.key(2)), 2)
    jaxpg.save(tmp_path / "ckpt", state, config)
    loaded, loaded_config = jaxpg.load(tmp_path / "ckpt")
    assert loaded_config == config
    straight, _ = run(state, 1)
    resumed, _ = run(loaded, 1)
    assert_bit_identical(straight.params, resumed.params)


def test_a_registered_algorithm_runs_in_the_run_loop_and_resumes(tmp_path):
    config = VPGConfig(num_updates=4)
    options = run.RunOptions(chunk=2, eval_episodes=4, checkpoint_every=2)
    logs: list[str] = []
    outcome = run.train_run(config, options, tmp_path / "run", log=logs.append)
    assert outcome.status == "finished"
    rows = run.read_metrics(tmp_path / "run")
    assert [r["update"] for r in rows][-1] == 4
    stored, _ = run.read_run_config(tmp_path / "run")
    assert stored == config
    assert any("VPG" in line for line in logs)


def test_the_registry_refuses_duplicates_and_unknown_configs():
    with pytest.raises(ValueError, match="already registered"):
        registry.register(VPG)
    with pytest.raises(ValueError, match="algorithm must be one of"):
        registry.get("dqn")

    @dataclasses.dataclass(frozen=True)
    class Stray:
        env_id: str = "CartPole-v1"

    with pytest.raises(TypeError, match="config must be one of"):
        jaxpg.make_trainer(Stray())
    with pytest.raises(ValueError, match="built in"):
        registry.unregister("ppo")


def test_one_list_of_algorithms():
    """The registry holds the only list of the built-in algorithms: no other module
    of the package or script writes their names or config classes side by side."""
    import pathlib
    import re

    root = pathlib.Path(jaxpg.__file__).parent.parent
    lists = [
        re.compile(r"[\"']reinforce[\"']\s*[,:][^\n]{0,60}[\"']a2c[\"']", re.I | re.S),
        re.compile(r"ReinforceConfig\b[,)\]}][\s\S]{0,80}A2CConfig\b[,)\]}]"),
    ]
    found = []
    for path in [*root.glob("jaxpg/**/*.py"), *root.glob("scripts/*.py")]:
        if path.name == "__init__.py" and path.parent.name == "jaxpg":
            continue  # the public API re-exports the three config classes
        if path.name == "registry.py":
            continue  # the list itself
        text = path.read_text(encoding="utf-8")
        if any(p.search(text) for p in lists):
            found.append(path.relative_to(root).as_posix())
    assert found == [], found
