"""What every task shares: the ``Batch`` it returns, the ``Task`` interface, option checks.

A task turns an explicit ``numpy.random.Generator`` into a batch of episodes, time-major::

    batch.inputs    [T, B, input_size]    float64, what the network sees at each step
    batch.targets   [T, B, output_size]   float64 in {0, 1}, what it should emit
    batch.mask      [T, B]                float64, 1 where the output is scored, 0 elsewhere

One batch has one length: the task draws its length parameter (sequence length, number of
items, ...) once per batch, so every row has the same number of steps T, no row is padded and
the model runs on one dense array. Across batches the length varies as the paper's does.

Every check of an option or argument raises ``ValueError`` naming the parameter and what was
expected, so that a caller catches one exception type.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from numbers import Real
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Batch:
    """One batch of episodes, time-major; ``T`` steps, ``B`` rows.

    Attributes:
        inputs: ``[T, B, input_size]`` the input bits and flags, one row per episode.
        targets: ``[T, B, output_size]`` the wanted output bits (0 where the mask is 0).
        mask: ``[T, B]`` 1.0 on the scored steps, 0.0 elsewhere.
        info: read-only mapping of what the task drew for this batch (for instance ``length``,
            ``repeats``, per-row ``query_index``); each task documents its keys.
    """

    inputs: FloatArray
    targets: FloatArray
    mask: FloatArray
    info: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.inputs.ndim != 3 or self.targets.ndim != 3:
            raise ValueError(
                "inputs and targets must be [T, B, channels]; got shapes "
                f"{self.inputs.shape} and {self.targets.shape}"
            )
        steps_and_rows = self.inputs.shape[:2]
        if self.targets.shape[:2] != steps_and_rows or self.mask.shape != steps_and_rows:
            raise ValueError(
                "inputs, targets and mask must share [T, B]; got shapes "
                f"{self.inputs.shape}, {self.targets.shape} and {self.mask.shape}"
            )
        object.__setattr__(self, "info", MappingProxyType(dict(self.info)))

    @property
    def num_steps(self) -> int:
        """T, the number of time steps."""
        return self.inputs.shape[0]

    @property
    def batch_size(self) -> int:
        """B, the number of episodes."""
        return self.inputs.shape[1]


class Task(ABC):
    """A source of episodes. Subclasses are frozen dataclasses with one field, ``config``.

    What a task declares, as class attributes (``check_task_class`` checks them when the task
    is registered):

    - ``name``: the key in ``TASKS``;
    - ``config_type``: the frozen dataclass of the task's options, whose defaults are the
      paper's;
    - ``title``: the task's name for people (figures, tables), e.g. ``"Repeat copy"``;
    - ``length_option`` and ``min_length_option``: the names of the two options of
      ``config_type`` that bound ``sample``'s length parameter (copy: ``max_length`` and
      ``min_length``; associative recall: ``max_items`` and ``min_items``). The trainer's
      curriculum grows the first; evaluation scores every length in between. Both ``None``
      (the default): the task has no length range, its batches all have one length.

    and, where the task knows it, ``optimal_cost(batch)``: the cost of the best possible
    predictor on a batch (n-grams: the Bayes-optimal one); the default returns ``None``.
    """

    name: ClassVar[str]
    config_type: ClassVar[type]
    title: ClassVar[str]
    length_option: ClassVar[str | None] = None
    min_length_option: ClassVar[str | None] = None

    def __post_init__(self) -> None:
        config = getattr(self, "config", None)
        if not isinstance(config, self.config_type):
            raise ValueError(
                f"config: expected a {self.config_type.__name__}, got {type(config).__name__}"
            )

    @classmethod
    def from_options(cls, **options: Any) -> Task:
        """Build the task from keyword options; unknown names raise ``ValueError``."""
        allowed = [f.name for f in fields(cls.config_type)]
        for option in options:
            if option not in allowed:
                raise ValueError(
                    f"{option}: not an option of task {cls.name!r}; "
                    f"its options are {', '.join(allowed)}"
                )
        return cls(cls.config_type(**options))  # type: ignore[call-arg]

    def length_range(self) -> tuple[int, int] | None:
        """``(shortest, longest)``: the range of the length parameter that training draws
        from, as the config sets it; ``None`` where the task has no length option."""
        if self.length_option is None:
            return None
        return getattr(self.config, self.min_length_option), getattr(
            self.config, self.length_option
        )

    def with_longest(self, longest: int) -> Task:
        """The same task with its length option set to ``longest`` (the curriculum's task)."""
        if self.length_option is None:
            raise ValueError(f"task {self.name!r} has no length option to set")
        return type(self)(replace(self.config, **{self.length_option: longest}))  # type: ignore[call-arg]

    def optimal_cost(self, batch: Batch) -> float | None:
        """The best possible predictor's cost on ``batch``, in bits per sequence; ``None``
        (this default): the task does not know it."""
        return None

    @property
    @abstractmethod
    def input_size(self) -> int:
        """Channels of one input step."""

    @property
    @abstractmethod
    def output_size(self) -> int:
        """Channels of one output step."""

    @abstractmethod
    def sample(
        self, *, batch_size: int, rng: np.random.Generator, length: int | None = None
    ) -> Batch:
        """Draw ``batch_size`` episodes from ``rng``; ``length`` fixes the length parameter."""

    @abstractmethod
    def max_steps(self) -> int:
        """The largest T a sample can have under the config's ranges (length= aside)."""

    @abstractmethod
    def describe(self) -> str:
        """A few lines on the episode layout and the channels, for people."""


def check_task_class(cls: object) -> None:
    """Raise ``ValueError`` unless ``cls`` is a ``Task`` subclass that declares what the
    trainer, the evaluation and the figures read from it (see ``Task``)."""
    if not (isinstance(cls, type) and issubclass(cls, Task)):
        raise ValueError(f"task: expected a subclass of Task, got {cls!r}")
    where = f"task class {cls.__name__}"
    for attribute in ("name", "title"):
        value = getattr(cls, attribute, None)
        if not isinstance(value, str) or not value:
            raise ValueError(f"{where}: {attribute} must be a non-empty string, got {value!r}")
    config_type = getattr(cls, "config_type", None)
    if not (isinstance(config_type, type) and is_dataclass(config_type)):
        raise ValueError(f"{where}: config_type must be a dataclass, got {config_type!r}")
    options = [f.name for f in fields(config_type)]
    declared = {"length_option": cls.length_option, "min_length_option": cls.min_length_option}
    if all(value is None for value in declared.values()):
        return
    for attribute, value in declared.items():
        if value not in options:
            raise ValueError(
                f"{where}: {attribute} must name an option of {config_type.__name__} "
                f"({', '.join(options)}), or both length options must be None; got {value!r}"
            )


# ------------------------------------------------------------------ checks and helpers


def check_int(value: object, *, name: str, minimum: int = 1, maximum: int | None = None) -> int:
    """``value`` as an ``int`` in ``[minimum, maximum]``; bools are not ints here."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name}: expected an integer, got {value!r}")
    value = int(value)
    if value < minimum or (maximum is not None and value > maximum):
        upper = "" if maximum is None else f" and <= {maximum}"
        raise ValueError(f"{name}: expected an integer >= {minimum}{upper}, got {value}")
    return value


def check_positive_float(value: object, *, name: str) -> float:
    """``value`` as a finite ``float`` > 0."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{name}: expected a positive number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value <= 0.0:
        raise ValueError(f"{name}: expected a finite number > 0, got {value}")
    return value


def check_range(low: int, high: int, *, low_name: str, high_name: str) -> None:
    """Raise unless ``low <= high``."""
    if low > high:
        raise ValueError(f"{low_name}: expected <= {high_name} ({high}), got {low}")


def set_fields(config: object, **values: object) -> None:
    """Store checked (normalised) values on a frozen dataclass, from its ``__post_init__``."""
    for name, value in values.items():
        object.__setattr__(config, name, value)


def check_sample_args(batch_size: object, rng: object) -> int:
    """Validate ``sample``'s common arguments; returns ``batch_size`` as an int."""
    if not isinstance(rng, np.random.Generator):
        raise ValueError(
            f"rng: expected a numpy.random.Generator (numpy.random.default_rng(seed)), "
            f"got {type(rng).__name__}"
        )
    return check_int(batch_size, name="batch_size")


def draw_length(
    rng: np.random.Generator, *, low: int, high: int, fixed: int | None, name: str = "length"
) -> int:
    """``fixed`` if given (checked >= 1), else one draw uniform on ``{low, ..., high}``.

    ``fixed`` may lie outside ``[low, high]``: that is how generalisation is tested.
    """
    if fixed is not None:
        return check_int(fixed, name=name)
    return int(rng.integers(low, high, endpoint=True))


def random_bits(rng: np.random.Generator, shape: tuple[int, ...]) -> FloatArray:
    """Independent fair bits, ``x ~ Bernoulli(1/2)``, as float64 of ``shape``."""
    return rng.integers(0, 2, size=shape).astype(np.float64)
