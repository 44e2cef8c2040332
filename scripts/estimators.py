"""The estimator lab: bias, variance, SNR and sample cost of policy-gradient estimators.

Writes docs/estimators.md, docs/data/estimators.json and docs/img/estimators-*.png
(issue #7). Every number in the page comes from one run of this script:

    python scripts/estimators.py            # full (≈ 15 min, 2 CPU cores)
    python scripts/estimators.py --quick --out-dir /tmp/lab   # seconds

Parts (the measurements live in the package; this script runs them, then writes
the JSON, the plots and the page):
  A. At a fixed policy, one pool of episodes weighted by each Ψ (common random
     numbers): the tabular MDP against its exact gradient, CartPole-v1 at a
     briefly trained snapshot against a high-sample reference from independent
     episodes (:mod:`jaxpg.lab`; per-trajectory terms from :mod:`jaxpg.diagnostics`).
  B. CartPole learning curves of the same Ψ, 8 seeds vmapped in one call each
     (:mod:`jaxpg.lab_learning`).
  C. Pathwise (BPTT) against score-function gradients (:mod:`jaxpg.lab_pathwise`,
     from :mod:`jaxpg.pathwise`): Pendulum-v1 agreement and variance against the
     horizon, a short learning comparison, and MountainCarContinuous's goal bonus.
The page's text: :func:`jaxpg.run.lab_report.render`.
"""

from __future__ import annotations

import argparse
import datetime
import json
import pathlib
import platform
import time

import jax
import numpy as np

from jaxpg import files, lab, lab_learning, lab_pathwise
from jaxpg.run import lab_report

ROOT = pathlib.Path(__file__).resolve().parents[1]

# The parts, in the order they run; ``--parts`` picks a subset.
PARTS = {
    "tabular": lab.tabular_part,
    "cartpole": lab.cartpole_part,
    "learning": lab_learning.learning_part,
    "pendulum_horizon": lab_pathwise.pendulum_horizons,
    "pendulum_learning": lab_pathwise.pendulum_learning,
    "mountain_car": lab_pathwise.mountain_car_part,
}


def plots(data: dict, img_dir: pathlib.Path) -> list[str]:
    """The PNGs of the parts present in ``data``; returns their file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    img_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, draw in (
        ("estimators-bias-variance.png", plot_bias_variance),
        ("estimators-learning.png", plot_learning),
        ("estimators-pathwise.png", plot_pathwise),
    ):
        fig = draw(data)
        if fig is None:
            continue  # its parts are not in ``data``
        fig.tight_layout()
        fig.savefig(img_dir / name, dpi=110)
        plt.close(fig)
        written.append(name)
    return written


def plot_bias_variance(data: dict):
    """Bias against variance of every Ψ, tabular and CartPole panels (or None)."""
    import matplotlib.pyplot as plt

    panels = [
        (data.get("tabular"), "tabular MDP (exact ∇J)"),
        (data.get("cartpole"), "CartPole-v1 snapshot (reference ∇J)"),
    ]
    panels = [(part, title) for part, title in panels if part]
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.5))
    for ax, (part, title) in zip(np.atleast_1d(axes), panels, strict=True):
        for r in part["rows"]:
            if "÷" in r["label"] or r["label"] == "GAE(λ=1)":
                continue  # ÷ std: another scale; GAE(1) is rtg − V exactly
            marker = "o" if r["family"] == "unbiased" else "x"
            y = r["bias_over_noise"]
            ax.scatter(r["variance"], y, marker=marker)
            ax.annotate(r["label"], (r["variance"], y), fontsize=7)
        ax.axhline(1.0, color="grey", lw=0.8, ls=":")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("variance of one trajectory's term (trace of covariance)")
        ax.set_ylabel("‖E ĝ − ∇J‖ / sampling noise  (≈ 1: unbiased)")
        ax.set_title(title + "; o unbiased, x biased", fontsize=10)
    return fig


def plot_learning(data: dict):
    """The CartPole-v1 learning curves of part B (or None)."""
    import matplotlib.pyplot as plt

    if not data.get("learning"):
        return None
    fig, ax = plt.subplots(figsize=(8, 5))
    for r in data["learning"]["rows"]:
        x = np.asarray(r["mean_env_steps"])
        y, se = np.asarray(r["mean_return"]), np.asarray(r["se_return"])
        style = "-" if r["family"] == "unbiased" else "--"
        ax.plot(x, y, style, label=r["label"])
        ax.fill_between(x, y - se, y + se, alpha=0.12)
    ax.set_xlabel("environment steps (mean over seeds)")
    ax.set_ylabel("episode return (mean ± SE over seeds)")
    ax.set_title(f"CartPole-v1, REINFORCE, {data['config']['learn_seeds']} seeds")
    ax.legend(fontsize=7)
    return fig


def plot_pathwise(data: dict):
    """Pendulum-v1: variance against horizon and, if measured, learning (or None)."""
    import matplotlib.pyplot as plt

    if not data.get("pendulum_horizon"):
        return None
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    rows = data["pendulum_horizon"]["rows"]
    h = [r["horizon"] for r in rows]
    axes[0].plot(h, [r["pathwise_variance"] for r in rows], "o-", label="pathwise")
    axes[0].plot(h, [r["score_variance"] for r in rows], "s-", label="score function")
    axes[0].set_xscale("log")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("horizon H")
    axes[0].set_ylabel("variance of one episode's gradient")
    axes[0].set_title("Pendulum-v1: variance against horizon")
    axes[0].legend()
    pl = data.get("pendulum_learning")
    if pl:
        for name in ("pathwise", "score"):
            y = np.asarray(pl[name]["mean_return"])
            se = np.asarray(pl[name]["se_return"])
            x = np.arange(1, len(y) + 1)
            axes[1].plot(x, y, label=name)
            axes[1].fill_between(x, y - se, y + se, alpha=0.2)
        axes[1].set_xlabel("update")
        axes[1].set_ylabel("return of a 200-step episode")
        axes[1].set_title(f"Pendulum-v1 learning, {pl['seeds']} seeds")
        axes[1].legend()
    return fig


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a test)")
    parser.add_argument(
        "--parts",
        default=",".join(PARTS),
        help="comma-separated subset of: " + ", ".join(PARTS),
    )
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="rewrite the page and plots from the saved JSON, measuring nothing",
    )
    parser.add_argument(
        "--out-dir",
        type=pathlib.Path,
        default=ROOT,
        help="root under which docs/estimators.md, docs/data and docs/img go",
    )
    return parser


def measure(p: dict, parts: list[str], quick: bool) -> dict:
    """Runs ``parts`` with the sizes ``p``; the data of docs/data/estimators.json."""
    t0 = time.perf_counter()
    data: dict = {
        "config": {k: list(v) if isinstance(v, tuple) else v for k, v in p.items()},
        "quick": quick,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "python": platform.python_version(),
        "cosine_target": lab.COSINE,
    }
    timings = {}
    for name in parts:
        t = time.perf_counter()
        print(f"[{name}]", flush=True)
        data[name] = PARTS[name](p, print)
        timings[name] = round(time.perf_counter() - t, 1)
    data["seconds"] = timings
    data["total_seconds"] = round(time.perf_counter() - t0, 1)
    return data


def write_page(data: dict, docs: pathlib.Path, quick: bool) -> None:
    """The plots and docs/estimators.md from ``data``."""
    data["images"] = plots(data, docs / "img")
    command = "python scripts/estimators.py" + (" --quick" if quick else "")
    files.write_atomic(docs / "estimators.md", lab_report.render(data, command))


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    docs = args.out_dir / "docs"
    if args.render_only:
        data = json.loads((docs / "data" / "estimators.json").read_text())
        write_page(data, docs, data["quick"])
        return 0
    parts = [x for x in args.parts.split(",") if x]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown parts {unknown}; choose from {list(PARTS)}")
    data = measure(lab.QUICK if args.quick else lab.FULL, parts, args.quick)
    files.write_json(docs / "data" / "estimators.json", data, indent=1, allow_nan=True)
    write_page(data, docs, args.quick)
    print(f"done in {data['total_seconds']:.0f} s → {docs}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
