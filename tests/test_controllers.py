"""The controllers' one interface (``ntm_numpy/controllers.py``): the two shipped controllers,
and a new one added with one ``Controller(...)`` and one ``register_controller`` call, defined
here, which the whole model then runs, differentiates, trains and saves with nothing else
edited."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, NamedTuple

import numpy as np
import pytest
from helpers import run_main

import ntm_numpy
from ntm_numpy import NTM, ConfigError, NTMConfig
from ntm_numpy.app.cli import _parser, _train_config
from ntm_numpy.controllers import (
    CONTROLLERS,
    FEEDFORWARD,
    LSTM,
    Controller,
    register_controller,
    tanh_layer_backward,
    tanh_layer_forward,
    unregister_controller,
)
from ntm_numpy.gradcheck import MODEL_BOUND, OP_BOUND, check_op, model_case_errors
from ntm_numpy.gradcheck_cases import ModelCase, model_sequence, tiny_ntm
from ntm_numpy.ops.activations import sigmoid
from ntm_numpy.training.loop import TrainConfig, train

SIZES = dict(input_size=5, output_size=4, memory_size=7, memory_dim=3, controller_size=6)


# =============================================================================================
# 1. The shipped controllers
# =============================================================================================


def test_the_shipped_controllers_are_the_registry_in_order():
    assert list(CONTROLLERS) == ["lstm", "feedforward"]
    assert CONTROLLERS["lstm"] is LSTM and CONTROLLERS["feedforward"] is FEEDFORWARD
    assert NTMConfig.CHOICES["controller"] is CONTROLLERS  # configs reads the registry itself
    with pytest.raises(TypeError):
        CONTROLLERS["other"] = LSTM  # read-only: register_controller adds


@pytest.mark.parametrize(
    ("controller", "width", "K"),
    [(LSTM, 11 + 6, 4 * 6), (FEEDFORWARD, 11, 6)],  # D = I + R*M (+ C), K = 4C or C
    ids=["lstm", "feedforward"],
)
def test_parameter_shapes(controller, width, K):
    assert controller.parameter_shapes(11, 6) == {"controller.W": (width, K), "controller.b": (K,)}
    config = NTMConfig(**{**SIZES, "num_heads": 2}, controller=controller.name)  # I + R*M = 11
    shapes = config.parameter_shapes()
    assert (shapes["controller.W"], shapes["controller.b"]) == ((width, K), (K,))
    assert list(shapes)[:2] == ["controller.W", "controller.b"]  # the draw order's first


def test_initial_cell():
    c0 = LSTM.initial_cell(3, 6, np, "float32")
    assert c0.shape == (3, 6) and c0.dtype == np.float32 and not c0.any()
    assert FEEDFORWARD.initial_cell(3, 6, np, "float32") is None
    assert NTM(**SIZES, controller="feedforward").initial_state(2).c is None
    assert NTM(**SIZES, controller="lstm").initial_state(2).c.shape == (2, 6)


def test_the_lstms_forget_gate_starts_at_one_and_the_rest_at_zero():
    b = LSTM.init_bias(np.zeros(4 * 3))
    assert b.tolist() == [0.0] * 3 + [1.0] * 3 + [0.0] * 6  # [i | f | o | g]
    zeros = np.zeros(3)
    assert not FEEDFORWARD.init_bias(zeros).any()


def old_init_params(config: NTMConfig) -> dict[str, np.ndarray]:
    """``initialization.init_params`` as it was before the controllers had an interface,
    frozen here: a seed must keep giving the same model."""
    rng = np.random.default_rng(config.seed)
    C, M, R, N = config.controller_size, config.memory_dim, config.read_heads, config.memory_size
    lstm = config.controller == "lstm"
    gates = 4 * C if lstm else C
    shapes = {
        "controller.W": (config.input_size + R * M + (C if lstm else 0), gates),
        "controller.b": (gates,),
        "heads.W": (C, config.layout.size),
        "heads.b": (config.layout.size,),
        "output.W": (C + R * M, config.outputs),
        "output.b": (config.outputs,),
    }
    params = {}
    for name in ("controller", "heads", "output"):
        shape = shapes[f"{name}.W"]
        params[f"{name}.W"] = rng.normal(0.0, 1.0 / math.sqrt(shape[0]), size=shape)
        params[f"{name}.b"] = np.zeros(shapes[f"{name}.b"])
    params["init.read"] = rng.normal(0.0, 0.5, size=(R, M))
    params["init.weights"] = rng.normal(0.0, 1.0, size=(config.layout.num_heads, N))
    if lstm:
        params["controller.b"][C : 2 * C] = 1.0  # forget gate
    if config.memory_init == "learned":
        params["init.memory"] = rng.normal(0.0, 1.0 / math.sqrt(M), size=(N, M))
    return {k: v.astype(config.dtype) for k, v in params.items()}


@pytest.mark.parametrize("memory_init", ["constant", "learned"])
@pytest.mark.parametrize("seed", [0, 1, 7])
@pytest.mark.parametrize("controller", ["lstm", "feedforward"])
def test_a_seed_gives_the_same_parameters_as_before(controller, seed, memory_init):
    options = dict(controller=controller, seed=seed, memory_init=memory_init, num_read_heads=2)
    model = NTM(**SIZES, **options, dtype="float32")
    expected = old_init_params(model.config)
    assert list(model.params) == list(expected)
    for name, value in expected.items():
        assert model.params[name].dtype == value.dtype
        assert np.array_equal(model.params[name], value), name


def cell_pair(controller: Controller):
    """The controller's forward/backward in ``check_op``'s form: inputs (z, c_prev), or z alone
    for a controller without a cell, whose c and dc_prev must then be None."""
    if controller.has_cell:
        return controller.forward, controller.backward

    def forward(z):
        (h, c), cache = controller.forward(z, None)
        assert c is None
        return h, cache

    def backward(dh, cache):
        dz, dc_prev = controller.backward(dh, None, cache)
        assert dc_prev is None
        return dz

    return forward, backward


def cell_inputs(controller: Controller, B: int, C: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((B, controller.blocks * C))
    return [z, rng.standard_normal((B, C))] if controller.has_cell else [z]


# =============================================================================================
# 2. A new controller, defined here: a leaky integrator with a cell and no recurrent input
# =============================================================================================


class LeakyCache(NamedTuple):
    candidate: Any  # [B, C]  g = tanh(z_g)
    leak: Any  # [B, C]  u = sigma(z_u)
    c_prev: Any  # [B, C]


def leaky_forward(z, c_prev):
    """z = [z_g | z_u] [B, 2C]:  c = (1 - u) c_prev + u g,  g = tanh(z_g),  u = sigma(z_u);
    h = c."""
    C = c_prev.shape[1]
    g, u = np.tanh(z[:, :C]), sigmoid(z[:, C:])
    c = (1.0 - u) * c_prev + u * g
    return (c, c), LeakyCache(g, u, c_prev)


def leaky_backward(dh, dc, cache: LeakyCache):
    """dc_total = dh + dc;  dz = [dc_total u (1 - g^2) | dc_total (g - c_prev) u (1 - u)];
    dc_prev = dc_total (1 - u)."""
    g, u, c_prev = cache
    dc_total = dh + dc
    dz = np.concatenate([dc_total * u * (1.0 - g * g), dc_total * (g - c_prev) * u * (1 - u)], 1)
    return dz, dc_total * (1.0 - u)


def leak_bias_minus_one(b):
    """u starts at sigma(-1) ~ 0.27: the cell keeps most of itself."""
    b = b.copy()
    b[b.shape[0] // 2 :] = -1.0
    return b


LEAKY = Controller(
    "leaky", leaky_forward, leaky_backward, blocks=2, has_cell=True, init_bias=leak_bias_minus_one
)
# and a recurrent one without a cell, from the shipped tanh layer: an Elman network
ELMAN = Controller("elman", tanh_layer_forward, tanh_layer_backward, recurrent=True)
NEW = {"leaky": LEAKY, "elman": ELMAN}


@pytest.fixture
def registered():
    """LEAKY and ELMAN registered for the test, and the registry as it was afterwards."""
    before = dict(CONTROLLERS)
    for controller in NEW.values():
        register_controller(controller)
    try:
        yield NEW
    finally:
        for name in NEW:
            if name in CONTROLLERS:
                unregister_controller(name)
        assert dict(CONTROLLERS) == before


@pytest.mark.parametrize("controller", [LSTM, FEEDFORWARD, LEAKY, ELMAN], ids=lambda c: c.name)
@pytest.mark.parametrize(("B", "C"), [(1, 1), (3, 4)])
def test_forward_backward_against_finite_differences(controller, B, C):
    forward, backward = cell_pair(controller)
    errors = check_op(forward, backward, cell_inputs(controller, B, C, seed=B + C))
    assert len(errors) == 1 + controller.has_cell
    assert max(errors) <= OP_BOUND, errors


def test_a_wrong_backward_is_caught_by_the_check():
    """The check above can fail: a leak gate's derivative off by a factor of two."""
    broken = dataclasses.replace(
        LEAKY, backward=lambda dh, dc, cache: leaky_backward(2.0 * dh, dc, cache)
    )
    assert max(check_op(*cell_pair(broken), cell_inputs(broken, 3, 4, seed=0))) > 1e-2


@pytest.mark.parametrize("name", ["leaky", "elman"])
def test_a_new_controller_runs_the_whole_model_and_its_gradients_check(registered, name):
    model = tiny_ntm(controller=name)
    K = registered[name].blocks * 4
    assert model.controller is registered[name]
    assert model.params["controller.W"].shape == (4 + 2 * 3 + (4 if name == "elman" else 0), K)
    assert model.params["controller.b"].tolist() == registered[name].init_bias(np.zeros(K)).tolist()
    assert (model.initial_state(2).c is None) == (name == "elman")
    errors = model_case_errors(ModelCase(f"model {name}", {"controller": name}, T=5))
    assert set(errors) == set(model.params)
    bad = {k: e for k, e in errors.items() if not e <= MODEL_BOUND}
    assert not bad, f"relative errors above {MODEL_BOUND}: {bad}"
    # and the step-by-step model agrees with the sequence forward
    x, _, _ = model_sequence(model, T=4, B=2)
    logits, _ = model.forward(x)
    state = None
    for t in range(4):
        y_t, state = model.step(x[t], state)
        np.testing.assert_allclose(y_t, logits[t], rtol=1e-12, atol=1e-12)


def test_a_new_controller_trains_saves_and_loads_through_the_registry(registered, tmp_path):
    model_options = {"controller": "leaky", "memory_size": 6, "memory_dim": 4}
    config = TrainConfig(
        task="copy",
        task_options={"bits": 3, "max_length": 3},
        model_options={**model_options, "controller_size": 10},
        batch_size=2,
        steps=3,
        eval_every=3,
        checkpoint_every=3,
        log_every=1,
        eval_sequences=4,
        eval_batch_size=2,
    )
    result = train(config, tmp_path, verbose=False)
    assert result.step == 3 and result.model.config.controller == "leaky"
    assert result.history and all(math.isfinite(row["cost"]) for row in result.history)
    fresh = NTM(result.model.config)
    changed = [
        k for k in fresh.params if not np.array_equal(fresh.params[k], result.model.params[k])
    ]
    assert "controller.W" in changed and "controller.b" in changed
    loaded = ntm_numpy.load(tmp_path / "checkpoint.npz")
    assert loaded.config == result.model.config
    x = np.random.default_rng(0).random((4, 2, result.model.config.input_size))
    np.testing.assert_array_equal(loaded.forward(x)[0], result.model.forward(x)[0])


def test_the_command_line_offers_a_registered_controller(registered, capsys):
    config = _train_config(_parser().parse_args(["train", "--controller", "elman"]))
    assert config.model_options["controller"] == "elman"
    code, out, _ = run_main(["train", "--help"], capsys)
    assert code == 0 and "{lstm,feedforward,leaky,elman}" in out
    code, _, err = run_main(["train", "--controller", "gru"], capsys)
    assert code == 2 and "'gru'" in err and "elman" in err


def test_an_unknown_controller_is_a_config_error_naming_the_registered_ones(registered):
    with pytest.raises(ConfigError, match="controller must be one of") as info:
        NTMConfig(input_size=3, controller="gru")
    for name in ("lstm", "feedforward", "leaky", "elman", "'gru'"):
        assert name in str(info.value)
    with pytest.raises(ConfigError, match="controller"):
        TrainConfig(model_options={"controller": "gru"})


def test_unregistering_removes_the_choice_and_registering_twice_is_refused(registered):
    unregister_controller("leaky")
    with pytest.raises(ConfigError, match="controller must be one of"):
        NTMConfig(input_size=3, controller="leaky")
    register_controller(LEAKY)
    NTMConfig(input_size=3, controller="leaky")
    with pytest.raises(ValueError, match="already registered"):
        register_controller(dataclasses.replace(LEAKY, blocks=3))
    with pytest.raises(ValueError, match="unknown controller 'gru'; registered: lstm"):
        unregister_controller("gru")


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"name": ""}, "name must be a non-empty string"),
        ({"forward": None}, "forward must be a function"),
        ({"backward": 3}, "backward must be a function"),
        ({"init_bias": "ones"}, "init_bias must be a function"),
        ({"blocks": 0}, "blocks must be a positive integer"),
        ({"blocks": True}, "blocks must be a positive integer"),
        ({"recurrent": 1}, "recurrent must be True or False"),
        ({"has_cell": None}, "has_cell must be True or False"),
    ],
)
def test_a_malformed_controller_is_refused(options, fragment):
    with pytest.raises(ValueError, match=fragment):
        dataclasses.replace(LEAKY, **options)
    with pytest.raises(ValueError, match="must be a Controller"):
        register_controller("leaky")
