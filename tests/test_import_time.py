"""scripts/import_time.py's harness: parsing -X importtime, one tiny measurement."""

import pytest

from jaxpg.run import import_time
from jaxpg.run.bench import environment

pytestmark = pytest.mark.timeout(120)

REPORT = """\
import time: self [us] | cumulative | imported package
import time:       100 |        100 | _io
import time:        50 |       2000 |   jax._src.core
import time:      1000 |       3000 | jax
import time:       200 |        200 |     jaxpg.losses
import time:       300 |       4500 |   jaxpg.train
import time:       500 |       9000 | jaxpg
"""


def test_parse_a_hand_made_report():
    got = import_time.parse(REPORT)
    assert got["total"] == pytest.approx((100 + 3000 + 9000) / 1e6)
    assert got["jaxpg_self"] == pytest.approx((200 + 300 + 500) / 1e6)
    assert got["packages"] == {"jax": pytest.approx(0.003)}
    assert "jaxpg.run" in got["not_imported"]


def test_measure_and_render_a_tiny_statement():
    row = import_time.measure("import json", repeats=1)
    assert row["total"] > 0 and row["wall"] >= row["total"]
    assert row["packages"] == {}
    text = import_time.markdown(environment(), [row], "python scripts/import_time.py")
    assert text.startswith(import_time.BEGIN)
    assert text.rstrip().endswith(import_time.END)
    assert "| `import json` |" in text
