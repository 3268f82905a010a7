"""Reading from and writing to the memory matrix, each a forward/backward pair.

Graves et al. (2014), section 3.1-3.2, for R read heads and W write heads at once::

    read    r_h = sum_i w_h,i M_i                     r = w M                      (2)
    write   M_t = M_{t-1} * prod_h (1 - w_h e_h^T)  +  sum_h w_h a_h^T             (3), (4)

Shapes: memory [B, N, M], weightings [B, H, N], erase and add vectors [B, W, M], reads [B, R, M].
"""

from __future__ import annotations

from typing import NamedTuple

from ..backend import array_module


class ReadCache(NamedTuple):
    w: object  # [B, R, N]
    memory: object  # [B, N, M]


def read_forward(w, memory):
    """r_h = sum_i w_h,i M_i, as a batched product.  w [B, R, N], memory [B, N, M] -> [B, R, M]."""
    return w @ memory, ReadCache(w, memory)


def read_backward(dr, cache: ReadCache):
    """(dw, dM) = (dr M^T, w^T dr):  dw_h,i = dr_h . M_i,  dM_i = sum_h w_h,i dr_h."""
    w, memory = cache
    xp = array_module(dr)
    return dr @ memory.swapaxes(-1, -2), xp.einsum("bhn,bhm->bnm", w, dr)


class WriteCache(NamedTuple):
    memory_prev: object  # [B, N, M]
    w: object  # [B, W, N]
    erase: object  # [B, W, M]
    add: object  # [B, W, M]
    keep: object  # [B, W, N, M]  each head's erase factor  1 - w_h e_h^T
    keep_all: object  # [B, N, M]     their product over the heads


def write_forward(memory_prev, w, erase, add):
    """M_t = M_{t-1} * prod_h (1 - w_h e_h^T) + sum_h w_h a_h^T.

    Each head erases, then every head adds; with several write heads the erase factors multiply,
    so the order of the heads does not matter.

    Shapes: memory_prev [B, N, M], w [B, W, N], erase, add [B, W, M] -> M_t [B, N, M].
    """
    xp = array_module(memory_prev)
    keep = xp.einsum("bhn,bhm->bhnm", w, erase)  # [B, W, N, M]  w_h e_h^T, then 1 - that
    xp.subtract(1.0, keep, out=keep)
    keep_all = keep[:, 0] if keep.shape[1] == 1 else keep.prod(axis=1)
    memory = xp.einsum("bhn,bhm->bnm", w, add)  # sum_h w_h a_h^T
    memory += memory_prev * keep_all
    return memory, WriteCache(memory_prev, w, erase, add, keep, keep_all)


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
    memory_prev, w, erase, add, keep, keep_all = cache
    dmemory_prev = dmemory * keep_all
    dkeep_all = dmemory * memory_prev  # [B, N, M]
    if keep.shape[1] == 1:
        dkeep = dkeep_all[:, None]  # one head: the product of the others is empty, i.e. 1
    else:
        dkeep = dkeep_all[:, None] * _product_of_the_others(keep)  # [B, W, N, M]
    # keep_h = 1 - w_h e_h^T, so dw_h = -dK_h e_h and de_h = -dK_h^T w_h
    dw = add @ dmemory.swapaxes(-1, -2) - (dkeep @ erase[..., :, None])[..., 0]
    derase = -(w[..., None, :] @ dkeep)[..., 0, :]
    dadd = w @ dmemory
    return dmemory_prev, dw, derase, dadd
