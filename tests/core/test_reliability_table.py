"""docs/reliability.md comes from the tests' reliability marks: enough rows, each on a real test."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _generator():
    spec = importlib.util.spec_from_file_location("docs_generate", ROOT / "docs" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # our own docs script, imported like any module
    return module


@pytest.mark.slow
def test_the_table_has_at_least_30_rows_each_on_an_existing_test():
    rows = _generator().collect_reliability()
    assert len(rows) >= 30
    for row in rows:
        path, name = row["test"].split("::")
        tree = ast.parse((ROOT / path).read_text())
        names = {n.name for n in ast.walk(tree)
                 if isinstance(n, ast.FunctionDef | ast.ClassDef)}
        assert name in names and name.startswith(("test_", "Test")), row["test"]
    assert len({(r["failure"], r["test"]) for r in rows}) == len(rows), "a row is repeated"
    page = (ROOT / "docs" / "reliability.md").read_text()
    assert f"{len(rows)} handled failures" in page


def test_marks_on_functions_classes_and_params_are_found_and_bad_ones_refused(tmp_path):
    gen = _generator()
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_a.py").write_text(
        "import pytest\n"
        "R = dict(user_sees='a line', exit_code=2, kept='all')\n"
        "@pytest.mark.reliability(failure='one', user_sees='a | line', exit_code=2, kept='all')\n"
        "def test_one():\n    pass\n"
        "@pytest.mark.parametrize('x', [pytest.param(1, marks=pytest.mark.reliability(\n"
        "    failure='two', user_sees='s', exit_code=0, kept='k'))])\n"
        "def test_two(x):\n    pass\n"
        "@pytest.mark.reliability(failure='three', user_sees='s', exit_code=5, kept='k')\n"
        "class TestThree:\n    pass\n")
    rows = gen.collect_reliability(tests)
    assert [(r["failure"], r["test"]) for r in rows] == [
        ("one", "tests/test_a.py::test_one"), ("two", "tests/test_a.py::test_two"),
        ("three", "tests/test_a.py::TestThree")]
    assert gen._cell(rows[0]["user_sees"]) == "a \\| line"
    (tests / "test_b.py").write_text(
        "import pytest\n"
        "@pytest.mark.reliability(failure='x', user_sees='s', exit_code='2', kept='k')\n"
        "def test_bad():\n    pass\n")
    with pytest.raises(SystemExit, match=r"test_b.py:2: reliability mark needs keywords"):
        gen.collect_reliability(tests)
