"""docs/estimators.md, part C and the whole page (:func:`render`).

The text of the page ``scripts/estimators.py`` writes: part C (pathwise against
score-function gradients, :mod:`jaxpg.lab_pathwise`), the closing sections, and
:func:`render`, which puts them after parts A and B
(:mod:`jaxpg.run.lab_sections`).
"""

from __future__ import annotations

from jaxpg.run.lab_sections import (
    fmt,
    section_cartpole,
    section_header,
    section_learning,
    section_method,
    section_tabular,
)

__all__ = [
    "horizon_findings",
    "render",
    "section_advice",
    "section_mountain_car",
    "section_pathwise_horizons",
    "section_pathwise_learning",
    "section_references",
    "section_usage",
]


def section_pathwise_horizons(ph: dict) -> list[str]:
    """## C: pathwise against score function on Pendulum-v1, by horizon.

    Args:
      ph: :func:`jaxpg.lab_pathwise.pendulum_horizons`'s result.

    Returns:
      the section's lines.
    """
    rows = ph["rows"]
    out = [
        "## C. Pathwise (BPTT) against score-function gradients",
        "",
        "gymnax 1.0.1 detaches every transition's outputs with `stop_gradient` "
        "unless the environment is built with `env.with_transition_gradients()` "
        "(supported there by Pendulum-v1, MountainCarContinuous-v0, "
        "PointRobot-misc, Reacher-misc and Swimmer-misc). "
        "[`jaxpg.pathwise`](../jaxpg/pathwise.py) builds such an environment "
        "(`differentiable_env`), samples Gaussian actions as μ + σ·ε and "
        "differentiates the return of an episode cut at H steps through the "
        "dynamics (`pathwise_gradients`); `score_function_gradients` weighs the "
        "*same* episodes with γ^t(G_t − leave-one-out mean) — the same objective "
        "J_H = E[Σ_{t<H} r_t], the same policy (jaxpg's Gaussian MLP at "
        f"initialisation, {ph['num_parameters']:,} parameters), the same action "
        "clipping.",
        "",
        f"### Agreement and variance against the horizon (Pendulum-v1, "
        f"{ph['episodes']:,} episodes per H)",
        "",
        "| H | ‖mean difference‖ / noise | max \\|z\\| (paired) | cos(pathwise "
        "mean, score mean) | variance, pathwise | variance, score function | "
        "score / pathwise variance | ‖pathwise mean‖ | median / max ‖g_i‖, "
        "pathwise |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['horizon']} | {r['difference_over_noise']:.2f} | "
            f"{r['max_abs_z']:.1f} | {r['cosine_of_means']:.3f} | "
            f"{fmt(r['pathwise_variance'])} | {fmt(r['score_variance'])} | "
            f"{fmt(r['score_variance'] / r['pathwise_variance'])} | "
            f"{fmt(r['pathwise_mean_norm'])} | {fmt(r['pathwise_norm_median'])} / "
            f"{fmt(r['pathwise_norm_max'])} |"
        )
    return out + horizon_findings(rows)


def horizon_findings(rows: list[dict]) -> list[str]:
    """The paragraphs after the horizon table: agreement, then the two regimes.

    Args:
      rows: :func:`jaxpg.lab_pathwise.pendulum_horizons`'s rows, by horizon.

    Returns:
      the lines.
    """
    by_h = {r["horizon"]: r for r in rows}
    cross = next(
        (r["horizon"] for r in rows if r["pathwise_variance"] > r["score_variance"]),
        None,
    )
    longest = rows[-1]
    return [
        "",
        "The paired test compares the two estimates on the same episodes: "
        "‖mean difference‖/noise ≈ 1 means they agree within standard errors, "
        "which they do at every H. "
        "[tests/test_pathwise.py](../tests/test_pathwise.py) makes it a test at "
        "H = 5 with 200,000 episodes and a linear policy, and its negative "
        "control — the pathwise gradient through gymnax's default, detached "
        "transitions, which keeps only ∂r_t/∂a_t — must fail it "
        "(`pytest -s tests/test_pathwise.py` prints max |z| ≈ 2 for the "
        "estimator, ≈ 28 for the control).",
        "",
        "- **Short horizons: pathwise wins by orders of magnitude.** At H = 1 "
        "only the action cost 0.001·u² depends on θ, a gradient the pathwise "
        "estimator gets almost exactly while the score-function estimate is "
        "noise (hence the meaningless cosine between the two means).",
        "- **Long horizons: its variance explodes.** The score-function "
        "variance grows with H like the spread of the return; the pathwise one "
        "with the products of Jacobians ∂s_{t+1}/∂s_t through the swinging "
        "pendulum (Parmas et al. 2018: the curse of chaos). "
        + (
            f"They cross between H = {rows[rows.index(by_h[cross]) - 1]['horizon']}"
            f" and {cross}; "
            if cross is not None and rows.index(by_h[cross]) > 0
            else ""
        )
        + f"at H = {longest['horizon']} the pathwise variance is "
        f"{fmt(longest['pathwise_variance'] / longest['score_variance'])}× the "
        "score function's, and the largest per-episode gradient norm is "
        f"{fmt(longest['pathwise_norm_max'])} against a median of "
        f"{fmt(longest['pathwise_norm_median'])}: a few episodes decide the "
        "average, so its mean points wherever they do (the cosine between the "
        "two means at the longest horizon). The paired test cannot tell it from "
        "the score-function mean only because its noise is that large: an "
        "estimate decided by a handful of episodes is of no use.",
        "",
    ]


def section_pathwise_learning(pl: dict) -> list[str]:
    """### Learning on Pendulum-v1 with either estimator.

    Args:
      pl: :func:`jaxpg.lab_pathwise.pendulum_learning`'s result.

    Returns:
      the section's lines.
    """
    pw, sf = pl["pathwise"], pl["score"]
    return [
        "### Learning on Pendulum-v1",
        "",
        f"{pl['seeds']} seeds, {pl['updates']} updates of {pl['episodes_per_update']} "
        "full 200-step episodes, the same Gaussian MLP, Adam (lr 3e-3) after "
        "global-norm clipping at 1. Pathwise: BPTT through all 200 steps, γ = 1. "
        "Score function: `jaxpg.make_train` REINFORCE (rtg − leave-one-out mean, "
        "γ = 0.99).",
        "",
        "| estimator | return, first 5 updates | return, last 10 updates | wall "
        "time (s, incl. compile) |",
        "|---|---|---|---|",
        f"| pathwise | {pw['first_return']:.0f} | {pw['final_return']:.0f} | "
        f"{pw['seconds']:.0f} |",
        f"| score function | {sf['first_return']:.0f} | {sf['final_return']:.0f} "
        f"| {sf['seconds']:.0f} |",
        "",
        "Through all 200 steps the pathwise gradient is the exploding one of the "
        "table above; clipped to norm 1 it follows whichever episodes exploded, "
        "and the policy "
        f"does not improve ({pw['first_return']:.0f} → {pw['final_return']:.0f}), "
        "while REINFORCE does "
        f"({sf['first_return']:.0f} → {sf['final_return']:.0f}). Pathwise "
        "methods that work on such problems cut the horizon, add a value "
        "function at the cut, or smooth the dynamics; none of that is measured "
        "here.",
        "",
    ]


def section_mountain_car(mc: dict) -> list[str]:
    """### MountainCarContinuous-v0's goal bonus, seen by either estimator.

    Args:
      mc: :func:`jaxpg.lab_pathwise.mountain_car_part`'s result.

    Returns:
      the section's lines.
    """
    names = mc["parameters"]
    out = [
        "### MountainCarContinuous-v0: a reward the pathwise gradient cannot see",
        "",
        "The +100 for reaching the goal is `100 · (position ≥ 0.45) · (velocity ≥ "
        "0)`: a step function of the state, with zero derivative wherever it is "
        "differentiable. A linear Gaussian policy that pumps energy (mean = "
        f"15·velocity, σ = e^−0.5) reaches the goal in {mc['reached_goal']:.0%} of "
        f"{mc['episodes']} episodes cut at {mc['horizon']} steps (mean return "
        f"{mc['mean_return_with_bonus']:.1f}; {mc['mean_return_without_bonus']:.1f} "
        "without the bonus). The same episodes, with and without the bonus:",
        "",
        "| parameter | pathwise, with bonus | pathwise, without | score function, "
        "with bonus (± SE) | score function, without (± SE) |",
        "|---|---|---|---|---|",
    ]
    for i, name in enumerate(names):
        out.append(
            f"| {name} | {mc['pathwise_with'][i]:.4g} | "
            f"{mc['pathwise_without'][i]:.4g} | {mc['score_with'][i]:.3g} ± "
            f"{mc['score_with_se'][i]:.2g} | {mc['score_without'][i]:.3g} ± "
            f"{mc['score_without_se'][i]:.2g} |"
        )
    out += [
        "",
        f"The pathwise gradients are identical to the bit (largest difference "
        f"{mc['pathwise_max_abs_difference']:g}): the bonus, the whole point of "
        "the task, contributes nothing, and what is left (the action cost) says "
        "to pump less. The score-function gradient sees it: the velocity gain's "
        f"component moves from {mc['score_without'][3]:.3g} to "
        f"{mc['score_with'][3]:.3g} (paired z = {mc['score_difference_z'][3]:.1f}): "
        "pump harder. The pathwise estimator is biased for any objective whose "
        "reward or termination jumps (Mohamed et al. 2020 discuss the "
        "discontinuous case).",
        "",
    ]
    return out


def section_advice() -> list[str]:
    """## Which estimator when.

    Returns:
      the section's lines.
    """
    return [
        "## Which estimator when",
        "",
        "- **Shared expectation** (score_function.md §5): total return, "
        "reward-to-go, reward-to-go minus a leave-one-out mean or a value baseline "
        "from before the batch, GAE(λ = 1), and γ^t-weighted reward-to-go for J_γ. "
        "They differ only in variance, i.e. in how many episodes a given accuracy "
        "costs (∝ 1/SNR); reward-to-go and a baseline are free improvements.",
        "- **Shortcuts** buy variance with bias: GAE(λ < 1) is only as right as its "
        "critic; γ < 1 without γ^t optimises a surrogate; ÷ batch std changes the "
        "direction a little. When the critic is good and the bias small, the lower "
        "variance wins in learning speed; when it is not, no batch size fixes it.",
        "- **Pathwise** gradients need a differentiable model and a smooth reward. "
        "At short horizons they are far less noisy than any score-function "
        "estimator; over long horizons through unstable dynamics their variance "
        "grows with the horizon, and rewards that jump are invisible to them.",
        "",
    ]


def section_usage() -> list[str]:
    """## Using the diagnostics: a usage example.

    Returns:
      the section's lines.
    """
    return [
        "## Using the diagnostics",
        "",
        "```python",
        "import jax, jaxpg",
        "",
        'config = jaxpg.ReinforceConfig(env_id="CartPole-v1", num_envs=64, gamma=1.0)',
        "params = jaxpg.make_trainer(config).init(jax.random.key(0)).params",
        "diagnose = jax.jit(jaxpg.diagnostics.make_gradient_diagnostics(config))",
        "d = diagnose(jax.random.key(1), params)  # Diagnosis(stats, grads, trajectory, psi)",
        "d.stats.variance, d.stats.snr  # trace of covariance of one g_i; ‖mean‖²/variance",
        "# while training: ReinforceConfig(gradient_diagnostics=True) adds the metrics",
        "# gradient_variance and gradient_snr (off by default: the compiled update is unchanged)",
        "```",
        "",
        "`jaxpg.pathwise.pathwise_gradients` / `score_function_gradients` return "
        "per-episode gradients for `jaxpg.diagnostics.gradient_statistics`.",
        "",
    ]


def section_references() -> list[str]:
    """## References.

    Returns:
      the section's lines.
    """
    return [
        "## References",
        "",
        "- Williams, R. J. (1992). Simple statistical gradient-following algorithms "
        "for connectionist reinforcement learning. *Machine Learning* 8.",
        "- Greensmith, E., Bartlett, P. L., Baxter, J. (2004). Variance reduction "
        "techniques for gradient estimates in reinforcement learning. *JMLR* 5.",
        "- Thomas, P. S. (2014). Bias in natural actor-critic algorithms. *ICML*.",
        "- Schulman, J., Moritz, P., Levine, S., Jordan, M., Abbeel, P. (2016). "
        "High-dimensional continuous control using generalized advantage estimation. "
        "*ICLR*.",
        "- Kool, W., van Hoof, H., Welling, M. (2019). Buy 4 REINFORCE samples, get a "
        "baseline for free! *ICLR workshop DeepRLStructPred*.",
        "- Parmas, P., Rasmussen, C. E., Peters, J., Doya, K. (2018). PIPPS: flexible "
        "model-based policy search robust to the curse of chaos. *ICML*.",
        "- Mohamed, S., Rosca, M., Figurnov, M., Mnih, A. (2020). Monte Carlo gradient "
        "estimation in machine learning. *JMLR* 21.",
        "",
    ]


def render(data: dict, command: str) -> str:
    """docs/estimators.md from the measured ``data`` (sections for parts present).

    Args:
      data: the run: ``config`` (the sizes), the date and versions, and one entry
        per part that was measured (``tabular``, ``cartpole``, ``learning``,
        ``pendulum_horizon``, ``pendulum_learning``, ``mountain_car``).
      command: the command line the page names as its source.

    Returns:
      the page's text.
    """
    cfg = data["config"]
    tab, cp, learn = data.get("tabular"), data.get("cartpole"), data.get("learning")
    ph, pl = data.get("pendulum_horizon"), data.get("pendulum_learning")
    mc = data.get("mountain_car")
    out = section_header(data, command) + section_method(data)
    if tab:
        out += section_tabular(tab, cfg)
    if cp:
        out += section_cartpole(cp, cfg)
    if tab or cp:
        out += ["![bias against variance](img/estimators-bias-variance.png)", ""]
    if learn:
        out += section_learning(learn, cfg)
    if ph:
        out += section_pathwise_horizons(ph)
    if pl:
        out += section_pathwise_learning(pl)
    if ph or pl:
        out += ["![pathwise against score function](img/estimators-pathwise.png)", ""]
    if mc:
        out += section_mountain_car(mc)
    out += section_advice() + section_usage() + section_references()
    return "\n".join(out)
