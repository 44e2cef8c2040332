"""docs/estimators.md, parts A and B: the page's header, method and tables.

The text of the page ``scripts/estimators.py`` writes from the estimator lab's
measurements (:mod:`jaxpg.lab`); :mod:`jaxpg.run.lab_report` adds part C and puts
the page together (:func:`jaxpg.run.lab_report.render`). Every function takes the
JSON-ready dicts the lab returns and gives the page's lines.
"""

from __future__ import annotations

import math

import numpy as np

from jaxpg.lab import COSINE

__all__ = [
    "fmt",
    "row_of",
    "section_cartpole",
    "section_header",
    "section_learning",
    "section_method",
    "section_tabular",
    "table_a",
]


def fmt(x: float, digits: int = 3) -> str:
    """A number for the page: ``digits`` significant digits, e-notation when large
    or small, "–" for None or NaN and "∞ (never)" for infinity.

    Args:
      x: the number (or None).
      digits: significant digits.

    Returns:
      its text.
    """
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, float) and math.isinf(x):
        return "∞ (never)"
    if abs(x) >= 1e4 or (0 < abs(x) < 1e-3):
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}"


def table_a(part: dict) -> list[str]:
    """The table of part A: one line per Ψ of ``part["rows"]``.

    Args:
      part: :func:`jaxpg.lab.tabular_part`'s or :func:`jaxpg.lab.cartpole_part`'s
        result.

    Returns:
      the table's lines, header first.
    """
    lines = [
        "| Ψ | family | ‖bias‖ / ‖∇J‖ | ‖bias‖ / noise | max \\|z\\| | variance | "
        "SNR | cos(E ĝ, ∇J) | n for cos 0.9 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in part["rows"]:
        n = r["samples_for_cosine"]
        n_txt = fmt(n) if math.isinf(n) else f"{n:,.0f}"
        if "measured_cosine_at_n" in r:
            n_txt += f" ({r['measured_cosine_at_n']:.3f})"
        lines.append(
            f"| {r['label']} | {r['family']} | {fmt(r['relative_bias'])} | "
            f"{r['bias_over_noise']:.2f} | {r['max_abs_z']:.1f} | "
            f"{fmt(r['variance'])} | {fmt(r['snr'])} | {r['cosine']:.4f} | {n_txt} |"
        )
    return lines


def row_of(part: dict, label_start: str) -> dict:
    """The row whose label starts so; NaNs when the run left it out (--quick).

    Args:
      part: a part's result with ``rows``.
      label_start: the start of the row's label.

    Returns:
      the first matching row, or a row of NaNs.
    """
    missing = dict.fromkeys(
        (
            "variance",
            "samples_for_cosine",
            "relative_bias",
            "bias_over_noise",
            "max_abs_z",
            "cosine",
        ),
        float("nan"),
    )
    return next(
        (r for r in part["rows"] if r["label"].startswith(label_start)), missing
    )


def section_header(data: dict, command: str) -> list[str]:
    """The title, what the page measures and the command that wrote it.

    Args:
      data: the whole run (``date``, ``jax``, ``backend``, ``python``,
        ``total_seconds``).
      command: the command line shown on the page.

    Returns:
      the section's lines.
    """
    return [
        "# Estimator lab: what each policy-gradient estimator costs",
        "",
        "[docs/score_function.md](score_function.md) derives the score-function "
        "estimator and proves which weights Ψ keep its expectation at ∇J. This page "
        "*measures* them: bias against an exact or high-sample gradient, variance, "
        "signal-to-noise ratio and the batch size each needs; then how that variance "
        "turns into sample efficiency when learning; then the pathwise "
        "(reparameterised, backpropagation-through-time) gradient beside the "
        "score-function one. Every number below was written by",
        "",
        "```",
        command,
        "```",
        "",
        f"on {data['date']} (jax {data['jax']}, backend {data['backend']}, Python "
        f"{data['python']}; {data['total_seconds']:.0f} s on the shared 2-core CPU). "
        "The raw numbers are in [data/estimators.json](data/estimators.json).",
        "",
    ]


def section_method(data: dict) -> list[str]:
    """## How it is measured: the per-trajectory terms and every column.

    Args:
      data: the whole run (``cosine_target``).

    Returns:
      the section's lines.
    """
    return [
        "## How it is measured",
        "",
        "A batch estimate is ĝ = (1/N) Σ_i g_i with one term per trajectory, "
        "g_i = Σ_t Ψ_{i,t} ∇log π(a_{i,t}|s_{i,t}). "
        "[`jaxpg.diagnostics`](../jaxpg/diagnostics.py) computes every g_i with "
        "`jax.vmap(jax.grad(...))` of the training loss itself, so their mean is "
        "exactly `jaxpg.estimate_gradient`'s batch estimate "
        "([tests/test_diagnostics.py](../tests/test_diagnostics.py) checks it for "
        "every Ψ to rtol 1e-6). Ψ is computed for the whole batch first; with the "
        "leave-one-out baseline (or ÷ batch std) Ψ_i depends on the other episodes, "
        "so those g_i are exchangeable but not independent — their mean is still the "
        "batch estimate.",
        "",
        "- **Common random numbers.** At a fixed policy every Ψ weighs the *same* "
        "episodes (same keys), so differences between rows are differences between "
        "estimators, not between samples.",
        "- **‖bias‖ / ‖∇J‖**: the pooled mean's distance from the exact gradient "
        "(tabular) or from a reference (CartPole), relative to its length. "
        "**‖bias‖ / noise** divides by √(Σ SE²), the distance expected from sampling "
        "noise alone (SE from the spread of batch means, plus the reference's own "
        "SE): about 1 for an unbiased estimator, ≫ 1 for a biased one. "
        "**max |z|**: the largest per-parameter |bias| / SE.",
        "- **variance**: the trace of the covariance of one trajectory's term g_i "
        "(a batch of N has about variance / N). **SNR** = ‖∇J‖² / variance.",
        f"- **n for cos {data['cosine_target']}**: the batch size at which a batch "
        "estimate's cosine with ∇J reaches the target, from "
        "`jaxpg.diagnostics.samples_for_cosine`: n = v / ((m·r̂)²/c² − ‖m‖²) for an "
        "estimator of mean m and variance v; for an unbiased one n = "
        f"(c²/(1−c²))/SNR ({COSINE**2 / (1 - COSINE**2):.2f}/SNR). ∞ when the "
        "estimator's expectation itself is further than the target from ∇J. In "
        "parentheses (tabular): the mean cosine actually measured for averages of "
        "that many terms.",
        "",
    ]


def section_tabular(tab: dict, cfg: dict) -> list[str]:
    """## A1: the tabular MDP against its exact gradient.

    Args:
      tab: :func:`jaxpg.lab.tabular_part`'s result.
      cfg: the run's sizes.

    Returns:
      the section's lines.
    """
    loo, ret, rtg, val = (
        row_of(tab, k) for k in ("rtg − leave", "total", "reward", "rtg − learned")
    )
    gae0 = row_of(tab, "GAE(λ=0)")
    surr = row_of(tab, "rtg − mean, γ")
    norm = row_of(tab, "rtg − mean, ÷")
    n_traj = tab["rows"][0]["num_trajectories"]
    return [
        "## A1. Tabular MDP: exact ∇J",
        "",
        "The MDP of [jaxpg/tabular.py](../jaxpg/tabular.py) (3 states, 2 actions, "
        "4 steps, γ = 1) with the softmax table the tests use; ∇J by backward "
        f"induction in float64. {n_traj:,} episodes in batches of "
        f"N = {cfg['tab_batch']}. The critic V is a table fitted to the "
        "reward-to-go of 20,000 other episodes (per-state mean: least squares); "
        "the MDP is finite-horizon, so a state-only V cannot be exact and GAE(λ<1) "
        "inherits its error.",
        "",
        *table_a(tab),
        "",
        f"- The unbiased family shares the expectation (‖bias‖/noise "
        f"{min(x['bias_over_noise'] for x in (ret, rtg, loo, val)):.2f}–"
        f"{max(x['bias_over_noise'] for x in (ret, rtg, loo, val)):.2f}, max |z| ≤ "
        f"{max(x['max_abs_z'] for x in (ret, rtg, loo, val)):.1f}; the gradient "
        "table has 3 independent entries, since the two actions' logits of a state "
        "get opposite gradients, so this ratio has about 3 degrees of freedom) "
        f"and differs in variance: total return {ret['variance']:.1f}, "
        f"reward-to-go {rtg['variance']:.1f} "
        f"({ret['variance'] / rtg['variance']:.1f}× less), leave-one-out "
        f"{loo['variance']:.2f}, learned V {val['variance']:.2f}. The sample "
        f"cost follows 1/SNR: {ret['samples_for_cosine']:.0f} → "
        f"{rtg['samples_for_cosine']:.0f} → {loo['samples_for_cosine']:.0f} "
        "episodes for cos 0.9. The measured cosines in parentheses are 0.92–0.94: "
        "in so few dimensions the formula's concentration assumption is rough "
        "and a little pessimistic.",
        f"- GAE(λ=0) with this critic has {gae0['variance']:.2f} variance but a "
        f"bias of {gae0['relative_bias']:.1%} of ‖∇J‖ (‖bias‖/noise "
        f"{gae0['bias_over_noise']:.1f}); λ → 1 walks back to the value baseline "
        "(GAE(λ=1) reproduces the `rtg − learned V` row exactly); for λ ≥ 0.9 the "
        "bias is below what these episodes resolve. On this 4-step MDP the "
        f"variance GAE saves is small ({gae0['variance']:.1f} against "
        f"{val['variance']:.1f}).",
        f"- γ = 0.9 without γ^t (the surrogate of score_function.md §6) is biased "
        f"against ∇J (‖bias‖/‖∇J‖ = {surr['relative_bias']:.3f}). Dividing by the "
        f"batch std changes the scale (so its variance and bias are not "
        f"comparable) and the direction: cos {norm['cosine']:.4f}, "
        f"‖bias‖/noise {norm['bias_over_noise']:.1f} (score_function.md §3).",
        "",
    ]


def section_cartpole(cp: dict, cfg: dict) -> list[str]:
    """## A2: the CartPole-v1 snapshot against its high-sample reference.

    Args:
      cp: :func:`jaxpg.lab.cartpole_part`'s result.
      cfg: the run's sizes.

    Returns:
      the section's lines.
    """
    loo, ret, rtg, val = (
        row_of(cp, k) for k in ("rtg − leave", "total", "reward", "rtg − learned")
    )
    gae = {lam: row_of(cp, f"GAE(λ={lam})") for lam in ("0", "0.5", "0.9", "0.97")}
    surr = row_of(cp, "rtg − mean, γ")
    return [
        "## A2. CartPole-v1 at a frozen snapshot: high-sample reference",
        "",
        f"REINFORCE (γ = 1, value baseline, 32 episodes per update) trained for "
        f"{cp['snapshot_updates']} updates from `jax.random.key(0)`, then frozen "
        f"(mean return at the snapshot {cp['snapshot_return']:.0f}); its critic "
        f"was refitted to the frozen policy's reward-to-go on "
        f"{cfg['cp_critic_episodes']:,} separate episodes. Reference ∇J: "
        f"`rtg − learned V` on {cp['reference_trajectories']:,} independent "
        f"episodes (its relative standard error √(Σ SE²)/‖ref‖ = "
        f"{cp['reference_relative_se']:.3f}). Each row: "
        f"{cp['rows'][0]['num_trajectories']:,} episodes in batches of "
        f"N = {cfg['cp_batch']}; {cp['num_parameters']:,} policy parameters.",
        "",
        *table_a(cp),
        "",
        "- ‖bias‖/noise of the unbiased rows fluctuates more than on the tabular "
        "MDP (the noise lives in a few directions of the 1,282, so the statistic "
        "has few effective degrees of freedom); the biased rows sit far above it.",
        f"- Variance: total return {fmt(ret['variance'])}, reward-to-go "
        f"{fmt(rtg['variance'])}, leave-one-out {fmt(loo['variance'])}, learned V "
        f"{fmt(val['variance'])}; episodes needed for cos 0.9: "
        f"{ret['samples_for_cosine']:.0f}, {rtg['samples_for_cosine']:.0f}, "
        f"{loo['samples_for_cosine']:.0f}, {val['samples_for_cosine']:.0f}.",
        "- GAE(λ < 1) buys one to two orders of magnitude of variance with a "
        "large bias, because the critic (refitted, yet far from the true values "
        f"of a policy whose episodes last ≈ {cp['snapshot_return']:.0f} steps) "
        "now decides the direction: "
        + "; ".join(
            f"λ={k}: variance {fmt(v['variance'])}, ‖bias‖/‖∇J‖ "
            f"{v['relative_bias']:.2f}, cos {v['cosine']:.3f}"
            for k, v in gae.items()
        )
        + ". A few episodes reach the direction of its own expectation, but "
        "that direction is off: where its cosine with ∇J is below 0.9, no "
        "batch size reaches the target (n = ∞).",
        f"- γ = 0.99 without γ^t (jaxpg's default surrogate): variance "
        f"{fmt(surr['variance'])}, cos {surr['cosine']:.3f}, "
        f"‖bias‖/‖∇J‖ {surr['relative_bias']:.2f}: a different objective's "
        "gradient (J_0.99 has a shorter effective horizon), "
        f"{loo['variance'] / surr['variance']:.1f}× less variance than the same "
        "estimator with γ = 1.",
        "",
    ]


def section_learning(learn: dict, cfg: dict) -> list[str]:
    """## B: the CartPole-v1 learning curves of the same Ψ.

    Args:
      learn: :func:`jaxpg.lab.learning_part`'s result.
      cfg: the run's sizes.

    Returns:
      the section's lines.
    """
    out = [
        "## B. Variance becomes sample efficiency: CartPole-v1 learning curves",
        "",
        f"The same Ψ (except ÷ batch std), REINFORCE with Adam (lr 0.01), "
        f"{cfg['learn_envs']} episodes per update, {cfg['learn_updates']} "
        f"updates, γ = 1 unless stated, {cfg['learn_seeds']} seeds vmapped in one "
        "compiled call per row (`jax.vmap(jaxpg.make_train(config))`). The "
        "critic rows (learned V, GAE) train their critic alongside.",
        "",
        "| Ψ | family | return, last 10 updates (± SE over seeds) | mean return "
        "over all updates | seeds reaching 475 | median updates to 475 |",
        "|---|---|---|---|---|---|",
    ]
    for r in learn["rows"]:
        hits = [h for h in r["updates_to_475"] if h is not None]
        med = f"{np.median(hits):.0f}" if hits else "–"
        out.append(
            f"| {r['label']} | {r['family']} | {r['final_return']:.1f} ± "
            f"{r['final_se']:.1f} | {r['area_under_curve']:.1f} | "
            f"{r['seeds_reaching_475']}/{len(r['updates_to_475'])} | {med} |"
        )
    lr = {r["label"]: r for r in learn["rows"]}

    def final(label):
        r = lr.get(label)
        return f"{r['final_return']:.0f}" if r else "–"

    out += [
        "",
        "Among the unbiased estimators the order of the variance table is the "
        "order of learning speed: total return "
        f"{final('total return')}, reward-to-go {final('reward-to-go')}, "
        f"leave-one-out {final('rtg − leave-one-out mean')} over the last 10 "
        "updates (and the mean over all updates, the area under the curve, in the "
        "same order). The learned-V rows learn a critic from scratch beside the "
        "policy, so early on their baseline is poor. GAE with small λ fails "
        f"outright (λ=0: {final('GAE(λ=0)')}, λ=0.5: {final('GAE(λ=0.5)')}): with "
        "a critic trained from scratch alongside the policy, its advantages are "
        "mostly the critic's error — the bias of section A2, at its worst; "
        "larger λ leans on the critic less and learns. The γ = 0.99 surrogate "
        f"({final('rtg − mean, γ=0.99 without γ^t')}) learns as fast as the "
        "best unbiased estimator: here its lower variance outweighs its bias.",
        "",
        "![learning curves](img/estimators-learning.png)",
        "",
    ]
    return out
