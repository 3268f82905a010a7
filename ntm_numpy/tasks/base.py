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
from dataclasses import dataclass, field, fields
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

    Class attributes: ``name`` (the key in ``TASKS``) and ``config_type`` (the frozen dataclass
    of the task's options, whose defaults are the paper's).
    """

    name: ClassVar[str]
    config_type: ClassVar[type]

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
