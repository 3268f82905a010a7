"""The package's code stays readable: no function in ntm_numpy/ is longer than 60 lines.

(Complexity, at most 12 per function, and the statement count are ruff's C901 and PLR0915,
configured in pyproject.toml and run by CI; ruff has no rule for a function's length.)
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "ntm_numpy"
MAX_LINES = 60


def long_functions(source: str, limit: int = MAX_LINES) -> list[tuple[str, int]]:
    """(name, lines) of every function or method in ``source`` longer than ``limit`` lines."""
    return [
        (node.name, node.end_lineno - node.lineno + 1)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno - node.lineno + 1 > limit
    ]


def test_no_function_in_the_package_is_longer_than_60_lines():
    found = {
        str(path.relative_to(PACKAGE)): long
        for path in sorted(PACKAGE.rglob("*.py"))
        if (long := long_functions(path.read_text(encoding="utf-8")))
    }
    assert not found, f"functions over {MAX_LINES} lines: {found}"


def test_the_length_check_finds_a_long_function():
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))
    source = f"def short():\n    pass\n\n\ndef long():\n{body}\n"
    assert long_functions(source) == [("long", MAX_LINES + 1)]
