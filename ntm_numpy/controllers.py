"""The controller, step 1 of the NTM: from what it sees to h_t, behind one small interface.

The model (``model.py``) splits step 1 in two::

    z_t      = [x_t, r_{t-1}(, h_{t-1})] W_c + b_c     the affine map: the model's, because the
                                                       gradient of W_c, shared over time, is one
                                                       product over all steps after the loop
    h_t, c_t = forward(z_t, c_{t-1})                   the rest: the controller's

A ``Controller`` is that second half as a pair of pure functions, in the form of ``ops``::

    forward(z [B, K], c_prev)   -> ((h [B, C], c), cache)
    backward(dh [B, C], dc, cache) -> (dz [B, K], dc_prev)

and what the model must know to build around them: the width of z (K = blocks * C), whether
h_{t-1} is part of the input (``recurrent``), whether it carries a cell state c_t [B, C]
(``has_cell``; without one, c and dc are None), and the initial bias b_c (``init_bias``).

Two are shipped, as in the paper:

    "lstm"         K = 4C, recurrent, a cell:  ``ops.lstm.lstm_cell_forward`` on
                   z = [x_t, r_{t-1}, h_{t-1}] W_c + b_c; the forget gate's bias starts at 1
    "feedforward"  K = C, no recurrence, no cell:  h_t = tanh(z), z = [x_t, r_{t-1}] W_c + b_c;
                   all it remembers passes through the memory

Adding a controller is one ``Controller(...)`` and one ``register_controller`` call, in any
module that is imported before the controller is asked for: it is then an ``NTMConfig``
choice (``configs.py`` validates ``controller`` against ``CONTROLLERS``), a ``--controller``
choice of the command line, trainable, saveable and checked by ``gradcheck``. Every name
registered here is in ``CONTROLLERS``, in order of registration.

This module sits just above ``ops/`` and imports nothing else of the package, so that
``configs.py`` (below the models) can read the registry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .ops.activations import tanh_backward, tanh_forward
from .ops.lstm import lstm_cell_backward, lstm_cell_forward


def _zero_bias(b):
    """b_c = 0: the bias starts where it was made (zeros [K])."""
    return b


@dataclass(frozen=True)
class Controller:
    """One controller: its name, its forward/backward pair and its shape (module docstring)."""

    name: str  # the NTMConfig's ``controller`` and the command line's --controller
    forward: Callable  # (z [B, K], c_prev) -> ((h [B, C], c), cache)
    backward: Callable  # (dh [B, C], dc, cache) -> (dz [B, K], dc_prev)
    blocks: int = 1  # K = blocks * C, the width of z (the LSTM's [i | f | o | g]: 4)
    recurrent: bool = False  # h_{t-1} is part of the input: z = [x_t, r_{t-1}, h_{t-1}] W_c + b_c
    has_cell: bool = False  # carries c_t [B, C] (zeros at the start); otherwise c is None
    init_bias: Callable = _zero_bias  # zeros [K] -> the initial b_c; draws nothing

    def __post_init__(self) -> None:
        if not (isinstance(self.name, str) and self.name):
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        for field in ("forward", "backward", "init_bias"):
            if not callable(getattr(self, field)):
                raise ValueError(f"{field} must be a function, got {getattr(self, field)!r}")
        if isinstance(self.blocks, bool) or not isinstance(self.blocks, int) or self.blocks < 1:
            raise ValueError(f"blocks must be a positive integer, got {self.blocks!r}")
        for field in ("recurrent", "has_cell"):
            if not isinstance(getattr(self, field), bool):
                raise ValueError(f"{field} must be True or False, got {getattr(self, field)!r}")

    def input_size(self, seen: int, controller_size: int) -> int:
        """D, the width of the input: ``seen`` = |x_t| + |r_{t-1}| (I + R*M), plus C for
        h_{t-1} where the controller is recurrent."""
        return seen + (controller_size if self.recurrent else 0)

    def parameter_shapes(self, seen: int, controller_size: int) -> dict[str, tuple[int, ...]]:
        """``{"controller.W": (D, K), "controller.b": (K,)}`` for an input of ``seen`` =
        I + R*M (see ``input_size``) and C = ``controller_size``: K = blocks * C."""
        K = self.blocks * controller_size
        return {"controller.W": (self.input_size(seen, controller_size), K), "controller.b": (K,)}

    def initial_cell(self, batch_size: int, controller_size: int, xp: Any, dtype: Any) -> Any:
        """c_0 = zeros [B, C] (also the zero dc that reaches the last step), or None without a
        cell."""
        if not self.has_cell:
            return None
        return xp.zeros((batch_size, controller_size), dtype=dtype)


# --- the two shipped controllers --------------------------------------------------------------


def _forget_gate_one(b):
    """b_c with the forget gate's block at 1, so that the cell keeps its contents from the
    start; z's blocks are [i | f | o | g], each C wide."""
    b = b.copy()
    C = b.shape[0] // 4
    b[C : 2 * C] = 1.0
    return b


def tanh_layer_forward(z, c_prev):
    """h = tanh(z), and no cell: ((h [B, C], None), cache). ``c_prev`` is None."""
    h, cache = tanh_forward(z)
    return (h, None), cache


def tanh_layer_backward(dh, dc, cache):
    """dz = dh * (1 - h^2); no cell, so (dz [B, C], None). ``dc`` is None."""
    return tanh_backward(dh, cache), None


LSTM = Controller(
    "lstm",
    lstm_cell_forward,
    lstm_cell_backward,
    blocks=4,
    recurrent=True,
    has_cell=True,
    init_bias=_forget_gate_one,
)
FEEDFORWARD = Controller("feedforward", tanh_layer_forward, tanh_layer_backward)


# --- the registry ------------------------------------------------------------------------------

_REGISTERED: dict[str, Controller] = {}

CONTROLLERS: Mapping[str, Controller] = MappingProxyType(_REGISTERED)
"""Read-only: controller name -> ``Controller``, the shipped ones first, then those added by
``register_controller``."""


def register_controller(controller: Controller) -> Controller:
    """Add ``controller`` to ``CONTROLLERS`` (and so to ``NTMConfig``'s choices, the command
    line and the trainer); returns it. A name already registered is an error:
    ``unregister_controller`` it first."""
    if not isinstance(controller, Controller):
        raise ValueError(f"controller must be a Controller, got {type(controller).__name__}")
    if controller.name in _REGISTERED:
        raise ValueError(f"controller {controller.name!r} is already registered")
    _REGISTERED[controller.name] = controller
    return controller


def unregister_controller(name: str) -> None:
    """Remove the controller called ``name`` from ``CONTROLLERS``."""
    if name not in _REGISTERED:
        raise ValueError(f"unknown controller {name!r}; registered: {', '.join(_REGISTERED)}")
    del _REGISTERED[name]


for _controller in (LSTM, FEEDFORWARD):
    register_controller(_controller)


__all__ = [
    "CONTROLLERS",
    "FEEDFORWARD",
    "LSTM",
    "Controller",
    "register_controller",
    "tanh_layer_backward",
    "tanh_layer_forward",
    "unregister_controller",
]
