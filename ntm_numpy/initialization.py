"""Initial parameters of both models, drawn on the host from the config's seed.

This is the one piece of the models that imports numpy: initialisation happens once, on the
CPU, from an explicit ``numpy.random.Generator``; ``model.to("gpu")`` moves the result. The
shapes come from the config (``configs.NTMConfig.parameter_shapes``,
``configs.LSTMConfig.parameter_shapes``), so that what is drawn is what a checkpoint is checked
against. Both models draw alike: weights from N(0, 1/fan_in) (LeCun), biases zero except the
LSTM's forget gate (1, so the cell remembers from the start): the NTM's controller sets its own
bias (``controllers.Controller.init_bias``), and draws nothing.
"""

from __future__ import annotations

import math

import numpy as np

from .configs import LSTMConfig, NTMConfig
from .controllers import CONTROLLERS

MEMORY_INIT_CONSTANT = 1e-6  # Collier & Beel (2018): the fastest and most reliable scheme


def _lecun(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """W [fan_in, fan_out] ~ N(0, 1/fan_in)."""
    return rng.normal(0.0, 1.0 / math.sqrt(shape[0]), size=shape)


def init_params(config: NTMConfig) -> dict[str, np.ndarray]:
    """An NTM's fresh parameters from ``config.seed`` (host arrays of ``config.dtype``).

    init.read ~ N(0, 0.5^2); init.weights ~ N(0, 1), so the heads start somewhere particular
    rather than uniformly everywhere: from a uniform w_0 and a uniform memory, no shift or
    sharpening can break the symmetry. The draws keep one order (controller, heads, output,
    initial state), so a seed gives the same model whatever else changes. The controller's
    bias is its own (``init_bias``: the LSTM's forget gate at 1), drawn from nothing.
    """
    rng = np.random.default_rng(config.seed)
    shapes = config.parameter_shapes()
    params = {}
    for name in ("controller", "heads", "output"):
        params[f"{name}.W"] = _lecun(rng, shapes[f"{name}.W"])
        params[f"{name}.b"] = np.zeros(shapes[f"{name}.b"])
    params["init.read"] = rng.normal(0.0, 0.5, size=shapes["init.read"])
    params["init.weights"] = rng.normal(0.0, 1.0, size=shapes["init.weights"])
    params["controller.b"] = CONTROLLERS[config.controller].init_bias(params["controller.b"])
    if "init.memory" in shapes:  # memory_init="learned"
        M = config.memory_dim
        params["init.memory"] = rng.normal(0.0, 1.0 / math.sqrt(M), size=shapes["init.memory"])
    return {k: v.astype(config.dtype) for k, v in params.items()}


def fixed_initial_memory(config: NTMConfig) -> np.ndarray | None:
    """M_0 when it is not learned: the constant 1e-6, or a fixed draw from the seed."""
    shape = (config.memory_size, config.memory_dim)
    if config.memory_init == "constant":
        return np.full(shape, MEMORY_INIT_CONSTANT, dtype=config.dtype)
    if config.memory_init == "random":
        # its own stream, so that changing memory_init leaves the other parameters as they were
        rng = np.random.default_rng([config.seed, 1])
        return rng.normal(0.0, 0.5, size=shape).astype(config.dtype)
    return None


def init_lstm_params(config: LSTMConfig) -> dict[str, np.ndarray]:
    """The LSTM baseline's fresh parameters from ``config.seed`` (host arrays of
    ``config.dtype``). Gate blocks are [i | f | o | g]."""
    rng = np.random.default_rng(config.seed)
    shapes = config.parameter_shapes()
    H = config.hidden_size
    params = {}
    for layer in range(config.num_layers):
        params[f"layer{layer}.W"] = _lecun(rng, shapes[f"layer{layer}.W"])
        params[f"layer{layer}.b"] = np.zeros(shapes[f"layer{layer}.b"])
        params[f"layer{layer}.b"][H : 2 * H] = 1.0  # forget gate
    params["output.W"] = _lecun(rng, shapes["output.W"])
    params["output.b"] = np.zeros(shapes["output.b"])
    return {k: v.astype(config.dtype) for k, v in params.items()}
