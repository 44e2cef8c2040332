"""The API reference: every public name is documented, and pdoc renders it.

Public names: ``__all__`` of ``jaxpg``, of the submodules it lists and of the
modules scripts/api_docs.py renders (plus the algorithm registry); for a module
without ``__all__``, the functions and classes it defines without a leading
underscore. A function with parameters documents each under ``Args:`` (a line may
name several: ``env, env_params: ...``); one with a return annotation other than
None has ``Returns:``; a NamedTuple or dataclass documents each field under
``Attributes:`` or in a comment on (or just above) the field's line.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import inspect
import re
import types
from pathlib import Path
from typing import NamedTuple

import pytest

import jaxpg

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location(
    "api_docs", ROOT / "scripts" / "api_docs.py"
)
api_docs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(api_docs)

HEADERS = "Args|Returns|Raises|Yields|Attributes|References|Examples?|Notes?"


def _modules() -> list[str]:
    listed = [
        f"jaxpg.{n}" for n in jaxpg.__all__ if inspect.ismodule(getattr(jaxpg, n))
    ]
    extra = ["jaxpg.algorithms.registry", "jaxpg.evaluate"]
    return sorted(set(api_docs.MODULES) | set(listed) | set(extra))


def _public(module: types.ModuleType) -> list[str]:
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [
        n
        for n, o in vars(module).items()
        if not n.startswith("_")
        and (inspect.isfunction(o) or inspect.isclass(o))
        and o.__module__ == module.__name__
    ]


def _section(doc: str, name: str) -> str | None:
    pattern = rf"^\s*{name}:\s*$(.*?)(?=^\s*(?:{HEADERS}):\s*$|\Z)"
    match = re.search(pattern, doc, re.S | re.M)
    return match.group(1) if match else None


def _class_problems(cls: type) -> list[str]:
    doc = cls.__doc__ or ""
    inherited = any(doc == getattr(base, "__doc__", None) for base in cls.__mro__[1:])
    if not doc.strip() or inherited or re.fullmatch(r"\w+\(.*\)", doc.strip()):
        return ["no docstring"]
    fields = list(getattr(cls, "_fields", ()))
    if dataclasses.is_dataclass(cls):
        fields = [f.name for f in dataclasses.fields(cls)]
    attributes = _section(inspect.getdoc(cls), "Attributes") or ""
    lines = inspect.getsource(cls).splitlines()
    missing = []
    for field in fields:
        if re.search(rf"\b{field}\b", attributes):
            continue
        at = next(
            (i for i, line in enumerate(lines) if re.match(rf"\s+{field}\s*:", line)),
            None,
        )
        commented = at is not None and (
            "#" in lines[at] or lines[at - 1].strip().startswith("#")
        )
        if not commented:
            missing.append(field)
    return [f"fields without documentation: {missing}"] if missing else []


def _function_problems(fn: types.FunctionType) -> list[str]:
    doc = inspect.getdoc(fn)
    if not doc:
        return ["no docstring"]
    signature = inspect.signature(fn)
    params = [p.name for p in signature.parameters.values() if p.name != "self"]
    problems = []
    if params:
        args = _section(doc, "Args")
        if args is None:
            return [f"no Args: section for {params}"]
        missing = [p for p in params if not re.search(rf"(?<!\w){p}\b", args)]
        if missing:
            problems.append(f"Args: does not name {missing}")
    returns = signature.return_annotation
    if returns not in (None, "None", inspect.Signature.empty) and not (
        _section(doc, "Returns") or _section(doc, "Yields")
    ):
        problems.append("no Returns: section")
    return problems


def _problems() -> list[str]:
    found = []
    for name in _modules():
        module = importlib.import_module(name)
        if not (module.__doc__ or "").strip():
            found.append(f"{name}: no module docstring")
        for public in _public(module):
            obj = getattr(module, public)
            if inspect.ismodule(obj):
                problems = [] if (obj.__doc__ or "").strip() else ["no docstring"]
            elif inspect.isclass(obj):
                problems = _class_problems(obj)
            elif inspect.isfunction(obj):
                problems = _function_problems(obj)
            else:  # constants: documented by the comment beside them
                problems = []
            found += [f"{name}.{public}: {p}" for p in problems]
    return found


def test_every_public_name_is_documented():
    assert _problems() == []


def test_the_checker_catches_what_it_should():
    # Negative controls: an undocumented parameter, a missing Returns:, an
    # undocumented NamedTuple field, no docstring at all.
    def f(a: int, b: int) -> int:
        """Adds.

        Args:
          a: one.
        """
        return a + b

    def g(a):
        return a

    class T(NamedTuple):
        """Documented, but not its fields."""

        x: int
        y: int  # documented

    assert _function_problems(f) == ["Args: does not name ['b']", "no Returns: section"]
    assert _function_problems(g) == ["no docstring"]
    assert _class_problems(T) == ["fields without documentation: ['x']"]
    assert _class_problems(jaxpg.TrainState) == []


def test_the_api_reference_builds_without_warnings(tmp_path):
    pytest.importorskip("pdoc")
    assert api_docs.build(tmp_path) == []
    assert (tmp_path / "jaxpg.html").exists()
    assert (tmp_path / "jaxpg" / "solve.html").exists()
