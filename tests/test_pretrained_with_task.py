"""Tests of the one way to load a model with the task it was trained on:
``checkpoint.pretrained_with_task`` and ``Checkpoint.task`` (used by ``evaluate``, the figures
and the notebooks), and of ``find_checkpoint``'s error for a name that is nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import run_main

from ntm_numpy import NTM
from ntm_numpy.tasks import make_task
from ntm_numpy.training import checkpoint
from ntm_numpy.training.checkpoint import (
    CheckpointError,
    find_checkpoint,
    pretrained_with_task,
    read,
)

BITS = 3


def copy_ntm() -> NTM:
    """An untrained NTM with a copy task's widths for BITS bits."""
    return NTM(
        input_size=BITS + 1, output_size=BITS, memory_size=6, memory_dim=3, controller_size=4
    )


RUN = {"task": "copy", "task_options": {"bits": BITS, "max_length": 7}}


@pytest.mark.parametrize("name", checkpoint.pretrained_names())
def test_each_shipped_model_comes_with_the_task_it_was_trained_on(name):
    model, task = pretrained_with_task(name)
    assert model.model_type == ("lstm" if name.startswith("lstm_") else "ntm")
    assert task.name == name.removeprefix("lstm_")
    run = read(checkpoint.PRETRAINED_DIR / f"{name}.npz").train_state["config"]
    assert task == make_task(run["task"], **run["task_options"])
    assert (task.input_size, task.output_size) == (model.config.input_size, model.config.outputs)


def test_an_unknown_pretrained_name_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint, "PRETRAINED_DIR", tmp_path)
    copy_ntm().save(tmp_path / "copy.npz", train_state={"config": RUN})
    with pytest.raises(ValueError, match=r"no pretrained model named 'cpy'; available: copy$"):
        pretrained_with_task("cpy")
    model, task = pretrained_with_task("copy")
    assert isinstance(model, NTM) and model.config.input_size == BITS + 1
    assert task == make_task("copy", bits=BITS, max_length=7)


def test_the_task_is_rebuilt_with_the_runs_options_and_overrides(tmp_path):
    path = tmp_path / "run.npz"
    copy_ntm().save(path, train_state={"config": RUN})
    saved = read(path)
    assert saved.task() == make_task("copy", bits=BITS, max_length=7)
    # an override keeps the run's other options; the run's own name is no change of task
    assert saved.task(max_length=9) == make_task("copy", bits=BITS, max_length=9)
    assert saved.task("copy", min_length=2) == make_task(
        "copy", bits=BITS, min_length=2, max_length=7
    )
    # another task starts from its own defaults: here its widths are not the model's
    with pytest.raises(CheckpointError, match=r"reads 4 and writes 3 channels.*repeat_copy"):
        saved.task("repeat_copy")
    assert (
        saved.task("repeat_copy", bits=BITS - 1).name == "repeat_copy"
    )  # bits + 2 in, bits + 1 out
    with pytest.raises(ValueError, match="unknown task"):
        saved.task("sort")


def test_a_checkpoint_that_names_no_task_needs_one(tmp_path, capsys):
    path = tmp_path / "bare.npz"
    copy_ntm().save(path)  # saved outside a training run
    saved = read(path)
    with pytest.raises(CheckpointError, match=r"bare\.npz: its train_state names no task.*--task"):
        saved.task()
    assert saved.task("copy", bits=BITS).name == "copy"
    code, _, err = run_main(["evaluate", str(path), "--sequences", "2"], capsys)
    assert code == 2 and "names no task" in err
    code, out, _ = run_main(
        ["evaluate", str(path), "--task", "copy", "--task-option", f"bits={BITS}",
         "--sequences", "2", "--lengths", "2"],
        capsys,
    )  # fmt: skip
    assert code == 0 and "task copy" in out


def test_find_checkpoint_names_the_pretrained_models_for_a_name_that_is_nothing(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(checkpoint, "PRETRAINED_DIR", tmp_path)
    copy_ntm().save(tmp_path / "copy.npz")
    assert find_checkpoint("copy") == tmp_path / "copy.npz"
    with pytest.raises(CheckpointError, match=r"'cpy' is neither .* \(pretrained: copy\)"):
        find_checkpoint("cpy")
    assert find_checkpoint("runs/missing.npz") == Path("runs/missing.npz")
