"""The figures: every function returns a titled Figure with the panels it promises, and every
PNG it saves is a real picture. Tiny untrained models keep this fast."""

from __future__ import annotations

import json

import numpy as np
import pytest
from matplotlib.figure import Figure

from ntm_numpy import NTM, checkpoint, viz
from ntm_numpy.lstm_baseline import LSTMModel
from ntm_numpy.tasks import make_task

BITS = 4
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def task():
    return make_task("copy", bits=BITS, max_length=5)


@pytest.fixture(scope="module")
def ntm():
    return NTM(
        input_size=BITS + 1, output_size=BITS, memory_size=12, memory_dim=5, controller_size=8
    )


@pytest.fixture(scope="module")
def lstm():
    return LSTMModel(input_size=BITS + 1, output_size=BITS, hidden_size=8, num_layers=2)


@pytest.fixture(scope="module")
def batch(task):
    return task.sample(batch_size=2, rng=np.random.default_rng(0), length=5)


def titled(fig: Figure) -> list[str]:
    """The non-empty panel titles (colour bars have none)."""
    return [ax.get_title() for ax in fig.axes if ax.get_title()]


def check_png(fig: Figure, path) -> None:
    written = viz.save(fig, path)
    assert written == path
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 5_000
    assert not list(path.parent.glob(f".{path.name}.*")), "temporary file left behind"


def test_copy_generalisation(ntm, lstm, task, tmp_path):
    lengths = (2, 6)
    fig = viz.copy_generalisation({"NTM": ntm, "LSTM": lstm}, task, lengths=lengths, seed=3)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 3 * len(lengths) + 1  # targets, NTM, LSTM rows and one colour bar
    titles = titled(fig)
    assert len(titles) == 3 * len(lengths)
    assert sum(t.startswith("targets, length") for t in titles) == len(lengths)
    assert sum("wrong bit" in t for t in titles) == 2 * len(lengths)
    assert fig.get_suptitle()
    check_png(fig, tmp_path / "generalisation.png")


def test_copy_generalisation_counts_wrong_bits(ntm, task):
    fig = viz.copy_generalisation({"NTM": ntm}, task, lengths=(4,), seed=1)
    batch = task.sample(batch_size=1, rng=np.random.default_rng(1), length=4)
    logits, _ = ntm.forward(batch.inputs, keep_cache=False)
    scored = batch.mask[:, 0] > 0
    wrong = int(np.sum((logits[scored, 0] > 0) != (batch.targets[scored, 0] > 0.5)))
    assert f"NTM: {wrong} wrong bit" in titled(fig)[1]


def test_copy_generalisation_needs_models(task):
    with pytest.raises(ValueError, match="models"):
        viz.copy_generalisation({}, task)


def test_head_heatmaps(ntm, batch, tmp_path):
    fig = viz.head_heatmaps(ntm, batch, title="tiny copy")
    assert len(fig.axes) == 11  # 7 panels; colour bars for bits, adds, reads, weightings
    titles = titled(fig)
    assert len(titles) == 7
    assert any("write weightings" in t for t in titles)
    assert any("read weightings" in t for t in titles)
    assert "tiny copy" in fig.get_suptitle()
    check_png(fig, tmp_path / "heads.png")


def test_head_heatmaps_uncropped_second_row(ntm, batch):
    fig = viz.head_heatmaps(ntm, batch, row=1, crop=False)
    assert len(titled(fig)) == 7
    weights_axis = next(ax for ax in fig.axes if ax.get_title().startswith("write weightings"))
    assert weights_axis.get_ylabel() == "memory location"


def test_head_heatmaps_need_an_ntm(lstm, batch):
    with pytest.raises(ValueError, match="needs an NTM"):
        viz.head_heatmaps(lstm, batch)


@pytest.mark.parametrize("head", ["write", "read"])
def test_addressing_stages(ntm, batch, head, tmp_path):
    fig = viz.addressing_stages(ntm, batch, step=7, head=head)
    assert len(fig.axes) == 4
    titles = titled(fig)
    assert len(titles) == 4
    for symbol, title in zip(("beta", "$g$", "$s$", "gamma"), titles, strict=True):
        assert symbol in title
    assert f"{head} head" in fig.get_suptitle()
    check_png(fig, tmp_path / f"stages_{head}.png")


def test_addressing_stages_rejects_bad_arguments(ntm, batch):
    with pytest.raises(ValueError, match="head"):
        viz.addressing_stages(ntm, batch, step=0, head="erase")
    with pytest.raises(ValueError, match="step"):
        viz.addressing_stages(ntm, batch, step=batch.num_steps)


def test_memory_over_time(ntm, batch, tmp_path):
    fig = viz.memory_over_time(ntm, batch)
    assert len(fig.axes) == 6 + 1  # six steps and one shared colour bar
    assert len(titled(fig)) == 6
    check_png(fig, tmp_path / "memory.png")
    fig = viz.memory_over_time(ntm, batch, steps=[0, 10])
    assert [ax.get_title() for ax in fig.axes[:2]] == ["after step 0", "after step 10"]
    assert len(fig.axes) == 3


def test_learning_curves(tmp_path):
    sequences = np.arange(1, 40) * 1600
    ntm_rows = [{"sequences": int(s), "cost": 80.0 * np.exp(-s / 8000) + 0.05} for s in sequences]
    lstm_rows = [{"sequences": int(s), "cost": 80.0 - s / 1000} for s in sequences]
    fig = viz.learning_curves(
        {"NTM": ntm_rows, "LSTM": lstm_rows}, "Copy", reference={"Bayes-optimal": 1.5}
    )
    (ax,) = fig.axes
    assert ax.get_title() == "Copy"
    assert ax.get_yscale() == "log"  # 80 down to 0.05: more than two decades
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["NTM", "LSTM", "Bayes-optimal (1.5)"]
    check_png(fig, tmp_path / "curves.png")
    fig = viz.learning_curves({"LSTM": lstm_rows}, "narrow")
    assert fig.axes[0].get_yscale() == "linear"


def test_demo_figures(ntm, tmp_path):
    paths = viz.demo_figures(ntm, tmp_path / "demo")
    assert [p.name for p in paths] == ["copy_generalisation.png", "copy_heads.png"]
    for p in paths:
        assert p.read_bytes().startswith(PNG_SIGNATURE)
        assert p.stat().st_size > 5_000


def write_metrics(path, costs) -> None:
    rows = [
        {"step": 100 * i, "sequences": 1600 * i, "cost": c, "bit_errors": c / 4}
        for i, c in enumerate(costs, 1)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_all_figures_from_a_pretrained_folder(ntm, tmp_path, monkeypatch, capsys):
    pretrained = tmp_path / "pretrained"
    monkeypatch.setattr(checkpoint, "PRETRAINED_DIR", pretrained)
    config = {"task": "copy", "task_options": {"bits": BITS, "max_length": 5}}
    ntm.save(pretrained / "copy.npz", train_state={"config": config})
    (pretrained / "repeat_copy.npz").write_bytes(b"not a checkpoint")
    ntm.save(pretrained / "associative_recall.npz", train_state={"config": config})  # wrong task
    write_metrics(pretrained / "copy.metrics.jsonl", [60.0, 20.0, 2.0, 0.1])
    write_metrics(pretrained / "lstm_copy.metrics.jsonl", [60.0, 50.0, 40.0])
    write_metrics(pretrained / "ngrams.metrics.jsonl", [150.0, 140.0, 135.0])

    paths = viz.all_figures(tmp_path / "figures")

    assert sorted(p.name for p in paths) == [
        "addressing_stages.png",
        "copy_generalisation.png",
        "copy_heads.png",
        "learning_curves.png",
        "memory_over_time.png",
    ]
    for p in paths:
        assert p.parent == tmp_path / "figures"
        assert p.stat().st_size > 5_000
    notes = capsys.readouterr().out
    assert "skipped 'repeat_copy'" in notes and "not a readable checkpoint" in notes
    assert "skipped 'associative_recall'" in notes and "found NTM for task 'copy'" in notes


def test_a_checkpoint_without_training_config_gets_the_task_defaults(
    lstm, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(checkpoint, "PRETRAINED_DIR", tmp_path)
    lstm.save(tmp_path / "lstm_copy.npz")  # no train_state: copy's defaults, bits resized
    model, task = viz._load_pretrained("lstm_copy")
    assert isinstance(model, LSTMModel)
    assert task.name == "copy"
    assert (task.input_size, task.output_size) == (BITS + 1, BITS)
    assert "defaults" in capsys.readouterr().out


def test_all_figures_without_models(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(checkpoint, "PRETRAINED_DIR", tmp_path / "nothing")
    assert viz.all_figures(tmp_path / "figures") == []
    assert "skipped" in capsys.readouterr().out
