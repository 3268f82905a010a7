"""The package's code stays readable: no function in ntm_numpy/ is longer than 60 lines, and its
folders show its layers (the math on the first level, training/ and app/ below it), as the
README's layout says.

(Complexity, at most 12 per function, and the statement count are ruff's C901 and PLR0915,
configured in pyproject.toml and run by CI; ruff has no rule for a function's length.)
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

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


# --- the folders show the layers ---------------------------------------------------------------

# The first level of ntm_numpy/ is the math a learner reads, and the two folders of machinery.
FIRST_LEVEL = {
    "ops",
    "heads.py",
    "controllers.py",
    "model.py",
    "reference.py",
    "sequence_model.py",
    "lstm_baseline.py",
    "initialization.py",
    "configs.py",
    "optim.py",
    "gradcheck.py",
    "gradcheck_cases.py",
    "tasks",
    "backend.py",
    "flat_arrays.py",
    "pretrained",
    "__init__.py",
    "__main__.py",
    "training",
    "app",
}
SUBPACKAGES = ("training", "app")
README = PACKAGE.parent / "README.md"


def first_level(package: Path) -> set[str]:
    """The names of the modules and folders directly in ``package`` (no caches, no dot files)."""
    return {
        p.name
        for p in package.iterdir()
        if not p.name.startswith(".")
        and p.name != "__pycache__"
        and (p.is_dir() or p.suffix == ".py")
    }


def not_math(names: set[str]) -> set[str]:
    """The names among ``names`` that the first level does not hold."""
    return names - FIRST_LEVEL


def test_the_first_level_holds_only_the_math_and_the_two_folders():
    found = first_level(PACKAGE)
    assert not not_math(found), f"not math, so not on the first level: {sorted(not_math(found))}"
    assert {"ops", "heads.py", "model.py", "optim.py", "tasks", *SUBPACKAGES} <= found


def test_the_first_level_check_finds_a_module_out_of_place(tmp_path):
    for name in ("model.py", "viz.py", "train.py"):
        (tmp_path / name).write_text("")
    (tmp_path / "__pycache__").mkdir()
    assert not_math(first_level(tmp_path)) == {"viz.py", "train.py"}


def _layout_block() -> list[str]:
    """The lines of the README's layout tree (the code block of its "Layout" section)."""
    section = README.read_text(encoding="utf-8").split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    return section.split("```", 2)[1].splitlines()


def test_the_readme_layout_names_every_module():
    """Every module and folder of the first level, and every module of training/ and app/, has
    its own line in the README's tree, under its folder (indented one level further)."""
    lines = _layout_block()
    entries = {line.split()[0] for line in lines if line.startswith("  ") and line.strip()}
    first = {line.split()[0].rstrip("/") for line in lines if re.match(r"  \S", line)}
    assert first_level(PACKAGE) <= first, sorted(first_level(PACKAGE) - first)
    for sub in SUBPACKAGES:
        start = lines.index(next(line for line in lines if line.startswith(f"  {sub}/")))
        block = []
        for line in lines[start + 1 :]:
            if not line.startswith("    "):
                break
            block.append(line.split()[0])
        modules = {p.name for p in (PACKAGE / sub).glob("*.py") if p.name != "__init__.py"}
        assert modules <= set(block), f"{sub}/: {sorted(modules - set(block))} not in the README"
    assert entries


def test_the_readme_imports_work():
    """The import lines of the README's Python code, and the package's public names."""
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    imports = [
        line.split("#")[0].strip()
        for block in blocks
        for line in block.splitlines()
        if re.match(r"\s*(import|from)\s+ntm_numpy\b", line)
    ]
    assert any("ntm_numpy.training" in line for line in imports)  # the check sees them all
    for line in imports:
        exec(line, {})  # an ImportError names the line's module
    from ntm_numpy import (  # noqa: F401
        NTM,
        ConfigError,
        LSTMConfig,
        LSTMModel,
        NTMConfig,
        TrainConfig,
        load,
        pretrained,
        pretrained_names,
        set_blas_threads,
    )
    from ntm_numpy.training import TrainConfig as LoopConfig
    from ntm_numpy.training import evaluate, read_metrics, train  # noqa: F401

    assert LoopConfig is TrainConfig


def _resolve(dotted: str) -> object:
    """The object ``dotted`` names: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ModuleNotFoundError:
            continue
        for attr in parts[split:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


@pytest.mark.parametrize("doc", ["README.md", "docs/performance.md"])
def test_the_docs_name_modules_and_files_that_exist(doc):
    text = (PACKAGE.parent / doc).read_text(encoding="utf-8")
    names = set(re.findall(r"`(ntm_numpy(?:\.\w+)+)", text))
    paths = set(re.findall(r"`(ntm_numpy/[\w/]+(?:\.\w+)?)", text))
    assert names or paths
    for name in sorted(names):
        _resolve(name)  # an ImportError or AttributeError names it
    missing = [p for p in sorted(paths) if not (PACKAGE.parent / p).exists()]
    assert not missing, f"{doc} names files that do not exist: {missing}"


def test_the_resolver_fails_on_an_old_path():
    with pytest.raises((ImportError, AttributeError)):
        _resolve("ntm_numpy.viz.plot_memory")
    with pytest.raises(AttributeError):
        _resolve("ntm_numpy.training.parallel.NoSuchThing")


def test_training_re_exports_the_loops_public_names():
    import ntm_numpy.training as training
    from ntm_numpy.training import loop

    assert set(loop.__all__) == set(training.__all__)
    assert training.train is loop.train
    with pytest.raises(AttributeError):
        training.no_such_name  # noqa: B018


def test_only_the_entry_point_imports_the_app():
    """The math and the training machinery know nothing of the app: a module outside app/
    that imports from it is a layer turned upside down (``__main__`` is the one door)."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] == "app" or relative == Path("__main__.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                module = "." * node.level + (node.module or "")
                if re.match(r"(\.+|ntm_numpy\.)app\b", module):
                    found.append(f"{relative}: {module}")
    assert not found, found
