"""From the controller's state to every head's parameters, in one affine map.

Graves et al. (2014), section 3.3: each head emits a key k, a key strength beta, an
interpolation gate g, a shift distribution s over the 2S+1 offsets and a sharpening exponent
gamma; a write head also emits an erase vector e and an add vector a. The raw values come from
one affine map of the controller state, ``raw = h W + b``, and are then constrained::

    k      raw                  any real vector            [B, H, M]
    beta   softplus(raw)        beta >= 0                  [B, H, 1]
    gamma  1 + softplus(raw)    gamma >= 1                 [B, H, 1]
    g      sigma(raw)           in (0, 1)                  [B, H, 1]
    e      sigma(raw)           in (0, 1)^M                [B, W, M]
    a      tanh(raw)            in (-1, 1)^M               [B, W, M]
    s      softmax(raw)         a distribution on -S..S    [B, H, 2S+1]

Heads are an axis: the H = W + R heads are laid out write heads first, then read heads. The raw
vector is grouped by activation, not by head, so that each activation is one call over every
head (the layout is ``HeadLayout``)::

    raw = [ k (H*M) | beta, gamma (2H) | g (H), e (W*M) | a (W*M) | s (H*(2S+1)) ]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from .backend import array_module
from .ops.activations import (
    InputCache,
    OutputCache,
    SoftmaxCache,
    sigmoid_backward,
    sigmoid_forward,
    softmax_backward,
    softmax_forward,
    softplus_backward,
    softplus_forward,
    tanh_backward,
    tanh_forward,
)


@dataclass(frozen=True)
class HeadLayout:
    """Where each head parameter sits in the raw vector."""

    num_write_heads: int  # W
    num_read_heads: int  # R
    memory_dim: int  # M
    shift_range: int  # S: shifts -S..S

    @property
    def num_heads(self) -> int:
        """H = W + R."""
        return self.num_write_heads + self.num_read_heads

    @property
    def num_shifts(self) -> int:
        """K = 2S + 1."""
        return 2 * self.shift_range + 1

    @property
    def key(self) -> slice:
        return slice(0, self.num_heads * self.memory_dim)

    @property
    def softplus(self) -> slice:
        """beta for every head, then gamma for every head."""
        start = self.key.stop
        return slice(start, start + 2 * self.num_heads)

    @property
    def sigmoid(self) -> slice:
        """g for every head, then e for every write head."""
        start = self.softplus.stop
        return slice(start, start + self.num_heads + self.num_write_heads * self.memory_dim)

    @property
    def tanh(self) -> slice:
        """a for every write head."""
        start = self.sigmoid.stop
        return slice(start, start + self.num_write_heads * self.memory_dim)

    @property
    def softmax(self) -> slice:
        """s for every head."""
        start = self.tanh.stop
        return slice(start, start + self.num_heads * self.num_shifts)

    @property
    def size(self) -> int:
        """P, the width of the raw vector."""
        return self.softmax.stop


class Addressing(NamedTuple):
    """The addressing parameters of a group of heads (the write heads, or the read heads)."""

    key: object  # [B, H, M]
    beta: object  # [B, H, 1]
    gate: object  # [B, H, 1]
    shift: object  # [B, H, 2S+1]
    gamma: object  # [B, H, 1]


class HeadParams(NamedTuple):
    write: Addressing  # the W write heads
    erase: object  # [B, W, M]
    add: object  # [B, W, M]
    read: Addressing  # the R read heads


class HeadsCache(NamedTuple):
    softplus: InputCache
    sigmoid: OutputCache
    tanh: OutputCache
    softmax: SoftmaxCache


def heads_forward(raw, layout: HeadLayout) -> tuple[HeadParams, HeadsCache]:
    """The constrained head parameters from ``raw = h W + b`` [B, P]; see the module docstring."""
    B, H, W, M = raw.shape[0], layout.num_heads, layout.num_write_heads, layout.memory_dim
    key = raw[:, layout.key].reshape(B, H, M)
    positive, softplus_cache = softplus_forward(raw[:, layout.softplus])
    beta = positive[:, :H, None]
    gamma = positive[:, H:, None] + 1.0  # oneplus
    unit, sigmoid_cache = sigmoid_forward(raw[:, layout.sigmoid])
    gate = unit[:, :H, None]
    erase = unit[:, H:].reshape(B, W, M)
    add, tanh_cache = tanh_forward(raw[:, layout.tanh])
    add = add.reshape(B, W, M)
    shift, softmax_cache = softmax_forward(raw[:, layout.softmax].reshape(B, H, layout.num_shifts))

    def group(heads: slice) -> Addressing:
        return Addressing(
            key[:, heads], beta[:, heads], gate[:, heads], shift[:, heads], gamma[:, heads]
        )

    params = HeadParams(group(slice(0, W)), erase, add, group(slice(W, H)))
    return params, HeadsCache(softplus_cache, sigmoid_cache, tanh_cache, softmax_cache)


def heads_backward(dwrite: Addressing, derase, dadd, dread: Addressing, cache: HeadsCache):
    """dL/draw [B, P] from the gradients of every head parameter.

    ``dwrite`` and ``dread`` may be any tuples with fields key, beta, gate, shift, gamma (such as
    ``ops.addressing.AddressGrads``). Each activation's backward is applied to its block:

        d raw_k = dk,  d raw_beta = dbeta sigma(raw),  d raw_gamma = dgamma sigma(raw),
        d raw_g = dg g (1 - g),  d raw_e = de e (1 - e),  d raw_a = da (1 - a^2),
        d raw_s = s * (ds - sum ds s)
    """
    xp = array_module(derase)
    B = derase.shape[0]

    def heads_axis(name: str):  # write heads then read heads, flattened after the batch axis
        return xp.concatenate([getattr(dwrite, name), getattr(dread, name)], axis=1)

    dkey = heads_axis("key").reshape(B, -1)
    dpositive = xp.concatenate([heads_axis("beta")[..., 0], heads_axis("gamma")[..., 0]], axis=1)
    dunit = xp.concatenate([heads_axis("gate")[..., 0], derase.reshape(B, -1)], axis=1)
    dshift = heads_axis("shift")
    return xp.concatenate(
        [
            dkey,
            softplus_backward(dpositive, cache.softplus),
            sigmoid_backward(dunit, cache.sigmoid),
            tanh_backward(dadd.reshape(B, -1), cache.tanh),
            softmax_backward(dshift, cache.softmax).reshape(B, -1),
        ],
        axis=1,
    )
