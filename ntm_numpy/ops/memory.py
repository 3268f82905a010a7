"""Reading from and writing to the memory matrix, each a forward/backward pair.

Graves et al. (2014), section 3.1-3.2, for R read heads and W write heads at once::

    read    r_h = sum_i w_h,i M_i                     r = w M                      (2)
    write   M_t = M_{t-1} * prod_h (1 - w_h e_h^T)  +  sum_h w_h a_h^T             (3), (4)

Shapes: memory [B, N, M], weightings [B, H, N], erase and add vectors [B, W, M], reads [B, R, M].

Every gradient of a memory here has the same form, a few outer products plus a per-row rescaling
of the memory itself (``MemoryGrad``). The model keeps them in that form and adds all of one
memory's gradients in one pass (``memory_grad_total``), instead of one [B, N, M] pass for each.
"""

from __future__ import annotations

from typing import NamedTuple

from ..backend import array_module


def outer_sum(rows, cols):
    """sum_k rows_k cols_k^T:  rows [..., K, N], cols [..., K, M] -> [..., N, M].

    A batched matrix product rows^T cols. NumPy hands a product to BLAS only when its inner
    dimension exceeds 1, and falls back to a loop 5-10x slower otherwise, so a single term is
    padded with a zero term (an exact no-op in the sum).

    The product is computed as (cols^T rows)^T: the same numbers, laid out [..., M, N] in memory
    and returned as a transposed view. Every memory M_t and every dense dL/dM_t is born here
    (or from an elementwise op on such arrays, which keeps their layout), so they all store
    their columns contiguously, the layout in which the key products k . M_i, the row norms
    and these products are fastest (docs/performance.md has the measurements).
    """
    xp = array_module(rows)
    if rows.shape[-2] == 1:
        rows = xp.concatenate([rows, xp.zeros(rows.shape, dtype=rows.dtype)], axis=-2)
        cols = xp.concatenate([cols, cols], axis=-2)
    return (cols.swapaxes(-1, -2) @ rows).swapaxes(-1, -2)


class MemoryGrad(NamedTuple):
    """A gradient dL/dM [B, N, M] held as  rows^T cols + scale * M::

        dM_i = sum_k rows_k,i cols_k + scale_i M_i

    rows [B, K, N], cols [B, K, M], scale [B, N] (or None for no rescaling term). A read gives
    rows = w, cols = dr; the cosine of content addressing gives rows = its dK/dd, cols = the keys,
    and the rescaling through |M_i|.
    """

    rows: object
    cols: object
    scale: object = None


def memory_grad_total(memory, grads, into=None):
    """sum of ``grads`` (MemoryGrads of the same ``memory`` [B, N, M]), dense [B, N, M].

    With ``into`` given, the sum is added to it in place and ``into`` is returned. One product
    for all the outer products, one pass for all the rescalings.
    """
    xp = array_module(memory)
    total = outer_sum(
        xp.concatenate([g.rows for g in grads], axis=1),
        xp.concatenate([g.cols for g in grads], axis=1),
    )
    scales = [g.scale for g in grads if g.scale is not None]
    if scales:
        total += xp.einsum("bn,bnm->bnm", sum(scales[1:], scales[0]), memory)
    if into is None:
        return total
    into += total
    return into


class ReadCache(NamedTuple):
    w: object  # [B, R, N]
    memory: object  # [B, N, M]


def read_forward(w, memory):
    """r_h = sum_i w_h,i M_i, as a batched product.  w [B, R, N], memory [B, N, M] -> [B, R, M]."""
    return w @ memory, ReadCache(w, memory)


def read_backward_factored(dr, cache: ReadCache):
    """(dw, dM) = (dr M^T, w^T dr):  dw_h,i = dr_h . M_i,  dM_i = sum_h w_h,i dr_h.

    dM is returned as ``MemoryGrad(rows=w, cols=dr)``.
    """
    w, memory = cache
    return dr @ memory.swapaxes(-1, -2), MemoryGrad(w, dr)


def read_backward(dr, cache: ReadCache):
    """(dw, dM) as ``read_backward_factored``, with dM dense [B, N, M]."""
    dw, dmemory = read_backward_factored(dr, cache)
    return dw, memory_grad_total(cache.memory, [dmemory])


class WriteCache(NamedTuple):
    memory_prev: object  # [B, N, M]
    w: object  # [B, W, N]
    erase: object  # [B, W, M]
    add: object  # [B, W, M]


def erase_factors(w, erase):
    """K_h = 1 - w_h e_h^T for every write head:  w [B, W, N], erase [B, W, M] -> [B, W, N, M].

    1 1^T - w_h e_h^T is a sum of two outer products, so it is one matrix product per head.
    """
    xp = array_module(w)
    rows = xp.empty((*w.shape[:2], 2, w.shape[2]), dtype=w.dtype)  # [B, W, 2, N]: 1, -w_h
    rows[:, :, 0] = 1.0
    xp.negative(w, out=rows[:, :, 1])
    cols = xp.empty((*erase.shape[:2], 2, erase.shape[2]), dtype=erase.dtype)  # 1, e_h
    cols[:, :, 0] = 1.0
    cols[:, :, 1] = erase
    return outer_sum(rows, cols)


def write_forward(memory_prev, w, erase, add):
    """M_t = M_{t-1} * prod_h (1 - w_h e_h^T) + sum_h w_h a_h^T.

    Each head erases, then every head adds; with several write heads the erase factors multiply,
    so the order of the heads does not matter. The erase factors are not cached: the backward
    recomputes them, one small product, rather than keep a [B, W, N, M] array for every step.

    Shapes: memory_prev [B, N, M], w [B, W, N], erase, add [B, W, M] -> M_t [B, N, M].
    """
    keep = erase_factors(w, erase)
    kept = keep[:, 0] if keep.shape[1] == 1 else keep.prod(axis=1)
    kept *= memory_prev  # M_{t-1} * prod_h K_h
    memory = outer_sum(w, add)  # sum_h w_h a_h^T
    memory += kept
    return memory, WriteCache(memory_prev, w, erase, add)


def _product_of_the_others(keep):
    """[B, W, N, M]: for each head h, prod_{h' != h} keep_h', without dividing by keep_h.

    An exclusive prefix product times an exclusive suffix product: dividing the full product by
    keep_h would be 0/0 wherever a head erases a location completely (w e = 1).
    """
    xp = array_module(keep)
    ones = xp.ones_like(keep[:, :1])
    before = xp.concatenate([ones, xp.cumprod(keep[:, :-1], axis=1)], axis=1)
    after = xp.concatenate([xp.cumprod(keep[:, :0:-1], axis=1)[:, ::-1], ones], axis=1)
    return before * after


def write_backward(dmemory, cache: WriteCache):
    """Gradients of (memory_prev, w, erase, add) from dL/dM_t [B, N, M].

    With P = prod_h K_h, K_h = 1 - w_h e_h^T, and P_{-h} = prod_{h' != h} K_h':

        dM_{t-1}  = dM_t * P
        dK_h      = dM_t * M_{t-1} * P_{-h}
        dw_h,i    = -sum_m dK_h,im e_h,m  +  sum_m dM_t,im a_h,m
        de_h,m    = -sum_i dK_h,im w_h,i
        da_h      = sum_i w_h,i dM_t,i                    (da = w dM_t)
    """
    memory_prev, w, erase, add = cache
    keep = erase_factors(w, erase)
    dkeep_all = dmemory * memory_prev  # [B, N, M]
    if keep.shape[1] == 1:
        dkeep = dkeep_all[:, None]  # one head: the product of the others is empty, i.e. 1
        dmemory_prev = keep[:, 0]
    else:
        dkeep = dkeep_all[:, None] * _product_of_the_others(keep)  # [B, W, N, M]
        dmemory_prev = keep.prod(axis=1)
    dmemory_prev *= dmemory  # dM_t * prod_h K_h, in the recomputed factors' buffer
    # keep_h = 1 - w_h e_h^T, so dw_h = -dK_h e_h and de_h = -dK_h^T w_h
    dw = add @ dmemory.swapaxes(-1, -2) - (dkeep @ erase[..., :, None])[..., 0]
    derase = -(w[..., None, :] @ dkeep)[..., 0, :]
    dadd = w @ dmemory
    return dmemory_prev, dw, derase, dadd
