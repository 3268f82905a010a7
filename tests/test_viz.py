"""The figures: every function returns a titled Figure with the panels it promises, and every
PNG it saves is a real picture. Tiny untrained models keep this fast."""

from __future__ import annotations

import json

import numpy as np
import pytest
from matplotlib.figure import Figure

from ntm_numpy import NTM
from ntm_numpy.app import figures, viz
from ntm_numpy.lstm_baseline import LSTMModel
from ntm_numpy.tasks import make_task
from ntm_numpy.training import checkpoint

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
    assert weights_axis.get_ylabel() == "memory row"


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
    seeds = tmp_path / "seed_curves"
    seeds.mkdir()
    for seed in range(3):
        write_metrics(seeds / f"copy_ntm_seed{seed}.metrics.jsonl", [60.0 - seed, 2.0, 0.1])

    paths = figures.all_figures(tmp_path / "figures", seeds)

    assert sorted(p.name for p in paths) == [
        "addressing_stages.png",
        "copy_generalisation.png",
        "copy_heads.png",
        "learning_curves.png",
        "learning_curves_seeds.png",
        "memory_over_time.png",
    ]
    for p in paths:
        assert p.parent == tmp_path / "figures"
        assert p.stat().st_size > 5_000
    notes = capsys.readouterr().out
    repeat_note = next(line for line in notes.splitlines() if "skipped 'repeat_copy'" in line)
    assert "checkpoint" in repeat_note  # checkpoint.read's reason, passed on
    assert "skipped 'associative_recall'" in notes and "found NTM for task 'copy'" in notes


def test_a_checkpoint_that_names_no_task_is_skipped_with_the_reason(
    lstm, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(checkpoint, "PRETRAINED_DIR", tmp_path)
    lstm.save(tmp_path / "lstm_copy.npz")  # no train_state: nothing says which copy task
    assert figures.all_figures(tmp_path / "figures", tmp_path / "no_seed_logs") == []
    note = next(line for line in capsys.readouterr().out.splitlines() if "'lstm_copy'" in line)
    assert "skipped" in note and "names no task" in note


def test_learning_curve_panels_one_panel_per_task():
    rows = [{"sequences": 100 * i, "cost": 50.0 / i} for i in range(1, 6)]
    panels = [
        ("Copy", {"NTM": rows, "LSTM": rows[:3]}, None),
        ("Dynamic N-grams", {"NTM": rows}, {"Bayes-optimal": 3.0}),
        ("Priority sort", {"LSTM": rows}, None),
        ("Repeat copy", {"NTM": rows}, None),
    ]
    fig = viz.learning_curve_panels(panels, "all tasks")
    assert titled(fig) == ["Copy", "Dynamic N-grams", "Priority sort", "Repeat copy"]
    assert fig.get_suptitle() == "all tasks"
    assert len(fig.axes) == 4  # two rows of three: the two empty panels are removed
    assert [len(ax.get_lines()) for ax in fig.axes] == [2, 2, 1, 1]  # N-grams: its reference
    with pytest.raises(ValueError, match="panels"):
        viz.learning_curve_panels([])


def test_all_figures_without_models(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(checkpoint, "PRETRAINED_DIR", tmp_path / "nothing")
    assert figures.all_figures(tmp_path / "figures", tmp_path / "nothing") == []
    notes = capsys.readouterr().out
    assert "skipped" in notes and "bench/seed_curves.py" in notes


# ------------------------------------------------------------------ zoom, signed inputs, mechanisms


def test_the_zoom_holds_the_rows_where_the_weight_is():
    rng = np.random.default_rng(0)
    weights = np.zeros((30, 2, 128))  # [T, heads, N]
    focus = rng.integers(40, 51, size=(30, 2))  # a sharp focus somewhere in rows 40-50
    np.put_along_axis(weights, focus[..., None], 0.9, axis=-1)
    weights += 0.1 / 128  # and a little everywhere
    first, last = viz.weight_mass_rows(weights, margin=2)
    assert first <= focus.min() and focus.max() <= last
    assert last - first <= 10 + 2 * 2  # the window is the focus and the margin, not the memory


def test_diffuse_steps_do_not_widen_the_zoom():
    weights = np.full((20, 64), 1 / 64)  # twenty steps at rest, spread over every row
    weights[:5] = 0.0
    weights[:5, 30] = 1.0  # five steps focused on row 30
    assert viz.weight_mass_rows(weights, margin=0) == (30, 30)


def test_the_zoom_rejects_bad_weights():
    with pytest.raises(ValueError, match="mass"):
        viz.weight_mass_rows(np.ones((3, 4)), mass=0.0)
    with pytest.raises(ValueError, match="non-negative"):
        viz.weight_mass_rows(-np.ones((3, 4)))
    with pytest.raises(ValueError, match="margin"):
        viz.weight_mass_rows(np.ones((3, 4)), margin=-1)
    assert viz.weight_mass_rows(np.zeros((3, 4))) == (0, 3)  # no weight: the whole memory


def input_axis(fig):
    return next(ax for ax in fig.axes if ax.get_title().startswith("inputs"))


def test_signed_inputs_get_a_symmetric_colour_scale(ntm, task):
    batch = task.sample(batch_size=1, rng=np.random.default_rng(0), length=5)
    inputs = batch.inputs.copy()
    inputs[3, 0, -1] = -0.7  # a negative value on the last channel, as a priority would be
    signed = type(batch)(inputs, batch.targets, batch.mask, dict(batch.info))
    fig = viz.head_heatmaps(ntm, signed)
    low, high = input_axis(fig).images[0].get_clim()
    assert low == -high and high >= 1.0
    assert len(fig.axes) == 12  # the signed inputs have a colour bar of their own
    low, high = input_axis(viz.head_heatmaps(ntm, batch)).images[0].get_clim()
    assert (low, high) == (0.0, 1.0)  # bits only: the bits scale


def test_a_one_channel_panel_gets_the_single_integer_tick():
    ngrams = make_task("ngrams", length=12)
    model = NTM(input_size=1, output_size=1, memory_size=10, memory_dim=4, controller_size=6)
    batch = ngrams.sample(batch_size=1, rng=np.random.default_rng(0))
    fig = viz.head_heatmaps(model, batch)
    assert list(input_axis(fig).get_yticks()) == [0]
    assert list(fig.axes[2].get_yticks()) == [0]  # the outputs panel too


def test_head_weightings_draw_every_head(tmp_path):
    sort = make_task("priority_sort", bits=3, num_inputs=5, num_outputs=4)
    model = NTM(
        input_size=sort.input_size,
        output_size=sort.output_size,
        memory_size=16,
        memory_dim=4,
        controller_size=8,
        num_read_heads=3,
        num_write_heads=2,
    )
    batch = sort.sample(batch_size=4, rng=np.random.default_rng(0))
    fig = viz.head_weightings(model, batch)
    titles = titled(fig)
    assert titles == ["write head 0", "write head 1", "read head 0", "read head 1", "read head 2"]
    check_png(fig, tmp_path / "weightings.png")
    fig = viz.priority_rows(model, batch)
    assert len(titled(fig)) == 5 and all("rank correlation" in t for t in titled(fig))
    with pytest.raises(ValueError, match="priority-sort"):
        viz.priority_rows(
            model, make_task("copy", bits=3).sample(batch_size=1, rng=np.random.default_rng(0))
        )


def test_rank_correlation_sees_the_order():
    x = np.linspace(-1, 1, 20)
    assert viz._rank_correlation(x, 3 * x + 1) == pytest.approx(1.0)
    assert viz._rank_correlation(x, -np.exp(x)) == pytest.approx(-1.0)
    assert np.isnan(viz._rank_correlation(x, np.zeros(20)))


def tiny_recall():
    """Associative recall of up to 4 two-step items of 3 bits, and an untrained NTM for it."""
    recall = make_task("associative_recall", bits=3, item_length=2, max_items=4)
    model = NTM(
        input_size=recall.input_size,
        output_size=recall.output_size,
        memory_size=16,
        memory_dim=4,
        controller_size=8,
    )
    return recall, model


def test_recall_weightings_mark_the_query_and_its_successor():
    recall, model = tiny_recall()
    batch = recall.sample(batch_size=2, rng=np.random.default_rng(1), length=4)
    q = int(batch.info["query_index"][1])
    fig = viz.recall_weightings(model, batch, row=1)
    assert f"query item q = {q}" in fig.get_suptitle()
    labels = fig.legends[0].get_texts()
    assert [t.get_text() for t in labels][:2] == [
        f"item q = {q} (queried)",
        f"item q + 1 = {q + 1} (answer)",
    ]
    # item i's vectors follow its delimiter at step i (k + 1); the query is item K
    np.testing.assert_array_equal(viz._item_steps(batch, q), q * 3 + 1 + np.arange(2))
    query = viz._item_steps(batch, 4)
    np.testing.assert_array_equal(
        batch.inputs[query, 1, :3], batch.inputs[viz._item_steps(batch, q), 1, :3]
    )


def test_ngram_contexts_follow_the_task():
    bits = np.array([[1], [0], [1], [1], [0], [1], [1]])
    contexts = viz.ngram_contexts(bits, order=6)  # the last five bits, newest lowest
    assert contexts[4, 0] == 0b10110
    assert contexts[6, 0] == 0b11011


def test_context_consistency_tells_a_table_from_noise():
    rng = np.random.default_rng(0)
    contexts = rng.integers(0, 32, size=(400, 3))
    table = rng.permutation(128)[:32]
    assert viz.context_consistency(table[contexts], contexts) == 1.0  # a row per context
    noise = viz.context_consistency(rng.integers(0, 128, size=(400, 3)), contexts)
    assert noise < 0.5
    with pytest.raises(ValueError, match="same"):
        viz.context_consistency(np.zeros((3, 2)), np.zeros((2, 2)))


def test_ngram_context_rows(tmp_path):
    ngrams = make_task("ngrams", length=40)
    model = NTM(input_size=1, output_size=1, memory_size=12, memory_dim=4, controller_size=6)
    batch = ngrams.sample(batch_size=2, rng=np.random.default_rng(0))
    fig = viz.ngram_context_rows(model, batch)
    titles = titled(fig)
    assert len(titles) == 2 and all("same row for the same context" in t for t in titles)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()][:2] == ["00000", "00001"]
    check_png(fig, tmp_path / "ngrams.png")


def test_architecture_diagram_names_every_stage(tmp_path):
    fig = viz.architecture_diagram()
    text = " ".join(t.get_text() for t in fig.axes[0].texts)
    for stage in ("1. controller", "2. heads", "3. addressing", "4. write", "5. read", "6. output"):
        assert stage in text
    check_png(fig, tmp_path / "architecture.png")


def test_recall_rows_found_see_where_the_read_head_is(monkeypatch):
    recall, model = tiny_recall()
    batch = recall.sample(batch_size=3, rng=np.random.default_rng(2), length=4)
    steps = batch.num_steps
    write = np.zeros((steps, 3, 1, 16))
    write[np.arange(steps), :, 0, np.arange(steps) % 16] = 1.0  # step t writes row t mod 16
    read = np.zeros((steps, 3, 1, 16))
    read[:, :, 0, 5] = 1.0  # everywhere: row 5
    answer = np.flatnonzero(batch.mask[:, 0])
    for b, ahead in ((0, 0), (1, 1)):  # 0 reads q + 1 on the answer steps, 1 one step ahead
        rows = viz._item_steps(batch, int(batch.info["query_index"][b]) + 1) % 16
        read[answer - ahead, b, 0, :] = 0.0
        read[answer - ahead, b, 0, rows] = 1.0
    trace = viz._run_traced(model, batch.inputs)[1]._replace(write_weights=write, read_weights=read)
    monkeypatch.setattr(viz, "_run_traced", lambda m, x: (None, trace))
    found = viz.recall_rows_found(model, batch)
    q2_rows = viz._item_steps(batch, int(batch.info["query_index"][2]) + 1) % 16
    assert found[0] == 1.0 and found[1] == 1.0
    assert found[2] == float(np.isin(q2_rows, [5]).mean())  # row 5 is not item q + 1's


def test_recall_head_pairs_name_the_pair_that_finds_the_answer(monkeypatch):
    recall, model = tiny_recall()
    batch = recall.sample(batch_size=3, rng=np.random.default_rng(2), length=4)
    steps, answer = batch.num_steps, np.flatnonzero(batch.mask[:, 0])
    write = np.zeros((steps, 3, 2, 16))
    write[:, :, 0, 0] = 1.0  # write head 0 stays on row 0
    write[np.arange(steps), :, 1, np.arange(steps) % 16] = 1.0  # write head 1: row t mod 16
    read = np.zeros((steps, 3, 2, 16))
    read[:, :, :, 7] = 1.0  # both read heads on row 7 ...
    for b in range(3):  # ... but read head 0 on item q + 1's rows during the answer
        rows = viz._item_steps(batch, int(batch.info["query_index"][b]) + 1) % 16
        read[answer, b, 0, :] = 0.0
        read[answer, b, 0, rows] = 1.0
    trace = viz._run_traced(model, batch.inputs)[1]._replace(write_weights=write, read_weights=read)
    monkeypatch.setattr(viz, "_run_traced", lambda m, x: (None, trace))
    shares = viz.recall_head_pairs(model, batch)
    assert shares.shape == (2, 2)
    assert shares[1, 0] == 1.0 and np.unravel_index(shares.argmax(), shares.shape) == (1, 0)
    assert shares[1, 1] < 1.0 and shares[0, 0] == 0.0  # row 0 is never item q + 1's in these
    np.testing.assert_array_equal(
        viz.recall_rows_found(model, batch, write_head=1, read_head=0), np.ones(3)
    )
    with pytest.raises(ValueError, match="write_head"):
        viz.recall_rows_found(model, batch, write_head=2)
    with pytest.raises(ValueError, match="read_head"):
        viz.recall_weightings(model, batch, read_head=2)
    fig = viz.recall_weightings(model, batch, write_head=1, read_head=0)  # items of 2 steps
    assert (
        "write head 1" in titled(fig)[0]
        and "read head 0: its focus finds 2 of the 2" in (titled(fig)[1])
    )


# ------------------------------------------------------------------ the paper's other figures


def test_repeat_copy_generalisation(tmp_path):
    repeat = make_task("repeat_copy", bits=3, max_length=4, max_repeats=3)
    model = NTM(
        input_size=repeat.input_size, output_size=repeat.output_size, memory_size=12,
        memory_dim=4, controller_size=8,
    )  # fmt: skip
    fig = viz.repeat_copy_generalisation({"NTM": model}, repeat, ((2, 5), (6, 2)), seed=0)
    titles = titled(fig)
    assert titles[:2] == ["targets, length 2, 5 repeats", "targets, length 6, 2 repeats"]
    assert sum("wrong bit" in t for t in titles) == 2
    # a column is as wide as its output phase: R * L copy steps and the end marker
    widths = [ax.get_images()[0].get_array().shape for ax in fig.axes[:4]]
    assert widths[0] == (4, 2 * 5 + 1) and widths[1] == (4, 6 * 2 + 1)
    check_png(fig, tmp_path / "repeat.png")
    with pytest.raises(ValueError, match="cases"):
        viz.repeat_copy_generalisation({"NTM": model}, repeat, ())


def test_sequence_generalisation_counts_what_it_draws(ntm, task):
    fig = viz.sequence_generalisation({"NTM": ntm}, task, {"five": {"length": 5}}, 2, title="t")
    (targets_ax, output_ax, _) = fig.axes
    targets = targets_ax.get_images()[0].get_array()
    outputs = output_ax.get_images()[0].get_array()
    wrong = int(np.sum((outputs > 0.5) != (targets > 0.5)))
    assert output_ax.get_title() == f"NTM: {wrong} wrong bit{'s' if wrong != 1 else ''}"
    with pytest.raises(ValueError, match="cases"):
        viz.sequence_generalisation({"NTM": ntm}, task, {}, title="t")


def test_seed_curves_draw_the_mean_and_the_spread():
    seeds = [[{"sequences": 100 * i, "cost": c * 10.0 / i} for i in range(1, 6)] for c in (1, 2, 6)]
    seeds[2] = seeds[2][:4]  # a run stopped early: only the counts all three share are drawn
    fig = viz.seed_curve_panels([("Copy", {"NTM": seeds}), ("Recall", {"NTM": seeds[:2]})])
    ax = fig.axes[0]
    (line,) = ax.get_lines()
    np.testing.assert_allclose(line.get_xdata(), [100, 200, 300, 400])
    np.testing.assert_allclose(line.get_ydata(), 30.0 / np.arange(1, 5))  # mean of 10, 20, 60
    band = ax.collections[0].get_paths()[0].vertices
    assert band[:, 1].min() == pytest.approx(10.0 / 4) and band[:, 1].max() == pytest.approx(60.0)
    assert "mean of 3" in ax.get_legend().get_texts()[0].get_text()
    assert "mean of 2" in fig.axes[1].get_legend().get_texts()[0].get_text()
    with pytest.raises(ValueError, match="panels"):
        viz.seed_curve_panels([])


def test_cost_by_length(tmp_path):
    fig = viz.cost_by_length(
        {"NTM": ([2, 3, 4], [0.1, 0.5, 2.0]), "LSTM": ([2, 3, 4], [3.0, 6.0, 9.0])},
        (2, 3),
        xlabel="number of items",
    )
    ax = fig.axes[0]
    assert [list(line.get_ydata()) for line in ax.get_lines()] == [[0.1, 0.5, 2.0], [3, 6, 9]]
    assert ax.get_xlabel() == "number of items"
    check_png(fig, tmp_path / "items.png")
    with pytest.raises(ValueError, match="as many costs as lengths"):
        viz.cost_by_length({"NTM": ([2, 3], [1.0])})
    with pytest.raises(ValueError, match="results"):
        viz.cost_by_length({})


def test_ngram_predictions_score_each_predictor(tmp_path):
    ngrams = make_task("ngrams", length=40)
    model = NTM(input_size=1, output_size=1, memory_size=12, memory_dim=4, controller_size=6)
    batch = ngrams.sample(batch_size=3, rng=np.random.default_rng(0))
    fig = viz.ngram_predictions({"NTM": model}, ngrams, batch, row=2)
    titles = titled(fig)
    assert titles[0] == "next bit"
    # the optimal estimator's cost on row 2 alone: the task's own cost on that one sequence
    single = type(batch)(batch.inputs[:, 2:3], batch.targets[:, 2:3], batch.mask[:, 2:3], {})
    assert f"{ngrams.optimal_cost(single):.1f} bits" in titles[1]
    assert titles[2].startswith("NTM: P(next bit = 1)")
    (distance,) = fig.axes[3].get_lines()
    assert distance.get_ydata().shape == (40,) and np.all(distance.get_ydata() <= 1.0)
    check_png(fig, tmp_path / "predictions.png")
    with pytest.raises(ValueError, match="row"):
        viz.ngram_predictions({"NTM": model}, ngrams, batch, row=3)
