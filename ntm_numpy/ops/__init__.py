"""Pure operations, each a pair ``op_forward(...) -> (out, cache)`` and
``op_backward(dout, cache) -> gradients of the inputs, in input order``.

Nothing here keeps state or knows about anything above it (the model, training, plots).
Backward functions return new arrays; the caller adds them where gradients accumulate.
"""

from . import activations, addressing, linear, loss, lstm, memory, reductions

__all__ = ["activations", "addressing", "linear", "loss", "lstm", "memory", "reductions"]
