"""Elementwise activations and the softmax, each a forward/backward pair.

Every ``*_forward(x) -> (y, cache)`` and ``*_backward(dy, cache) -> dx``. The backward returns a
new array; it never writes into ``dy``. Each is written so that no input, however large, raises
an overflow warning: ``sigmoid`` goes through ``tanh``, ``softplus`` through ``logaddexp``, and
the softmax subtracts its maximum.
"""

from __future__ import annotations

from typing import NamedTuple

from ..backend import array_module
from .reductions import dot_last


class OutputCache(NamedTuple):
    """Activations whose derivative is a function of the output alone keep only ``y``."""

    y: object


class InputCache(NamedTuple):
    """Activations whose derivative needs the input keep ``x``."""

    x: object


def sigmoid(x):
    """sigma(x) = 1 / (1 + exp(-x)) = (1 + tanh(x/2)) / 2, without overflow for any x."""
    xp = array_module(x)
    y = xp.tanh(x * 0.5)
    y *= 0.5
    y += 0.5
    return y


def sigmoid_forward(x):
    """y = sigma(x).  Shapes: any."""
    y = sigmoid(x)
    return y, OutputCache(y)


def sigmoid_backward(dy, cache: OutputCache):
    """dy/dx = y (1 - y), so dx = dy * y * (1 - y)."""
    y = cache.y
    return dy * y * (1.0 - y)


def tanh_forward(x):
    """y = tanh(x).  Shapes: any."""
    y = array_module(x).tanh(x)
    return y, OutputCache(y)


def tanh_backward(dy, cache: OutputCache):
    """dy/dx = 1 - y^2, so dx = dy * (1 - y^2)."""
    y = cache.y
    return dy * (1.0 - y * y)


def softplus_forward(x):
    """y = log(1 + exp(x)), computed as logaddexp(0, x) so it never overflows.  Range (0, inf)."""
    y = array_module(x).logaddexp(0.0, x)
    return y, InputCache(x)


def softplus_backward(dy, cache: InputCache):
    """dy/dx = exp(x) / (1 + exp(x)) = sigma(x), so dx = dy * sigma(x)."""
    return dy * sigmoid(cache.x)


def oneplus_forward(x):
    """y = 1 + softplus(x): range (1, inf), the paper's constraint on the sharpening gamma."""
    y, cache = softplus_forward(x)
    y += 1.0
    return y, cache


def oneplus_backward(dy, cache: InputCache):
    """dy/dx = sigma(x), as for softplus: the constant 1 has no gradient."""
    return softplus_backward(dy, cache)


def softmax(x, axis: int = -1):
    """y_i = exp(x_i - max_j x_j) / sum_k exp(x_k - max_j x_j) along ``axis``."""
    xp = array_module(x)
    y = x - x.max(axis=axis, keepdims=True)
    xp.exp(y, out=y)
    y /= y.sum(axis=axis, keepdims=True)
    return y


class SoftmaxCache(NamedTuple):
    y: object
    axis: int


def softmax_forward(x, axis: int = -1):
    """y = softmax(x) along ``axis`` (the last by default).

    Subtracting the maximum changes nothing mathematically and keeps exp() finite.
    """
    y = softmax(x, axis)
    return y, SoftmaxCache(y, axis)


def softmax_backward(dy, cache: SoftmaxCache):
    """The Jacobian is dy_i/dx_j = y_i (delta_ij - y_j), so

    dx = y * (dy - sum_j dy_j y_j).
    """
    y, axis = cache
    if axis in (-1, y.ndim - 1):
        return y * (dy - dot_last(dy, y))
    return y * (dy - (dy * y).sum(axis=axis, keepdims=True))
