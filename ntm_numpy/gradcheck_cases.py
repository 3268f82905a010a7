"""The one list of gradient checks: every op pair and the whole model, each on random inputs
away from degenerate points. ``gradcheck.audit`` runs them (``python -m ntm_numpy gradcheck``)
and the tests parametrize over them, so a check is written once and run by both.

An ``OpCase`` is an op pair, ``forward(*inputs) -> (out, cache)`` and
``backward(dout, cache) -> gradients of the inputs``, with a maker of its inputs from a
``numpy.random.Generator``; a ``ModelCase`` is a tiny NTM's options and a sequence length.
Everything is float64 on the host: finite differences in float32 measure rounding.

Away from degenerate points means: key strengths beta > 0, gates g in (0, 1), sharpening
gamma > 1, erase in (0, 1), and weightings that are positive and not uniform (a uniform
weighting hides errors that a weighting's sum to one would cancel).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .heads import Addressing, HeadLayout, heads_backward, heads_forward
from .model import CONTROLLERS, MEMORY_INITS, NTM
from .ops import activations as act
from .ops import addressing as adr
from .ops import linear, loss, lstm, memory

Inputs = list[np.ndarray]


@dataclass(frozen=True)
class OpCase:
    """One op pair on inputs of one set of sizes; ``op`` is the audit's row, ``sizes`` tells
    the cases of one op apart."""

    op: str
    sizes: str
    forward: Callable
    backward: Callable
    make_inputs: Callable[[np.random.Generator], Inputs]
    wrt: tuple[int, ...] | None = None  # the inputs to check (None: every one)

    @property
    def id(self) -> str:
        return f"{self.op}-{self.sizes}"


@dataclass(frozen=True)
class ModelCase:
    """The whole model through time: ``tiny_ntm(**options)`` on ``model_sequence`` of ``T``
    steps (drawn with seed ``seed + data_seed``), masked or not."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)
    T: int = 6
    data_seed: int = 0
    masked: bool = True

    @property
    def id(self) -> str:
        return self.name


def case_id(**sizes: Any) -> str:
    """``case_id(B=2, H=3)`` -> ``"B=2-H=3"``."""
    return "-".join(f"{k}={v}" for k, v in sizes.items())


# --- input makers -----------------------------------------------------------------------------


def random_weighting(rng: np.random.Generator, *shape: int) -> np.ndarray:
    """Random positive numbers normalised along the last axis: non-uniform, away from 0."""
    w = rng.random(shape) + 0.05
    return w / w.sum(axis=-1, keepdims=True)


def address_inputs(rng: np.random.Generator, B: int, H: int, N: int, S: int, M: int = 4) -> Inputs:
    """key [B,H,M], beta, g [B,H,1], shift [B,H,2S+1], gamma [B,H,1], w_prev [B,H,N],
    memory [B,N,M]: ``address_forward``'s inputs, away from degenerate points."""
    return [
        rng.standard_normal((B, H, M)),
        0.5 + 3.0 * rng.random((B, H, 1)),  # beta > 0
        0.1 + 0.8 * rng.random((B, H, 1)),  # g in (0, 1)
        random_weighting(rng, B, H, 2 * S + 1),
        1.2 + 2.0 * rng.random((B, H, 1)),  # gamma > 1
        random_weighting(rng, B, H, N),  # non-uniform previous weights
        rng.standard_normal((B, N, M)),
    ]


def write_inputs(rng: np.random.Generator, B: int, W: int, N: int, M: int = 4) -> Inputs:
    """memory [B,N,M], w [B,W,N], erase [B,W,M] in (0, 1), add [B,W,M]."""
    return [
        rng.standard_normal((B, N, M)),
        random_weighting(rng, B, W, N),
        0.1 + 0.8 * rng.random((B, W, M)),  # erase in (0, 1)
        rng.standard_normal((B, W, M)),
    ]


def fully_erasing_write_inputs(rng: np.random.Generator, W: int, B: int = 2, N: int = 5) -> Inputs:
    """Write inputs where head 0 (and head 1, when there is one) erase row 1, column 2
    completely: w_h,1 = 1 and e_h,2 = 1 exactly, so 1 - w e = 0 there."""
    memory_prev, w, erase, add = write_inputs(rng, B, W, N)
    for h in range(min(W, 2)):
        w[:, h, :] = 0.0
        w[:, h, 1] = 1.0
        erase[:, h, 2] = 1.0
    return [memory_prev, w, erase, add]


def heads_pair(layout: HeadLayout) -> tuple[Callable, Callable]:
    """heads_forward / heads_backward as an op pair over every output, in a fixed order."""

    def forward(raw):
        params, cache = heads_forward(raw, layout)
        return (*params.write, params.erase, params.add, *params.read), cache

    def backward(*d):
        *douts, cache = d
        return heads_backward(
            Addressing(*douts[:5]), douts[5], douts[6], Addressing(*douts[7:]), cache
        )

    return forward, backward


def _loss_inputs(rng: np.random.Generator, B: int, T: int = 5, K: int = 4) -> Inputs:
    """logits [T,B,K], binary targets, a 0/1 mask [T,B] that scores the first step."""
    targets = (rng.random((T, B, K)) > 0.5).astype(float)
    mask = (rng.random((T, B)) > 0.3).astype(float)
    mask[0] = 1.0
    return [2.0 * rng.standard_normal((T, B, K)), targets, mask]


def _linear_halves_backward(dy, cache):
    """linear_backward from its two halves: the input's gradient, the parameters' (summed over
    every leading axis)."""
    return (linear.linear_input_grad(dy, cache.W), *linear.linear_param_grads(dy, cache.x))


# --- the cases --------------------------------------------------------------------------------

ACTIVATIONS = {
    "sigmoid": (act.sigmoid_forward, act.sigmoid_backward),
    "tanh": (act.tanh_forward, act.tanh_backward),
    "softplus": (act.softplus_forward, act.softplus_backward),
    "oneplus": (act.oneplus_forward, act.oneplus_backward),
    "softmax": (act.softmax_forward, act.softmax_backward),
}

# addressing: B > 1, H in {1, 3}, N not a power of two, S in {1, 2}
ADDRESS_SIZES = ((2, 1, 5, 1), (3, 3, 7, 2), (2, 3, 5, 2), (3, 1, 7, 1))
SHIFT_SIZES = (
    *((B, H, N, S) for S in (1, 2) for H in (1, 3) for B, N in ((2, 5), (3, 7))),
    *((2, 3, N, S) for N, S in ((3, 2), (2, 1), (1, 1))),  # N < 2S+1: offsets land on a row twice
)
HEAD_LAYOUTS = ((1, 1, 1), (2, 1, 2), (1, 3, 1), (3, 2, 2), (2, 2, 1))  # (W, R, S)


def _activation_cases() -> list[OpCase]:
    cases = [
        OpCase(
            name,
            "shape=" + "x".join(map(str, shape)),
            forward,
            backward,
            lambda rng, shape=shape: [2.0 * rng.standard_normal(shape)],
        )
        for name, (forward, backward) in ACTIVATIONS.items()
        for shape in ((2, 5), (3, 3, 7))
    ]
    cases += [
        OpCase(
            "softmax",
            f"axis={axis}",
            lambda v, axis=axis: act.softmax_forward(v, axis=axis),
            act.softmax_backward,
            lambda rng: [rng.standard_normal((3, 5, 7))],
        )
        for axis in (0, 1, 2, -1)
    ]
    return cases


def _linear_inputs(rng: np.random.Generator, leading: tuple, D_in: int, D_out: int) -> Inputs:
    """x [*leading, D_in], W [D_in, D_out], b [D_out]."""
    return [
        rng.standard_normal((*leading, D_in)),
        rng.standard_normal((D_in, D_out)),
        rng.standard_normal(D_out),
    ]


def _lstm_step_inputs(rng: np.random.Generator, B: int, D: int, C: int) -> Inputs:
    """x [B, D], h and c [B, C], W [D + C, 4C] (small, so the gates do not saturate), b [4C]."""
    return [
        rng.standard_normal((B, D)),
        rng.standard_normal((B, C)),
        rng.standard_normal((B, C)),
        0.5 * rng.standard_normal((D + C, 4 * C)),
        rng.standard_normal(4 * C),
    ]


def _controller_cases() -> list[OpCase]:
    cases = []
    for leading, x in (((3,), "2d"), ((4, 2), "3d")):
        cases.append(
            OpCase(
                "linear",
                f"x={x}",
                linear.linear_forward,
                linear.linear_backward,
                lambda rng, leading=leading: _linear_inputs(rng, leading, 5, 3),
            )
        )
    for leading, x in (((3,), "2d"), ((6, 2), "3d")):
        cases.append(
            OpCase(
                "linear_halves",
                f"x={x}",
                linear.linear_forward,
                _linear_halves_backward,
                lambda rng, leading=leading: _linear_inputs(rng, leading, 4, 5),
            )
        )
    for B, D, C in ((2, 3, 4), (3, 5, 2)):
        cases.append(
            OpCase(
                "lstm_step",
                case_id(B=B, D=D, C=C),
                lstm.lstm_step_forward,
                lstm.lstm_step_backward,
                lambda rng, B=B, D=D, C=C: _lstm_step_inputs(rng, B, D, C),
            )
        )
    for B, C in ((2, 3), (3, 5)):
        cases.append(
            OpCase(
                "lstm_cell",
                case_id(B=B, C=C),
                lstm.lstm_cell_forward,
                lstm.lstm_cell_backward,
                lambda rng, B=B, C=C: [
                    rng.standard_normal((B, 4 * C)),
                    rng.standard_normal((B, C)),
                ],
            )
        )
    return cases


def _addressing_cases() -> list[OpCase]:
    cases = []
    for B, H, N, S in ADDRESS_SIZES:
        sizes = case_id(B=B, H=H, N=N, S=S)

        def content_inputs(rng, B=B, H=H, N=N, S=S):
            key, beta, *_, mem = address_inputs(rng, B, H, N, S)
            return [key, mem, beta]

        cases += [
            OpCase("content", sizes, adr.content_forward, adr.content_backward, content_inputs),
            OpCase(
                "interpolate",
                sizes,
                adr.interpolate_forward,
                adr.interpolate_backward,
                lambda rng, B=B, H=H, N=N: [
                    random_weighting(rng, B, H, N),
                    random_weighting(rng, B, H, N),
                    0.1 + 0.8 * rng.random((B, H, 1)),
                ],
            ),
            OpCase(
                "sharpen",
                sizes,
                adr.sharpen_forward,
                adr.sharpen_backward,
                lambda rng, B=B, H=H, N=N: [
                    random_weighting(rng, B, H, N),
                    1.2 + 2.0 * rng.random((B, H, 1)),
                ],
            ),
            OpCase(  # all four stages chained: key, beta, g, s, gamma, w_prev and memory
                "address",
                sizes,
                adr.address_forward,
                lambda d, c: tuple(adr.address_backward(d, c)),
                lambda rng, B=B, H=H, N=N, S=S: address_inputs(rng, B, H, N, S),
            ),
        ]
    for B, H, N, S in SHIFT_SIZES:
        cases.append(
            OpCase(
                "shift",
                case_id(B=B, H=H, N=N, S=S),
                adr.shift_forward,
                adr.shift_backward,
                lambda rng, B=B, H=H, N=N, S=S: [
                    random_weighting(rng, B, H, N),
                    random_weighting(rng, B, H, 2 * S + 1),
                ],
            )
        )
    return cases


def _memory_and_head_cases() -> list[OpCase]:
    cases = []
    for R in (1, 3):
        for B, N in ((2, 5), (3, 7)):
            cases.append(
                OpCase(
                    "read",
                    case_id(B=B, N=N, R=R),
                    memory.read_forward,
                    memory.read_backward,
                    lambda rng, B=B, N=N, R=R: [
                        random_weighting(rng, B, R, N),
                        rng.standard_normal((B, N, 4)),
                    ],
                )
            )
    for W in (1, 2, 3):
        cases += [
            OpCase(
                "write",
                case_id(B=B, N=N, W=W),
                memory.write_forward,
                memory.write_backward,
                lambda rng, B=B, N=N, W=W: write_inputs(rng, B, W, N),
            )
            for B, N in ((2, 5), (3, 7))
        ]
        # w e = 1 somewhere: the erase gradient must not divide by 1 - w e (0/0 there)
        cases.append(
            OpCase(
                "write",
                case_id(W=W) + "-erases-completely",
                memory.write_forward,
                memory.write_backward,
                lambda rng, W=W: fully_erasing_write_inputs(rng, W),
            )
        )
    for W, R, S in HEAD_LAYOUTS:
        layout = HeadLayout(num_write_heads=W, num_read_heads=R, memory_dim=3, shift_range=S)
        cases.append(
            OpCase(
                "heads",
                case_id(W=W, R=R, S=S),
                *heads_pair(layout),
                lambda rng, size=layout.size: [rng.standard_normal((3, size))],
            )
        )
    for B in (2, 3):
        cases.append(
            OpCase(
                "loss",
                f"B={B}",
                loss.sigmoid_cross_entropy_forward,
                loss.sigmoid_cross_entropy_backward,
                lambda rng, B=B: _loss_inputs(rng, B),
                wrt=(0,),  # the logits; targets and mask are data
            )
        )
    return cases


OP_CASES: tuple[OpCase, ...] = (
    *_activation_cases(),
    *_controller_cases(),
    *_addressing_cases(),
    *_memory_and_head_cases(),
)


# --- the whole model --------------------------------------------------------------------------

TINY_NTM = dict(input_size=4, output_size=3, memory_size=5, memory_dim=3, controller_size=4)


def tiny_ntm(**options: Any) -> NTM:
    """A float64 NTM small enough to check every parameter entry: 2 read and 2 write heads,
    N=5, M=3, C=4, seed 0, unless ``options`` say otherwise."""
    return NTM(**{**TINY_NTM, "num_read_heads": 2, "num_write_heads": 2, "seed": 0, **options})


def model_sequence(
    model: Any, T: int = 6, B: int = 2, seed: int = 0, scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x [T, B, I], binary y [T, B, O] and a 0/1 mask [T, B] with some steps masked out (the
    last one scored)."""
    rng = np.random.default_rng(seed)
    c = model.config
    x = scale * rng.standard_normal((T, B, c.input_size))
    y = (rng.random((T, B, c.outputs)) > 0.5).astype(float)
    mask = (rng.random((T, B)) > 0.25).astype(float)
    mask[-1] = 1.0
    return x, y, mask


def model_cases(memory_inits: Sequence[str] = MEMORY_INITS) -> list[ModelCase]:
    """The whole model through time, for each registered controller (``CONTROLLERS``) and each
    of ``memory_inits``."""
    unknown = sorted(set(memory_inits) - set(MEMORY_INITS))
    if unknown or not memory_inits:
        raise ValueError(
            f"memory_inits must be a non-empty selection of {MEMORY_INITS}, got {memory_inits!r}"
        )
    return [
        ModelCase(
            f"model T=6 {controller} {memory_init}",
            {"controller": controller, "memory_init": memory_init},
        )
        for controller in CONTROLLERS
        for memory_init in memory_inits
    ]


__all__ = [
    "OP_CASES",
    "ModelCase",
    "OpCase",
    "address_inputs",
    "case_id",
    "fully_erasing_write_inputs",
    "heads_pair",
    "model_cases",
    "model_sequence",
    "random_weighting",
    "tiny_ntm",
    "write_inputs",
]
