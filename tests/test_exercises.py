"""The exercises' grader (ntm_numpy.app.exercises): it passes the package's own backward on every
case, and it catches typical wrong answers, each with a message that points at the mistake.

Every wrong answer below is a small, deliberate edit of a right one, the kind a learner makes:
a missing keepdims, the shift in the other direction, a transposed matrix, a forgotten sum over
heads, the division by 1 - w e of fumin/ntm's erase gradient, outputs off by 1%, and more. Each
test asserts that the grade fails AND that a row names the problem (its hint or its problem
text), so a grader that rejects everything for a wrong reason would fail these tests too.
"""

from __future__ import annotations

import numpy as np
import pytest

from ntm_numpy.app import exercises
from ntm_numpy.app.exercises import EXERCISES, SOLUTION_ENV, grade
from ntm_numpy.ops import activations as act
from ntm_numpy.ops import addressing as adr
from ntm_numpy.ops import memory as mem
from ntm_numpy.ops.reductions import dot_last

PACKAGE = {
    "softmax_backward": act.softmax_backward,
    "shift_backward": adr.shift_backward,
    "sharpen_backward": adr.sharpen_backward,
    "content_backward": adr.content_backward,
    "write_backward": mem.write_backward,
}


def test_every_exercise_is_an_op_backward():
    from ntm_numpy import ops

    assert len(EXERCISES) >= 5
    assert set(EXERCISES) == set(PACKAGE)
    for name in EXERCISES:
        found = [
            getattr(getattr(ops, m), name) for m in ops.__all__ if hasattr(getattr(ops, m), name)
        ]
        assert found == [PACKAGE[name]], f"{name} is not one backward function in ntm_numpy.ops"


@pytest.mark.parametrize("name", EXERCISES)
def test_the_package_backward_passes_every_case(name):
    result = grade(name, PACKAGE[name], verbose=False)
    assert result.passed, result.table
    assert result.graded == "candidate"
    assert all(row.passed for row in result.rows)
    cases = {row.case for row in result.rows}
    assert len(cases) >= 4, "fewer cases than expected: random ones plus the hard ones"


def test_the_hard_cases_are_there():
    titles = {
        name: " ".join(row.case for row in grade(name, PACKAGE[name], verbose=False).rows)
        for name in EXERCISES
    }
    assert "2S+1" in titles["shift_backward"] and "N=2, S=3" in titles["shift_backward"]
    assert "gamma = 50, float32" in titles["sharpen_backward"]
    assert "zero memory rows" in titles["content_backward"]
    assert "zero key" in titles["content_backward"]
    assert "w e = 1" in titles["write_backward"]


# --- the grader's own failure modes ----------------------------------------------------------


def stub(dw, cache):
    raise NotImplementedError  # your code here


@pytest.mark.parametrize("name", EXERCISES)
def test_a_stub_is_not_implemented_yet(name, monkeypatch, capsys):
    monkeypatch.delenv(SOLUTION_ENV, raising=False)
    result = grade(name, stub)
    assert not result.passed
    assert result.graded == "not implemented"
    assert "not implemented yet" in capsys.readouterr().out
    assert "Traceback" not in result.table


@pytest.mark.parametrize("name", EXERCISES)
def test_solution_mode_grades_the_package_backward(name, monkeypatch, capsys):
    monkeypatch.setenv(SOLUTION_ENV, "1")
    result = grade(name, stub)
    assert result.passed, result.table
    assert result.graded == "solution"
    printed = capsys.readouterr().out
    assert "Solution mode" in printed and "PASSED" in printed
    assert "def " not in printed  # no source is shown


def test_solution_mode_still_grades_a_written_candidate(monkeypatch):
    monkeypatch.setenv(SOLUTION_ENV, "1")
    result = grade(
        "softmax_backward", lambda dy, c: 1.01 * act.softmax_backward(dy, c), verbose=False
    )
    assert not result.passed
    assert result.graded == "candidate"


def test_an_unknown_name_is_a_clear_error():
    with pytest.raises(ValueError, match=r"name: unknown exercise 'shift'.*shift_backward"):
        grade("shift", adr.shift_backward)


@pytest.mark.parametrize("candidate", [None, 3, "shift_backward"])
def test_a_candidate_that_is_not_a_function_is_a_clear_error(candidate):
    with pytest.raises(ValueError, match=r"candidate: expected a function shift_backward\(dw"):
        grade("shift_backward", candidate)


def test_the_table_shows_case_check_error_bound_and_the_first_wrong_element(capsys):
    result = grade(
        "shift_backward", lambda dw, c: tuple(1.01 * g for g in adr.shift_backward(dw, c))
    )
    printed = capsys.readouterr().out
    assert printed.strip() == result.table.strip()
    header = printed.splitlines()[2]
    for column in ("case", "checked", "max error", "bound", "result"):
        assert column in header
    first = result.failures[0]
    assert first.where.startswith("dw_gated[") and first.expected is not None
    assert np.isclose(first.got, 1.01 * first.expected, rtol=1e-6)
    assert f"first wrong element {first.where}" in printed
    assert "FAILED" in printed


def test_a_candidate_that_raises_is_reported_case_by_case():
    def typo(dy, cache):
        return cache.y * (dy - undefined_name)  # noqa: F821

    result = grade("softmax_backward", typo, verbose=False)
    assert not result.passed and len(result.failures) == 4  # one per case
    assert all("raised NameError" in row.problem for row in result.failures)


def test_a_candidate_with_the_wrong_signature_is_told_the_right_one():
    result = grade("shift_backward", lambda dw: dw, verbose=False)
    assert "shift_backward(dw, cache: ShiftCache)" in result.failures[0].hint


@pytest.mark.parametrize(
    "returned, message",
    [
        (lambda dw, c: (dw, None), "returned None as output 1"),
        (lambda dw, c: (dw, [dw[0], dw[1, :1]]), "output 1 is not an array"),
        (lambda dw, c: (dw, "dshift"), "expected real numbers"),
        (lambda dw, c: dw, "expected a tuple of 2 arrays"),
    ],
    ids=["None", "ragged", "a string", "one array"],
)
def test_a_result_that_is_not_two_arrays_fails_clearly(returned, message):
    result = grade("shift_backward", returned, verbose=False)
    assert not result.passed
    assert message in result.failures[0].problem


def test_a_candidate_that_changes_its_cache_fails():
    def in_place(dw, cache):
        out = adr.sharpen_backward(dw, cache)
        cache.w[...] = 0.0
        return out

    result = grade("sharpen_backward", in_place, verbose=False)
    assert not result.passed
    (row,) = result.failures
    assert "cache.w" in row.where and "in place" in row.problem


def test_a_candidate_that_changes_dout_fails():
    def in_place(dy, cache):
        dx = act.softmax_backward(dy, cache)
        dy *= 0.5
        return dx

    result = grade("softmax_backward", in_place, verbose=False)
    assert [row.checked for row in result.failures] == ["dout and cache unchanged"]


def test_a_float64_result_for_float32_inputs_fails_on_its_dtype():
    def float64(dy, cache):
        return act.softmax_backward(dy, cache).astype(np.float64)

    result = grade("softmax_backward", float64, verbose=False)
    (row,) = result.failures
    assert "float32" in row.case and "dtype float64" in row.problem and "dtype=" in row.hint


# --- typical mistakes: each must fail with a hint that names it -----------------------------


def hints_of(name, candidate) -> str:
    result = grade(name, candidate, verbose=False)
    assert not result.passed, f"{name}: a wrong answer passed\n{result.table}"
    return "\n".join(f"{row.problem} | {row.hint}" for row in result.failures)


def off_by_one_percent(backward):
    def wrong(dout, cache):
        out = backward(dout, cache)
        return tuple(1.01 * g for g in out) if isinstance(out, tuple) else 1.01 * out

    return wrong


@pytest.mark.parametrize("name", EXERCISES)
def test_outputs_off_by_one_percent(name):
    assert "off by a constant factor of ~1.01" in hints_of(name, off_by_one_percent(PACKAGE[name]))


# softmax


def softmax_no_keepdims(dy, cache):
    y, axis = cache
    return y * (dy - (dy * y).sum(axis=axis))


def softmax_last_axis_always(dy, cache):
    y, _ = cache
    return y * (dy - (dy * y).sum(axis=-1, keepdims=True))


def softmax_without_the_factor_y(dy, cache):
    y, axis = cache
    return dy - (dy * y).sum(axis=axis, keepdims=True)


def softmax_without_the_sum(dy, cache):
    return cache.y * dy


def softmax_sign_flipped(dy, cache):
    return -act.softmax_backward(dy, cache)


@pytest.mark.parametrize(
    "mistake, message",
    [
        (softmax_no_keepdims, "keepdims=True"),
        (softmax_last_axis_always, "this softmax is over axis 1: use cache.axis"),
        (softmax_without_the_factor_y, "does not sum to 0 along the softmax's axis"),
        (softmax_without_the_sum, "does not sum to 0 along the softmax's axis"),
        (softmax_sign_flipped, "the sign is flipped"),
    ],
    ids=lambda v: v.__name__ if callable(v) else "",
)
def test_softmax_mistakes(mistake, message):
    assert message in hints_of("softmax_backward", mistake)


# shift


def shift_correct_loops(dw, cache, direction=+1, wrap=True, stack_axis=-1, dtype=None):
    """A plain version of the shift's backward, with switches for the typical mistakes."""
    padded, shift = cache
    N, K = dw.shape[-1], shift.shape[-1]
    S = (K - 1) // 2
    w_gated = padded[..., S : S + N]
    dw_gated = np.zeros(dw.shape, dtype=dtype or dw.dtype)
    dshift = []
    for k in range(K):
        j = k - S
        if wrap:
            dw_gated += shift[..., k : k + 1] * np.roll(dw, -direction * j, axis=-1)
            moved = np.roll(w_gated, direction * j, axis=-1)
        else:  # zero padding: what leaves the row is lost
            dw_gated += shift[..., k : k + 1] * np.roll(dw, -j, axis=-1) * edge_mask(N, -j)
            moved = np.roll(w_gated, j, axis=-1) * edge_mask(N, j)
        dshift.append((dw * moved).sum(axis=-1))
    return dw_gated, np.stack(dshift, axis=stack_axis)


def edge_mask(N, j):
    """1 where i - j lies inside 0..N-1: the rows a non-wrapping shift by j reaches."""
    i = np.arange(N)
    return ((i - j >= 0) & (i - j < N)).astype(float)


def test_the_plain_shift_backward_used_below_is_right():
    assert grade("shift_backward", shift_correct_loops, verbose=False).passed


def shift_other_direction(dw, cache):
    return shift_correct_loops(dw, cache, direction=-1)


def shift_dshift_reversed(dw, cache):
    dw_gated, dshift = adr.shift_backward(dw, cache)
    return dw_gated, dshift[..., ::-1]


def shift_without_wrap(dw, cache):
    return shift_correct_loops(dw, cache, wrap=False)


def shift_stacked_first(dw, cache):
    return shift_correct_loops(dw, cache, stack_axis=0)


def shift_allocates_float64(dw, cache):
    return shift_correct_loops(dw, cache, dtype=np.float64)


@pytest.mark.parametrize(
    "mistake, message",
    [
        (shift_other_direction, "looks like the shift in the other direction"),
        (
            shift_dshift_reversed,
            "dshift is reversed along its last axis: the shift in the other direction?",
        ),
        (shift_without_wrap, "does the shift wrap around (mod N)?"),
        (shift_stacked_first, "the right sizes in the wrong order"),
        (shift_allocates_float64, "dtype=dw.dtype"),
    ],
    ids=lambda v: v.__name__ if callable(v) else "",
)
def test_shift_mistakes(mistake, message):
    assert message in hints_of("shift_backward", mistake)


# sharpen


def sharpen_no_keepdims(dw, cache):
    dw_shifted, dgamma = adr.sharpen_backward(dw, cache)
    return dw_shifted, dgamma[..., 0]


def sharpen_with_powers(dw, cache):
    """w = w~^g / sum w~^g differentiated with explicit powers: underflows in float32."""
    shifted, gamma = cache.shifted_plus_tiny, cache.gamma
    powered = shifted**gamma
    total = powered.sum(axis=-1, keepdims=True)
    w = powered / total
    dz = w * (dw - (dw * w).sum(axis=-1, keepdims=True))
    return dz * gamma / shifted, (dz * np.log(shifted)).sum(axis=-1, keepdims=True)


def sharpen_divides_by_w_shifted(dw, cache):
    w_shifted = cache.shifted_plus_tiny - adr.SHARPEN_TINY
    dz = cache.w * (dw - dot_last(dw, cache.w))
    return dz * cache.gamma / w_shifted, dot_last(dz, cache.log_shifted)


def sharpen_outputs_swapped(dw, cache):
    return adr.sharpen_backward(dw, cache)[::-1]


@pytest.mark.parametrize(
    "mistake, message",
    [
        (sharpen_no_keepdims, "keepdims=True"),
        (sharpen_with_powers, "w~^gamma underflows to 0 at gamma = 50"),
        (sharpen_divides_by_w_shifted, "divide by cache.shifted_plus_tiny"),
        (sharpen_outputs_swapped, "return (dw_shifted, dgamma) in this order"),
    ],
    ids=lambda v: v.__name__ if callable(v) else "",
)
def test_sharpen_mistakes(mistake, message):
    assert message in hints_of("sharpen_backward", mistake)


# content


def content_parts(dw, cache, norm_floor=adr.NORM_FLOOR):
    """The content backward up to the memory's gradient, as ``content_backward_factored``;
    ``norm_floor=0`` divides by the norms unguarded."""
    dz = cache.w * (dw - dot_last(dw, cache.w))
    dbeta = dot_last(dz, cache.cosine)
    ddot = dz * cache.beta / cache.denominator  # [B, H, N]
    ddenominator = -ddot * cache.cosine
    dkey_norm = dot_last(ddenominator, cache.memory_norm)
    dmemory_norm = ddenominator * cache.key_norm  # [B, H, N], per head
    with np.errstate(all="ignore"):
        key_norm = np.maximum(cache.key_norm, norm_floor) if norm_floor else cache.key_norm
        memory_norm = np.maximum(cache.memory_norm, norm_floor) if norm_floor else cache.memory_norm
        dkey = ddot @ cache.memory + cache.key * (dkey_norm / key_norm)
        # per head h: dM_i = ddot_hi k_h + dmemory_norm_hi M_i / |M_i|   -> [B, H, N, M]
        per_head = ddot[..., None] * cache.key[:, :, None, :] + (
            (dmemory_norm / memory_norm)[..., None] * cache.memory[:, None]
        )
    return dkey, per_head, dbeta


def content_first_head_only(dw, cache):
    dkey, per_head, dbeta = content_parts(dw, cache)
    return dkey, per_head[:, 0], dbeta


def content_heads_not_summed(dw, cache):
    dkey, per_head, dbeta = content_parts(dw, cache)
    return dkey, per_head, dbeta


def content_mean_over_heads(dw, cache):
    dkey, per_head, dbeta = content_parts(dw, cache)
    return dkey, per_head.mean(axis=1), dbeta


def content_transposed_memory(dw, cache):
    dkey, per_head, dbeta = content_parts(dw, cache)
    return dkey, per_head.sum(axis=1).swapaxes(-1, -2), dbeta


def content_unguarded_key_norm(dw, cache):
    dkey, _, dbeta = content_parts(dw, cache, norm_floor=0)
    return dkey, content_parts(dw, cache)[1].sum(axis=1), dbeta


def content_unguarded_row_norm(dw, cache):
    _, per_head, dbeta = content_parts(dw, cache, norm_floor=0)
    return content_parts(dw, cache)[0], per_head.sum(axis=1), dbeta


def content_beta_without_keepdims(dw, cache):
    dkey, dmemory, dbeta = adr.content_backward(dw, cache)
    return dkey, dmemory, dbeta[..., 0]


def test_the_content_parts_used_below_are_right():
    def right(dw, cache):
        dkey, per_head, dbeta = content_parts(dw, cache)
        return dkey, per_head.sum(axis=1), dbeta

    assert grade("content_backward", right, verbose=False).passed


@pytest.mark.parametrize(
    "mistake, message",
    [
        (content_first_head_only, "correct for head 0 alone"),
        (content_heads_not_summed, "the sum over heads is missing"),
        (content_mean_over_heads, "a mean over heads instead of a sum?"),
        (content_transposed_memory, "looks transposed"),
        (content_unguarded_key_norm, "head 1's key is zero, so |k| = 0"),
        (content_unguarded_row_norm, "is zero, so |M_i| = 0"),
        (content_beta_without_keepdims, "keepdims=True"),
    ],
    ids=lambda v: v.__name__ if callable(v) else "",
)
def test_content_mistakes(mistake, message):
    assert message in hints_of("content_backward", mistake)


# write


def write_by_division(dmemory, cache):
    """fumin/ntm's erase gradient: the other heads' product as P / (1 - w_h e_h^T)."""
    memory_prev, w, erase, add = cache
    keep = 1.0 - w[..., :, None] * erase[..., None, :]  # [B, W, N, M]
    product = keep.prod(axis=1)
    dkeep = (dmemory * memory_prev)[:, None] * (product[:, None] / keep)
    dw = add @ dmemory.swapaxes(-1, -2) - (dkeep @ erase[..., :, None])[..., 0]
    derase = -(w[..., None, :] @ dkeep)[..., 0, :]
    return dmemory * product, dw, derase, w @ dmemory


def write_first_head_only(dmemory, cache):
    _, dw, derase, dadd = mem.write_backward(dmemory, cache)
    keep = 1.0 - cache.w[:, 0, :, None] * cache.erase[:, 0, None, :]
    return dmemory * keep, dw, derase, dadd


def write_each_head_alone(dmemory, cache):
    """Every head's dK as if it were the only write head: the other heads' factor is missing."""
    memory_prev, w, erase, add = cache
    dkeep = (dmemory * memory_prev)[:, None]  # [B, 1, N, M] for every head
    dmemory_prev, *_ = mem.write_backward(dmemory, cache)
    dw = add @ dmemory.swapaxes(-1, -2) - (dkeep @ erase[..., :, None])[..., 0]
    derase = -(w[..., None, :] @ dkeep)[..., 0, :]
    return dmemory_prev, dw, derase, w @ dmemory


def write_dadd_transposed(dmemory, cache):
    dmemory_prev, dw, derase, _ = mem.write_backward(dmemory, cache)
    return dmemory_prev, dw, derase, dmemory.swapaxes(-1, -2) @ cache.w.swapaxes(-1, -2)


def write_dw_without_swapaxes(dmemory, cache):
    dmemory_prev, _, derase, dadd = mem.write_backward(dmemory, cache)
    return dmemory_prev, cache.add @ dmemory, derase, dadd


def test_write_by_division_is_right_away_from_w_e_equal_one():
    rows = grade("write_backward", write_by_division, verbose=False).rows
    assert all(row.passed for row in rows if "random" in row.case)


@pytest.mark.parametrize(
    "mistake, message",
    [
        (write_by_division, "a division by 1 - w e?"),
        (write_first_head_only, "correct for head 0 alone"),
        (write_each_head_alone, "the product of the OTHER heads' factors"),
        (write_dadd_transposed, "looks transposed"),
        (write_dw_without_swapaxes, "one factor needs transposing"),
    ],
    ids=lambda v: v.__name__ if callable(v) else "",
)
def test_write_mistakes(mistake, message):
    assert message in hints_of("write_backward", mistake)


def test_hints_come_from_the_data_not_from_the_exercise():
    """An answer right everywhere but one element gets no pattern hint, only its location."""

    def one_wrong(dout, cache):
        dw_gated, dshift = adr.shift_backward(dout, cache)
        dshift = dshift.copy()
        dshift[0, 0, 1] += 0.5
        return dw_gated, dshift

    result = grade("shift_backward", one_wrong, verbose=False)
    assert not result.passed
    assert all(row.where == "dshift[0, 0, 1]" for row in result.failures)
    assert not any(row.hint for row in result.failures)
    assert exercises.FD_BOUND <= 1e-7
