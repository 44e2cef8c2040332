"""RunOptions.fast_compile: a run's programs compiled with fast_compile's options,
recorded in config.json and fixed on resume."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

import jaxpg
from jaxpg import compilation, run
from jaxpg.run import cli_checks, folder

pytestmark = pytest.mark.timeout(300)

# A config no other test uses, so the process-wide program cache is cold for it.
CONFIG = jaxpg.ReinforceConfig(
    env_id="CartPole-v1", num_envs=5, num_updates=3, hidden_sizes=(7,)
)


def _metrics(out) -> np.ndarray:
    text = (out / "metrics.jsonl").read_text()
    rows = [json.loads(line) for line in text.splitlines()]
    return np.array([[r["episode_return"], r["loss"]] for r in rows])


def test_fast_compile_compiles_with_its_options_and_is_recorded(tmp_path, monkeypatch):
    calls: list[bool] = []
    real = compilation.compile_options

    def recording(fast_compile=False, backend=None):
        calls.append(fast_compile)
        return real(fast_compile, backend)

    monkeypatch.setattr(compilation, "compile_options", recording)
    lines: list[str] = []
    options = run.RunOptions(chunk=2, eval_episodes=3, progress="lines")
    fast = run.RunOptions(chunk=2, eval_episodes=3, progress="lines", fast_compile=True)
    plain_out = run.train_run(CONFIG, options, tmp_path / "plain", log=lambda _: None)
    assert calls == [False]
    fast_out = run.train_run(CONFIG, fast, tmp_path / "fast", log=lines.append)
    assert calls == [False, True]  # not taken from the plain run's programs
    assert plain_out.status == fast_out.status == "finished"
    assert any("programs, fast_compile)" in line for line in lines)
    saved = json.loads((tmp_path / "fast" / "config.json").read_text())
    assert saved["run"]["fast_compile"] is True
    # The same computation, rounded differently: returns and losses agree
    # after 3 updates.
    np.testing.assert_allclose(
        _metrics(tmp_path / "fast"), _metrics(tmp_path / "plain"), rtol=1e-5
    )


def test_fast_compile_is_fixed_on_resume(tmp_path):
    options = run.RunOptions(chunk=3, eval_episodes=3, progress="lines")
    run.train_run(CONFIG, options, tmp_path / "r", log=lambda _: None)
    changed = run.RunOptions(
        chunk=3, eval_episodes=3, progress="lines", fast_compile=True
    )
    with pytest.raises(run.RunError, match=r"--fast-compile \(the run has False"):
        folder.check_resume_options(tmp_path / "r", CONFIG, changed)


def test_the_command_line_names_fast_compile_on_a_changed_resume(tmp_path):
    saved = run.RunOptions()
    given = run.RunOptions(fast_compile=True)
    args = argparse.Namespace(resume=tmp_path, out=None)
    with pytest.raises(ValueError, match=r"--fast-compile \(the run has False, "):
        cli_checks.check_resume(args, type(CONFIG), CONFIG, given, CONFIG, saved)


def test_fast_compile_must_be_a_bool():
    with pytest.raises(ValueError, match="--fast-compile must be True or False"):
        run.RunOptions(fast_compile="yes")
