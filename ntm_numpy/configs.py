"""Every configuration in one place: the NTM's, the LSTM baseline's and a training run's, their
shared validators, and the registry of model types.

A config is a frozen dataclass with commented defaults. Its class variables say how its fields
are checked, so that ``__post_init__`` and the command line read the same declaration:

    POSITIVE_INTS     integers >= 1 (None too, where the annotation allows it)
    POSITIVE_NUMBERS  finite numbers > 0 (None too, where the annotation allows it)
    CHOICES           field -> the values it may take

Every bad value is a ``ConfigError`` (a ``ValueError``) that names the field and what was
expected; the command line reports it on one line and lets every other exception through.

This module sits below the models, the trainer and the checkpoints: it imports none of them.
The models register themselves here (``register_model``) where they are defined.
"""

from __future__ import annotations

import json
import math
import numbers
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

from . import backend
from .controllers import CONTROLLERS
from .heads import HeadLayout
from .optim import OPTIMIZER_CONFIGS, config_from_dict
from .tasks import make_task


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message names it."""


class ResumeMismatchError(ConfigError):
    """A run asked to continue a checkpoint written by a run with other settings."""


DTYPES = ("float32", "float64")
MEMORY_INITS = ("constant", "learned", "random")
DEVICES = ("cpu", "gpu")


# --- the shared validators -------------------------------------------------------------------


def positive_int(name: str, value: Any) -> int:
    """``value`` as an int, or a ``ConfigError`` naming ``name`` unless it is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


AUTO = "auto"  # a count the run chooses for itself (workers, BLAS threads): training/threads.py


def count_or_auto(name: str, value: Any) -> int | str:
    """``value`` if it is a positive integer or "auto"; a ValueError naming ``name`` otherwise."""
    if value == AUTO:
        return AUTO
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer or 'auto', got {value!r}")
    return value


def seed_value(name: str, value: Any) -> int:
    """``value`` as an int, or a ``ConfigError`` unless it is an integer >= 0 (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ConfigError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def positive_number(name: str, value: Any) -> float:
    """``value``, or a ``ConfigError`` unless it is a finite real number > 0 (not a bool)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not (ok and math.isfinite(value) and value > 0):
        raise ConfigError(f"{name} must be a positive number, got {value!r}")
    return value


def one_of(name: str, value: Any, choices: Iterable[str]) -> Any:
    """``value``, or a ``ConfigError`` unless it is one of ``choices``."""
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(f"{name} must be one of {choices}, got {value!r}")
    return value


def check_fields(config: Any) -> None:
    """Check (and store back as plain ints, for JSON) the fields that ``config``'s class
    declares in ``POSITIVE_INTS``, ``POSITIVE_NUMBERS`` and ``CHOICES``, and its ``seed``."""
    optional = {f.name for f in fields(config) if "None" in str(f.type)}
    for name in getattr(config, "POSITIVE_INTS", ()):
        value = getattr(config, name)
        if not (value is None and name in optional):
            object.__setattr__(config, name, positive_int(name, value))
    for name in getattr(config, "POSITIVE_NUMBERS", ()):
        value = getattr(config, name)
        if not (value is None and name in optional):
            positive_number(name, value)
    for name, choices in getattr(config, "CHOICES", {}).items():
        one_of(name, getattr(config, name), choices)
    object.__setattr__(config, "seed", seed_value("seed", config.seed))


# --- sizes, before anything is allocated -----------------------------------------------------


def physical_memory_bytes() -> int:
    """This machine's memory in bytes (16 GiB where the system does not say)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return 16 * 2**30


def estimate_bytes(
    config: Any, *, batch_size: int = 1, steps: int = 1, training: bool = False
) -> int:
    """About how many bytes a model of ``config`` needs to run ``steps`` steps of a batch of
    ``batch_size`` sequences: its parameters (with ``training``, four times: parameters,
    gradients and two optimizer moments), what it holds besides them, and per step and
    sequence what the forward keeps for the backward (``config.activation_elements()``).
    Python integers: no size overflows. An estimate, to refuse what cannot fit, not to budget
    what can.
    """
    itemsize = 4 if config.dtype == "float32" else 8
    parameters = sum(math.prod(shape) for shape in config.parameter_shapes().values())
    fixed, per_step = config.activation_elements()
    copies = 4 if training else 1
    return itemsize * (copies * parameters + fixed + batch_size * steps * per_step)


def check_fits_in_memory(config: Any, what: str, **sizes: int) -> None:
    """Raise a ``ConfigError`` that starts with ``what`` (the options to change) when
    ``estimate_bytes(config, **sizes)`` is more than this machine's whole memory: such a
    model or step could only end in a ``MemoryError`` (or the system killing the process)."""
    needed, available = estimate_bytes(config, **sizes), physical_memory_bytes()
    if needed > available:
        raise ConfigError(
            f"{what}: this needs about {needed / 2**30:.3g} GiB, more than this machine's "
            f"{available / 2**30:.3g} GiB of memory; choose smaller sizes"
        )


def parameter_shapes(config: Any) -> dict[str, tuple[int, ...]]:
    """The shape of every parameter of a model of ``config`` (an ``NTMConfig`` or an
    ``LSTMConfig``), without building it."""
    return config.parameter_shapes()


# --- the models ------------------------------------------------------------------------------


@dataclass(frozen=True)
class NTMConfig:
    """Everything that defines an NTM's shape and initialisation. Keyword-only, validated."""

    input_size: int  # width of x_t
    output_size: int | None = None  # width of y_t; None means input_size
    memory_size: int = 128  # N, memory rows
    memory_dim: int = 32  # M, row width
    controller_size: int = 256  # C
    num_heads: int = 1  # one read and one write head each, unless overridden below
    num_read_heads: int | None = None  # R; None means num_heads
    num_write_heads: int | None = None  # W; None means num_heads
    shift_range: int = 1  # S: the heads shift by -S..S rows
    controller: str = "lstm"  # a name in controllers.CONTROLLERS: "lstm", "feedforward" (tanh)
    memory_init: str = "constant"  # "constant" (1e-6), "learned" (a parameter), "random" (fixed)
    dtype: str = "float64"  # "float32" or "float64"
    seed: int = 0  # initial parameters (and a "random" initial memory)

    POSITIVE_INTS: ClassVar = (
        "input_size",
        "output_size",
        "memory_size",
        "memory_dim",
        "controller_size",
        "num_heads",
        "num_read_heads",
        "num_write_heads",
        "shift_range",
    )
    CHOICES: ClassVar = {"controller": CONTROLLERS, "memory_init": MEMORY_INITS, "dtype": DTYPES}

    def __post_init__(self) -> None:
        check_fields(self)
        check_fits_in_memory(  # before anything of that size is allocated
            self,
            f"an NTM of memory_size={self.memory_size}, memory_dim={self.memory_dim}, "
            f"controller_size={self.controller_size}",
        )

    @property
    def outputs(self) -> int:
        return self.input_size if self.output_size is None else self.output_size

    @property
    def read_heads(self) -> int:
        return self.num_heads if self.num_read_heads is None else self.num_read_heads

    @property
    def write_heads(self) -> int:
        return self.num_heads if self.num_write_heads is None else self.num_write_heads

    @property
    def layout(self) -> HeadLayout:
        return HeadLayout(self.write_heads, self.read_heads, self.memory_dim, self.shift_range)

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every parameter's shape (``NTM``'s docstring has the table; H = W + R heads)."""
        C, M, R, N = self.controller_size, self.memory_dim, self.read_heads, self.memory_size
        P = self.layout.size
        shapes = {  # the controller sees [x_t, r_{t-1}] (and maybe h_{t-1}: its own business)
            **CONTROLLERS[self.controller].parameter_shapes(self.input_size + R * M, C),
            "heads.W": (C, P),
            "heads.b": (P,),
            "output.W": (C + R * M, self.outputs),
            "output.b": (self.outputs,),
            "init.read": (R, M),
            "init.weights": (self.layout.num_heads, N),
        }
        if self.memory_init == "learned":
            shapes["init.memory"] = (N, M)
        return shapes

    def activation_elements(self) -> tuple[int, int]:
        """(held besides the parameters, kept per step and sequence), in elements: a memory
        M_0 that is not a parameter; ``6 N M`` (memories before and after the write, the
        erase and add terms, the gradient carried back) ``+ 16 H N`` (four addressing stages
        and their inputs, per head) ``+ 12 C``."""
        N, M, H = self.memory_size, self.memory_dim, self.layout.num_heads
        return N * M, 6 * N * M + 16 * H * N + 12 * self.controller_size

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class LSTMConfig:
    """Everything that defines an LSTM baseline's shape and initialisation. Validated."""

    input_size: int  # width of x_t
    output_size: int | None = None  # O, width of y_t; None means input_size
    hidden_size: int = 256  # H, units per layer (the paper's copy baseline: 256)
    num_layers: int = 3  # L, stacked layers (the paper: 3)
    dtype: str = "float64"  # "float32" or "float64"
    seed: int = 0  # initial parameters

    POSITIVE_INTS: ClassVar = ("input_size", "output_size", "hidden_size", "num_layers")
    CHOICES: ClassVar = {"dtype": DTYPES}

    def __post_init__(self) -> None:
        check_fields(self)

    @property
    def outputs(self) -> int:
        return self.input_size if self.output_size is None else self.output_size

    def layer_input_size(self, layer: int) -> int:
        """D_l: x_t feeds layer 0, h^{l-1}_t every layer above it."""
        return self.input_size if layer == 0 else self.hidden_size

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every parameter's shape (``LSTMModel``'s docstring has the table)."""
        H, O = self.hidden_size, self.outputs
        shapes: dict[str, tuple[int, ...]] = {}
        for layer in range(self.num_layers):
            shapes[f"layer{layer}.W"] = (self.layer_input_size(layer) + H, 4 * H)
            shapes[f"layer{layer}.b"] = (4 * H,)
        return {**shapes, "output.W": (H, O), "output.b": (O,)}

    def activation_elements(self) -> tuple[int, int]:
        """(held besides the parameters, kept per step and sequence), in elements: nothing;
        ``L (12 H)`` (gates, cells, hidden states)."""
        return 0, self.num_layers * 12 * self.hidden_size

    def to_dict(self) -> dict:
        return asdict(self)


# The one registry of model types: name -> model class. Each model class registers itself where
# it is defined (``@register_model``), with ``model_type`` (its name here and in checkpoints) and
# ``config_class``; ``ntm_numpy/__init__.py`` imports every model module, so that the registry
# is full as soon as the package is imported. Training, checkpoints and the command line read it.
MODEL_TYPES: dict[str, type] = {}


def register_model(cls: type) -> type:
    """Class decorator: ``cls`` becomes trainable, saveable and a ``--model`` choice under
    ``cls.model_type``, configured by ``cls.config_class``."""
    name = getattr(cls, "model_type", "")
    if not (isinstance(name, str) and name) or not isinstance(cls.config_class, type):
        raise TypeError(f"{cls.__name__} needs a model_type name and a config_class to register")
    MODEL_TYPES[name] = cls
    return cls


def model_class(name: Any) -> type:
    """The model class registered under ``name``, or a ``ConfigError`` naming the choices."""
    if not isinstance(name, str) or name not in MODEL_TYPES:
        raise ConfigError(f"model must be one of {tuple(MODEL_TYPES)}, got {name!r}")
    return MODEL_TYPES[name]


def model_config(name: str, options: Mapping[str, Any]) -> Any:
    """``name``'s config class built from ``options``; an unknown option is a ``ConfigError``
    that lists the known ones."""
    config_class = model_class(name).config_class
    known = [f.name for f in fields(config_class)]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ConfigError(f"unknown {name} model option(s) {unknown}; expected some of {known}")
    return config_class(**options)


# The demo's NTM: the paper's copy configuration (memory 128 x 20, controller of 100 units, one
# read and one write head), with the choices that converged fastest here (README, "Speed"):
# a feed-forward controller and float32.
DEMO_MODEL = {
    "memory_size": 128,
    "memory_dim": 20,
    "controller_size": 100,
    "controller": "feedforward",
    "dtype": "float32",
}
TRAIN_MODEL_DEFAULTS = {"ntm": DEMO_MODEL}  # a run's model options, under its model_options


# --- a training run --------------------------------------------------------------------------


def checked_task(name: Any, options: Mapping[str, Any]):
    """``make_task(name, **options)``, whose refusals (an unknown task, option or value: a
    ``ValueError`` from the task's own checks) become a ``ConfigError``."""
    try:
        return make_task(name, **options)
    except ValueError as error:
        raise ConfigError(str(error)) from error


def checked_optimizer_config(name: Any, options: Mapping[str, Any]) -> Any:
    """The optimizer's config (``optim``) for ``name`` and ``options``, or a ``ConfigError``."""
    config_type = OPTIMIZER_CONFIGS.get(name.lower()) if isinstance(name, str) else None
    if config_type is None:
        raise ConfigError(f"optimizer must be one of {tuple(OPTIMIZER_CONFIGS)}, got {name!r}")
    try:
        return config_from_dict(config_type, options)
    except ValueError as error:
        raise ConfigError(str(error)) from error


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run. The defaults are the ``demo``'s copy run."""

    task: str = "copy"
    task_options: dict = field(default_factory=dict)  # e.g. {"max_length": 20}
    model: str = "ntm"  # a name in MODEL_TYPES: "ntm" or "lstm"
    model_options: dict = field(default_factory=dict)  # NTM: on top of DEMO_MODEL
    optimizer: str = "adam"  # "adam", "rmsprop" or "sgd"
    optimizer_options: dict = field(default_factory=lambda: {"lr": 2e-3})
    batch_size: int = 16
    steps: int = 5000  # optimizer updates
    clip_norm: float | None = 50.0  # global-norm clipping (Collier & Beel); None: off
    clip_value: float | None = None  # elementwise clipping to [-v, v] (the paper: 10)
    seed: int = 0
    eval_every: int = 100  # steps between evaluations
    eval_sequences: int = 1000  # fresh sequences per evaluation
    eval_batch_size: int = 50
    target_bit_errors: float | None = None  # stop once evaluation bit errors fall below this
    max_seconds: float | None = None  # stop (with a checkpoint) after this much training time
    checkpoint_every: int = 500  # steps between checkpoints (and one at the end)
    log_every: int = 10  # steps between reading the loss back (progress, NaN check)
    curriculum: bool = True  # grow the longest training length as the model learns
    curriculum_start: int = 2  # the first longest length
    curriculum_threshold: float = 0.5  # bit errors per sequence that unlock one more length
    device: str = "cpu"
    init_from: str | None = None  # start from this checkpoint's parameters (fine-tuning)
    workers: int | str = 1  # CPU processes that share each batch (``parallel.DataParallel``);
    # "auto": ``threads.choose_workers`` from the batch size and the cores (the CLI's default)
    blas_threads: int | str | None = None  # None: NumPy's own; "auto": ``threads`` (the CLI's)
    snapshot_every: int | None = None  # keep the parameters every N steps: <out>/snapshots/

    POSITIVE_INTS: ClassVar = (
        "batch_size",
        "steps",
        "eval_every",
        "eval_sequences",
        "eval_batch_size",
        "checkpoint_every",
        "log_every",
        "curriculum_start",
        "snapshot_every",
    )
    POSITIVE_NUMBERS: ClassVar = ("clip_norm", "clip_value", "target_bit_errors", "max_seconds")
    # what a resumed run may change: its length in steps and time (a finished run can be trained
    # further), how it uses the machine (a run may move to another; with other workers it sums
    # its gradients in another order, so its losses continue equal only to float rounding), and
    # its snapshots
    # what a resumed run may change: its length in steps and time (a finished run can be trained
    # further), how it uses the machine (a run may move to another; with other workers it sums
    # its gradients in another order, so its losses continue equal only to float rounding), and
    # its snapshots
    NOT_RESUMED: ClassVar = ("steps", "max_seconds", "workers", "blas_threads", "snapshot_every")

    def __post_init__(self) -> None:
        check_fields(self)
        self._check_machine()
        checked_optimizer_config(self.optimizer, self.optimizer_options)
        self.model_config(self.task_instance())  # the task and the model's options
        if self.init_from is not None and not isinstance(self.init_from, str):
            raise ConfigError(
                f"init_from must be a checkpoint path or None, got {self.init_from!r}"
            )

    def _check_machine(self) -> None:
        """The device, the workers and the BLAS threads."""
        try:
            device = backend.check_device(self.device)
            count_or_auto("workers", self.workers)
            if self.blas_threads is not None:
                count_or_auto("blas_threads", self.blas_threads)
        except ValueError as error:
            raise ConfigError(str(error)) from error
        if self.workers != AUTO and self.workers > self.batch_size:
            raise ConfigError(
                f"workers must be at most batch_size ({self.batch_size}): each worker computes "
                f"a share of a batch, got {self.workers}"
            )
        if device == "gpu" and self.workers not in (1, AUTO):
            raise ConfigError(
                f"workers > 1 splits batches over CPU processes; with device='gpu' use "
                f"workers=1, got {self.workers}"
            )

    def task_instance(self):
        """The run's task, built from ``task`` and ``task_options``."""
        return checked_task(self.task, self.task_options)

    def model_config(self, task) -> Any:
        """The model's config: sized to ``task``'s inputs and outputs, seeded by the run, with
        the model's training defaults (the NTM's: ``DEMO_MODEL``) under ``model_options``."""
        if not isinstance(self.model_options, Mapping):
            raise ConfigError(f"model_options must be a dict, got {self.model_options!r}")
        sized = sorted({"input_size", "output_size"} & set(self.model_options))
        if sized:
            raise ConfigError(f"model_options {sized}: the task sets the model's sizes")
        options = {
            "input_size": task.input_size,
            "output_size": task.output_size,
            "seed": self.seed,
            **(TRAIN_MODEL_DEFAULTS.get(self.model, {}) if isinstance(self.model, str) else {}),
            **self.model_options,
        }
        return model_config(self.model, options)

    def check_resumes(self, saved: Mapping[str, Any] | None, where: str) -> None:
        """A ``ResumeMismatchError`` unless a run of this config may continue the run whose
        ``to_dict()`` is ``saved`` (written to ``where``): all but ``NOT_RESUMED`` must match."""
        if _resumable(saved) != _resumable(self.to_dict()):
            raise ResumeMismatchError(
                f"{where}: was written by a run with another config; "
                "resume it with the same options, or start a new out_dir"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _resumable(config: Mapping[str, Any] | None) -> dict | None:
    """What a resumed run must share with the one it continues: all but ``NOT_RESUMED``.
    A field added since the checkpoint was written takes its default: the run had none."""
    if config is None:
        return None
    config = json.loads(json.dumps({**TrainConfig().to_dict(), **config}))
    return {k: v for k, v in config.items() if k not in TrainConfig.NOT_RESUMED}


__all__ = [
    "CONTROLLERS",
    "DEMO_MODEL",
    "DEVICES",
    "DTYPES",
    "MEMORY_INITS",
    "MODEL_TYPES",
    "ConfigError",
    "LSTMConfig",
    "NTMConfig",
    "ResumeMismatchError",
    "TrainConfig",
    "check_fields",
    "check_fits_in_memory",
    "estimate_bytes",
    "model_class",
    "model_config",
    "one_of",
    "parameter_shapes",
    "positive_int",
    "positive_number",
    "register_model",
    "seed_value",
]
