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

from .gradcheck_cases import (
    MEMORY_INITS,
    OP_CASES,
    ModelCase,
    OpCase,
    model_cases,
    model_sequence,
    tiny_ntm,
)


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


def op_case_errors(case: OpCase, seed: int = 0) -> list[float]:
    """The relative error of each checked input of ``case``, its inputs drawn from
    ``default_rng(seed)`` and its upstream gradient from ``seed`` too."""
    inputs = case.make_inputs(np.random.default_rng(seed))
    return check_op(case.forward, case.backward, inputs, seed=seed, wrt=case.wrt)


def model_case_errors(case: ModelCase, seed: int = 0) -> dict[str, float]:
    """The relative error of every parameter's gradient of ``case``'s model (built with
    ``seed``) on its sequence (drawn with ``seed + case.data_seed``)."""
    model = tiny_ntm(**{"seed": seed, **case.options})
    x, y, mask = model_sequence(model, T=case.T, seed=seed + case.data_seed)
    return check_model(model, x, y, mask if case.masked else None, seed=seed)


def audit(
    seed: int = 0, include_model: bool = True, memory_inits: Sequence[str] = MEMORY_INITS
) -> list[CheckResult]:
    """Run every check of ``gradcheck_cases``: one ``CheckResult`` per op (the worst input of
    all its cases) and per model variant (every registered controller, each of
    ``memory_inits``: a notebook that has no time for all six passes fewer)."""
    model = model_cases(memory_inits) if include_model else []  # refuses bad memory_inits first
    ops: dict[str, list[OpCase]] = {}
    for case in OP_CASES:
        ops.setdefault(case.op, []).append(case)
    results = []
    for op, cases in ops.items():
        start = time.perf_counter()
        worst = max(max(op_case_errors(case, seed)) for case in cases)
        results.append(CheckResult(op, worst, OP_BOUND, time.perf_counter() - start))
    for case in model:
        start = time.perf_counter()
        worst = max(model_case_errors(case, seed).values())
        results.append(CheckResult(case.name, worst, MODEL_BOUND, time.perf_counter() - start))
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
