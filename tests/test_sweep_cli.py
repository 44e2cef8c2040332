"""Sweeps from the command line (``train.py --sweep``, :mod:`jaxpg.run.sweep`).

A sweep of 3 configurations × 2 seeds, chunked, equals the six separate runs
(each configuration's own config through ``make_train``, vmapped over the keys of
``--seeds 2``) after 3 updates; its final evaluation equals those runs'
parameters evaluated with the keys a ``--seeds 2`` run uses; Ctrl-C and resume
end where the uninterrupted sweep ends; the script writes sweep.jsonl and the
ranked table and resumes a sweep folder; bad ``--sweep`` input exits 2 before
anything is compiled or written.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from harness import interrupt_at, load_script

import jaxpg
from jaxpg import run
from jaxpg.evaluate import episode_returns
from jaxpg.run import bench
from jaxpg.run.programs import run_keys
from jaxpg.run.sweep import parse_sweep, read_sweep, sweep_configs
from jaxpg.run.sweep_programs import sweep_keys
from jaxpg.run.sweep_report import ranked_table
from jaxpg.run.sweep_run import sweep_run

pytestmark = pytest.mark.timeout(600)

ROOT = Path(__file__).resolve().parents[1]
CONFIG = jaxpg.ReinforceConfig(
    env_id="CartPole-v1", num_envs=8, num_updates=3, hidden_sizes=(8,)
)
OPTIONS = run.RunOptions(
    seed=3, seeds=2, chunk=2, eval_episodes=4, checkpoint_every=1, progress="lines"
)
SWEEP_ARGS = ["learning_rate=1e-3,1e-2,3e-2", "gamma=0.97"]


def quiet(_: str) -> None:
    pass


def sweep_of(config=CONFIG, seeds=2):
    return parse_sweep(SWEEP_ARGS, config, seeds)


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "whole"
    outcome = sweep_run(CONFIG, OPTIONS, sweep_of(), out, log=quiet)
    assert outcome.status == "finished" and outcome.exit_code == 0
    return out, outcome


@pytest.fixture(scope="module")
def separate():
    """Each configuration trained on its own: make_train(its config), 2 seeds."""
    keys = run_keys(OPTIONS.seed, OPTIONS.seeds).init
    return [
        jax.jit(jax.vmap(jaxpg.make_train(c)))(keys)
        for c in sweep_configs(CONFIG, sweep_of())
    ]


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_grid_is_every_combination_in_order():
    sweep = parse_sweep(["gamma=0.9,1", "learning_rate=1e-3,1e-2,0.1"], CONFIG, 4)
    assert sweep.fields == ("gamma", "learning_rate")
    assert sweep.values[:4] == ((0.9, 1e-3), (0.9, 1e-2), (0.9, 0.1), (1.0, 1e-3))
    assert sweep.size == 6 and sweep.members == 24


@pytest.mark.parametrize("configs, seeds", [(2, 1), (1, 3), (1, 1)])
def test_each_state_gets_its_seeds_key_and_its_configurations_values(configs, seeds):
    rates = ",".join(str(0.01 * (c + 1)) for c in range(configs))
    sweep = parse_sweep([f"learning_rate={rates}"], CONFIG, seeds)
    keys = sweep_keys(CONFIG, 7, sweep)
    plain = run_keys(7, seeds)
    if sweep.members == 1:  # unbatched, as a one-seed run
        assert keys.init.shape == () and keys.hparams.learning_rate.shape == ()
        np.testing.assert_array_equal(
            jax.random.key_data(keys.init), jax.random.key_data(plain.init)
        )
        return
    per_seed = plain.init.reshape(seeds)
    for m in range(sweep.members):
        c, k = divmod(m, seeds)
        np.testing.assert_array_equal(
            jax.random.key_data(keys.init[m]), jax.random.key_data(per_seed[k])
        )
        assert float(keys.hparams.learning_rate[m]) == np.float32(0.01 * (c + 1))
        assert float(keys.hparams.gamma[m]) == np.float32(CONFIG.gamma)
    np.testing.assert_array_equal(
        jax.random.key_data(keys.eval), jax.random.key_data(plain.eval)
    )


def test_a_sweep_equals_the_separate_runs(whole, separate):
    out, outcome = whole
    sweep = read_sweep(out)
    assert sweep == sweep_of()
    metrics = rows(out / "metrics.jsonl")
    for c, result in enumerate(separate):
        for k in range(sweep.seeds):
            m = c * sweep.seeds + k
            mine = jax.tree.map(lambda x, m=m: x[m], outcome.state.params)
            theirs = jax.tree.map(lambda x, k=k: x[k], result.params)
            jax.tree.map(
                lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7),
                mine,
                theirs,
            )
            logged = [r["episode_return"] for r in metrics if r["seed_index"] == m]
            np.testing.assert_allclose(
                logged, result.metrics["episode_return"][k], rtol=1e-5
            )
    # load_run (what evaluate.py reads) takes the sweep's C·K states.
    state, config, options = run.load_run(out)
    assert options.seeds == 6 and config == CONFIG
    jax.tree.map(np.testing.assert_array_equal, state.params, outcome.state.params)
    # The configurations really differ (a sweep that ignored its values would
    # still pass the comparison above only if the separate runs agreed too).
    first = jax.tree.leaves(separate[0].params)[0]
    last = jax.tree.leaves(separate[-1].params)[0]
    assert not np.allclose(first, last)


def test_the_final_evaluation_is_each_runs_own(whole, separate):
    out, _ = whole
    sweep = read_sweep(out)
    env, env_params = jaxpg.make_env(CONFIG.env_id)
    policy = jaxpg.make_policy(CONFIG, env, env_params)
    key = jax.random.fold_in(run_keys(OPTIONS.seed, OPTIONS.seeds).eval, 3)
    seed_keys = jax.random.split(key, OPTIONS.seeds)  # what --seeds 2 evaluates with
    written = rows(out / "sweep.jsonl")
    assert len(written) == 6
    for row in written:
        c, k = row["config_index"], row["seed_index"]
        assert row["learning_rate"] == sweep.values[c][0] and row["gamma"] == 0.97
        params = jax.tree.map(lambda x, k=k: x[k], separate[c].params)
        returns = episode_returns(
            seed_keys[k], policy, params["policy"], env, env_params, 4
        )
        assert row["eval_mean_return"] == pytest.approx(float(jnp.mean(returns)))
        assert row["update"] == 3 and row["env_steps"] > 0
    table = (out / "sweep.md").read_text()
    assert ranked_table(sweep, written) in table


def test_ctrl_c_and_resume_end_where_the_whole_sweep_ends(whole, tmp_path):
    out = tmp_path / "stopped"
    stopped = sweep_run(
        CONFIG, OPTIONS, sweep_of(), out, log=quiet, on_chunk=interrupt_at(2)
    )
    assert stopped.exit_code == 128 + signal.SIGINT and stopped.updates == 2
    assert not (out / "sweep.jsonl").exists()
    resumed = sweep_run(CONFIG, OPTIONS, sweep_of(), out, resume=True, log=quiet)
    assert resumed.status == "finished" and resumed.updates == 3
    whole_out, whole_outcome = whole
    jax.tree.map(
        np.testing.assert_array_equal, resumed.state.params, whole_outcome.state.params
    )
    assert rows(out / "sweep.jsonl") == rows(whole_out / "sweep.jsonl")
    assert rows(out / "metrics.jsonl") == rows(whole_out / "metrics.jsonl")


def test_a_resumed_sweep_keeps_its_configurations(whole, tmp_path):
    other = parse_sweep(["learning_rate=1e-3,1e-2"], CONFIG, 2)
    with pytest.raises(run.RunError, match="keeps its configurations"):
        sweep_run(CONFIG, OPTIONS, other, whole[0], resume=True, log=quiet)


def test_random_configurations_are_drawn_from_the_ranges_reproducibly():
    texts = ["learning_rate=1e-4:1e-1", "gamma=0.9:1"]
    sweep = parse_sweep(texts, CONFIG, 1, sample=200, sampling_seed=5)
    assert sweep == parse_sweep(texts, CONFIG, 1, sample=200, sampling_seed=5)
    assert sweep != parse_sweep(texts, CONFIG, 1, sample=200, sampling_seed=6)
    lr, gamma = np.array(sweep.values).T
    assert lr.min() >= 1e-4 and lr.max() <= 1e-1
    assert gamma.min() >= 0.9 and gamma.max() <= 1.0
    # log-uniform: about a third of the draws in each decade; uniform: half below
    # the middle. A uniform learning rate would put ~90% in the top decade.
    decades = np.histogram(np.log10(lr), bins=[-4, -3, -2, -1])[0] / 200
    assert np.all(np.abs(decades - 1 / 3) < 0.12), decades
    assert abs(np.mean(gamma < 0.95) - 0.5) < 0.12
    uniform = parse_sweep(["learning_rate=1e-4:1e-1:uniform"], CONFIG, 1, sample=200)
    top = np.mean(np.array(uniform.values)[:, 0] > 1e-2)
    assert top > 0.8


# --------------------------------------------------------------------- the script


TINY = [
    "--env-id",
    "CartPole-v1",
    "--num-updates",
    "2",
    "--num-envs",
    "8",
    "--hidden-sizes",
    "8",
    "--eval-episodes",
    "3",
    "--seed",
    "1",
]


def test_the_script_writes_the_sweep_files_and_resumes(tmp_path):
    out = tmp_path / "cli"
    env = dict(os.environ, JAXPG_CACHE_DIR=str(tmp_path / "cache"))
    # The base config from a --config file (gamma 0.97 only there), flags on top.
    toml = tmp_path / "base.toml"
    toml.write_text('[config]\nenv_id = "CartPole-v1"\ngamma = 0.97\n')
    command = [sys.executable, str(ROOT / "scripts" / "train.py"), *TINY]
    args = ["--sweep", "learning_rate=1e-3,1e-2", "--seeds", "2", "--out", str(out)]
    proc = subprocess.run(
        [*command, "--config", str(toml), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=500,
    )
    assert proc.returncode == 0, proc.stderr
    assert "sweep of 2 configurations (learning_rate) x 2 seeds" in proc.stdout
    base = json.loads((out / "config.json").read_text())["fields"]
    assert base["gamma"] == 0.97 and base["num_envs"] == 8
    # The sweep's programs are compiled like a run's: init (keys made inside
    # from the seed), one chunk program, the evaluation; and named.
    assert (
        "programs: init: the first TrainStates of 2 configurations x 2 seeds"
        in proc.stdout
    )
    assert "; run x2: " in proc.stdout and "(3 programs)" in proc.stdout
    assert "| rank | config | learning_rate |" in proc.stdout
    written = rows(out / "sweep.jsonl")
    assert [(r["config_index"], r["seed_index"]) for r in written] == [
        (0, 0),
        (0, 1),
        (1, 0),
        (1, 1),
    ]
    assert {r["learning_rate"] for r in written} == {1e-3, 1e-2}
    table = [
        line
        for line in (out / "sweep.md").read_text().splitlines()
        if line.startswith("| ")
    ]
    assert len(table) == 3  # the header and one row per configuration
    assert {table[1].split("|")[3].strip(), table[2].split("|")[3].strip()} == {
        "0.001",
        "0.01",
    }
    # --resume RUN alone continues the sweep (here: finished, so evaluated again).
    again = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train.py"), "--resume", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=500,
    )
    assert again.returncode == 0, again.stderr
    assert "resuming at update 2/2" in again.stdout
    assert rows(out / "sweep.jsonl") == written


def exit_code(argv: list[str]) -> int | None:
    """train.py's exit status for ``argv`` (flag errors exit from argparse)."""
    try:
        return load_script("train").main(argv)
    except SystemExit as exit_:
        return exit_.code


BAD = {
    "empty list": (["--sweep", "learning_rate="], "--sweep learning_rate: empty"),
    "empty item": (["--sweep", "learning_rate=1e-3,"], "--sweep learning_rate: empty"),
    "not a number": (["--sweep", "gamma=0.9,high"], "'high' is not a number"),
    "nan": (["--sweep", "gamma=nan"], "--sweep gamma: nan"),
    "out of range": (["--sweep", "gamma=0.9,1.5"], "--sweep gamma=1.5: gamma must"),
    "negative rate": (["--sweep", "learning_rate=-1"], "learning_rate must be"),
    "duplicate field": (
        ["--sweep", "gamma=0.9", "--sweep", "gamma=0.99"],
        "--sweep gamma: given twice",
    ),
    "repeated value": (["--sweep", "gamma=0.9,0.9"], "listed twice"),
    "unknown field": (["--sweep", "lr=1e-3"], "--sweep lr: is not a field"),
    "not sweepable": (["--sweep", "num_envs=4,8"], "--sweep num_envs: is not sweep"),
    "no values": (["--sweep", "gamma"], "expected FIELD=VALUES"),
    "random without ranges": (["--sweep-random", "3"], "--sweep-random needs"),
    "random with a list": (
        ["--sweep-random", "3", "--sweep", "gamma=0.9,1"],
        "--sweep-random takes",
    ),
    "random log from 0": (
        ["--sweep-random", "3", "--sweep", "learning_rate=0:1"],
        "a log range needs LOW > 0",
    ),
    "random reversed": (
        ["--sweep-random", "3", "--sweep", "gamma=1:0.9"],
        "LOW < HIGH",
    ),
    "random count": (
        ["--sweep-random", "-2", "--sweep", "gamma=0.9:1"],
        "--sweep-random must be",
    ),
    "seed without random": (
        ["--sweep", "gamma=0.9", "--sweep-seed", "2"],
        "--sweep-seed is only used",
    ),
    "devices": (["--sweep", "gamma=0.9", "--devices", "2"], "one device"),
    "keep": (["--sweep", "gamma=0.9", "--keep", "2"], "--keep is not supported"),
    "keep best": (
        ["--sweep", "gamma=0.9", "--keep-best", "--eval-every", "1"],
        "--keep-best is not supported",
    ),
    "wandb": (["--sweep", "gamma=0.9", "--wandb", "proj"], "--wandb is not supp"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_sweep_input_exits_2_naming_the_flag(case, tmp_path, capsys):
    args, message = BAD[case]
    out = tmp_path / "never"
    assert exit_code([*TINY, *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert "sweepable fields: learning_rate, gamma" in err or case not in (
        "unknown field",
        "not sweepable",
        "no values",
    )
    assert not out.exists()


def test_resuming_a_plain_run_with_sweep_is_refused(tmp_path, capsys):
    out = tmp_path / "plain"
    plain = run.RunOptions(seed=1, eval_episodes=2, progress="lines")
    config = jaxpg.ReinforceConfig(
        env_id="CartPole-v1", num_envs=4, num_updates=1, hidden_sizes=(8,)
    )
    run.train_run(config, plain, out, log=quiet)
    assert exit_code(["--resume", str(out), "--sweep", "gamma=0.9,1"]) == 2
    assert "not a sweep" in capsys.readouterr().err


def test_plot_draws_one_curve_per_configuration(whole, tmp_path, capsys):
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import plot
    finally:
        sys.path.pop(0)
    png = tmp_path / "curves.png"
    assert plot.main([str(whole[0]), "--out", str(png)]) == 0
    lines = [x for x in capsys.readouterr().out.splitlines() if "final" in x]
    sweep = read_sweep(whole[0])
    assert [x.split(" (")[0] for x in lines] == [
        f"{sweep.label(c)}, 2 seeds" for c in range(3)
    ]
    assert png.stat().st_size > 0


def test_the_sweep_cost_benchmark_times_both_runs(monkeypatch):
    from jaxpg.run import bench_sweep

    monkeypatch.setattr(bench_sweep, "SWEEP_ALGORITHMS", (("reinforce", 1),))
    result = bench_sweep.worker_sweep([[2, 1]], 1)
    (row,) = result["rows"]
    assert (row["configurations"], row["seeds"]) == (2, 1)
    for run_ in (row["sweep"], row["wide"]):
        assert run_["wall_s"] > 0 and run_["env_steps"] >= 2 * bench_sweep.SWEEP_ENVS
    assert row["wall_ratio"] == row["sweep"]["wall_s"] / row["wide"]["wall_s"]
    report = {
        "environment": bench.environment(),
        "loadavg_end": (1.0, 1.0, 1.0),
        **result,
    }
    text = bench_sweep.sweep_section(report, "python scripts/benchmark.py --sweep")
    assert f"| reinforce | 2 × 1 | {2 * bench_sweep.SWEEP_ENVS} | 1 |" in text
