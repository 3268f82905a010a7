"""Tests of ntm_numpy.model: backpropagation through time against finite differences (the
cases of ``gradcheck_cases``, which the audit runs too), the public interface, the trace, the
numerics of long float32 runs and degenerate memories, and the validation of every argument."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest

from ntm_numpy import NTM, NTMConfig
from ntm_numpy.gradcheck import MODEL_BOUND, model_case_errors
from ntm_numpy.gradcheck_cases import TINY_NTM, ModelCase, model_cases, model_sequence, tiny_ntm


def raise_on_bad_numerics():
    """Overflow, 0/0, x/0 and invalid operations become errors (underflow to 0 is benign)."""
    return np.errstate(over="raise", divide="raise", invalid="raise")


# =============================================================================================
# 1. The whole model through time against finite differences: the audit's cases (each
#    controller with each initial memory) and a few of the tests' own
# =============================================================================================

OTHER_MODEL_CASES = [
    # (with the default constant memory every row is alike, the content weights are all but
    # uniform and dL/d init.weights is ~1e-4: central differences then measure rounding)
    ModelCase(
        "R=1-W=3-random", dict(num_read_heads=1, num_write_heads=3, memory_init="random"), 7, 1
    ),
    ModelCase("S=2-R=2-W=2-learned", dict(shift_range=2, memory_init="learned"), 7, 1),
    ModelCase(
        "S=2-R=1-W=3-feedforward-learned",
        dict(
            shift_range=2,
            num_read_heads=1,
            num_write_heads=3,
            controller="feedforward",
            memory_init="learned",
        ),
        7,
        1,
    ),
    ModelCase(
        "R=1-W=1-learned-without-a-mask",
        dict(num_read_heads=1, num_write_heads=1, memory_init="learned"),
        data_seed=2,
        masked=False,
    ),
]


@pytest.mark.parametrize("case", [*model_cases(), *OTHER_MODEL_CASES], ids=lambda case: case.id)
def test_model_gradients_through_time(case):
    errors = model_case_errors(case, seed=0)
    assert set(errors) == set(tiny_ntm(**case.options).params)
    bad = {k: e for k, e in errors.items() if not e <= MODEL_BOUND}
    assert not bad, f"relative errors above {MODEL_BOUND}: {bad}"


# =============================================================================================
# 2. Interface
# =============================================================================================


@pytest.mark.parametrize("controller", ["lstm", "feedforward"])
def test_forward_backward_shapes_keys_and_dtypes(controller):
    model = tiny_ntm(controller=controller, memory_init="learned")
    x, _, _ = model_sequence(model, T=6, B=3)
    logits, cache = model.forward(x)
    assert logits.shape == (6, 3, 3) and logits.dtype == np.float64
    grads = model.backward(np.ones_like(logits), cache)
    assert list(grads) == list(model.params)
    for name, param in model.params.items():
        assert grads[name].shape == param.shape, name
        assert grads[name].dtype == param.dtype, name


def test_param_names_and_shapes_are_documented():
    model = tiny_ntm(memory_init="learned")
    c, P = model.config, model.layout.size
    C, R, M, N, H = 4, 2, 3, 5, 4
    expected = {
        "controller.W": (c.input_size + R * M + C, 4 * C),
        "controller.b": (4 * C,),
        "heads.W": (C, P),
        "heads.b": (P,),
        "output.W": (C + R * M, c.outputs),
        "output.b": (c.outputs,),
        "init.read": (R, M),
        "init.weights": (H, N),
        "init.memory": (N, M),
    }
    assert {k: v.shape for k, v in model.params.items()} == expected
    assert "init.memory" not in tiny_ntm(memory_init="constant").params


def test_forward_without_cache_gives_the_same_logits_and_none():
    model = tiny_ntm()
    x, _, _ = model_sequence(model)
    logits, cache = model.forward(x)
    logits_only, none = model.forward(x, keep_cache=False)
    assert none is None and cache is not None
    np.testing.assert_array_equal(logits_only, logits)


@pytest.mark.parametrize("controller", ["lstm", "feedforward"])
def test_step_repeated_equals_forward(controller):
    model = tiny_ntm(controller=controller, memory_init="random")
    x, _, _ = model_sequence(model, T=6, B=3)
    logits, _ = model.forward(x)
    state = None
    for t in range(x.shape[0]):
        y_t, state = model.step(x[t], state)
        assert y_t.shape == (3, 3)
        np.testing.assert_allclose(y_t, logits[t], rtol=0, atol=1e-12)
    assert state.memory.shape == (3, 5, 3)
    assert state.w_read.shape == (3, 2, 5) and state.w_write.shape == (3, 2, 5)
    assert state.reads.shape == (3, 2, 3)


def test_step_from_initial_state_equals_step_from_none():
    model = tiny_ntm()
    x_t = np.random.default_rng(0).standard_normal((2, 4))
    a, _ = model.step(x_t)
    b, _ = model.step(x_t, model.initial_state(2))
    np.testing.assert_array_equal(a, b)


def test_loss_equals_loss_and_grads():
    model = tiny_ntm()
    x, y, mask = model_sequence(model)
    value, _ = model.loss_and_grads(x, y, mask)
    assert value.shape == ()
    assert float(model.loss(x, y, mask)) == pytest.approx(float(value), rel=1e-14)
    assert float(model.loss(x, y)) == pytest.approx(float(model.loss_and_grads(x, y)[0]), rel=1e-14)


def test_loss_and_grads_equal_forward_then_backward_of_the_loss():
    from ntm_numpy.ops.loss import sigmoid_cross_entropy_backward, sigmoid_cross_entropy_forward

    model = tiny_ntm()
    x, y, mask = model_sequence(model)
    value, grads = model.loss_and_grads(x, y, mask)
    logits, cache = model.forward(x)
    value2, loss_cache = sigmoid_cross_entropy_forward(logits, y, mask)
    grads2 = model.backward(sigmoid_cross_entropy_backward(1.0, loss_cache), cache)
    assert float(value) == float(value2)
    for k in grads:
        np.testing.assert_array_equal(grads[k], grads2[k])


def test_trace_shapes_are_as_documented():
    T, B = 6, 2
    model = tiny_ntm(num_read_heads=1, num_write_heads=3, shift_range=2)
    N, M, R, W, K = 5, 3, 1, 3, 5
    _, cache = model.forward(model_sequence(model, T=T, B=B)[0])
    trace = cache.trace
    expected = {
        "write_content": (T, B, W, N),
        "write_gated": (T, B, W, N),
        "write_shifted": (T, B, W, N),
        "write_weights": (T, B, W, N),
        "read_content": (T, B, R, N),
        "read_gated": (T, B, R, N),
        "read_shifted": (T, B, R, N),
        "read_weights": (T, B, R, N),
        "reads": (T, B, R, M),
        "erase": (T, B, W, M),
        "add": (T, B, W, M),
        "memory": (T, B, N, M),
        "write_key": (T, B, W, M),
        "write_beta": (T, B, W),
        "write_gate": (T, B, W),
        "write_shift": (T, B, W, K),
        "write_gamma": (T, B, W),
        "read_key": (T, B, R, M),
        "read_beta": (T, B, R),
        "read_gate": (T, B, R),
        "read_shift": (T, B, R, K),
        "read_gamma": (T, B, R),
    }
    assert {name: getattr(trace, name).shape for name in trace._fields} == expected


def test_trace_memory_and_reads_follow_the_write_and_read_equations():
    """M_t = M_{t-1} * prod_h (1 - w_h e_h^T) + sum_h w_h a_h^T and r_t = w M_t, step by step."""
    model = tiny_ntm(memory_init="random", num_write_heads=3)
    x = model_sequence(model, T=6, B=2)[0]
    tr = model.forward(x)[1].trace
    memory = np.broadcast_to(model.fixed_memory, (2, 5, 3))
    for t in range(6):
        w, e, a = tr.write_weights[t], tr.erase[t], tr.add[t]
        keep = np.prod(1.0 - w[..., :, None] * e[..., None, :], axis=1)  # [B, N, M]
        memory = memory * keep + np.einsum("bhn,bhm->bnm", w, a)
        np.testing.assert_allclose(tr.memory[t], memory, atol=1e-12)
        np.testing.assert_allclose(tr.reads[t], tr.read_weights[t] @ memory, atol=1e-12)


def clamp_write_gate(value: float, steps=None):
    """An intervention: the write heads' g = value at ``steps`` (every step for None)."""

    def intervene(t, heads):
        if steps is not None and t not in steps:
            return heads
        gate = np.full_like(heads.write.gate, value)
        return heads._replace(write=heads.write._replace(gate=gate))

    return intervene


@pytest.mark.parametrize("keep_cache", [True, False])
def test_an_identity_intervention_changes_nothing_bit_for_bit(keep_cache):
    model = tiny_ntm(memory_init="random")
    x = model_sequence(model, T=6)[0]
    seen = []

    def identity(t, heads):
        seen.append(t)
        return heads

    plain = model.forward(x, keep_cache=keep_cache)[0]
    np.testing.assert_array_equal(model.forward(x, keep_cache, intervene=identity)[0], plain)
    assert seen == list(range(6))


def test_clamping_the_gate_to_zero_keeps_the_previous_weighting_and_changes_the_output():
    model = tiny_ntm(memory_init="random")
    x = model_sequence(model, T=6)[0]
    logits, cache = model.forward(x, intervene=clamp_write_gate(0.0))
    trace = cache.trace
    assert (trace.write_gate == 0).all()
    # w_g = g w_c + (1 - g) w_{t-1} = w_{t-1}: the gated weighting is the last step's weights
    np.testing.assert_array_equal(trace.write_gated[1:], trace.write_weights[:-1])
    assert np.abs(logits - model.forward(x)[0]).max() > 1e-3
    # without a cache the same intervention gives the same logits
    np.testing.assert_array_equal(
        model.forward(x, keep_cache=False, intervene=clamp_write_gate(0.0))[0], logits
    )


def test_an_intervention_at_chosen_steps_leaves_the_steps_before_them_alone():
    model = tiny_ntm(memory_init="random")
    x = model_sequence(model, T=6)[0]
    plain = model.forward(x)[0]
    logits = model.forward(x, intervene=clamp_write_gate(1.0, steps={3, 4}))[0]
    np.testing.assert_array_equal(logits[:3], plain[:3])
    assert np.abs(logits[3:] - plain[3:]).max() > 1e-6


def test_backward_refuses_an_intervened_forward_and_bad_interventions_are_refused():
    model = tiny_ntm()
    x = model_sequence(model)[0]
    logits, cache = model.forward(x, intervene=lambda t, heads: heads)
    with pytest.raises(ValueError, match="intervene"):
        model.backward(np.ones_like(logits), cache)
    with pytest.raises(ValueError, match="intervene must be a function"):
        model.forward(x, intervene="g=0")
    with pytest.raises(ValueError, match=r"intervene must return a HeadParams.*step 0"):
        model.forward(x, intervene=lambda t, heads: heads.write)


def test_config_is_frozen_and_kept():
    model = tiny_ntm()
    assert isinstance(model.config, NTMConfig)
    assert model.config.memory_size == 5 and model.config.read_heads == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.config.memory_size = 7
    assert NTM(model.config).config == model.config


def test_same_seed_same_params_other_seed_other_params():
    a, b, c = tiny_ntm(seed=3), tiny_ntm(seed=3), tiny_ntm(seed=4)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    assert any(not np.array_equal(a.params[k], c.params[k]) for k in a.params)


def test_reference_defaults():
    """The reference's names and defaults: memory 128 x 32, controller 256, one head."""
    c = NTMConfig(input_size=9)
    assert (c.memory_size, c.memory_dim, c.controller_size, c.num_heads) == (128, 32, 256, 1)
    assert c.outputs == 9 and c.read_heads == c.write_heads == 1 and c.shift_range == 1


@pytest.mark.parametrize("controller", ["lstm", "feedforward"])
def test_float32_model_gives_float32_everything(controller):
    model = tiny_ntm(controller=controller, dtype="float32")
    assert all(p.dtype == np.float32 for p in model.params.values())
    x, y, mask = model_sequence(model)  # float64 inputs are cast to the model's dtype
    logits, _ = model.forward(x)
    assert logits.dtype == np.float32
    value, grads = model.loss_and_grads(x, y, mask)
    assert value.dtype == np.float32
    assert list(grads) == list(model.params)
    for name, g in grads.items():
        assert g.dtype == np.float32, name
        assert g.shape == model.params[name].shape, name


@pytest.mark.parametrize("memory_init", ["constant", "learned", "random"])
@pytest.mark.parametrize("controller", ["lstm", "feedforward"])
def test_float32_and_float64_forwards_agree(controller, memory_init):
    m64 = tiny_ntm(controller=controller, memory_init=memory_init, dtype="float64")
    m32 = tiny_ntm(controller=controller, memory_init=memory_init, dtype="float32")
    x = model_sequence(m64, T=10, B=3)[0]
    l64, _ = m64.forward(x)
    l32, _ = m32.forward(x.astype(np.float32))
    assert np.max(np.abs(l32 - l64)) <= 1e-4 * max(1.0, float(np.max(np.abs(l64))))


# =============================================================================================
# 3. Properties inside a forward pass
# =============================================================================================


def assert_trace_properties(trace, atol):
    for name in trace._fields:
        if name.endswith(("_content", "_gated", "_shifted", "_weights", "_shift")):
            w = getattr(trace, name)
            assert (w >= 0).all(), name
            np.testing.assert_allclose(w.sum(axis=-1), 1.0, rtol=0, atol=atol, err_msg=name)
    for group in ("write", "read"):
        assert (getattr(trace, f"{group}_gamma") >= 1).all()
        assert (getattr(trace, f"{group}_beta") >= 0).all()
        gate = getattr(trace, f"{group}_gate")
        assert ((gate >= 0) & (gate <= 1)).all()
    assert ((trace.erase >= 0) & (trace.erase <= 1)).all()
    assert (np.abs(trace.add) <= 1).all()


@pytest.mark.parametrize(
    "dtype, scale, atol",
    [
        pytest.param("float64", 1.0, 1e-12, id="float64"),
        pytest.param("float32", 100.0, 1e-5, id="float32-x100"),
    ],
)
@pytest.mark.parametrize("controller", ["lstm", "feedforward"])
def test_every_weighting_in_a_forward_is_a_distribution(controller, dtype, scale, atol):
    model = tiny_ntm(controller=controller, dtype=dtype, memory_init="random")
    x = model_sequence(model, T=12, B=3, scale=scale)[0]
    _, cache = model.forward(x)
    assert_trace_properties(cache.trace, atol)


# =============================================================================================
# 4. Numerics: long float32 runs, large inputs, a zero memory and zero keys
# =============================================================================================


@pytest.mark.parametrize("memory_init", ["constant", "random"])
@pytest.mark.parametrize("controller", ["lstm", "feedforward"])
def test_400_steps_of_large_float32_inputs_stay_finite(controller, memory_init):
    model = NTM(
        input_size=6,
        output_size=5,
        memory_size=12,
        memory_dim=5,
        controller_size=10,
        num_read_heads=2,
        num_write_heads=2,
        controller=controller,
        memory_init=memory_init,
        dtype="float32",
        seed=1,
    )
    x, y, mask = model_sequence(model, T=400, B=2, scale=100.0)
    with warnings.catch_warnings(), raise_on_bad_numerics():
        warnings.simplefilter("error")
        logits, cache = model.forward(x)
        assert np.isfinite(logits).all()
        trace = cache.trace
        assert all(np.isfinite(getattr(trace, name)).all() for name in trace._fields)
        value, grads = model.loss_and_grads(x, y, mask)
    assert np.isfinite(value)
    assert all(np.isfinite(g).all() for g in grads.values())
    assert_trace_properties(trace, atol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_zero_memory_and_zero_keys_give_finite_loss_and_gradients(dtype):
    """A learned initial memory of exact zeros and heads whose keys are exactly zero: the
    cosine's denominator is |k| |M_i| = 0 everywhere."""
    model = tiny_ntm(memory_init="learned", dtype=dtype)
    model.params["init.memory"][:] = 0.0
    key = model.layout.key
    model.params["heads.W"][:, key] = 0.0
    model.params["heads.b"][key] = 0.0
    x, y, mask = model_sequence(model, T=6, B=2)
    with warnings.catch_warnings(), raise_on_bad_numerics():
        warnings.simplefilter("error")
        value, grads = model.loss_and_grads(x, y, mask)
        trace = model.forward(x)[1].trace
    assert np.isfinite(value)
    assert all(np.isfinite(g).all() for g in grads.values())
    # a zero key is equally similar to every row: the content weighting is uniform
    np.testing.assert_allclose(trace.write_content, 1.0 / 5, rtol=1e-5)
    np.testing.assert_allclose(trace.read_content, 1.0 / 5, rtol=1e-5)


def test_huge_key_strength_in_a_model_stays_finite():
    """beta = softplus(raw) of about 1e4: the content softmax is all but one-hot."""
    model = tiny_ntm(dtype="float32")
    softplus = model.layout.softplus
    H = model.layout.num_heads
    model.params["heads.b"][softplus.start : softplus.start + H] = 1e4  # beta of every head
    x, y, mask = model_sequence(model, T=8, B=2, scale=10.0)
    with warnings.catch_warnings(), raise_on_bad_numerics():
        warnings.simplefilter("error")
        value, grads = model.loss_and_grads(x, y, mask)
        trace = model.forward(x)[1].trace
    assert (trace.write_beta > 9e3).all()
    assert np.isfinite(value) and all(np.isfinite(g).all() for g in grads.values())
    assert_trace_properties(trace, atol=1e-5)


# =============================================================================================
# 5. Bad input: a ValueError that names the argument, never numpy's own error
# =============================================================================================


@pytest.mark.parametrize(
    "name, value",
    [
        ("memory_size", 0),
        ("memory_size", -1),
        ("memory_size", 2.5),
        ("memory_size", True),
        ("memory_size", "5"),
        ("memory_dim", 0),
        ("controller_size", False),
        ("input_size", 0),
        ("output_size", -3),
        ("num_heads", 0),
        ("num_read_heads", 1.0),
        ("num_write_heads", 0),
        ("shift_range", 0),
        ("seed", -1),
    ],
    ids=lambda v: repr(v) if not isinstance(v, str) or v.isdigit() else v,
)
def test_bad_sizes_are_refused(name, value):
    with pytest.raises(ValueError, match=name):
        NTM(**{**TINY_NTM, name: value})


@pytest.mark.parametrize(
    "name, value",
    [
        ("controller", "gru"),
        ("controller", None),
        ("memory_init", "zeros"),
        ("dtype", "float16"),
        ("dtype", "int64"),
    ],
)
def test_unknown_choices_are_refused(name, value):
    with pytest.raises(ValueError, match=name):
        NTM(**{**TINY_NTM, name: value})


@pytest.fixture(scope="module")
def model_and_data():
    model = tiny_ntm()
    return (model, *model_sequence(model, T=6, B=2))


@pytest.mark.parametrize(
    "make_x",
    [
        pytest.param(lambda x: x[..., :3], id="wrong-width"),
        pytest.param(lambda x: x[0], id="rank-2"),
        pytest.param(lambda x: x[None], id="rank-4"),
        pytest.param(lambda x: x.tolist(), id="a-list"),
        pytest.param(lambda x: x.astype(str), id="strings"),
    ],
)
def test_bad_x_is_refused(model_and_data, make_x):
    model, x, y, mask = model_and_data
    bad = make_x(x)
    with pytest.raises(ValueError, match=r"^x must"):
        model.forward(bad)
    with pytest.raises(ValueError, match=r"^x must"):
        model.loss_and_grads(bad, y, mask)
    with pytest.raises(ValueError, match=r"^x must"):
        model.loss(bad, y, mask)


@pytest.mark.parametrize(
    "make_y",
    [
        pytest.param(lambda y: y[..., :2], id="wrong-width"),
        pytest.param(lambda y: y[:-1], id="wrong-length"),
        pytest.param(lambda y: y[:, :1], id="wrong-batch"),
        pytest.param(lambda y: y[0], id="rank-2"),
        pytest.param(lambda y: y.tolist(), id="a-list"),
    ],
)
def test_y_that_does_not_match_x_is_refused(model_and_data, make_y):
    model, x, y, mask = model_and_data
    with pytest.raises(ValueError, match=r"^y must"):
        model.loss_and_grads(x, make_y(y), mask)
    with pytest.raises(ValueError, match=r"^y must"):
        model.loss(x, make_y(y), mask)


@pytest.mark.parametrize(
    "make_mask",
    [
        pytest.param(lambda m: m[:-1], id="wrong-length"),
        pytest.param(lambda m: m[:, :1], id="wrong-batch"),
        pytest.param(lambda m: m[..., None], id="rank-3"),
        pytest.param(lambda m: m[0], id="rank-1"),
        pytest.param(lambda m: m.tolist(), id="a-list"),
    ],
)
def test_mask_that_does_not_match_x_is_refused(model_and_data, make_mask):
    model, x, y, mask = model_and_data
    with pytest.raises(ValueError, match=r"^mask must"):
        model.loss_and_grads(x, y, make_mask(mask))
    with pytest.raises(ValueError, match=r"^mask must"):
        model.loss(x, y, make_mask(mask))


@pytest.mark.parametrize(
    "make_dlogits",
    [
        pytest.param(lambda d: d[..., :2], id="wrong-width"),
        pytest.param(lambda d: d[:-1], id="wrong-length"),
        pytest.param(lambda d: d[:, :1], id="wrong-batch"),
        pytest.param(lambda d: d[0], id="rank-2"),
        pytest.param(lambda d: d.tolist(), id="a-list"),
    ],
)
def test_dlogits_of_the_wrong_shape_are_refused(model_and_data, make_dlogits):
    model, x, _, _ = model_and_data
    logits, cache = model.forward(x)
    with pytest.raises(ValueError, match=r"^dlogits must"):
        model.backward(make_dlogits(np.ones_like(logits)), cache)


def test_backward_without_a_cache_is_refused(model_and_data):
    model, x, _, _ = model_and_data
    logits, _ = model.forward(x, keep_cache=False)
    with pytest.raises(ValueError, match="cache"):
        model.backward(np.ones_like(logits), None)


def test_step_refuses_a_bad_x_t_and_batch_size(model_and_data):
    model, x, _, _ = model_and_data
    with pytest.raises(ValueError, match="x_t"):
        model.step(x[0, :, :3])
    with pytest.raises(ValueError, match="x_t"):
        model.step(x)
    with pytest.raises(ValueError, match="batch_size"):
        model.initial_state(0)


def test_config_and_options_together_are_refused():
    with pytest.raises(ValueError, match="NTMConfig"):
        NTM(NTMConfig(**TINY_NTM), memory_size=7)
    with pytest.raises(ValueError, match="NTMConfig"):
        NTM(dict(TINY_NTM))


def test_an_empty_batch_is_refused(model_and_data):
    """x [T, 0, I]: a ValueError naming x, not numpy's "cannot reshape array of size 0"."""
    model, x, y, mask = model_and_data
    with pytest.raises(ValueError, match=r"^x"):
        model.forward(x[:, :0])
    with pytest.raises(ValueError, match=r"^x"):
        model.loss_and_grads(x[:, :0], y[:, :0], mask[:, :0])
    with pytest.raises(ValueError, match=r"^x_t"):
        model.step(x[0, :0])


def test_step_refuses_a_state_of_another_batch_size(model_and_data):
    """A state for B=2 with x_t for B=3: a ValueError naming the state, not numpy's
    "all the input array dimensions except for the concatenation axis must match"."""
    model = model_and_data[0]
    state = model.initial_state(2)
    with pytest.raises(ValueError, match="state"):
        model.step(np.zeros((3, model.config.input_size)), state)
