"""The optimizers' update rules: SGD, RMSProp (Graves' form) and Adam, each on one array.

A rule changes a parameter array ``p`` and its state arrays (a velocity, running means) *in
place*, from the gradient ``g``. Every rule is elementwise, so one array may be one parameter or
the flat array of all of them at once. The objects that keep the state across steps, create it,
save and restore it, and apply a rule to a model's parameters (``SGD``, ``RMSProp``, ``Adam``,
``make_optimizer``), and gradient clipping, are the training's machinery:
``training/optimizers.py``.

Symbols, for one parameter array ``p`` with gradient ``g`` at step ``t = 1, 2, ...`` (every
operation is elementwise)::

    lr      learning rate (Graves' gimel)
    mu      SGD's momentum; v its velocity
    decay   RMSProp's decay (Graves' aleph); n running mean of g^2, gbar running mean of g
    beth    RMSProp's momentum (``config.momentum``); delta the last step taken
    b1, b2  Adam's beta1, beta2; m running mean of g, v running mean of g^2
    eps     keeps a denominator away from zero (Graves' daleth)

This module is in the compute path: it never imports numpy, it takes ``xp = array_module(p)``
from the arrays, and it never reads a device value back to the host.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Any

from .backend import array_module

Array = Any  # a numpy.ndarray or cupy.ndarray; never converted to a Python number here


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------


def as_finite_real(value: Any) -> float | None:
    """``value`` as a Python float if it is a finite real number (not a bool), else None."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        return None
    return number if math.isfinite(number) else None


def _check_real(config: Any, name: str, expected: str, ok: Callable[[float], bool]) -> None:
    """Raise ``ValueError`` unless ``config.<name>`` is a finite real with ``ok(value)``.

    The field is stored back as a Python ``float``, so ``asdict(config)`` is plain JSON.
    """
    value = getattr(config, name)
    number = as_finite_real(value)
    if number is None or not ok(number):
        raise ValueError(f"{type(config).__name__}.{name} must be {expected}, got {value!r}")
    object.__setattr__(config, name, number)


def _check_bool(config: Any, name: str) -> None:
    """Raise ``ValueError`` unless ``config.<name>`` is ``True`` or ``False``."""
    value = getattr(config, name)
    if not isinstance(value, bool):
        raise ValueError(f"{type(config).__name__}.{name} must be True or False, got {value!r}")


@dataclass(frozen=True)
class SGDConfig:
    """Stochastic gradient descent, with optional classical or Nesterov momentum."""

    lr: float = 1e-2  # lr: step size, > 0
    momentum: float = 0.9  # mu in [0, 1): fraction of the last velocity kept; 0 is plain SGD
    nesterov: bool = False  # step along mu*v - lr*g (look-ahead) instead of v; needs mu > 0

    def __post_init__(self) -> None:
        _check_real(self, "lr", "a finite number > 0", lambda x: x > 0)
        _check_real(self, "momentum", "a number in [0, 1)", lambda x: 0 <= x < 1)
        _check_bool(self, "nesterov")
        if self.nesterov and self.momentum == 0:
            raise ValueError("SGDConfig.nesterov=True needs momentum in (0, 1), got momentum=0.0")


@dataclass(frozen=True)
class RMSPropConfig:
    """RMSProp with momentum, as Graves (2013) trains the NTM's ancestors (eq. 38-41)."""

    lr: float = 1e-4  # gimel: step size, > 0
    decay: float = 0.95  # aleph in [0, 1): how slowly the running means n and gbar forget
    momentum: float = 0.9  # beth in [0, 1): fraction of the last step delta kept
    eps: float = 1e-4  # daleth: added under the square root, > 0

    def __post_init__(self) -> None:
        _check_real(self, "lr", "a finite number > 0", lambda x: x > 0)
        _check_real(self, "decay", "a number in [0, 1)", lambda x: 0 <= x < 1)
        _check_real(self, "momentum", "a number in [0, 1)", lambda x: 0 <= x < 1)
        _check_real(self, "eps", "a finite number > 0", lambda x: x > 0)


@dataclass(frozen=True)
class AdamConfig:
    """Adam (Kingma & Ba 2015) with bias correction; Collier & Beel train the NTM with it."""

    lr: float = 1e-3  # lr: step size, > 0
    beta1: float = 0.9  # b1 in [0, 1): decay of the running mean m of g
    beta2: float = 0.999  # b2 in [0, 1): decay of the running mean v of g^2
    eps: float = 1e-8  # added to sqrt(vhat) in the denominator; > 0

    def __post_init__(self) -> None:
        _check_real(self, "lr", "a finite number > 0", lambda x: x > 0)
        _check_real(self, "beta1", "a number in [0, 1)", lambda x: 0 <= x < 1)
        _check_real(self, "beta2", "a number in [0, 1)", lambda x: 0 <= x < 1)
        _check_real(self, "eps", "a finite number > 0", lambda x: x > 0)


OPTIMIZER_CONFIGS: Mapping[str, type] = MappingProxyType(
    {"sgd": SGDConfig, "rmsprop": RMSPropConfig, "adam": AdamConfig}
)
"""Each rule's name (the command line's ``--optimizer``) and its config."""


def config_from_dict(config_type: type, options: Mapping[str, Any]) -> Any:
    """Build ``config_type(**options)``, naming any unknown option in a ``ValueError``.

    Missing options take the dataclass defaults; values are validated by the config itself.
    """
    if not isinstance(options, Mapping):
        raise ValueError(
            f"{config_type.__name__} options must be a dict, got {type(options).__name__}"
        )
    known = [f.name for f in fields(config_type)]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValueError(
            f"unknown {config_type.__name__} option(s) {unknown}; expected some of {known}"
        )
    return config_type(**options)


# ---------------------------------------------------------------------------------------------
# One parameter's update: the rules themselves. Each mutates p and its state in place.
# ---------------------------------------------------------------------------------------------


def sgd_update(p: Array, g: Array, velocity: Array | None, *, config: SGDConfig) -> None:
    """One SGD step on one parameter, in place.

    Plain (``velocity is None``, momentum 0)::

        p = p - lr * g

    Classical momentum::

        v = mu * v - lr * g
        p = p + v

    Nesterov momentum (the look-ahead form of Sutskever et al. 2013)::

        v = mu * v - lr * g
        p = p + mu * v - lr * g
    """
    lr, mu = config.lr, config.momentum
    if velocity is None:
        p -= lr * g
        return
    # v = mu * v - lr * g
    velocity *= mu
    velocity -= lr * g
    if config.nesterov:
        # p = p + mu * v - lr * g
        p += mu * velocity - lr * g
    else:
        # p = p + v
        p += velocity


def rmsprop_update(
    p: Array, g: Array, n: Array, gbar: Array, delta: Array, *, config: RMSPropConfig
) -> None:
    """One RMSProp step on one parameter, in place (Graves 2013, eq. 38-41)::

        n     = decay * n    + (1 - decay) * g^2                      (38)
        gbar  = decay * gbar + (1 - decay) * g                        (39)
        delta = beth * delta - lr * g / sqrt(n - gbar^2 + eps)        (40)
        p     = p + delta                                             (41)

    ``n - gbar^2`` is a running variance of ``g`` (never below zero in exact arithmetic), so the
    step is the gradient divided by its recent spread, not by its recent size as in plain
    RMSProp. ``decay`` is Graves' aleph, ``config.momentum`` his beth.
    """
    xp = array_module(p)
    decay, beth, lr, eps = config.decay, config.momentum, config.lr, config.eps
    # n = decay * n + (1 - decay) * g^2
    n *= decay
    n += (1 - decay) * (g * g)
    # gbar = decay * gbar + (1 - decay) * g
    gbar *= decay
    gbar += (1 - decay) * g
    # delta = beth * delta - lr * g / sqrt(n - gbar^2 + eps)
    delta *= beth
    delta -= lr * g / xp.sqrt(n - gbar * gbar + eps)
    # p = p + delta
    p += delta


def adam_update(p: Array, g: Array, m: Array, v: Array, *, config: AdamConfig, t: int) -> None:
    """One Adam step on one parameter, in place; ``t`` counts steps from 1::

        m    = b1 * m + (1 - b1) * g
        v    = b2 * v + (1 - b2) * g^2
        mhat = m / (1 - b1^t)
        vhat = v / (1 - b2^t)
        p    = p - lr * mhat / (sqrt(vhat) + eps)

    The bias correction undoes the zero start of m and v: on the first step ``mhat = g`` and
    ``vhat = g^2``, so every element moves by ``lr * sign(g)`` (less a hair for eps).
    ``1 - b^t`` is a Python float, so nothing is read back from the device.
    """
    xp = array_module(p)
    b1, b2, lr, eps = config.beta1, config.beta2, config.lr, config.eps
    # m = b1 * m + (1 - b1) * g
    m *= b1
    m += (1 - b1) * g
    # v = b2 * v + (1 - b2) * g^2
    v *= b2
    v += (1 - b2) * (g * g)
    # mhat = m / (1 - b1^t); vhat = v / (1 - b2^t)
    mhat = m / (1 - b1**t)
    vhat = v / (1 - b2**t)
    # p = p - lr * mhat / (sqrt(vhat) + eps)
    p -= lr * mhat / (xp.sqrt(vhat) + eps)
