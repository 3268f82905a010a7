"""Tests of ``ntm_numpy.configs``: one ``ConfigError`` for every bad value, one copy of each
validator, one registry of model types (and a model added through it alone), no import cycle."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from helpers import run_main

from ntm_numpy import configs, initialization, lstm_baseline, model
from ntm_numpy.configs import (
    DTYPES,
    MODEL_TYPES,
    ConfigError,
    LSTMConfig,
    NTMConfig,
    ResumeMismatchError,
    TrainConfig,
    check_fields,
    register_model,
)
from ntm_numpy.lstm_baseline import LSTMModel
from ntm_numpy.model import NTM
from ntm_numpy.sequence_model import SequenceModel
from ntm_numpy.training import checkpoint, loop

PACKAGE = Path(__file__).resolve().parents[1] / "ntm_numpy"
TINY_NTM = {"memory_size": 6, "memory_dim": 4, "controller_size": 8}
TINY_TASK = {"bits": 2, "min_length": 1, "max_length": 3}


# --- ConfigError: every config, every kind of bad value --------------------------------------

BAD_VALUES = [
    (NTMConfig, {"input_size": 3, "memory_size": 0}, "memory_size"),
    (NTMConfig, {"input_size": 3, "shift_range": -1}, "shift_range"),
    (NTMConfig, {"input_size": 3, "num_read_heads": 2.0}, "num_read_heads"),
    (NTMConfig, {"input_size": 3, "controller": "gru"}, "controller"),
    (NTMConfig, {"input_size": 3, "dtype": "float16"}, "dtype"),
    (NTMConfig, {"input_size": 3, "seed": -1}, "seed"),
    (NTMConfig, {"input_size": True}, "input_size"),
    (LSTMConfig, {"input_size": 3, "hidden_size": 0}, "hidden_size"),
    (LSTMConfig, {"input_size": 3, "dtype": "int8"}, "dtype"),
    (LSTMConfig, {"input_size": 3, "seed": 1.5}, "seed"),
    (TrainConfig, {"batch_size": 0}, "batch_size"),
    (TrainConfig, {"clip_norm": -1.0}, "clip_norm"),
    (TrainConfig, {"clip_value": float("nan")}, "clip_value"),
    (TrainConfig, {"model": "gru"}, "model"),
    (TrainConfig, {"task": "fly"}, "fly"),
    (TrainConfig, {"task_options": {"bits": 0}}, "bits"),
    (TrainConfig, {"model_options": {"colour": 3}}, "colour"),
    (TrainConfig, {"model_options": {"shift_range": 0}}, "shift_range"),
    (TrainConfig, {"model_options": {"input_size": 4}}, "input_size"),
    (TrainConfig, {"model": "lstm", "model_options": {"memory_size": 8}}, "memory_size"),
    (TrainConfig, {"optimizer": "lbfgs"}, "optimizer"),
    (TrainConfig, {"optimizer_options": {"beta1": 1.5}}, "beta1"),
    (TrainConfig, {"workers": 0}, "workers"),
    (TrainConfig, {"device": "tpu"}, "device"),
]


@pytest.mark.parametrize(
    ("cls", "options", "fragment"),
    BAD_VALUES,
    ids=[f"{c.__name__}-{f}-{i}" for i, (c, _, f) in enumerate(BAD_VALUES)],
)
def test_a_bad_value_is_a_config_error_naming_it(cls, options, fragment):
    with pytest.raises(ConfigError, match=fragment):
        cls(**options)


def test_config_error_is_a_value_error():
    """Code that caught ``ValueError`` from a config before still does."""
    assert issubclass(ConfigError, ValueError)
    assert issubclass(ResumeMismatchError, ConfigError)


def test_good_values_pass_and_are_stored_as_plain_ints():
    config = NTMConfig(input_size=np.int64(3), memory_size=np.int32(6), seed=np.int64(2))
    assert type(config.input_size) is int and type(config.memory_size) is int
    assert type(config.seed) is int
    assert NTMConfig(input_size=3, num_read_heads=None).read_heads == 1  # None where allowed


def test_train_config_builds_the_model_config_from_the_task():
    config = TrainConfig(task_options=TINY_TASK, model_options={"shift_range": 2, **TINY_NTM})
    task = config.task_instance()
    built = config.model_config(task)
    assert isinstance(built, NTMConfig)
    assert (built.input_size, built.outputs) == (task.input_size, task.output_size)
    assert built.shift_range == 2
    assert built.controller == configs.DEMO_MODEL["controller"]  # the training defaults
    assert built.seed == config.seed


def test_check_resumes_ignores_only_what_a_resumed_run_may_change():
    config = TrainConfig(task_options=TINY_TASK, model_options=TINY_NTM)
    saved = {**config.to_dict(), "steps": 10**6, "workers": 2, "max_seconds": 5.0}
    config.check_resumes(saved, "run")
    with pytest.raises(ResumeMismatchError, match="another config"):
        config.check_resumes({**saved, "seed": 1}, "run")
    with pytest.raises(ResumeMismatchError):
        config.check_resumes(None, "run")


# --- one of each -----------------------------------------------------------------------------


def test_one_dtypes_and_one_positive_int():
    assert model.DTYPES is DTYPES
    assert loop.TrainConfig is TrainConfig
    definitions = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name == "positive_int":
                definitions.append(path.name)
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "DTYPES" for t in node.targets
            ):
                definitions.append(path.name)
    assert sorted(definitions) == ["configs.py", "configs.py"]


def test_one_model_registry():
    assert checkpoint.MODEL_TYPES is MODEL_TYPES
    assert loop.MODEL_TYPES is MODEL_TYPES
    assert MODEL_TYPES == {"ntm": NTM, "lstm": LSTMModel}
    for name, cls in MODEL_TYPES.items():
        assert cls.model_type == name
        assert dataclasses.is_dataclass(cls.config_class)


def test_both_models_initialise_in_one_place_with_the_configs_shapes():
    assert model.init_params is initialization.init_params
    assert lstm_baseline.init_lstm_params is initialization.init_lstm_params
    for built in (NTM(input_size=3, **TINY_NTM, memory_init="learned"), LSTMModel(input_size=3)):
        shapes = built.config.parameter_shapes()
        assert {k: v.shape for k, v in built.params.items()} == shapes


def test_a_seed_draws_the_same_parameters_and_another_seed_others():
    a, b, c = (NTM(input_size=3, **TINY_NTM, seed=s) for s in (0, 0, 1))
    for key in a.params:
        np.testing.assert_array_equal(a.params[key], b.params[key])
    assert not np.array_equal(a.params["controller.W"], c.params["controller.W"])


# --- imports ---------------------------------------------------------------------------------


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports, counting every import statement: at the
    top, under ``if TYPE_CHECKING``, and inside functions."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join([*parts[: len(parts) - node.level + 1], base]).rstrip(".")
                submodules = [f"{base}.{a.name}" for a in node.names]
                targets = [m for m in submodules if m in modules] or [base]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            edges |= {t for t in targets if t in modules and t != name}
        graph[name] = edges
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path of module names, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> list[str] | None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target] if target in path else [target]
            if target not in state and (found := visit(target, [*path, target])):
                return found
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (found := visit(module, [module])):
            return found
    return None


def test_the_import_graph_helper_finds_a_cycle():
    """The control: the check below can fail."""
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_in_the_package():
    graph = _import_graph()
    assert "ntm_numpy.configs" in graph["ntm_numpy.model"]  # the graph sees relative imports
    assert _cycle(graph) is None


def test_configs_sits_below_models_training_and_checkpoints():
    above = {"ntm_numpy.model", "ntm_numpy.lstm_baseline", "ntm_numpy.training.loop"}
    above |= {
        "ntm_numpy.training",
        "ntm_numpy.training.checkpoint",
        "ntm_numpy.sequence_model",
        "ntm_numpy.initialization",
    }
    assert not _import_graph()["ntm_numpy.configs"] & above


def test_the_math_imports_no_machinery():
    """The first level (the math) imports nothing from training/ or app/; the one exception is
    ``SequenceModel.save``, a convenience that hands the model to ``training.checkpoint``."""
    allowed = {("ntm_numpy.sequence_model", "ntm_numpy.training.checkpoint")}
    machinery = ("ntm_numpy.training", "ntm_numpy.app")
    graph = _import_graph()
    # every module but the package's front (its public names and `python -m`) and the machinery
    math = [
        m
        for m in graph
        if m not in ("ntm_numpy", "ntm_numpy.__main__") and not m.startswith(machinery)
    ]
    assert {"ntm_numpy.configs", "ntm_numpy.ops.memory", "ntm_numpy.tasks.copy"} <= set(math)
    upward = {(m, d) for m in math for d in graph[m] if d.startswith(machinery)}
    assert upward <= allowed, sorted(upward - allowed)


# --- a model added through the registry alone ------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class LinearConfig:
    """A toy model's config: y_t = x_t W + b, nothing recurrent."""

    input_size: int
    output_size: int | None = None
    dtype: str = "float64"
    seed: int = 0

    POSITIVE_INTS: ClassVar = ("input_size", "output_size")
    CHOICES: ClassVar = {"dtype": DTYPES}

    def __post_init__(self) -> None:
        check_fields(self)

    @property
    def outputs(self) -> int:
        return self.input_size if self.output_size is None else self.output_size

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"output.W": (self.input_size, self.outputs), "output.b": (self.outputs,)}

    def activation_elements(self) -> tuple[int, int]:
        return 0, self.input_size

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class LinearModel(SequenceModel):
    model_type = "toy_linear"
    config_class = LinearConfig

    def __init__(self, config: LinearConfig) -> None:
        self.config = config
        rng = np.random.default_rng(config.seed)
        shapes = config.parameter_shapes()
        self.params = {
            "output.W": rng.normal(0, 0.1, size=shapes["output.W"]).astype(config.dtype),
            "output.b": np.zeros(shapes["output.b"], dtype=config.dtype),
        }

    def forward(self, x, keep_cache: bool = True) -> tuple[Any, Any]:
        x = self._check_sequence(x)
        return x @ self.params["output.W"] + self.params["output.b"], (x if keep_cache else None)

    def backward(self, dlogits, cache) -> dict[str, Any]:
        T, B, _ = cache.shape
        x, d = cache.reshape(T * B, -1), dlogits.reshape(T * B, -1)
        return {"output.W": x.T @ d, "output.b": d.sum(axis=0)}


@pytest.fixture
def toy_registered(monkeypatch):
    monkeypatch.setitem(MODEL_TYPES, "toy_linear", LinearModel)
    register_model(LinearModel)
    yield LinearModel


def test_a_model_added_through_the_registry_trains_saves_and_loads(toy_registered, tmp_path):
    config = TrainConfig(
        task_options=TINY_TASK,
        model="toy_linear",
        batch_size=2,
        steps=4,
        eval_every=2,
        eval_sequences=4,
        eval_batch_size=2,
        log_every=1,
        curriculum=False,
    )
    result = loop.train(config, tmp_path, verbose=False)
    assert isinstance(result.model, LinearModel)
    assert result.step == 4
    loaded = checkpoint.read(tmp_path / "checkpoint.npz").model
    assert isinstance(loaded, LinearModel)
    np.testing.assert_array_equal(loaded.params["output.W"], result.model.params["output.W"])


def test_a_registered_model_is_a_command_line_choice(toy_registered, tmp_path, capsys):
    argv = ["train", "--model", "toy_linear", "--task-option", "bits=2", "--steps", "2"]
    argv += ["--eval-every", "2", "--eval-sequences", "4", "--workers", "1", "--quiet"]
    code, _, err = run_main([*argv, "--dtype", "float32", "--out", str(tmp_path / "run")], capsys)
    assert code == 0, err
    saved = checkpoint.read(tmp_path / "run" / "checkpoint.npz").model
    assert isinstance(saved, LinearModel)
    assert saved.config.dtype == "float32"  # its config's fields are options too
    code, _, err = run_main([*argv, "--memory-size", "8", "--out", str(tmp_path / "b")], capsys)
    assert code == 2 and "--memory-size does not apply to --model toy_linear" in err


def test_register_model_refuses_a_class_without_a_name():
    class Nameless(SequenceModel):
        config_class = LinearConfig

    with pytest.raises(TypeError, match="model_type"):
        register_model(Nameless)
