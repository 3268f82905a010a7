"""The affine map y = x W + b, a forward/backward pair.

The backward is also offered in its two halves, because in a recurrent model they are needed at
different times: the input gradient ``dy W^T`` at every step, inside the loop over time (it
carries the gradient to the previous step), and the parameter gradients once, after the loop,
as one product over all steps (a weight shared over time gets the sum of its per-step
gradients, and ``X^T dY`` over the stacked steps *is* that sum).
"""

from __future__ import annotations

from typing import NamedTuple


class LinearCache(NamedTuple):
    x: object  # [..., D_in]
    W: object  # [D_in, D_out]


def linear_forward(x, W, b):
    """y = x W + b.

    Shapes: x [..., D_in], W [D_in, D_out], b [D_out] -> y [..., D_out]; any leading axes (one
    step [B, D_in], or a whole sequence [T, B, D_in]).
    """
    return x @ W + b, LinearCache(x, W)


def linear_input_grad(dy, W):
    """dL/dx = dy W^T.   dy [..., D_out], W [D_in, D_out] -> [..., D_in]."""
    return dy @ W.T


def linear_param_grads(dy, x):
    """dL/dW = sum over leading axes of x^T dy, and dL/db = sum over leading axes of dy.

    Shapes: dy [..., D_out], x [..., D_in] -> dW [D_in, D_out], db [D_out].
    """
    x2 = x.reshape(-1, x.shape[-1])
    dy2 = dy.reshape(-1, dy.shape[-1])
    return x2.T @ dy2, dy2.sum(axis=0)


def linear_backward(dy, cache: LinearCache):
    """(dx, dW, db) = (dy W^T, x^T dy, sum dy)."""
    dW, db = linear_param_grads(dy, cache.x)
    return linear_input_grad(dy, cache.W), dW, db
