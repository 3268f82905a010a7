"""One finite-difference gradient checker, for any op and for the whole model.

The scalar checked is ``L = sum(out * dout)`` with a *random* upstream gradient ``dout``: a
constant ``dout`` would hide errors in anything that sums to one (a weighting's gradient is
defined only up to a constant, which ``sum(w) * 1`` never sees). The numerical gradient is the
central difference

    dL/dx_i ~ (L(x + h e_i) - L(x - h e_i)) / 2h,

in float64, and the agreement is measured as

    rel_error = max_i |a_i - n_i| / max(1e-8, max_i (|a_i| + |n_i|)).

Checks run on the CPU in float64; a model on the GPU is copied to the host for them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


def rel_error(analytic, numeric) -> float:
    """max|a - n| / max(1e-8, max(|a| + |n|)); 0 for two empty arrays."""
    a, n = np.asarray(analytic, dtype=np.float64), np.asarray(numeric, dtype=np.float64)
    if a.shape != n.shape:
        raise ValueError(f"analytic and numeric gradients differ in shape: {a.shape} vs {n.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - n)) / max(1e-8, float(np.max(np.abs(a) + np.abs(n)))))


def numerical_gradient(f: Callable[[], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar ``f()`` with respect to ``x``, which is perturbed in
    place (and restored) one element at a time."""
    grad = np.zeros_like(x, dtype=np.float64)
    flat, flat_grad = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + h
        plus = f()
        flat[i] = saved - h
        minus = f()
        flat[i] = saved
        flat_grad[i] = (plus - minus) / (2.0 * h)
    return grad


def _as_tuple(value) -> tuple:
    return tuple(value) if isinstance(value, tuple | list) else (value,)


def check_op(
    forward: Callable,
    backward: Callable,
    inputs: Sequence[np.ndarray],
    *,
    seed: int = 0,
    h: float = 1e-6,
    wrt: Sequence[int] | None = None,
) -> list[float]:
    """Relative error of each input's gradient for an op pair.

    ``forward(*inputs) -> (out, cache)``, ``out`` an array or a tuple of arrays;
    ``backward(dout, cache)`` (or ``backward(*douts, cache)`` for several outputs) returns the
    gradients of the inputs, in input order. ``wrt`` picks which inputs to check (default:
    every floating-point one). Returns one error per checked input, in order.
    """
    inputs = [np.array(x, dtype=np.float64) for x in inputs]
    rng = np.random.default_rng(seed)
    out, cache = forward(*inputs)
    outs = _as_tuple(out)
    douts = [rng.standard_normal(np.shape(o)) for o in outs]
    grads = _as_tuple(backward(*douts, cache))
    wrt = range(len(inputs)) if wrt is None else wrt

    def scalar() -> float:
        return float(
            sum(np.sum(o * d) for o, d in zip(_as_tuple(forward(*inputs)[0]), douts, strict=True))
        )

    return [rel_error(grads[i], numerical_gradient(scalar, inputs[i], h)) for i in wrt]


def check_model(
    model, x, y, mask=None, *, h: float = 1e-6, max_per_param: int | None = None, seed: int = 0
) -> dict[str, float]:
    """Relative error of every parameter's gradient of ``model.loss_and_grads`` (float64).

    ``max_per_param`` checks that many randomly chosen entries of each parameter instead of all
    of them (the numerical gradient costs two forward passes per entry).
    """
    if model.config.dtype != "float64":
        raise ValueError(
            "check_model needs a float64 model: finite differences in float32 "
            "measure rounding, not the gradient"
        )
    _, grads = model.loss_and_grads(x, y, mask)
    rng = np.random.default_rng(seed)
    errors = {}
    for name, param in model.params.items():
        flat = param.reshape(-1)
        indices = np.arange(flat.size)
        if max_per_param is not None and flat.size > max_per_param:
            indices = rng.choice(flat.size, size=max_per_param, replace=False)
        numeric = np.empty(len(indices))
        for j, i in enumerate(indices):
            saved = flat[i]
            flat[i] = saved + h
            plus = float(model.loss(x, y, mask))
            flat[i] = saved - h
            minus = float(model.loss(x, y, mask))
            flat[i] = saved
            numeric[j] = (plus - minus) / (2.0 * h)
        errors[name] = rel_error(np.asarray(grads[name]).reshape(-1)[indices], numeric)
    return errors


# --- the audit: every op and the whole model, as a table -----------------------------------


@dataclass(frozen=True)
class CheckResult:
    name: str
    error: float
    bound: float
    seconds: float

    @property
    def passed(self) -> bool:
        return self.error <= self.bound


OP_BOUND = 1e-7
MODEL_BOUND = 1e-5


def _random_weighting(rng, *shape):
    w = rng.random(shape) + 0.05
    return w / w.sum(axis=-1, keepdims=True)


def op_checks(seed: int = 0) -> list[tuple[str, Callable[[], list[float]]]]:
    """(name, thunk) for every op; each thunk returns the errors of that op's inputs."""
    from .heads import Addressing, HeadLayout, heads_backward, heads_forward
    from .ops import activations as act
    from .ops import addressing as adr
    from .ops import linear, loss, lstm, memory

    rng = np.random.default_rng(seed)
    B, H, N, M, S, C = 3, 3, 7, 5, 2, 4
    K = 2 * S + 1
    normal = rng.standard_normal

    def heads_check():
        layout = HeadLayout(num_write_heads=2, num_read_heads=1, memory_dim=M, shift_range=S)

        def forward(raw):
            params, cache = heads_forward(raw, layout)
            return (*params.write, params.erase, params.add, *params.read), cache

        def backward(*d):
            *douts, cache = d
            return heads_backward(
                Addressing(*douts[:5]), douts[5], douts[6], Addressing(*douts[7:]), cache
            )

        return check_op(forward, backward, [normal((B, layout.size))], seed=seed)

    def address_check():
        def forward(*a):
            w, cache = adr.address_forward(*a)
            return w, cache

        inputs = [
            normal((B, H, M)),
            rng.random((B, H, 1)) * 3 + 0.5,
            rng.random((B, H, 1)),
            _random_weighting(rng, B, H, K),
            1.0 + rng.random((B, H, 1)) * 2,
            _random_weighting(rng, B, H, N),
            normal((B, N, M)),
        ]
        return check_op(forward, lambda d, c: tuple(adr.address_backward(d, c)), inputs, seed=seed)

    def loss_check():
        mask = (rng.random((6, B)) > 0.3).astype(float)
        targets = (rng.random((6, B, M)) > 0.5).astype(float)
        return check_op(
            lambda z: loss.sigmoid_cross_entropy_forward(z, targets, mask),
            lambda d, c: loss.sigmoid_cross_entropy_backward(d, c),
            [normal((6, B, M))],
            seed=seed,
        )

    return [
        (
            "sigmoid",
            lambda: check_op(
                act.sigmoid_forward, act.sigmoid_backward, [normal((B, C))], seed=seed
            ),
        ),
        (
            "tanh",
            lambda: check_op(act.tanh_forward, act.tanh_backward, [normal((B, C))], seed=seed),
        ),
        (
            "softplus",
            lambda: check_op(
                act.softplus_forward, act.softplus_backward, [normal((B, C))], seed=seed
            ),
        ),
        (
            "oneplus",
            lambda: check_op(
                act.oneplus_forward, act.oneplus_backward, [normal((B, C))], seed=seed
            ),
        ),
        (
            "softmax",
            lambda: check_op(
                act.softmax_forward, act.softmax_backward, [normal((B, H, N))], seed=seed
            ),
        ),
        (
            "linear",
            lambda: check_op(
                linear.linear_forward,
                linear.linear_backward,
                [normal((B, M)), normal((M, C)), normal(C)],
                seed=seed,
            ),
        ),
        (
            "lstm step",
            lambda: check_op(
                lstm.lstm_step_forward,
                lstm.lstm_step_backward,
                [
                    normal((B, M)),
                    normal((B, C)),
                    normal((B, C)),
                    normal((M + C, 4 * C)) * 0.5,
                    normal(4 * C),
                ],
                seed=seed,
            ),
        ),
        (
            "content",
            lambda: check_op(
                adr.content_forward,
                adr.content_backward,
                [normal((B, H, M)), normal((B, N, M)), rng.random((B, H, 1)) * 3 + 0.5],
                seed=seed,
            ),
        ),
        (
            "interpolate",
            lambda: check_op(
                adr.interpolate_forward,
                adr.interpolate_backward,
                [
                    _random_weighting(rng, B, H, N),
                    _random_weighting(rng, B, H, N),
                    rng.random((B, H, 1)),
                ],
                seed=seed,
            ),
        ),
        (
            "shift",
            lambda: check_op(
                adr.shift_forward,
                adr.shift_backward,
                [_random_weighting(rng, B, H, N), _random_weighting(rng, B, H, K)],
                seed=seed,
            ),
        ),
        (
            "sharpen",
            lambda: check_op(
                adr.sharpen_forward,
                adr.sharpen_backward,
                [_random_weighting(rng, B, H, N), 1.0 + rng.random((B, H, 1)) * 2],
                seed=seed,
            ),
        ),
        ("address (4 stages)", address_check),
        (
            "read",
            lambda: check_op(
                memory.read_forward,
                memory.read_backward,
                [_random_weighting(rng, B, H, N), normal((B, N, M))],
                seed=seed,
            ),
        ),
        (
            "write",
            lambda: check_op(
                memory.write_forward,
                memory.write_backward,
                [
                    normal((B, N, M)),
                    _random_weighting(rng, B, H, N),
                    rng.random((B, H, M)),
                    normal((B, H, M)),
                ],
                seed=seed,
            ),
        ),
        ("heads", heads_check),
        ("loss", loss_check),
    ]


MEMORY_INITS = ("constant", "learned", "random")


def model_checks(
    seed: int = 0, memory_inits: Sequence[str] = MEMORY_INITS
) -> list[tuple[str, Callable[[], list[float]]]]:
    """(name, thunk) for the whole model through time, each controller and each of
    ``memory_inits``."""
    unknown = sorted(set(memory_inits) - set(MEMORY_INITS))
    if unknown or not memory_inits:
        raise ValueError(
            f"memory_inits must be a non-empty selection of {MEMORY_INITS}, got {memory_inits!r}"
        )
    from .model import NTM

    def thunk(controller: str, memory_init: str):
        def run() -> list[float]:
            model = NTM(
                input_size=4,
                output_size=3,
                memory_size=5,
                memory_dim=3,
                controller_size=4,
                num_read_heads=2,
                num_write_heads=2,
                shift_range=1,
                controller=controller,
                memory_init=memory_init,
                seed=seed,
            )
            rng = np.random.default_rng(seed)
            T, B = 6, 2
            x = rng.standard_normal((T, B, 4))
            y = (rng.random((T, B, 3)) > 0.5).astype(float)
            mask = (rng.random((T, B)) > 0.2).astype(float)
            return list(check_model(model, x, y, mask, seed=seed).values())

        return run

    return [
        (f"model T=6 {c} {m}", thunk(c, m)) for c in ("lstm", "feedforward") for m in memory_inits
    ]


def audit(
    seed: int = 0, include_model: bool = True, memory_inits: Sequence[str] = MEMORY_INITS
) -> list[CheckResult]:
    """Run every check; one ``CheckResult`` per op (worst input) and per model variant (both
    controllers, each of ``memory_inits``: a notebook that has no time for all six passes
    fewer)."""
    results = []
    checks = [(n, f, OP_BOUND) for n, f in op_checks(seed)]
    if include_model:
        checks += [(n, f, MODEL_BOUND) for n, f in model_checks(seed, memory_inits)]
    for name, thunk, bound in checks:
        start = time.perf_counter()
        errors = thunk()
        results.append(CheckResult(name, max(errors), bound, time.perf_counter() - start))
    return results


def format_table(results: Sequence[CheckResult]) -> str:
    """A plain-text table: op, worst relative error, bound, pass."""
    width = max(len(r.name) for r in results)
    lines = [
        f"{'op':<{width}}  {'worst rel. error':>16}  {'bound':>7}  pass",
        f"{'-' * width}  {'-' * 16}  {'-' * 7}  ----",
    ]
    for r in results:
        lines.append(
            f"{r.name:<{width}}  {r.error:>16.2e}  {r.bound:>7.0e}  {'yes' if r.passed else 'NO'}"
        )
    return "\n".join(lines)
