"""Sums of products over the last axis, as matrix products.

NumPy reduces along a short last axis slowly: at the shapes of one step ([64, 1, 128] float32),
``(a * b).sum(-1)`` is a product pass, then a reduction ~2x slower than the product, about
8 us, while the same sum as a batched (1 x N)(N x 1) matrix product is one call of about 3 us.
Addressing's backward takes a dozen such sums per head group and step.
"""

from __future__ import annotations


def dot_last(a, b):
    """sum_n a_n b_n over the last axis, kept as an axis of length 1.

    Shapes: a, b [..., N] (their leading axes broadcast) -> [..., 1].
    """
    return (a[..., None, :] @ b[..., :, None])[..., 0]
