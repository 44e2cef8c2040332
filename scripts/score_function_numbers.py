"""Exact expectations of score-function estimators on the tabular test MDP.

Enumerates every trajectory of the MDP in ``tests/tabular.py`` under the policy the
tests use (``tabular.LOGITS``), with its probability p(τ), and takes expectations as
exact sums Σ_τ p(τ)·(…) -- no sampling. It prints the numbers quoted in
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

import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
import tabular  # noqa: E402


def enumerate_steps(logits=tabular.LOGITS):
    """Every trajectory as padded ``[K, H]`` arrays of states, actions, rewards, mask.

    Returns ``(prob [K], states, actions, rewards, mask)``; an episode ends when the
    transition draws the absorbing outcome or after ``HORIZON`` steps.
    """
    pi = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    rows = []

    def grow(s, prob, steps):
        t = len(steps)
        if t == tabular.HORIZON:
            rows.append((prob, steps))
            return
        for a in range(tabular.NUM_ACTIONS):
            for nxt in range(tabular.NUM_STATES + 1):
                p = prob * pi[s, a] * tabular.TRANSITIONS[s, a, nxt]
                path = steps + [(s, a, tabular.REWARDS[s, a])]
                if nxt == tabular.NUM_STATES:
                    rows.append((p, path))
                else:
                    grow(nxt, p, path)

    for s0 in range(tabular.NUM_STATES):
        grow(s0, tabular.INITIAL[s0], [])

    k, h = len(rows), tabular.HORIZON
    prob = np.array([r[0] for r in rows])
    states = np.zeros((k, h), int)
    actions = np.zeros((k, h), int)
    rewards = np.zeros((k, h))
    mask = np.zeros((k, h))
    for i, (_, path) in enumerate(rows):
        for t, (s, a, r) in enumerate(path):
            states[i, t], actions[i, t], rewards[i, t], mask[i, t] = s, a, r, 1.0
    return prob, states, actions, rewards, mask, pi


def step_scores(states, actions, mask, pi):
    """∇_θ log π(a_t|s_t) for a logits table: onehot(s) ⊗ (onehot(a) − π(·|s))."""
    k, h = states.shape
    scores = np.zeros((k, h) + pi.shape)
    for t in range(h):
        rows = np.arange(k)
        scores[rows, t, states[:, t]] -= pi[states[:, t]]
        scores[rows, t, states[:, t], actions[:, t]] += 1.0
    return scores * mask[:, :, None, None]


def reward_to_go(rewards, gamma):
    g = np.zeros_like(rewards)
    acc = np.zeros(rewards.shape[0])
    for t in reversed(range(rewards.shape[1])):
        acc = rewards[:, t] + gamma * acc
        g[:, t] = acc
    return g


def expect(prob, per_traj):
    """Σ_τ p(τ) · x(τ) over the first axis."""
    return np.einsum("k,k...->...", prob, per_traj)


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
    prob, states, actions, rewards, mask, pi = enumerate_steps()
    scores = step_scores(states, actions, mask, pi)  # [K, H, 3, 2]
    score = scores.sum(1)  # ∇log π(τ) = Σ_t ∇log π(a_t|s_t)
    ret = rewards.sum(1)
    grad = tabular.exact_gradient()

    print(f"trajectories: {len(prob)}, Σ p(τ) = {prob.sum():.12f}")
    e_r = expect(prob, ret)
    e_score = expect(prob, score)
    e_r_score = expect(prob, ret[:, None, None] * score)
    print(f"E[R] = J                 = {e_r:.6f}")
    print(f"max |E[∇log π(τ)]|       = {np.abs(e_score).max():.1e}")
    print(f"max |E[R]·E[∇log π(τ)]| = {np.abs(e_r * e_score).max():.1e}")
    print("E[R ∇log π(τ)] =\n", e_r_score)
    print("exact ∇J (backward induction) =\n", grad)
    cov = e_r_score - e_r * e_score
    print(f"max |Cov(R, ∇log π(τ)) − ∇J| = {np.abs(cov - grad).max():.1e}")

    print("\nexact expectation of each estimator vs the gradient it targets:")
    g1 = reward_to_go(rewards, 1.0)
    compare("γ=1   return  R·Σ_t ∇log π_t", e_r_score, grad)
    compare(
        "γ=1   reward-to-go  Σ_t G_t ∇log π_t",
        expect(prob, np.einsum("kt,ktij->kij", g1, scores)),
        grad,
    )
    gamma = 0.9
    grad_g = tabular.exact_gradient(gamma=gamma)
    gg = reward_to_go(rewards, gamma)
    powers = gamma ** np.arange(rewards.shape[1])
    compare(
        "γ=0.9 whole return  R^γ·Σ_t ∇log π_t",
        expect(prob, gg[:, 0, None, None] * score),
        grad_g,
    )
    compare(
        "γ=0.9 γ^t·G^γ_t  (discount_weighting=True)",
        expect(prob, np.einsum("t,kt,ktij->kij", powers, gg, scores)),
        grad_g,
    )
    surrogate = expect(prob, np.einsum("kt,ktij->kij", gg, scores))
    compare("γ=0.9 G^γ_t without γ^t  (the default)", surrogate, grad_g)
    print("  ∇J_0.9 =\n", grad_g)
    print("  E[Σ_t G^γ_t ∇log π_t] =\n", surrogate)

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

    print("\nsummed loss divided by the batch's count of real steps, N = 2:")
    # E[(a_1 + a_2) / (L_1 + L_2)] = 2 Σ_k p_k a_k Σ_l p_l / (L_k + L_l), exactly.
    a = np.einsum("kt,ktij->kij", g1, scores)
    lengths = mask.sum(1)
    inv = np.zeros(len(prob))
    for length in np.unique(lengths):
        inv += prob[lengths == length].sum() / (lengths + length)
    divided = 2 * expect(prob, inv[:, None, None] * a)
    c = (divided * grad).sum() / (grad * grad).sum()
    print(f"  best scale c (least squares, E[…] ≈ c·∇J) = {c:.4f}")
    compare("E[Σ_i Σ_t G_t ∇log π_t / (L_1 + L_2)] vs ∇J", divided, grad)
    print("  E[…] =\n", divided)


if __name__ == "__main__":
    main()
