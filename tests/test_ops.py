"""Tests of ntm_numpy.ops and ntm_numpy.heads: every backward pass against central finite
differences (float64, random upstream gradient: the cases of ``gradcheck_cases``, which the
audit runs too), a plain-loop "slow twin" of every vectorised addressing and memory stage, the
properties every weighting must have, and the numerics of degenerate inputs (zero memory rows,
a zero key, a huge beta)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from ntm_numpy.gradcheck import OP_BOUND, op_case_errors
from ntm_numpy.gradcheck_cases import (
    ACTIVATIONS,
    ADDRESS_SIZES,
    HEAD_LAYOUTS,
    OP_CASES,
    address_inputs,
    case_id,
    fully_erasing_write_inputs,
    random_weighting,
    write_inputs,
)
from ntm_numpy.heads import HeadLayout, heads_forward
from ntm_numpy.ops import activations as act
from ntm_numpy.ops import addressing as adr
from ntm_numpy.ops import loss, memory, reductions

TWIN_TOL = 1e-12  # vectorised op vs its plain-loop twin, float64


def raise_on_bad_numerics():
    """Overflow, 0/0, x/0 and invalid operations become errors (underflow to 0 is benign)."""
    return np.errstate(over="raise", divide="raise", invalid="raise")


ADDRESS_CASES = [
    pytest.param(*sizes, id=case_id(**dict(zip("BHNS", sizes, strict=True))))
    for sizes in ADDRESS_SIZES
]


# =============================================================================================
# 1. Every backward pass against finite differences: the cases of gradcheck_cases, which
#    `python -m ntm_numpy gradcheck` runs too
# =============================================================================================


@pytest.mark.parametrize("case", OP_CASES, ids=lambda case: case.id)
def test_op_backward(case):
    errors = op_case_errors(case, seed=0)
    inputs = case.make_inputs(np.random.default_rng(0))
    assert len(errors) == len(case.wrt or inputs), "every input is checked"
    assert all(e <= OP_BOUND for e in errors), f"relative errors per input: {errors}"


def test_every_op_of_the_model_has_cases():
    ops = {case.op for case in OP_CASES}
    model_ops = {"linear", "lstm_step", "lstm_cell", "content", "interpolate", "shift"}
    model_ops |= {"sharpen", "address", "read", "write", "heads", "loss"}
    assert set(ACTIVATIONS) | model_ops <= ops
    assert len({case.id for case in OP_CASES}) == len(OP_CASES), "case ids are unique"


def test_softmax_forward_normalises_the_given_axis():
    x = np.random.default_rng(4).standard_normal((3, 5, 7))
    for axis in range(3):
        y, _ = act.softmax_forward(x, axis=axis)
        np.testing.assert_allclose(y.sum(axis=axis), 1.0, atol=1e-13)


@pytest.mark.parametrize("W", [1, 2, 3], ids=lambda w: f"W={w}")
def test_write_where_a_head_erases_completely_is_finite(W):
    """w e = 1 somewhere: no 0/0 in the erase gradient (its finite-difference check is the case
    write-W=...-erases-completely)."""
    inputs = fully_erasing_write_inputs(np.random.default_rng(29), W)
    with raise_on_bad_numerics():
        out, cache = memory.write_forward(*inputs)
        grads = memory.write_backward(np.ones_like(out), cache)
    assert all(np.isfinite(g).all() for g in grads)


@pytest.mark.parametrize(
    "W, R, S",
    [
        pytest.param(*layout, id=case_id(**dict(zip("WRS", layout, strict=True))))
        for layout in HEAD_LAYOUTS
    ],
)
def test_heads_forward_shapes_and_ranges(W, R, S):
    B, M = 2, 3
    layout = HeadLayout(num_write_heads=W, num_read_heads=R, memory_dim=M, shift_range=S)
    assert layout.size == (W + R) * (M + 3 + 2 * S + 1) + 2 * W * M
    raw = 3.0 * np.random.default_rng(33).standard_normal((B, layout.size))
    params, _ = heads_forward(raw, layout)
    for group, H in [(params.write, W), (params.read, R)]:
        assert group.key.shape == (B, H, M)
        assert group.beta.shape == group.gate.shape == group.gamma.shape == (B, H, 1)
        assert group.shift.shape == (B, H, 2 * S + 1)
        assert (group.beta >= 0).all() and (group.gamma >= 1).all()
        assert ((group.gate > 0) & (group.gate < 1)).all()
        np.testing.assert_allclose(group.shift.sum(axis=-1), 1.0, atol=1e-13)
    assert params.erase.shape == params.add.shape == (B, W, M)
    assert ((params.erase > 0) & (params.erase < 1)).all()
    assert (np.abs(params.add) < 1).all()


def test_loss_is_bits_per_sequence():
    """One scored bit with p = sigma(0) = 1/2 costs exactly one bit; masked steps cost nothing."""
    logits = np.zeros((2, 1, 1))
    targets = np.ones((2, 1, 1))
    value, _ = loss.sigmoid_cross_entropy_forward(logits, targets, np.array([[1.0], [0.0]]))
    assert float(value) == pytest.approx(1.0, abs=1e-15)


def test_loss_is_softplus_minus_y_z_for_any_logit_and_target():
    """The stable form max(z, 0) - y z + log(1 + e^-|z|) is log(1 + e^z) - y z, in float64."""
    rng = np.random.default_rng(36)
    logits = rng.uniform(-40, 40, size=(6, 3, 5))
    targets = rng.random((6, 3, 5))  # any y in [0, 1], not only bits
    mask = (rng.random((6, 3)) > 0.3).astype(float)
    value, _ = loss.sigmoid_cross_entropy_forward(logits, targets, mask)
    per_bit = np.log1p(np.exp(logits)) - targets * logits
    expected = (per_bit * mask[..., None]).sum() / (math.log(2) * 3)
    assert float(value) == pytest.approx(expected, rel=1e-13)


def test_float32_loss_near_convergence_matches_float64():
    """Confident, right bits (|z| ~ 14, y = [z > 0]) cost ~e^-14 each: in float32 the cost of
    the same logits must match float64's, not lose that term to rounding near 14."""
    rng = np.random.default_rng(37)
    T, B, K = 20, 16, 8
    targets = (rng.random((T, B, K)) > 0.5).astype(np.float32)
    logits = (rng.uniform(12.0, 16.0, size=(T, B, K)) * (2 * targets - 1)).astype(np.float32)
    mask = np.ones((T, B), dtype=np.float32)
    value32, _ = loss.sigmoid_cross_entropy_forward(logits, targets, mask)
    as64 = [a.astype(np.float64) for a in (logits, targets, mask)]
    value64, _ = loss.sigmoid_cross_entropy_forward(*as64)
    assert value32.dtype == np.float32
    assert float(value32) == pytest.approx(float(value64), rel=1e-5)


# =============================================================================================
# 2. Slow twins: plain loops over b, h, i, j, the specification a reader trusts
# =============================================================================================


def content_twin(key, memory_, beta):
    B, H, M = key.shape
    N = memory_.shape[1]
    out = np.zeros((B, H, N))
    for b in range(B):
        for h in range(H):
            key_norm = math.sqrt(sum(key[b, h, m] ** 2 for m in range(M)))
            z = []
            for i in range(N):
                dot = sum(key[b, h, m] * memory_[b, i, m] for m in range(M))
                row_norm = math.sqrt(sum(memory_[b, i, m] ** 2 for m in range(M)))
                z.append(beta[b, h, 0] * dot / (key_norm * row_norm + adr.COSINE_EPS))
            top = max(z)
            e = [math.exp(v - top) for v in z]
            for i in range(N):
                out[b, h, i] = e[i] / sum(e)
    return out


def interpolate_twin(w_content, w_prev, gate):
    B, H, N = w_content.shape
    out = np.zeros((B, H, N))
    for b in range(B):
        for h in range(H):
            g = gate[b, h, 0]
            for i in range(N):
                out[b, h, i] = g * w_content[b, h, i] + (1 - g) * w_prev[b, h, i]
    return out


def shift_twin(w_gated, s):
    """w~_i = sum_{j=-S..S} w_g[(i - j) mod N] s[S + j]."""
    B, H, N = w_gated.shape
    S = (s.shape[-1] - 1) // 2
    out = np.zeros((B, H, N))
    for b in range(B):
        for h in range(H):
            for i in range(N):
                for j in range(-S, S + 1):
                    out[b, h, i] += w_gated[b, h, (i - j) % N] * s[b, h, S + j]
    return out


def sharpen_twin(w_shifted, gamma):
    B, H, N = w_shifted.shape
    out = np.zeros((B, H, N))
    for b in range(B):
        for h in range(H):
            powered = [w_shifted[b, h, i] ** gamma[b, h, 0] for i in range(N)]
            for i in range(N):
                out[b, h, i] = powered[i] / sum(powered)
    return out


def read_twin(w, memory_):
    B, R, N = w.shape
    M = memory_.shape[2]
    out = np.zeros((B, R, M))
    for b in range(B):
        for h in range(R):
            for m in range(M):
                out[b, h, m] = sum(w[b, h, i] * memory_[b, i, m] for i in range(N))
    return out


def write_twin(memory_prev, w, erase, add):
    """Erase (a product over the write heads), then add (a sum over them)."""
    B, N, M = memory_prev.shape
    W = w.shape[1]
    out = np.zeros((B, N, M))
    for b in range(B):
        for i in range(N):
            for m in range(M):
                keep = 1.0
                for h in range(W):
                    keep *= 1.0 - w[b, h, i] * erase[b, h, m]
                out[b, i, m] = memory_prev[b, i, m] * keep
                for h in range(W):
                    out[b, i, m] += w[b, h, i] * add[b, h, m]
    return out


def assert_twins(fast, slow):
    assert fast.shape == slow.shape
    np.testing.assert_allclose(fast, slow, rtol=0, atol=TWIN_TOL)


@pytest.mark.parametrize("B, H, N, S", ADDRESS_CASES)
def test_content_matches_slow_twin(B, H, N, S):
    key, beta, *_, mem = address_inputs(np.random.default_rng(40), B, H, N, S)
    mem[0, 1] = 0.0  # a zero row too
    assert_twins(adr.content_forward(key, mem, beta)[0], content_twin(key, mem, beta))


@pytest.mark.parametrize("B, H, N, S", ADDRESS_CASES)
def test_interpolate_matches_slow_twin(B, H, N, S):
    rng = np.random.default_rng(41)
    wc, wp, g = (
        random_weighting(rng, B, H, N),
        random_weighting(rng, B, H, N),
        rng.random((B, H, 1)),
    )
    assert_twins(adr.interpolate_forward(wc, wp, g)[0], interpolate_twin(wc, wp, g))


@pytest.mark.parametrize(
    "N, S",
    [
        pytest.param(N, S, id=case_id(N=N, S=S))
        for N, S in [(5, 1), (7, 2), (3, 2), (2, 1), (1, 1), (4, 3)]
    ],
)
def test_shift_matches_slow_twin(N, S):
    """Includes N < 2S+1, where the window wraps round and visits a row more than once."""
    rng = np.random.default_rng(42)
    w, s = random_weighting(rng, 2, 3, N), random_weighting(rng, 2, 3, 2 * S + 1)
    assert_twins(adr.shift_forward(w, s)[0], shift_twin(w, s))


@pytest.mark.parametrize("B, H, N, S", ADDRESS_CASES)
def test_sharpen_matches_slow_twin(B, H, N, S):
    rng = np.random.default_rng(43)
    w, gamma = random_weighting(rng, B, H, N), 1.0 + 5.0 * rng.random((B, H, 1))
    assert_twins(adr.sharpen_forward(w, gamma)[0], sharpen_twin(w, gamma))


@pytest.mark.parametrize("B, H, N, S", ADDRESS_CASES)
def test_address_matches_chained_slow_twins(B, H, N, S):
    key, beta, gate, shift, gamma, w_prev, mem = address_inputs(
        np.random.default_rng(44), B, H, N, S
    )
    slow = sharpen_twin(
        shift_twin(interpolate_twin(content_twin(key, mem, beta), w_prev, gate), shift), gamma
    )
    fast, cache = adr.address_forward(key, beta, gate, shift, gamma, w_prev, mem)
    assert_twins(fast, slow)
    # the stages recovered from the cache for plots are the twins' stages too
    w_content, w_gated, w_shifted, w = adr.address_stages(cache)
    assert_twins(w_content, content_twin(key, mem, beta))
    assert_twins(w_gated, interpolate_twin(w_content, w_prev, gate))
    assert_twins(w_shifted, shift_twin(w_gated, shift))
    assert_twins(w, fast)


@pytest.mark.parametrize("R", [1, 3], ids=lambda r: f"R={r}")
def test_read_matches_slow_twin(R):
    rng = np.random.default_rng(45)
    w, mem = random_weighting(rng, 3, R, 7), rng.standard_normal((3, 7, 4))
    assert_twins(memory.read_forward(w, mem)[0], read_twin(w, mem))


@pytest.mark.parametrize("W", [1, 2, 3], ids=lambda w: f"W={w}")
def test_write_matches_slow_twin(W):
    inputs = write_inputs(np.random.default_rng(46), 3, W, 7)
    assert_twins(memory.write_forward(*inputs)[0], write_twin(*inputs))
    full = fully_erasing_write_inputs(np.random.default_rng(29), W)
    assert_twins(memory.write_forward(*full)[0], write_twin(*full))


@pytest.mark.parametrize("K", [1, 2, 3], ids=lambda k: f"K={k}")
def test_outer_sum_matches_a_loop_over_terms(K):
    rng = np.random.default_rng(47)
    rows, cols = rng.standard_normal((2, 3, K, 7)), rng.standard_normal((2, 3, K, 4))
    twin = np.zeros((2, 3, 7, 4))
    for b, h, k in np.ndindex(2, 3, K):
        twin[b, h] += np.outer(rows[b, h, k], cols[b, h, k])
    assert_twins(memory.outer_sum(rows, cols), twin)
    # stored transposed ([..., M, N] in memory), so that every memory born of it is too
    assert memory.outer_sum(rows, cols).swapaxes(-1, -2).flags.c_contiguous


def test_memories_are_stored_transposed():
    """M_t and dL/dM_t keep outer_sum's layout through the write (a speed property only)."""
    inputs = write_inputs(np.random.default_rng(49), 3, 1, 7)
    written, cache = memory.write_forward(*inputs)
    assert written.swapaxes(-1, -2).flags.c_contiguous
    dmemory_prev = memory.write_backward(written * 0.5, cache)[0]
    assert dmemory_prev.swapaxes(-1, -2).flags.c_contiguous


def test_erase_factors_are_one_minus_w_e():
    rng = np.random.default_rng(48)
    w, erase = random_weighting(rng, 3, 2, 7), rng.random((3, 2, 4))
    twin = 1.0 - w[..., :, None] * erase[..., None, :]
    assert_twins(memory.erase_factors(w, erase), twin)


def test_memory_grad_total_sums_the_factored_gradients_in_place():
    """rows^T cols + scale * M, for several gradients of one memory, dense and added to ``into``."""
    rng = np.random.default_rng(49)
    B, N, M = 3, 7, 4
    mem = rng.standard_normal((B, N, M))
    grads = [
        memory.MemoryGrad(rng.standard_normal((B, 2, N)), rng.standard_normal((B, 2, M))),
        memory.MemoryGrad(
            rng.standard_normal((B, 1, N)), rng.standard_normal((B, 1, M)), rng.random((B, N))
        ),
        memory.MemoryGrad(
            rng.standard_normal((B, 3, N)), rng.standard_normal((B, 3, M)), rng.random((B, N))
        ),
    ]
    twin = sum(
        np.einsum("bkn,bkm->bnm", g.rows, g.cols)
        + (0 if g.scale is None else g.scale[..., None] * mem)
        for g in grads
    )
    assert_twins(memory.memory_grad_total(mem, grads), twin)
    into = rng.standard_normal((B, N, M))
    expected = into + twin
    assert memory.memory_grad_total(mem, grads, into=into) is into
    assert_twins(into, expected)


def test_content_with_known_row_norms_is_the_same():
    rng = np.random.default_rng(50)
    key, mem, beta = (
        rng.standard_normal((2, 3, 4)),
        rng.standard_normal((2, 7, 4)),
        rng.random((2, 3, 1)),
    )
    w, cache = adr.content_forward(key, mem, beta)
    w_known, _ = adr.content_forward(key, mem, beta, adr.row_norms(mem))
    np.testing.assert_array_equal(w_known, w)
    np.testing.assert_array_equal(cache.memory_norm, adr.row_norms(mem))


# =============================================================================================
# 3. Properties
# =============================================================================================


def assert_distribution(w, atol=1e-12):
    assert (w >= 0).all()
    np.testing.assert_allclose(w.sum(axis=-1), 1.0, rtol=0, atol=atol)


@pytest.mark.parametrize("seed", range(5), ids=lambda s: f"seed={s}")
def test_every_stage_gives_a_distribution(seed):
    rng = np.random.default_rng(seed)
    B, H, N, S = 3, 3, 7, 2
    key, beta, gate, shift, gamma, w_prev, mem = address_inputs(rng, B, H, N, S)
    key *= 5.0
    beta *= 10.0
    gamma *= 5.0
    w_content, _ = adr.content_forward(key, mem, beta)
    w_gated, _ = adr.interpolate_forward(w_content, w_prev, gate)
    w_shifted, _ = adr.shift_forward(w_gated, shift)
    w, _ = adr.sharpen_forward(w_shifted, gamma)
    for stage in (w_content, w_gated, w_shifted, w):
        assert stage.shape == (B, H, N)
        assert_distribution(stage)


def reference_content_addressing(key, memory_, beta):
    """softmax(beta * cos(key, M_i)), the reference's formula, written independently: the
    exact cosine (no eps), key [B, M] or [B, H, M]."""
    if key.ndim == 2:
        return reference_content_addressing(key[:, None], memory_, beta[:, None])[:, 0]
    key_unit = key / np.linalg.norm(key, axis=-1, keepdims=True)
    rows_unit = memory_ / np.linalg.norm(memory_, axis=-1, keepdims=True)
    z = beta * np.einsum("bhm,bnm->bhn", key_unit, rows_unit)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_content_addressing_matches_the_reference_shapes_and_formula():
    rng = np.random.default_rng(50)
    B, N, M, H = 3, 7, 4, 2
    mem = rng.standard_normal((B, N, M))
    key, beta = rng.standard_normal((B, M)), 0.5 + 3.0 * rng.random((B, 1))
    w = adr.content_addressing(key, mem, beta)
    assert w.shape == (B, N)
    np.testing.assert_allclose(w, reference_content_addressing(key, mem, beta), atol=1e-7)
    key, beta = rng.standard_normal((B, H, M)), 0.5 + 3.0 * rng.random((B, H, 1))
    w = adr.content_addressing(key, mem, beta)
    assert w.shape == (B, H, N)
    np.testing.assert_allclose(w, reference_content_addressing(key, mem, beta), atol=1e-7)


def test_content_addressing_prefers_the_most_similar_row():
    mem = np.eye(5, 3)[None]  # rows e0, e1, e2, 0, 0
    w = adr.content_addressing(np.array([[0.0, 2.0, 0.0]]), mem, np.array([[50.0]]))
    assert int(w.argmax()) == 1 and w[0, 1] > 0.99


@pytest.mark.parametrize(
    "N, S", [pytest.param(5, 1, id="N=5-S=1"), pytest.param(7, 2, id="N=7-S=2")]
)
def test_shift_moves_a_one_hot_weighting(N, S):
    """All of s on +1 moves the focus one row forward, and on -1 one row back, wrapping round."""
    for start in (0, N - 1):
        w = np.zeros((1, 1, N))
        w[0, 0, start] = 1.0
        for offset in (+1, -1):
            s = np.zeros((1, 1, 2 * S + 1))
            s[0, 0, S + offset] = 1.0
            moved, _ = adr.shift_forward(w, s)
            expected = np.zeros(N)
            expected[(start + offset) % N] = 1.0
            np.testing.assert_array_equal(moved[0, 0], expected)


def test_sharpening_with_gamma_one_is_the_identity_and_concentrates_otherwise():
    rng = np.random.default_rng(51)
    w = random_weighting(rng, 2, 3, 7)
    np.testing.assert_allclose(adr.sharpen_forward(w, np.ones((2, 3, 1)))[0], w, atol=1e-13)
    sharp, _ = adr.sharpen_forward(w, np.full((2, 3, 1), 4.0))
    assert (sharp.max(axis=-1) > w.max(axis=-1)).all()
    np.testing.assert_array_equal(sharp.argmax(axis=-1), w.argmax(axis=-1))


def test_write_with_one_head_that_erases_nothing_only_adds():
    rng = np.random.default_rng(52)
    mem, w, _, add = write_inputs(rng, 2, 1, 5)
    out, _ = memory.write_forward(mem, w, np.zeros((2, 1, 4)), add)
    np.testing.assert_allclose(out, mem + np.einsum("bhn,bhm->bnm", w, add), atol=1e-14)


# =============================================================================================
# 4. Numerics: degenerate inputs give finite values, finite gradients and no warnings
# =============================================================================================


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_content_with_zero_rows_zero_key_and_huge_beta_is_finite(dtype):
    rng = np.random.default_rng(60)
    B, H, N, M = 2, 3, 5, 4
    key = rng.standard_normal((B, H, M)).astype(dtype)
    key[0, 1] = 0.0  # a zero key
    mem = rng.standard_normal((B, N, M)).astype(dtype)
    mem[0, 2] = 0.0  # a zero row
    mem[1] = 0.0  # a wholly zero memory
    beta = np.full((B, H, 1), 1e4, dtype=dtype)
    beta[0, 0] = 0.7
    with warnings.catch_warnings(), raise_on_bad_numerics():
        warnings.simplefilter("error")
        w, cache = adr.content_forward(key, mem, beta)
        grads = adr.content_backward(rng.standard_normal(w.shape).astype(dtype), cache)
    assert w.dtype == dtype and all(g.dtype == dtype for g in grads)
    assert np.isfinite(w).all() and all(np.isfinite(g).all() for g in grads)
    assert_distribution(w, atol=1e-5)
    # a zero key, or a zero memory, is equally similar to every row: uniform weights
    np.testing.assert_allclose(w[0, 1], 1.0 / N, rtol=1e-5)
    np.testing.assert_allclose(w[1], 1.0 / N, rtol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_address_from_a_zero_memory_and_a_one_hot_weighting_is_finite(dtype):
    """The model's start: memory 0, previous weights exactly one-hot (zeros to sharpen),
    large gamma; forward and backward stay finite."""
    rng = np.random.default_rng(61)
    B, H, N, S, M = 2, 2, 5, 1, 3
    key, beta, gate, shift, gamma, w_prev, _ = address_inputs(rng, B, H, N, S, M)
    gate[:] = 0.0  # w_g = w_prev exactly
    w_prev[:] = 0.0
    w_prev[..., 0] = 1.0
    shift[:] = 0.0
    shift[..., S] = 1.0  # no shift: w~ holds exact zeros
    gamma[:] = 50.0
    args = [a.astype(dtype) for a in (key, beta, gate, shift, gamma, w_prev, np.zeros((B, N, M)))]
    with warnings.catch_warnings(), raise_on_bad_numerics():
        warnings.simplefilter("error")
        w, cache = adr.address_forward(*args)
        grads = adr.address_backward(rng.standard_normal(w.shape).astype(dtype), cache)
    assert np.isfinite(w).all() and all(np.isfinite(g).all() for g in grads)
    assert_distribution(w, atol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_activations_of_huge_inputs_do_not_overflow(dtype):
    x = np.array([-1e4, -100.0, 0.0, 100.0, 1e4], dtype=dtype)
    with warnings.catch_warnings(), raise_on_bad_numerics():
        warnings.simplefilter("error")
        for name, (forward, backward) in ACTIVATIONS.items():
            y, cache = forward(x)
            dx = backward(np.ones_like(y), cache)
            assert y.dtype == dtype and dx.dtype == dtype, name
            assert np.isfinite(y).all() and np.isfinite(dx).all(), name
        z = np.array([[1e4, -1e4, 3.0]], dtype=dtype)
        value, cache = loss.sigmoid_cross_entropy_forward(
            z[None], np.ones((1, 1, 3)), np.ones((1, 1))
        )
        assert (
            np.isfinite(value)
            and np.isfinite(loss.sigmoid_cross_entropy_backward(1.0, cache)).all()
        )


@pytest.mark.parametrize(
    "shape_a, shape_b", [((3, 2, 7), (3, 2, 7)), ((3, 2, 7), (3, 1, 7)), ((5,), (5,))]
)
def test_dot_last_is_the_sum_of_products_over_the_last_axis(shape_a, shape_b):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    expected = (a * b).sum(axis=-1, keepdims=True)
    got = reductions.dot_last(a, b)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
