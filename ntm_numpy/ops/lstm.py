"""One LSTM cell step, a forward/backward pair (Hochreiter & Schmidhuber 1997; no peepholes).

The step is the affine map of ``ops.linear`` followed by the gates, and the two halves are
separate ops so that a recurrent model can sum the weight gradient once over all steps::

    z = [x, h_prev] W + b                         linear_forward     z [B, 4C]
    i, f, o = sigma(z_i), sigma(z_f), sigma(z_o)  input, forget, output gates
    g = tanh(z_g)                                 candidate
    c = f * c_prev + i * g                        cell state         [B, C]
    h = o * tanh(c)                               hidden state       [B, C]

``lstm_cell_*`` is the part after the affine map; ``lstm_step_*`` composes the two for one
self-contained step (what a reader would write first, and what the tests check).
The gate blocks of z are laid out [i | f | o | g], each C wide.
"""

from __future__ import annotations

from typing import NamedTuple

from ..backend import array_module
from .activations import sigmoid
from .linear import LinearCache, linear_backward, linear_forward


class LSTMCellCache(NamedTuple):
    gates: object  # [B, 3C]  sigma(z_i), sigma(z_f), sigma(z_o), side by side
    candidate: object  # [B, C]  g = tanh(z_g)
    c_prev: object  # [B, C]
    tanh_c: object  # [B, C]  tanh(c)


def lstm_cell_forward(z, c_prev):
    """(h, c) from the gate pre-activations z [B, 4C] and the previous cell state c_prev [B, C]."""
    xp = array_module(z)
    C = c_prev.shape[-1]
    gates = sigmoid(z[:, : 3 * C])
    i, f, o = gates[:, :C], gates[:, C : 2 * C], gates[:, 2 * C :]
    g = xp.tanh(z[:, 3 * C :])
    c = f * c_prev + i * g
    tanh_c = xp.tanh(c)
    h = o * tanh_c
    return (h, c), LSTMCellCache(gates, g, c_prev, tanh_c)


def lstm_cell_backward(dh, dc, cache: LSTMCellCache):
    """Gradients of (z, c_prev) from the gradients of (h, c).

    dc is the gradient reaching c from the next step; h = o tanh(c) adds its own share:

        do      = dh * tanh(c)
        dc_tot  = dc + dh * o * (1 - tanh(c)^2)
        di, df  = dc_tot * g, dc_tot * c_prev
        dg      = dc_tot * i
        dc_prev = dc_tot * f
        dz      = [di, df, do] * sigma'(.)  |  dg * (1 - g^2)     with sigma' = s (1 - s)

    Shapes: dh, dc [B, C] -> dz [B, 4C], dc_prev [B, C].
    """
    xp = array_module(dh)
    gates, g, c_prev, tanh_c = cache
    C = c_prev.shape[-1]
    i, f, o = gates[:, :C], gates[:, C : 2 * C], gates[:, 2 * C :]
    dc_total = dc + dh * o * (1.0 - tanh_c * tanh_c)
    dz = xp.empty((dh.shape[0], 4 * C), dtype=dh.dtype)
    dz[:, :C] = dc_total * g  # di
    dz[:, C : 2 * C] = dc_total * c_prev  # df
    dz[:, 2 * C : 3 * C] = dh * tanh_c  # do
    dz[:, : 3 * C] *= gates * (1.0 - gates)  # through the three sigmoids at once
    dz[:, 3 * C :] = dc_total * i * (1.0 - g * g)  # dg, through the tanh
    return dz, dc_total * f


class LSTMStepCache(NamedTuple):
    linear: LinearCache
    cell: LSTMCellCache


def lstm_step_forward(x, h_prev, c_prev, W, b):
    """One whole step: z = [x, h_prev] W + b, then the cell.

    Shapes: x [B, D], h_prev, c_prev [B, C], W [D + C, 4C], b [4C] -> h, c [B, C].
    """
    xp = array_module(x)
    z, linear_cache = linear_forward(xp.concatenate([x, h_prev], axis=1), W, b)
    (h, c), cell_cache = lstm_cell_forward(z, c_prev)
    return (h, c), LSTMStepCache(linear_cache, cell_cache)


def lstm_step_backward(dh, dc, cache: LSTMStepCache):
    """(dx, dh_prev, dc_prev, dW, db): the cell backward, then the affine map's."""
    dz, dc_prev = lstm_cell_backward(dh, dc, cache.cell)
    dxh, dW, db = linear_backward(dz, cache.linear)
    D = dxh.shape[1] - dh.shape[1]
    return dxh[:, :D], dxh[:, D:], dc_prev, dW, db
