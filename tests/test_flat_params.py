"""Tests of the flat parameter buffer (ntm_numpy.flat_arrays): a model's parameters, its
gradients and its optimizer's state are named views into one flat array each; writing a view,
assigning a name, replacing the whole dict, moving devices, saving and loading all keep the
views and the flat array one; an optimizer step on the flat arrays equals its rule applied to
every parameter on its own."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import numpy as np
import pytest

from ntm_numpy import NTM, flat_arrays, load
from ntm_numpy.flat_arrays import FlatArrays, layout_of
from ntm_numpy.lstm_baseline import LSTMModel
from ntm_numpy.optim import (
    AdamConfig,
    RMSPropConfig,
    SGDConfig,
    adam_update,
    rmsprop_update,
    sgd_update,
)
from ntm_numpy.training.optimizers import (
    SGD,
    Adam,
    RMSProp,
    clip_by_global_norm,
    clip_by_value,
    global_norm,
)
from ntm_numpy.training.parallel import DataParallel


def small_model(kind: str, dtype: str = "float64"):
    if kind == "lstm":
        return LSTMModel(input_size=4, output_size=3, hidden_size=6, num_layers=2, dtype=dtype)
    return NTM(
        input_size=4,
        output_size=3,
        memory_size=7,
        memory_dim=5,
        controller_size=6,
        num_read_heads=2,
        memory_init="learned",
        controller="feedforward" if kind == "ntm-feedforward" else "lstm",
        dtype=dtype,
    )


def small_batch(seed: int = 0, T: int = 5, B: int = 3):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, B, 4))
    y = (rng.random((T, B, 3)) < 0.5).astype(float)
    return x, y


def shares_flat(arrays: FlatArrays) -> bool:
    """Every named array is a view into ``arrays.flat``, the views side by side in order."""
    start = 0
    for view in arrays.values():
        if not np.shares_memory(view, arrays.flat):
            return False
        offset = view.__array_interface__["data"][0] - arrays.flat.__array_interface__["data"][0]
        if offset != start * arrays.flat.itemsize:
            return False
        start += view.size
    return start == arrays.flat.size


KINDS = ["ntm", "ntm-feedforward", "lstm"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", KINDS)
def test_params_and_grads_are_views_into_one_flat_array(kind, dtype):
    model = small_model(kind, dtype)
    params = model.params
    assert isinstance(params, FlatArrays) and shares_flat(params)
    assert params.flat.dtype == np.dtype(dtype) and params.flat.flags.c_contiguous
    assert model.num_parameters == params.flat.size == sum(p.size for p in params.values())

    _, grads = model.loss_and_grads(*small_batch())
    assert isinstance(grads, FlatArrays) and shares_flat(grads)
    assert grads.layout == params.layout and grads.flat.dtype == np.dtype(dtype)
    assert not np.shares_memory(grads.flat, params.flat)


@pytest.mark.parametrize("kind", KINDS)
def test_writes_by_view_by_name_and_to_the_flat_array_are_one(kind):
    model = small_model(kind)
    name = "output.b"
    model.params[name][0] = 7.0  # into the view
    assert 7.0 in model.params.flat
    model.params[name] = np.full(model.params[name].shape, 3.0)  # by name: into the view
    assert shares_flat(model.params)
    np.testing.assert_array_equal(model.params[name], 3.0)
    model.params[name] += 1.0  # a += on the view, then the name assigned to itself
    np.testing.assert_array_equal(model.params[name], 4.0)
    model.params.flat[:] = 0.5
    assert all(np.all(p == 0.5) for p in model.params.values())
    with pytest.raises(ValueError, match=r"output\.b must keep its shape"):
        model.params[name] = np.zeros(model.params[name].size + 1)
    with pytest.raises(KeyError, match="not one of"):
        model.params["no.such"] = np.zeros(1)


@pytest.mark.parametrize("kind", KINDS)
def test_replacing_params_by_a_dict_copies_it_into_a_new_flat_array(kind):
    model = small_model(kind)
    x, y = small_batch()
    rng = np.random.default_rng(1)
    replaced = {k: v + 0.1 * rng.standard_normal(v.shape) for k, v in model.params.items()}
    model.params = replaced
    assert isinstance(model.params, FlatArrays) and shares_flat(model.params)
    for k, v in replaced.items():
        np.testing.assert_array_equal(model.params[k], v)
    fresh = small_model(kind)
    fresh.params = {k: v.copy() for k, v in replaced.items()}
    np.testing.assert_array_equal(model.loss(x, y), fresh.loss(x, y))


def test_copy_and_deepcopy_keep_the_views_in_the_flat_array():
    model = small_model("ntm")
    twin = copy.deepcopy(model)
    assert shares_flat(twin.params)
    assert not np.shares_memory(twin.params.flat, model.params.flat)
    twin.params.flat[:] = 0.0
    assert np.all(twin.params["controller.W"] == 0.0)
    assert not np.all(model.params["controller.W"] == 0.0)


@pytest.mark.parametrize("kind", KINDS)
def test_gradient_is_unchanged_by_the_flat_buffer(kind):
    # the model's gradients against a finite difference of the loss, entry by entry through
    # views of the flat array (what gradcheck.check_model does)
    model = small_model(kind)
    x, y = small_batch(2)
    _, grads = model.loss_and_grads(x, y)
    rng = np.random.default_rng(3)
    h = 1e-6
    for name in model.params:
        flat_view = model.params[name].reshape(-1)
        for i in rng.choice(flat_view.size, size=min(3, flat_view.size), replace=False):
            saved = flat_view[i]
            flat_view[i] = saved + h
            plus = float(model.loss(x, y))
            flat_view[i] = saved - h
            minus = float(model.loss(x, y))
            flat_view[i] = saved
            numeric = (plus - minus) / (2 * h)
            analytic = grads[name].reshape(-1)[i]
            assert abs(analytic - numeric) <= 1e-6 * max(1.0, abs(numeric)), (name, i)


def per_parameter_rule(name: str):
    """(optimizer, its slots, its rule on one parameter: rule(p, g, state arrays, t))."""
    if name == "sgd":
        sgd = SGDConfig(lr=0.05, momentum=0.9, nesterov=True)
        return SGD(sgd), ("velocity",), lambda p, g, s, t: sgd_update(p, g, *s, config=sgd)
    if name == "rmsprop":
        rms = RMSPropConfig(lr=0.01)
        return (
            RMSProp(rms),
            ("n", "gbar", "delta"),
            lambda p, g, s, t: rmsprop_update(p, g, *s, config=rms),
        )
    adam = AdamConfig(lr=0.01)
    return Adam(adam), ("m", "v"), lambda p, g, s, t: adam_update(p, g, *s, config=adam, t=t)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["sgd", "rmsprop", "adam"])
def test_a_step_on_the_flat_arrays_is_the_rule_on_every_parameter(name, dtype):
    model = small_model("ntm", dtype)
    optimizer, slots, rule = per_parameter_rule(name)
    # the same rule by hand, parameter by parameter, on copies
    expected = {k: v.copy() for k, v in model.params.items()}
    state = {k: [np.zeros_like(v) for _ in slots] for k, v in expected.items()}
    for t, seed in enumerate((4, 5, 6), start=1):
        _, grads = model.loss_and_grads(*small_batch(seed))
        for k in expected:
            rule(expected[k], grads[k], state[k], t)
        optimizer.step(model.params, grads)
        assert shares_flat(model.params)
        for k in expected:
            np.testing.assert_array_equal(model.params[k], expected[k], err_msg=k)
    for slot_index, slot in enumerate(slots):
        assert isinstance(optimizer.state[slot], FlatArrays)
        assert optimizer.state[slot].layout == model.params.layout
        for k in expected:
            np.testing.assert_array_equal(optimizer.state[slot][k], state[k][slot_index])


def test_clipping_a_flat_gradient_is_clipping_every_parameter():
    model = small_model("ntm")
    _, grads = model.loss_and_grads(*small_batch())
    plain = {k: v.copy() for k, v in grads.items()}
    norm = float(global_norm(grads))
    assert norm == pytest.approx(float(global_norm(plain)), rel=1e-12)
    clipped, clipped_norm = clip_by_global_norm(grads, norm / 4)
    assert isinstance(clipped, FlatArrays) and clipped.layout == grads.layout
    assert float(clipped_norm) == pytest.approx(norm, rel=1e-12)
    expected, _ = clip_by_global_norm(plain, norm / 4)
    for k in plain:
        np.testing.assert_allclose(clipped[k], expected[k], rtol=1e-12)
        np.testing.assert_array_equal(grads[k], plain[k])  # the input is not changed
    limit = float(np.abs(grads.flat).max()) / 3
    by_value = clip_by_value(grads, limit)
    assert isinstance(by_value, FlatArrays)
    for k in plain:
        np.testing.assert_array_equal(by_value[k], np.clip(plain[k], -limit, limit))


@pytest.mark.parametrize("kind", KINDS)
def test_save_and_load_keep_the_names_and_give_a_flat_model(tmp_path, kind):
    model = small_model(kind)
    optimizer = Adam(AdamConfig(lr=0.01))
    for seed in (1, 2):
        _, grads = model.loss_and_grads(*small_batch(seed))
        optimizer.step(model.params, grads)
    path = tmp_path / "model.npz"
    model.save(path, optimizer=optimizer)
    with np.load(path) as stored:  # the per-name format on disk
        assert {f"param/{k}" for k in model.params} <= set(stored.files)
    loaded = load(path)
    assert shares_flat(loaded.params) and loaded.params.layout == model.params.layout
    np.testing.assert_array_equal(loaded.params.flat, model.params.flat)


def test_optimizer_state_from_a_state_dict_becomes_flat_and_steps_alike():
    model, twin = small_model("ntm"), small_model("ntm")
    optimizer = Adam(AdamConfig(lr=0.01))
    _, grads = model.loss_and_grads(*small_batch(1))
    optimizer.step(model.params, grads)
    twin.params = {k: v.copy() for k, v in model.params.items()}
    restored = Adam()
    restored.load_state_dict(optimizer.state_dict())  # per-name arrays, as in a checkpoint
    _, grads = model.loss_and_grads(*small_batch(2))
    optimizer.step(model.params, grads)
    restored.step(twin.params, {k: v.copy() for k, v in grads.items()})  # a plain dict too
    _, grads = model.loss_and_grads(*small_batch(3))
    optimizer.step(model.params, grads)
    restored.step(twin.params, FlatArrays.from_arrays(grads))
    assert isinstance(restored.state["m"], FlatArrays)
    np.testing.assert_array_equal(twin.params.flat, model.params.flat)
    np.testing.assert_array_equal(restored.state["v"].flat, optimizer.state["v"].flat)


def test_a_flat_array_of_the_wrong_size_is_refused():
    layout = layout_of({"a": np.zeros((2, 3)), "b": np.zeros(4)})
    with pytest.raises(ValueError, match="1-D array of 10 elements"):
        FlatArrays(np.zeros(9), layout)
    with pytest.raises(ValueError, match="at least one"):
        FlatArrays.from_arrays({})


def test_data_parallel_refuses_params_laid_out_anew():
    model = small_model("ntm")
    x, y = small_batch(B=4)
    with DataParallel(model, workers=2) as parallel:
        loss, grads = parallel.loss_and_grads(x, y)
        assert isinstance(grads, FlatArrays) and grads.layout == model.params.layout
        expected_loss, expected = model.loss_and_grads(x, y)
        assert float(loss) == pytest.approx(float(expected_loss), rel=1e-12)
        np.testing.assert_allclose(grads.flat, expected.flat, rtol=1e-10, atol=1e-13)
        model.params = dict(reversed(list(model.params.items())))
        with pytest.raises(ValueError, match="changed its names, shapes or order"):
            parallel.loss_and_grads(x, y)


def test_flat_arrays_is_in_the_compute_path_and_imports_no_numpy():
    # as tests/test_backend.py checks the other compute modules: the array module comes from
    # the arrays (a FlatArrays of CuPy arrays stays on the GPU)
    source = Path(flat_arrays.__file__).read_text()
    assert not re.search(r"^\s*(import numpy|from numpy)", source, flags=re.MULTILINE)
