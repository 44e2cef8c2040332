"""The tabular MDP of the tests; it lives in :mod:`jaxpg.tabular` (the estimator
lab script uses it too)."""

from jaxpg.tabular import (  # noqa: F401
    HORIZON,
    INITIAL,
    LOGITS,
    NUM_ACTIONS,
    NUM_STATES,
    REWARDS,
    TRANSITIONS,
    Params,
    State,
    TabularMDP,
    exact_gradient,
    exact_objective,
    table_policy,
)
