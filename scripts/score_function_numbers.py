"""Exact expectations of score-function estimators on the tabular test MDP.

Enumerates every trajectory of the MDP in ``jaxpg/tabular.py`` under the policy the
tests use (``tabular.LOGITS``), with its probability p(τ)
(:func:`jaxpg.tabular.all_trajectories`), and takes expectations as exact sums
Σ_τ p(τ)·(…) -- no sampling. It prints the numbers quoted in
docs/score_function.md:

* E[R], E[∇log π(τ)], E[R ∇log π(τ)] and the exact ∇J (backward induction): the
  expectation of the product is ∇J, the product of the expectations is 0.
* the exact expectation of the reward-to-go estimator, and, for γ = 0.9, of the three
  discounted estimators against ∇J_γ (with and without the γ^t factor).
* the scale (1 − 1/N) that a self-including batch-mean baseline puts on the
  expected gradient, and the exact expected direction when the summed loss is divided
  by the batch's count of real steps (N = 2).

Usage::

    python scripts/score_function_numbers.py
"""

from __future__ import annotations

import numpy as np

from jaxpg import tabular


def compare(name, got, exact):
    cos = (got * exact).sum() / np.linalg.norm(got) / np.linalg.norm(exact)
    angle = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    err = np.abs(got - exact).max()
    ratio = np.linalg.norm(got) / np.linalg.norm(exact)
    print(
        f"  {name:44s} max|diff| {err:.2e}  angle {angle:5.2f}°  norm ratio {ratio:.4f}"
    )


def main() -> None:
    np.set_printoptions(precision=4, suppress=True, floatmode="fixed")
    prob, states, actions, rewards, mask, pi = tabular.all_trajectories()
    scores = tabular.step_scores(states, actions, mask, pi)  # [K, H, 3, 2]
    grad = tabular.exact_gradient()
    print(f"trajectories: {len(prob)}, Σ p(τ) = {prob.sum():.12f}")
    e_r, e_score, e_r_score = product_and_expectations(prob, rewards, scores, grad)
    estimators(prob, rewards, scores, e_r_score, grad)
    batch_mean_baseline(e_r, e_score, e_r_score, grad)
    divided_by_steps(prob, rewards, mask, scores, grad)


def product_and_expectations(prob, rewards, scores, grad):
    """E[R], E[∇log π(τ)] and E[R ∇log π(τ)] against ∇J; returns the three."""
    score = scores.sum(1)  # ∇log π(τ) = Σ_t ∇log π(a_t|s_t)
    ret = rewards.sum(1)
    e_r = tabular.expectation(prob, ret)
    e_score = tabular.expectation(prob, score)
    e_r_score = tabular.expectation(prob, ret[:, None, None] * score)
    print(f"E[R] = J                 = {e_r:.6f}")
    print(f"max |E[∇log π(τ)]|       = {np.abs(e_score).max():.1e}")
    print(f"max |E[R]·E[∇log π(τ)]| = {np.abs(e_r * e_score).max():.1e}")
    print("E[R ∇log π(τ)] =\n", e_r_score)
    print("exact ∇J (backward induction) =\n", grad)
    cov = e_r_score - e_r * e_score
    print(f"max |Cov(R, ∇log π(τ)) − ∇J| = {np.abs(cov - grad).max():.1e}")
    return e_r, e_score, e_r_score


def estimators(prob, rewards, scores, e_r_score, grad) -> None:
    """Each estimator's exact expectation against the gradient it targets."""
    score = scores.sum(1)
    print("\nexact expectation of each estimator vs the gradient it targets:")
    g1 = tabular.rewards_to_go(rewards, 1.0)
    compare("γ=1   return  R·Σ_t ∇log π_t", e_r_score, grad)
    compare(
        "γ=1   reward-to-go  Σ_t G_t ∇log π_t",
        tabular.expectation(prob, np.einsum("kt,ktij->kij", g1, scores)),
        grad,
    )
    gamma = 0.9
    grad_g = tabular.exact_gradient(gamma=gamma)
    gg = tabular.rewards_to_go(rewards, gamma)
    powers = gamma ** np.arange(rewards.shape[1])
    compare(
        "γ=0.9 whole return  R^γ·Σ_t ∇log π_t",
        tabular.expectation(prob, gg[:, 0, None, None] * score),
        grad_g,
    )
    compare(
        "γ=0.9 γ^t·G^γ_t  (discount_weighting=True)",
        tabular.expectation(prob, np.einsum("t,kt,ktij->kij", powers, gg, scores)),
        grad_g,
    )
    surrogate = tabular.expectation(prob, np.einsum("kt,ktij->kij", gg, scores))
    compare("γ=0.9 G^γ_t without γ^t  (the default)", surrogate, grad_g)
    print("  ∇J_0.9 =\n", grad_g)
    print("  E[Σ_t G^γ_t ∇log π_t] =\n", surrogate)


def batch_mean_baseline(e_r, e_score, e_r_score, grad) -> None:
    """The (1 − 1/N) scale of a self-including batch-mean baseline."""
    print("\nbaseline = batch mean of the N returns, trajectory 1's weight:")
    # R_1 − (1/N)Σ_j R_j; the other N − 1 returns are independent of trajectory 1.
    for n in (2, 8, 64):
        biased = (1 - 1 / n) * e_r_score - (n - 1) / n * e_r * e_score
        loo = e_r_score - e_r * e_score
        print(
            f"  N={n:3d}: self-including E = {np.abs(biased).max() / np.abs(grad).max():.4f}"
            f"·∇J (1 − 1/N = {1 - 1 / n:.4f});  leave-one-out E ="
            f" {np.abs(loo).max() / np.abs(grad).max():.4f}·∇J"
        )


def divided_by_steps(prob, rewards, mask, scores, grad) -> None:
    """The exact expected direction of the summed loss ÷ the batch's real steps."""
    print("\nsummed loss divided by the batch's count of real steps, N = 2:")
    # E[(a_1 + a_2) / (L_1 + L_2)] = 2 Σ_k p_k a_k Σ_l p_l / (L_k + L_l), exactly.
    a = np.einsum("kt,ktij->kij", tabular.rewards_to_go(rewards, 1.0), scores)
    lengths = mask.sum(1)
    inv = np.zeros(len(prob))
    for length in np.unique(lengths):
        inv += prob[lengths == length].sum() / (lengths + length)
    divided = 2 * tabular.expectation(prob, inv[:, None, None] * a)
    c = (divided * grad).sum() / (grad * grad).sum()
    print(f"  best scale c (least squares, E[…] ≈ c·∇J) = {c:.4f}")
    compare("E[Σ_i Σ_t G_t ∇log π_t / (L_1 + L_2)] vs ∇J", divided, grad)
    print("  E[…] =\n", divided)


if __name__ == "__main__":
    main()
