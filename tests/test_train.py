"""Tests of ntm_numpy.training.loop: the trainer learns a tiny copy task, resumes bit for bit, stops
cleanly on NaN and on Ctrl-C, logs one metrics row per evaluation, grows the curriculum, and
validates its config.

Every model here is tiny (8 x 6 memory, 16 LSTM units) so that a run of a few dozen steps takes
a fraction of a second; only the learning test trains for a few hundred steps.
"""

from __future__ import annotations

import math
import signal
from pathlib import Path

import numpy as np
import pytest

import ntm_numpy.training.loop as train_module
from ntm_numpy.tasks import make_task
from ntm_numpy.training import (
    TrainConfig,
    TrainingDiverged,
    build,
    evaluate,
    read_metrics,
    train,
)
from ntm_numpy.training.checkpoint import read, save
from ntm_numpy.training.optimizers import optimizer_from_state

TINY_MODEL = {"memory_size": 8, "memory_dim": 6, "controller_size": 16}
METRIC_FIELDS = ("step", "sequences", "cost", "bit_errors", "train_cost", "max_length")


def tiny_config(**overrides) -> TrainConfig:
    """A copy run of 20 steps: evaluate, log and checkpoint every 5 steps."""
    options = {
        "task": "copy",
        "task_options": {"bits": 3, "min_length": 1, "max_length": 3},
        "model_options": dict(TINY_MODEL),
        "batch_size": 4,
        "steps": 20,
        "eval_every": 5,
        "checkpoint_every": 5,
        "log_every": 5,
        "eval_sequences": 20,
        "eval_batch_size": 10,
        "seed": 3,
        "curriculum": False,
    }
    options.update(overrides)
    return TrainConfig(**options)


def metric_values(rows: list[dict]) -> list[tuple]:
    """The deterministic part of each metrics row (``seconds`` is wall time)."""
    return [tuple(row[name] for name in METRIC_FIELDS) for row in rows]


def assert_same_params(a: dict, b: dict) -> None:
    assert set(a) == set(b)
    for key in a:
        assert a[key].dtype == b[key].dtype, key
        assert np.array_equal(a[key], b[key]), key


class Stop(Exception):
    """Raised from ``on_eval`` to simulate a run killed after an evaluation."""


def stop_at(step: int):
    def on_eval(row: dict) -> None:
        if row["step"] == step:
            raise Stop(step)

    return on_eval


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, train_module.TrainResult]:
    """``tiny_config()`` trained for its 20 steps without a break."""
    out = tmp_path_factory.mktemp("reference")
    return out, train(tiny_config(), out, verbose=False)


# --- learning --------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1], ids=lambda s: f"seed={s}")
def test_learns_tiny_copy(seed):
    # Lengths 1-2 of 4-bit vectors: every seed we tried (0-11) gets under 0.1 bit errors per
    # sequence within 175-325 steps; 800 leaves a wide margin.
    config = TrainConfig(
        task="copy",
        task_options={"bits": 4, "min_length": 1, "max_length": 2},
        model_options={"memory_size": 8, "memory_dim": 6, "controller_size": 32},
        optimizer_options={"lr": 1e-2},
        batch_size=16,
        steps=800,
        eval_every=25,
        eval_sequences=100,
        eval_batch_size=10,
        target_bit_errors=0.1,
        curriculum=False,
        seed=seed,
    )
    task, untrained, _ = build(config)
    before = evaluate(untrained, task, sequences=100, batch_size=10, seed=123)
    result = train(config, None, verbose=False)
    after = evaluate(result.model, task, sequences=100, batch_size=10, seed=123)

    assert result.converged
    assert result.step < config.steps
    assert result.history[-1]["bit_errors"] < 0.1
    assert after["bit_errors"] < 0.5
    assert after["cost"] < before["cost"] / 5
    assert result.history[-1]["cost"] < result.history[0]["cost"] / 3


# --- resume ----------------------------------------------------------------------------------


def test_resume_after_crash_matches_uninterrupted_run(tmp_path, reference):
    reference_dir, uninterrupted = reference
    config = tiny_config()
    with pytest.raises(Stop):
        train(config, tmp_path, verbose=False, on_eval=stop_at(15))
    # the crash came after the evaluation at step 15 but before its checkpoint
    assert read(tmp_path / "checkpoint.npz").train_state["step"] == 10
    assert [r["step"] for r in read_metrics(tmp_path)] == [5, 10, 15]

    resumed = train(config, tmp_path, resume=True, verbose=False)

    assert resumed.step == uninterrupted.step == 20
    assert resumed.sequences == uninterrupted.sequences
    assert metric_values(read_metrics(tmp_path)) == metric_values(read_metrics(reference_dir))
    assert metric_values(resumed.history) == metric_values(uninterrupted.history)
    assert_same_params(resumed.model.params, uninterrupted.model.params)
    a, b = read(tmp_path / "checkpoint.npz"), read(reference_dir / "checkpoint.npz")
    assert a.optimizer_state["steps"] == b.optimizer_state["steps"] == 20
    assert_same_params(a.optimizer_state["state"], b.optimizer_state["state"])
    assert a.train_state["rng"] == b.train_state["rng"]


def test_resume_between_evaluations_keeps_train_cost(tmp_path):
    config = tiny_config(checkpoint_every=2)
    uninterrupted = train(config, tmp_path / "a", verbose=False)
    with pytest.raises(Stop):
        train(config, tmp_path / "b", verbose=False, on_eval=stop_at(15))
    assert read(tmp_path / "b" / "checkpoint.npz").train_state["step"] == 14
    resumed = train(config, tmp_path / "b", resume=True, verbose=False)
    assert_same_params(resumed.model.params, uninterrupted.model.params)
    assert metric_values(read_metrics(tmp_path / "b")) == metric_values(
        read_metrics(tmp_path / "a")
    )


def test_lstm_resume_matches_uninterrupted_run(tmp_path):
    config = tiny_config(model="lstm", model_options={"hidden_size": 8, "num_layers": 2})
    uninterrupted = train(config, tmp_path / "a", verbose=False)
    stopped = train(config, tmp_path / "b", verbose=False, on_eval=ctrl_c_at(10))
    assert stopped.interrupted and stopped.step == 10
    resumed = train(config, tmp_path / "b", resume=True, verbose=False)
    assert resumed.model.model_type == "lstm"
    assert_same_params(resumed.model.params, uninterrupted.model.params)
    assert metric_values(resumed.history) == metric_values(uninterrupted.history)


def test_resume_at_another_learning_rate(tmp_path):
    """resume_lr anneals by hand: the same run, continued at the new rate, which sticks."""
    config = tiny_config(steps=10)
    train(config, tmp_path / "a", verbose=False)
    train(config, tmp_path / "b", verbose=False)
    longer = tiny_config(steps=20)
    same = train(longer, tmp_path / "a", resume=True, verbose=False)
    slower = train(longer, tmp_path / "b", resume=True, resume_lr=1e-5, verbose=False)
    lr = tiny_config().optimizer_options["lr"]
    assert [r["lr"] for r in read_metrics(tmp_path / "b")] == [lr, lr, 1e-5, 1e-5]
    assert read(tmp_path / "b" / "checkpoint.npz").optimizer_state["config"]["lr"] == 1e-5
    # the same gradients, smaller steps: after step 10 the runs part
    a, b = same.model.params, slower.model.params
    assert any(not np.array_equal(a[k], b[k]) for k in a)
    # a later plain resume keeps the new rate
    train(tiny_config(steps=25), tmp_path / "b", resume=True, verbose=False)
    assert read_metrics(tmp_path / "b")[-1]["lr"] == 1e-5


@pytest.mark.parametrize("resume_lr", [0.0, -1e-3, float("nan"), "fast"])
def test_resume_lr_is_checked(tmp_path, resume_lr):
    train(tiny_config(steps=5), tmp_path, verbose=False)
    with pytest.raises(ValueError, match="resume_lr"):
        train(tiny_config(steps=10), tmp_path, resume=True, resume_lr=resume_lr, verbose=False)


def test_resume_lr_needs_resume():
    with pytest.raises(ValueError, match="resume=True"):
        train(tiny_config(steps=5), None, resume_lr=1e-3, verbose=False)


def test_init_from_starts_at_a_saved_model(tmp_path):
    first = train(tiny_config(steps=10), tmp_path / "a", verbose=False)
    config = tiny_config(
        steps=1, init_from=str(tmp_path / "a" / "checkpoint.npz"), optimizer_options={"lr": 1e-12}
    )
    tuned = train(config, tmp_path / "b", verbose=False)
    for key, value in first.model.params.items():
        np.testing.assert_allclose(tuned.model.params[key], value, rtol=0, atol=1e-9)
    fresh = train(tiny_config(steps=1, optimizer_options={"lr": 1e-12}), None, verbose=False)
    assert not np.allclose(fresh.model.params["heads.W"], first.model.params["heads.W"])


def test_init_from_another_shape_is_a_clear_error(tmp_path):
    train(tiny_config(steps=5), tmp_path / "a", verbose=False)
    other = dict(TINY_MODEL, memory_size=9)
    config = tiny_config(model_options=other, init_from=str(tmp_path / "a" / "checkpoint.npz"))
    with pytest.raises(ValueError, match=r"checkpoint.npz: parameter 'init.weights' has shape"):
        train(config, None, verbose=False)


def test_resume_a_checkpoint_from_before_a_config_field_existed(tmp_path):
    """A field added to TrainConfig since (here: init_from) takes its default on resume."""
    train(tiny_config(steps=5), tmp_path, verbose=False)
    path = tmp_path / "checkpoint.npz"
    saved = read(path)
    del saved.train_state["config"]["init_from"]
    optimizer = optimizer_from_state(saved.optimizer_state)
    save(path, saved.model, optimizer=optimizer, train_state=saved.train_state)
    resumed = train(tiny_config(steps=10), tmp_path, resume=True, verbose=False)
    assert resumed.step == 10


def test_resume_refuses_another_config(tmp_path):
    train(tiny_config(steps=5), tmp_path, verbose=False)
    with pytest.raises(ValueError, match="another config"):
        train(tiny_config(steps=5, seed=4), tmp_path, resume=True, verbose=False)


def test_resume_without_checkpoint(tmp_path):
    with pytest.raises(ValueError, match="nothing to resume from"):
        train(tiny_config(steps=5), tmp_path, resume=True, verbose=False)


# --- divergence ------------------------------------------------------------------------------


def nan_after(monkeypatch, calls: int, checkpoint_path: Path) -> dict:
    """Make ``train``'s model return a NaN loss and NaN gradients from call ``calls + 1`` on.

    Returns a dict that receives the model and the checkpoint bytes seen at the first NaN.
    """
    seen: dict = {"calls": 0}
    real_build = train_module.build

    def build_with_nan(config):
        task, model, optimizer = real_build(config)
        real_loss_and_grads = model.loss_and_grads
        seen["model"] = model

        def loss_and_grads(x, y, mask=None):
            loss, grads = real_loss_and_grads(x, y, mask)
            seen["calls"] += 1
            if seen["calls"] <= calls:
                return loss, grads
            if "checkpoint" not in seen and checkpoint_path.exists():
                seen["checkpoint"] = checkpoint_path.read_bytes()
            return loss * math.nan, {k: g * math.nan for k, g in grads.items()}

        model.loss_and_grads = loss_and_grads
        return task, model, optimizer

    monkeypatch.setattr(train_module, "build", build_with_nan)
    return seen


@pytest.mark.parametrize(
    ("good_calls", "flush_step"),
    [
        # NaN params between log points make numpy warn in the next forward pass
        pytest.param(12, 14, marks=pytest.mark.filterwarnings("ignore::RuntimeWarning")),
        (14, 14),
    ],
    ids=["nan-between-log-points", "nan-at-log-point"],
)
def test_nan_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch, good_calls, flush_step):
    # checkpoints at steps 5 and 10; the loss is read back before the update of every 5th step
    seen = nan_after(monkeypatch, good_calls, tmp_path / "checkpoint.npz")
    with pytest.raises(TrainingDiverged) as info:
        train(tiny_config(), tmp_path, verbose=False)

    message = str(info.value)
    assert "NaN" in message
    assert f"step {flush_step}" in message
    assert str(tmp_path / "checkpoint.npz") in message
    assert (tmp_path / "checkpoint.npz").read_bytes() == seen["checkpoint"]
    saved = read(tmp_path / "checkpoint.npz")
    assert saved.train_state["step"] == 10
    assert all(np.all(np.isfinite(p)) for p in saved.model.params.values())
    assert [r["step"] for r in read_metrics(tmp_path)] == [5, 10]
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    if good_calls == flush_step:  # caught before the update: the params never saw the NaN
        assert all(np.all(np.isfinite(p)) for p in seen["model"].params.values())


def test_nan_before_first_checkpoint_writes_nothing(tmp_path, monkeypatch):
    nan_after(monkeypatch, 4, tmp_path / "checkpoint.npz")  # NaN at the first log point
    with pytest.raises(TrainingDiverged, match="NaN"):
        train(tiny_config(), tmp_path, verbose=False)
    assert not (tmp_path / "checkpoint.npz").exists()


# --- Ctrl-C ----------------------------------------------------------------------------------


def ctrl_c_at(step: int, times: int = 1):
    def on_eval(row: dict) -> None:
        if row["step"] == step:
            for _ in range(times):
                signal.raise_signal(signal.SIGINT)

    return on_eval


def test_ctrl_c_saves_and_resume_continues(tmp_path, reference):
    reference_dir, uninterrupted = reference
    handler = signal.getsignal(signal.SIGINT)
    config = tiny_config()

    stopped = train(config, tmp_path, verbose=False, on_eval=ctrl_c_at(10))

    assert signal.getsignal(signal.SIGINT) is handler
    assert stopped.interrupted and not stopped.converged
    assert stopped.step == 10
    assert read(tmp_path / "checkpoint.npz").train_state["step"] == 10
    assert [r["step"] for r in read_metrics(tmp_path)] == [5, 10]

    resumed = train(config, tmp_path, resume=True, verbose=False)
    assert not resumed.interrupted
    assert resumed.step == 20
    assert metric_values(read_metrics(tmp_path)) == metric_values(read_metrics(reference_dir))
    assert_same_params(resumed.model.params, uninterrupted.model.params)


def test_second_ctrl_c_interrupts_at_once(tmp_path):
    handler = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(), tmp_path, verbose=False, on_eval=ctrl_c_at(10, times=2))
    assert signal.getsignal(signal.SIGINT) is handler
    assert read(tmp_path / "checkpoint.npz").train_state["step"] == 5


# --- metrics, evaluate, curriculum -----------------------------------------------------------


def test_metrics_one_row_per_evaluation(tmp_path):
    config = tiny_config(steps=7, eval_every=3, checkpoint_every=100, log_every=1)
    result = train(config, tmp_path, verbose=False)

    rows = read_metrics(tmp_path / "metrics.jsonl")
    assert rows == read_metrics(tmp_path) == result.history
    assert [r["step"] for r in rows] == [3, 6, 7]  # and one at the last step
    for row in rows:
        assert {"step", "sequences", "seconds", "cost", "bit_errors"} <= set(row)
        assert row["sequences"] == row["step"] * config.batch_size
        assert row["seconds"] >= 0
        assert row["cost"] > 0 and row["bit_errors"] >= 0
        assert row["max_length"] is None
    assert [r["seconds"] for r in rows] == sorted(r["seconds"] for r in rows)
    saved = read(tmp_path / "checkpoint.npz")  # written at the end, though checkpoint_every > steps
    assert saved.train_state["step"] == 7
    assert saved.train_state["config"] == config.to_dict()
    assert saved.optimizer_state["steps"] == 7


def test_best_evaluation_is_kept_and_exported(tmp_path):
    from ntm_numpy.training.checkpoint import export_pretrained

    config = tiny_config(steps=30, eval_every=5, eval_sequences=40)
    result = train(config, tmp_path / "run", verbose=False)
    best_row = min(result.history, key=lambda r: (r["bit_errors"], r["cost"]))
    best = read(tmp_path / "run" / "best.npz")
    assert best.train_state["step"] == best_row["step"]
    task = make_task(config.task, **config.task_options)
    again = evaluate(
        best.model,
        task,
        sequences=40,
        batch_size=10,
        seed=config.seed * 1_000_003 + best_row["step"],
    )
    assert again["cost"] == pytest.approx(best_row["cost"], rel=1e-6)

    path = export_pretrained(tmp_path / "run", "tiny", tmp_path / "shipped")
    shipped = read(path)
    assert shipped.optimizer_state is None
    assert shipped.train_state["step"] == best_row["step"]
    assert (tmp_path / "shipped" / "tiny.metrics.jsonl").read_text() == (
        tmp_path / "run" / "metrics.jsonl"
    ).read_text()


def test_train_without_out_dir_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = train(tiny_config(steps=5), None, verbose=False)
    assert result.step == 5 and len(result.history) == 1
    assert list(tmp_path.iterdir()) == []


class Oracle:
    """A copy-task 'model' that outputs +-20 logits: the right bits, or all of them flipped."""

    device = "cpu"

    def __init__(self, bits: int, flip: bool = False) -> None:
        self.bits, self.sign = bits, -1.0 if flip else 1.0

    def forward(self, x, keep_cache=True):
        T, B, _ = x.shape
        L = (T - 1) // 2
        logits = np.full((T, B, self.bits), -20.0)
        logits[L + 1 :] = self.sign * 20.0 * (2.0 * x[:L, :, : self.bits] - 1.0)
        return logits, None


def test_evaluate_counts_bits_per_sequence():
    task = make_task("copy", bits=3, min_length=1, max_length=4)
    perfect = evaluate(Oracle(3), task, sequences=25, batch_size=10, length=2)
    wrong = evaluate(Oracle(3, flip=True), task, sequences=25, batch_size=10, length=2)

    assert set(perfect) == {"cost", "bit_errors"}
    assert perfect["bit_errors"] == 0
    assert perfect["cost"] < 1e-6
    assert wrong["bit_errors"] == pytest.approx(2 * 3)  # every bit of 2 vectors of 3 bits
    assert wrong["cost"] == pytest.approx(2 * 3 * 20 / math.log(2), rel=1e-6)


@pytest.mark.parametrize(
    ("name", "options", "sequences", "expected"),
    [
        ("copy", {"bits": 3, "min_length": 2, "max_length": 4}, 13, [4, 4, 4, 3, 3, 2, 2]),
        ("copy", {"bits": 3, "min_length": 1, "max_length": 9}, 6, [9, 6, 3]),
        ("associative_recall", {"min_items": 2, "max_items": 3}, 8, [3, 3, 2, 2]),
        ("priority_sort", {}, 7, [None] * 4),
    ],
)
def test_evaluate_spreads_batches_over_the_lengths(monkeypatch, name, options, sequences, expected):
    """Over the training range every length gets its share of batches, the longest first."""
    task = make_task(name, **options)
    lengths, sample = [], type(task).sample

    def recording_sample(self, *, batch_size, rng, length=None):
        lengths.append(length)
        return sample(self, batch_size=batch_size, rng=rng, length=length)

    monkeypatch.setattr(type(task), "sample", recording_sample)  # tasks are frozen
    model = build(tiny_config(task=name, task_options=options))[1]
    evaluate(model, task, sequences=sequences, batch_size=2)
    assert lengths == expected


def test_evaluate_is_deterministic_given_seed():
    config = tiny_config()
    task, model, _ = build(config)
    a = evaluate(model, task, sequences=15, batch_size=10, seed=5)
    b = evaluate(model, task, sequences=15, batch_size=10, seed=5)
    c = evaluate(model, task, sequences=15, batch_size=10, seed=6)
    assert a == b
    assert a != c
    assert all(isinstance(v, float) for v in a.values())


def test_curriculum_grows_max_length(tmp_path):
    config = tiny_config(
        task_options={"bits": 3, "min_length": 1, "max_length": 5},
        steps=10,
        eval_every=2,
        curriculum=True,
        curriculum_start=2,
        curriculum_threshold=1e9,  # every evaluation unlocks one more length
    )
    result = train(config, tmp_path, verbose=False)
    assert [r["max_length"] for r in result.history] == [2, 3, 4, 5, 5]
    assert read(tmp_path / "checkpoint.npz").train_state["max_length"] == 5


def test_curriculum_waits_below_threshold():
    config = tiny_config(
        task_options={"bits": 3, "min_length": 1, "max_length": 5},
        steps=6,
        eval_every=2,
        curriculum=True,
        curriculum_threshold=1e-9,
    )
    result = train(config, None, verbose=False)
    assert [r["max_length"] for r in result.history] == [2, 2, 2]


def test_convergence_is_judged_on_the_full_range_whatever_the_curriculum():
    # evaluations always score the task's full length range, so a model that already meets the
    # target there has converged, even if the curriculum has not reached the longest length
    config = tiny_config(
        task_options={"bits": 3, "min_length": 1, "max_length": 4},
        steps=20,
        eval_every=2,
        curriculum=True,
        curriculum_threshold=1e9,
        target_bit_errors=1e9,  # every evaluation is good enough
    )
    result = train(config, None, verbose=False)
    assert result.converged
    assert result.step == 2
    assert [r["max_length"] for r in result.history] == [2]
    full_range = evaluate(
        result.model,
        make_task("copy", **config.task_options),
        sequences=20,
        batch_size=10,
        seed=config.seed * 1_000_003 + 2,
    )
    assert result.history[0]["cost"] == full_range["cost"]


def test_curriculum_respects_min_length():
    try:
        config = tiny_config(
            task_options={"bits": 3, "min_length": 3, "max_length": 5},
            steps=2,
            eval_every=2,
            curriculum=True,
        )
    except ValueError as error:  # refusing the config up front is fine too
        assert "curriculum_start" in str(error)
        return
    result = train(config, None, verbose=False)
    assert result.history[0]["max_length"] >= 3


# --- config validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": -1}, "batch_size"),
        ({"batch_size": 2.5}, "batch_size"),
        ({"batch_size": True}, "batch_size"),
        ({"steps": 0}, "steps"),
        ({"eval_every": 0}, "eval_every"),
        ({"checkpoint_every": -5}, "checkpoint_every"),
        ({"seed": -1}, "seed"),
        ({"clip_norm": 0}, "clip_norm"),
        ({"target_bit_errors": -0.5}, "target_bit_errors"),
        ({"task": "nope"}, "task"),
        ({"task_options": {"bits": 0}}, "bits"),
        ({"task_options": {"colour": 1}}, "colour"),
        ({"model": "gru"}, "model"),
        ({"device": "tpu"}, "device"),
    ],
    ids=lambda v: v if isinstance(v, str) else "-".join(f"{k}={v[k]}" for k in v),
)
def test_config_rejects(options, field):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**options)


def test_config_defaults_are_valid():
    config = TrainConfig()
    assert config.task == "copy" and config.model == "ntm"
    assert TrainConfig(**config.to_dict()) == config


def test_snapshots_every_n_steps_say_their_task_and_step(tmp_path):
    config = tiny_config(steps=7, snapshot_every=3, eval_every=5)
    result = train(config, tmp_path / "run", verbose=False)
    snapshots = sorted((tmp_path / "run" / "snapshots").glob("step_*.npz"))
    assert [p.name for p in snapshots] == ["step_000003.npz", "step_000006.npz"]
    last = read(snapshots[-1])
    assert last.train_state["step"] == 6
    assert last.train_state["config"]["task"] == config.task
    assert not np.array_equal(
        last.model.params["output.W"], read(snapshots[0]).model.params["output.W"]
    )
    assert result.step == 7
