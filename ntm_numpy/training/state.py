"""Where a training run stands (``TrainState``) and how its training lengths grow
(``Curriculum``).

``TrainState.to_dict()`` is what a checkpoint stores as ``train_state``, and
``TrainState.from_dict`` reads it back, checked: a resumed run continues exactly where the run
stopped (the same batches, the same losses). ``check_train_state`` is the same check for a
state that may be partial (a shipped checkpoint: it needs no generator state to be evaluated).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ntm_numpy.tasks import Task, make_task

RESUME_NEEDS = ("rng", "step", "sequences", "seconds")  # what resuming cannot do without


class TrainStateError(ValueError):
    """A ``train_state`` that is not one: a field of the wrong type, out of bounds, or missing."""


@dataclass
class TrainState:
    """Everything that changes as a run trains, beside the model and the optimizer."""

    config: dict[str, Any]  # the run's ``TrainConfig.to_dict()``
    rng: np.random.Generator  # the training batches are drawn from it, and from nothing else
    step: int = 0  # optimizer updates done
    sequences: int = 0  # training sequences seen
    seconds: float = 0.0  # training time so far, evaluations included
    max_length: int | None = None  # the curriculum's longest training length (None: none)
    recent_costs: list[float] = field(default_factory=list)  # losses since the last evaluation

    def to_dict(self) -> dict[str, Any]:
        """The state as plain JSON values (the checkpoint's ``train_state``)."""
        return {
            "config": self.config,
            "rng": self.rng.bit_generator.state,
            "step": self.step,
            "sequences": self.sequences,
            "seconds": self.seconds,
            "max_length": self.max_length,
            "recent_costs": list(self.recent_costs),
        }

    @classmethod
    def from_dict(cls, data: Any) -> TrainState:
        """The state ``to_dict`` wrote, checked whole: ``TrainStateError`` names the first field
        that is missing or wrong. ``max_length`` and ``recent_costs`` may be absent (checkpoints
        written before they existed): None and []."""
        check_train_state(data, complete=True)
        rng = np.random.default_rng()
        rng.bit_generator.state = data["rng"]
        return cls(
            config=data.get("config"),
            rng=rng,
            step=data["step"],
            sequences=data["sequences"],
            seconds=float(data["seconds"]),
            max_length=data.get("max_length"),
            recent_costs=[float(c) for c in data.get("recent_costs", [])],
        )


def check_train_state(data: Any, *, complete: bool) -> None:
    """Raise ``TrainStateError`` unless each field of ``data`` that is there has the right type
    and lies within bounds; with ``complete``, the fields of ``RESUME_NEEDS`` must be there."""
    if not isinstance(data, dict):
        raise TrainStateError(f"train_state must be an object, got {type(data).__name__}")
    missing = [key for key in RESUME_NEEDS if key not in data]
    if complete and missing:
        raise TrainStateError(f"its train_state lacks {missing}")
    problem = _field_problem(data) or _length_problem(data.get("config"), data.get("max_length"))
    if problem is not None:
        raise TrainStateError(problem)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_real(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _field_problem(state: dict[str, Any]) -> str | None:
    """What is wrong with the fields that need no task to check (None: nothing)."""
    for key in ("step", "sequences"):
        if key in state and not _is_count(state[key]):
            return f"{key} must be an integer >= 0, got {state[key]!r:.80}"
    if "seconds" in state and not (_is_real(state["seconds"]) and state["seconds"] >= 0):
        return f"seconds must be a finite number >= 0, got {state['seconds']!r:.80}"
    costs = state.get("recent_costs", [])
    if not isinstance(costs, list) or not all(_is_real(c) for c in costs):
        return f"recent_costs must be a list of finite numbers, got {costs!r:.80}"
    if "rng" in state:
        try:
            if not isinstance(state["rng"], dict):
                raise TypeError("not an object")
            np.random.default_rng().bit_generator.state = state["rng"]
        except (TypeError, ValueError, KeyError, OverflowError) as error:
            return f"rng is not a PCG64 generator state ({error}): {state['rng']!r:.80}"
    return None


def _length_problem(config: Any, max_length: Any) -> str | None:
    """The run's config must name a valid task; the curriculum's longest length must lie in
    that task's length range."""
    task = None
    if config is not None:
        if not isinstance(config, dict):
            return f"config must be an object, got {config!r:.80}"
        if "task" in config:
            options = config.get("task_options") or {}
            try:
                if not isinstance(options, dict):
                    raise ValueError(f"task_options must be an object, got {options!r:.80}")
                task = make_task(config["task"], **options)
            except (TypeError, ValueError) as error:
                return f"its config's task is invalid: {error}"
    if max_length is None:
        return None
    if not _is_count(max_length) or max_length < 1:
        return f"max_length must be None or an integer >= 1, got {max_length!r:.80}"
    lengths = task.length_range() if task is not None else None
    if lengths is not None and not lengths[0] <= max_length <= lengths[1]:
        return f"max_length {max_length} lies outside the task's range [{lengths[0]}, {lengths[1]}]"
    return None


def training_lengths(task: Task) -> list[int | None]:
    """Every value of the task's length parameter in its range; ``[None]``: it has none."""
    lengths = task.length_range()
    if lengths is None:
        return [None]
    return list(range(lengths[0], lengths[1] + 1))


@dataclass(frozen=True)
class Curriculum:
    """Train on short sequences first: the longest training length starts at ``start`` and
    grows by one each time the model scores under ``threshold`` bit errors per sequence on its
    current training range, up to the task's own longest. The policy only: the current length
    is ``TrainState.max_length``."""

    task: Task  # the full task; its length option is what grows
    start: int  # the first longest length (clamped to the task's range)
    threshold: float  # bit errors per sequence that unlock one more length

    @classmethod
    def for_task(cls, task: Task, *, enabled: bool, start: int, threshold: float):
        """The curriculum for ``task``, or None: switched off, or a task with no length option."""
        if not enabled or task.length_range() is None:
            return None
        return cls(task, start, threshold)

    def first_length(self) -> int:
        shortest, longest = self.task.length_range()
        return max(shortest, min(self.start, longest))

    def task_at(self, max_length: int | None) -> Task:
        """The task that training draws from while the longest length is ``max_length``."""
        return self.task if max_length is None else self.task.with_longest(max_length)

    def next_length(self, max_length: int, bit_errors: float) -> int:
        """The longest length after an evaluation of the current range scored ``bit_errors``."""
        if bit_errors < self.threshold and max_length < self.task.length_range()[1]:
            return max_length + 1
        return max_length
