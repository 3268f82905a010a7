"""The teaching notebooks: each one runs from a clean kernel, and each is committed executed.

``test_notebook_runs`` executes every ``notebooks/*.ipynb`` and ``notebooks/exercises/*.ipynb``
top to bottom in a fresh kernel (working directory the notebook's folder, as under
``jupyter lab notebooks/``) and fails on the first cell that raises; two run at once on a
machine with two cores or more (``NTM_NOTEBOOK_WORKERS`` sets how many). The exercises run in
solution mode (``NTM_EXERCISES_SOLUTION=1`` in the kernel's environment): their stubs are still
unimplemented, so the grader grades the package's own backward, which proves they run end to
end. It takes about two minutes of wall time on 2 cores; set ``NTM_SKIP_NOTEBOOKS=1`` to skip it.
``test_notebook_is_committed_executed`` reads the committed files only: every code cell has
been run, in order, without errors, and the pictures are there. ``test_exercise_has_no_solution``
reads the committed exercises: every stub still raises NotImplementedError and no cell calls or
imports one of the package's backward functions.
"""

from __future__ import annotations

import ast
import multiprocessing
import os
import re
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
EXERCISES = sorted((NOTEBOOKS_DIR / "exercises").glob("*.ipynb"))
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb")) + EXERCISES
IDS = [str(p.relative_to(NOTEBOOKS_DIR).with_suffix("")) for p in NOTEBOOKS]
SOLUTION_ENV = "NTM_EXERCISES_SOLUTION"  # ntm_numpy.app.exercises.SOLUTION_ENV
CELL_TIMEOUT_S = 300
SKIP_RUNS = os.environ.get("NTM_SKIP_NOTEBOOKS", "").strip().lower() in ("1", "true", "yes")


def _read(path: Path):
    return nbformat.read(path, as_version=4)


def _code_cells(notebook) -> list:
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def test_there_are_notebooks():
    assert NOTEBOOKS, f"no notebooks found in {NOTEBOOKS_DIR}"
    assert len(EXERCISES) >= 5, f"expected at least 5 exercises in {NOTEBOOKS_DIR / 'exercises'}"


def _execute(path: Path) -> tuple[str | None, str]:
    """Run ``path`` top to bottom in a fresh kernel: (the failing cell's error or None, the
    text it printed). Runs in a worker process, whose environment the kernel inherits."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    if path in EXERCISES:  # grade the package's own solution
        os.environ[SOLUTION_ENV] = "1"
    else:
        os.environ.pop(SOLUTION_ENV, None)
    notebook = _read(path)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    try:
        client.execute()
    except CellExecutionError as error:  # the message holds the cell's source and traceback
        return str(error), ""
    printed = "".join(
        output.get("text", "") for cell in _code_cells(notebook) for output in cell.outputs
    )
    return None, printed


def _notebook_workers() -> int:
    """Kernels run at once: one per core, at most two (``NTM_NOTEBOOK_WORKERS`` overrides).

    A notebook's kernel is one busy Python process (matplotlib, small NumPy steps), so two
    notebooks on two cores take about half the wall time of one after the other.
    """
    asked = os.environ.get("NTM_NOTEBOOK_WORKERS", "").strip()
    if asked:
        if not asked.isdigit() or int(asked) < 1:
            raise ValueError(f"NTM_NOTEBOOK_WORKERS must be a positive integer, got {asked!r}")
        return int(asked)
    return max(1, min(2, len(os.sched_getaffinity(0))))


@pytest.fixture(scope="module")
def notebook_runs():
    """Every notebook's run, started together on first use: path -> Future of ``_execute``."""
    context = multiprocessing.get_context("spawn")  # no copy of pytest's state in the workers
    with ProcessPoolExecutor(max_workers=_notebook_workers(), mp_context=context) as pool:
        slowest_first = sorted(NOTEBOOKS, key=lambda p: p.stat().st_size, reverse=True)
        yield {path: pool.submit(_execute, path) for path in slowest_first}


@pytest.mark.skipif(SKIP_RUNS, reason="NTM_SKIP_NOTEBOOKS is set")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_runs(path: Path, notebook_runs):
    error, printed = notebook_runs[path].result()
    if error is not None:
        pytest.fail(f"{path.name}: a cell raised\n{error}", pytrace=False)
    if path in EXERCISES:
        assert "Solution mode" in printed and "PASSED" in printed, (
            f"{path.name}: the grader did not pass the package's solution:\n{printed[-2000:]}"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_sets_itself_up(path: Path):
    """The first code cell draws inline and puts the repository root on sys.path, so that the
    notebook runs from ``jupyter lab notebooks/`` without installing the package (from
    ``notebooks/exercises/`` the root is two folders up)."""
    first = _code_cells(_read(path))[0].source
    compact = "".join(first.split())  # however a formatter wrapped it
    assert first.startswith("%matplotlib inline"), (
        f"{path.name}: first line is not %matplotlib inline"
    )
    parents = ".parent" * len(path.relative_to(NOTEBOOKS_DIR).parts)
    assert f"sys.path.insert(0,str(pathlib.Path.cwd(){parents}))" in compact, (
        f"{path.name}: the first code cell does not put the repository root on sys.path"
    )


# --- the exercises show no solution -----------------------------------------------------------


def _syntax_tree(cell) -> ast.Module:
    """A code cell parsed as Python, its IPython magics (%..., !...) left out."""
    lines = [line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    return ast.parse("\n".join(lines))


def _is_stub(function: ast.FunctionDef) -> bool:
    """A docstring at most, then only `raise NotImplementedError`."""
    body = function.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    if len(body) != 1 or not isinstance(body[0], ast.Raise) or body[0].exc is None:
        return False
    raised = body[0].exc.func if isinstance(body[0].exc, ast.Call) else body[0].exc
    return isinstance(raised, ast.Name) and raised.id == "NotImplementedError"


def _backward_names_used(tree: ast.Module) -> list[str]:
    """Backward functions called or imported (a learner's own my_* function aside)."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name.endswith("_backward") and not name.startswith("my_"):
                names.append(name)
        elif isinstance(node, ast.ImportFrom):
            names += [a.name for a in node.names if a.name.endswith(("_backward", "*"))]
    return names


@pytest.mark.parametrize("path", EXERCISES, ids=[p.stem for p in EXERCISES])
def test_exercise_has_no_solution(path: Path):
    trees = [_syntax_tree(cell) for cell in _code_cells(_read(path))]
    functions = [
        node for tree in trees for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
    ]
    stubs = [f for f in functions if f.name.startswith("my_")]
    assert stubs, f"{path.name}: no my_* function for the learner to fill in"
    written = [f.name for f in stubs if not _is_stub(f)]
    assert not written, f"{path.name}: {written} no longer only raise NotImplementedError"
    used = [name for tree in trees for name in _backward_names_used(tree)]
    assert not used, f"{path.name}: a cell calls or imports the package's backward: {used}"
    graded = [
        node
        for tree in trees
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "grade"
    ]
    assert graded, f"{path.name}: no call to grade(...)"
    for call in graded:
        assert [getattr(a, "id", None) for a in call.args[1:2]] == [stubs[0].name], (
            f"{path.name}: grade(...) is not called with the stub {stubs[0].name}"
        )


@pytest.mark.parametrize("path", EXERCISES, ids=[p.stem for p in EXERCISES])
def test_exercise_says_its_saved_output_is_solution_mode(path: Path):
    notebook = _read(path)
    text = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    assert SOLUTION_ENV in text and "not implemented yet" in text
    assert re.search(r"<details><summary>Answer</summary>", text), f"{path.name}: no answers"
    printed = "".join(
        output.get("text", "") for cell in _code_cells(notebook) for output in cell.outputs
    )
    assert "Solution mode" in printed and "PASSED" in printed, (
        f"{path.name}: the committed run does not show the grader passing in solution mode"
    )


def test_the_no_solution_check_rejects_a_solution():
    """The checks above, on cells they must reject: a stub filled in, a backward called or
    imported in plain view."""
    from nbformat.v4 import new_code_cell

    filled = _syntax_tree(new_code_cell("def my_f(dy, cache):\n    '''doc'''\n    return dy\n"))
    stub = _syntax_tree(
        new_code_cell(
            "def my_f(dy, cache):\n    '''doc'''\n    raise NotImplementedError  # here\n"
        )
    )
    assert not _is_stub(filled.body[0]) and _is_stub(stub.body[0])
    for source in (
        "dx = adr.shift_backward(dw, cache)",
        "from ntm_numpy.ops.activations import softmax_backward",
        "from ntm_numpy.ops.addressing import *",
        "%matplotlib inline\ngrade('x', lambda d, c: content_backward(d, c))",
    ):
        assert _backward_names_used(_syntax_tree(new_code_cell(source))), source
    assert not _backward_names_used(_syntax_tree(new_code_cell('grade("shift_backward", my_f)')))
