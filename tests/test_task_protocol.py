"""The task protocol: what a task declares (``Task``: title, length options, optimal cost), how
the registry checks it, and that a new task is one class plus one registration: a toy task
defined here trains, evaluates, checkpoints and resumes through ``train()`` with nothing else
edited."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pytest

from ntm_numpy.tasks import TASKS, Batch, Task, make_task, register_task, unregister_task
from ntm_numpy.tasks.base import check_int, check_sample_args, check_task_class, draw_length
from ntm_numpy.training import TrainConfig, evaluate, read_metrics, train
from ntm_numpy.training.checkpoint import read

# ------------------------------------------------------------------ the declarations


@pytest.mark.parametrize("name", list(TASKS))
def test_every_task_declares_what_the_trainer_reads(name) -> None:
    cls = TASKS[name]
    check_task_class(cls)
    assert cls.title and cls.title != cls.name
    task = make_task(name)
    lengths = task.length_range()
    if cls.length_option is None:
        assert lengths is None
    else:
        low = getattr(task.config, cls.min_length_option)
        high = getattr(task.config, cls.length_option)
        assert lengths == (low, high)
        assert task.with_longest(low).length_range() == (low, low)


def test_only_ngrams_knows_its_optimal_cost() -> None:
    rng = np.random.default_rng(0)
    for name in TASKS:
        batch = make_task(name).sample(batch_size=2, rng=rng)
        optimal = make_task(name).optimal_cost(batch)
        assert (optimal is not None) == (name == "ngrams"), name


# ------------------------------------------------------------------ a toy task


@dataclass(frozen=True)
class InvertConfig:
    bits: int = 2
    shortest: int = 1  # the length options, named unlike any of the paper's tasks
    longest: int = 4

    def __post_init__(self) -> None:
        check_int(self.bits, name="bits")
        check_int(self.shortest, name="shortest")
        check_int(self.longest, name="longest")


@dataclass(frozen=True)
class InvertTask(Task):
    """Read ``L`` random vectors, a delimiter, then write them back with every bit flipped."""

    name: ClassVar[str] = "toy_invert"
    config_type: ClassVar[type] = InvertConfig
    title: ClassVar[str] = "Invert"
    length_option: ClassVar[str | None] = "longest"
    min_length_option: ClassVar[str | None] = "shortest"
    config: InvertConfig = field(default_factory=InvertConfig)
    calls: ClassVar[list] = []  # (longest in the config, the length asked for) of each sample

    @property
    def input_size(self) -> int:
        return self.config.bits + 1

    @property
    def output_size(self) -> int:
        return self.config.bits

    def max_steps(self) -> int:
        return 2 * self.config.longest + 1

    def describe(self) -> str:
        return "toy: invert L vectors"

    def optimal_cost(self, batch: Batch) -> float:
        return 0.0  # the targets are a function of the inputs

    def sample(self, *, batch_size: int, rng: np.random.Generator, length=None) -> Batch:
        batch_size = check_sample_args(batch_size, rng)
        InvertTask.calls.append((self.config.longest, length))
        c = self.config
        steps = draw_length(rng, low=c.shortest, high=c.longest, fixed=length)
        bits = rng.integers(0, 2, size=(steps, batch_size, c.bits)).astype(np.float64)
        inputs = np.zeros((2 * steps + 1, batch_size, c.bits + 1))
        inputs[:steps, :, : c.bits] = bits
        inputs[steps, :, c.bits] = 1.0
        targets = np.zeros((2 * steps + 1, batch_size, c.bits))
        targets[steps + 1 :] = 1.0 - bits
        mask = np.zeros((2 * steps + 1, batch_size))
        mask[steps + 1 :] = 1.0
        return Batch(inputs, targets, mask, info={"length": steps})


@pytest.fixture
def toy_registered():
    InvertTask.calls.clear()
    register_task(InvertTask)
    try:
        yield InvertTask
    finally:
        unregister_task(InvertTask.name)


def toy_config(**overrides) -> TrainConfig:
    options = {
        "task": "toy_invert",
        "model_options": {"memory_size": 6, "memory_dim": 4, "controller_size": 10},
        "batch_size": 2,
        "steps": 6,
        "eval_every": 2,
        "checkpoint_every": 2,
        "log_every": 1,
        "eval_sequences": 8,
        "eval_batch_size": 2,
        "curriculum_start": 1,
        "curriculum_threshold": 1e9,  # every scheduled evaluation unlocks one more length
    }
    return TrainConfig(**{**options, **overrides})


def test_a_new_task_trains_through_the_registry(toy_registered, tmp_path) -> None:
    result = train(toy_config(), tmp_path, verbose=False)
    assert result.step == 6
    rows = read_metrics(tmp_path)
    # the curriculum grows the option the task declares, from its declared shortest
    assert [row["max_length"] for row in rows] == [1, 2, 3]
    assert read(tmp_path / "checkpoint.npz").train_state["max_length"] == 4
    trained_longest = {longest for longest, length in InvertTask.calls if length is None}
    assert trained_longest == {1, 2, 3}  # training drew from the curriculum's task
    # the full evaluation scores every length of the declared range
    scored = {length for longest, length in InvertTask.calls if longest == 4 and length}
    assert scored == {1, 2, 3, 4}
    assert all(row["optimal_cost"] == 0.0 for row in rows)  # the task's own optimum

    resumed = train(toy_config(steps=8), tmp_path, resume=True, verbose=False)
    assert resumed.step == 8
    assert [row["max_length"] for row in read_metrics(tmp_path)] == [1, 2, 3, 4]
    assert evaluate(resumed.model, make_task("toy_invert"), sequences=4)["cost"] >= 0.0


def test_registration_is_undone(toy_registered) -> None:
    unregister_task(InvertTask.name)
    with pytest.raises(ValueError, match="toy_invert"):
        TrainConfig(task="toy_invert")
    register_task(InvertTask)  # for the fixture to undo
    with pytest.raises(ValueError, match="already registered"):
        register_task(InvertTask)


def test_the_paper_tasks_are_still_the_registry() -> None:
    assert list(TASKS) == ["copy", "repeat_copy", "associative_recall", "ngrams", "priority_sort"]


# ------------------------------------------------------------------ what registration refuses


def declaring(**attributes) -> type:
    return type("Declared", (InvertTask,), attributes)


@pytest.mark.parametrize(
    ("cls", "fragment"),
    [
        (declaring(title=""), "title"),
        (declaring(title=None), "title"),
        (declaring(name=""), "name"),
        (declaring(length_option="max_length"), "length_option"),
        (declaring(min_length_option=None), "min_length_option"),
        (declaring(config_type=dict), "config_type"),
        (InvertConfig, "subclass of Task"),
    ],
    ids=["empty-title", "no-title", "no-name", "unknown-option", "half-declared", "config", "cls"],
)
def test_registration_refuses_an_incomplete_task(cls, fragment) -> None:
    with pytest.raises(ValueError, match=fragment):
        register_task(cls)
    assert "toy_invert" not in TASKS


def test_a_task_without_length_options_has_none_by_default() -> None:
    cls = declaring(length_option=None, min_length_option=None)
    check_task_class(cls)
    assert cls(InvertConfig()).length_range() is None
    with pytest.raises(ValueError, match="no length option"):
        cls(InvertConfig()).with_longest(3)
