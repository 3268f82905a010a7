"""Addressing: the four stages that turn a head's parameters into a weighting over memory rows.

Graves et al. (2014), section 3.3, equations (5)-(9)::

    content        w_c = softmax(beta * K(k, M_i))            K = cosine similarity   (5), (6)
    interpolation  w_g = g * w_c + (1 - g) * w_prev                                   (7)
    shift          w~_i = sum_j w_g[(i - j) mod N] * s_j,    j = -S..S                 (8)
    sharpening     w_i = w~_i^gamma / sum_k w~_k^gamma                                (9)

Every stage works on all heads at once: weightings are [B, H, N], keys [B, H, M],
beta / g / gamma [B, H, 1], shift distributions [B, H, 2S+1], memory [B, N, M]. Each stage is a
forward/backward pair; ``address_forward`` / ``address_backward`` chain the four.

Numerics: the cosine divides by ``|k| |M_i| + eps`` so a zero memory row or a zero key gives a
similarity of 0, not NaN; the softmax subtracts its max; sharpening is computed as
``softmax(gamma * log(w~ + tiny))``, which equals (9) but can neither take a power of an exact
zero, nor underflow to 0/0 when gamma is large.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from ..backend import array_module
from .activations import softmax
from .memory import MemoryGrad, memory_grad_total
from .reductions import dot_last

COSINE_EPS = 1e-8  # added to |k| |M_i|: a zero row or key has similarity 0
NORM_FLOOR = 1e-30  # |k| is floored here before dividing: d|k|/dk = k/|k| becomes 0 at k = 0
SHARPEN_TINY = 1e-30  # added to w~ before the log: w~ can underflow to exactly 0 in float32


# --- content ------------------------------------------------------------------------------


class ContentCache(NamedTuple):
    key: object  # [B, H, M]
    memory: object  # [B, N, M]
    beta: object  # [B, H, 1]
    key_norm: object  # [B, H, 1]   |k|
    memory_norm: object  # [B, 1, N]   |M_i|
    denominator: object  # [B, H, N]   |k| |M_i| + eps
    cosine: object  # [B, H, N]   K(k, M_i)
    w: object  # [B, H, N]   the content weighting


def content_forward(key, memory, beta, memory_norm=None):
    """w_c = softmax_i(beta * K(k, M_i)),  K(k, M_i) = k . M_i / (|k| |M_i| + eps).

    Shapes: key [B, H, M], memory [B, N, M], beta [B, H, 1] -> w_c [B, H, N]. ``memory_norm``
    [B, 1, N], the row norms |M_i|, may be passed in when they are known already (the model's
    write heads address the memory its read heads addressed a step before).
    """
    xp = array_module(key)
    dot = key @ memory.swapaxes(-1, -2)  # [B, H, N]  k . M_i for every head and row
    key_norm = xp.sqrt(dot_last(key, key))  # [B, H, 1]
    if memory_norm is None:
        memory_norm = row_norms(memory)
    denominator = key_norm * memory_norm + COSINE_EPS
    cosine = dot / denominator
    w = softmax(beta * cosine)
    return w, ContentCache(key, memory, beta, key_norm, memory_norm, denominator, cosine, w)


def row_norms(memory):
    """|M_i| = sqrt(sum_m M_im^2):  memory [B, N, M] -> [B, 1, N]."""
    xp = array_module(memory)
    return xp.sqrt(xp.einsum("bnm,bnm->bn", memory, memory))[:, None, :]


def content_backward_factored(dw, cache: ContentCache):
    """Gradients of (key, memory, beta) from dL/dw_c [B, H, N]; dM as a ``MemoryGrad``.

    With z = beta K, K = d / D, d = k . M_i, D = |k| |M_i| + eps:

        dz      = w_c * (dw - sum_i dw_i w_c,i)          softmax
        dbeta   = sum_i dz_i K_i
        dd      = dz * beta / D                          dK/dd = 1/D
        dD      = -dd * K                                dK/dD = -d/D^2 = -K/D
        d|k|    = sum_i dD_i |M_i|,    d|M_i| = sum_h dD_hi |k_h|
        dk      = sum_i dd_i M_i  + d|k| k / |k|
        dM_i    = sum_h dd_hi k_h + d|M_i| M_i / |M_i|    MemoryGrad(dd, k, d|M_i| / |M_i|)
    """
    xp = array_module(dw)
    key, memory, beta, key_norm, memory_norm, denominator, cosine, w = cache
    dz = w * (dw - dot_last(dw, w))
    dbeta = dot_last(dz, cosine)
    ddot = dz * beta / denominator
    ddenominator = -ddot * cosine
    dkey_norm = dot_last(ddenominator, memory_norm)  # [B, H, 1]
    dmemory_norm = (ddenominator * key_norm).sum(axis=1)  # [B, N]
    dkey = ddot @ memory + key * (dkey_norm / xp.maximum(key_norm, NORM_FLOOR))
    scale = dmemory_norm / xp.maximum(memory_norm[:, 0, :], NORM_FLOOR)
    return dkey, MemoryGrad(ddot, key, scale), dbeta


def content_backward(dw, cache: ContentCache):
    """(dkey, dmemory, dbeta) as ``content_backward_factored``, with dmemory dense [B, N, M]."""
    dkey, dmemory, dbeta = content_backward_factored(dw, cache)
    return dkey, memory_grad_total(cache.memory, [dmemory]), dbeta


def content_addressing(key, memory, beta):
    """The reference's ``content_addressing``: the content weights alone.

    Shapes, as in ``Edifice.Memory.NTM``: key [B, M], memory [B, N, M], beta [B, 1] -> [B, N];
    with a heads axis: key [B, H, M], beta [B, H, 1] -> [B, H, N].
    """
    if key.ndim == 2:
        return content_forward(key[:, None, :], memory, beta[:, None, :])[0][:, 0, :]
    return content_forward(key, memory, beta)[0]


# --- interpolation ------------------------------------------------------------------------


class InterpolateCache(NamedTuple):
    gate: object  # [B, H, 1]
    difference: object  # [B, H, N]   w_c - w_prev


def interpolate_forward(w_content, w_prev, gate):
    """w_g = g * w_c + (1 - g) * w_prev = w_prev + g * (w_c - w_prev).

    Shapes: w_content, w_prev [B, H, N], gate [B, H, 1] -> w_g [B, H, N].
    """
    difference = w_content - w_prev
    return w_prev + gate * difference, InterpolateCache(gate, difference)


def interpolate_backward(dw, cache: InterpolateCache):
    """(dw_c, dw_prev, dg) = (g dw,  (1 - g) dw,  sum_i dw_i (w_c,i - w_prev,i))."""
    gate, difference = cache
    dw_content = gate * dw
    return dw_content, dw - dw_content, dot_last(dw, difference)


# --- shift --------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _circular_padding(xp, N: int, S: int):
    """Indices (m - S) mod N for m = 0 .. N + 2S - 1: a row of N, wrapped S wide each side."""
    return xp.arange(-S, N + S) % N


class ShiftCache(NamedTuple):
    padded: object  # [B, H, N + 2S]   padded[..., m] = w_g[(m - S) mod N]
    shift: object  # [B, H, 2S+1]


def shift_forward(w_gated, shift):
    """Circular convolution  w~_i = sum_{j=-S..S} w_g[(i - j) mod N] * s_j.

    s[..., S + j] is the weight of a shift by j rows: all of s on j = +1 moves the focus one row
    forward. With w_g padded circularly by S on each side, p_m = w_g[(m - S) mod N], every
    shift is a slice:  w_g[(i - j) mod N] = p[i + S - j],  so

        w~ = sum_{k=0..2S} s_k p[2S - k : 2S - k + N]        (k = j + S)

    a loop over the 2S+1 shifts, each over every batch row and head at once.

    Shapes: w_gated [B, H, N], shift [B, H, 2S+1] -> w~ [B, H, N].
    """
    xp = array_module(w_gated)
    N, K = w_gated.shape[-1], shift.shape[-1]
    S = (K - 1) // 2
    padded = w_gated[..., _circular_padding(xp, N, S)]
    shifted = shift[..., :1] * padded[..., 2 * S : 2 * S + N]
    for k in range(1, K):
        shifted += shift[..., k : k + 1] * padded[..., 2 * S - k : 2 * S - k + N]
    return shifted, ShiftCache(padded, shift)


def shift_backward(dw, cache: ShiftCache):
    """(dw_g, ds) from dL/dw~ [B, H, N].

    ds_k    = sum_i dw~_i p[i + 2S - k]                  the slice that s_k scaled
    dw_g,m  = sum_j s_j dw~[(m + j) mod N]               the adjoint, a correlation:
            = sum_k s_k q[m + k],   q_m = dw~[(m - S) mod N]   (dw~ padded the same way)
    """
    xp = array_module(dw)
    padded, shift = cache
    N, K = dw.shape[-1], shift.shape[-1]
    S = (K - 1) // 2
    dshift = xp.empty(shift.shape, dtype=dw.dtype)
    for k in range(K):
        dshift[..., k : k + 1] = dot_last(dw, padded[..., 2 * S - k : 2 * S - k + N])
    padded_dw = dw[..., _circular_padding(xp, N, S)]
    dw_gated = shift[..., :1] * padded_dw[..., :N]
    for k in range(1, K):
        dw_gated += shift[..., k : k + 1] * padded_dw[..., k : k + N]
    return dw_gated, dshift


# --- sharpening ---------------------------------------------------------------------------


class SharpenCache(NamedTuple):
    shifted_plus_tiny: object  # [B, H, N]   w~ + tiny
    log_shifted: object  # [B, H, N]   log(w~ + tiny)
    gamma: object  # [B, H, 1]
    w: object  # [B, H, N]


def sharpen_forward(w_shifted, gamma):
    """w_i = w~_i^gamma / sum_k w~_k^gamma = softmax_i(gamma * log w~_i).

    Shapes: w_shifted [B, H, N], gamma [B, H, 1] (gamma >= 1) -> w [B, H, N].
    """
    xp = array_module(w_shifted)
    shifted_plus_tiny = w_shifted + SHARPEN_TINY
    log_shifted = xp.log(shifted_plus_tiny)
    w = softmax(gamma * log_shifted)
    return w, SharpenCache(shifted_plus_tiny, log_shifted, gamma, w)


def sharpen_backward(dw, cache: SharpenCache):
    """(dw~, dgamma) from dL/dw [B, H, N].  With z = gamma log w~:

    dz      = w * (dw - sum_i dw_i w_i)               softmax
    dgamma  = sum_i dz_i log w~_i
    dw~     = dz * gamma / w~
    """
    shifted_plus_tiny, log_shifted, gamma, w = cache
    dz = w * (dw - dot_last(dw, w))
    return dz * gamma / shifted_plus_tiny, dot_last(dz, log_shifted)


# --- the four stages chained ----------------------------------------------------------------


class AddressCache(NamedTuple):
    content: ContentCache
    interpolate: InterpolateCache
    shift: ShiftCache
    sharpen: SharpenCache


class AddressGrads(NamedTuple):
    key: object  # [B, H, M]
    beta: object  # [B, H, 1]
    gate: object  # [B, H, 1]
    shift: object  # [B, H, 2S+1]
    gamma: object  # [B, H, 1]
    w_prev: object  # [B, H, N]
    memory: object  # [B, N, M], or a MemoryGrad from address_backward_factored


def address_forward(key, beta, gate, shift, gamma, w_prev, memory, memory_norm=None):
    """The head's weighting w_t [B, H, N]: content -> interpolation -> shift -> sharpening.

    ``memory_norm`` [B, 1, N]: the rows' norms, if known (``content_forward``).
    """
    w_content, content_cache = content_forward(key, memory, beta, memory_norm)
    w_gated, interpolate_cache = interpolate_forward(w_content, w_prev, gate)
    w_shifted, shift_cache = shift_forward(w_gated, shift)
    w, sharpen_cache = sharpen_forward(w_shifted, gamma)
    return w, AddressCache(content_cache, interpolate_cache, shift_cache, sharpen_cache)


def address_backward_factored(dw, cache: AddressCache) -> AddressGrads:
    """The four stage backwards in reverse order; every input's gradient, dM as a MemoryGrad."""
    dw_shifted, dgamma = sharpen_backward(dw, cache.sharpen)
    dw_gated, dshift = shift_backward(dw_shifted, cache.shift)
    dw_content, dw_prev, dgate = interpolate_backward(dw_gated, cache.interpolate)
    dkey, dmemory, dbeta = content_backward_factored(dw_content, cache.content)
    return AddressGrads(dkey, dbeta, dgate, dshift, dgamma, dw_prev, dmemory)


def address_backward(dw, cache: AddressCache) -> AddressGrads:
    """``address_backward_factored`` with the memory's gradient dense [B, N, M]."""
    grads = address_backward_factored(dw, cache)
    return grads._replace(memory=memory_grad_total(cache.content.memory, [grads.memory]))


def address_stages(cache: AddressCache):
    """The four weightings (content, gated, shifted, sharpened), each [B, H, N], for plots.

    Recovered from a cache: w_g = w_prev + g (w_c - w_prev) is not stored, so it is the middle
    of the shift's circularly padded copy.
    """
    S = (cache.shift.shift.shape[-1] - 1) // 2
    N = cache.content.w.shape[-1]
    w_content = cache.content.w
    w_gated = cache.shift.padded[..., S : S + N]
    w_shifted = cache.sharpen.shifted_plus_tiny - SHARPEN_TINY
    return w_content, w_gated, w_shifted, cache.sharpen.w
