"""Tests of ntm_numpy.tasks: shapes, determinism, each task's encoding, option checks."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from ntm_numpy.tasks import (
    TASKS,
    Batch,
    NgramsTask,
    make_task,
    normalise_repeats,
    optimal_predictions,
)
from ntm_numpy.tasks.ngrams import NgramsConfig

TASK_NAMES = list(TASKS)


def sample(name: str, *, seed: int = 0, batch_size: int = 5, **kwargs: object) -> Batch:
    return make_task(name).sample(batch_size=batch_size, rng=np.random.default_rng(seed), **kwargs)


# ------------------------------------------------------------------ every task


def test_registry_holds_the_papers_five_tasks() -> None:
    assert TASK_NAMES == ["copy", "repeat_copy", "associative_recall", "ngrams", "priority_sort"]


@pytest.mark.parametrize("name", TASK_NAMES)
def test_shapes_dtypes_and_values(name: str) -> None:
    task = make_task(name)
    for seed in range(3):
        batch = task.sample(batch_size=5, rng=np.random.default_rng(seed))
        num_steps = batch.num_steps
        assert batch.batch_size == 5
        assert batch.inputs.shape == (num_steps, 5, task.input_size)
        assert batch.targets.shape == (num_steps, 5, task.output_size)
        assert batch.mask.shape == (num_steps, 5)
        for array in (batch.inputs, batch.targets, batch.mask):
            assert array.dtype == np.float64
        assert set(np.unique(batch.targets)) <= {0.0, 1.0}
        assert set(np.unique(batch.mask)) <= {0.0, 1.0}
        assert batch.mask.sum() > 0
        assert np.all(batch.targets[batch.mask == 0] == 0.0)
        assert num_steps <= task.max_steps()
        assert isinstance(task.describe(), str)
        assert repr(task).startswith(type(task).__name__)


@pytest.mark.parametrize("name", TASK_NAMES)
def test_same_seed_same_batch_other_seed_other_batch(name: str) -> None:
    first, again, other = sample(name, seed=7), sample(name, seed=7), sample(name, seed=8)
    for field in ("inputs", "targets", "mask"):
        assert np.array_equal(getattr(first, field), getattr(again, field))
    assert first.inputs.shape != other.inputs.shape or not np.array_equal(
        first.inputs, other.inputs
    )


@pytest.mark.parametrize("name", TASK_NAMES)
def test_length_fixes_the_number_of_steps(name: str) -> None:
    shapes = {sample(name, seed=seed, length=4).inputs.shape for seed in range(3)}
    if name == "repeat_copy":  # R still varies; fix it too
        shapes = {sample(name, seed=s, length=4, repeats=2).inputs.shape for s in range(3)}
    assert len(shapes) == 1


def test_lengths_cover_the_configured_range() -> None:
    task = make_task("copy", bits=2, min_length=2, max_length=4)
    rng = np.random.default_rng(0)
    lengths = {task.sample(batch_size=1, rng=rng).info["length"] for _ in range(60)}
    assert lengths == {2, 3, 4}


def test_make_task_applies_options_and_config_is_frozen() -> None:
    task = make_task("copy", bits=3, max_length=5)
    assert isinstance(task, TASKS["copy"])
    assert (task.config.bits, task.config.min_length, task.config.max_length) == (3, 1, 5)
    assert (task.input_size, task.output_size) == (4, 3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        task.config.bits = 4  # type: ignore[misc]
    assert make_task("copy", bits=np.int64(3), max_length=5) == task


def test_make_task_unknown_name() -> None:
    with pytest.raises(ValueError, match=r"unknown task 'kopy'.*copy, repeat_copy"):
        make_task("kopy")


@pytest.mark.parametrize(
    ("name", "options", "parameter"),
    [
        ("copy", {"bits": 0}, "bits"),
        ("copy", {"bits": -3}, "bits"),
        ("copy", {"bits": 2.5}, "bits"),
        ("copy", {"bits": True}, "bits"),
        ("copy", {"bits": "8"}, "bits"),
        ("copy", {"min_length": 5, "max_length": 2}, "min_length"),
        ("copy", {"width": 8}, "width"),
        ("repeat_copy", {"min_repeats": 0}, "min_repeats"),
        ("repeat_copy", {"min_repeats": 4, "max_repeats": 3}, "min_repeats"),
        ("associative_recall", {"min_items": 1}, "min_items"),
        ("associative_recall", {"item_length": 0}, "item_length"),
        ("ngrams", {"order": 0}, "order"),
        ("ngrams", {"length": 0}, "length"),
        ("ngrams", {"beta_prior": -0.5}, "beta_prior"),
        ("ngrams", {"beta_prior": math.nan}, "beta_prior"),
        ("priority_sort", {"num_outputs": 21}, "num_outputs"),
    ],
    ids=lambda value: (
        value if isinstance(value, str) else ",".join(f"{k}={v!r}" for k, v in value.items())
    ),
)
def test_bad_options_name_the_parameter(name: str, options: dict, parameter: str) -> None:
    with pytest.raises(ValueError, match=parameter):
        make_task(name, **options)


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"batch_size": 0, "rng": np.random.default_rng(0)}, "batch_size"),
        ({"batch_size": 2, "rng": 0}, "rng"),
        ({"batch_size": 2, "rng": np.random.RandomState(0)}, "rng"),
        ({"batch_size": 2, "rng": np.random.default_rng(0), "length": 0}, "length"),
    ],
    ids=["batch_size", "rng-int", "rng-legacy", "length"],
)
def test_bad_sample_arguments(kwargs: dict, parameter: str) -> None:
    with pytest.raises(ValueError, match=parameter):
        make_task("copy").sample(**kwargs)


def test_batch_checks_shapes_and_freezes_info() -> None:
    inputs, targets = np.zeros((3, 2, 4)), np.zeros((3, 2, 1))
    with pytest.raises(ValueError, match="share"):
        Batch(inputs, targets, np.zeros((3, 3)))
    batch = Batch(inputs, targets, np.zeros((3, 2)), info={"length": 1})
    with pytest.raises(TypeError):
        batch.info["length"] = 2  # type: ignore[index]


# ------------------------------------------------------------------ copy


def test_copy_targets_are_the_inputs_after_the_delimiter() -> None:
    task = make_task("copy", bits=4)
    batch = task.sample(batch_size=3, rng=np.random.default_rng(1), length=5)
    length, bits = 5, 4
    assert batch.num_steps == 2 * length + 1
    delimiter = batch.inputs[:, :, bits]
    assert np.array_equal(np.flatnonzero(delimiter[:, 0]), [length])
    assert np.all(delimiter[length] == 1.0)
    assert np.all(batch.inputs[length, :, :bits] == 0.0)
    assert np.all(batch.inputs[length + 1 :] == 0.0)
    assert np.array_equal(batch.targets[length + 1 :], batch.inputs[:length, :, :bits])
    assert np.all(batch.targets[: length + 1] == 0.0)
    assert np.array_equal(batch.mask[:, 0], [0.0] * (length + 1) + [1.0] * length)


# ------------------------------------------------------------------ repeat copy


def test_repeat_copy_targets_repeat_the_sequence_then_end() -> None:
    task = make_task("repeat_copy", bits=3)
    length, repeats, bits = 4, 3, 3
    batch = task.sample(batch_size=2, rng=np.random.default_rng(2), length=length, repeats=repeats)
    count_step, end_step = length + 1, length + 1 + repeats * length + 1
    assert batch.num_steps == end_step + 1 == (repeats + 1) * length + 3
    assert batch.info == {"length": length, "repeats": repeats}

    flag, count = batch.inputs[:, :, bits], batch.inputs[:, :, bits + 1]
    assert np.array_equal(np.flatnonzero(flag[:, 0]), [0, count_step])
    assert np.allclose(count[count_step], normalise_repeats(3, min_repeats=1, max_repeats=10))
    assert np.all(np.delete(count, count_step, axis=0) == 0.0)

    sequence = batch.inputs[1 : length + 1, :, :bits]  # [L, B, bits]
    copies = batch.targets[count_step + 1 : end_step, :, :bits]
    for r in range(repeats):
        assert np.array_equal(copies[r * length : (r + 1) * length], sequence)
    end_marker = batch.targets[:, :, bits]
    assert np.array_equal(np.flatnonzero(end_marker[:, 1]), [end_step])
    assert np.all(batch.targets[end_step, :, :bits] == 0.0)
    assert np.array_equal(np.flatnonzero(batch.mask[:, 0]), np.arange(count_step + 1, end_step + 1))


def test_repeat_count_is_normalised_over_the_training_range() -> None:
    values = np.array([normalise_repeats(r, min_repeats=1, max_repeats=10) for r in range(1, 11)])
    assert abs(values.mean()) < 1e-12
    assert abs(values.var() - 1.0) < 1e-12  # population variance of the uniform distribution
    assert normalise_repeats(5.5, min_repeats=1, max_repeats=10) == 0.0
    assert normalise_repeats(4, min_repeats=4, max_repeats=4) == 0.0
    # By the formula: mean 5.5, std sqrt(99 / 12).
    assert math.isclose(normalise_repeats(1, min_repeats=1, max_repeats=10), -4.5 / math.sqrt(8.25))


# ------------------------------------------------------------------ associative recall


def test_associative_recall_target_is_the_item_after_the_query() -> None:
    bits, item_length, num_items = 4, 3, 5
    task = make_task("associative_recall", bits=bits, item_length=item_length)
    batch = task.sample(batch_size=6, rng=np.random.default_rng(3), length=num_items)
    assert batch.num_steps == (num_items + 2) * (item_length + 1)
    for row in range(batch.batch_size):  # parse each episode by its delimiters, as a reader would
        x = batch.inputs[:, row]
        item_starts = np.flatnonzero(x[:, bits]) + 1
        query_delimiters = np.flatnonzero(x[:, bits + 1])
        assert len(item_starts) == num_items and len(query_delimiters) == 2
        items = [x[s : s + item_length, :bits] for s in item_starts]
        query = x[query_delimiters[0] + 1 : query_delimiters[1], :bits]
        matches = [i for i, item in enumerate(items[:-1]) if np.array_equal(item, query)]
        assert batch.info["query_index"][row] in matches
        answer = items[batch.info["query_index"][row] + 1]
        assert np.array_equal(batch.targets[-item_length:, row], answer)
        scored = np.arange(batch.num_steps - item_length, batch.num_steps)
        assert np.array_equal(np.flatnonzero(batch.mask[:, row]), scored)
    assert set(batch.info["query_index"]) <= set(range(num_items - 1))


def test_associative_recall_queries_every_item_but_the_last() -> None:
    batch = sample("associative_recall", batch_size=400, length=4)
    assert set(batch.info["query_index"]) == {0, 1, 2}


# ------------------------------------------------------------------ n-grams


def slow_optimal_predictions(bits: list[int], *, order: int, beta_prior: float) -> list[float]:
    """The Bayes-optimal predictor for one sequence, with plain loops and a dict of counts."""
    counts: dict[tuple[int, ...], list[int]] = {}
    predictions = []
    for t in range(len(bits)):
        if t < order - 2:
            predictions.append(0.5)
            continue
        context = tuple(bits[t - order + 2 : t + 1])
        n0, n1 = counts.get(context, [0, 0])
        predictions.append((n1 + beta_prior) / (n0 + n1 + 2 * beta_prior))
        if t + 1 < len(bits):
            counts.setdefault(context, [0, 0])[bits[t + 1]] += 1
    return predictions


def test_ngrams_target_is_the_next_input_bit() -> None:
    batch = sample("ngrams", batch_size=4)
    assert batch.num_steps == 200
    assert np.array_equal(batch.targets[:-1], batch.inputs[1:])
    assert np.all(batch.mask == 1.0)
    table = batch.info["probabilities"]
    assert table.shape == (4, 32)
    assert np.all((table >= 0.0) & (table <= 1.0))


def test_ngrams_bits_follow_the_table() -> None:
    order, length = 3, 4000
    task = NgramsTask(NgramsConfig(order=order, length=length))
    batch = task.sample(batch_size=3, rng=np.random.default_rng(4))
    table = batch.info["probabilities"]
    for row in range(3):
        seq = batch.inputs[:, row, 0].astype(int)
        contexts = 2 * seq[:-2] + seq[1:-1]  # the two bits before, newest lowest
        following = seq[2:]
        for context in range(4):
            seen = following[contexts == context]
            if len(seen) >= 100:
                assert abs(seen.mean() - table[row, context]) < 2.5 / math.sqrt(len(seen))


def test_ngrams_optimal_predictor_on_a_hand_made_sequence() -> None:
    # order 2: the context is the current bit. Counts after each step, by hand:
    # t=0 c=1 N=(0,0) -> 1/2;  t=1 c=1 N1=1 -> 1.5/2;  t=2 c=0 N=(0,0) -> 1/2;
    # t=3 c=1 N0=1 N1=1 -> 1.5/3;  t=4 c=1 N0=1 N1=2 -> 2.5/4
    inputs = np.array([1, 1, 0, 1, 1], dtype=np.float64)[:, None, None]
    predictions = optimal_predictions(inputs, order=2, beta_prior=0.5)
    assert predictions.shape == (5, 1, 1)
    assert np.allclose(predictions[:, 0, 0], [0.5, 0.75, 0.5, 0.5, 0.625])


@pytest.mark.parametrize("order", [1, 3, 6])
def test_ngrams_optimal_predictor_matches_the_slow_loop(order: int) -> None:
    task = NgramsTask(NgramsConfig(order=order, length=60, beta_prior=0.5))
    batch = task.sample(batch_size=3, rng=np.random.default_rng(order))
    fast = task.optimal_predictions(batch.inputs)[:, :, 0]
    for row in range(3):
        bits = [int(b) for b in batch.inputs[:, row, 0]]
        assert np.allclose(
            fast[:, row], slow_optimal_predictions(bits, order=order, beta_prior=0.5)
        )


def test_ngrams_optimal_cost_beats_a_coin() -> None:
    task = make_task("ngrams")
    batch = task.sample(batch_size=32, rng=np.random.default_rng(5))
    coin_cost = batch.mask.sum(axis=0).mean()  # predicting 1/2 costs one bit per scored step
    assert coin_cost == 200.0
    cost = task.optimal_cost(batch)
    assert 0.0 < cost < 0.9 * coin_cost
    probabilities = task.optimal_predictions(batch.inputs)
    assert np.all((probabilities > 0.0) & (probabilities < 1.0))


# ------------------------------------------------------------------ priority sort


def test_priority_sort_targets_are_the_top_vectors_highest_first() -> None:
    bits = 8
    batch = sample("priority_sort", batch_size=4)
    num_inputs, num_outputs = 20, 16
    assert batch.num_steps == num_inputs + 1 + num_outputs
    assert np.all(batch.inputs[num_inputs, :, bits] == 1.0)
    assert np.all(batch.inputs[:num_inputs, :, bits] == 0.0)
    priorities = batch.inputs[:num_inputs, :, bits + 1]  # [n, B]
    assert np.all((priorities >= -1.0) & (priorities <= 1.0))
    for row in range(batch.batch_size):
        by_priority = sorted(range(num_inputs), key=lambda i: -priorities[i, row])
        wanted = [batch.inputs[i, row, :bits] for i in by_priority[:num_outputs]]
        assert np.array_equal(batch.targets[num_inputs + 1 :, row], np.array(wanted))
        assert np.all(np.diff(priorities[by_priority[:num_outputs], row]) < 0.0)
    assert np.array_equal(np.flatnonzero(batch.mask[:, 0]), np.arange(21, 37))


def test_priority_sort_length_fixes_the_number_of_inputs() -> None:
    short = sample("priority_sort", length=10)
    assert short.num_steps == 10 + 1 + 10
    assert short.info["num_outputs"] == 10
    longer = sample("priority_sort", length=30)
    assert longer.num_steps == 30 + 1 + 16
