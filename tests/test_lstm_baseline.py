"""The LSTM baseline: gradients through time against finite differences, shapes, the step loop,
a slow twin built from ``ops.lstm.lstm_step_forward``, input checks, float32, and training."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from ntm_numpy import lstm_baseline
from ntm_numpy.backend import gpu_available
from ntm_numpy.gradcheck import MODEL_BOUND, check_model
from ntm_numpy.lstm_baseline import LSTMConfig, LSTMModel, LSTMState
from ntm_numpy.ops.lstm import lstm_step_forward
from ntm_numpy.optim import AdamConfig
from ntm_numpy.training.optimizers import Adam

I, O, H, T, B = 3, 2, 4, 6, 2


def tiny(num_layers: int = 2, dtype: str = "float64", seed: int = 0) -> LSTMModel:
    return LSTMModel(
        input_size=I, output_size=O, hidden_size=H, num_layers=num_layers, dtype=dtype, seed=seed
    )


def batch(seed: int = 0, length: int = T, batch_size: int = B):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((length, batch_size, I))
    y = (rng.random((length, batch_size, O)) > 0.5).astype(float)
    mask = (rng.random((length, batch_size)) > 0.2).astype(float)
    return x, y, mask


def slow_forward(model: LSTMModel, x):
    """The specification: every step of every layer by ``lstm_step_forward``, in plain loops."""
    c, p = model.config, model.params
    hs = [np.zeros((x.shape[1], c.hidden_size)) for _ in range(c.num_layers)]
    cs = [np.zeros((x.shape[1], c.hidden_size)) for _ in range(c.num_layers)]
    logits = []
    for t in range(x.shape[0]):
        inputs = x[t]
        for layer in range(c.num_layers):
            W, b = p[f"layer{layer}.W"], p[f"layer{layer}.b"]
            (hs[layer], cs[layer]), _ = lstm_step_forward(inputs, hs[layer], cs[layer], W, b)
            inputs = hs[layer]
        logits.append(inputs @ p["output.W"] + p["output.b"])
    return np.stack(logits)


# --- the config and the parameters ---------------------------------------------------------


def test_config_defaults_are_the_papers():
    config = LSTMConfig(input_size=9)
    assert (config.hidden_size, config.num_layers, config.dtype, config.seed) == (
        256,
        3,
        "float64",
        0,
    )
    assert config.outputs == 9
    assert LSTMConfig(input_size=9, output_size=8).outputs == 8
    assert LSTMConfig(**config.to_dict()) == config


def test_config_is_keyword_only_and_frozen():
    with pytest.raises(TypeError):
        LSTMConfig(9)  # type: ignore[misc]
    config = LSTMConfig(input_size=9)
    with pytest.raises(AttributeError):
        config.hidden_size = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    "name, value",
    [
        ("input_size", 0),
        ("input_size", 2.0),
        ("output_size", -1),
        ("hidden_size", True),
        ("num_layers", 0),
        ("dtype", "float16"),
        ("seed", -1),
    ],
)
def test_config_rejects_bad_values_naming_them(name, value):
    options = {"input_size": 3, name: value}
    with pytest.raises(ValueError, match=name):
        LSTMConfig(**options)


def test_model_takes_a_config_or_options_not_both():
    config = LSTMConfig(input_size=I, hidden_size=H)
    assert LSTMModel(config).config is config
    assert LSTMModel(input_size=I, hidden_size=H).config == config
    with pytest.raises(ValueError, match="not both"):
        LSTMModel(config, seed=1)
    with pytest.raises(ValueError, match="LSTMConfig"):
        LSTMModel({"input_size": I})  # type: ignore[arg-type]


@pytest.mark.parametrize("num_layers", [1, 3])
def test_parameters_names_shapes_and_init(num_layers):
    model = tiny(num_layers)
    expected = {}
    for layer in range(num_layers):
        expected[f"layer{layer}.W"] = ((I if layer == 0 else H) + H, 4 * H)
        expected[f"layer{layer}.b"] = (4 * H,)
    expected |= {"output.W": (H, O), "output.b": (O,)}
    assert {k: v.shape for k, v in model.params.items()} == expected
    assert list(model.params) == list(expected)
    for layer in range(num_layers):
        bias = model.params[f"layer{layer}.b"]
        np.testing.assert_array_equal(bias[H : 2 * H], 1.0)  # forget gate
        np.testing.assert_array_equal(np.delete(bias, np.s_[H : 2 * H]), 0.0)
    assert model.num_parameters == sum(int(np.prod(s)) for s in expected.values())
    assert all(p.dtype == np.float64 for p in model.params.values())


def test_init_is_seeded_and_scaled_by_fan_in():
    big = LSTMModel(input_size=50, hidden_size=150, num_layers=2, seed=3)
    again = LSTMModel(input_size=50, hidden_size=150, num_layers=2, seed=3)
    other = LSTMModel(input_size=50, hidden_size=150, num_layers=2, seed=4)
    for k in big.params:
        np.testing.assert_array_equal(big.params[k], again.params[k])
    assert not np.array_equal(big.params["layer0.W"], other.params["layer0.W"])
    for name, fan_in in [("layer0.W", 200), ("layer1.W", 300), ("output.W", 150)]:
        assert big.params[name].std() == pytest.approx(1 / np.sqrt(fan_in), rel=0.05)


def test_module_does_not_import_numpy_at_any_line_start():
    source = Path(lstm_baseline.__file__).read_text()
    assert not re.search(r"^\s*(import numpy|from numpy)", source, flags=re.MULTILINE)


def test_repr_names_the_shape():
    text = repr(tiny(3))
    assert text.startswith("LSTMModel(")
    for part in ("input_size=3", "output_size=2", "hidden_size=4", "num_layers=3"):
        assert part in text


# --- gradients -----------------------------------------------------------------------------


@pytest.mark.parametrize("num_layers", [1, 2, 3], ids=lambda n: f"L={n}")
def test_gradients_match_finite_differences(num_layers):
    model = tiny(num_layers, seed=num_layers)
    rng = np.random.default_rng(10 + num_layers)
    for name in model.params:  # away from the init's round numbers
        if name.endswith(".b"):
            model.params[name] += 0.3 * rng.standard_normal(model.params[name].shape)
    x, y, mask = batch(seed=num_layers)
    errors = check_model(model, x, y, mask)
    assert set(errors) == set(model.params)
    worst = max(errors, key=errors.get)
    assert errors[worst] <= MODEL_BOUND <= 1e-5, (worst, errors[worst])


def test_gradients_without_a_mask_and_of_an_arbitrary_dlogits():
    model = tiny(2)
    x, y, _ = batch()
    assert max(check_model(model, x, y).values()) <= 1e-5
    # backward is linear in dlogits: twice the upstream gradient, twice every gradient
    logits, cache = model.forward(x)
    d = np.random.default_rng(5).standard_normal(logits.shape)
    once, twice = model.backward(d, cache), model.backward(2 * d, cache)
    for k in model.params:
        assert once[k].shape == model.params[k].shape
        np.testing.assert_allclose(twice[k], 2 * once[k], rtol=1e-12, atol=1e-15)


# --- forward, step, and the slow twin --------------------------------------------------------


@pytest.mark.parametrize("num_layers", [1, 3])
def test_forward_shapes_and_cache(num_layers):
    model = tiny(num_layers)
    x, _, _ = batch(length=5, batch_size=3)
    logits, cache = model.forward(x)
    assert logits.shape == (5, 3, O)
    assert len(cache.layers) == num_layers
    assert cache.hidden.shape == (5, 3, H)
    assert all(len(layer.cells) == 5 for layer in cache.layers)


def test_keep_cache_false_gives_the_same_logits():
    model = tiny(3)
    x, _, _ = batch()
    logits, _ = model.forward(x)
    logits_nc, cache = model.forward(x, keep_cache=False)
    assert cache is None
    np.testing.assert_array_equal(logits_nc, logits)


@pytest.mark.parametrize("num_layers", [1, 2, 3])
def test_forward_equals_the_slow_twin(num_layers):
    model = tiny(num_layers)
    x, _, _ = batch()
    np.testing.assert_allclose(model.forward(x)[0], slow_forward(model, x), rtol=1e-12, atol=1e-13)


def test_step_loop_equals_forward():
    model = tiny(3)
    x, _, _ = batch()
    logits, _ = model.forward(x)
    state = None
    for t in range(T):
        y_t, state = model.step(x[t], state)
        np.testing.assert_allclose(y_t, logits[t], rtol=1e-12, atol=1e-13)
    assert isinstance(state, LSTMState)
    assert state.h.shape == state.c.shape == (3, B, H)


def test_initial_state_is_zero():
    state = tiny(2).initial_state(5)
    assert state.h.shape == state.c.shape == (2, 5, H)
    assert not state.h.any() and not state.c.any()
    with pytest.raises(ValueError, match="batch_size"):
        tiny(2).initial_state(0)


def test_loss_matches_loss_and_grads():
    model = tiny(2)
    x, y, mask = batch()
    loss, grads = model.loss_and_grads(x, y, mask)
    assert loss.shape == ()
    assert float(model.loss(x, y, mask)) == pytest.approx(float(loss), rel=1e-14)
    assert set(grads) == set(model.params)
    # an all-ones mask is the same as no mask
    assert float(model.loss(x, y)) == pytest.approx(float(model.loss(x, y, np.ones((T, B)))))


# --- input checks --------------------------------------------------------------------------


def test_bad_inputs_raise_naming_the_argument():
    model = tiny(2)
    x, y, mask = batch()
    with pytest.raises(ValueError, match=r"x must have shape \[T, B, 3\]"):
        model.forward(x[..., :2])
    with pytest.raises(ValueError, match="x must have shape"):
        model.forward(x[0])
    with pytest.raises(ValueError, match="x must be an array"):
        model.forward(x.tolist())
    with pytest.raises(ValueError, match="x must hold real numbers"):
        model.forward(x.astype(complex))
    with pytest.raises(ValueError, match=r"y must have shape \[6, 2, 2\]"):
        model.loss(x, y[:-1], mask)
    with pytest.raises(ValueError, match=r"mask must have shape \[6, 2\]"):
        model.loss_and_grads(x, y, mask[:, :1])
    with pytest.raises(ValueError, match="x_t must have shape"):
        model.step(x)
    logits, cache = model.forward(x)
    with pytest.raises(ValueError, match=r"dlogits must have shape \[6, 2, 2\]"):
        model.backward(logits[:, :, :1], cache)
    with pytest.raises(ValueError, match="cache is None"):
        model.backward(logits, None)


def test_integer_and_boolean_inputs_are_accepted():
    model = tiny(1)
    x, y, mask = batch()
    xi = (x > 0).astype(np.int64)
    loss = model.loss(xi, y.astype(bool), mask.astype(np.int8))
    assert np.isfinite(loss)


# --- float32, devices, checkpoints -------------------------------------------------------


def test_float32_runs_and_agrees_with_float64():
    m32, m64 = tiny(3, dtype="float32"), tiny(3)
    x, y, mask = batch()
    loss32, grads32 = m32.loss_and_grads(x, y, mask)
    loss64, grads64 = m64.loss_and_grads(x, y, mask)
    assert loss32.dtype == np.float32
    assert m32.forward(x)[0].dtype == np.float32
    assert float(loss32) == pytest.approx(float(loss64), rel=1e-5)
    for k in m64.params:
        assert grads32[k].dtype == np.float32
        np.testing.assert_allclose(grads32[k], grads64[k], rtol=1e-3, atol=1e-5)
    with pytest.raises(ValueError, match="float64"):
        check_model(m32, x, y, mask)


def test_to_cpu_is_a_no_op_and_gpu_without_cupy_is_a_clear_error():
    model = tiny(1)
    assert model.to("cpu") is model and model.device == "cpu" and model.xp is np
    if not gpu_available():
        with pytest.raises(RuntimeError, match="device='gpu'"):
            model.to("gpu")


@pytest.mark.skipif(not gpu_available(), reason="needs CuPy and a CUDA device")
def test_gpu_matches_cpu():
    cpu, gpu = tiny(2), tiny(2).to("gpu")
    x, y, mask = batch()
    loss_c, grads_c = cpu.loss_and_grads(x, y, mask)
    loss_g, grads_g = gpu.loss_and_grads(x, y, mask)
    assert gpu.device == "gpu"
    assert float(loss_g) == pytest.approx(float(loss_c), rel=1e-10)
    for k in cpu.params:
        np.testing.assert_allclose(grads_g[k].get(), grads_c[k], rtol=1e-8, atol=1e-12)


def test_save_hands_itself_to_checkpoint_save(monkeypatch, tmp_path):
    calls = []
    fake = types.ModuleType("ntm_numpy.training.checkpoint")
    fake.save = lambda path, model, **extra: calls.append((path, model, extra))
    monkeypatch.setitem(sys.modules, "ntm_numpy.training.checkpoint", fake)
    model = tiny(1)
    model.save(tmp_path / "m.npz", optimizer=None, note="x")
    assert calls == [(tmp_path / "m.npz", model, {"optimizer": None, "note": "x"})]


def test_checkpoint_round_trip(tmp_path):
    checkpoint = pytest.importorskip("ntm_numpy.training.checkpoint")
    model = tiny(2, seed=7)
    model.params["output.b"] += 0.5
    model.save(tmp_path / "lstm.npz")
    assert LSTMModel.model_type == "lstm"  # what checkpoints dispatch on
    loaded = checkpoint.load(tmp_path / "lstm.npz")
    assert isinstance(loaded, LSTMModel) and loaded.config == model.config
    for k in model.params:
        np.testing.assert_array_equal(loaded.params[k], model.params[k])


# --- it learns -----------------------------------------------------------------------------


def test_adam_halves_the_loss_on_a_fixed_batch():
    """Recall each input bit two steps later (needs the recurrence): 200 Adam steps."""
    rng = np.random.default_rng(0)
    bits, length, delay = 3, 8, 2
    x = (rng.random((length, 4, bits)) > 0.5).astype(float)
    y = np.zeros_like(x)
    y[delay:] = x[:-delay]
    mask = np.ones((length, 4))
    mask[:delay] = 0.0
    model = LSTMModel(input_size=bits, hidden_size=16, num_layers=2, seed=0)
    opt = Adam(AdamConfig(lr=1e-2))
    first = float(model.loss(x, y, mask))
    for _ in range(200):
        _, grads = model.loss_and_grads(x, y, mask)
        opt.step(model.params, grads)
    assert float(model.loss(x, y, mask)) < 0.5 * first
