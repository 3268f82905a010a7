"""Tests of ntm_numpy.reference: the plain backprop through time equals the model's fast one,
and its adjoint trace is the derivative of the loss with respect to every traced quantity."""

from __future__ import annotations

import numpy as np
import pytest

from ntm_numpy import NTM, reference
from ntm_numpy.gradcheck import rel_error
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
