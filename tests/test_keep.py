"""Kept checkpoints (--keep N, --keep-best): which are kept, resume, crashes, evaluate.py."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from harness import interrupt_at, load_script
from trees import assert_bit_identical

import jaxpg
from jaxpg import run
from jaxpg.run import keep

pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parents[1]
CONFIG = jaxpg.ReinforceConfig(
    env_id="CartPole-v1", num_envs=4, num_updates=6, hidden_sizes=(8,)
)
KEEP = run.RunOptions(
    seed=1,
    seeds=2,
    chunk=1,
    eval_every=2,
    checkpoint_every=1,
    eval_episodes=3,
    progress="lines",
    keep=3,
    keep_best=True,
)


def quiet(_: str) -> None:
    pass


class Crash(Exception):
    """Stands for the process dying (SIGKILL, power loss)."""


def names(out: Path) -> list[str]:
    return sorted(p.name for p in (out / "checkpoints").iterdir())


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A run with --keep 3 --keep-best, and the same run stopped by SIGINT
    after update 3 and resumed."""
    root = tmp_path_factory.mktemp("keep")
    run.train_run(CONFIG, KEEP, root / "whole", log=quiet)
    stopped = run.train_run(
        CONFIG, KEEP, root / "split", log=quiet, on_chunk=interrupt_at(3)
    )
    assert stopped.status == "interrupted" and stopped.updates == 3
    run.train_run(CONFIG, KEEP, root / "split", resume=True, log=quiet)
    return root


def evals(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "evals.jsonl").read_text().splitlines()]


def test_the_last_n_saves_and_the_best_evaluation_are_kept(runs):
    out = runs / "whole"
    found = keep.kept(out)
    assert sorted(found["update"]) == [4, 5, 6]  # saved after every update
    for update, path in found["update"].items():
        state, _, _ = run.load_run(out, which=str(update))
        assert np.asarray(state.step).tolist() == [update, update]
        assert path == keep.resolve(out, str(update)) or update == 6
    # The newest kept save is the latest checkpoint, as hard links (no copy).
    latest = run.load_run(out)[0]
    assert_bit_identical(jaxpg.load(found["update"][6], like=latest)[0], latest)
    a, b = found["update"][6] / "state.json", out / "checkpoint" / "state.json"
    assert os.stat(a).st_ino == os.stat(b).st_ino
    # The best: the highest mean greedy return of the evaluations (2, 4 and the
    # final one at 6), the first where tied.
    scores = {e["update"]: float(np.mean(e["mean_return"])) for e in evals(out)}
    assert sorted(scores) == [2, 4, 6]
    best = max(scores, key=lambda u: (scores[u], -u))
    assert list(found["best"]) == [best]
    extra = jaxpg.checkpoint.read_extra(found["best"][best])
    assert extra["update"] == best
    assert extra["eval_mean_return"] == pytest.approx(scores[best], rel=1e-6)
    state, _, _ = run.load_run(out, which="best")
    assert np.asarray(state.step).tolist() == [best, best]


def test_keep_1_keeps_only_the_latest(tmp_path):
    options = run.RunOptions(seed=1, chunk=2, eval_episodes=3, checkpoint_every=2)
    out = tmp_path / "run"
    run.train_run(CONFIG, options, out, log=quiet)
    assert not (out / "checkpoints").exists()
    with pytest.raises(run.RunError, match="keeps no best checkpoint"):
        keep.resolve(out, "best")
    with pytest.raises(run.RunError, match=r"no checkpoint at update 4 \(kept: 6;"):
        keep.resolve(out, "4")
    assert keep.resolve(out, "6") == out / "checkpoint"


def test_resumed_run_keeps_the_same_checkpoints_bit_identical(runs):
    whole, split = runs / "whole", runs / "split"
    assert names(whole) == names(split)
    assert_bit_identical(run.load_run(whole)[0], run.load_run(split)[0])
    for which in ("4", "5", "best"):
        assert_bit_identical(
            run.load_run(whole, which=which)[0], run.load_run(split, which=which)[0]
        )
    assert evals(whole) == evals(split)


def test_a_process_killed_while_keeping_leaves_only_whole_checkpoints(
    runs, tmp_path, monkeypatch
):
    out = tmp_path / "run"
    linked = []

    def dies_on_the_third_save(source, target):
        if ".update-3.partial" in target:
            linked.append(target)
            if len(linked) == 2:
                raise Crash  # killed half-way through linking update 3's files
        os.link(source, target)

    monkeypatch.setattr(keep, "_link_or_copy", dies_on_the_third_save)
    with pytest.raises(Crash):
        run.train_run(CONFIG, KEEP, out, log=quiet)
    monkeypatch.undo()
    # Readers see the complete kept saves only; the half-made one is hidden.
    assert names(out) == [".update-3.partial", "best-update-2", "update-1", "update-2"]
    assert sorted(keep.kept(out)["update"]) == [1, 2]
    assert np.asarray(run.load_run(out, which="2")[0].step).tolist() == [2, 2]
    # A removal and a best save cut short as well (renamed, not yet deleted).
    shutil.copytree(
        out / "checkpoints" / "update-1", out / "checkpoints" / ".x.deleting"
    )
    shutil.copytree(
        out / "checkpoints" / "update-1", out / "checkpoints" / ".best-update-9.partial"
    )
    outcome = run.train_run(CONFIG, KEEP, out, resume=True, log=quiet)
    assert outcome.status == "finished"
    whole = runs / "whole"
    assert names(out) == names(whole)  # the leftovers are gone
    for which in ("latest", "4", "5", "best"):
        assert_bit_identical(
            run.load_run(out, which=which)[0], run.load_run(whole, which=which)[0]
        )


def test_killed_between_a_new_best_and_removing_the_old_keeps_the_new(
    runs, tmp_path, monkeypatch
):
    out = tmp_path / "run"
    shutil.copytree(runs / "whole", out)
    found = keep.kept(out)["best"]
    (best,) = found
    # An older, worse best left behind by a crash right after the new one.
    shutil.copytree(found[best], out / "checkpoints" / "best-update-1")
    assert keep.resolve(out, "best") == found[best]
    keeper = keep.Keeper(out, KEEP.keep, True, primary=True)
    keeper.start(6)
    assert list(keep.kept(out)["best"]) == [best]
    assert keeper.best_score == pytest.approx(
        jaxpg.checkpoint.read_extra(found[best])["eval_mean_return"]
    )


# ----------------------------------------------------------------- the scripts


def exit_2(fn, argv, capsys) -> str:
    with pytest.raises(SystemExit) as info:
        fn(argv)
    assert info.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--keep", "0"], "--keep must be an integer >= 1"),
        (["--keep", "-1"], "--keep must be an integer >= 1"),
        (["--keep", "2.5"], "--keep: invalid int value"),
        (["--keep-best"], "--keep-best keeps the best periodic greedy evaluation: "),
        (["--keep-best", "--eval-every", "0"], "set --eval-every N"),
    ],
)
def test_bad_keep_flags_exit_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert message in exit_2(load_script("train").parse, argv, capsys)
    assert list(tmp_path.iterdir()) == []
    # --keep-best with evaluations is fine.
    options = load_script("train").parse(["--keep-best", "--eval-every", "5"])[1]
    assert options.keep_best and options.eval_every == 5


def test_evaluate_takes_latest_best_or_a_kept_update(runs, capsys):
    evaluate, out = load_script("evaluate"), runs / "whole"
    best = list(keep.kept(out)["best"])[0]
    for which, update in (("latest", 6), ("best", best), ("5", 5)):
        flag = [] if which == "latest" else ["--checkpoint", which]
        code = evaluate.main([str(out), "--episodes", "2", "--no-gymnasium", *flag])
        assert code == 0
        printed = capsys.readouterr().out
        assert f"checkpoint at update {update}/6" in printed, printed
    err = exit_2(evaluate.main, [str(out), "--checkpoint", "2"], capsys)
    assert "no checkpoint at update 2 (kept: " in err
    err = exit_2(evaluate.main, [str(out), "--checkpoint", "worst"], capsys)
    assert "--checkpoint must be latest, best or an update number" in err
