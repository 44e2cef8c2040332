"""The gradient through memory against the exact ∇J, on the cue-recall POMDP.

Prints the numbers quoted in docs/score_function.md ("Through a recurrent
policy's memory"): the exact J and ∇J of the hand-parameterised recurrent policy
(:mod:`jaxpg.cue_pomdp`), and the largest |z| of the mean of 200 batches of 1000
episodes of :func:`jaxpg.estimate_gradient` against ∇J -- with the gradient
accumulated over 1-step chunks, in one chunk, and for the negative control whose
carry gets no gradient. tests/test_exact_gradient_memory.py asserts the same
(|z| < 4 for the first two, > 4 for the control).

Usage::

    python scripts/memory_gradient_numbers.py
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import jaxpg
from jaxpg import cue_pomdp


def main() -> None:
    with jax.enable_x64(True):
        p64 = jax.tree.map(lambda x: jnp.asarray(x, jnp.float64), cue_pomdp.PARAMS)
        j = float(cue_pomdp.exact_objective(p64, cue_pomdp.cue_policy(p64)))
    grad = np.concatenate([g.ravel() for g in cue_pomdp.exact_gradient().values()])
    print(f"exact J = {j:.6f}  (a policy without memory: at most 0.75)")
    print(f"exact ∇J: {grad.size} components, |∇J| = {np.linalg.norm(grad):.4f}")
    rows = [
        ("rollout_chunk=1 (BPTT across every chunk)", 1, False),
        ("rollout_chunk=32 (one chunk)", 32, False),
        ("negative control: stop_gradient on the carry", 32, True),
    ]
    for name, chunk, detach in rows:
        config = jaxpg.ReinforceConfig(
            env_id=None, num_envs=1000, gamma=1.0, baseline="none", rollout_chunk=chunk
        )
        z = cue_pomdp.gradient_z_scores(
            jaxpg.estimate_gradient, config, 200, detach_carry=detach
        )
        verdict = "passes" if np.abs(z).max() < 4 else "FAILS"
        print(f"  {name:48s} max|z| = {np.abs(z).max():7.2f}  {verdict} |z| < 4")


if __name__ == "__main__":
    main()
