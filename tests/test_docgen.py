"""scripts/docgen.py: how the doc-regenerating scripts write their files."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("docgen", ROOT / "scripts" / "docgen.py")
docgen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(docgen)

A = ("<!-- a:begin -->", "<!-- a:end -->")
B = ("<!-- b:begin -->", "<!-- b:end -->")


def section(markers, body):
    return f"{markers[0]}\n{body}\n{markers[1]}"


def test_a_section_is_replaced_and_the_rest_of_the_page_kept(tmp_path):
    page = tmp_path / "benchmarks.md"
    page.write_text(
        "# Benchmarks\n\nhand-written\n\n"
        + section(A, "old a")
        + "\n\nbetween\n\n"
        + section(B, "old b")
        + "\ntail\n"
    )
    docgen.replace_section(page, *A, section(A, "new a") + "\n")
    text = page.read_text()
    assert text == (
        "# Benchmarks\n\nhand-written\n\n"
        + section(A, "new a")
        + "\n\nbetween\n\n"
        + section(B, "old b")
        + "\ntail\n"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["benchmarks.md"]


def test_a_missing_section_is_appended_and_a_missing_page_created(tmp_path):
    page = tmp_path / "sub" / "new.md"
    docgen.replace_section(page, *A, section(A, "a"), new_page="# New\n")
    assert page.read_text() == "# New\n\n" + section(A, "a") + "\n"
    docgen.replace_section(page, *B, section(B, "b"))
    assert (
        page.read_text()
        == "# New\n\n" + section(A, "a") + "\n\n" + section(B, "b") + "\n"
    )


def test_a_section_without_its_markers_is_refused_and_nothing_written(tmp_path):
    page = tmp_path / "p.md"
    page.write_text("keep\n")
    with pytest.raises(ValueError, match="must run from"):
        docgen.replace_section(page, *A, "no markers")
    assert page.read_text() == "keep\n"


def test_an_interrupted_write_leaves_the_old_file(tmp_path, monkeypatch):
    page = tmp_path / "data.json"
    docgen.write_json(page, {"v": 1})

    def fail(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(docgen.os, "replace", fail)
    with pytest.raises(KeyboardInterrupt):
        docgen.write_json(page, {"v": 2})
    assert page.read_text() == '{\n  "v": 1\n}\n'
