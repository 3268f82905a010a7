"""Tests of the pieces the training loop is made of: ``TrainState`` (what a checkpoint stores
as train_state), ``Curriculum`` (how the longest training length grows) and
``clip_gradients``. The loop itself is tested in test_train.py and test_reliability.py."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ntm_numpy.tasks import make_task
from ntm_numpy.training import Curriculum, TrainConfig, TrainState, clip_gradients
from ntm_numpy.training.state import TrainStateError, check_train_state

COPY = {"task": "copy", "task_options": {"bits": 3, "min_length": 2, "max_length": 5}}


def advanced_state() -> TrainState:
    rng = np.random.default_rng(11)
    rng.integers(0, 2, size=37)  # a state that is not the seed's
    return TrainState(
        config=dict(COPY),
        rng=rng,
        step=42,
        sequences=672,
        seconds=12.5,
        max_length=4,
        recent_costs=[3.25, 2.5],
    )


# ------------------------------------------------------------------ TrainState


def test_train_state_round_trip_through_json() -> None:
    state = advanced_state()
    data = json.loads(json.dumps(state.to_dict()))  # what a checkpoint's meta.json holds
    back = TrainState.from_dict(data)
    assert back.to_dict() == state.to_dict()
    # the generator continues where the saved one stood: the same batches after a resume
    assert np.array_equal(back.rng.integers(0, 1000, 20), state.rng.integers(0, 1000, 20))


def test_train_state_from_a_checkpoint_written_before_recent_costs() -> None:
    # the train state as checkpoints held it before recent_costs existed (the shipped models
    # were all written since; the first repeat-copy model, in git history, was the last without)
    saved = advanced_state().to_dict()
    del saved["recent_costs"]
    state = TrainState.from_dict(saved)
    assert state.recent_costs == []
    assert state.step == saved["step"]
    assert {k: state.to_dict()[k] for k in saved} == saved


def bad(key, value):
    def change(data: dict) -> dict:
        data = dict(data)
        if value is DELETE:
            del data[key]
        else:
            data[key] = value
        return data

    return change


DELETE = object()


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (bad("rng", DELETE), "rng"),
        (bad("step", DELETE), "step"),
        (bad("sequences", DELETE), "sequences"),
        (bad("seconds", DELETE), "seconds"),
        (bad("step", "ten"), "step"),
        (bad("step", True), "step"),
        (bad("sequences", -1), "sequences"),
        (bad("seconds", math.inf), "seconds"),
        (bad("recent_costs", ["a"]), "recent_costs"),
        (bad("recent_costs", 3.0), "recent_costs"),
        (bad("rng", "seed"), "rng"),
        (bad("rng", {"bit_generator": "MT19937"}), "rng"),
        (bad("max_length", 0), "max_length"),
        (bad("max_length", 6), "max_length"),  # the task's range is [2, 5]
        (bad("config", "copy"), "config"),
        (bad("config", {"task": "no_such_task"}), "task"),
        (lambda data: [data], "train_state"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_train_state_from_dict_names_the_bad_field(change, fragment) -> None:
    data = change(advanced_state().to_dict())
    with pytest.raises(TrainStateError, match=fragment):
        TrainState.from_dict(data)
    assert issubclass(TrainStateError, ValueError)


def test_a_partial_state_passes_the_partial_check_only() -> None:
    data = {"step": 3, "config": dict(COPY), "max_length": 5}  # a shipped model's, say
    check_train_state(data, complete=False)
    with pytest.raises(TrainStateError, match="lacks"):
        check_train_state(data, complete=True)


# ------------------------------------------------------------------ Curriculum


def test_curriculum_steps_one_length_at_a_time_up_to_the_task() -> None:
    task = make_task("copy", bits=3, min_length=2, max_length=5)
    curriculum = Curriculum.for_task(task, enabled=True, start=3, threshold=0.5)
    length = curriculum.first_length()
    assert length == 3
    scores = [0.9, 0.5, 0.1, 0.4, 0.0, 0.0]  # bit errors on the current range
    lengths = []
    for errors in scores:
        length = curriculum.next_length(length, errors)
        lengths.append(length)
    # grows only under the threshold (0.5 is not under it), never past max_length
    assert lengths == [3, 3, 4, 5, 5, 5]
    trained = curriculum.task_at(4)
    assert (trained.config.min_length, trained.config.max_length) == (2, 4)
    assert trained.config.bits == 3
    assert curriculum.task_at(None) is task


@pytest.mark.parametrize(("start", "first"), [(1, 2), (4, 4), (50, 5)])
def test_curriculum_first_length_lies_in_the_task_range(start, first) -> None:
    task = make_task("copy", bits=3, min_length=2, max_length=5)
    assert Curriculum.for_task(task, enabled=True, start=start, threshold=0.5).first_length() == (
        first
    )


def test_curriculum_grows_the_option_the_task_declares() -> None:
    task = make_task("associative_recall", min_items=2, max_items=6)
    curriculum = Curriculum.for_task(task, enabled=True, start=2, threshold=0.5)
    assert curriculum.task_at(3).config.max_items == 3
    assert curriculum.task_at(3).config.min_items == 2


def test_no_curriculum_when_off_or_without_a_length_option() -> None:
    copy = make_task("copy")
    assert Curriculum.for_task(copy, enabled=False, start=2, threshold=0.5) is None
    for name in ("ngrams", "priority_sort"):
        task = make_task(name)
        assert Curriculum.for_task(task, enabled=True, start=2, threshold=0.5) is None


# ------------------------------------------------------------------ clip_gradients


def random_grads(scale: float) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    return {
        "controller.W": scale * rng.standard_normal((4, 6)),
        "output.b": scale * rng.standard_normal(3),
    }


def direct_norm(grads: dict[str, np.ndarray]) -> float:
    return math.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in grads.values()))


def clip_config(clip_norm, clip_value) -> TrainConfig:
    return TrainConfig(clip_norm=clip_norm, clip_value=clip_value)


@pytest.mark.parametrize("scale", [0.01, 10.0], ids=["under-the-norm", "over-the-norm"])
def test_clip_by_norm(scale) -> None:
    grads = random_grads(scale)
    raw = direct_norm(grads)
    clipped, norm = clip_gradients({k: g.copy() for k, g in grads.items()}, clip_config(1.0, None))
    assert float(norm) == pytest.approx(raw, rel=1e-12)
    factor = min(1.0, 1.0 / (raw + 1e-6))  # optimizers.clip_by_global_norm's epsilon
    for key in grads:
        np.testing.assert_allclose(clipped[key], grads[key] * factor, rtol=1e-12)
    assert direct_norm(clipped) <= 1.0 + 1e-12


def test_clip_by_value_reports_the_raw_norm() -> None:
    grads = random_grads(3.0)
    clipped, norm = clip_gradients({k: g.copy() for k, g in grads.items()}, clip_config(None, 2.0))
    assert float(norm) == pytest.approx(direct_norm(grads), rel=1e-12)
    for key in grads:
        np.testing.assert_array_equal(clipped[key], np.clip(grads[key], -2.0, 2.0))
    assert any(np.any(np.abs(g) > 2.0) for g in grads.values())  # something was clipped


def test_clip_by_value_then_by_norm() -> None:
    grads = random_grads(3.0)
    clipped, norm = clip_gradients({k: g.copy() for k, g in grads.items()}, clip_config(1.5, 2.0))
    assert float(norm) == pytest.approx(direct_norm(grads), rel=1e-12)
    by_value = {k: np.clip(g, -2.0, 2.0) for k, g in grads.items()}
    factor = min(1.0, 1.5 / (direct_norm(by_value) + 1e-6))
    for key in grads:
        np.testing.assert_allclose(clipped[key], by_value[key] * factor, rtol=1e-12)


def test_no_clipping() -> None:
    grads = random_grads(3.0)
    clipped, norm = clip_gradients({k: g.copy() for k, g in grads.items()}, clip_config(None, None))
    assert float(norm) == pytest.approx(direct_norm(grads), rel=1e-12)
    for key in grads:
        np.testing.assert_array_equal(clipped[key], grads[key])
