"""Exercises that grade themselves: the learner writes one op's backward, ``grade`` checks it.

Each exercise is named after the backward in ``ntm_numpy.ops`` that it asks for (``EXERCISES``).
``grade(name, candidate)`` takes a function with that backward's signature and, case by case:

1. builds the forward's inputs with the package's own ops (softmax for weightings, softplus for
   beta, sigmoid for erase vectors, ...) and runs the package's forward to get ``(out, cache)``;
2. draws a *random* upstream gradient ``dout`` (weightings sum to one, so a constant one hides
   errors, see ``gradcheck``) and calls ``candidate(dout, cache)``;
3. compares each returned gradient with what it should be:
   - in float64, with central finite differences of ``L = sum(out * dout)``
     (``gradcheck.numerical_gradient``), measured by ``gradcheck.rel_error``;
   - where finite differences do not apply (at a zero key or a zero memory row the norm is not
     differentiable; at w~ = 0 a step of h crosses into the log of a negative number) and in
     float32, with the package's own backward computed in float64 on the same inputs.
   It also checks every shape and dtype, and that ``dout`` and the cache come back unchanged.

The hard cases are the ones the project's numerics are built for: zero memory rows, a zero key,
w e = 1 (a location erased completely), gamma = 50 in float32, and N < 2S+1 (the shift wraps
around the memory several times).

For each failure the table names the output, the first wrong element, the expected and the
received value, and, where the error has a recognisable pattern, a hint. Hints are tested
hypotheses, never guesses: "off by a constant factor" is printed only when the received array
*is* the expected one times a constant, "the shift in the other direction" only when it equals
the package's backward run with the shift distribution reversed, and so on.

Solution mode: with ``NTM_EXERCISES_SOLUTION=1`` in the environment, a candidate that raises
``NotImplementedError`` (the notebooks' stub) is replaced by the package's own backward, so the
test suite can run the exercise notebooks end to end without the notebooks showing a solution.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..gradcheck import OP_BOUND, numerical_gradient, rel_error
from ..ops import activations as act
from ..ops import addressing as adr
from ..ops import memory as mem

SOLUTION_ENV = "NTM_EXERCISES_SOLUTION"
FD_BOUND = OP_BOUND  # float64 against finite differences: the project's bound per op
REFERENCE_BOUND = 1e-9  # float64 against the package's float64 backward: rounding only
# float32 against the package's float64 backward: the package's own float32 backward is off by
# up to ~3e-5 (dgamma at gamma = 50, a sum with cancellation); a 1% error gives ~5e-3
FLOAT32_BOUND = 1e-3
MATCH_TOL = {"float64": 1e-5, "float32": 1e-3}  # "the received array is this one" in a hint


# --- results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One line of the grader's table: one output of one case (or the inputs-unchanged check)."""

    case: str
    checked: str  # what was compared with what, e.g. "dshift vs finite differences"
    passed: bool
    error: float | None = None  # max relative error (gradcheck.rel_error); None: not compared
    bound: float | None = None
    where: str = ""  # the first wrong element, e.g. "dshift[0, 1, 2]"
    expected: float | None = None
    got: float | None = None
    problem: str = ""  # what went wrong when there is no error to measure (a shape, an exception)
    hint: str = ""  # a pattern recognised in the error, when there is one


@dataclass(frozen=True)
class GradeResult:
    """What ``grade`` found. ``graded``: "candidate", "solution" (solution mode) or
    "not implemented"."""

    name: str
    passed: bool
    graded: str
    rows: tuple[Row, ...] = ()
    table: str = ""  # the text ``grade`` printed

    @property
    def failures(self) -> tuple[Row, ...]:
        return tuple(row for row in self.rows if not row.passed)

    @property
    def hints(self) -> tuple[str, ...]:
        return tuple(row.hint for row in self.failures if row.hint)

    def __repr__(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        failed = f"{len(self.failures)} of {len(self.rows)} checks failed"
        return f"GradeResult({self.name}: {verdict}, {failed})"


# --- what an exercise is --------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One set of inputs. ``make(rng)`` returns the forward's inputs in float64.

    ``dtype``: what the candidate sees; float32 cases compare with the float64 backward.
    ``reference_only``: outputs compared with the package's backward because finite differences
    do not apply there (``why`` says why). ``nonfinite_hint(inputs, output, index)`` explains a
    NaN or inf at ``index`` of output number ``output`` when the case's data explains it.
    """

    title: str
    make: Callable[[np.random.Generator], list]
    dtype: str = "float64"
    forward: Callable | None = None  # overrides the exercise's forward (e.g. another axis)
    reference_only: frozenset = frozenset()
    why: str = ""
    nonfinite_hint: Callable | None = None


@dataclass(frozen=True)
class Exercise:
    name: str
    forward: Callable
    backward: Callable  # the package's: the reference and the solution mode's candidate
    outputs: tuple[str, ...]  # the gradients' names, in the order the backward returns them
    shapes: tuple[str, ...]  # their shapes in symbols, e.g. "[B, H, 2S+1]"
    signature: str
    cases: tuple[Case, ...]
    # exercise-specific hypotheses: (context, output index, received array) -> hint or None
    diagnose: Callable | None = None
    notes: dict = field(default_factory=dict)  # output name -> hint when it is reversed
    heads_input: int | None = None  # the input whose axis 1 is the heads (for "mean over heads")


@dataclass
class _Context:
    """Everything one case needs to diagnose a failure."""

    exercise: Exercise
    case: Case
    inputs: list  # as the forward got them (in the case's dtype)
    cache: object
    dout: np.ndarray
    expected: list  # per output, float64

    @property
    def tol(self) -> float:
        return MATCH_TOL[self.case.dtype]

    def matches(self, got, candidate) -> bool:
        candidate = np.asarray(candidate, dtype=np.float64)
        return candidate.shape == got.shape and rel_error(got, candidate) <= self.tol


# --- the grader -----------------------------------------------------------------------------


def grade(name: str, candidate: Callable, *, seed: int = 0, verbose: bool = True) -> GradeResult:
    """Grade ``candidate``, a function with the signature of ``ntm_numpy.ops``' ``name``.

    Prints the table (``verbose``) and returns a ``GradeResult`` whose ``passed`` is True when
    every case's every output is right, and ``dout`` and the cache come back unchanged.
    """
    exercise = _exercise(name)
    if not callable(candidate):
        raise ValueError(
            f"candidate: expected a function {exercise.signature}, got {type(candidate).__name__}"
        )
    label = getattr(candidate, "__name__", "your function")
    try:
        rows = _grade_all(exercise, candidate, seed)
        graded, header = "candidate", f"Grading {name}: {label}"
    except NotImplementedError:
        if not solution_mode():
            text = (
                f"{label} is not implemented yet: it raises NotImplementedError.\n"
                f"Write it in the cell above, run that cell, then run this one again."
            )
            if verbose:
                print(text)
            return GradeResult(name, False, "not implemented", (), text)
        rows = _grade_all(exercise, exercise.backward, seed)
        graded = "solution"
        header = (
            f"Solution mode ({SOLUTION_ENV}=1): {label} is not implemented yet, so the "
            f"package's own {name} was graded instead."
        )
    text = "\n\n".join([header, format_rows(rows), *_notes(exercise)])
    if verbose:
        print(text)
    return GradeResult(name, all(r.passed for r in rows), graded, tuple(rows), text)


def _notes(exercise: Exercise) -> list[str]:
    """Why some outputs are compared with a reference rather than with finite differences."""
    notes = [
        f"{case.title}: {', '.join(exercise.outputs[i] for i in sorted(case.reference_only))} "
        f"compared with the package's backward in float64, as {case.why}."
        for case in exercise.cases
        if case.reference_only
    ]
    if any(case.dtype != "float64" for case in exercise.cases):
        notes.append(
            "float32 cases: your function gets float32 inputs; its result is compared with the "
            "package's backward run in float64 on the same inputs, to float32 accuracy."
        )
    return ["Notes:\n" + "\n".join(f"- {n}" for n in notes)] if notes else []


def solution_mode() -> bool:
    return os.environ.get(SOLUTION_ENV, "").strip().lower() in ("1", "true", "yes")


def _exercise(name) -> Exercise:
    exercises = _exercises()
    if name not in exercises:
        raise ValueError(f"name: unknown exercise {name!r}; expected one of {EXERCISES}")
    return exercises[name]


def _grade_all(exercise: Exercise, candidate: Callable, seed: int) -> list[Row]:
    rng = np.random.default_rng(seed)
    rows, changed = [], []
    for case in exercise.cases:
        case_rows, case_changed = _grade_case(exercise, case, candidate, rng)
        rows += case_rows
        changed += [(case.title, name) for name in case_changed]
    rows.append(_unchanged_row(changed))
    return rows


def _grade_case(exercise: Exercise, case: Case, candidate: Callable, rng):
    """The rows of one case, and the names of the inputs the candidate changed."""
    forward = case.forward or exercise.forward
    inputs = [np.asarray(x, dtype=case.dtype) for x in case.make(rng)]
    out, cache = forward(*inputs)
    dout = rng.standard_normal(out.shape).astype(case.dtype)
    expected = _expected(exercise, case, forward, inputs, dout)
    context = _Context(exercise, case, inputs, cache, dout, expected)

    before = _snapshot(dout, cache)
    try:
        with np.errstate(all="ignore"):  # a NaN is reported below, not raised as a warning
            got = candidate(dout, cache)
    except NotImplementedError:
        raise
    except Exception as error:  # a learner's code may fail in any way: report it, go on
        return [_exception_row(context, error)], []
    changed = [name for name, value in before if not _unchanged(value, _lookup(name, dout, cache))]
    got = _as_outputs(got, len(exercise.outputs))
    if isinstance(got, str):
        return [Row(case.title, "what it returns", False, problem=got)], changed
    return [_compare(context, i, g) for i, g in enumerate(got)], changed


def _expected(exercise, case, forward, inputs, dout) -> list:
    """Per output, the float64 gradient to compare with: finite differences where they apply,
    the package's backward in float64 elsewhere."""
    inputs64 = [np.array(x, dtype=np.float64) for x in inputs]
    dout64 = dout.astype(np.float64)
    with np.errstate(all="ignore"):
        reference = _as_outputs(exercise.backward(dout64, forward(*inputs64)[1]), len(inputs))
    if case.dtype != "float64":
        return [np.asarray(r, dtype=np.float64) for r in reference]

    def loss() -> float:
        return float(np.sum(forward(*inputs64)[0] * dout64))

    return [
        np.asarray(reference[i], dtype=np.float64)
        if i in case.reference_only
        else numerical_gradient(loss, inputs64[i])
        for i in range(len(inputs64))
    ]


def _as_outputs(value, count: int):
    """The candidate's result as a list of ``count`` arrays, or a sentence saying why not."""
    if count == 1 and not isinstance(value, tuple | list):
        value = (value,)
    if not isinstance(value, tuple | list):
        return f"returned {type(value).__name__}; expected a tuple of {count} arrays"
    if len(value) != count:
        return f"returned {len(value)} values; expected {count}"
    arrays = []
    for k, v in enumerate(value):
        if v is None:
            return f"returned None as output {k}: is a `return` missing?"
        try:
            array = np.asarray(v)
        except ValueError as error:  # e.g. a ragged list of arrays
            return f"output {k} is not an array: {error}"
        if array.dtype.kind not in "fiu":
            return f"output {k} is an array of dtype {array.dtype}; expected real numbers"
        arrays.append(array)
    return arrays


def _compare(context: _Context, i: int, got) -> Row:
    exercise, case = context.exercise, context.case
    name, expected = exercise.outputs[i], context.expected[i]
    reference = i in case.reference_only or case.dtype != "float64"
    source = "reference in float64" if reference else "finite differences"
    checked = f"{name} vs {source}"
    if got.shape != expected.shape:
        problem = f"{name} has shape {got.shape}; expected {expected.shape} = {exercise.shapes[i]}"
        return Row(case.title, checked, False, problem=problem, hint=_shape_hint(context, i, got))
    finite = np.isfinite(got)
    if not finite.all():
        index = tuple(int(k) for k in np.argwhere(~finite)[0])
        hint = case.nonfinite_hint(context.inputs, i, index) if case.nonfinite_hint else None
        return Row(
            case.title, checked, False, where=_index(name, index),
            expected=float(expected[index]), got=float(got[index]),
            problem="NaN or inf in the result",
            hint=hint or "a division by zero or an overflow somewhere in this output's formula?",
        )  # fmt: skip
    bound = _bound(case, i)
    error = rel_error(got, expected)
    if error > bound:
        index = _first_wrong(got, expected, bound)
        return Row(
            case.title, checked, False, error, bound, _index(name, index),
            float(expected[index]), float(got[index]), hint=_diagnose(context, i, got) or "",
        )  # fmt: skip
    if got.dtype != np.dtype(case.dtype):
        problem = f"values right, but dtype {got.dtype}; the inputs are {case.dtype}"
        hint = "a new array made without dtype= (np.zeros(shape) is float64): use dtype=dw.dtype"
        return Row(case.title, checked, False, error, bound, problem=problem, hint=hint)
    return Row(case.title, checked, True, error, bound)


def _bound(case: Case, i: int) -> float:
    if case.dtype != "float64":
        return FLOAT32_BOUND
    return REFERENCE_BOUND if i in case.reference_only else FD_BOUND


def _first_wrong(got, expected, bound) -> tuple:
    """The first index (in C order) whose error alone exceeds the bound, as in rel_error."""
    scale = max(1e-8, float(np.max(np.abs(got) + np.abs(expected))))
    wrong = np.abs(got - expected) > bound * scale
    return tuple(int(k) for k in np.argwhere(wrong)[0])


def _index(name: str, index: tuple) -> str:
    return f"{name}[{', '.join(map(str, index))}]"


# --- inputs left unchanged ------------------------------------------------------------------


def _snapshot(dout, cache) -> list:
    """(name, copy) of dout and every array field of the cache."""
    pairs = [("dout", np.array(dout, copy=True))]
    for key, value in zip(cache._fields, cache, strict=True):
        if isinstance(value, np.ndarray):
            pairs.append((f"cache.{key}", value.copy()))
    return pairs


def _lookup(name: str, dout, cache):
    return dout if name == "dout" else getattr(cache, name.removeprefix("cache."))


def _unchanged(before, after) -> bool:
    return before.shape == after.shape and np.array_equal(before, after, equal_nan=True)


def _unchanged_row(changed) -> Row:
    if not changed:
        return Row("every case", "dout and cache unchanged", True)
    case, name = changed[0]
    return Row(
        "every case", "dout and cache unchanged", False, where=f"{name} (case: {case})",
        problem=f"{name} was changed in place",
        hint="an in-place update (x *= ..., x[...] = ..., np.exp(x, out=x)) wrote into an input: "
        "the caller still needs it; compute into new arrays",
    )  # fmt: skip


# --- hints: each is a hypothesis tested on the data -----------------------------------------


def _diagnose(context: _Context, i: int, got) -> str | None:
    """The first recognised pattern: the exercise's own hypotheses, then generic ones."""
    if context.exercise.diagnose is not None:
        hint = context.exercise.diagnose(context, i, got)
        if hint:
            return hint
    expected, name = context.expected[i], context.exercise.outputs[i]
    if not np.any(got):
        return f"{name} is all zeros: nothing was computed for it?"
    if expected.shape[-1] > 1 and not context.matches(expected, expected[..., ::-1]):
        if context.matches(got, expected[..., ::-1]):
            note = context.exercise.notes.get(name, "")
            return f"{name} is reversed along its last axis" + (f": {note}" if note else "")
    if expected.ndim >= 2 and expected.shape[-1] == expected.shape[-2]:
        if context.matches(got, expected.swapaxes(-1, -2)):
            return f"{name} looks transposed (its last two axes swapped)"
    return _factor_hint(context, got, expected)


def _factor_hint(context: _Context, got, expected) -> str | None:
    """'off by a constant factor' when got = c * expected for one c != 1."""
    c = float(np.sum(got * expected) / max(float(np.sum(expected * expected)), 1e-300))
    if c == 0.0 or not context.matches(got, c * expected):
        return None
    if abs(c + 1.0) < 1e-3:
        return "the sign is flipped (off by a factor of -1)"
    digits = 6 if abs(c - 1.0) <= 0.01 else 3  # enough to show how far from 1 a near-1 factor is
    hint = f"off by a constant factor of ~{c:.{digits}g}"
    index = context.exercise.heads_input
    heads = 1 if index is None else context.inputs[index].shape[1]
    if heads > 1 and abs(c * heads - 1.0) < 1e-3:
        hint += f" = 1/{heads}, one over the number of heads: a mean over heads instead of a sum?"
    return hint


def _shape_hint(context: _Context, i: int, got) -> str:
    expected, name = context.expected[i], context.exercise.outputs[i]
    g, e = got.shape, expected.shape
    symbols = context.exercise.shapes[i]
    if e[-1:] == (1,) and g == e[:-1]:
        return (
            f"shape {g} instead of {e} = {symbols}: a sum over the last axis dropped it: "
            "keepdims=True?"
        )
    if len(g) == len(e) + 1:
        for axis in range(len(g)):
            if g[:axis] + g[axis + 1 :] == e and context.matches(got.sum(axis=axis), expected):
                over = "heads" if axis == 1 and context.exercise.heads_input is not None else ""
                return (
                    f"an extra axis {axis} of length {g[axis]}; summed over it, yours is right: "
                    + (f"the sum over {over} is missing" if over else "a sum is missing")
                )
    if len(g) == len(e) >= 2 and g == e[:-2] + e[:-3:-1]:
        return f"looks transposed: {g} instead of {e} = {symbols}: .swapaxes(-1, -2)?"
    if sorted(g) == sorted(e):
        return (
            f"the right sizes in the wrong order: {g} instead of {e}: stacked along the wrong axis?"
        )
    for j, other in enumerate(context.expected):
        if j != i and g == other.shape:
            order = ", ".join(context.exercise.outputs)
            other_name = context.exercise.outputs[j]
            return f"that is the shape of {other_name}: return ({order}) in this order"
    return f"{name} must have the shape of the input it is the gradient of: {symbols}"


def _exception_row(context: _Context, error: Exception) -> Row:
    message = f"{type(error).__name__}: {error}".strip()
    if len(message) > 160:
        message = message[:157] + "..."
    return Row(
        context.case.title, "calling your function", False, problem=f"raised {message}",
        hint=_exception_hint(error, context),
    )  # fmt: skip


def _exception_hint(error: Exception, context: _Context) -> str:
    """Read the exception's own words: shapes that do not broadcast, a product that does not
    fit, an index past the end."""
    text = str(error)
    if "could not be broadcast" in text:
        shapes = [
            tuple(int(n) for n in s.split(",") if n.strip())
            for s in re.findall(r"\(([\d,\s]*)\)", text)
        ]
        for a in shapes:
            for b in shapes:
                for axis in range(len(a)) if len(a) == len(b) + 1 else ():
                    if a[:axis] + a[axis + 1 :] == b:
                        return (
                            f"shapes {a} and {b}: a sum over axis {axis} dropped that axis "
                            "(keepdims=True keeps it as length 1)"
                        )
        listed = ", ".join(map(str, shapes))
        return f"two arrays whose shapes do not line up ({listed}): print each one's .shape"
    match = re.search(r"size (\d+) is different from (\d+)", text)
    if "matmul" in text and match:
        return (
            f"a matrix product whose inner sizes differ ({match[1]} vs {match[2]}): "
            "one factor needs transposing (.swapaxes(-1, -2))?"
        )
    if isinstance(error, IndexError):
        return "an index past the end: do your indices wrap around (mod N)?"
    if isinstance(error, TypeError) and "positional argument" in text:
        return f"the grader calls it as {context.exercise.signature}"
    return ""


# --- the exercises ---------------------------------------------------------------------------


def _weighting(rng, *shape, spread: float = 1.0):
    """Random weightings from the package's softmax: positive, non-uniform, summing to one."""
    return act.softmax(spread * rng.standard_normal(shape))


def _softmax_cases() -> tuple[Case, ...]:
    return (
        Case("random [B, H, N] = (2, 3, 5)", lambda rng: [2.0 * rng.standard_normal((2, 3, 5))]),
        Case("random [B, N] = (3, 6)", lambda rng: [2.0 * rng.standard_normal((3, 6))]),
        Case(
            "over axis 1 of (2, 4, 3)",
            lambda rng: [rng.standard_normal((2, 4, 3))],
            forward=lambda x: act.softmax_forward(x, axis=1),
        ),
        Case(
            "peaked (x up to ~60), float32",
            lambda rng: [20.0 * rng.standard_normal((2, 3, 5))],
            "float32",
        ),
    )


def _softmax_diagnose(context: _Context, i: int, got) -> str | None:
    y, axis = context.cache
    if axis not in (-1, y.ndim - 1):
        last = act.softmax_backward(context.dout, act.SoftmaxCache(y, -1))
        if context.matches(got, last):
            return (
                f"summed over the last axis, but this softmax is over axis {axis}: use cache.axis"
            )
    total = np.abs(got.sum(axis=axis)).max()
    if total > context.tol * max(1.0, float(np.abs(got).max())):
        return (
            f"dx does not sum to 0 along the softmax's axis (up to {total:.3g}); a softmax's input "
            "gradient always does (adding a constant to every x changes nothing): "
            "is the factor y or the term - sum_j dy_j y_j missing?"
        )
    return None


def _shift_cases() -> tuple[Case, ...]:
    def make(B, H, N, S):
        return lambda rng: [_weighting(rng, B, H, N), _weighting(rng, B, H, 2 * S + 1)]

    return (
        Case("random, N=7, S=1, H=3", make(2, 3, 7, 1)),
        Case("random, N=6, S=2, H=2", make(2, 2, 6, 2)),
        Case("N=3 < 2S+1=5 (S=2): wraps", make(2, 2, 3, 2)),
        Case("N=2, S=3: wraps more than once", make(2, 1, 2, 3)),
        Case("random, N=7, S=1, float32", make(2, 3, 7, 1), "float32"),
    )


def _shift_diagnose(context: _Context, i: int, got) -> str | None:
    padded, shift = context.cache
    if i == 0:
        reversed_shift = adr.ShiftCache(padded, np.ascontiguousarray(shift[..., ::-1]))
        if context.matches(got, adr.shift_backward(context.dout, reversed_shift)[0]):
            return (
                "looks like the shift in the other direction: w~_i = sum_j w_g[i - j] s_j "
                "sends w_g[m] to i = m + j, so dw_g[m] reads dw~ at m + j"
            )
        expected, N = context.expected[0], got.shape[-1]
        S = (shift.shape[-1] - 1) // 2
        wrong = np.abs(got - expected) > context.tol * float(np.abs(expected).max())
        rows = np.flatnonzero(wrong.any(axis=tuple(range(wrong.ndim - 1))))
        if 2 * S < N and rows.size and all(r < S or r >= N - S for r in rows):
            return f"wrong only within S={S} rows of the ends: does the shift wrap around (mod N)?"
    return None


def _sharpen_cases() -> tuple[Case, ...]:
    def random_case(rng):
        return [_weighting(rng, 2, 3, 7), act.oneplus_forward(rng.standard_normal((2, 3, 1)))[0]]

    def gamma_50(rng):  # flat weights over 16 rows: every w~^50 underflows in float32
        return [_weighting(rng, 2, 2, 16, spread=0.2), np.full((2, 2, 1), 50.0)]

    def exact_zeros(rng):  # an exactly one-hot and a partly zero w~, as the model starts
        w = _weighting(rng, 2, 2, 6)
        w[0, 0] = np.eye(6)[2]
        w[1, 1, :3] = 0.0
        w[1, 1] /= w[1, 1].sum()
        return [w, act.oneplus_forward(rng.standard_normal((2, 2, 1)))[0]]

    return (
        Case("random, N=7, H=3, gamma in (1, 4)", random_case),
        Case("gamma = 50, float32, N=16", gamma_50, "float32", nonfinite_hint=_underflow_hint),
        Case(
            "w~ with exact zeros", exact_zeros, reference_only=frozenset({0}),
            why="a finite-difference step around w~ = 0 would take the log of a negative number",
            nonfinite_hint=_zero_shifted_hint,
        ),
    )  # fmt: skip


def _underflow_hint(inputs, i, index) -> str | None:
    w_shifted, gamma = inputs
    with np.errstate(all="ignore"):
        if np.any(np.power(w_shifted, gamma) == 0):
            return (
                f"in {w_shifted.dtype}, w~^gamma underflows to 0 at gamma = {float(gamma.max()):g} "
                "(and 0/0 is NaN): use cache.w and cache.log_shifted, never a power of w~"
            )
    return None


def _zero_shifted_hint(inputs, i, index) -> str | None:
    w_shifted = inputs[0]
    if i == 0 and w_shifted[index] == 0:
        return "w~ is exactly 0 here: divide by cache.shifted_plus_tiny (w~ + tiny), never by w~"
    return None


def _content_cases() -> tuple[Case, ...]:
    def make(zero_rows=False, zero_key=False):
        def inputs(rng):
            key = rng.standard_normal((2, 3, 4))
            memory = rng.standard_normal((2, 5, 4))
            beta = 3.0 * act.softplus_forward(rng.standard_normal((2, 3, 1)))[0]
            if zero_rows:
                memory[0, 1] = 0.0
                memory[1, 3:] = 0.0
            if zero_key:
                key[0, 1] = 0.0
            return [key, memory, beta]

        return inputs

    return (
        Case("random, H=3, N=5, M=4", make()),
        Case(
            "zero memory rows", make(zero_rows=True), reference_only=frozenset({1}),
            why="|M_i| is not differentiable at a zero row", nonfinite_hint=_zero_norm_hint,
        ),
        Case(
            "a zero key (head 1)", make(zero_key=True), reference_only=frozenset({0}),
            why="|k| is not differentiable at k = 0", nonfinite_hint=_zero_norm_hint,
        ),
    )  # fmt: skip


def _zero_norm_hint(inputs, i, index) -> str | None:
    key, memory, _ = inputs
    if i == 0 and not np.any(key[index[0], index[1]]):
        return (
            f"head {index[1]}'s key is zero, so |k| = 0 here: floor it before dividing "
            "(max(|k|, tiny)), as the forward's cosine does with its eps"
        )
    if i == 1 and not np.any(memory[index[0], index[1]]):
        return (
            f"memory row {index[1]} is zero, so |M_i| = 0 here: floor it before dividing "
            "(max(|M_i|, tiny))"
        )
    return None


def _content_diagnose(context: _Context, i: int, got) -> str | None:
    if i != 1:
        return None
    heads = context.dout.shape[1]
    for h in range(heads):
        alone = np.zeros_like(context.dout)
        alone[:, h] = context.dout[:, h]
        if context.matches(got, adr.content_backward(alone, context.cache)[1]):
            return (
                f"correct for head {h} alone: every head's key is compared with the same memory, "
                "so dmemory is a sum over heads"
            )
    return None


def _write_cases() -> tuple[Case, ...]:
    def make(erase_fully=False, zero_rows=False):
        def inputs(rng):
            memory_prev = rng.standard_normal((2, 5, 4))
            w = _weighting(rng, 2, 2, 5)
            erase = act.sigmoid(rng.standard_normal((2, 2, 4)))
            add = act.tanh_forward(rng.standard_normal((2, 2, 4)))[0]
            if erase_fully:  # both heads erase row 1, column 2 completely: 1 - w e = 0
                w[:, :, :] = np.eye(5)[1]
                erase[:, :, 2] = 1.0
            if zero_rows:
                memory_prev[:, 2:4] = 0.0
            return [memory_prev, w, erase, add]

        return inputs

    return (
        Case("random, two heads, N=5, M=4", make()),
        Case(
            "w e = 1: row 1, column 2 erased", make(erase_fully=True), nonfinite_hint=_erased_hint
        ),
        Case("zero memory rows", make(zero_rows=True)),
    )


def _erased_hint(inputs, i, index) -> str | None:
    _, w, erase, _ = inputs
    keep = mem.erase_factors(w, erase)  # [B, W, N, M]: 1 - w_h e_h^T
    b = index[0]
    erased = {  # the slice of keep that this output's element depends on
        0: keep[b, :, index[1], index[2]],
        1: keep[b, :, index[2], :],
        2: keep[b, :, :, index[2]],
        3: keep[b],
    }[i]
    if np.any(erased == 0):
        return (
            "NaN where 1 - w e = 0 (a location erased completely): a division by 1 - w e? "
            "Multiply the other heads' factors instead of dividing the product by this one's"
        )
    return None


def _write_diagnose(context: _Context, i: int, got) -> str | None:
    memory_prev, w, erase, add = context.cache
    heads = w.shape[1]
    caches = [  # each head as if it were the only write head
        mem.WriteCache(memory_prev, w[:, [h]], erase[:, [h]], add[:, [h]]) for h in range(heads)
    ]
    alone = [mem.write_backward(context.dout, cache) for cache in caches]
    if i == 0:
        for h in range(heads):
            if context.matches(got, alone[h][0]):
                return (
                    f"correct for head {h} alone: M_(t-1) is multiplied by every head's "
                    "erase factor, a product over heads"
                )
    if i in (1, 2) and context.matches(got, np.concatenate([g[i] for g in alone], axis=1)):
        return (
            "each head's gradient as if it were the only one: dK_h needs the product of the "
            "OTHER heads' factors (1 - w e), over heads"
        )
    return None


def _exercises() -> dict[str, Exercise]:
    exercises = (
        Exercise(
            "softmax_backward", act.softmax_forward, act.softmax_backward, ("dx",), ("[..., N]",),
            "softmax_backward(dy, cache: SoftmaxCache) -> dx", _softmax_cases(), _softmax_diagnose,
        ),
        Exercise(
            "shift_backward", adr.shift_forward, adr.shift_backward,
            ("dw_gated", "dshift"), ("[B, H, N]", "[B, H, 2S+1]"),
            "shift_backward(dw, cache: ShiftCache) -> (dw_gated, dshift)", _shift_cases(),
            _shift_diagnose,
            {"dshift": "the shift in the other direction? (s[..., S + j] weighs a shift by +j)"},
        ),
        Exercise(
            "sharpen_backward", adr.sharpen_forward, adr.sharpen_backward,
            ("dw_shifted", "dgamma"), ("[B, H, N]", "[B, H, 1]"),
            "sharpen_backward(dw, cache: SharpenCache) -> (dw_shifted, dgamma)", _sharpen_cases(),
        ),
        Exercise(
            "content_backward", adr.content_forward, adr.content_backward,
            ("dkey", "dmemory", "dbeta"), ("[B, H, M]", "[B, N, M]", "[B, H, 1]"),
            "content_backward(dw, cache: ContentCache) -> (dkey, dmemory, dbeta)",
            _content_cases(), _content_diagnose, heads_input=0,
        ),
        Exercise(
            "write_backward", mem.write_forward, mem.write_backward,
            ("dmemory_prev", "dw", "derase", "dadd"),
            ("[B, N, M]", "[B, W, N]", "[B, W, M]", "[B, W, M]"),
            "write_backward(dmemory, cache: WriteCache) -> (dmemory_prev, dw, derase, dadd)",
            _write_cases(), _write_diagnose, heads_input=1,
        ),
    )  # fmt: skip
    return {e.name: e for e in exercises}


EXERCISES: tuple[str, ...] = tuple(_exercises())  # in the notebooks' order


# --- the table --------------------------------------------------------------------------------


def format_rows(rows: Sequence[Row]) -> str:
    """case | checked | max error | bound | result, with the details of each failure below it."""

    def number(x):
        return "" if x is None else f"{x:.1e}"

    table = [
        (r.case, r.checked, number(r.error), number(r.bound), "pass" if r.passed else "FAIL")
        for r in rows
    ]
    head = ("case", "checked", "max error", "bound", "result")
    widths = [max(len(t[k]) for t in [head, *table]) for k in range(5)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row, cells in zip(rows, table, strict=True):
        lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
        lines += ["      " + line for line in _details(row)]
    failed = sum(not r.passed for r in rows)
    verdict = (
        f"PASSED: all {len(rows)} checks."
        if not failed
        else f"FAILED: {failed} of {len(rows)} checks."
    )
    return "\n".join([*lines, "", verdict])


def _details(row: Row) -> list[str]:
    if row.passed:
        return []
    lines = []
    if row.problem:
        lines.append(row.problem)
    if row.where and row.expected is not None:
        lines.append(
            f"first wrong element {row.where}: expected {row.expected:.6g}, got {row.got:.6g}"
        )
    elif row.where:
        lines.append(f"at {row.where}")
    if row.hint:
        lines.append(f"hint: {row.hint}")
    return lines
