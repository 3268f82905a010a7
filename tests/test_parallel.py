"""Tests of ntm_numpy.training.parallel: a batch split over worker processes gives the batch's
own cost and gradient (float64, random models and batches), any split of B, errors that leave the
workers usable, and training with workers that resumes bit for bit."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

from ntm_numpy import NTM
from ntm_numpy.lstm_baseline import LSTMConfig, LSTMModel
from ntm_numpy.training import TrainConfig, train
from ntm_numpy.training.parallel import DataParallel, shard_bounds

TINY_TRAIN = {
    "task": "copy",
    "task_options": {"bits": 3, "min_length": 1, "max_length": 3},
    "model_options": {"memory_size": 8, "memory_dim": 6, "controller_size": 16},
    "batch_size": 6,
    "steps": 12,
    "eval_every": 4,
    "checkpoint_every": 4,
    "log_every": 4,
    "eval_sequences": 12,
    "eval_batch_size": 6,
    "seed": 5,
    "curriculum": False,
}


def random_ntm(seed: int) -> NTM:
    return NTM(
        input_size=5,
        output_size=3,
        memory_size=10,
        memory_dim=4,
        controller_size=12,
        num_read_heads=2,
        num_write_heads=2,
        memory_init="learned",
        dtype="float64",
        seed=seed,
    )


def random_lstm(seed: int) -> LSTMModel:
    return LSTMModel(
        LSTMConfig(input_size=5, output_size=3, hidden_size=7, num_layers=2, seed=seed)
    )


def random_batch(rng, T: int, B: int):
    x = rng.standard_normal((T, B, 5))
    y = (rng.random((T, B, 3)) < 0.5).astype(float)
    mask = (rng.random((T, B)) < 0.7).astype(float)
    return x, y, mask


@pytest.mark.parametrize(
    ("batch_size", "shards"), [(7, 3), (6, 2), (1, 2), (5, 5), (64, 2), (3, 8)]
)
def test_shard_bounds_cover_the_batch_in_nearly_equal_pieces(batch_size, shards):
    bounds = shard_bounds(batch_size, shards)
    assert len(bounds) == min(batch_size, shards)
    assert bounds[0][0] == 0 and bounds[-1][1] == batch_size
    assert all(a < b for a, b in bounds)
    assert all(bounds[k][1] == bounds[k + 1][0] for k in range(len(bounds) - 1))
    sizes = [b - a for a, b in bounds]
    assert max(sizes) - min(sizes) <= 1


@pytest.fixture(scope="module")
def ntm_and_workers():
    model = random_ntm(seed=1)
    with DataParallel(model, workers=3) as parallel:
        yield model, parallel


@pytest.mark.parametrize("batch_size", [7, 3, 2, 1])
def test_split_batch_gives_the_batch_cost_and_gradient(ntm_and_workers, batch_size):
    model, parallel = ntm_and_workers
    rng = np.random.default_rng(batch_size)
    x, y, mask = random_batch(rng, T=4, B=batch_size)
    # fresh parameters each time: the workers must see the ones of this call
    model.params = {k: v + 0.1 * rng.standard_normal(v.shape) for k, v in model.params.items()}
    loss, grads = model.loss_and_grads(x, y, mask)
    split_loss, split_grads = parallel.loss_and_grads(x, y, mask)
    np.testing.assert_allclose(float(split_loss), float(loss), rtol=1e-12)
    assert split_grads.keys() == grads.keys()
    for name in grads:
        np.testing.assert_allclose(split_grads[name], grads[name], rtol=1e-9, atol=1e-12)


def test_no_mask_means_every_step(ntm_and_workers):
    model, parallel = ntm_and_workers
    x, y, _ = random_batch(np.random.default_rng(0), T=3, B=5)
    np.testing.assert_allclose(
        float(parallel.loss_and_grads(x, y)[0]), float(model.loss_and_grads(x, y)[0]), rtol=1e-12
    )


def test_bad_input_is_the_models_error_and_the_workers_stay_usable(ntm_and_workers):
    model, parallel = ntm_and_workers
    x, y, mask = random_batch(np.random.default_rng(0), T=3, B=5)
    with pytest.raises(ValueError, match=r"x must have shape \[T, B, 5\]"):
        parallel.loss_and_grads(x[..., :2], y, mask)
    with pytest.raises(ValueError, match="mask must have shape"):
        parallel.loss_and_grads(x, y, mask[:2])
    loss, _ = parallel.loss_and_grads(x, y, mask)
    np.testing.assert_allclose(float(loss), float(model.loss_and_grads(x, y, mask)[0]))


def test_lstm_baseline_split_matches():
    model = random_lstm(seed=2)
    x, y, mask = random_batch(np.random.default_rng(1), T=5, B=4)
    loss, grads = model.loss_and_grads(x, y, mask)
    with DataParallel(model, workers=2) as parallel:
        split_loss, split_grads = parallel.loss_and_grads(x, y, mask)
    np.testing.assert_allclose(float(split_loss), float(loss), rtol=1e-12)
    for name in grads:
        np.testing.assert_allclose(split_grads[name], grads[name], rtol=1e-9, atol=1e-12)


def test_one_worker_is_the_model_itself():
    model = random_ntm(seed=0)
    parallel = DataParallel(model, workers=1)
    x, y, mask = random_batch(np.random.default_rng(2), T=3, B=2)
    assert float(parallel.loss_and_grads(x, y, mask)[0]) == float(
        model.loss_and_grads(x, y, mask)[0]
    )
    parallel.close()


def test_closed_workers_refuse_work():
    parallel = DataParallel(random_ntm(seed=0), workers=2)
    parallel.close()
    parallel.close()  # idempotent
    x, y, mask = random_batch(np.random.default_rng(2), T=3, B=2)
    with pytest.raises(RuntimeError, match="closed"):
        parallel.loss_and_grads(x, y, mask)


@pytest.mark.parametrize("workers", [0, -1, 1.5, True, "2"])
def test_workers_must_be_a_positive_integer(workers):
    with pytest.raises(ValueError, match="workers must be a positive integer"):
        DataParallel(random_ntm(seed=0), workers=workers)
    with pytest.raises(ValueError, match="workers must be a positive integer"):
        TrainConfig(workers=workers)


def test_training_with_workers_resumes_bit_for_bit_and_follows_one_process(tmp_path):
    config = TrainConfig(**TINY_TRAIN, workers=2)
    uninterrupted = train(config, tmp_path / "a", verbose=False)
    train(TrainConfig(**{**TINY_TRAIN, "steps": 8}, workers=2), tmp_path / "b", verbose=False)
    resumed = train(config, tmp_path / "b", resume=True, verbose=False)
    for name, value in uninterrupted.model.params.items():
        np.testing.assert_array_equal(resumed.model.params[name], value)
    assert [r["cost"] for r in resumed.history] == [r["cost"] for r in uninterrupted.history]

    # one process sums the same gradients in another order: the same run to float rounding
    single = train(TrainConfig(**TINY_TRAIN), tmp_path / "c", verbose=False)
    for name, value in single.model.params.items():
        np.testing.assert_allclose(uninterrupted.model.params[name], value, rtol=1e-4, atol=1e-6)


def test_workers_ignore_ctrl_c_and_a_dead_worker_is_a_clear_error():
    """Ctrl-C in a terminal reaches every process of the group: the workers must outlive it
    (the trainer finishes its step and checkpoints); a worker killed outright is an error."""
    model = random_ntm(seed=0)
    x, y, mask = random_batch(np.random.default_rng(3), T=3, B=4)
    expected = float(model.loss_and_grads(x, y, mask)[0])
    with DataParallel(model, workers=2) as parallel:
        parallel.loss_and_grads(x, y, mask)  # the worker is up and answering
        (process,) = parallel._processes
        os.kill(process.pid, signal.SIGINT)
        np.testing.assert_allclose(float(parallel.loss_and_grads(x, y, mask)[0]), expected)
        process.kill()
        process.join()
        with pytest.raises(RuntimeError, match="worker process died"):
            parallel.loss_and_grads(x, y, mask)
