"""What the NTM and the LSTM baseline share: moving between devices, saving, input checks, and
the loss on top of ``forward`` / ``backward``.

A subclass provides ``config`` (with ``input_size``, ``outputs`` and ``dtype``), ``params`` (a
flat dict of arrays that includes ``output.W``), ``model_type`` (its name in checkpoints),
``forward(x, keep_cache)`` and ``backward(dlogits, cache)``.
"""

from __future__ import annotations

import numbers
from typing import Any

from . import backend
from .ops.loss import sigmoid_cross_entropy_backward, sigmoid_cross_entropy_forward


def positive_int(name: str, value: Any) -> None:
    """Raise a ``ValueError`` naming ``name`` unless ``value`` is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


class SequenceModel:
    """A model of sequences: x [T, B, input_size] -> logits [T, B, outputs]."""

    model_type = ""  # the name checkpoints know it by
    config: Any
    params: dict[str, Any]

    # --- device and size -------------------------------------------------------------------

    @property
    def xp(self):
        """The array module the parameters live in (numpy or cupy)."""
        return backend.array_module(self.params["output.W"])

    @property
    def device(self) -> str:
        return backend.device_of(self.params["output.W"])

    @property
    def num_parameters(self) -> int:
        return sum(int(p.size) for p in self.params.values())

    def to(self, device: str):
        """Move the parameters to ``"cpu"``/``"numpy"`` or ``"gpu"``/``"cupy"``; returns self.

        Nothing moves unless everything can (the GPU may be missing).
        """
        self.params = {k: backend.to_device(v, device) for k, v in self.params.items()}
        return self

    def save(self, path, **extra) -> None:
        """Write params + config (+ ``optimizer=``, ``train_state=`` ...) to ``path`` (.npz)."""
        from .checkpoint import save

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
        if value.dtype.kind not in "biuf":
            raise ValueError(f"{name} must hold real numbers, got dtype {value.dtype}")
        xp = self.xp
        if backend.array_module(value) is not xp:
            value = backend.to_device(value, self.device)
        return xp.asarray(value, dtype=self.config.dtype)

    def _check_sequence(self, x):
        x = self._as_model_array(x, "x", ("T", "B", self.config.input_size))
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise ValueError(
                f"x must hold at least one step of at least one sequence "
                f"(T >= 1, B >= 1), got shape {tuple(x.shape)}"
            )
        return x

    def _check_targets(self, x, y, mask):
        T, B, _ = x.shape
        y = self._as_model_array(y, "y", (T, B, self.config.outputs))
        if mask is None:
            return y, self.xp.ones((T, B), dtype=x.dtype)
        return y, self._as_model_array(mask, "mask", (T, B))

    # --- the loss --------------------------------------------------------------------------

    def loss(self, x, y, mask=None):
        """Cost in bits per sequence (a 0-d array), keeping no caches.  Shapes as below."""
        x = self._check_sequence(x)
        y, mask = self._check_targets(x, y, mask)
        return sigmoid_cross_entropy_forward(self.forward(x, keep_cache=False)[0], y, mask)[0]

    def loss_and_grads(self, x, y, mask=None) -> tuple[Any, dict[str, Any]]:
        """Cost in bits per sequence (a 0-d array) and its gradients.

        Shapes: x [T, B, input_size], y [T, B, output_size], mask [T, B] (None: every step).
        """
        x = self._check_sequence(x)
        y, mask = self._check_targets(x, y, mask)
        logits, cache = self.forward(x)
        loss, loss_cache = sigmoid_cross_entropy_forward(logits, y, mask)
        return loss, self.backward(sigmoid_cross_entropy_backward(1.0, loss_cache), cache)

    def forward(self, x, keep_cache: bool = True):  # pragma: no cover - the subclass's
        raise NotImplementedError

    def backward(self, dlogits, cache) -> dict[str, Any]:  # pragma: no cover - the subclass's
        raise NotImplementedError
