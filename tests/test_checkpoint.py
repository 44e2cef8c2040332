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
    with pytest.raises(ValueError, match=r"ckpt is corrupted: state/.* is missing"):
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


# ------------------------------------------------------------- damage and misuse


def _manifest(path):
    return json.loads((path / "state.json").read_text())


def _write_manifest(path, manifest):
    (path / "state.json").write_text(json.dumps(manifest))


def test_a_flipped_bit_in_an_array_file_is_refused(tmp_path, trainer, run):
    # Big enough that the arrays sit in an orbax data file that orbax does not
    # check itself: before checksums the flipped bit loaded silently.
    config = jaxpg.ReinforceConfig(num_envs=4, num_updates=4, hidden_sizes=(256,))
    state = jaxpg.make_trainer(config).init(jax.random.key(0))
    path = tmp_path / "ckpt"
    jaxpg.save(path, state, config)
    files = [p for p in (path / "state").rglob("*") if p.is_file()]
    biggest = max(files, key=lambda p: p.stat().st_size)
    data = bytearray(biggest.read_bytes())
    data[len(data) // 2] ^= 0x10
    biggest.write_bytes(bytes(data))
    name = biggest.relative_to(path).as_posix()
    with pytest.raises(ValueError, match=rf"ckpt is corrupted: {name} .*changed"):
        jaxpg.load(path)


def test_two_same_shape_leaves_swapped_in_state_json_are_refused(tmp_path, state2):
    path = tmp_path / "ckpt"
    jaxpg.save(path, state2, CONFIG)
    manifest = _manifest(path)
    entries = {e["path"]: e for e in manifest["leaves"]}
    mu = next(p for p in entries if p.endswith(".mu") or ".mu[" in p)
    nu = mu.replace(".mu", ".nu")
    assert entries[mu]["shape"] == entries[nu]["shape"]
    entries[mu]["name"], entries[nu]["name"] = entries[nu]["name"], entries[mu]["name"]
    _write_manifest(path, manifest)
    with pytest.raises(
        ValueError, match=r"corrupted: \.opt_state.*\.[mn]u does not match"
    ):
        jaxpg.load(path)


def test_a_changed_leaf_checksum_names_the_leaf(tmp_path, state2):
    path = tmp_path / "ckpt"
    jaxpg.save(path, state2, CONFIG)
    manifest = _manifest(path)
    step = next(e for e in manifest["leaves"] if e["path"] == ".step")
    step["sha256"] = "0" * 64
    _write_manifest(path, manifest)
    with pytest.raises(ValueError, match=r"corrupted: \.step does not match its check"):
        jaxpg.load(path)


def test_a_checkpoint_of_another_algorithm_is_refused(tmp_path):
    ppo = jaxpg.PPOConfig(num_envs=4, num_steps=8, num_updates=2, hidden_sizes=(8,))
    a2c = jaxpg.A2CConfig(num_envs=4, num_steps=8, num_updates=2, hidden_sizes=(8,))
    path = tmp_path / "ckpt"
    jaxpg.save(path, jaxpg.make_trainer(ppo).init(jax.random.key(0)), ppo)
    like = jax.eval_shape(jaxpg.make_trainer(a2c).init, jax.random.key(0))
    with pytest.raises(ValueError, match=r"holds a PPO state \(PPOConfig\); expected"):
        jaxpg.load(path, like=like, config_type=jaxpg.A2CConfig)
    reinforce = jax.eval_shape(jaxpg.make_trainer(CONFIG).init, jax.random.key(0))
    with pytest.raises(
        ValueError, match=r"holds a PPO state \(PPOConfig\), which does"
    ):
        jaxpg.load(path, like=reinforce)
    # The right expectation loads.
    _, config = jaxpg.load(path, like=like, config_type=jaxpg.PPOConfig)
    assert config == ppo


def test_a_version_1_checkpoint_loads_with_a_warning(tmp_path, state2):
    path = tmp_path / "ckpt"
    jaxpg.save(path, state2, CONFIG)
    manifest = _manifest(path)
    manifest["version"] = 1
    del manifest["files"]
    for entry in manifest["leaves"]:
        del entry["sha256"]
    _write_manifest(path, manifest)
    with pytest.warns(UserWarning, match="version 1, which has no checksums"):
        loaded, _ = jaxpg.load(path)
    assert_bit_identical(loaded, state2)
    manifest["version"] = 2  # a version-2 manifest without checksums is damaged
    _write_manifest(path, manifest)
    with pytest.raises(ValueError, match=r"leaf entry 0 has a missing or invalid 'sha"):
        jaxpg.load(path)


def _set_leaf(index, key, value):
    def damage(manifest):
        manifest["leaves"][index][key] = value

    return damage


def _key_entry(manifest):
    return next(e for e in manifest["leaves"] if "key_data" in e)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda m: m.update(leaves=[5]), r"leaf entry 0 is a int, not an object"),
        (lambda m: m.update(leaves={}), r"not a jaxpg checkpoint"),
        (lambda m: m.update(version="2"), r"format version '2'"),
        (
            _set_leaf(0, "shape", "abc"),
            r"leaf entry 0 has a missing or invalid 'shape'",
        ),
        (_set_leaf(0, "shape", [-1, 2]), r"invalid 'shape'"),
        (_set_leaf(0, "dtype", 7), r"leaf entry 0 has a missing or invalid 'dtype'"),
        (_set_leaf(0, "dtype", "object"), r"invalid 'dtype'"),
        (_set_leaf(0, "name", []), r"invalid 'name'"),
        (_set_leaf(0, "path", None), r"invalid 'path'"),
        (_set_leaf(0, "sha256", 12), r"invalid 'sha256'"),
        (lambda m: m.update(files=[1]), r"no valid 'files' checksums"),
        (
            lambda m: _key_entry(m)["key_data"].update(shape=[2**40]),
            r"key data is stored with shape \[1099511627776\], which does not fit",
        ),
        (
            lambda m: _key_entry(m)["key_data"].update(dtype="object"),
            r"invalid 'key_data'",
        ),
    ],
    ids=[
        "leaf-not-object",
        "leaves-not-list",
        "version-string",
        "shape-string",
        "shape-negative",
        "dtype-int",
        "dtype-object",
        "name-empty",
        "path-none",
        "sha-int",
        "files-list",
        "huge-key-data",
        "key-data-object",
    ],
)
def test_a_state_json_of_wrong_types_is_a_value_error(
    tmp_path, state2, damage, message
):
    path = tmp_path / "ckpt"
    jaxpg.save(path, state2, CONFIG)
    manifest = _manifest(path)
    damage(manifest)
    _write_manifest(path, manifest)
    with pytest.raises(ValueError, match=message):
        jaxpg.load(path)


def test_config_json_of_wrong_types_is_a_value_error(tmp_path, state2):
    path = tmp_path / "ckpt"
    jaxpg.save(path, state2, CONFIG)
    data = json.loads((path / "config.json").read_text())
    data["fields"] = ["num_envs"]
    (path / "config.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r'a config must be a JSON object \{"class"'):
        jaxpg.load(path)


@pytest.mark.parametrize("like", [5, "state", {"params": 1.0}, None.__class__])
def test_a_template_that_is_not_a_state_is_a_value_error(tmp_path, state2, like):
    path = tmp_path / "ckpt"
    jaxpg.save(path, state2, CONFIG)
    with pytest.raises(ValueError, match="like must be a template of the saved state"):
        jaxpg.load(path, like=like)


def test_saving_python_numbers_is_a_value_error_naming_the_leaf(tmp_path):
    with pytest.raises(ValueError, match=r"leaf \['lr'\] is a float, not an array"):
        jaxpg.save(tmp_path / "ckpt", {"lr": 0.1, "w": jax.numpy.ones(2)}, CONFIG)
    assert not (tmp_path / "ckpt").exists()


def _truncate_orbax_manifest(path):
    manifest = path / "state" / "manifest.ocdbt"
    manifest.write_bytes(manifest.read_bytes()[: manifest.stat().st_size // 2])


def test_a_truncated_checkpoint_names_the_file(tmp_path, state2):
    path = tmp_path / "ckpt"
    jaxpg.save(path, state2, CONFIG)
    _truncate_orbax_manifest(path)
    with pytest.raises(ValueError, match=r"corrupted: state/manifest\.ocdbt does not"):
        jaxpg.load(path)


def test_a_failed_orbax_read_leaves_no_event_loop_tracebacks(
    tmp_path, state2, monkeypatch
):
    """orbax gives up with reads in flight; their errors must not print later."""
    import sys
    import time
    import warnings

    path = tmp_path / "ckpt"
    jaxpg.save(path, state2, CONFIG)
    manifest = _manifest(path)
    manifest["version"] = 1  # no file checksums: orbax reads the damaged file
    manifest.pop("files", None)
    _write_manifest(path, manifest)
    _truncate_orbax_manifest(path)
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: seen.append(u.exc_value))
    for _ in range(3):
        with warnings.catch_warnings(), pytest.raises(ValueError, match="could not"):
            warnings.simplefilter("ignore")  # version 1: unverified
            jaxpg.load(path)
    time.sleep(0.5)  # the reads still in flight finish
    assert not [e for e in seen if "Event loop is closed" in str(e)]


def test_zero_size_leaves_round_trip(tmp_path):
    # MJX (playground) states hold zero-size arrays, which orbax refuses to
    # write; jaxpg stores them by shape and dtype alone.
    import jax.numpy as jnp

    state = {
        "w": jnp.arange(3.0),
        "contacts": jnp.zeros((4, 0), jnp.float32),
        "nested": {"none": jnp.zeros((0,), jnp.int32)},
        "key": jax.random.key(1),
    }
    jaxpg.save(tmp_path / "ckpt", state, CONFIG)
    loaded, _ = jaxpg.load(tmp_path / "ckpt", like=jax.eval_shape(lambda: state))
    assert_bit_identical(loaded, state)
    assert loaded["contacts"].shape == (4, 0)
    assert loaded["nested"]["none"].dtype == jnp.int32
    # The stored arrays are only the non-empty ones.
    manifest = json.loads((tmp_path / "ckpt" / "state.json").read_text())
    assert [e["shape"] for e in manifest["leaves"] if 0 in e["shape"]] == [
        [4, 0],
        [0],
    ]
