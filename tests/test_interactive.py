"""The widgets of ``ntm_numpy.app.interactive``, driven as a learner would: build a view, move its
controls, and check that what it drew changed the way the math says.

Each expectation is computed here independently of the view (an entropy, a roll, a row of the
memory before the write), or read from the model's own trace and the reference's adjoints.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ipywidgets")

from ntm_numpy import NTM
from ntm_numpy.app.interactive import (
    View,
    addressing_explorer,
    step_debugger,
    training_scrubber,
    write_explorer,
)
from ntm_numpy.tasks import make_task
from ntm_numpy.training import TrainConfig, checkpoint

REPO = Path(__file__).resolve().parent.parent


def entropy(w: np.ndarray) -> float:
    """H(w) = -sum_i w_i log w_i (0 log 0 = 0)."""
    nonzero = w[w > 0]
    return float(-(nonzero * np.log(nonzero)).sum())


def test_import_ntm_numpy_needs_no_widgets():
    code = (
        "import sys, ntm_numpy, ntm_numpy.app.interactive\n"
        "loaded = [m for m in ('ipywidgets', 'matplotlib') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


# ------------------------------------------------------------------ addressing explorer


@pytest.fixture(scope="module")
def explorer() -> View:
    return addressing_explorer()


@pytest.fixture
def fresh(explorer):
    """The module's explorer, with its controls back at their defaults after the test."""
    defaults = explorer.values()
    yield explorer
    explorer.set(**defaults)


def _moves_redraw(view: View, moved) -> None:
    """Move each control away from its current value, alone: the picture and a panel change."""
    start = view.values()
    before_png, before = view.image.value, {k: np.array(v) for k, v in view.panels.items()}
    for name, control in view.controls.items():
        control.value = control.min if control.value != control.min else control.max
        assert view.image.value != before_png, f"moving {name} did not redraw the picture"
        changed = [k for k in moved if not np.array_equal(before[k], view.panels[k])]
        assert changed, f"moving {name} changed none of {moved}"
        with view._hold():  # back, without a redraw: the next move redraws from start
            control.value = start[name]


def test_every_addressing_control_redraws(fresh):
    _moves_redraw(fresh, ["content", "gated", "shifted", "sharpened", "shift"])


def test_raising_gamma_lowers_the_entropy_of_the_sharpened_weighting(fresh):
    entropies = []
    for gamma in (1.0, 2.0, 5.0, 20.0):
        fresh.controls["gamma"].value = gamma
        entropies.append(entropy(fresh.panels["sharpened"]))
    assert all(a > b for a, b in itertools.pairwise(entropies)), entropies
    fresh.controls["gamma"].value = 1.0
    np.testing.assert_allclose(fresh.panels["sharpened"], fresh.panels["shifted"], atol=1e-12)


def test_gate_zero_keeps_the_previous_weighting_and_one_takes_the_content(fresh):
    fresh.controls["g"].value = 0.0
    np.testing.assert_allclose(fresh.panels["gated"], fresh.panels["previous"], atol=1e-12)
    fresh.controls["g"].value = 1.0
    np.testing.assert_allclose(fresh.panels["gated"], fresh.panels["content"], atol=1e-12)


def test_beta_zero_makes_the_content_weighting_uniform(fresh):
    fresh.controls["beta"].value = 0.0
    N = fresh.panels["content"].size
    np.testing.assert_allclose(fresh.panels["content"], np.full(N, 1.0 / N), atol=1e-12)
    fresh.controls["beta"].value = 50.0
    assert fresh.panels["content"].max() > 0.9


def test_shift_weights_are_renormalised_and_shown(fresh):
    fresh.set(s_minus=0.5, s_zero=0.5, s_plus=0.5)
    np.testing.assert_allclose(fresh.panels["shift"], [1 / 3, 1 / 3, 1 / 3])
    assert "0.333" in fresh.note.value
    fresh.set(s_minus=0.2, s_zero=0.2, s_plus=0.4)
    np.testing.assert_allclose(fresh.panels["shift"], [0.25, 0.25, 0.5])
    fresh.set(s_minus=0.0, s_zero=0.0, s_plus=0.7)  # all forward: w~_i = w_g[i - 1]
    np.testing.assert_allclose(fresh.panels["shifted"], np.roll(fresh.panels["gated"], 1))
    fresh.set(s_minus=0.3, s_zero=0.0, s_plus=0.0)  # all back: w~_i = w_g[i + 1]
    np.testing.assert_allclose(fresh.panels["shifted"], np.roll(fresh.panels["gated"], -1))


def test_noise_zero_makes_the_key_its_row(fresh):
    fresh.controls["noise"].value = 0.0
    cosine = fresh.panels["cosine"]
    assert int(np.argmax(cosine)) == 3
    assert cosine[3] == pytest.approx(1.0, abs=1e-6)
    fresh.controls["noise"].value = 2.0
    assert fresh.panels["cosine"][3] < 1.0 - 1e-3


def test_panels_share_one_y_axis_and_render_leaves_the_controls(fresh):
    axes = fresh.figure.axes
    assert len(axes) == 4
    assert all(ax.get_ylim() == axes[0].get_ylim() for ax in axes)
    before = fresh.values()
    figure = fresh.render(beta=0.0, gamma=20.0)
    assert fresh.values() == before
    assert len(figure.axes) == 4
    with pytest.raises(ValueError, match="unknown control"):
        fresh.render(temperature=1.0)
    with pytest.raises(ValueError, match="unknown control"):
        fresh.set(temperature=1.0)


def test_a_view_displays_as_its_widget_box(explorer):
    bundle = explorer._repr_mimebundle_()
    assert (
        bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == explorer.widget.model_id
    )


# ------------------------------------------------------------------ write explorer


@pytest.fixture(scope="module")
def writer() -> View:
    return write_explorer()


def _vectors(M: int, erase, add) -> dict[str, float]:
    values = {f"e{m}": float(erase[m]) for m in range(M)}
    values.update({f"a{m}": float(add[m]) for m in range(M)})
    return values


def test_erase_one_add_zero_clears_the_attended_row(writer):
    N, M = writer.panels["before"].shape
    for row in (0, 3, N - 1):
        writer.set(row=row, spread=0.0, **_vectors(M, np.ones(M), np.zeros(M)))
        after, before = writer.panels["after"], writer.panels["before"]
        np.testing.assert_array_equal(after[row], np.zeros(M))
        others = np.arange(N) != row
        np.testing.assert_array_equal(after[others], before[others])


def test_erase_decides_between_replacing_and_accumulating(writer):
    M = writer.panels["before"].shape[1]
    add = np.linspace(-0.8, 0.8, M)
    writer.set(row=2, spread=0.0, **_vectors(M, np.ones(M), add))
    np.testing.assert_allclose(writer.panels["after"][2], add)
    writer.set(**_vectors(M, np.zeros(M), add))
    np.testing.assert_allclose(writer.panels["after"][2], writer.panels["before"][2] + add)


def test_a_sharp_write_changes_only_its_row_and_a_spread_one_its_neighbours(writer):
    M = writer.panels["before"].shape[1]
    writer.set(row=4, spread=0.0, **_vectors(M, np.full(M, 0.5), np.full(M, 0.7)))
    changed_rows = np.flatnonzero(np.abs(writer.panels["change"]).max(axis=1) > 0)
    assert changed_rows.tolist() == [4]
    writer.controls["spread"].value = 0.5
    changed_rows = np.flatnonzero(np.abs(writer.panels["change"]).max(axis=1) > 0)
    assert changed_rows.tolist() == [3, 4, 5]
    assert writer.panels["weighting"].sum() == pytest.approx(1.0)
    np.testing.assert_allclose(
        writer.panels["change"], writer.panels["after"] - writer.panels["before"]
    )


def test_write_panels_share_one_symmetric_scale_with_the_values_printed(writer):
    N, M = writer.panels["before"].shape
    images = [image for ax in writer.figure.axes for image in ax.images]
    assert len(images) == 3
    limits = {image.get_clim() for image in images}
    assert len(limits) == 1
    low, high = limits.pop()
    assert high == -low > 0
    for ax in writer.figure.axes:
        if ax.images:
            assert len(ax.texts) == N * M


def test_every_write_control_redraws(writer):
    writer.set(row=3, spread=0.5, **_vectors(5, np.full(5, 0.5), np.full(5, 0.5)))
    _moves_redraw(writer, ["weighting", "after"])


# ------------------------------------------------------------------ step debugger


@pytest.fixture(scope="module")
def small_model() -> NTM:
    return NTM(
        input_size=5,
        output_size=4,
        memory_size=12,
        memory_dim=5,
        controller_size=16,
        num_read_heads=2,
        num_write_heads=1,
        seed=3,
    )


@pytest.fixture(scope="module")
def copy_batch():
    task = make_task("copy", bits=4, min_length=1, max_length=5)
    return task.sample(batch_size=3, rng=np.random.default_rng(0), length=4)


@pytest.fixture(scope="module")
def debugger(small_model, copy_batch) -> View:
    return step_debugger(small_model, copy_batch, row=1)


def test_debugger_panels_are_the_models_trace_at_step_t(debugger, small_model, copy_batch):
    _, cache = small_model.forward(copy_batch.inputs[:, 1:2])
    trace = cache.trace
    for t in (0, 3, copy_batch.num_steps - 1):
        debugger.set(t=t, adjoint=False)
        p = debugger.panels
        np.testing.assert_array_equal(p["input"], copy_batch.inputs[t, 1])
        np.testing.assert_array_equal(p["target"], copy_batch.targets[t, 1])
        np.testing.assert_allclose(p["write_stages"][:, 3], trace.write_weights[t, 0])
        np.testing.assert_allclose(p["read_stages"][:, 0], trace.read_content[t, 0])
        np.testing.assert_allclose(p["memory"], trace.memory[t, 0])
        np.testing.assert_allclose(p["reads"], trace.reads[t, 0])
        np.testing.assert_allclose(p["write_key"], trace.write_key[t, 0])
        np.testing.assert_allclose(p["add"], trace.add[t, 0])
        previous = trace.memory[t - 1, 0] if t else cache.steps[0].write.memory_prev[0]
        np.testing.assert_allclose(p["memory_prev"], previous)
        np.testing.assert_allclose(p["memory_change"], p["memory"] - p["memory_prev"])
    assert p["write_stages"].shape == (1, 4, 12) and p["read_stages"].shape == (2, 4, 12)


def test_moving_the_step_slider_changes_the_panels(debugger):
    debugger.set(t=1, adjoint=False)
    before = {k: np.array(v, copy=True) for k, v in debugger.panels.items()}
    png = debugger.image.value
    debugger.controls["t"].value = 2
    assert debugger.image.value != png
    for name in ("input", "write_stages", "read_stages", "memory", "reads"):
        assert not np.array_equal(before[name], debugger.panels[name]), name


def test_the_adjoint_toggle_shows_the_references_adjoints(debugger, small_model, copy_batch):
    from ntm_numpy.reference import adjoint_trace

    rows = slice(1, 2)
    adjoints = adjoint_trace(
        small_model,
        copy_batch.inputs[:, rows],
        copy_batch.targets[:, rows],
        copy_batch.mask[:, rows],
    )
    last = copy_batch.num_steps - 1
    debugger.set(t=last, adjoint=True)
    p = debugger.panels
    np.testing.assert_allclose(p["memory"], adjoints.memory[last, 0])
    np.testing.assert_allclose(p["memory_prev"], adjoints.memory[last - 1, 0])
    np.testing.assert_allclose(p["write_stages"][:, 0], adjoints.write_content[last, 0])
    np.testing.assert_allclose(p["read_stages"][:, 2], adjoints.read_shifted[last, 0])
    np.testing.assert_allclose(p["reads"], adjoints.reads[last, 0])
    np.testing.assert_allclose(p["erase"], adjoints.erase[last, 0])
    np.testing.assert_allclose(p["read_gamma"], adjoints.read_gamma[last, 0])
    assert np.abs(p["reads"]).max() > 0  # the last read feeds the last output: not all zero
    assert "Adjoints" in debugger.note.value
    output_shown_with_adjoints = p["output"]
    debugger.controls["t"].value = 0  # the initial memory's adjoint is not in the trace
    assert np.isnan(debugger.panels["memory_prev"]).all()
    debugger.set(t=last, adjoint=False)  # x_t and the output stay values in both modes
    np.testing.assert_array_equal(debugger.panels["output"], output_shown_with_adjoints)
    assert np.isfinite(debugger.panels["memory_prev"]).all()


def test_debugger_zoom_narrows_the_rows_shown(debugger):
    debugger.set(t=0, adjoint=False, zoom=False)
    assert debugger.panels["rows"] == (0, 11)
    debugger.controls["zoom"].value = True
    low, high = debugger.panels["rows"]
    assert 0 <= low <= high <= 11


def test_debugger_rejects_a_bad_row_and_a_model_without_heads(small_model, copy_batch):
    with pytest.raises(ValueError, match="row"):
        step_debugger(small_model, copy_batch, row=3)
    with pytest.raises(ValueError, match="batch"):
        step_debugger(small_model, copy_batch.inputs)


def test_debugger_starts_at_the_step_asked_and_rejects_one_outside_the_batch(
    small_model, copy_batch
):
    last = copy_batch.num_steps - 1
    view = step_debugger(small_model, copy_batch, row=1, t=last)
    assert view.controls["t"].value == last
    np.testing.assert_array_equal(view.panels["input"], copy_batch.inputs[last, 1])
    for bad in (-1, copy_batch.num_steps, 1.5, True):
        with pytest.raises(ValueError, match=r"^t must be .*\[0, " + str(last) + r"\]"):
            step_debugger(small_model, copy_batch, t=bad)


# ------------------------------------------------------------------ training scrubber


def _snapshots(folder: Path, model: NTM, config: TrainConfig | None, steps=(50, 100, 150)):
    """Checkpoints whose parameters drift step by step, as a training run's would."""
    rng = np.random.default_rng(0)
    params = {k: v.copy() for k, v in model.params.items()}
    paths = []
    for step in steps:
        params = {k: v + 0.5 * rng.standard_normal(v.shape) for k, v in params.items()}
        model.params = params
        state = None if config is None else {"config": config.to_dict(), "step": step}
        path = folder / "snapshots" / f"step_{step:06d}.npz"
        paths.append(checkpoint.save(path, model, train_state=state))
    return paths


@pytest.fixture
def copy_run(tmp_path):
    config = TrainConfig(task="copy", task_options={"bits": 4, "max_length": 5})
    model = NTM(input_size=5, output_size=4, memory_size=12, memory_dim=5, controller_size=16)
    paths = _snapshots(tmp_path, model, config)
    return tmp_path, paths


def test_the_scrubber_loads_every_snapshot_and_the_outputs_change(copy_run):
    run, paths = copy_run
    scrubber = training_scrubber(run, length=4)
    assert scrubber.controls["snapshot"].max == len(paths) - 1
    drawn = []
    for index in range(len(paths)):
        scrubber.controls["snapshot"].value = index
        assert scrubber.panels["step"] == 50 * (index + 1)
        assert f"step_{50 * (index + 1):06d}.npz" in scrubber.note.value
        drawn.append({k: np.array(v, copy=True) for k, v in scrubber.panels.items()})
    assert drawn[0]["output"].shape == drawn[0]["target"].shape == (2 * 4 + 1, 4)
    assert not np.allclose(drawn[0]["output"], drawn[-1]["output"])
    assert not np.allclose(drawn[0]["write_weights"], drawn[-1]["write_weights"])
    np.testing.assert_array_equal(drawn[0]["target"], drawn[-1]["target"])  # one fixed sequence


def test_the_scrubber_matches_the_snapshot_models_own_forward(copy_run):
    _, paths = copy_run
    scrubber = training_scrubber(list(reversed(paths)), length=3, seed=5)
    task = make_task("copy", bits=4, max_length=5)
    batch = task.sample(batch_size=1, rng=np.random.default_rng(5), length=3)
    _, cache = checkpoint.load(paths[-1]).forward(batch.inputs)
    np.testing.assert_allclose(
        scrubber.panels["read_weights"], cache.trace.read_weights[:, 0].transpose(1, 0, 2)
    )
    assert len(scrubber.render(snapshot=2).axes) == 5  # target, output, 2 heads, colour bar


def test_the_scrubber_needs_a_task_it_can_find(tmp_path):
    model = NTM(input_size=5, output_size=4, memory_size=12, memory_dim=5, controller_size=16)
    _snapshots(tmp_path, model, config=None, steps=(50, 100))
    with pytest.raises(ValueError, match="task="):
        training_scrubber(tmp_path)
    scrubber = training_scrubber(tmp_path, task=make_task("copy", bits=4, max_length=5))
    scrubber.controls["snapshot"].value = 1
    assert scrubber.panels["step"] == 100  # from the file name
    with pytest.raises(ValueError, match="snapshots"):
        training_scrubber(tmp_path / "snapshots" / "nothing-here-yet")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no step_NNNNNN"):
        training_scrubber(tmp_path / "empty")


@pytest.mark.skipif(
    "snapshot_every" not in {f.name for f in fields(TrainConfig)},
    reason="the trainer does not write snapshots in this checkout",
)
def test_the_scrubber_reads_a_real_training_runs_snapshots(tmp_path):
    from ntm_numpy.training import train

    config = TrainConfig(
        task="copy",
        task_options={"bits": 4, "max_length": 4},
        model_options={"memory_size": 12, "memory_dim": 5, "controller_size": 16},
        steps=100,
        batch_size=4,
        eval_every=100,
        eval_sequences=8,
        eval_batch_size=8,
        snapshot_every=50,
    )
    train(config, tmp_path, verbose=False)
    scrubber = training_scrubber(tmp_path)
    first = scrubber.panels["output"].copy()
    scrubber.controls["snapshot"].value = scrubber.controls["snapshot"].max
    assert scrubber.panels["step"] == 100
    assert not np.allclose(first, scrubber.panels["output"])
