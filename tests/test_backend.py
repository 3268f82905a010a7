"""The compute path takes its array module from its inputs, never from a global.

Two proofs: the sources of the compute modules import neither numpy nor cupy, and a forward,
backward and optimizer step run end to end with a second array module, a thin namespace over
numpy that counts its calls and hands back arrays of its own type.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from ntm_numpy import NTM, backend
from ntm_numpy.lstm_baseline import LSTMModel
from ntm_numpy.optim import AdamConfig
from ntm_numpy.training.optimizers import Adam, clip_by_global_norm

PACKAGE = Path(__file__).resolve().parents[1] / "ntm_numpy"
COMPUTE_MODULES = sorted(
    [*(PACKAGE / "ops").glob("*.py")]
    + [
        PACKAGE / name
        for name in ("heads.py", "model.py", "lstm_baseline.py", "optim.py", "sequence_model.py")
    ]
    + [PACKAGE / "training" / "optimizers.py"]
)


@pytest.mark.parametrize("path", COMPUTE_MODULES, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_compute_module_imports_no_array_library(path):
    """No import of numpy or cupy, and no import by name at run time (``importlib``,
    ``__import__``), which would hide one from this check."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [(node.module or "").split(".")[0]] if node.level == 0 else []
        elif isinstance(node, ast.Call):
            called = node.func.attr if isinstance(node.func, ast.Attribute) else node.func
            called = called.id if isinstance(called, ast.Name) else called
            assert called not in ("import_module", "__import__"), f"{path.name}:{node.lineno}"
            continue
        else:
            continue
        names_imported = {"numpy", "cupy", "importlib"} & set(names)
        assert not names_imported, f"{path.name}:{node.lineno} imports {names}"


@pytest.mark.parametrize("path", COMPUTE_MODULES, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_compute_module_forces_no_device_sync(path):
    source = path.read_text()
    assert ".item()" not in source and ".tolist()" not in source


class CountingNamespace:
    """Every function of numpy, counted, with array results viewed as ``Tracked``."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str):
        target = getattr(np, name)
        if not callable(target) or isinstance(target, type):
            return target  # dtypes, constants

        def counted(*args, **kwargs):
            self.calls[name] = self.calls.get(name, 0) + 1
            return _track(target(*args, **kwargs), self)

        return counted


class Tracked(np.ndarray):
    """A numpy array that names ``CountingNamespace`` as its array module."""

    namespace: CountingNamespace

    def __array_finalize__(self, obj) -> None:
        self.namespace = getattr(obj, "namespace", None)

    def __array_namespace__(self, api_version=None):
        return self.namespace


def _track(value, namespace):
    if isinstance(value, np.ndarray):
        tracked = value.view(Tracked)
        tracked.namespace = namespace
        return tracked
    if isinstance(value, tuple):
        return tuple(_track(v, namespace) for v in value)
    return value


@pytest.mark.parametrize("model_type", ["ntm", "lstm"])
def test_forward_backward_and_step_take_the_module_from_their_inputs(model_type):
    namespace = CountingNamespace()
    options = {"input_size": 3, "output_size": 2, "seed": 0}
    if model_type == "ntm":
        options.update(memory_size=6, memory_dim=4, controller_size=5, num_read_heads=2)
        reference, model = NTM(**options), NTM(**options)
    else:
        options.update(hidden_size=5, num_layers=2)
        reference, model = LSTMModel(**options), LSTMModel(**options)
    model.params = {k: _track(v.copy(), namespace) for k, v in model.params.items()}
    assert backend.array_module(model.params["output.W"]) is namespace

    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 2, 3))
    y = (rng.random((5, 2, 2)) > 0.5).astype(float)
    loss, grads = model.loss_and_grads(x, y)
    expected_loss, expected_grads = reference.loss_and_grads(x, y)

    assert sum(namespace.calls.values()) > 20, namespace.calls
    assert float(loss) == pytest.approx(float(expected_loss), rel=1e-12)
    for name, grad in grads.items():
        assert isinstance(grad, Tracked), f"{name} left the namespace"
        np.testing.assert_allclose(grad, expected_grads[name], rtol=1e-10, atol=1e-12)

    calls_before = sum(namespace.calls.values())
    clipped, _ = clip_by_global_norm(grads, 1.0)
    optimizer = Adam(AdamConfig(lr=1e-2))
    optimizer.step(model.params, clipped)
    assert sum(namespace.calls.values()) > calls_before
    assert all(isinstance(p, Tracked) for p in model.params.values())
    assert all(isinstance(a, Tracked) for a in optimizer.state_dict()["state"].values())


def test_array_module_of_host_arrays_and_numbers():
    assert backend.array_module(np.zeros(2)) is np
    assert backend.array_module(1.0, np.zeros(2)) is np
    assert backend.array_module() is np


def test_to_numpy_and_device_names():
    a = np.arange(3.0)
    assert backend.to_numpy(a) is a
    assert backend.to_device(a, "cpu") is a
    assert backend.check_device("numpy") == "cpu"
    with pytest.raises(ValueError, match="device"):
        backend.check_device("tpu")


@pytest.mark.skipif(backend.gpu_available(), reason="a GPU is present")
def test_asking_for_the_gpu_without_one_is_a_clear_error():
    model = NTM(input_size=3, memory_size=4, memory_dim=2, controller_size=3)
    with pytest.raises(RuntimeError, match=r"CuPy|CUDA"):
        model.to("gpu")
    assert model.device == "cpu"  # nothing moved


@pytest.mark.skipif(not backend.gpu_available(), reason="needs CuPy and a GPU")
def test_gpu_matches_cpu():  # runs where a GPU is present (bench/gpu_check.py does more)
    model = NTM(input_size=3, memory_size=6, memory_dim=4, controller_size=5)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 2, 3))
    y = (rng.random((4, 2, 3)) > 0.5).astype(float)
    loss, grads = model.loss_and_grads(x, y)
    model.to("gpu")
    gpu_loss, gpu_grads = model.loss_and_grads(x, y)
    assert float(gpu_loss) == pytest.approx(float(loss), rel=1e-10)
    for name in grads:
        np.testing.assert_allclose(backend.to_numpy(gpu_grads[name]), grads[name], rtol=1e-8)
