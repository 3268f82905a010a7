"""Initial parameters, drawn on the host from the config's seed.

This is the one piece of the model that imports numpy: initialisation happens once, on the CPU,
from an explicit ``numpy.random.Generator``; ``NTM.to("gpu")`` moves the result.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .model import NTMConfig

MEMORY_INIT_CONSTANT = 1e-6  # Collier & Beel (2018): the fastest and most reliable scheme


def init_params(config: NTMConfig) -> dict[str, np.ndarray]:
    """Fresh parameters from ``config.seed`` (host arrays of ``config.dtype``).

    Weights are drawn from N(0, 1/fan_in) (LeCun); biases are zero except the LSTM's forget
    gate (1, so the cell remembers from the start). init.read ~ N(0, 0.5^2); init.weights ~
    N(0, 1), so the heads start somewhere particular rather than uniformly everywhere: from a
    uniform w_0 and a uniform memory, no shift or sharpening can break the symmetry.
    """
    rng = np.random.default_rng(config.seed)
    c, layout = config, config.layout
    C, M, R = c.controller_size, c.memory_dim, c.read_heads
    controller_in = c.input_size + R * M + (C if c.controller == "lstm" else 0)
    gates = 4 * C if c.controller == "lstm" else C

    def weights(fan_in: int, fan_out: int):
        return rng.normal(0.0, 1.0 / math.sqrt(fan_in), size=(fan_in, fan_out))

    params = {
        "controller.W": weights(controller_in, gates),
        "controller.b": np.zeros(gates),
        "heads.W": weights(C, layout.size),
        "heads.b": np.zeros(layout.size),
        "output.W": weights(C + R * M, c.outputs),
        "output.b": np.zeros(c.outputs),
        "init.read": rng.normal(0.0, 0.5, size=(R, M)),
        "init.weights": rng.normal(0.0, 1.0, size=(layout.num_heads, c.memory_size)),
    }
    if c.controller == "lstm":
        params["controller.b"][C : 2 * C] = 1.0  # forget gate
    if c.memory_init == "learned":
        params["init.memory"] = rng.normal(0.0, 1.0 / math.sqrt(M), size=(c.memory_size, M))
    return {k: v.astype(c.dtype) for k, v in params.items()}


def fixed_initial_memory(config: NTMConfig):
    """M_0 when it is not learned: the constant 1e-6, or a fixed draw from the seed."""
    shape = (config.memory_size, config.memory_dim)
    if config.memory_init == "constant":
        return np.full(shape, MEMORY_INIT_CONSTANT, dtype=config.dtype)
    if config.memory_init == "random":
        # its own stream, so that changing memory_init leaves the other parameters as they were
        rng = np.random.default_rng([config.seed, 1])
        return rng.normal(0.0, 0.5, size=shape).astype(config.dtype)
    return None
