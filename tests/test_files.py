"""jaxpg.files: how jaxpg and the doc-regenerating scripts write their files."""

import json
import math

import pytest

from jaxpg import files

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
    files.replace_section(page, *A, section(A, "new a") + "\n")
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
    files.replace_section(page, *A, section(A, "a"), new_page="# New\n")
    assert page.read_text() == "# New\n\n" + section(A, "a") + "\n"
    files.replace_section(page, *B, section(B, "b"))
    assert (
        page.read_text()
        == "# New\n\n" + section(A, "a") + "\n\n" + section(B, "b") + "\n"
    )


def test_a_section_without_its_markers_is_refused_and_nothing_written(tmp_path):
    page = tmp_path / "p.md"
    page.write_text("keep\n")
    with pytest.raises(ValueError, match="must run from"):
        files.replace_section(page, *A, "no markers")
    assert page.read_text() == "keep\n"


def test_an_interrupted_write_leaves_the_old_file(tmp_path, monkeypatch):
    page = tmp_path / "data.json"
    files.write_json(page, {"v": 1})

    def fail(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(files.os, "replace", fail)
    with pytest.raises(KeyboardInterrupt):
        files.write_json(page, {"v": 2})
    assert page.read_text() == '{\n  "v": 1\n}\n'


def test_json_is_strict_unless_nan_is_allowed(tmp_path):
    page = tmp_path / "data.json"
    with pytest.raises(ValueError):
        files.write_json(page, {"v": math.inf})
    assert not page.exists()
    files.write_json(page, {"v": math.inf, "w": math.nan}, indent=1, allow_nan=True)
    assert page.read_text() == '{\n "v": Infinity,\n "w": NaN\n}\n'
    assert json.loads(page.read_text())["v"] == math.inf
