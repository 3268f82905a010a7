"""What the NTM and the LSTM baseline share: moving between devices, saving, input checks, and
the loss on top of ``forward`` / ``backward``.

A subclass provides ``config`` (with ``input_size``, ``outputs`` and ``dtype``), its initial
``params`` (a dict of arrays that includes ``output.W``), ``model_type`` (its name in
checkpoints), ``forward(x, keep_cache)`` and ``backward(dlogits, cache)``.

The parameters live in one block: ``model.params`` is a ``FlatArrays``, named views into one
contiguous array ``model.params.flat`` [P], and ``backward`` returns the gradients the same
way, so that the optimizer and clipping work on the whole block at once. ``model.params[name]
= value`` writes into the view; ``model.params = {name: array, ...}`` puts the arrays into a
new block (a ``FlatArrays`` is adopted as it is, sharing its block).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import backend
from .configs import (  # noqa: F401  re-exported for the modules that import them from here
    check_fits_in_memory,
    estimate_bytes,
    parameter_shapes,
    physical_memory_bytes,
    positive_int,
)
from .flat_arrays import FlatArrays
from .ops.loss import sigmoid_cross_entropy_backward, sigmoid_cross_entropy_forward


class SequenceModel:
    """A model of sequences: x [T, B, input_size] -> logits [T, B, outputs]."""

    model_type = ""  # the name checkpoints know it by
    config: Any
    _params: FlatArrays

    # --- the parameters, one block ---------------------------------------------------------

    @property
    def params(self) -> FlatArrays:
        """name -> parameter array, each a view into one flat array ``params.flat`` [P]."""
        return self._params

    @params.setter
    def params(self, arrays: Mapping[str, Any]) -> None:
        # a FlatArrays is adopted (a worker's parameters in shared memory); a dict is copied in
        if not isinstance(arrays, FlatArrays):
            arrays = FlatArrays.from_arrays(arrays)
        self._params = arrays

    def new_grads(self) -> FlatArrays:
        """Zero gradients, one block of the parameters' layout, for ``backward`` to fill in
        (a parameter the backward does not reach keeps gradient zero)."""
        return FlatArrays.zeros_like(self.params)

    # --- device and size -------------------------------------------------------------------

    @property
    def xp(self):
        """The array module the parameters live in (numpy or cupy)."""
        return backend.array_module(self.params.flat)

    @property
    def device(self) -> str:
        return backend.device_of(self.params.flat)

    @property
    def num_parameters(self) -> int:
        return int(self.params.flat.size)

    def to(self, device: str):
        """Move the parameters to ``"cpu"``/``"numpy"`` or ``"gpu"``/``"cupy"``; returns self.

        The block moves in one transfer, and the views are made anew on the other side.
        Nothing moves unless everything can (the GPU may be missing).
        """
        self.params = self.params.map(lambda flat: backend.to_device(flat, device))
        return self

    def save(self, path, **extra) -> None:
        """Write params + config (+ ``optimizer=``, ``train_state=`` ...) to ``path`` (.npz)."""
        from .training.checkpoint import save

        save(path, self, **extra)

    # --- input checks ----------------------------------------------------------------------

    def _as_model_array(self, value, name: str, shape: tuple) -> Any:
        """``value`` as an array of the model's dtype and device, after checking its shape.

        ``shape`` holds the expected sizes: an int, or a letter where any size will do.
        """
        expected = "[" + ", ".join(str(s) for s in shape) + "]"
        if not hasattr(value, "shape") or not hasattr(value, "ndim"):
            raise ValueError(
                f"{name} must be an array of shape {expected}, got {type(value).__name__}"
            )
        if value.ndim != len(shape) or any(
            isinstance(e, int) and e != s for e, s in zip(shape, value.shape, strict=True)
        ):
            raise ValueError(f"{name} must have shape {expected}, got {tuple(value.shape)}")
        if hasattr(value, "mask") and hasattr(value, "filled"):  # numpy.ma: mask not honoured
            raise ValueError(
                f"{name} is a masked array, whose mask the model would ignore; pass a plain "
                f"array ({name}.filled(0)) and give the steps to score as mask="
            )
        if value.dtype.kind not in "biuf":
            raise ValueError(f"{name} must hold real numbers, got dtype {value.dtype}")
        xp = self.xp
        if backend.array_module(value) is not xp:
            value = backend.to_device(value, self.device)
        return xp.asarray(value, dtype=self.config.dtype)

    def _check_sequence(self, x):
        """x [T, B, input_size], finite (one pass per call, none per step: an inf in x gives
        a finite loss but inf and NaN gradients)."""
        x = self._as_model_array(x, "x", ("T", "B", self.config.input_size))
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise ValueError(
                f"x must hold at least one step of at least one sequence "
                f"(T >= 1, B >= 1), got shape {tuple(x.shape)}"
            )
        if not bool(self.xp.isfinite(x).all()):
            raise ValueError("x must be finite, got NaN or inf")
        return x

    def _check_targets(self, x, y, mask):
        """y [T, B, outputs], finite; mask [T, B] in [0, 1] (a weight per step and sequence:
        1 scores the step, 0 ignores it, 0.5 counts it half). A weight outside [0, 1] would
        make the loss something to climb (a negative weight) or NaN."""
        T, B, _ = x.shape
        y = self._as_model_array(y, "y", (T, B, self.config.outputs))
        if not bool(self.xp.isfinite(y).all()):
            raise ValueError("y must be finite, got NaN or inf")
        if mask is None:
            return y, self.xp.ones((T, B), dtype=x.dtype)
        mask = self._as_model_array(mask, "mask", (T, B))
        if not bool(((mask >= 0) & (mask <= 1)).all()):  # NaN fails both comparisons
            raise ValueError("mask must hold weights in [0, 1] (finite), got values outside")
        return y, mask

    # --- the loss --------------------------------------------------------------------------

    def loss(self, x, y, mask=None):
        """Cost in bits per sequence (a 0-d array), keeping no caches.  Shapes as below."""
        x = self._check_sequence(x)
        y, mask = self._check_targets(x, y, mask)
        return sigmoid_cross_entropy_forward(self.forward(x, keep_cache=False)[0], y, mask)[0]

    def loss_and_grads(self, x, y, mask=None) -> tuple[Any, FlatArrays]:
        """Cost in bits per sequence (a 0-d array) and its gradients.

        Shapes: x [T, B, input_size], y [T, B, output_size], mask [T, B] (None: every step).
        x and y must be finite; mask holds a weight in [0, 1] per step and sequence (0: not
        scored; a fraction weighs the step's cost). Masked arrays (``numpy.ma``) are refused:
        give plain arrays, and the steps to score as ``mask``.
        """
        x = self._check_sequence(x)
        y, mask = self._check_targets(x, y, mask)
        logits, cache = self.forward(x)
        loss, loss_cache = sigmoid_cross_entropy_forward(logits, y, mask)
        return loss, self.backward(sigmoid_cross_entropy_backward(1.0, loss_cache), cache)

    def forward(self, x, keep_cache: bool = True):  # pragma: no cover - the subclass's
        raise NotImplementedError

    def backward(self, dlogits, cache) -> FlatArrays:  # pragma: no cover - the subclass's
        raise NotImplementedError
