"""docs/fidelity.md cannot cite a test that does not exist, nor reuse a row id."""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LEDGER = ROOT / "docs" / "fidelity.md"
# tests/<path>.py::name or tests/<path>.py::Class::method, as the ledger writes node ids.
NODE_ID = re.compile(r"\b(tests/[\w/.-]+\.py)::(\w+)(?:::(\w+))?")
ROW_ID = re.compile(r"^\|\s*([TD]-\d+)\s*\|", re.MULTILINE)


def _defined(tree: ast.Module) -> dict[str, ast.AST]:
    """Top-level functions and classes of a module, by name."""
    return {
        node.name: node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }


def missing_node_ids(text: str, root: Path) -> list[str]:
    """Node ids named in `text` whose file does not exist or does not define the test (or class::method)."""
    missing = []
    for match in NODE_ID.finditer(text):
        path, name, member = match.groups()
        node_id = match.group(0)
        file = root / path
        if not file.is_file():
            missing.append(f"{node_id} (no such file)")
            continue
        found = _defined(ast.parse(file.read_text(encoding="utf-8"), filename=str(file))).get(name)
        if found is None:
            missing.append(f"{node_id} ({name} is not defined in {path})")
        elif member is not None:
            methods = (
                _defined(ast.Module(body=found.body, type_ignores=[])) if isinstance(found, ast.ClassDef) else {}
            )
            if member not in methods:
                missing.append(f"{node_id} ({member} is not a method of {name})")
    return missing


def test_every_test_the_ledger_names_exists() -> None:
    text = LEDGER.read_text(encoding="utf-8")
    assert len(NODE_ID.findall(text)) >= 20, "the ledger names tests as tests/<file>.py::<name>"
    assert missing_node_ids(text, ROOT) == []


def test_row_ids_are_unique() -> None:
    rows = ROW_ID.findall(LEDGER.read_text(encoding="utf-8"))
    assert rows, "no T-n / D-n rows found"
    assert [row for row, n in Counter(rows).items() if n > 1] == []


def test_the_check_catches_a_missing_file_function_and_method(tmp_path: Path) -> None:
    tests = tmp_path / "tests" / "unit"
    tests.mkdir(parents=True)
    (tests / "test_here.py").write_text(
        "def test_real():\n    pass\n\nclass TestGroup:\n    def test_m(self):\n        pass\n"
    )
    text = (
        "`tests/unit/test_here.py::test_real` `tests/unit/test_here.py::TestGroup::test_m` "
        "`tests/unit/test_here.py::test_gone` `tests/unit/test_here.py::TestGroup::test_gone` "
        "`tests/unit/test_nowhere.py::test_x`"
    )
    assert missing_node_ids(text, tmp_path) == [
        "tests/unit/test_here.py::test_gone (test_gone is not defined in tests/unit/test_here.py)",
        "tests/unit/test_here.py::TestGroup::test_gone (test_gone is not a method of TestGroup)",
        "tests/unit/test_nowhere.py::test_x (no such file)",
    ]
