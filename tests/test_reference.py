"""Tests of ntm_numpy.reference: the plain backprop through time equals the model's fast one,
and its adjoint trace is the derivative of the loss with respect to every traced quantity."""

from __future__ import annotations

import numpy as np
import pytest

from ntm_numpy import NTM, reference
from ntm_numpy.model import Trace

AGREEMENT = 1e-10  # relative, float64: the two differ only in the order of their sums
TINY = dict(input_size=4, output_size=3, memory_size=5, memory_dim=3, controller_size=4)


def tiny_model(**options) -> NTM:
    options = {"num_read_heads": 2, "num_write_heads": 2, "shift_range": 2, "seed": 1, **options}
    return NTM(**TINY, **options)


def sequence(model: NTM, T: int = 7, B: int = 3, seed: int = 0):
    """x [T, B, I], binary y [T, B, O], a 0/1 mask [T, B] with some steps masked out."""
    rng = np.random.default_rng(seed)
    c = model.config
    x = rng.standard_normal((T, B, c.input_size))
    y = (rng.random((T, B, c.outputs)) > 0.5).astype(float)
    mask = (rng.random((T, B)) > 0.25).astype(float)
    mask[-1] = 1.0
    return x, y, mask


def relative_difference(a, b) -> float:
    """max|a - b| / max|a|: how far b is from a, relative to a's largest entry."""
    return float(np.max(np.abs(a - b)) / np.max(np.abs(a)))


CONFIGS = [
    pytest.param(dict(controller=c, memory_init=m), id=f"{c}-{m}")
    for c in ("lstm", "feedforward")
    for m in ("constant", "learned", "random")
]


# =============================================================================================
# 1. The plain backprop through time equals NTM.loss_and_grads
# =============================================================================================


@pytest.mark.parametrize("options", CONFIGS)
@pytest.mark.parametrize("heads", [(2, 2), (2, 3)], ids=["R=2-W=2", "R=2-W=3"])
def test_reference_equals_the_model(options, heads):
    model = tiny_model(**options, num_read_heads=heads[0], num_write_heads=heads[1])
    x, y, mask = sequence(model)
    loss, grads = model.loss_and_grads(x, y, mask)
    ref_loss, ref_grads = reference.loss_and_grads(model, x, y, mask)
    assert ref_loss.shape == () and float(ref_loss) == pytest.approx(float(loss), rel=AGREEMENT)
    assert list(ref_grads) == list(grads)
    for name, grad in grads.items():
        assert ref_grads[name].shape == grad.shape and ref_grads[name].dtype == grad.dtype
        assert relative_difference(grad, ref_grads[name]) < AGREEMENT, name


def test_reference_forward_equals_the_model_forward():
    model = tiny_model(memory_init="random")
    x = sequence(model)[0]
    logits, tape = reference.forward(model, x)
    np.testing.assert_allclose(logits, model.forward(x)[0], rtol=1e-13, atol=1e-13)
    assert len(tape.steps) == x.shape[0]


def test_reference_equals_the_model_in_float32_and_without_a_mask():
    model = tiny_model(dtype="float32", memory_init="learned")
    x, y, _ = sequence(model)
    loss, grads = model.loss_and_grads(x, y)
    ref_loss, ref_grads = reference.loss_and_grads(model, x, y)
    assert float(ref_loss) == pytest.approx(float(loss), rel=1e-5)
    for name, grad in grads.items():
        assert ref_grads[name].dtype == np.float32, name
        assert relative_difference(grad, ref_grads[name]) < 1e-4, name


def test_reference_refuses_what_the_model_refuses():
    model = tiny_model()
    x, y, mask = sequence(model)
    with pytest.raises(ValueError, match="x must have shape"):
        reference.loss_and_grads(model, x[..., :2], y, mask)
    with pytest.raises(ValueError, match="mask must have shape"):
        reference.loss_and_grads(model, x, y, mask[:, :1])


# =============================================================================================
# 2. The adjoint trace: dL/d(quantity) for every quantity of the forward's Trace
# =============================================================================================


def loss_with_nudge(model, x, y, mask, nudge) -> float:
    from ntm_numpy.ops.loss import sigmoid_cross_entropy_forward

    logits, _ = reference.forward(model, x, nudge)
    return float(sigmoid_cross_entropy_forward(logits, y, mask)[0])


def add_at(t: int, name: str, delta):
    """A nudge that adds ``delta`` (shaped as ``trace.<name>[t]``) to one quantity at step t."""

    def nudge(step, field, value):
        return value + delta.reshape(value.shape) if (step, field) == (t, name) else value

    return nudge


def directional_derivative(loss_of, delta, eps: float = 1e-5) -> float:
    """(L(+eps delta) - L(-eps delta)) / 2 eps: the loss's derivative along ``delta``."""
    return (loss_of(eps * delta) - loss_of(-eps * delta)) / (2 * eps)


def assert_agree(analytic: float, numeric: float) -> None:
    """Relative 1e-6, or 1e-9 absolute: the rounding of a loss of ~10 over 2 eps."""
    assert abs(analytic - numeric) <= 1e-6 * abs(numeric) + 1e-9, (analytic, numeric)


@pytest.fixture(scope="module")
def audited():
    """A tiny float64 model, a batch, its trace and its adjoint trace."""
    model = tiny_model(memory_init="random", num_write_heads=3)
    x, y, mask = sequence(model, T=6, B=2)
    trace = model.forward(x)[1].trace
    return model, (x, y, mask), trace, reference.adjoint_trace(model, x, y, mask)


def test_adjoint_trace_has_the_fields_and_shapes_of_the_trace(audited):
    _, _, trace, adjoints = audited
    assert isinstance(adjoints, Trace)
    for name in Trace._fields:
        assert getattr(adjoints, name).shape == getattr(trace, name).shape, name
        assert np.isfinite(getattr(adjoints, name)).all(), name
        assert np.abs(getattr(adjoints, name)).max() > 0, name


@pytest.mark.parametrize("t", [0, 2, 5])
@pytest.mark.parametrize("name", Trace._fields)
def test_each_adjoint_is_the_derivative_of_the_loss_along_a_nudge_at_step_t(audited, name, t):
    """<adjoint[t], delta> = dL/d eps of the loss with eps * delta added at step t alone."""
    model, data, trace, adjoints = audited
    rng = np.random.default_rng([t, len(name)])
    value = getattr(trace, name)[t]
    delta = value * rng.standard_normal(value.shape)  # relative: keeps weightings positive

    def loss_of(nudge_by):
        return loss_with_nudge(model, *data, add_at(t, name, nudge_by))

    numeric = directional_derivative(loss_of, delta)
    analytic = float(np.sum(getattr(adjoints, name)[t] * delta))
    assert_agree(analytic, numeric)


@pytest.mark.parametrize(
    ("group", "field", "name"),
    [
        ("write", "gate", "write_gate"),
        ("write", "shift", "write_shift"),
        ("read", "beta", "read_beta"),
        ("read", "gamma", "read_gamma"),
        (None, "erase", "erase"),
        (None, "add", "add"),
    ],
)
def test_adjoints_of_head_parameters_agree_with_the_models_intervention_hook(
    audited, group, field, name
):
    """The same derivative, with the nudge made by NTM.forward(x, intervene=...)."""
    from ntm_numpy.ops.loss import sigmoid_cross_entropy_forward

    model, (x, y, mask), trace, adjoints = audited
    t = 3
    delta = getattr(trace, name)[t] * np.random.default_rng(7).standard_normal(
        getattr(trace, name)[t].shape
    )

    def loss_of(nudge_by):
        def intervene(step, heads):
            if step != t:
                return heads
            if group is None:
                return heads._replace(**{field: getattr(heads, field) + nudge_by})
            params = getattr(heads, group)
            moved = getattr(params, field) + nudge_by.reshape(getattr(params, field).shape)
            return heads._replace(**{group: params._replace(**{field: moved})})

        logits = model.forward(x, keep_cache=False, intervene=intervene)[0]
        return float(sigmoid_cross_entropy_forward(logits, y, mask)[0])

    numeric = directional_derivative(loss_of, delta)
    analytic = float(np.sum(getattr(adjoints, name)[t] * delta))
    assert_agree(analytic, numeric)


def test_the_adjoints_of_the_head_parameters_sum_to_the_gradient_of_heads_b(audited):
    """d heads.b = sum over steps and sequences of d raw, and d raw is each head parameter's
    adjoint through its activation, all of which the trace holds:
    k = raw, beta = softplus(raw) (sigma(raw) = 1 - e^-beta), gamma = 1 + softplus(raw),
    g, e = sigma(raw), a = tanh(raw), s = softmax(raw)."""
    model, data, tr, adj = audited
    layout = model.layout
    grads = model.loss_and_grads(*data)[1]

    def heads_axis(name):  # write heads then read heads, as in HeadLayout
        return np.concatenate([getattr(adj, f"write_{name}"), getattr(adj, f"read_{name}")], 2), (
            np.concatenate([getattr(tr, f"write_{name}"), getattr(tr, f"read_{name}")], 2)
        )

    def summed(a):
        return a.sum(axis=(0, 1)).reshape(-1)

    dkey, _ = heads_axis("key")
    dbeta, beta = heads_axis("beta")
    dgamma, gamma = heads_axis("gamma")
    dgate, gate = heads_axis("gate")
    dshift, shift = heads_axis("shift")
    dshift_raw = shift * (dshift - (dshift * shift).sum(-1, keepdims=True))
    expected = np.concatenate(
        [
            summed(dkey),
            summed(dbeta * -np.expm1(-beta)),
            summed(dgamma * -np.expm1(-(gamma - 1))),
            summed(dgate * gate * (1 - gate)),
            summed(adj.erase * tr.erase * (1 - tr.erase)),
            summed(adj.add * (1 - tr.add**2)),
            summed(dshift_raw),
        ]
    )
    assert expected.shape == (layout.size,)
    np.testing.assert_allclose(expected, grads["heads.b"], rtol=1e-8, atol=1e-12)
