"""The one place that knows about CuPy.

Every compute function takes its array module from its inputs::

    xp = array_module(x)        # numpy for host arrays, cupy for device arrays

so the compute path (``ops/``, ``heads.py``, ``model.py``, ``lstm_baseline.py``, ``optim.py``,
``training/optimizers.py``) never imports numpy itself and runs unchanged on a GPU. CuPy is
optional: it is imported lazily, on the first question about it, and asking for the GPU without
it is a clear error.

The dispatch rule is the array API standard's ``__array_namespace__`` where an array has one
(NumPy >= 2, CuPy >= 13, ``array_api_strict``), with a fallback to ``cupy.get_array_module`` for
older CuPy. That is also what lets a test hand the compute path a counting wrapper around numpy
and prove that no global module is used.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import numpy

_cupy: ModuleType | None = None
_cupy_checked = False


def _load_cupy() -> ModuleType | None:
    """Import cupy once; None where it is not installed or cannot start."""
    global _cupy, _cupy_checked
    if not _cupy_checked:
        _cupy_checked = True
        try:
            _cupy = importlib.import_module("cupy")
        except Exception:  # ImportError, or a CUDA library that fails to load
            _cupy = None
    return _cupy


def array_module(*arrays: Any) -> ModuleType:
    """The array module (``numpy``, ``cupy``, ...) that owns ``arrays``.

    The first argument that is an array decides; plain Python numbers are skipped. Host arrays
    give ``numpy``.
    """
    for a in arrays:
        kind = type(a)
        if kind is numpy.ndarray:  # the common case, answered first
            return numpy
        if kind.__module__.startswith("cupy"):
            return _load_cupy()
        namespace = getattr(a, "__array_namespace__", None)
        if namespace is not None:
            return namespace()
    return numpy


def gpu_available() -> bool:
    """True where CuPy imports and sees at least one CUDA device."""
    cupy = _load_cupy()
    if cupy is None:
        return False
    try:
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def require_gpu() -> ModuleType:
    """The cupy module, or a one-line ``RuntimeError`` that says why the GPU cannot be used."""
    cupy = _load_cupy()
    if cupy is None:
        raise RuntimeError(
            "device='gpu' needs CuPy, which is not installed: "
            "pip install cupy-cuda12x (or cupy-cuda13x), or use device='cpu'"
        )
    if not gpu_available():
        raise RuntimeError(
            "device='gpu': CuPy is installed but sees no CUDA device; use device='cpu'"
        )
    return cupy


def check_device(device: str) -> str:
    """Validate a device name (``"cpu"`` or ``"gpu"``; ``"numpy"``/``"cupy"`` are aliases)."""
    aliases = {"cpu": "cpu", "numpy": "cpu", "gpu": "gpu", "cupy": "gpu", "cuda": "gpu"}
    if not isinstance(device, str) or device.lower() not in aliases:
        raise ValueError(f"device must be 'cpu' or 'gpu' (or 'numpy'/'cupy'), got {device!r}")
    return aliases[device.lower()]


def to_device(array: Any, device: str = "gpu") -> Any:
    """Move ``array`` to ``device`` ("cpu" or "gpu"); a no-op where it is already there."""
    if check_device(device) == "cpu":
        return to_numpy(array)
    cupy = require_gpu()
    return cupy.asarray(array)


def to_numpy(array: Any) -> numpy.ndarray:
    """A host (NumPy) copy of ``array``, from any backend; numbers become 0-d arrays."""
    if isinstance(array, numpy.ndarray):
        return array
    get = getattr(array, "get", None)  # cupy.ndarray.get() copies device -> host
    if callable(get) and not isinstance(array, dict):
        return get()
    return numpy.asarray(array)


def device_of(array: Any) -> str:
    """``"gpu"`` for a CuPy array, ``"cpu"`` otherwise."""
    cupy = _cupy
    if cupy is not None and isinstance(array, cupy.ndarray):
        return "gpu"
    return "cpu"
