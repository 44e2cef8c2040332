"""The estimator lab (jaxpg.lab*, scripts/estimators.py --quick): the rows are there
and the numbers make sense.

The checks can fail: an unbiased estimator measured as biased, a variance ordering
reversed, the pathwise gradient seeing MountainCar's goal bonus, or a page that
does not match its JSON. The parts run in process; the script runs end to end in a
subprocess.
"""

from __future__ import annotations

import json
import math
import pathlib
import subprocess
import sys

import jax
import pytest

from jaxpg import lab, lab_pathwise
from jaxpg.run import lab_report

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "estimators.py"


def run(out: pathlib.Path, parts: str | None) -> dict:
    cmd = [sys.executable, str(SCRIPT), "--quick", "--out-dir", str(out)]
    if parts:
        cmd += ["--parts", parts]
    subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True, text=True)
    return json.loads((out / "docs" / "data" / "estimators.json").read_text())


def rows_by_label(part: dict) -> dict:
    return {r["label"]: r for r in part["rows"]}


def check_tabular(tab: dict) -> None:
    rows = rows_by_label(tab)
    assert {"total return", "reward-to-go", "rtg − leave-one-out mean"} <= set(rows)
    for r in tab["rows"]:
        assert r["variance"] > 0 and math.isfinite(r["variance"])
        assert -1.0 <= r["cosine"] <= 1.0
        if r["family"] == "unbiased":
            # Against the exact gradient: within noise, pointing the right way.
            assert r["max_abs_z"] < 4.5, r
            assert r["cosine"] > 0.9, r
    ret, rtg, loo = (
        rows[k]["variance"]
        for k in ("total return", "reward-to-go", "rtg − leave-one-out mean")
    )
    assert ret > rtg > loo
    # GAE(λ=1) is the value baseline, exactly.
    assert rows["GAE(λ=1)"]["variance"] == pytest.approx(
        rows["rtg − learned V"]["variance"], rel=1e-4
    )
    # Fewer samples for a lower variance.
    n = [rows[k]["samples_for_cosine"] for k in ("total return", "reward-to-go")]
    assert n[0] > n[1] > 0
    # ÷ batch std is biased (score_function.md §3): far outside the noise.
    assert rows["rtg − mean, ÷ batch std"]["max_abs_z"] > 4


def check_pathwise(ph: dict, mc: dict) -> None:
    for r in ph["rows"]:
        assert r["pathwise_variance"] < r["score_variance"]
        assert math.isfinite(r["difference_over_noise"])
    # The goal bonus: invisible to the pathwise gradient, not to the score function.
    assert mc["pathwise_max_abs_difference"] == 0.0
    assert mc["score_with"] != mc["score_without"]
    assert 0.0 < mc["reached_goal"] <= 1.0


@pytest.mark.timeout(240)
def test_quick_parts_in_process():
    p = lab.QUICK
    data = {
        "config": p,
        "date": "today",
        "jax": jax.__version__,
        "backend": "cpu",
        "python": "3",
        "total_seconds": 1.0,
        "cosine_target": lab.COSINE,
        "tabular": lab.tabular_part(p),
        "pendulum_horizon": lab_pathwise.pendulum_horizons(p),
        "mountain_car": lab_pathwise.mountain_car_part(p),
    }
    check_tabular(data["tabular"])
    check_pathwise(data["pendulum_horizon"], data["mountain_car"])
    page = lab_report.render(data, "python scripts/estimators.py --quick")
    assert "scripts/estimators.py --quick" in page
    assert data["jax"] in page
    for r in data["tabular"]["rows"]:
        assert f"| {r['label']} |" in page
    for r in data["pendulum_horizon"]["rows"]:
        assert f"| {r['horizon']} | {r['difference_over_noise']:.2f} |" in page
    assert "## B." not in page  # no section for a part that did not run


@pytest.mark.timeout(240)
def test_quick_mode_cli_writes_json_page_and_plot(tmp_path):
    data = run(tmp_path, "pendulum_horizon,mountain_car")
    check_pathwise(data["pendulum_horizon"], data["mountain_car"])
    page_path = tmp_path / "docs" / "estimators.md"
    page = page_path.read_text()
    assert "scripts/estimators.py --quick" in page
    assert data["jax"] in page
    assert (tmp_path / "docs" / "img" / "estimators-pathwise.png").stat().st_size
    assert not (tmp_path / "docs" / "img" / "estimators-bias-variance.png").exists()
    # The page is a function of its JSON: re-rendered, it is the same to the byte.
    page_path.unlink()
    cmd = [sys.executable, str(SCRIPT), "--render-only", "--out-dir", str(tmp_path)]
    subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True, text=True)
    assert page_path.read_text() == page


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_quick_mode_all_parts(tmp_path):
    data = run(tmp_path, None)
    check_tabular(data["tabular"])
    check_pathwise(data["pendulum_horizon"], data["mountain_car"])
    learn = data["learning"]["rows"]
    assert len(learn) >= 4
    for r in learn:
        assert len(r["mean_return"]) == data["config"]["learn_updates"]
        assert all(0 < x <= 500 for x in r["mean_return"])
    assert len(data["cartpole"]["rows"]) >= 4
    pl = data["pendulum_learning"]
    assert all(-2000 < x < 0 for x in pl["pathwise"]["mean_return"])
    for name in ("bias-variance", "learning", "pathwise"):
        assert (tmp_path / "docs" / "img" / f"estimators-{name}.png").stat().st_size
