"""Optimizers as objects that keep their state: SGD, RMSProp and Adam; and gradient clipping.

The update rules themselves, and the configs they read, are ``ntm_numpy/optim.py``
(``sgd_update``, ``rmsprop_update``, ``adam_update``); this module is what a training run needs
around them: state created on the first step, kept across steps, saved with a checkpoint and
restored from one.

Parameters and gradients are ``dict[str, array]`` with the same keys (``"controller.W"``, ...).
An optimizer's ``step(params, grads)`` changes the parameter arrays *in place* (``p -= ...``), so
whoever holds the dict (the model) sees the new values. Its state (velocities, moments) is one
dict per slot with the keys of ``params``, created as zeros like the parameters on the first
step, so it lives on the device of the parameters.

A model's parameters and gradients are ``FlatArrays`` (``flat_arrays.py``): named views into
one flat array each. The state is then made the same way, and a step applies the rule once, to
the flat arrays (``p = params.flat``, ``g = grads.flat``, ``m = state["m"].flat``, ...):
every rule is elementwise, so the whole block at once is every parameter at once. Clipping
likewise works on ``grads.flat``. Plain dicts are updated one parameter at a time, by the same
rule.

Clipping is separate and pure: the trainer calls ``clip_by_value`` (the NTM paper clips every
element to [-10, 10]) or ``clip_by_global_norm`` (Collier & Beel clip the norm to 50) between
the backward pass and ``step``, never inside the loss, so a gradient check sees the true
gradient.

This module is in the compute path: it never imports numpy, it takes ``xp = array_module(p)``
from the arrays, and it never reads a device value back to the host.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from dataclasses import asdict
from types import MappingProxyType
from typing import Any, ClassVar

from ..backend import array_module
from ..flat_arrays import FlatArrays, flat_of
from ..optim import (
    AdamConfig,
    RMSPropConfig,
    SGDConfig,
    adam_update,
    as_finite_real,
    config_from_dict,
    rmsprop_update,
    sgd_update,
)

Array = Any  # a numpy.ndarray or cupy.ndarray; never converted to a Python number here

STATE_KEYS = ("name", "config", "steps", "state")  # the keys of Optimizer.state_dict()


# ---------------------------------------------------------------------------------------------
# Checks on the dicts
# ---------------------------------------------------------------------------------------------


def check_same_keys(
    params: Mapping[str, Array], others: Mapping[str, Array], *, what: str = "grads"
) -> None:
    """Raise ``ValueError`` unless ``others`` has exactly the keys and shapes of ``params``.

    The message lists the keys missing from ``others`` and the keys it has in excess. Only
    shapes (metadata) are compared, so nothing is read from the device.
    """
    if flat_of(params, others) is not None:  # one layout: the same names and shapes
        return
    missing = sorted(set(params) - set(others))
    extra = sorted(set(others) - set(params))
    if missing or extra:
        raise ValueError(
            f"{what} must have the keys of params: missing from {what}: {missing}; "
            f"extra in {what}: {extra}"
        )
    for key, p in params.items():
        shape = getattr(others[key], "shape", None)
        if shape != p.shape:
            raise ValueError(
                f"{what}[{key!r}] must have the shape of params[{key!r}], {tuple(p.shape)}, "
                f"got {shape if shape is None else tuple(shape)}"
            )


# ---------------------------------------------------------------------------------------------
# Optimizers
# ---------------------------------------------------------------------------------------------


class Optimizer:
    """What SGD, RMSProp and Adam share: lazy state, in-place steps, state_dict.

    ``opt.state[slot][key]`` is the array of state ``slot`` (``"m"``, ``"v"``, ...) for
    parameter ``key``; ``opt.steps`` counts the calls to ``step``. A subclass names its slots
    (``slot_names``) and applies its rule to one array (``_update``): one parameter, or the
    flat array of all of them.
    """

    name: ClassVar[str]
    config_type: ClassVar[type]

    def __init__(self, config: Any = None) -> None:
        if config is None:
            config = self.config_type()
        if not isinstance(config, self.config_type):
            raise TypeError(
                f"{type(self).__name__} takes a {self.config_type.__name__}, "
                f"got {type(config).__name__}"
            )
        self.config = config
        self.steps = 0
        self.state: dict[str, dict[str, Array]] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r}, steps={self.steps})"

    @staticmethod
    def slot_names(config: Any) -> tuple[str, ...]:
        """The per-parameter state arrays this optimizer keeps under ``config``."""
        raise NotImplementedError

    def _update(self, p: Array, g: Array, slots: dict[str, Array], *, t: int) -> None:
        """Apply the rule to one array, in place; ``slots`` maps slot name to array."""
        raise NotImplementedError

    def step(self, params: Mapping[str, Array], grads: Mapping[str, Array]) -> None:
        """Update every array of ``params`` in place from ``grads``; ``steps += 1``.

        ``grads`` must have the keys and shapes of ``params`` (else ``ValueError``). The state
        is created on the first step as zeros like the parameters; later steps require the
        same keys as that first step. Where ``params``, ``grads`` and the state are
        ``FlatArrays`` of one layout, the rule runs once, on their flat arrays.
        """
        check_same_keys(params, grads, what="grads")
        slots = self.slot_names(self.config)
        if slots and not self.state:
            self.state = {slot: _zeros_like(params) for slot in slots}
        for slot in slots:
            self._check_state_slot(params, slot)
        self.steps += 1
        flat = flat_of(params, grads, *(self.state[s] for s in slots))
        if flat is not None:  # the whole block at once: the rules are elementwise
            p, g, *state = flat
            self._update(p, g, dict(zip(slots, state, strict=True)), t=self.steps)
            return
        for key, p in params.items():
            self._update(p, grads[key], {s: self.state[s][key] for s in slots}, t=self.steps)

    def _check_state_slot(self, params: Mapping[str, Array], slot: str) -> None:
        """Raise ``ValueError`` unless ``state[slot]`` matches ``params`` in keys, shape, device.

        A state of other arrays (loaded from a checkpoint) is put into one flat array of the
        parameters' layout where the parameters are ``FlatArrays``.
        """
        arrays = self.state[slot]
        if flat_of(params, arrays) is not None:
            if array_module(arrays.flat) is not array_module(params.flat):
                raise ValueError(
                    f"optimizer state {slot!r} is a {type(arrays.flat).__name__} but the "
                    f"parameters are a {type(params.flat).__name__}; move the state with "
                    "map_arrays"
                )
            return
        check_same_keys(params, arrays, what=f"optimizer state {slot!r}")
        for key, p in params.items():
            if array_module(arrays[key]) is not array_module(p):
                raise ValueError(
                    f"optimizer state {slot!r}[{key!r}] is a {type(arrays[key]).__name__} but "
                    f"the parameter is a {type(p).__name__}; move the state with map_arrays"
                )
        if isinstance(params, FlatArrays):
            self.state[slot] = FlatArrays.from_arrays({key: arrays[key] for key in params})

    def state_dict(self) -> dict[str, Any]:
        """A snapshot of the optimizer, to save with a checkpoint::

            {"name": "adam",                                # key of OPTIMIZERS
             "config": {"lr": 0.001, "beta1": 0.9, ...},    # asdict(config): plain JSON
             "steps": 12,                                   # calls to step so far
             "state": {"m.controller.W": array, ...}}       # "<slot>.<parameter key>"

        The arrays are copies on their own device; the state is empty before the first step.
        """
        flat = {
            f"{slot}.{key}": a.copy()
            for slot, arrays in self.state.items()
            for key, a in arrays.items()
        }
        return {
            "name": self.name,
            "config": asdict(self.config),
            "steps": self.steps,
            "state": flat,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore config, step count and state arrays from ``state_dict()``'s format.

        Everything is validated before anything changes (``ValueError`` naming the field). The
        arrays are copied and stay on their device: move them with ``map_arrays`` if the
        parameters live elsewhere.
        """
        if not isinstance(state, Mapping):
            raise ValueError(f"state must be a dict, got {type(state).__name__}")
        missing = [k for k in STATE_KEYS if k not in state]
        extra = sorted(set(state) - set(STATE_KEYS))
        if missing or extra:
            raise ValueError(
                f"state must have the keys {list(STATE_KEYS)}: missing {missing}, extra {extra}"
            )
        if state["name"] != self.name:
            raise ValueError(
                f"state['name'] is {state['name']!r} but this optimizer is {self.name!r}; "
                "use optimizer_from_state to build the right one"
            )
        config = config_from_dict(self.config_type, state["config"])
        steps = _check_steps(state["steps"])
        arrays = _unflatten_state(state["state"], slots=self.slot_names(config), steps=steps)
        self.config, self.steps, self.state = config, steps, arrays

    def map_arrays(self, fn: Callable[[Array], Array]) -> None:
        """Replace every state array ``a`` by ``fn(a)``, e.g. ``backend.to_numpy`` to move the
        state to the host or ``cupy.asarray`` to move it to the GPU."""
        self.state = {
            slot: arrays.map(fn)
            if isinstance(arrays, FlatArrays)
            else {key: fn(a) for key, a in arrays.items()}
            for slot, arrays in self.state.items()
        }


def _zeros_like(params: Mapping[str, Array]) -> Mapping[str, Array]:
    """Zeros like every parameter: one flat array of their layout where they have one."""
    if isinstance(params, FlatArrays):
        return FlatArrays.zeros_like(params)
    return {key: array_module(p).zeros_like(p) for key, p in params.items()}


def _check_steps(steps: Any) -> int:
    """``steps`` as an ``int`` >= 0, or a ``ValueError``."""
    if isinstance(steps, numbers.Integral) and not isinstance(steps, bool) and steps >= 0:
        return int(steps)
    raise ValueError(f"state['steps'] must be an integer >= 0, got {steps!r}")


def _unflatten_state(
    flat: Any, *, slots: tuple[str, ...], steps: int
) -> dict[str, dict[str, Array]]:
    """``{"m.controller.W": a, ...}`` -> ``{"m": {"controller.W": copy of a}, ...}``, validated.

    Every slot must hold the same parameter keys with the same shapes; the state is empty
    exactly when ``steps == 0`` (or the optimizer keeps no state).
    """
    if not isinstance(flat, Mapping):
        raise ValueError(f"state['state'] must be a dict, got {type(flat).__name__}")
    nested: dict[str, dict[str, Array]] = {}
    for name, a in flat.items():
        slot, _, key = str(name).partition(".")
        if slot not in slots or not key:
            raise ValueError(
                f"state['state'] key {name!r} must be '<slot>.<parameter>' with slot one of "
                f"{list(slots)}"
            )
        if not hasattr(a, "shape") or not hasattr(a, "copy"):
            raise ValueError(f"state['state'][{name!r}] must be an array, got {type(a).__name__}")
        nested.setdefault(slot, {})[key] = a.copy()
    if steps == 0 and nested:
        raise ValueError("state['state'] must be empty when state['steps'] is 0")
    if steps > 0 and slots and not nested:
        raise ValueError(
            f"state['state'] is empty but steps={steps}: the slots {list(slots)} are missing"
        )
    if nested:
        first = nested.get(slots[0], {})
        for slot in slots:
            check_same_keys(first, nested.get(slot, {}), what=f"state['state'] slot {slot!r}")
    return nested


class SGD(Optimizer):
    """SGD with optional momentum; the rule is ``sgd_update``."""

    name = "sgd"
    config_type = SGDConfig

    @staticmethod
    def slot_names(config: SGDConfig) -> tuple[str, ...]:
        """``("velocity",)`` with momentum, nothing without."""
        return ("velocity",) if config.momentum > 0 else ()

    def _update(self, p: Array, g: Array, slots: dict[str, Array], *, t: int) -> None:
        sgd_update(p, g, slots.get("velocity"), config=self.config)


class RMSProp(Optimizer):
    """Graves' RMSProp with momentum; the rule is ``rmsprop_update``."""

    name = "rmsprop"
    config_type = RMSPropConfig

    @staticmethod
    def slot_names(config: RMSPropConfig) -> tuple[str, ...]:
        """Running mean of g^2, running mean of g, and the last step."""
        return ("n", "gbar", "delta")

    def _update(self, p: Array, g: Array, slots: dict[str, Array], *, t: int) -> None:
        rmsprop_update(p, g, slots["n"], slots["gbar"], slots["delta"], config=self.config)


class Adam(Optimizer):
    """Adam with bias correction; the rule is ``adam_update``."""

    name = "adam"
    config_type = AdamConfig

    @staticmethod
    def slot_names(config: AdamConfig) -> tuple[str, ...]:
        """First and second moments."""
        return ("m", "v")

    def _update(self, p: Array, g: Array, slots: dict[str, Array], *, t: int) -> None:
        adam_update(p, g, slots["m"], slots["v"], config=self.config, t=t)


OPTIMIZERS: Mapping[str, type[Optimizer]] = MappingProxyType(
    {"sgd": SGD, "rmsprop": RMSProp, "adam": Adam}
)


def _optimizer_class(name: Any) -> type[Optimizer]:
    """The class registered under ``name`` (case-insensitive), or a ``ValueError``."""
    cls = OPTIMIZERS.get(name.lower()) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(f"optimizer name must be one of {list(OPTIMIZERS)}, got {name!r}")
    return cls


def make_optimizer(name: str, **options: Any) -> Optimizer:
    """``make_optimizer("adam", lr=3e-3)`` is ``Adam(AdamConfig(lr=3e-3))``.

    An unknown name, an unknown option or a bad value is a ``ValueError`` that names it.
    """
    cls = _optimizer_class(name)
    return cls(config_from_dict(cls.config_type, options))


def optimizer_from_state(state: Mapping[str, Any]) -> Optimizer:
    """Rebuild the optimizer that ``state_dict()`` described: right class, config, state."""
    if not isinstance(state, Mapping) or "name" not in state:
        raise ValueError("state must be a dict from Optimizer.state_dict() with a 'name' key")
    optimizer = _optimizer_class(state["name"])()
    optimizer.load_state_dict(state)
    return optimizer


# ---------------------------------------------------------------------------------------------
# Clipping: pure functions, applied by the trainer between backward and step
# ---------------------------------------------------------------------------------------------


def global_norm(grads: Mapping[str, Array]) -> Array:
    """``norm = sqrt(sum_k sum_i g_k[i]^2)`` over every array, as a 0-d float64 array on their
    device.

    The squares are summed in float64: in float32 they overflow to inf once an element passes
    ~1e19, long before the gradients themselves do, and clipping by an infinite norm would zero
    a gradient that is merely large. An empty dict has norm 0.
    """
    xp = array_module(*grads.values())
    flat = flat_of(grads)
    if flat is not None:  # one block: one sum (NumPy's pairwise sum; no BLAS threads to wake)
        g64 = flat[0].astype("float64", copy=False)
        return xp.asarray(xp.sqrt(xp.sum(g64 * g64)))
    squares = []
    for g in grads.values():
        g64 = g.astype("float64")
        squares.append(xp.sum(g64 * g64))
    if not squares:
        return xp.zeros(())
    total = squares[0]
    for s in squares[1:]:
        total = total + s
    return xp.asarray(xp.sqrt(total))  # numpy would give a scalar; keep a 0-d array


def clip_by_global_norm(
    grads: Mapping[str, Array], max_norm: float
) -> tuple[Mapping[str, Array], Array]:
    """Scale every gradient by one factor so that their global norm is at most ``max_norm``::

        norm  = sqrt(sum_k sum_i g_k[i]^2)
        scale = min(1, max_norm / (norm + 1e-6))
        g_k'  = scale * g_k

    Returns ``(new arrays, norm)``, the arrays a ``FlatArrays`` for a ``FlatArrays``; ``norm``
    is a 0-d array (``float(norm)`` when you need a number, outside the hot path). The scale is
    computed on the device with ``xp.minimum``, so there is no host branch on a device value; a
    NaN or inf norm propagates into the result. The input and its arrays are not changed.
    """
    _check_positive("max_norm", max_norm)
    xp = array_module(*grads.values())
    norm = global_norm(grads)
    scale = xp.minimum(1.0, max_norm / (norm + 1e-6))

    def scaled(g: Array) -> Array:
        return g * (scale if scale.dtype == g.dtype else scale.astype(g.dtype))

    if isinstance(grads, FlatArrays):
        return grads.map(scaled), norm
    return {key: scaled(g) for key, g in grads.items()}, norm


def clip_by_value(grads: Mapping[str, Array], limit: float = 10.0) -> Mapping[str, Array]:
    """Clip every element to ``[-limit, limit]``: ``g' = min(max(g, -limit), limit)``.

    The NTM paper clips to [-10, 10]. Returns new arrays (a ``FlatArrays`` for a ``FlatArrays``);
    the input is not changed.
    """
    _check_positive("limit", limit)

    def clipped(g: Array) -> Array:
        return array_module(g).clip(g, -limit, limit)

    if isinstance(grads, FlatArrays):
        return grads.map(clipped)
    return {key: clipped(g) for key, g in grads.items()}


def _check_positive(name: str, value: Any) -> None:
    """Raise ``ValueError`` unless ``value`` is a finite Python-side number > 0."""
    number = as_finite_real(value)
    if number is None or number <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
