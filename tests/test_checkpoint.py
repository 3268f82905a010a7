"""Tests of ntm_numpy.training.checkpoint: round trips of both models and the optimizer state,
atomic writes, and one clear ``CheckpointError`` (naming the file) for every way a file can be
bad."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from helpers import assert_checkpoint_error

from ntm_numpy.lstm_baseline import LSTMModel
from ntm_numpy.model import NTM
from ntm_numpy.optim import AdamConfig
from ntm_numpy.tasks import make_task
from ntm_numpy.training import checkpoint
from ntm_numpy.training.checkpoint import CheckpointError, load, read, save
from ntm_numpy.training.optimizers import Adam, optimizer_from_state

INPUT, OUTPUT = 4, 3


def tiny_ntm(**options) -> NTM:
    config = dict(
        input_size=INPUT,
        output_size=OUTPUT,
        memory_size=8,
        memory_dim=6,
        controller_size=16,
        seed=1,
    )
    config.update(options)
    return NTM(**config)


def tiny_lstm(**options) -> LSTMModel:
    config = dict(input_size=INPUT, output_size=OUTPUT, hidden_size=8, num_layers=2, seed=1)
    config.update(options)
    return LSTMModel(**config)


def batch(seed: int = 0, T: int = 5, B: int = 3):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, size=(T, B, INPUT)).astype(float)
    y = rng.integers(0, 2, size=(T, B, OUTPUT)).astype(float)
    return x, y


def perturb(model, seed: int = 0) -> None:
    """Move every parameter off its initial value: a round trip cannot pass by re-initialising."""
    rng = np.random.default_rng(seed)
    model.params = {
        k: (v + 0.1 * rng.standard_normal(v.shape)).astype(v.dtype) for k, v in model.params.items()
    }


def assert_same_model(a, b) -> None:
    assert type(a) is type(b)
    assert a.config == b.config
    assert set(a.params) == set(b.params)
    for key in a.params:
        assert a.params[key].dtype == b.params[key].dtype, key
        assert np.array_equal(a.params[key], b.params[key]), key
    x, _ = batch(7)
    logits_a, _ = a.forward(x, keep_cache=False)
    logits_b, _ = b.forward(x, keep_cache=False)
    assert logits_a.dtype == logits_b.dtype
    assert np.array_equal(logits_a, logits_b)


def leftovers(directory) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name != "checkpoint.npz")


# --- round trips -----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("memory_init", ["constant", "learned", "random"])
def test_ntm_round_trip(tmp_path, dtype, memory_init):
    model = tiny_ntm(dtype=dtype, memory_init=memory_init)
    perturb(model)
    path = save(tmp_path / "checkpoint.npz", model)
    assert path == tmp_path / "checkpoint.npz"
    assert_same_model(model, load(path))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lstm_round_trip(tmp_path, dtype):
    model = tiny_lstm(dtype=dtype)
    perturb(model)
    save(tmp_path / "checkpoint.npz", model)
    assert_same_model(model, load(tmp_path / "checkpoint.npz"))


def test_model_save_method(tmp_path):
    for model in (tiny_ntm(), tiny_lstm()):
        perturb(model)
        model.save(tmp_path / "checkpoint.npz")
        assert_same_model(model, load(tmp_path / "checkpoint.npz"))


def test_train_state_and_extra_round_trip(tmp_path):
    state = {"step": 12, "rng": np.random.default_rng(3).bit_generator.state, "max_length": None}
    save(tmp_path / "checkpoint.npz", tiny_ntm(), train_state=state, note="hello", n=3)
    saved = read(tmp_path / "checkpoint.npz")
    assert saved.path == tmp_path / "checkpoint.npz"
    assert saved.train_state == state
    assert saved.extra == {"note": "hello", "n": 3}
    assert saved.optimizer_state is None


@pytest.mark.parametrize("make_model", [tiny_ntm, tiny_lstm], ids=["ntm", "lstm"])
def test_optimizer_state_round_trip(tmp_path, make_model):
    model, twin = make_model(), make_model()
    optimizer = Adam(AdamConfig(lr=1e-2))
    for seed in range(2):
        _, grads = model.loss_and_grads(*batch(seed))
        optimizer.step(model.params, grads)
    save(tmp_path / "checkpoint.npz", model, optimizer=optimizer)

    saved = read(tmp_path / "checkpoint.npz")
    restored = optimizer_from_state(saved.optimizer_state)
    assert isinstance(restored, Adam)
    assert restored.config == optimizer.config
    assert restored.steps == optimizer.steps == 2
    expected, got = optimizer.state_dict(), restored.state_dict()
    assert set(got["state"]) == set(expected["state"])
    for key, value in expected["state"].items():
        assert np.array_equal(got["state"][key], value), key

    # one more step from either copy lands on the same parameters
    twin = saved.model
    _, grads = model.loss_and_grads(*batch(5))
    optimizer.step(model.params, grads)
    _, grads = twin.loss_and_grads(*batch(5))
    restored.step(twin.params, grads)
    assert_same_model(model, twin)


def test_save_creates_directories(tmp_path):
    path = tmp_path / "a" / "b" / "model.npz"
    save(path, tiny_ntm())
    assert path.exists()
    assert_same_model(tiny_ntm(), load(path))


# --- atomic writes ---------------------------------------------------------------------------


def test_save_leaves_no_temporary_files(tmp_path):
    model = tiny_ntm()
    for _ in range(3):
        save(tmp_path / "checkpoint.npz", model, optimizer=Adam())
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()], ids=repr)
def test_failed_save_keeps_previous_checkpoint(tmp_path, monkeypatch, error):
    path = tmp_path / "checkpoint.npz"
    save(path, tiny_ntm(seed=1))
    before = path.read_bytes()

    def broken_savez(file, **arrays):
        file.write(b"PK\x03\x04 half an archive")
        raise error

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(type(error)):
        save(path, tiny_ntm(seed=2))
    monkeypatch.undo()

    assert path.read_bytes() == before
    assert leftovers(tmp_path) == []
    assert_same_model(tiny_ntm(seed=1), load(path))


# --- bad files -------------------------------------------------------------------------------


def write_archive(path, arrays: dict, meta: dict | None) -> None:
    """An .npz by hand: ``arrays`` plus (unless None) ``meta`` as meta.json."""
    contents = dict(arrays)
    if meta is not None:
        contents["meta.json"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(path, **contents)


@pytest.fixture
def good(tmp_path):
    """The arrays and meta of a real checkpoint, to corrupt one piece at a time."""
    path = save(tmp_path / "good.npz", tiny_ntm(), optimizer=Adam())
    with np.load(path) as archive:
        arrays = {k: archive[k] for k in archive.files}
    meta = json.loads(arrays.pop("meta.json").tobytes().decode())
    return path, arrays, meta


def assert_error(path, *fragments: str) -> None:
    """As ``helpers.assert_checkpoint_error``, and the message is one line."""
    assert "\n" not in assert_checkpoint_error(path, *fragments)
    assert issubclass(CheckpointError, ValueError)  # what was raised is a ValueError too


def test_missing_file(tmp_path):
    assert_error(tmp_path / "nope.npz", "no such checkpoint file")


def test_directory(tmp_path):
    assert_error(tmp_path, "is a directory")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    assert_error(path, "not a readable checkpoint")


def test_truncated_file(tmp_path, good):
    data = good[0].read_bytes()
    path = tmp_path / "truncated.npz"
    path.write_bytes(data[: len(data) // 2])
    assert_error(path, "not a readable checkpoint", "truncated")


def test_random_bytes(tmp_path):
    # case 17 of issue #14: said "contains pickled data ... allow_pickle", which misleads
    path = tmp_path / "random.npz"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    assert_error(path, "not an ntm_numpy checkpoint")
    with pytest.raises(CheckpointError) as info:
        read(path)
    assert "pickle" not in str(info.value)


def test_corrupted_member(tmp_path, good):
    data = bytearray(good[0].read_bytes())
    start = data.index(b"param/output.W")  # the member's local header; its data follows
    for i in range(start + 200, start + 260):
        data[i] ^= 0xFF
    path = tmp_path / "corrupt.npz"
    path.write_bytes(bytes(data))
    assert_error(path, "not a readable checkpoint")


def test_npy_instead_of_npz(tmp_path):
    path = tmp_path / "array.npy"
    np.save(path, np.zeros(3))
    assert_error(path)


def test_npz_without_meta(tmp_path, good):
    _, arrays, _ = good
    path = tmp_path / "plain.npz"
    write_archive(path, arrays, None)
    assert_error(path, "no meta.json")


def test_corrupt_meta(tmp_path, good):
    _, arrays, _ = good
    path = tmp_path / "bad_meta.npz"
    np.savez(path, **arrays, **{"meta.json": np.frombuffer(b"{not json", dtype=np.uint8)})
    assert_error(path, "meta.json is corrupt")


def with_config(**changes):
    def corrupt(arrays, meta):
        meta["config"].update(changes)

    return corrupt


def drop_param(name):
    def corrupt(arrays, meta):
        del arrays[f"param/{name}"]

    return corrupt


def nan_param(arrays, meta):
    arrays["param/output.b"] = np.full_like(arrays["param/output.b"], np.nan)


def wrong_format(arrays, meta):
    meta["format"] = "something/else"


def unknown_model(arrays, meta):
    meta["model_type"] = "transformer"


@pytest.mark.parametrize(
    ("corrupt", "fragments"),
    [
        (with_config(memory_size=10), ("shape", "config gives")),
        (with_config(controller_size=12), ("shape",)),
        (with_config(memory_size=-1), ("config is invalid", "memory_size")),
        (with_config(colour="red"), ("config is invalid", "colour")),
        (drop_param("output.W"), ("missing ['output.W']",)),
        (nan_param, ("output.b", "NaN")),
        (wrong_format, ("unknown checkpoint format", "something/else")),
        (unknown_model, ("config is invalid", "transformer")),
    ],
    ids=[
        "memory_size",
        "controller_size",
        "bad-config-value",
        "unknown-config-key",
        "missing-param",
        "nan-param",
        "format",
        "model-type",
    ],
)
def test_mismatched_checkpoint(tmp_path, good, corrupt, fragments):
    _, arrays, meta = good
    corrupt(arrays, meta)
    path = tmp_path / "bad.npz"
    write_archive(path, arrays, meta)
    assert_error(path, *fragments)


def test_hand_built_archive_of_a_real_checkpoint_loads(tmp_path, good):
    # the control for the cases above: the unchanged pieces make a readable checkpoint
    _, arrays, meta = good
    path = tmp_path / "copy.npz"
    write_archive(path, arrays, meta)
    assert_same_model(tiny_ntm(), load(path))


def test_pretrained_unknown_name():
    with pytest.raises(ValueError) as info:
        checkpoint.pretrained("nonexistent")
    message = str(info.value)
    assert "nonexistent" in message
    assert "available" in message
    for name in checkpoint.pretrained_names():
        assert name in message


@pytest.mark.parametrize("name", checkpoint.pretrained_names() or ["none"])
def test_pretrained_models_load(name):
    if name == "none" and not checkpoint.pretrained_names():
        pytest.skip("no pretrained models shipped yet")
    model = checkpoint.pretrained(name)
    assert model.model_type in ("ntm", "lstm")
    assert all(np.all(np.isfinite(p)) for p in model.params.values())


@pytest.mark.parametrize("name", checkpoint.pretrained_names())
def test_shipped_model_is_small_float32_with_its_log_and_settings(name):
    path = checkpoint.PRETRAINED_DIR / f"{name}.npz"
    assert path.stat().st_size < 2 * 1024 * 1024, f"{path} is over 2 MiB"
    saved = checkpoint.read(path)
    assert saved.model.config.dtype == "float32"
    assert saved.optimizer_state is None  # shipped without the optimizer's state
    config = saved.train_state["config"]  # the run's settings, for evaluate and the figures
    task = make_task(config["task"], **config["task_options"])
    assert (task.input_size, task.output_size) == (
        saved.model.config.input_size,
        saved.model.config.outputs,
    )
    assert (checkpoint.PRETRAINED_DIR / f"{name}.metrics.jsonl").exists()


def test_checkpoint_error_is_a_value_error():
    assert issubclass(CheckpointError, ValueError)


def test_no_stray_files_in_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    save("checkpoint.npz", tiny_ntm())
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.npz"]
