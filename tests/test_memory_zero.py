"""``memory_size=0`` (the default) leaves feed-forward training bit for bit as it
was before recurrent policies: every array of tests/data/feedforward_updates.npz
(3 updates of each algorithm, a greedy evaluation, one ``estimate_gradient``,
written by tests/make_feedforward_fixture.py on the code before the change) is
reproduced exactly.
"""

from __future__ import annotations

import pathlib
import platform
import sys

import jax
import numpy as np
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import make_feedforward_fixture as fixture  # noqa: E402

pytestmark = pytest.mark.timeout(600)


def test_feedforward_results_are_bit_identical():
    stored = dict(np.load(fixture.PATH))
    if str(stored["meta/jax_version"]) != jax.__version__:
        pytest.skip("the fixture was written with another jax version")
    if str(stored["meta/machine"]) != platform.machine():
        pytest.skip("the fixture was written on another CPU architecture")
    for config in fixture.cases().values():
        assert config.memory_size == 0
    fresh = fixture.compute()
    assert set(fresh) == {k for k in stored if not k.startswith("meta/")}
    differ = [k for k, v in fresh.items() if not np.array_equal(v, stored[k])]
    assert not differ, f"feed-forward results changed: {differ}"
