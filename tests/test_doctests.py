"""The examples in the docstrings run and print what they say.

Every module of the package is imported and its doctests run, one test per
module, so a stale example (a renamed argument, a changed default, a different
printed value) fails here instead of misleading a reader of the API reference.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import jaxpg


def _modules_with_examples() -> list[str]:
    names = ["jaxpg"] + [
        info.name for info in pkgutil.walk_packages(jaxpg.__path__, prefix="jaxpg.")
    ]
    finder = doctest.DocTestFinder()
    found = []
    for name in sorted(names):
        module = importlib.import_module(name)
        if any(test.examples for test in finder.find(module, name)):
            found.append(name)
    return found


MODULES = _modules_with_examples()


def test_examples_are_found():
    # The finder must see the package's examples; an empty list would make the
    # parametrised test below pass vacuously.
    assert "jaxpg.returns" in MODULES and "jaxpg.compilation" in MODULES


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(
        module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {name}"
