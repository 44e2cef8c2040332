"""The gradient through a recurrent policy's memory against the exact ∇J.

On the cue-recall POMDP (:mod:`jaxpg.cue_pomdp`), where the rewarded action at
the last step depends on a cue seen only at the first, the mean of many
:func:`jaxpg.estimate_gradient` batches with a recurrent policy lies within 4
standard errors of the exact ∇J in every component -- with the gradient
accumulated over chunks of one step (BPTT across every chunk boundary) and in one
chunk. The negative control, the same policy with no gradient through its carry,
fails the same test.
"""

from __future__ import annotations

import numpy as np
import pytest

import jaxpg
from jaxpg import cue_pomdp

pytestmark = pytest.mark.timeout(400)

Z_LIMIT = 4.0


def config(chunk: int) -> jaxpg.ReinforceConfig:
    return jaxpg.ReinforceConfig(
        env_id=None, num_envs=1000, gamma=1.0, baseline="none", rollout_chunk=chunk
    )


@pytest.mark.parametrize("chunk", [1, 32])
def test_recurrent_estimate_matches_exact_gradient(chunk):
    # 200 batches x 1000 episodes.
    z = cue_pomdp.gradient_z_scores(jaxpg.estimate_gradient, config(chunk), 200)
    assert np.abs(z).max() < Z_LIMIT


def test_detached_carry_fails_the_same_test():
    z = cue_pomdp.gradient_z_scores(
        jaxpg.estimate_gradient, config(32), 200, detach_carry=True
    )
    assert np.abs(z).max() > Z_LIMIT


def test_exact_objective_needs_memory():
    # The enumerated J agrees with a direct count: a policy that ignores the
    # cue (all weights 0: uniform actions) scores BLANK_REWARD · ½ + ½.
    flat = {k: np.zeros_like(v) for k, v in cue_pomdp.PARAMS.items()}
    policy = cue_pomdp.cue_policy(flat)
    j = float(cue_pomdp.exact_objective(policy.init(None, None), policy))
    assert abs(j - (cue_pomdp.BLANK_REWARD * 0.5 + 0.5)) < 1e-6
