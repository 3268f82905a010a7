"""Sigmoid cross-entropy on logits, masked, in bits per sequence: the paper's *cost*.

    L = (1 / B) sum_{t,b} mask_tb sum_k [ softplus(z_tbk) - y_tbk z_tbk ] / ln 2

which is -[y log2 p + (1 - y) log2 (1 - p)] with p = sigma(z), summed over the scored steps and
bits of a sequence and averaged over the B sequences of a batch. Computing it from the logits
(softplus(z) - y z = log(1 + e^z) - y z) never takes the log of 0.

Each bit's term is computed as

    softplus(z) - y z = (max(z, 0) - y z) + log(1 + e^{-|z|})

(the same number: log(1 + e^z) = max(z, 0) + log(1 + e^{-|z|}) for either sign of z), because
near convergence the bits are confident and right, |z| ~ 14 with y = [z > 0], and there the term
is ~e^{-|z|} ~ 1e-6. Written as softplus(z) - y z it is a difference of two numbers near 14,
whose float32 spacing (1e-6) is the size of the answer, so the float32 cost of a converged
model comes out about 1% off. In the form above the first bracket is exactly 0 for such a bit
(a binary y), and ``log1p(exp(-|z|))`` keeps the small term's full precision.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from ..backend import array_module
from .activations import sigmoid

LN2 = math.log(2.0)


class LossCache(NamedTuple):
    logits: object  # [T, B, K]
    targets: object  # [T, B, K]
    mask: object  # [T, B, 1]


def sigmoid_cross_entropy_forward(logits, targets, mask):
    """Cost in bits per sequence (a 0-d array).

    Shapes: logits, targets [T, B, K], mask [T, B] (1 where the output is scored) -> [].
    """
    xp = array_module(logits)
    mask = mask[..., None]
    # softplus(z) - y z, without subtracting two numbers near |z| (module docstring)
    per_bit = xp.maximum(logits, 0.0) - targets * logits + xp.log1p(xp.exp(-xp.abs(logits)))
    loss = (per_bit * mask).sum() / (LN2 * logits.shape[1])
    return loss, LossCache(logits, targets, mask)


def sigmoid_cross_entropy_backward(dloss, cache: LossCache):
    """dL/dz = dloss * mask * (sigma(z) - y) / (B ln 2)."""
    logits, targets, mask = cache
    scale = dloss / (LN2 * logits.shape[1])
    return (sigmoid(logits) - targets) * (mask * scale)


def bit_errors(logits, targets, mask):
    """Wrong output bits per sequence after thresholding sigma(z) at 0.5 (z at 0), averaged
    over the batch (a 0-d array).  Shapes as the loss."""
    wrong = (logits > 0) != (targets > 0.5)
    return (wrong * mask[..., None]).sum() / logits.shape[1]
