"""The teaching notebooks: each one runs from a clean kernel, and each is committed executed.

``test_notebook_runs`` executes every ``notebooks/*.ipynb`` top to bottom in a fresh kernel
(working directory ``notebooks/``, as under ``jupyter lab notebooks/``) and fails on the first
cell that raises. It takes about a minute for all of them; set ``NTM_SKIP_NOTEBOOKS=1`` to skip
it. ``test_notebook_is_committed_executed`` reads the committed files only: every code cell has
been run, in order, without errors, and the pictures are there.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
CELL_TIMEOUT_S = 300
SKIP_RUNS = os.environ.get("NTM_SKIP_NOTEBOOKS", "").strip().lower() in ("1", "true", "yes")


def _read(path: Path):
    return nbformat.read(path, as_version=4)


def _code_cells(notebook) -> list:
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def test_there_are_notebooks():
    assert NOTEBOOKS, f"no notebooks found in {NOTEBOOKS_DIR}"


@pytest.mark.skipif(SKIP_RUNS, reason="NTM_SKIP_NOTEBOOKS is set")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path):
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    notebook = _read(path)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS_DIR)}},
    )
    try:
        client.execute()
    except CellExecutionError as error:  # the message holds the cell's source and traceback
        pytest.fail(f"{path.name}: a cell raised\n{error}", pytrace=False)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_committed_executed(path: Path):
    notebook = _read(path)
    nbformat.validate(notebook)
    cells = _code_cells(notebook)
    assert cells, f"{path.name}: no code cells"

    not_run = [
        i
        for i, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and cell.execution_count is None
    ]
    assert not not_run, f"{path.name}: code cells {not_run} were never executed; run the notebook"

    counts = [cell.execution_count for cell in cells]
    assert counts == list(range(1, len(cells) + 1)), (
        f"{path.name}: execution counts {counts} are not 1..{len(cells)}: "
        "run it top to bottom from a fresh kernel before committing"
    )

    errors = [
        f"cell {i}: {output.get('ename')}: {output.get('evalue')}"
        for i, cell in enumerate(notebook.cells)
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert not errors, f"{path.name}: committed with errors: {errors}"

    images = [
        output for cell in cells for output in cell.outputs if "image/png" in output.get("data", {})
    ]
    assert images, f"{path.name}: no image/png output committed: run it with its pictures"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_sets_itself_up(path: Path):
    """The first code cell draws inline and puts the repository root on sys.path, so that the
    notebook runs from ``jupyter lab notebooks/`` without installing the package."""
    first = _code_cells(_read(path))[0].source
    compact = "".join(first.split())  # however a formatter wrapped it
    assert first.startswith("%matplotlib inline"), (
        f"{path.name}: first line is not %matplotlib inline"
    )
    assert "sys.path.insert(0,str(pathlib.Path.cwd().parent))" in compact, (
        f"{path.name}: the first code cell does not put the repository root on sys.path"
    )
