"""Tests of ntm_numpy.training.resize: an NTM's weights moved to a memory of another size."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import run_main

from ntm_numpy import NTM
from ntm_numpy.lstm_baseline import LSTMModel
from ntm_numpy.training import checkpoint
from ntm_numpy.training.resize import resize_checkpoint, resize_memory


def small_ntm(memory_size: int, seed: int = 0, memory_init: str = "learned") -> NTM:
    return NTM(
        input_size=3,
        output_size=2,
        memory_size=memory_size,
        memory_dim=4,
        controller_size=6,
        num_read_heads=2,
        num_write_heads=1,
        memory_init=memory_init,
        dtype="float64",
        seed=seed,
    )


def test_shrinking_keeps_every_memory_free_weight_and_cuts_the_initial_state():
    model = small_ntm(12)
    small = resize_memory(model, 5)
    assert small.config.memory_size == 5
    for name, value in model.params.items():
        if name == "init.weights":
            np.testing.assert_array_equal(small.params[name], value[:, :5])
        elif name == "init.memory":
            np.testing.assert_array_equal(small.params[name], value[:5])
        else:
            np.testing.assert_array_equal(small.params[name], value)


def test_growing_takes_the_initial_state_from_a_model_of_the_new_size():
    model, donor = small_ntm(5), small_ntm(9, seed=1)
    big = resize_memory(model, 9, initial_state_from=donor)
    np.testing.assert_array_equal(big.params["init.weights"], donor.params["init.weights"])
    np.testing.assert_array_equal(big.params["init.memory"], donor.params["init.memory"])
    np.testing.assert_array_equal(big.params["controller.W"], model.params["controller.W"])
    x = np.random.default_rng(0).standard_normal((4, 2, 3))
    assert big.forward(x, keep_cache=False)[0].shape == (4, 2, 2)  # it runs at the new size


def test_bad_requests_are_refused_with_the_parameter_named():
    model = small_ntm(6)
    with pytest.raises(ValueError, match="memory_size must be a positive integer"):
        resize_memory(model, 0)
    with pytest.raises(ValueError, match=r"memory_size 8 is larger .* initial_state_from"):
        resize_memory(model, 8)
    with pytest.raises(ValueError, match=r"initial_state_from must have init.weights of shape"):
        resize_memory(model, 8, initial_state_from=small_ntm(7))
    with pytest.raises(ValueError, match=r"initial_state_from must have init\.memory"):
        resize_memory(model, 8, initial_state_from=small_ntm(8, memory_init="constant"))
    lstm = LSTMModel(input_size=3, output_size=2, hidden_size=4)
    with pytest.raises(ValueError, match="model must be an NTM"):
        resize_memory(lstm, 4)


def test_a_resized_checkpoint_records_its_size_and_origin(tmp_path):
    source = tmp_path / "source.npz"
    state = {"config": {"task": "copy", "model_options": {"memory_size": 12}}, "step": 7}
    checkpoint.save(source, small_ntm(12), train_state=state)
    path = resize_checkpoint(source, tmp_path / "small.npz", 5)
    saved = checkpoint.read(path)
    assert saved.model.config.memory_size == 5
    assert saved.train_state["config"]["model_options"]["memory_size"] == 5
    assert saved.train_state["resized"]["memory_size_from"] == 12
    assert saved.train_state["step"] == 7
    assert saved.optimizer_state is None
    with pytest.raises(checkpoint.CheckpointError, match="must not be the source"):
        resize_checkpoint(source, source, 5)
    assert checkpoint.read(source).model.config.memory_size == 12  # the source is untouched


def test_the_resize_command_writes_the_model_and_refuses_what_it_cannot_do(tmp_path, capsys):
    source = tmp_path / "source.npz"
    checkpoint.save(source, small_ntm(12), train_state={"config": {"task": "copy"}})
    small = tmp_path / "small.npz"
    code, out, _ = run_main(["resize", str(source), str(small), "--memory-size", "5"], capsys)
    assert code == 0 and "memory_size 5" in out
    assert checkpoint.read(small).model.config.memory_size == 5
    grown = tmp_path / "grown.npz"
    argv = ["resize", str(small), str(grown), "--memory-size", "12"]
    code, _, err = run_main(argv, capsys)
    assert code == 2 and "--initial-state-from" in err and len(err.strip().splitlines()) == 1
    assert not grown.exists()
    code, _, _ = run_main([*argv, "--initial-state-from", str(source)], capsys)
    assert code == 0
    np.testing.assert_array_equal(
        checkpoint.read(grown).model.params["init.weights"],
        checkpoint.read(source).model.params["init.weights"],
    )
    code, _, err = run_main(["resize", str(source), str(grown), "--memory-size", "0"], capsys)
    assert code == 2 and "memory-size" in err
