"""docs/paper_map.md stays true: every function it names exists, and every notebook cell it
points to exists and says what the map quotes from it.

A cell is named by its notebook and the text of a markdown heading (``§ heading``), never by
its index, so inserting cells elsewhere breaks nothing. The "the cell says" column quotes a
piece of that section (the heading's cell and the cells after it, up to the next heading of
the same or a higher level) that mentions the equation or the task: its number, or the
equation written out.
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAP = ROOT / "docs" / "paper_map.md"

CODE = re.compile(r"`(ntm_numpy(?:\.\w+)+)`")
LINK = re.compile(r"\[([^\]]*?) § ([^\]]+)\]\(\.\./(notebooks/[^)]+\.ipynb)\)")
QUOTE = re.compile(r"``\s?(.+?)\s?``|`([^`]+)`")
EQUATIONS = [f"({n})" for n in range(1, 10)]
TASKS = ["copy", "repeat copy", "associative recall", "dynamic n-grams", "priority sort"]


# --- the checkers -----------------------------------------------------------------------------


def resolve(dotted: str):
    """The object ``dotted`` names (``package.module.attr.attr``): the longest importable
    module prefix, then getattr for the rest. Raises LookupError if it does not exist."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ModuleNotFoundError:
            continue
        for name in parts[split:]:
            if not hasattr(obj, name):
                raise LookupError(f"{dotted}: {'.'.join(parts[:split])} has no {name!r}")
            obj = getattr(obj, name)
        return obj
    raise LookupError(f"{dotted}: no such module")


def heading_level(line: str) -> int:
    """1 for '# x', 2 for '## x', ...; 0 for a line that is no heading."""
    match = re.match(r"(#{1,6})\s", line)
    return len(match.group(1)) if match else 0


def normalise(text: str) -> str:
    return " ".join(text.split())


def section(notebook: Path, heading: str) -> str:
    """The text of the section under the markdown heading ``heading`` (its cell and the cells
    after it, up to the next heading of the same or a higher level). Raises LookupError."""
    cells = json.loads(notebook.read_text())["cells"]
    texts = ["".join(cell["source"]) for cell in cells]
    for start, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        for line in texts[start].splitlines():
            level = heading_level(line)
            if level and normalise(line[level:]) == normalise(heading):
                end = start + 1
                while end < len(cells) and not (
                    cells[end]["cell_type"] == "markdown"
                    and any(0 < heading_level(other) <= level for other in texts[end].splitlines())
                ):
                    end += 1
                return "\n".join(texts[start:end])
    raise LookupError(f"{notebook.name} has no heading {heading!r}")


def rows(text: str) -> list[list[str]]:
    """The body rows of every table in ``text``, as lists of cells."""
    lines = text.splitlines()
    out = []
    for i, line in enumerate(lines):
        if not line.startswith("|") or re.match(r"\|\s*-", line):
            continue
        if i + 1 < len(lines) and re.match(r"\|\s*-", lines[i + 1]):
            continue  # a header row
        out.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
    return out


def quotes(cell: str) -> list[str]:
    """The code spans of a table cell (``` `` x `` ``` or `` `x` ``), in order."""
    return [a or b for a, b in QUOTE.findall(cell)]


def check_row(cells: list[str], root: Path = ROOT) -> None:
    """Every function a row names exists; every cell it points to says what it quotes."""
    for dotted in CODE.findall(" ".join(cells)):
        resolve(dotted)
    links = LINK.findall(cells[-2])
    said = quotes(cells[-1])
    if len(links) != len(said):
        raise LookupError(f"{len(links)} cell references but {len(said)} quotes in {cells[0]}")
    for (_, heading, path), quote in zip(links, said, strict=True):
        text = section(root / path, heading)
        if normalise(quote) not in normalise(text):
            raise LookupError(f"{path} § {heading} does not say {quote!r}")


# --- the map ----------------------------------------------------------------------------------


MAP_ROWS = rows(MAP.read_text()) if MAP.exists() else []


def test_the_map_covers_every_equation_of_section_3_and_every_task_of_section_4():
    firsts = [cells[0].lower() for cells in MAP_ROWS]
    for equation in EQUATIONS:
        assert equation in firsts, equation
    for task in TASKS:
        assert any(task in first for first in firsts), task
    for cells in MAP_ROWS:
        assert CODE.search(" ".join(cells)), f"no function named in {cells[0]}"
        assert LINK.search(cells[-2]), f"no notebook cell in {cells[0]}"


@pytest.mark.parametrize("cells", MAP_ROWS, ids=[cells[0] for cells in MAP_ROWS])
def test_every_function_exists_and_every_cell_says_what_the_map_quotes(cells):
    check_row(cells)


# --- the checkers reject what they must -------------------------------------------------------


def test_resolve_finds_functions_and_methods_and_rejects_what_does_not_exist():
    from ntm_numpy.model import NTM
    from ntm_numpy.ops.addressing import content_forward

    assert resolve("ntm_numpy.ops.addressing.content_forward") is content_forward
    assert resolve("ntm_numpy.model.NTM._step_forward") is NTM._step_forward
    for bad in ["ntm_numpy.ops.addressing.cosine_forward", "ntm_numpy.nothing.f"]:
        with pytest.raises(LookupError):
            resolve(bad)


def notebook(tmp_path: Path, *cells: tuple[str, str]) -> Path:
    path = tmp_path / "notebooks" / "n.ipynb"
    path.parent.mkdir(exist_ok=True)
    content = [{"cell_type": kind, "source": source} for kind, source in cells]
    path.write_text(json.dumps({"cells": content}))
    return path


def test_a_section_runs_to_the_next_heading_of_its_level_and_a_missing_heading_is_refused(
    tmp_path,
):
    path = notebook(
        tmp_path,
        ("markdown", "# Title"),
        ("markdown", "## Stage 2: interpolation\n\n$w^g = g w^c + (1 - g) w_{t-1}$"),
        ("code", "interpolate_forward(w_c, w_prev, g)"),
        ("markdown", "### A detail"),
        ("markdown", "## Stage 3"),
    )
    text = section(path, "Stage 2:  interpolation")
    assert "(1 - g)" in text and "interpolate_forward" in text and "A detail" in text
    assert "Stage 3" not in text
    with pytest.raises(LookupError):
        section(path, "Stage 4: sharpening")


def test_check_row_rejects_a_cell_that_does_not_say_the_quote(tmp_path):
    notebook(tmp_path, ("markdown", "## Stage 2: interpolation\n\n$(1 - g)$"))
    link = "[n § Stage 2: interpolation](../notebooks/n.ipynb)"
    good = ["(7)", "`ntm_numpy.ops.addressing.interpolate_forward`", link, "`(1 - g)`"]
    check_row(good, root=tmp_path)
    for bad in (
        [*good[:3], "`(1 + g)`"],  # the cell does not say it
        [good[0], "`ntm_numpy.ops.addressing.interpolate`", *good[2:]],  # no such function
        [*good[:2], link.replace("Stage 2", "Stage 9"), good[3]],  # no such heading
        [*good[:3], "`(1 - g)` and `g`"],  # a quote without its cell
    ):
        with pytest.raises(LookupError):
            check_row(bad, root=tmp_path)
