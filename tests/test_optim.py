"""Tests of ntm_numpy.optim and ntm_numpy.training.optimizers: update rules against hand
arithmetic, convergence on a quadratic, state_dict round trips, clipping, validation, and the
no-numpy rule of the compute path."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from ntm_numpy import optim
from ntm_numpy.optim import AdamConfig, RMSPropConfig, SGDConfig
from ntm_numpy.training import optimizers
from ntm_numpy.training.optimizers import (
    SGD,
    Adam,
    RMSProp,
    clip_by_global_norm,
    clip_by_value,
    global_norm,
    make_optimizer,
    optimizer_from_state,
)

# One tiny parameter and two fixed gradients, shared by the hand-computed tests.
P0 = [1.0, -2.0]
G1 = [0.5, -1.0]
G2 = [0.25, 2.0]


def run_two_steps(optimizer: optimizers.Optimizer) -> tuple[list[float], list[float]]:
    """Apply G1 then G2 to P0; return the parameter after each step, as Python floats."""
    params = {"w": np.array(P0)}
    optimizer.step(params, {"w": np.array(G1)})
    after_one = params["w"].tolist()
    optimizer.step(params, {"w": np.array(G2)})
    return after_one, params["w"].tolist()


# ---------------------------------------------------------------------------------------------
# Update rules by hand
# ---------------------------------------------------------------------------------------------


def test_sgd_plain_by_hand():
    # p = p - lr * g with lr = 0.1:
    #   p1 = [1 - 0.05, -2 + 0.1] = [0.95, -1.9]
    #   p2 = [0.95 - 0.025, -1.9 - 0.2] = [0.925, -2.1]
    one, two = run_two_steps(SGD(SGDConfig(lr=0.1, momentum=0.0)))
    assert one == pytest.approx([0.95, -1.9], abs=1e-15)
    assert two == pytest.approx([0.925, -2.1], abs=1e-15)


def test_sgd_momentum_by_hand():
    # v = 0.9 v - 0.1 g; p = p + v
    #   v1 = -0.1 * [0.5, -1] = [-0.05, 0.1]                 p1 = [0.95, -1.9]
    #   v2 = 0.9 * v1 - 0.1 * [0.25, 2]
    #      = [-0.045 - 0.025, 0.09 - 0.2] = [-0.07, -0.11]   p2 = [0.88, -2.01]
    one, two = run_two_steps(SGD(SGDConfig(lr=0.1, momentum=0.9)))
    assert one == pytest.approx([0.95, -1.9], abs=1e-15)
    assert two == pytest.approx([0.88, -2.01], abs=1e-15)


def test_sgd_nesterov_by_hand():
    # v = 0.9 v - 0.1 g; p = p + 0.9 v - 0.1 g   (the velocities are those of the test above)
    #   p1 = [1 + 0.9 * -0.05 - 0.05, -2 + 0.9 * 0.1 + 0.1]   = [0.905, -1.81]
    #   p2 = [0.905 + 0.9 * -0.07 - 0.025, -1.81 + 0.9 * -0.11 - 0.2]
    #      = [0.905 - 0.063 - 0.025, -1.81 - 0.099 - 0.2]     = [0.817, -2.109]
    one, two = run_two_steps(SGD(SGDConfig(lr=0.1, momentum=0.9, nesterov=True)))
    assert one == pytest.approx([0.905, -1.81], abs=1e-15)
    assert two == pytest.approx([0.817, -2.109], abs=1e-15)


def test_rmsprop_by_hand():
    # Graves (2013) eq. 38-41 with lr = 0.1, decay = 0.95, momentum = 0.9, eps = 1e-4.
    # Element 0 (g = 0.5, then 0.25):
    #   step 1: n = 0.05 * 0.25 = 0.0125;  gbar = 0.05 * 0.5 = 0.025
    #           n - gbar^2 + eps = 0.0125 - 0.000625 + 0.0001 = 0.011975
    #           delta = -0.1 * 0.5 / sqrt(0.011975)
    #   step 2: n = 0.95 * 0.0125 + 0.05 * 0.0625 = 0.011875 + 0.003125 = 0.015
    #           gbar = 0.95 * 0.025 + 0.05 * 0.25 = 0.02375 + 0.0125 = 0.03625
    #           n - gbar^2 + eps = 0.015 - 0.0013140625 + 0.0001 = 0.0137859375
    #           delta = 0.9 * delta - 0.1 * 0.25 / sqrt(0.0137859375)
    # Element 1 (g = -1, then 2):
    #   step 1: n = 0.05;  gbar = -0.05;  n - gbar^2 + eps = 0.05 - 0.0025 + 0.0001 = 0.0476
    #           delta = -0.1 * -1 / sqrt(0.0476)
    #   step 2: n = 0.95 * 0.05 + 0.05 * 4 = 0.2475;  gbar = 0.95 * -0.05 + 0.05 * 2 = 0.0525
    #           n - gbar^2 + eps = 0.2475 - 0.00275625 + 0.0001 = 0.24484375
    #           delta = 0.9 * delta - 0.1 * 2 / sqrt(0.24484375)
    d0 = -0.1 * 0.5 / math.sqrt(0.011975)
    d1 = 0.1 / math.sqrt(0.0476)
    p1 = [1.0 + d0, -2.0 + d1]
    d0 = 0.9 * d0 - 0.1 * 0.25 / math.sqrt(0.0137859375)
    d1 = 0.9 * d1 - 0.1 * 2.0 / math.sqrt(0.24484375)
    p2 = [p1[0] + d0, p1[1] + d1]

    one, two = run_two_steps(RMSProp(RMSPropConfig(lr=0.1)))
    assert one == pytest.approx(p1, rel=1e-12)
    assert two == pytest.approx(p2, rel=1e-12)


def test_rmsprop_first_step_without_eps_is_lr_sign_over_sqrt_0_0475():
    # With eps -> 0 the first step is -lr * g / sqrt(0.05 g^2 - 0.0025 g^2)
    #                                = -lr * sign(g) / sqrt(0.0475), whatever the size of g
    opt = RMSProp(RMSPropConfig(lr=0.01, eps=1e-30))
    params = {"w": np.array([3.0, -0.2, 40.0])}
    opt.step(params, {"w": np.array([1.0, -5.0, 0.001])})
    step = 0.01 / math.sqrt(0.0475)
    assert params["w"].tolist() == pytest.approx([3.0 - step, -0.2 + step, 40.0 - step], rel=1e-12)


def test_adam_by_hand():
    # lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8.
    # Step 1: m = 0.1 g, v = 0.001 g^2, mhat = m / 0.1 = g, vhat = v / 0.001 = g^2, so every
    #   element moves by lr * sign(g) (less lr * eps / |g| <= 2e-9): p1 = [0.9, -1.9].
    # Step 2: 1 - b1^2 = 0.19, 1 - b2^2 = 1 - 0.998001 = 0.001999.
    #   element 0: m = 0.9 * 0.05 + 0.1 * 0.25 = 0.07
    #              v = 0.999 * 0.00025 + 0.001 * 0.0625 = 0.00031225
    #   element 1: m = 0.9 * -0.1 + 0.1 * 2 = 0.11
    #              v = 0.999 * 0.001 + 0.001 * 4 = 0.004999
    #   p2 = p1 - 0.1 * (m / 0.19) / (sqrt(v / 0.001999) + 1e-8)
    one, two = run_two_steps(Adam(AdamConfig(lr=0.1)))
    assert one == pytest.approx([0.9, -1.9], abs=3e-9)

    def moved(m: float, v: float) -> float:
        return 0.1 * (m / 0.19) / (math.sqrt(v / 0.001999) + 1e-8)

    p2 = [one[0] - moved(0.07, 0.00031225), one[1] - moved(0.11, 0.004999)]
    assert two == pytest.approx(p2, rel=1e-12)


def test_adam_first_step_is_lr_sign_g_whatever_the_scale():
    opt = Adam(AdamConfig(lr=3e-3))
    g = np.array([1e-3, -7.0, 250.0, -0.5])
    params = {"w": np.zeros(4)}
    opt.step(params, {"w": g})
    np.testing.assert_allclose(params["w"], -3e-3 * np.sign(g), rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# Behaviour of step
# ---------------------------------------------------------------------------------------------

ALL = [
    pytest.param("sgd", {"lr": 0.1}, id="sgd"),
    pytest.param("sgd", {"lr": 0.1, "nesterov": True}, id="sgd-nesterov"),
    pytest.param("rmsprop", {"lr": 1e-2}, id="rmsprop"),
    pytest.param("adam", {"lr": 0.1}, id="adam"),
]


@pytest.mark.parametrize(("name", "options"), ALL)
@pytest.mark.parametrize("seed", [0, 1])
def test_minimises_a_quadratic(name, options, seed):
    # f(p) = 0.5 * sum(A * (p - c)^2), df/dp = A * (p - c), minimum at p = c
    rng = np.random.default_rng(seed)
    shapes = {"controller.W": (3, 4), "output.b": (5,)}
    A = {k: rng.uniform(0.5, 2.0, s) for k, s in shapes.items()}
    c = {k: rng.normal(size=s) for k, s in shapes.items()}
    params = {k: 3.0 * rng.normal(size=s) for k, s in shapes.items()}
    opt = make_optimizer(name, **options)
    for _ in range(300):
        opt.step(params, {k: A[k] * (params[k] - c[k]) for k in params})
    assert opt.steps == 300
    for k in params:
        np.testing.assert_allclose(params[k], c[k], atol=1e-3)


@pytest.mark.parametrize(("name", "options"), ALL)
def test_step_is_in_place_and_keeps_dtype(name, options):
    w = np.ones((2, 3), dtype=np.float32)
    params = {"w": w}
    opt = make_optimizer(name, **options)
    opt.step(params, {"w": np.full((2, 3), 0.5, dtype=np.float32)})
    assert params["w"] is w  # the same array, changed
    assert not np.array_equal(w, np.ones((2, 3)))
    assert w.dtype == np.float32
    assert opt.steps == 1
    for arrays in opt.state.values():
        assert arrays["w"].dtype == np.float32


def test_state_is_lazy_and_shaped_like_params():
    opt = Adam()
    assert opt.state == {}
    params = {"a": np.zeros((2, 3)), "b": np.zeros(4)}
    opt.step(params, {"a": np.ones((2, 3)), "b": np.ones(4)})
    assert set(opt.state) == {"m", "v"}
    assert {k: a.shape for k, a in opt.state["m"].items()} == {"a": (2, 3), "b": (4,)}


def test_plain_sgd_keeps_no_state():
    opt = SGD(SGDConfig(momentum=0.0))
    opt.step({"w": np.zeros(2)}, {"w": np.ones(2)})
    assert opt.state == {}


def test_mismatched_keys_name_the_missing_and_the_extra():
    opt = Adam()
    params = {"a": np.zeros(2), "b": np.zeros(2)}
    with pytest.raises(ValueError, match=r"grads.*missing from grads: \['b'\].*extra.*\['c'\]"):
        opt.step(params, {"a": np.zeros(2), "c": np.zeros(2)})
    assert opt.steps == 0
    assert params["a"].tolist() == [0.0, 0.0]


def test_mismatched_shape_is_an_error():
    with pytest.raises(ValueError, match=r"grads\['a'\].*shape"):
        Adam().step({"a": np.zeros(2)}, {"a": np.zeros(3)})


def test_params_must_keep_the_keys_of_the_first_step():
    opt = RMSProp()
    opt.step({"a": np.zeros(2)}, {"a": np.ones(2)})
    with pytest.raises(ValueError, match=r"optimizer state 'n'.*missing.*\['b'\]"):
        opt.step({"a": np.zeros(2), "b": np.zeros(2)}, {"a": np.ones(2), "b": np.ones(2)})


def test_array_module_comes_from_the_arrays():
    # A numpy subclass whose array namespace records the calls: the update and the clipping
    # must go through it, never through a module-level numpy.
    calls: list[str] = []

    class Recording:
        def __getattr__(self, name):
            calls.append(name)
            return getattr(np, name)

    recording = Recording()

    class Tracked(np.ndarray):
        def __array_namespace__(self, *, api_version=None):
            return recording

    params = {"w": np.array([1.0, -2.0]).view(Tracked)}
    grads = {"w": np.array([0.5, -1.0]).view(Tracked)}
    Adam().step(params, grads)
    assert {"zeros_like", "sqrt"} <= set(calls)
    calls.clear()
    clip_by_global_norm(grads, 1.0)
    clip_by_value(grads, 0.1)
    assert {"sum", "sqrt", "minimum", "clip"} <= set(calls)


@pytest.mark.parametrize("module", [optim, optimizers], ids=lambda m: m.__name__)
def test_optimizers_do_not_import_numpy_or_sync(module):
    source = (Path(module.__file__)).read_text()
    assert not re.search(r"^\s*(import|from)\s+(numpy|cupy)\b", source, re.MULTILINE)
    assert ".item(" not in source
    assert ".tolist(" not in source


# ---------------------------------------------------------------------------------------------
# state_dict
# ---------------------------------------------------------------------------------------------


def grads_for(params: dict, step: int) -> dict:
    """Deterministic, non-constant gradients."""
    return {k: np.sin(p + step) + 0.1 * step for k, p in params.items()}


@pytest.mark.parametrize(("name", "options"), ALL)
def test_state_dict_round_trip_through_files(name, options, tmp_path):
    rng = np.random.default_rng(0)
    params = {"controller.W": rng.normal(size=(3, 4)), "output.b": rng.normal(size=2)}
    opt = make_optimizer(name, **options)
    for t in range(3):
        opt.step(params, grads_for(params, t))

    # save as a checkpoint would: JSON for the small things, .npz for the arrays
    state = opt.state_dict()
    assert state["name"] == name and state["steps"] == 3
    assert set(state) == {"name", "config", "steps", "state"}
    np.savez(tmp_path / "opt.npz", **state["state"])
    meta = json.dumps({"name": state["name"], "config": state["config"], "steps": state["steps"]})
    with np.load(tmp_path / "opt.npz") as data:
        restored = optimizer_from_state({**json.loads(meta), "state": dict(data)})
    assert type(restored) is type(opt)
    assert restored.config == opt.config and restored.steps == 3

    twin = {k: p.copy() for k, p in params.items()}
    for t in range(3, 6):
        opt.step(params, grads_for(params, t))
        restored.step(twin, grads_for(twin, t))
        for k in params:
            assert np.array_equal(params[k], twin[k])


def test_state_dict_keys_and_snapshot():
    opt = Adam(AdamConfig(lr=3e-3))
    params = {"controller.W": np.zeros((2, 2))}
    assert opt.state_dict()["state"] == {}
    opt.step(params, {"controller.W": np.ones((2, 2))})
    state = opt.state_dict()
    assert set(state["state"]) == {"m.controller.W", "v.controller.W"}
    assert state["config"] == {"lr": 3e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    before = state["state"]["m.controller.W"].copy()
    opt.step(params, {"controller.W": np.ones((2, 2))})
    assert np.array_equal(state["state"]["m.controller.W"], before)  # a copy, not a view


def test_load_state_dict_restores_the_config():
    source = SGD(SGDConfig(lr=0.5, momentum=0.5))
    source.step({"w": np.zeros(1)}, {"w": np.ones(1)})
    target = SGD()
    target.load_state_dict(source.state_dict())
    assert target.config == SGDConfig(lr=0.5, momentum=0.5)
    assert target.steps == 1


def adam_state() -> dict:
    opt = Adam()
    opt.step({"w": np.zeros(2)}, {"w": np.ones(2)})
    return opt.state_dict()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(lambda s: s.update(name="sgd"), r"name.*'sgd'", id="wrong-name"),
        pytest.param(lambda s: s.pop("steps"), r"missing \['steps'\]", id="missing-key"),
        pytest.param(lambda s: s.update(extra=1), r"extra \['extra'\]", id="extra-key"),
        pytest.param(lambda s: s.update(steps=-1), r"steps.*>= 0", id="negative-steps"),
        pytest.param(lambda s: s.update(steps=1.5), r"steps.*integer", id="float-steps"),
        pytest.param(lambda s: s["config"].update(beta1=1.0), r"beta1", id="bad-config"),
        pytest.param(lambda s: s["config"].update(gamma=1), r"gamma", id="unknown-config"),
        pytest.param(lambda s: s["state"].pop("v.w"), r"slot 'v'.*\['w'\]", id="missing-slot"),
        pytest.param(
            lambda s: s["state"].update({"q.w": np.zeros(2)}), r"'q\.w'", id="unknown-slot"
        ),
        pytest.param(
            lambda s: s["state"].update({"v.w": np.zeros(3)}), r"shape", id="shape-mismatch"
        ),
        pytest.param(lambda s: s["state"].update({"v.w": [0, 0]}), r"array", id="not-array"),
        pytest.param(lambda s: s["state"].clear(), r"empty.*steps=1", id="empty-state"),
        pytest.param(lambda s: s.update(steps=0), r"empty when.*0", id="state-at-step-0"),
    ],
)
def test_load_state_dict_rejects(change, message):
    state = adam_state()
    change(state)
    opt = Adam()
    with pytest.raises(ValueError, match=message):
        opt.load_state_dict(state)
    assert opt.steps == 0 and opt.state == {}  # nothing half-loaded


def test_optimizer_from_state_rejects_an_unknown_name():
    with pytest.raises(ValueError, match=r"optimizer name.*'lbfgs'"):
        optimizer_from_state({**adam_state(), "name": "lbfgs"})


def test_map_arrays_applies_to_every_state_array():
    opt = RMSProp()
    opt.step({"a": np.ones(2), "b": np.ones(3)}, {"a": np.ones(2), "b": np.ones(3)})
    seen = []

    def to_float32(a):
        seen.append(a.shape)
        return a.astype(np.float32)

    opt.map_arrays(to_float32)
    assert len(seen) == 6  # 3 slots x 2 parameters
    assert all(a.dtype == np.float32 for arrays in opt.state.values() for a in arrays.values())


def test_state_on_another_device_is_a_clear_error():
    opt = Adam()
    opt.step({"w": np.zeros(2)}, {"w": np.ones(2)})

    class Elsewhere(np.ndarray):  # stands in for a cupy array: another array namespace
        def __array_namespace__(self, *, api_version=None):
            return object()

    opt.map_arrays(lambda a: a.view(Elsewhere))
    with pytest.raises(ValueError, match="map_arrays"):
        opt.step({"w": np.zeros(2)}, {"w": np.ones(2)})


# ---------------------------------------------------------------------------------------------
# Configuration and the factory
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config_type", "field", "value"),
    [
        (SGDConfig, "lr", 0.0),
        (SGDConfig, "lr", float("nan")),
        (SGDConfig, "lr", True),
        (SGDConfig, "lr", "0.1"),
        (SGDConfig, "momentum", 1.0),
        (SGDConfig, "momentum", -0.1),
        (SGDConfig, "nesterov", 1),
        (RMSPropConfig, "lr", -1e-4),
        (RMSPropConfig, "decay", 1.0),
        (RMSPropConfig, "momentum", 1.5),
        (RMSPropConfig, "eps", 0.0),
        (AdamConfig, "lr", float("inf")),
        (AdamConfig, "beta1", 1.0),
        (AdamConfig, "beta2", -0.5),
        (AdamConfig, "eps", 0.0),
    ],
    ids=lambda v: repr(v) if not isinstance(v, type) else v.__name__,
)
def test_bad_config_values_name_the_parameter(config_type, field, value):
    with pytest.raises(ValueError, match=rf"{config_type.__name__}\.{field} must be"):
        config_type(**{field: value})


def test_config_defaults():
    assert RMSPropConfig() == RMSPropConfig(lr=1e-4, decay=0.95, momentum=0.9, eps=1e-4)
    assert AdamConfig() == AdamConfig(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8)
    assert SGDConfig().momentum == 0.9 and SGDConfig().nesterov is False


def test_config_values_become_python_floats():
    config = AdamConfig(lr=np.float32(0.5), beta1=0)
    assert type(config.lr) is float and type(config.beta1) is float
    json.dumps(config.__dict__)


def test_nesterov_needs_momentum():
    with pytest.raises(ValueError, match="nesterov"):
        SGDConfig(momentum=0.0, nesterov=True)


def test_make_optimizer():
    opt = make_optimizer("Adam", lr=3e-3)
    assert isinstance(opt, Adam) and opt.config == AdamConfig(lr=3e-3)
    assert isinstance(make_optimizer("rmsprop"), RMSProp)
    assert isinstance(make_optimizer("sgd", momentum=0.0), SGD)


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("lbfgs", {}, r"optimizer name must be one of \['sgd', 'rmsprop', 'adam'\]"),
        ("adam", {"beta3": 0.5}, r"unknown AdamConfig option.*beta3.*expected.*beta2"),
        ("rmsprop", {"decay": 2.0}, r"RMSPropConfig\.decay must be a number in \[0, 1\)"),
    ],
)
def test_make_optimizer_rejects(name, options, message):
    with pytest.raises(ValueError, match=message):
        make_optimizer(name, **options)


def test_optimizer_wants_its_own_config():
    with pytest.raises(TypeError, match="AdamConfig"):
        Adam(SGDConfig())


# ---------------------------------------------------------------------------------------------
# Clipping
# ---------------------------------------------------------------------------------------------


def test_clip_by_global_norm_3_4_to_unit_norm():
    # norm = sqrt(3^2 + 4^2) = 5; scale = 1 / (5 + 1e-6); [3, 4] -> [0.6, 0.8]
    grads = {"a": np.array([3.0]), "b": np.array([[4.0]])}
    clipped, norm = clip_by_global_norm(grads, 1.0)
    assert float(norm) == 5.0
    np.testing.assert_allclose(clipped["a"], [0.6], rtol=1e-6)
    np.testing.assert_allclose(clipped["b"], [[0.8]], rtol=1e-6)
    assert float(global_norm(clipped)) == pytest.approx(1.0, rel=1e-6)
    assert grads["a"].tolist() == [3.0] and grads["b"].tolist() == [[4.0]]  # input untouched


def test_clip_by_global_norm_under_the_bound_is_a_no_op():
    grads = {"a": np.array([0.3, -0.4]), "b": np.array([1.2])}  # norm 1.3
    clipped, norm = clip_by_global_norm(grads, 50.0)
    assert float(norm) == pytest.approx(1.3)
    for k in grads:
        assert np.array_equal(clipped[k], grads[k])
        assert clipped[k] is not grads[k]


def test_clip_by_global_norm_returns_an_array_and_keeps_dtypes():
    grads = {"a": np.full(4, 10.0, dtype=np.float32), "b": np.full(2, -10.0, dtype=np.float64)}
    clipped, norm = clip_by_global_norm(grads, 1.0)
    assert isinstance(norm, np.ndarray) and norm.shape == ()  # an array: no device sync
    assert clipped["a"].dtype == np.float32 and clipped["b"].dtype == np.float64
    assert float(global_norm(clipped)) == pytest.approx(1.0, rel=1e-5)


def test_clip_by_value():
    grads = {"a": np.array([-25.0, -3.0, 0.0, 9.99, 10.0, 12.0], dtype=np.float32)}
    clipped = clip_by_value(grads)
    assert clipped["a"].tolist() == pytest.approx([-10.0, -3.0, 0.0, 9.99, 10.0, 10.0])
    assert clipped["a"].dtype == np.float32
    assert grads["a"][0] == -25.0  # input untouched
    assert clip_by_value(grads, 2.5)["a"].tolist() == [-2.5, -2.5, 0.0, 2.5, 2.5, 2.5]


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), None])
def test_clipping_bounds_are_validated(bad):
    grads = {"a": np.ones(2)}
    with pytest.raises(ValueError, match="max_norm"):
        clip_by_global_norm(grads, bad)
    with pytest.raises(ValueError, match="limit"):
        clip_by_value(grads, bad)


def test_global_norm_of_large_float32_gradients_is_finite():
    # (1e20)^2 overflows float32; the norm itself, 1e20 * sqrt(2), does not
    grads = {"a": np.full(2, 1e20, dtype=np.float32)}
    norm = global_norm(grads)
    assert np.isfinite(norm)
    assert float(norm) == pytest.approx(1e20 * np.sqrt(2.0), rel=1e-6)
    clipped, _ = clip_by_global_norm(grads, 1.0)
    assert clipped["a"].dtype == np.float32
    np.testing.assert_allclose(clipped["a"], [2**-0.5, 2**-0.5], rtol=1e-5)


def test_the_rule_names_agree_with_the_optimizer_objects():
    """configs.py validates a run's optimizer by ``optim.OPTIMIZER_CONFIGS``; the trainer builds
    it from ``training.optimizers.OPTIMIZERS``: the two tables name the same rules."""
    from ntm_numpy.optim import OPTIMIZER_CONFIGS
    from ntm_numpy.training.optimizers import OPTIMIZERS

    assert list(OPTIMIZER_CONFIGS) == list(OPTIMIZERS)
    for name, cls in OPTIMIZERS.items():
        assert OPTIMIZER_CONFIGS[name] is cls.config_type
