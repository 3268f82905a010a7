"""Tests of ntm_numpy.gradcheck: the audit table passes every op and is assembled from the
cases of gradcheck_cases, rel_error's definition, and the checker catches a wrong backward pass
(a checker that cannot fail proves nothing)."""

from __future__ import annotations

import numpy as np
import pytest

from ntm_numpy import NTM, gradcheck
from ntm_numpy.gradcheck import (
    MODEL_BOUND,
    OP_BOUND,
    CheckResult,
    audit,
    check_model,
    check_op,
    format_table,
    numerical_gradient,
    rel_error,
)
from ntm_numpy.gradcheck_cases import OP_CASES, model_cases
from ntm_numpy.ops import activations as act
from ntm_numpy.ops import memory


@pytest.fixture(scope="module")
def audit_results() -> list[CheckResult]:
    """The audit of the ops (the model's cases are run by test_model, not a second time)."""
    return audit(seed=0, include_model=False)


def test_audit_passes_every_op_within_its_bound(audit_results):
    names = [r.name for r in audit_results]
    assert names == list(dict.fromkeys(case.op for case in OP_CASES))  # one row per op
    for op in ("sigmoid", "softmax", "content", "shift", "sharpen", "write", "heads", "loss"):
        assert op in names
    for r in audit_results:
        assert r.bound == OP_BOUND, r
        assert np.isfinite(r.error) and r.error >= 0, r
        assert r.passed, f"{r.name}: {r.error:.2e} > {r.bound:.0e}"


def test_audit_reports_the_worst_case_of_each_op_and_one_row_per_model_case(monkeypatch):
    """The table's wiring, with the checks themselves stubbed: an op's row is the worst of its
    cases, each model case is a row with the model's bound, and the seed reaches every check."""
    seeds = []

    def op_errors(case, seed):
        seeds.append(seed)
        return [1e-12 * OP_CASES.index(case), 0.0]

    def model_errors(case, seed):
        seeds.append(seed)
        return {"output.b": 1e-6, "heads.W": 3e-6 if "feedforward" in case.name else 2e-6}

    monkeypatch.setattr(gradcheck, "op_case_errors", op_errors)
    monkeypatch.setattr(gradcheck, "model_case_errors", model_errors)
    results = audit(seed=5, memory_inits=("random", "constant"))
    assert set(seeds) == {5} and len(seeds) == len(OP_CASES) + 4
    rows = {r.name: r for r in results}
    last_case = {case.op: i for i, case in enumerate(OP_CASES)}
    assert all(rows[op].error == 1e-12 * i for op, i in last_case.items())
    model_rows = [r for r in results if r.name.startswith("model")]
    assert [r.name for r in model_rows] == [
        "model T=6 lstm random",
        "model T=6 lstm constant",
        "model T=6 feedforward random",
        "model T=6 feedforward constant",
    ]
    assert [r.error for r in model_rows] == [2e-6, 2e-6, 3e-6, 3e-6]
    assert all(r.bound == MODEL_BOUND for r in model_rows)


def test_model_cases_take_a_selection_of_memory_inits_and_reject_others():
    names = [case.name for case in model_cases(memory_inits=("random",))]
    assert names == ["model T=6 lstm random", "model T=6 feedforward random"]
    assert len(model_cases()) == 6  # both controllers, each of the three initial memories
    for bad in ((), ("zeros",), ("random", "learnt")):
        with pytest.raises(ValueError, match=r"memory_inits must be .*'constant'"):
            audit(memory_inits=bad)


def test_format_table_prints_one_row_per_check(audit_results):
    table = format_table(audit_results)
    lines = table.splitlines()
    assert len(lines) == 2 + len(audit_results)  # a header, a rule, then one row per check
    for r, line in zip(audit_results, lines[2:], strict=True):
        assert line.startswith(r.name)
        assert line.rstrip().endswith("yes")
        assert f"{r.error:.2e}" in line


def test_format_table_marks_a_failure():
    rows = [CheckResult("good", 1e-9, 1e-7, 0.1), CheckResult("bad op", 1e-3, 1e-7, 0.1)]
    assert rows[0].passed and not rows[1].passed
    lines = format_table(rows).splitlines()
    assert lines[2].rstrip().endswith("yes")
    assert lines[3].startswith("bad op") and lines[3].rstrip().endswith("NO")


# --- rel_error --------------------------------------------------------------------------------


def test_rel_error_of_equal_arrays_is_zero():
    a = np.random.default_rng(0).standard_normal((3, 4))
    assert rel_error(a, a.copy()) == 0.0


def test_rel_error_is_the_max_difference_over_the_max_magnitude():
    # max|a - n| = 0.5 (second entry); max(|a| + |n|) = 4 (first entry)
    assert rel_error(np.array([2.0, 1.0]), np.array([2.0, 0.5])) == pytest.approx(0.5 / 4.0)
    assert rel_error(np.array([1.0]), np.array([-1.0])) == pytest.approx(1.0)
    assert rel_error([3.0], [3.0 * (1 + 2e-9)]) == pytest.approx(1e-9, rel=1e-6)


def test_rel_error_floors_the_denominator_at_1e_8():
    """Two gradients that are both (almost) zero agree; they are not divided by zero."""
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert rel_error(np.array([1e-12]), np.array([0.0])) == pytest.approx(1e-12 / 1e-8)


def test_rel_error_of_empty_arrays_is_zero_and_shapes_must_match():
    assert rel_error(np.zeros((0, 3)), np.zeros((0, 3))) == 0.0
    with pytest.raises(ValueError, match="shape"):
        rel_error(np.zeros(3), np.zeros((3, 1)))


def test_numerical_gradient_of_a_known_function_and_restores_its_input():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    before = x.copy()
    grad = numerical_gradient(lambda: float(np.sum(x**3)), x)
    np.testing.assert_allclose(grad, 3 * before**2, rtol=1e-8)
    np.testing.assert_array_equal(x, before)


# --- the checker catches wrong backward passes ------------------------------------------------


def test_check_op_accepts_a_right_backward():
    x = np.random.default_rng(1).standard_normal((3, 4))
    assert max(check_op(act.sigmoid_forward, act.sigmoid_backward, [x])) <= OP_BOUND


def test_check_op_catches_a_wrong_backward():
    """sigmoid forward with tanh's backward: y (1 - y) is not 1 - y^2."""
    x = np.random.default_rng(1).standard_normal((3, 4))
    (error,) = check_op(act.sigmoid_forward, act.tanh_backward, [x])
    assert error > 1e-2


def test_check_op_catches_an_error_a_constant_upstream_gradient_would_hide():
    """A softmax backward that subtracts the plain mean of dy instead of sum_j dy_j y_j: with
    dy = 1 it gives 0, exactly like the true gradient (the outputs sum to one), so only a
    random upstream gradient exposes it."""

    def wrong_softmax_backward(dy, cache):
        return cache.y * (dy - dy.mean(axis=-1, keepdims=True))

    x = np.random.default_rng(2).standard_normal((3, 5))
    y, cache = act.softmax_forward(x)
    ones = np.ones_like(y)
    assert np.abs(wrong_softmax_backward(ones, cache)).max() < 1e-15
    assert np.abs(act.softmax_backward(ones, cache)).max() < 1e-15
    (error,) = check_op(act.softmax_forward, wrong_softmax_backward, [x])
    assert error > 1e-2


def test_check_op_catches_a_swapped_gradient_and_respects_wrt():
    rng = np.random.default_rng(3)
    w = rng.random((2, 2, 5)) + 0.1
    w /= w.sum(axis=-1, keepdims=True)
    mem = rng.standard_normal((2, 5, 3))

    def swapped_sign(dr, cache):
        dw, dmem = memory.read_backward(dr, cache)
        return dw, -dmem

    errors = check_op(memory.read_forward, swapped_sign, [w, mem])
    assert errors[0] <= OP_BOUND and errors[1] > 0.5
    (only_w,) = check_op(memory.read_forward, swapped_sign, [w, mem], wrt=[0])
    assert only_w == errors[0]


class _WrongOutputGradientModel(NTM):
    """An NTM whose backward halves the output bias's gradient."""

    def backward(self, dlogits, cache):
        grads = super().backward(dlogits, cache)
        grads["output.b"] = 0.5 * grads["output.b"]
        return grads


def test_check_model_catches_a_wrong_parameter_gradient():
    model = _WrongOutputGradientModel(
        input_size=3, output_size=2, memory_size=4, memory_dim=2, controller_size=3, seed=0
    )
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 2, 3))
    y = (rng.random((3, 2, 2)) > 0.5).astype(float)
    errors = check_model(model, x, y, max_per_param=4)
    assert set(errors) == set(model.params)
    assert errors["output.b"] > 0.1
    assert all(e <= MODEL_BOUND for k, e in errors.items() if k != "output.b")


def test_check_model_needs_float64():
    model = NTM(input_size=3, memory_size=4, memory_dim=2, controller_size=3, dtype="float32")
    x = np.zeros((2, 1, 3))
    with pytest.raises(ValueError, match="float64"):
        check_model(model, x, x)
