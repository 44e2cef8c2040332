"""jaxpg.save / jaxpg.load: exact round trips, bit-exact resume, atomicity, errors."""

from __future__ import annotations

import json
import shutil

import jax
import pytest
from trees import assert_bit_identical

import jaxpg
from jaxpg import checkpoint

pytestmark = pytest.mark.timeout(180)

CONFIG = jaxpg.ReinforceConfig(
    env_id="CartPole-v1", num_envs=4, num_updates=4, hidden_sizes=(8,)
)


@pytest.fixture(scope="module")
def trainer():
    return jaxpg.make_trainer(CONFIG)


@pytest.fixture(scope="module")
def run(trainer):
    # One jitted chunk function shared by every test: the resumed and the
    # uninterrupted runs go through the same compiled code.
    return jax.jit(trainer.run, static_argnums=1)


@pytest.fixture(scope="module")
def state2(trainer, run):
    state, _ = run(trainer.init(jax.random.key(0)), 2)
    return state


def test_round_trip_every_leaf_and_the_key(tmp_path, state2):
    jaxpg.save(tmp_path / "ckpt", state2, CONFIG)
    loaded, config = jaxpg.load(tmp_path / "ckpt")
    assert config == CONFIG
    assert isinstance(config.hidden_sizes, tuple)
    assert_bit_identical(loaded, state2)
    # The key comes back as a typed key of the same implementation, not raw data.
    assert jax.dtypes.issubdtype(loaded.key.dtype, jax.dtypes.prng_key)
    assert jax.random.key_impl(loaded.key) == jax.random.key_impl(state2.key)
    # A non-trivial state: the two updates moved the parameters and the step.
    assert int(loaded.step) == 2


def test_round_trip_with_explicit_template(tmp_path, trainer, state2):
    jaxpg.save(tmp_path / "ckpt", state2, CONFIG)
    like = jax.eval_shape(trainer.init, jax.random.key(0))
    loaded, _ = jaxpg.load(tmp_path / "ckpt", like=like)
    assert_bit_identical(loaded, state2)


def test_non_default_key_implementation_round_trips(tmp_path, trainer):
    state = trainer.init(jax.random.key(3))._replace(key=jax.random.key(7, impl="rbg"))
    jaxpg.save(tmp_path / "ckpt", state, CONFIG)
    loaded, _ = jaxpg.load(tmp_path / "ckpt", like=state)
    assert str(jax.random.key_impl(loaded.key)) == str(jax.random.key_impl(state.key))
    assert_bit_identical(loaded, state)


def test_resume_is_bit_identical_to_uninterrupted_chunks(tmp_path, run, state2):
    uninterrupted, metrics_a = run(state2, 2)

    jaxpg.save(tmp_path / "ckpt", state2, CONFIG)
    restored, _ = jaxpg.load(tmp_path / "ckpt")
    resumed, metrics_b = run(restored, 2)

    assert int(resumed.step) == 4
    assert_bit_identical(resumed, uninterrupted)
    assert_bit_identical(metrics_b, metrics_a)
    # The loaded state has the same types and placement as a fresh one, so the
    # jitted chunk is reused rather than compiled a second time.
    assert run._cache_size() == 1


def test_config_json_is_strict_json_and_round_trips():
    config = jaxpg.ReinforceConfig(hidden_sizes=(16, 4), max_grad_norm=float("inf"))
    text = json.dumps(checkpoint.config_to_dict(config), allow_nan=False)
    data = json.loads(text)
    assert data["class"] == "ReinforceConfig"
    assert data["fields"]["hidden_sizes"] == [16, 4]
    assert checkpoint.config_from_dict(data) == config


def test_failed_save_leaves_previous_checkpoint_intact(tmp_path, monkeypatch, state2):
    import orbax.checkpoint as ocp

    path = tmp_path / "ckpt"
    jaxpg.save(path, state2, CONFIG)
    before = sorted(p.relative_to(path) for p in path.rglob("*"))

    def crash(self, directory, *args, **kwargs):
        directory.mkdir(parents=True)
        (directory / "half-written").write_text("x")
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(ocp.StandardCheckpointer, "save", crash)
    other = CONFIG.__class__(num_envs=4, num_updates=9, hidden_sizes=(8,))
    with pytest.raises(OSError, match="simulated"):
        jaxpg.save(path, state2, other)
    monkeypatch.undo()

    assert sorted(p.relative_to(path) for p in path.rglob("*")) == before
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]  # no temporary left
    loaded, config = jaxpg.load(path)
    assert config == CONFIG
    assert_bit_identical(loaded, state2)


def test_save_replaces_an_existing_checkpoint(tmp_path, trainer, state2):
    path = tmp_path / "ckpt"
    jaxpg.save(path, trainer.init(jax.random.key(5)), CONFIG)
    jaxpg.save(path, state2, CONFIG)
    loaded, _ = jaxpg.load(path)
    assert int(loaded.step) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]


def test_missing_checkpoint_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at .*nowhere"):
        jaxpg.load(tmp_path / "nowhere")


def test_directory_without_checkpoint_files(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"empty is not a complete .*state\.json"):
        jaxpg.load(tmp_path / "empty")


def test_corrupted_json(tmp_path, state2):
    path = tmp_path / "ckpt"
    jaxpg.save(path, state2, CONFIG)
    (path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"ckpt is corrupted: config\.json"):
        jaxpg.load(path)


def test_corrupted_arrays(tmp_path, state2):
    path = tmp_path / "ckpt"
    jaxpg.save(path, state2, CONFIG)
    shutil.rmtree(path / "state")
    (path / "state").mkdir()
    with pytest.raises(ValueError, match="could not read the arrays of the checkpoint"):
        jaxpg.load(path)


def test_invalid_stored_config_is_a_value_error(tmp_path, state2):
    path = tmp_path / "ckpt"
    jaxpg.save(path, state2, CONFIG)
    data = json.loads((path / "config.json").read_text())
    data["fields"]["gamma"] = 2.0
    (path / "config.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="gamma must be"):
        jaxpg.load(path)


def test_mismatched_template_names_the_leaf(tmp_path, state2):
    path = tmp_path / "ckpt"
    jaxpg.save(path, state2, CONFIG)
    wider = jaxpg.make_trainer(
        jaxpg.ReinforceConfig(num_envs=4, num_updates=4, hidden_sizes=(16,))
    )
    like = jax.eval_shape(wider.init, jax.random.key(0))
    with pytest.raises(
        ValueError,
        match=r"stores .*kernel.* as float32\[8, 2\], the template expects float32\[16, 2\]",
    ):
        jaxpg.load(path, like=like)


def test_save_to_a_file_path_is_refused(tmp_path, state2):
    target = tmp_path / "file"
    target.write_text("keep me")
    with pytest.raises(ValueError, match="it is a file"):
        jaxpg.save(target, state2, CONFIG)
    assert target.read_text() == "keep me"


def test_save_refuses_to_replace_a_folder_that_is_not_a_checkpoint(tmp_path, state2):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "metrics.jsonl").write_text("keep me\n")
    with pytest.raises(ValueError, match="not a jaxpg checkpoint"):
        jaxpg.save(folder, state2, CONFIG)
    assert (folder / "metrics.jsonl").read_text() == "keep me\n"
