"""Figures: where the heads read and write, what the memory holds, how training went.

Every function here is pure: it takes a model, a task or a batch (host arrays) and returns a
``matplotlib.figure.Figure``. Nothing touches pyplot's global state: each figure gets its own
Agg canvas, so the module works the same in scripts, tests and notebooks (a notebook displays a
returned Figure). ``save`` writes a PNG atomically. Sequences are time-major, and time runs
along the x axis of every heatmap, as in Graves et al. (2014), figures 4 to 6::

    copy_generalisation(models, task)     copy targets and outputs at growing lengths (fig. 4, 5)
    repeat_copy_generalisation(models, task)  ... repeat copy, longer and more often (fig. 8)
    sequence_generalisation(models, task, cases)  ... any task, any sampling options
    head_heatmaps(model, batch)           inputs, outputs, adds, reads and weightings (fig. 6)
    addressing_stages(model, batch, t)    the four addressing stages of one head at step t
    memory_over_time(model, batch)        the memory matrix M_t at a few steps
    head_weightings(model, batch)         every head's write and read weightings, zoomed
    recall_weightings(model, batch)       associative recall: the query, items q and q + 1
    recall_rows_found(model, batch)       ... and whether the read head finds item q + 1
    recall_head_pairs(model, batch)       ... for every write head and read head pair
    priority_rows(model, batch)           priority sort: rows written and read, every head
    ngram_context_rows(model, batch)      N-grams: the row used against the context (fig. 15)
    architecture_diagram()                the machine in one picture: one step's data flow
    learning_curves(runs, title)          cost per sequence against sequences seen
    learning_curve_panels(panels, title)  ... one panel per task
    seed_curve_panels(panels, title)      mean and spread of learning curves over seeds
    cost_by_length(results)               cost against length or items, per model (fig. 11)
    ngram_predictions(models, task, batch)  N-grams: predictions against the optimal (fig. 14)
    demo_figures(model, out_dir)          the two figures ``python -m ntm_numpy demo`` writes

``python -m ntm_numpy figures`` (every figure in figures/, from the pretrained models) is
``figures.all_figures``: it chooses the models and sequences and calls these.

Model outputs are logits; the pictures show the sigmoid of them, the probability of a 1 bit.
Steps that the task does not score (mask 0) are shaded in the target and output panels.
Signed inputs (a repeat count, priorities) get a colour scale centred on zero; weightings are
zoomed on the memory rows that hold their weight mass (``weight_mass_rows``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.ticker import EngFormatter, MaxNLocator

from ..backend import to_numpy
from ..model import Trace
from ..ops.activations import sigmoid
from ..ops.loss import sigmoid_cross_entropy_forward
from ..tasks import make_task
from ..tasks.ngrams import cross_entropy_bits, next_context
from ..training.files import write_atomic

DPI = 110

BITS_CMAP = colormaps["Greys"].with_extremes(bad="#dce6f2")  # 0 white, 1 black; unscored: blue
WEIGHTS_CMAP = colormaps["viridis"]
SIGNED_CMAP = colormaps["RdBu_r"]  # adds, reads, memory: blue negative, red positive
PHASE_COLOUR = "#e8890c"  # dashed lines where the scored part of a sequence starts or ends
UNSCORED = "shaded: not scored"
FEW_ROWS = 12  # a heatmap with fewer rows than this gets a tick on every row
WEIGHT_MASS = 0.9  # zoom on the rows that hold this share of the weight mass


# ------------------------------------------------------------------ small helpers


def _figure(width: float, height: float) -> Figure:
    """A figure with its own Agg canvas (no pyplot) and constrained layout."""
    fig = Figure(figsize=(width, height), layout="constrained", dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def save(fig: Figure, path: str | os.PathLike, *, dpi: int = DPI) -> Path:
    """Write ``fig`` as a PNG to ``path``, atomically: a temporary file beside it, then a rename,
    so a reader never sees half a picture. Creates the folder; returns the path."""
    return write_atomic(path, lambda f: fig.savefig(f, format="png", dpi=dpi))


def _probabilities(model: Any, inputs: np.ndarray) -> np.ndarray:
    """sigma(logits) of ``model`` on ``inputs`` [T, B, in], as host float64 [T, B, out]."""
    logits, _ = model.forward(inputs, keep_cache=False)
    return sigmoid(to_numpy(logits).astype(np.float64))


def _run_traced(model: Any, inputs: np.ndarray) -> tuple[np.ndarray, Trace]:
    """sigma(logits) [T, B, out] and the model's ``Trace``, all on the host."""
    logits, cache = model.forward(inputs)
    trace = getattr(cache, "trace", None)
    if trace is None:
        raise ValueError(
            f"{type(model).__name__} keeps no trace of heads or memory; this figure needs an NTM"
        )
    return sigmoid(to_numpy(logits).astype(np.float64)), Trace(*(to_numpy(a) for a in trace))


def _check_index(value: int, size: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not -size <= value < size:
        raise ValueError(f"{name} must lie in [0, {size}), got {value}")
    return int(value) % size


def _check_heads(trace: Trace, write_head: int, read_head: int) -> tuple[int, int]:
    """``(write_head, read_head)`` checked against the heads ``trace`` has (negative indices
    count from the end)."""
    return (
        _check_index(write_head, trace.write_weights.shape[2], "write_head"),
        _check_index(read_head, trace.read_weights.shape[2], "read_head"),
    )


def _scored_steps(mask: np.ndarray, row: int) -> np.ndarray:
    """The indices of the steps of batch row ``row`` whose output is scored (mask [T, B])."""
    return np.flatnonzero(np.asarray(mask)[:, row] > 0)


def _used_rows(strength: np.ndarray, threshold: float, margin: int) -> tuple[int, int]:
    """(first, last) row where ``strength`` [N] exceeds ``threshold``, widened by ``margin``.

    The whole range where no row does.
    """
    n = strength.shape[0]
    used = np.flatnonzero(strength > threshold)
    if used.size == 0:
        return 0, n - 1
    return max(0, int(used[0]) - margin), min(n - 1, int(used[-1]) + margin)


def weight_mass_rows(
    weights: np.ndarray, mass: float = WEIGHT_MASS, margin: int = 2
) -> tuple[int, int]:
    """(first, last) memory row of the window that holds ``mass`` of the weight, for a zoom.

    ``weights`` [..., N]: weightings over N rows, any leading axes (steps, heads). Each
    weighting gives row i the mass w_i^2, its weight weighted by itself, and a row's mass is
    the sum over the leading axes, m_i = sum w[..., i]^2: a step focused on one row puts about
    1 there, a step spread evenly over N rows only 1/N in all, so diffuse steps (a head at
    rest) do not widen the zoom. The rows kept are the fewest, heaviest first, whose masses
    add up to ``mass * sum_i m_i``; the window runs from the first to the last of them,
    widened by ``margin`` rows either side (clipped to the memory). So a focus a few rows wide
    in a memory of 128 rows fills the picture, and the window is read from the data.
    """
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim < 1 or weights.shape[-1] < 1:
        raise ValueError(f"weights: expected an array [..., N] with N >= 1, got {weights.shape}")
    if not 0.0 < mass <= 1.0:
        raise ValueError(f"mass: expected a share in (0, 1], got {mass!r}")
    if isinstance(margin, bool) or not isinstance(margin, int | np.integer) or margin < 0:
        raise ValueError(f"margin: expected a non-negative integer, got {margin!r}")
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError("weights: expected finite, non-negative weights")
    per_row = np.square(weights).reshape(-1, weights.shape[-1]).sum(axis=0)  # [N]
    n, total = per_row.size, float(per_row.sum())
    if total <= 0.0:
        return 0, n - 1
    heaviest = np.argsort(-per_row, kind="stable")
    covered = np.cumsum(per_row[heaviest])
    count = int(np.searchsorted(covered, mass * total * (1 - 1e-12))) + 1
    kept = heaviest[: min(count, n)]
    return max(0, int(kept.min()) - margin), min(n - 1, int(kept.max()) + margin)


def _rows_label(first: int, last: int, n: int, mass: float = WEIGHT_MASS) -> str:
    if (first, last) == (0, n - 1):
        return "memory row"
    return f"memory row\n(rows {first}-{last} of {n}: {mass:.0%} of the weight)"


def _heatmap(
    ax: Any,
    data: np.ndarray,
    *,
    title: str,
    ylabel: str,
    cmap: Any,
    vmin: float,
    vmax: float,
    rows: tuple[int, int] | None = None,
    xlabel: str | None = "time step",
) -> Any:
    """``data`` [rows, T] as an image, time along x; ``rows`` names its first and last row."""
    first, last = rows if rows is not None else (0, data.shape[0] - 1)
    steps = data.shape[1]
    image = ax.imshow(
        data,
        aspect="auto",
        interpolation="nearest",
        cmap=cmap,
        vmin=vmin,
        vmax=vmax,
        extent=(-0.5, steps - 0.5, last + 0.5, first - 0.5),
    )
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel, fontsize=9)
    if xlabel:
        ax.set_xlabel(xlabel, fontsize=9)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if last - first < FEW_ROWS:  # a tick on every channel; one channel gets the single tick 0
        ax.set_yticks(np.arange(first, last + 1))
    else:
        ax.yaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    ax.tick_params(labelsize=8)
    return image


def _colorbar(fig: Figure, image: Any, axes: list, label: str, size: float = 0.05) -> None:
    """One colour bar for ``axes`` (which share ``image``'s scale), to their right."""
    bar = fig.colorbar(image, ax=axes, fraction=size / len(axes), pad=0.01, aspect=15)
    bar.set_label(label, fontsize=9)
    bar.ax.tick_params(labelsize=8)


def _phase_lines(ax: Any, mask_row: np.ndarray) -> None:
    """Dashed lines where the scored part of the sequence begins and ends."""
    scored = (np.asarray(mask_row) > 0).astype(np.int8)
    for t in np.flatnonzero(np.diff(scored)):
        ax.axvline(t + 0.5, color=PHASE_COLOUR, linestyle="--", linewidth=1.0, alpha=0.9)


def _symmetric_limit(*arrays: np.ndarray) -> float:
    """max |x| over the arrays, at least 1e-6: a colour scale centred on zero."""
    return max(1e-6, *(float(np.max(np.abs(a))) for a in arrays if a.size))


# ------------------------------------------------------------------ 1. copy generalisation


def _output_column(
    models: Mapping[str, Any], task: Any, options: Mapping[str, int], seed: int
) -> tuple:
    """(targets [K, S], {name: (outputs [K, S], wrong bits)}) of one sequence of ``task``
    drawn with ``options`` (e.g. ``length=30``), on its scored steps only."""
    batch = task.sample(batch_size=1, rng=np.random.default_rng(seed), **options)
    scored = _scored_steps(batch.mask, 0)
    targets = batch.targets[scored, 0].T  # [K, S]
    outputs = {}
    for name, model in models.items():
        probs = _probabilities(model, batch.inputs)[scored, 0].T  # [K, S]
        outputs[name] = (probs, int(np.sum((probs > 0.5) != (targets > 0.5))))
    return targets, outputs


def sequence_generalisation(
    models: Mapping[str, Any],
    task: Any,
    cases: Mapping[str, Mapping[str, int]],
    seed: int = 0,
    *,
    title: str,
) -> Figure:
    """Targets and outputs of ``models`` on one sequence of ``task`` per case, side by side.

    ``cases`` maps a column label to the options of ``task.sample`` for it, e.g.
    ``{"length 30": {"length": 30}}``. One column per case; the first row holds the targets,
    then one row per model with its outputs sigma(y). Only the scored steps (mask 1, the output
    phase) are shown, output channels on the y axis and output steps on the x axis; each
    output panel's title counts its wrong bits (sigma(y) thresholded at 0.5). Every case draws
    its sequence from ``numpy.random.default_rng(seed)``, batch size 1. Columns are as wide as
    their output phase is long, but never narrower than a quarter of the widest.

    Axes: ``(1 + len(models)) * len(cases)`` panels and one colour bar.
    """
    if not models:
        raise ValueError("models: expected at least one model, e.g. {'NTM': ntm}")
    if not cases:
        raise ValueError("cases: expected at least one, e.g. {'length 30': {'length': 30}}")
    columns = [(label, *_output_column(models, task, o, seed)) for label, o in cases.items()]
    steps = [targets.shape[1] for _, targets, _ in columns]
    ratios = [max(s, max(steps) / 4) for s in steps]
    rows = 1 + len(models)
    width = min(20.0, 2.5 + 2.0 * len(columns) + 0.03 * sum(ratios))
    fig = _figure(width, 1.3 + 1.35 * rows)
    axes = fig.subplots(rows, len(columns), squeeze=False, gridspec_kw={"width_ratios": ratios})
    image = None
    for j, (label, targets, outputs) in enumerate(columns):
        panels = [("targets", targets, f"targets, {label}")]
        panels += [
            (name, probs, f"{name}: {errors} wrong bit{'s' if errors != 1 else ''}")
            for name, (probs, errors) in outputs.items()
        ]
        for i, (name, data, panel_title) in enumerate(panels):
            image = _heatmap(
                axes[i, j],
                data,
                title=panel_title,
                ylabel=f"{name}\nbit" if j == 0 else "",
                cmap=BITS_CMAP,
                vmin=0.0,
                vmax=1.0,
                xlabel="output step" if i == rows - 1 else None,
            )
            # a column shares its time axis, a row its bits: label them once
            axes[i, j].tick_params(labelbottom=i == rows - 1, labelleft=j == 0)
    _colorbar(fig, image, axes.ravel().tolist(), "bit (target) / σ(y) (output)", size=0.25)
    fig.suptitle(title, fontsize=12)
    return fig


def copy_generalisation(
    models: Mapping[str, Any],
    task: Any,
    lengths: Sequence[int] = (10, 20, 30, 50, 120),
    seed: int = 0,
    *,
    title: str | None = None,
) -> Figure:
    """Targets and outputs on copy sequences of growing length (the paper's figures 4 and 5):
    ``sequence_generalisation`` with a column per length. Axes: as there."""
    lengths = [int(length) for length in lengths]
    if not lengths:
        raise ValueError("lengths: expected at least one length")
    if title is None:
        title = f"Copy at lengths {', '.join(map(str, lengths))} (seed {seed})"
    cases = {f"length {length}": {"length": length} for length in lengths}
    return sequence_generalisation(models, task, cases, seed, title=title)


def repeat_copy_generalisation(
    models: Mapping[str, Any],
    task: Any,
    cases: Sequence[tuple[int, int]] = ((10, 20), (20, 10)),
    seed: int = 0,
    *,
    title: str | None = None,
) -> Figure:
    """Repeat copy beyond its training range (the paper's figure 8: length 10 repeated 20
    times, length 20 repeated 10 times): ``sequence_generalisation`` with a column per
    ``(length, repeats)``; the last output channel is the end marker. Axes: as there."""
    if not cases:
        raise ValueError("cases: expected at least one (length, repeats)")
    columns = {
        f"length {length}, {repeats} repeats": {"length": int(length), "repeats": int(repeats)}
        for length, repeats in cases
    }
    if title is None:
        title = f"Repeat copy beyond its training range (seed {seed})"
    return sequence_generalisation(models, task, columns, seed, title=title)


# ------------------------------------------------------------------ 2. head heatmaps


def _panel(
    fig: Figure,
    cell: Any,
    mask_row: np.ndarray,
    data: np.ndarray,
    panel_title: str,
    ylabel: str,
    cmap: Any,
    limits: tuple[float, float],
    rows: tuple[int, int] | None = None,
) -> tuple[Any, Any]:
    """One heatmap of ``head_heatmaps`` in grid cell ``cell``, with the phase lines; (axes,
    image)."""
    ax = fig.add_subplot(cell)
    image = _heatmap(
        ax,
        data,
        title=panel_title,
        ylabel=ylabel,
        cmap=cmap,
        vmin=limits[0],
        vmax=limits[1],
        rows=rows,
    )
    _phase_lines(ax, mask_row)
    return ax, image


def _io_panels(
    fig: Figure,
    grid: Any,
    mask_row: np.ndarray,
    inputs: np.ndarray,
    targets: np.ndarray,
    outputs: np.ndarray,
) -> None:
    """The top row of ``head_heatmaps``: inputs, targets and outputs, with their colour bars."""
    bits = (0.0, 1.0)
    if np.any(
        inputs < 0
    ):  # a count or a priority below zero: blue negative, white zero, red positive
        limit = _symmetric_limit(inputs)
        ax, image = _panel(
            fig,
            grid[0, 0:2],
            mask_row,
            inputs,
            "inputs (signed scale)",
            "input channel",
            SIGNED_CMAP,
            (-limit, limit),
        )
        _colorbar(fig, image, [ax], "input value")
        top = []
    else:
        top = [
            _panel(fig, grid[0, 0:2], mask_row, inputs, "inputs", "input channel", BITS_CMAP, bits)
        ]
    top += [
        _panel(
            fig,
            grid[0, 2:4],
            mask_row,
            targets,
            f"targets ({UNSCORED})",
            "output bit",
            BITS_CMAP,
            bits,
        ),
        _panel(
            fig,
            grid[0, 4:6],
            mask_row,
            outputs,
            f"outputs σ(y) ({UNSCORED})",
            "output bit",
            BITS_CMAP,
            bits,
        ),
    ]
    _colorbar(fig, top[-1][1], [ax for ax, _ in top], "bit / σ(y)")


def _vector_panels(
    fig: Figure,
    grid: Any,
    mask_row: np.ndarray,
    heads: tuple[int, int],
    adds: np.ndarray,
    reads: np.ndarray,
) -> None:
    """The middle row of ``head_heatmaps``: add vectors and read vectors, each with its bar."""
    ax, image = _panel(
        fig,
        grid[1, 0:3],
        mask_row,
        adds,
        f"add vectors $a_t$, write head {heads[0]}",
        "element of $a_t$",
        SIGNED_CMAP,
        (-1.0, 1.0),
    )
    _colorbar(fig, image, [ax], "$a$")
    limit = _symmetric_limit(reads)
    ax, image = _panel(
        fig,
        grid[1, 3:6],
        mask_row,
        reads,
        f"read vectors $r_t$, read head {heads[1]}",
        "element of $r_t$",
        SIGNED_CMAP,
        (-limit, limit),
    )
    _colorbar(fig, image, [ax], "$r$")


def _weight_panels(
    fig: Figure,
    grid: Any,
    mask_row: np.ndarray,
    heads: tuple[int, int],
    w_write: np.ndarray,
    w_read: np.ndarray,
    rows: tuple[int, int],
    location: str,
) -> None:
    """The bottom row of ``head_heatmaps``: write and read weightings on one colour scale."""
    w_max = max(1e-6, float(w_write.max()), float(w_read.max()))
    weights = [
        _panel(
            fig,
            grid[2, 0:3],
            mask_row,
            w_write,
            f"write weightings, write head {heads[0]}",
            location,
            WEIGHTS_CMAP,
            (0.0, w_max),
            rows,
        ),
        _panel(
            fig,
            grid[2, 3:6],
            mask_row,
            w_read,
            f"read weightings, read head {heads[1]}",
            location,
            WEIGHTS_CMAP,
            (0.0, w_max),
            rows,
        ),
    ]
    _colorbar(fig, weights[-1][1], [ax for ax, _ in weights], "weight")


def head_heatmaps(
    model: Any,
    batch: Any,
    title: str = "NTM heads",
    *,
    row: int = 0,
    write_head: int = 0,
    read_head: int = 0,
    crop: bool = True,
) -> Figure:
    """One sequence through an NTM, as in the paper's figure 6.

    Top: the inputs, the targets and the outputs sigma(y) (channels x time; unscored steps of
    targets and outputs shaded). Middle: the add vectors a_t of write head ``head`` and the
    read vectors r_t of read head ``head`` (M x time). Bottom: the write and the read
    weightings (memory location x time). With ``crop`` the location axis keeps only the rows
    that hold 90% of the two weightings' mass (``weight_mass_rows``), plus two rows either
    side; the axis label says which rows are shown. Dashed lines mark where scoring starts and
    stops. Inputs with a negative value (a repeat count, priorities) are drawn on a signed
    colour scale centred on zero, with a colour bar of their own.

    Axes: 7 panels and 4 colour bars (bits, adds, reads, weightings): 11; 12 with signed inputs.
    """
    probs, trace = _run_traced(model, batch.inputs)
    row = _check_index(row, batch.batch_size, "row")
    write_head, read_head = _check_heads(trace, write_head, read_head)
    mask_row = batch.mask[:, row]
    unscored = mask_row[None, :] <= 0
    w_write = trace.write_weights[:, row, write_head].T  # [N, T]
    w_read = trace.read_weights[:, row, read_head].T  # [N, T]
    n = w_write.shape[0]
    first, last = weight_mass_rows(np.stack([w_write.T, w_read.T])) if crop else (0, n - 1)

    fig = _figure(14.0, 10.0)
    grid = fig.add_gridspec(3, 6, height_ratios=[1.0, 1.0, 2.0])
    _io_panels(
        fig,
        grid,
        mask_row,
        batch.inputs[:, row].T,  # [in, T]
        np.where(unscored, np.nan, batch.targets[:, row].T),  # [out, T]
        np.where(unscored, np.nan, probs[:, row].T),  # [out, T]
    )
    adds = trace.add[:, row, write_head].T  # [M, T]
    reads = trace.reads[:, row, read_head].T  # [M, T]
    _vector_panels(fig, grid, mask_row, (write_head, read_head), adds, reads)
    crop_rows = slice(first, last + 1)
    _weight_panels(
        fig,
        grid,
        mask_row,
        (write_head, read_head),
        w_write[crop_rows],
        w_read[crop_rows],
        (first, last),
        _rows_label(first, last, n),
    )
    fig.suptitle(f"{title} (sequence {row}, {batch.num_steps} steps)", fontsize=13)
    return fig


# ------------------------------------------------------------------ 3. addressing stages


def _stage_titles(beta: Any, gate: Any, shift: np.ndarray, gamma: Any) -> list[str]:
    """The four panel titles of ``addressing_stages``, with the head's beta, g, s and gamma."""
    half = (shift.shape[0] - 1) // 2
    shifts = ", ".join(
        f"{j:+d}: {p:.2f}" for j, p in zip(range(-half, half + 1), shift, strict=True)
    )
    return [
        f"1. content $w^c$\n$\\beta$ = {float(beta):.2f}",
        f"2. interpolated $w^g$\n$g$ = {float(gate):.3f}  (1: content, 0: previous)",
        f"3. shifted $\\tilde w$\n$s$ = [{shifts}]",
        f"4. sharpened $w$\n$\\gamma$ = {float(gamma):.2f}",
    ]


def _stage_bars(
    ax: Any, w: np.ndarray, panel_title: str, colour: str, previous: np.ndarray | None
) -> None:
    """One stage's weighting [N] as bars; ``previous`` (w_{t-1}) drawn over it as a step line."""
    n = w.shape[0]
    locations = np.arange(n)
    ax.bar(locations, w, width=1.0, color=colour, linewidth=0)
    if previous is not None:
        ax.step(locations, previous, where="mid", color="0.35", linewidth=1.0, label="$w_{t-1}$")
        ax.legend(fontsize=8, loc="upper right")
    ax.set_title(panel_title, fontsize=10)
    ax.set_xlabel("memory location", fontsize=9)
    ax.set_xlim(-0.5, n - 0.5)
    top = max(float(w.max()), float(previous.max()) if previous is not None else 0)
    ax.set_ylim(0.0, max(1e-6, 1.08 * top))
    ax.tick_params(labelsize=8)
    ax.grid(axis="y", alpha=0.3)


def addressing_stages(
    model: Any,
    batch: Any,
    step: int,
    head: str = "write",
    *,
    index: int = 0,
    row: int = 0,
    title: str | None = None,
) -> Figure:
    """The four addressing stages of one head at one step, left to right (DESIGN.md, step 3).

    1. content  w_c = softmax(beta cos(k, M_i))  2. interpolated  w_g = g w_c + (1 - g) w_{t-1}
    3. shifted  w~ = w_g circularly convolved with s  4. sharpened  w = w~^gamma / sum w~^gamma

    Bar charts over the memory locations; beta, g, s and gamma in the panel titles. The
    interpolation panel also draws the previous weighting w_{t-1} (from step ``step - 1``; at
    step 0 the learned initial weighting is not in the trace, so it is left out). ``head`` is
    ``"write"`` or ``"read"``; ``index`` picks one of several heads. Axes: 4.
    """
    if head not in ("write", "read"):
        raise ValueError(f"head must be 'write' or 'read', got {head!r}")
    _, trace = _run_traced(model, batch.inputs)
    step = _check_index(step, batch.num_steps, "step")
    row = _check_index(row, batch.batch_size, "row")
    index = _check_index(index, getattr(trace, f"{head}_weights").shape[2], "index")

    def at(name: str) -> np.ndarray:
        return getattr(trace, f"{head}_{name}")[step, row, index]

    stages = [at(s) for s in ("content", "gated", "shifted", "weights")]  # each [N]
    beta, gate, shift, gamma = at("beta"), at("gate"), at("shift"), at("gamma")
    previous = getattr(trace, f"{head}_weights")[step - 1, row, index] if step > 0 else None
    titles = _stage_titles(beta, gate, shift, gamma)
    fig = _figure(16.0, 4.2)
    axes = fig.subplots(1, 4, sharex=True)
    colours = ["#4c72b0", "#55a868", "#c44e52", "#8172b2"]
    for k, (ax, w, panel_title) in enumerate(zip(axes, stages, titles, strict=True)):
        _stage_bars(ax, w, panel_title, colours[k], previous if k == 1 else None)
    axes[0].set_ylabel("weight", fontsize=9)
    addresses = "$M_{t-1}$" if head == "write" else "$M_t$ (after the write)"
    if title is None:
        title = "Addressing"
    fig.suptitle(
        f"{title}: {head} head {index} at step t = {step} of {batch.num_steps} "
        f"(addresses {addresses})",
        fontsize=12,
    )
    return fig


# ------------------------------------------------------------------ 4. memory over time


def memory_over_time(
    model: Any,
    batch: Any,
    steps: Sequence[int] | None = None,
    *,
    row: int = 0,
    count: int = 6,
    crop: bool = True,
    title: str = "Memory over time",
) -> Figure:
    """The memory M_t (rows x columns) after the write of several steps, side by side.

    ``steps`` defaults to ``count`` steps evenly spaced from the first to the last. One colour
    scale, centred on zero, for every panel, and one colour bar. With ``crop`` only the rows
    that hold more than 1% of the largest |value| at some shown step are drawn (plus two
    either side); the axis label says which. Axes: ``len(steps)`` panels and one colour bar.
    """
    _, trace = _run_traced(model, batch.inputs)
    row = _check_index(row, batch.batch_size, "row")
    total = batch.num_steps
    if steps is None:
        steps = np.unique(np.linspace(0, total - 1, min(count, total)).round().astype(int))
    steps = [_check_index(int(t), total, "steps") for t in steps]
    if not steps:
        raise ValueError("steps: expected at least one step")
    memories = trace.memory[steps, row]  # [S, N, M]
    n = memories.shape[1]
    limit = _symmetric_limit(memories)
    first, last = 0, n - 1
    if crop:
        first, last = _used_rows(np.abs(memories).max(axis=(0, 2)), 0.01 * limit, margin=2)
    ylabel = "memory row"
    if (first, last) != (0, n - 1):
        ylabel = f"memory row (rows {first}-{last} of {n} shown)"

    fig = _figure(1.6 + 2.1 * len(steps), 6.0)
    axes = np.atleast_1d(fig.subplots(1, len(steps), sharey=True))
    image = None
    for ax, t, memory in zip(axes, steps, memories, strict=True):
        image = ax.imshow(
            memory[first : last + 1],
            aspect="auto",
            interpolation="nearest",
            cmap=SIGNED_CMAP,
            vmin=-limit,
            vmax=limit,
            extent=(-0.5, memory.shape[1] - 0.5, last + 0.5, first - 0.5),
        )
        ax.set_title(f"after step {t}", fontsize=10)
        ax.set_xlabel("column", fontsize=9)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
        ax.tick_params(labelsize=8)
    axes[0].set_ylabel(ylabel, fontsize=9)
    _colorbar(fig, image, list(axes), "memory value", size=0.25)
    fig.suptitle(f"{title} (sequence {row}, {total} steps)", fontsize=12)
    return fig


# ------------------------------------------------------------------ 5. mechanisms, task by task


def _weights_panel(
    fig: Figure,
    ax: Any,
    weights: np.ndarray,
    rows: tuple[int, int],
    title: str,
    mask_row: np.ndarray,
    vmax: float,
) -> Any:
    """One weighting [N, T], rows ``rows`` of it, time along x, with the phase lines."""
    first, last = rows
    image = _heatmap(
        ax,
        weights[first : last + 1],
        title=title,
        ylabel=_rows_label(first, last, weights.shape[0]),
        cmap=WEIGHTS_CMAP,
        vmin=0.0,
        vmax=vmax,
        rows=rows,
    )
    _phase_lines(ax, mask_row)
    return image


def head_weightings(
    model: Any, batch: Any, title: str = "Weightings", *, row: int = 0, crop: bool = True
) -> Figure:
    """The write and the read weightings of every head on one sequence, time along x.

    Top row: write heads 0..W-1; bottom row: read heads 0..R-1. Every panel has the same rows,
    those that hold 90% of all the weightings' mass (``weight_mass_rows``) with ``crop``, and
    the same colour scale, so heads can be compared. Dashed lines mark where scoring starts
    and stops. Axes: W + R panels and one colour bar.
    """
    _, trace = _run_traced(model, batch.inputs)
    row = _check_index(row, batch.batch_size, "row")
    writes = np.moveaxis(trace.write_weights[:, row], 0, -1)  # [W, N, T]
    reads = np.moveaxis(trace.read_weights[:, row], 0, -1)  # [R, N, T]
    n = writes.shape[1]
    rows = (0, n - 1)
    if crop:
        rows = weight_mass_rows(np.concatenate([writes, reads]).swapaxes(1, 2))
    vmax = max(1e-6, float(writes.max()), float(reads.max()))
    columns = max(writes.shape[0], reads.shape[0])
    fig = _figure(2.0 + 4.2 * columns, 7.0)
    axes = fig.subplots(2, columns, squeeze=False, sharey=True)
    image = None
    for r, (side, group) in enumerate((("write", writes), ("read", reads))):
        for h in range(columns):
            if h >= group.shape[0]:
                fig.delaxes(axes[r, h])
                continue
            image = _weights_panel(
                fig, axes[r, h], group[h], rows, f"{side} head {h}", batch.mask[:, row], vmax
            )
            if h:
                axes[r, h].set_ylabel("")
    _colorbar(fig, image, [ax for ax in axes.ravel() if ax.figure is fig], "weight", size=0.1)
    fig.suptitle(f"{title} (sequence {row}, {batch.num_steps} steps)", fontsize=12)
    return fig


def _item_steps(batch: Any, item: int) -> np.ndarray:
    """The steps holding the vectors of item ``item`` of an associative-recall episode
    (``item = K`` is the query): item i's delimiter is step i (k + 1), its vectors follow."""
    num_items = int(batch.info["num_items"])
    k = batch.num_steps // (num_items + 2) - 1
    return item * (k + 1) + 1 + np.arange(k)


def _rows_written(w_write: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """The rows of largest write weight at ``steps``, each once (w_write [N, T])."""
    return np.unique(w_write[:, steps].argmax(axis=0))


def _answer_rows_found(
    w_write: np.ndarray, w_read: np.ndarray, batch: Any, row: int
) -> tuple[int, int]:
    """(found, written): how many of the rows written for item q + 1 the read head focuses on
    (largest read weight) at some step from the one before the answer to the last answer step.
    From the step before: a model may read one step ahead and answer from r_{t-1}, which its
    controller receives at step t. w_write, w_read [N, T]."""
    q = int(batch.info["query_index"][row])
    written = _rows_written(w_write, _item_steps(batch, q + 1))
    answer = _scored_steps(batch.mask, row)
    window = np.arange(max(0, int(answer[0]) - 1), int(answer[-1]) + 1)
    focused = np.unique(w_read[:, window].argmax(axis=0))
    return int(np.isin(written, focused).sum()), int(written.size)


def _check_recall_batch(batch: Any) -> None:
    if "num_items" not in batch.info or "query_index" not in batch.info:
        raise ValueError(
            "batch: expected an associative-recall batch (info num_items, query_index)"
        )


def recall_rows_found(
    model: Any, batch: Any, *, write_head: int = 0, read_head: int = 0
) -> np.ndarray:
    """For each episode of an associative-recall ``batch``, the share of the rows that write
    head ``write_head`` wrote for item q + 1 (at each of its steps, the row of largest write
    weight) on which read head ``read_head`` focuses at some step from the one before the
    answer to the end: 1.0 for a model that reads the answer where it stored it, 0 for one
    that reads elsewhere. Returns [B]."""
    _check_recall_batch(batch)
    _, trace = _run_traced(model, batch.inputs)
    return _rows_found(trace, batch, *_check_heads(trace, write_head, read_head))


def _rows_found(trace: Trace, batch: Any, write_head: int, read_head: int) -> np.ndarray:
    """``recall_rows_found`` of one head pair, from the trace of ``batch``: [B]."""
    found = [
        _answer_rows_found(
            trace.write_weights[:, b, write_head].T, trace.read_weights[:, b, read_head].T, batch, b
        )
        for b in range(batch.batch_size)
    ]
    return np.array([f / total for f, total in found])


def recall_head_pairs(model: Any, batch: Any) -> np.ndarray:
    """``recall_rows_found`` averaged over ``batch``, for every (write head, read head) pair:
    [W, R]. With several heads, the largest entry names the pair that stores the items and
    finds the answer, the pair to draw with ``recall_weightings``."""
    _check_recall_batch(batch)
    _, trace = _run_traced(model, batch.inputs)
    num_write, num_read = trace.write_weights.shape[2], trace.read_weights.shape[2]
    shares = np.zeros((num_write, num_read))
    for w, r in np.ndindex(num_write, num_read):
        shares[w, r] = _rows_found(trace, batch, w, r).mean()
    return shares


def recall_weightings(
    model: Any,
    batch: Any,
    title: str = "Associative recall",
    *,
    row: int = 0,
    write_head: int = 0,
    read_head: int = 0,
) -> Figure:
    """Associative recall: did the read head find item q + 1 by way of the query item q?

    The weightings of write head ``write_head`` and read head ``read_head`` on episode ``row``
    (``recall_head_pairs`` finds the pair that does the lookup in a model with several heads),
    zoomed on 90% of their mass before the answer. Shaded columns: the steps of item q (the one
    the query repeats), of item q + 1 (the answer) and of the query. Horizontal lines: the rows
    written for items q and q + 1 (at each of the item's steps, the row of largest write
    weight). The read panel's title counts the rows of item q + 1 on which the read focus
    (largest read weight) lands from the step before the answer to its end. Needs
    ``batch.info`` ``num_items`` and ``query_index``. Axes: 2 panels, 1 colour bar.
    """
    _check_recall_batch(batch)
    _, trace = _run_traced(model, batch.inputs)
    row = _check_index(row, batch.batch_size, "row")
    write_head, read_head = _check_heads(trace, write_head, read_head)
    q, num_items = int(batch.info["query_index"][row]), int(batch.info["num_items"])
    w_write = trace.write_weights[:, row, write_head].T  # [N, T]
    w_read = trace.read_weights[:, row, read_head].T  # [N, T]
    spans = {
        f"item q = {q} (queried)": (_item_steps(batch, q), "#e8890c"),
        f"item q + 1 = {q + 1} (answer)": (_item_steps(batch, q + 1), "#d62728"),
        "query": (_item_steps(batch, num_items), "#9467bd"),
    }
    written = {  # the row of largest write weight at each of the item's steps
        name: _rows_written(w_write, steps) for name, (steps, _) in list(spans.items())[:2]
    }
    answer = _scored_steps(batch.mask, row)
    found, total = _answer_rows_found(w_write, w_read, batch, row)
    # the zoom: where the items are stored and looked up (the write head's moves during the
    # answer, which the task does not need, may wrap round to the other end of the memory)
    rows = weight_mass_rows(np.concatenate([w_write[:, : answer[0]].T, w_read.T]))
    vmax = max(1e-6, float(w_write.max()), float(w_read.max()))
    fig = _figure(14.0, 5.2)
    axes = fig.subplots(1, 2, sharey=True)
    titles = (
        f"write weightings, write head {write_head}",
        f"read weightings, read head {read_head}: its focus finds {found} of the {total} rows\n"
        f"written for item q + 1, from the step before the answer to its end",
    )
    image = None
    for ax, w, panel_title in zip(axes, (w_write, w_read), titles, strict=True):
        image = _weights_panel(fig, ax, w, rows, panel_title, batch.mask[:, row], vmax)
        _mark_items(ax, spans, written)
    axes[1].set_ylabel("")
    fig.legend(
        *axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=5, fontsize=8
    )
    _colorbar(fig, image, list(axes), "weight", size=0.1)
    fig.suptitle(f"{title}: episode {row}, {num_items} items, query item q = {q}", fontsize=12)
    return fig


def _mark_items(ax: Any, spans: Mapping[str, tuple], written: Mapping[str, np.ndarray]) -> None:
    """Shade each item's steps (``spans``: name -> (steps, colour)) and draw dotted lines at
    the rows written for items q and q + 1 (``written``: name -> rows), in their colours."""
    for name, (steps, colour) in spans.items():
        ax.axvspan(steps[0] - 0.5, steps[-1] + 0.5, color=colour, alpha=0.25, lw=0, label=name)
    for (name, rows), colour in zip(written.items(), ("#e8890c", "#d62728"), strict=True):
        for i, r in enumerate(rows):
            label = f"rows written for {name.split(' (')[0]}" if i == 0 else None
            ax.axhline(r, color=colour, lw=1.2, ls=":", label=label)


def _rank_correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation of two samples (ties broken by order): 1 when y rises with
    x, -1 when it falls, near 0 when they are unrelated; nan for a constant sample."""
    rx = np.argsort(np.argsort(x, kind="stable"), kind="stable").astype(np.float64)
    ry = np.argsort(np.argsort(y, kind="stable"), kind="stable").astype(np.float64)
    if rx.std() == 0.0 or ry.std() == 0.0 or len(np.unique(y)) < 2:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def priority_rows(model: Any, batch: Any, title: str = "Priority sort") -> Figure:
    """Priority sort: where every head writes each input, and where every head reads.

    Top row, one panel per write head: for every input step of every sequence of ``batch``, the
    priority of the vector (x) against the row of the head's largest write weight (y). Bottom
    row, one panel per read head: for every output step, the output's rank j (0 = highest
    priority, x) against the row of largest read weight (y). The colour is that largest
    weight: a dark point is a diffuse weighting, a bright one a sharp focus. Each title gives
    the rank correlation (Spearman) of x and y: near +-1 for a head that writes (or reads) in
    the order of the priorities, near 0 for one that does not. Needs ``batch.info``
    ``num_inputs`` and ``priorities``. Axes: W + R panels and one colour bar.
    """
    if "priorities" not in batch.info:
        raise ValueError("batch: expected a priority-sort batch (info num_inputs, priorities)")
    _, trace = _run_traced(model, batch.inputs)
    n = int(batch.info["num_inputs"])
    priorities = np.asarray(batch.info["priorities"])  # [n, B]
    writes = trace.write_weights[:n]  # [n, B, W, N]
    outputs = np.flatnonzero(batch.mask[:, 0] > 0)
    reads = trace.read_weights[outputs]  # [m, B, R, N]
    ranks = np.broadcast_to(np.arange(outputs.size)[:, None], reads.shape[:2])  # [m, B]
    panels = [
        ("write", h, priorities, writes[:, :, h], "priority of the input")
        for h in range(writes.shape[2])
    ] + [
        ("read", h, ranks, reads[:, :, h], "output rank j (0 = highest)")
        for h in range(reads.shape[2])
    ]
    columns = max(writes.shape[2], reads.shape[2])
    fig = _figure(1.5 + 3.6 * columns, 7.0)
    axes = fig.subplots(2, columns, squeeze=False, sharey=True)
    scatter = None
    for side, h, x, w, xlabel in panels:
        ax = axes[0 if side == "write" else 1, h]
        where, strength = w.argmax(axis=-1), w.max(axis=-1)  # [steps, B] each
        scatter = ax.scatter(
            x.ravel(), where.ravel(), c=strength.ravel(), s=10, cmap=WEIGHTS_CMAP, vmin=0, vmax=1
        )
        rho = _rank_correlation(np.asarray(x, np.float64).ravel(), where.ravel())
        ax.set_title(f"{side} head {h}: rank correlation {rho:+.2f}", fontsize=10)
        ax.set_xlabel(xlabel, fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    for r, used in enumerate((writes.shape[2], reads.shape[2])):
        axes[r, 0].set_ylabel(f"row of the largest {('write', 'read')[r]} weight", fontsize=9)
        for h in range(used, columns):
            fig.delaxes(axes[r, h])
    _colorbar(
        fig, scatter, [ax for ax in axes.ravel() if ax.figure is fig], "largest weight", size=0.1
    )
    fig.suptitle(f"{title}: rows written and read ({batch.batch_size} sequences)", fontsize=12)
    return fig


def ngram_contexts(bits: np.ndarray, order: int = 6) -> np.ndarray:
    """contexts [T, B]: at step t, the last ``order - 1`` bits up to and including b_t as a
    binary number, newest bit lowest (``tasks.ngrams.next_context``). ``bits`` [T, B] of 0/1.
    Entries before t = order - 2 hold an incomplete context."""
    bits = np.asarray(bits).astype(np.int64)
    context, contexts = np.zeros(bits.shape[1], dtype=np.int64), []
    for bit in bits:
        context = next_context(context, bit, order=order)
        contexts.append(context)
    return np.stack(contexts)


def context_consistency(rows: np.ndarray, contexts: np.ndarray) -> float:
    """The share of steps at which a sequence uses, for a context, the row it uses most often
    for that context: 1.0 when the row is a function of the context (a table), about
    1 / (steps per context) when rows and contexts are unrelated. ``rows``, ``contexts`` [S, B]."""
    rows, contexts = np.asarray(rows), np.asarray(contexts)
    if rows.shape != contexts.shape or rows.size == 0:
        raise ValueError(
            f"rows and contexts: expected the same non-empty shape, got "
            f"{rows.shape} and {contexts.shape}"
        )
    modal = 0
    for b in range(rows.shape[1]):  # per sequence: each has its own table
        pairs = np.stack([contexts[:, b], rows[:, b]], axis=1)
        pairs, counts = np.unique(pairs, axis=0, return_counts=True)  # (context, row) -> steps
        modal += sum(int(counts[pairs[:, 0] == c].max()) for c in np.unique(pairs[:, 0]))
    return modal / rows.size


def _ngram_sides(trace: Trace, batch: Any, order: int, head: int) -> dict[str, tuple]:
    """{"write": (row written [T', B], context of the bits before x_t [T', B]), "read": (row
    read, context of the bits up to x_t)}, over the steps that have a whole context."""
    contexts = ngram_contexts(batch.inputs[:, :, 0], order)  # [T, B], context ending at x_t
    start = order - 1
    return {
        "write": (trace.write_weights[start:, :, head].argmax(-1), contexts[start - 1 : -1]),
        "read": (trace.read_weights[start - 1 :, :, head].argmax(-1), contexts[start - 1 :]),
    }


def _context_table(where: np.ndarray, context: np.ndarray, n: int, count: int) -> np.ndarray:
    """[n, count]: for each context, the share of its steps spent at each memory row."""
    table = np.zeros((n, count))
    np.add.at(table, (where, context), 1.0)
    return table / np.maximum(table.sum(axis=0, keepdims=True), 1.0)


def ngram_context_rows(
    model: Any,
    batch: Any,
    title: str = "Dynamic N-grams",
    *,
    order: int = 6,
    head: int = 0,
    row: int = 0,
) -> Figure:
    """N-grams: is the memory a table with a row per context? (the paper's figure 15).

    The paper's NTM, each time a 5-bit context c came round, read one row at the step that
    completed c and wrote that row at the next step (updating its count of what follows c).
    Left: for every step t >= order - 1 of every sequence, the row of largest write weight
    against the context of the ``order - 1`` bits before x_t. Right: the row of largest read
    weight against the context ending with x_t, on sequence ``row`` (each sequence has a
    table of its own). Each column is normalised: the colour is the share of that context's
    steps spent at each row, so a table shows one bright cell per column. Titles give
    ``context_consistency`` over every sequence of ``batch`` and the same with the contexts
    shuffled within each sequence (what chance gives). Axes: 2 panels, 1 colour bar.
    """
    _, trace = _run_traced(model, batch.inputs)
    sides = _ngram_sides(trace, batch, order, head)
    n, count = trace.write_weights.shape[-1], 1 << (order - 1)
    row = _check_index(row, batch.batch_size, "row")
    tables = {
        side: _context_table(where[:, row], context[:, row], n, count)
        for side, (where, context) in sides.items()
    }
    rows = weight_mass_rows(np.stack(list(tables.values())).swapaxes(1, 2), mass=0.9)
    rng, fig = np.random.default_rng(0), _figure(15.0, 6.0)
    axes, image = fig.subplots(1, 2, sharey=True), None
    labels = [format(c, f"0{order - 1}b") for c in range(count)]
    for ax, (side, (where, context)) in zip(axes, sides.items(), strict=True):
        shuffled = rng.permuted(context, axis=0)
        same, chance = context_consistency(where, context), context_consistency(where, shuffled)
        when = "the bits before $x_t$" if side == "write" else "the bits up to $x_t$"
        image = _heatmap(
            ax,
            tables[side][rows[0] : rows[1] + 1],
            title=f"{side} head {head}: row against the context of {when}\n"
            f"same row for the same context: {same:.0%} of steps (shuffled contexts: "
            f"{chance:.0%})",
            ylabel=_rows_label(*rows, n, 0.9),
            cmap=WEIGHTS_CMAP,
            vmin=0.0,
            vmax=1.0,
            rows=rows,
            xlabel=f"context (the last {order - 1} bits, oldest first)",
        )
        ax.set_xticks(np.arange(count), labels, rotation=90, fontsize=6, family="monospace")
    axes[1].set_ylabel("")
    _colorbar(fig, image, list(axes), "share of the context's steps", size=0.1)
    fig.suptitle(
        f"{title}: memory rows by context (picture: sequence {row}; shares: "
        f"{batch.batch_size} sequences)",
        fontsize=12,
    )
    return fig


# ------------------------------------------------------------------ 6. the machine in one picture

DIAGRAM_BOXES = {  # name: (x, y, width, height, colour, text); the canvas is 16 x 7.4
    "x": (0.2, 3.4, 1.3, 0.9, "#f2f2f2", "input\n$x_t$"),
    "controller": (
        2.1,
        3.0,
        2.5,
        1.7,
        "#dbe9f6",
        "1. controller (LSTM)\n$[x_t, r_{t-1}, h_{t-1}]$\n$\\to h_t$",
    ),
    "heads": (
        5.3,
        3.0,
        2.9,
        1.7,
        "#fde7cf",
        "2. heads\nraw head vector $h_t W + b$,\nsplit by\nHeadLayout: $k, \\beta, g, s, \\gamma$"
        "\n(write heads: $e, a$)",
    ),
    "address": (
        8.9,
        4.9,
        3.3,
        1.9,
        "#dff2dc",
        "3. addressing, per head\ncontent $w^c$ → gated $w^g$"
        "\n→ shifted $\\tilde w$ → sharpened $w$",
    ),
    "memory": (
        13.0,
        2.7,
        2.8,
        2.3,
        "#e9e1f3",
        "memory $M$\n$N$ rows × $M$ columns\n\n4. write:"
        "\n$M_t = M_{t-1} \\circ (1 - w e^T)$\n$+ \\, w a^T$",
    ),
    "read": (8.9, 0.9, 3.3, 1.6, "#dff2dc", "5. read heads address $M_t$\nread $r_t = w^T M_t$"),
    "output": (
        2.1,
        0.6,
        2.5,
        1.6,
        "#f8dcdc",
        "6. output\n$y_t = [h_t, r_t] W_y + b_y$\n$\\sigma(y_t)$ = P(bit = 1)",
    ),
}
DIAGRAM_ARROWS = (  # (from, to, label, where the label sits: (dx, dy) from the midpoint)
    ("x", "controller", "", (0, 0)),
    ("controller", "heads", "$h_t$", (0, 0.25)),
    ("heads", "address", "$k, \\beta, g, s, \\gamma$", (-0.9, 0.35)),
    ("address", "memory", "write: $w$, $e$, $a$", (0.9, 0.35)),
    ("memory", "read", "$M_t$", (0.3, -0.2)),
    ("heads", "read", "read heads' $k, \\beta, g, s, \\gamma$", (-1.2, -0.3)),
    ("read", "output", "$r_t$", (0, 0.25)),
    ("controller", "output", "$h_t$", (0.3, 0)),
)


def _box_anchor(box: tuple, towards: tuple[float, float]) -> tuple[float, float]:
    """The point where the line from ``box``'s centre to ``towards`` leaves the box."""
    x, y, w, h = box[:4]
    cx, cy = x + w / 2, y + h / 2
    dx, dy = towards[0] - cx, towards[1] - cy
    scale = min(
        (w / 2) / abs(dx) if dx else math.inf,
        (h / 2) / abs(dy) if dy else math.inf,
    )
    return cx + dx * scale, cy + dy * scale


def architecture_diagram() -> Figure:
    """The machine in one picture: the controller, the heads, the memory, and one step's data
    flow, numbered as in DESIGN.md and ``model.NTM._step_forward``: x_t -> controller -> raw
    head vector -> addressing -> write -> read -> output. Dashed arrows carry state to the
    next step (r_t, every head's w_t, M_t, h_t and c_t). Axes: 1 (no ticks)."""
    fig = _figure(13.0, 6.2)
    ax = fig.subplots()
    ax.set(xlim=(0, 16), ylim=(0.2, 7.3), aspect="equal")
    ax.axis("off")
    centres = _draw_boxes_and_arrows(ax)
    # y_t leaves the machine
    oy = centres["output"][1]
    ax.add_patch(FancyArrowPatch((2.1, oy), (0.6, oy), arrowstyle="-|>", mutation_scale=14, lw=1.4))
    ax.text(0.55, oy + 0.3, "$y_t$", fontsize=10, ha="center")
    _draw_recurrent_state(ax)
    ax.set_title(
        "One time step of the NTM (numbers: the order of model.NTM._step_forward)", fontsize=12
    )
    return fig


def _draw_boxes_and_arrows(ax: Any) -> dict[str, tuple[float, float]]:
    """The diagram's boxes and the data flow of one step between them; the boxes' centres."""
    centres = {}
    for name, (x, y, w, h, colour, text) in DIAGRAM_BOXES.items():
        ax.add_patch(
            FancyBboxPatch(
                (x, y), w, h, boxstyle="round,pad=0.05", fc=colour, ec="0.3", lw=1.2, zorder=1
            )
        )
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=9, zorder=3)
        centres[name] = (x + w / 2, y + h / 2)
    for start, end, label, (dx, dy) in DIAGRAM_ARROWS:
        a = _box_anchor(DIAGRAM_BOXES[start], centres[end])
        b = _box_anchor(DIAGRAM_BOXES[end], centres[start])
        ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=14, lw=1.4, zorder=2))
        if label:
            mx, my = (a[0] + b[0]) / 2 + dx, (a[1] + b[1]) / 2 + dy
            ax.text(
                mx,
                my,
                label,
                fontsize=8,
                ha="center",
                va="center",
                zorder=4,
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.9},
            )
    return centres


def _draw_recurrent_state(ax: Any) -> None:
    """Dashed arrows: the state that goes on to step t + 1."""
    recurrent = dict(arrowstyle="-|>", mutation_scale=12, lw=1.1, ls="--", color="#7a7a7a")
    ax.add_patch(
        FancyArrowPatch((10.5, 0.9), (3.35, 3.0), connectionstyle="arc3,rad=-0.35", **recurrent)
    )
    ax.text(6.2, 1.2, "$r_t$ → next step's controller", fontsize=8, color="#555555")
    ax.add_patch(
        FancyArrowPatch((12.3, 5.4), (11.6, 6.9), connectionstyle="arc3,rad=0.9", **recurrent)
    )
    ax.text(
        12.9,
        6.5,
        "every head's $w_t$ → next step's\ninterpolation ($w_{t-1}$)",
        fontsize=8,
        color="#555555",
        ha="left",
    )
    ax.text(
        14.4,
        2.3,
        "$M_t$ → next step\n(writes see $M_{t-1}$,\nreads see $M_t$)",
        fontsize=8,
        color="#555555",
        ha="center",
        va="top",
    )
    ax.text(3.35, 4.95, "$h_t, c_t$ → next step", fontsize=8, color="#555555", ha="center")


# ------------------------------------------------------------------ 7. learning curves


def _curve_points(rows: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """(sequences seen, cost) of the rows that have both, finite."""
    points = [
        (float(r["sequences"]), float(r["cost"]))
        for r in rows
        if r.get("sequences") is not None and r.get("cost") is not None
    ]
    points = [(x, y) for x, y in points if math.isfinite(x) and math.isfinite(y)]
    if not points:
        return np.zeros(0), np.zeros(0)
    x, y = np.array(points).T
    return x, y


def _draw_curves(
    ax: Any,
    runs: Mapping[str, Sequence[Mapping[str, Any]]],
    title: str,
    reference: Mapping[str, float] | None,
) -> None:
    values = []
    for name, rows in runs.items():
        x, y = _curve_points(rows)
        if x.size:
            ax.plot(x, y, label=name, linewidth=1.6, marker="." if x.size < 30 else None)
            values.append(y)
    for k, (name, value) in enumerate((reference or {}).items()):
        ax.axhline(
            value,
            color="0.2",
            linestyle=("--", ":", "-.")[k % 3],
            linewidth=1.1,
            label=f"{name} ({value:.1f})",
        )
        values.append(np.array([float(value)]))
    _cost_axes(ax, title, values)


def _cost_axes(ax: Any, title: str, values: Sequence[np.ndarray]) -> None:
    """The axes of a learning curve: cost per sequence against sequences seen, a log y axis
    where the costs drawn (``values``) span more than two decades, a legend if anything was
    drawn."""
    costs = np.concatenate(values) if values else np.zeros(0)
    positive = costs[costs > 0]
    if positive.size and positive.max() / positive.min() > 100.0:
        ax.set_yscale("log")
    ax.set_title(title, fontsize=11)
    ax.set_xlabel("sequences seen", fontsize=9)
    ax.set_ylabel("cost per sequence (bits)", fontsize=9)
    ax.xaxis.set_major_formatter(EngFormatter(sep=""))
    ax.tick_params(labelsize=8)
    ax.grid(alpha=0.3, which="both")
    if values:
        ax.legend(fontsize=8)


def learning_curves(
    runs: Mapping[str, Sequence[Mapping[str, Any]]],
    title: str = "Learning curves",
    *,
    reference: Mapping[str, float] | None = None,
) -> Figure:
    """Cost per sequence (the ``cost`` of each metrics.jsonl row) against sequences seen.

    One line per run, e.g. ``{"NTM": rows, "LSTM": rows}`` (rows from ``train.read_metrics``);
    a log y axis where the costs span more than two decades; ``reference`` adds dashed
    horizontal lines, e.g. ``{"Bayes-optimal": 129.4}``. Axes: 1.
    """
    if not runs:
        raise ValueError("runs: expected at least one run, e.g. {'NTM': rows}")
    fig = _figure(7.5, 4.8)
    _draw_curves(fig.subplots(), runs, title, reference)
    return fig


def learning_curve_panels(
    panels: Sequence[tuple[str, Mapping[str, Sequence[Mapping[str, Any]]], Mapping | None]],
    title: str = "Learning curves",
) -> Figure:
    """``learning_curves`` side by side: one panel per ``(panel title, runs, reference)``,
    three to a row. Axes: ``len(panels)``."""
    if not panels:
        raise ValueError("panels: expected at least one (title, runs, reference)")
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig = _figure(max(7.5, 5.2 * cols), 3.9 * rows + 0.5)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax, (panel_title, runs, reference) in zip(axes, panels, strict=False):
        _draw_curves(ax, runs, panel_title, reference)
    for ax in axes[len(panels) :]:
        fig.delaxes(ax)
    fig.suptitle(title, fontsize=13)
    return fig


def _seed_band(runs: Sequence[Sequence[Mapping[str, Any]]]) -> tuple[np.ndarray, ...]:
    """(x, mean, low, high) of the cost over ``runs`` at the sequence counts all of them
    evaluated at (runs with the same batch size and evaluation interval share them)."""
    curves = [dict(zip(*_curve_points(rows), strict=True)) for rows in runs]
    shared = sorted(set.intersection(*(set(c) for c in curves))) if curves else []
    if not shared:
        return (np.zeros(0),) * 4
    costs = np.array([[c[x] for x in shared] for c in curves])  # [seeds, points]
    return np.array(shared), costs.mean(axis=0), costs.min(axis=0), costs.max(axis=0)


def seed_curve_panels(
    panels: Sequence[tuple[str, Mapping[str, Sequence[Sequence[Mapping[str, Any]]]]]],
    title: str = "Learning curves over seeds",
) -> Figure:
    """Learning curves over several seeds: the mean cost per sequence, and a band from the
    lowest to the highest seed, against sequences seen.

    ``panels``: ``(panel title, {label: [rows of seed 0, rows of seed 1, ...]})``, rows from
    ``train.read_metrics``; the points drawn are the sequence counts where every seed of a label
    was evaluated. A log y axis where the costs span more than two decades. Axes:
    ``len(panels)``, side by side.
    """
    if not panels:
        raise ValueError("panels: expected at least one (title, {label: [rows, ...]})")
    fig = _figure(max(7.5, 5.6 * len(panels)), 4.6)
    axes = np.atleast_1d(fig.subplots(1, len(panels), squeeze=False)).ravel()
    for ax, (panel_title, runs) in zip(axes, panels, strict=True):
        spans = []
        for label, seeds in runs.items():
            x, mean, low, high = _seed_band(seeds)
            if not x.size:
                continue
            (line,) = ax.plot(x, mean, linewidth=1.6, label=f"{label}: mean of {len(seeds)}")
            ax.fill_between(x, low, high, color=line.get_color(), alpha=0.25, linewidth=0)
            spans.append(np.concatenate([low, high]))
        _cost_axes(ax, f"{panel_title} (band: lowest to highest seed)", spans)
    fig.suptitle(title, fontsize=13)
    return fig


def cost_by_length(
    results: Mapping[str, tuple[Sequence[int], Sequence[float]]],
    trained: tuple[int, int] | None = None,
    *,
    xlabel: str = "sequence length",
    title: str = "Cost against length",
) -> Figure:
    """Cost per sequence against a task's length parameter, one line per model (the paper's
    figure 11: associative recall, cost against the number of items, NTM and LSTM).

    ``results``: ``{label: (lengths, costs)}``; ``trained``: the training range ``(low,
    high)``, shaded. Axes: 1.
    """
    if not results:
        raise ValueError("results: expected at least one model, e.g. {'NTM': (lengths, costs)}")
    fig = _figure(7.0, 4.4)
    ax = fig.subplots()
    for label, (lengths, costs) in results.items():
        if len(lengths) != len(costs):
            raise ValueError(
                f"results[{label!r}]: expected as many costs as lengths, "
                f"got {len(costs)} and {len(lengths)}"
            )
        ax.plot(lengths, costs, marker="o", markersize=4, linewidth=1.6, label=label)
    if trained is not None:
        ax.axvspan(trained[0] - 0.5, trained[1] + 0.5, color="0.85", zorder=0, label="trained on")
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_ylabel("cost per sequence (bits)", fontsize=9)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(bottom=0.0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=12)
    return fig


def ngram_predictions(
    models: Mapping[str, Any],
    task: Any,
    batch: Any,
    *,
    row: int = 0,
    title: str = "Dynamic N-grams: predictions",
) -> Figure:
    """The paper's figure 14: one N-grams sequence and, step by step, the probability of a 1
    that the Bayes-optimal estimator (``task.optimal_predictions``) and each of ``models`` give
    for the next bit.

    Strips, time on the x axis: the next bits (the targets), the optimal estimator's
    ``P(b_{t+1} = 1)``, then each model's sigma(y_t); each title gives that predictor's cost on
    this sequence in bits. The last panel plots each model's ``|p_t - p*_t|``, its distance
    from the optimal prediction, so that its mistakes stand out. Axes: ``3 + len(models)``
    and one colour bar.
    """
    if not models:
        raise ValueError("models: expected at least one model, e.g. {'NTM': ntm}")
    row = _check_index(row, batch.inputs.shape[1], "row")
    one = slice(row, row + 1)  # the sequence, kept as a batch of one: [T, 1, ...]
    targets, mask = batch.targets[:, one], batch.mask[:, one]
    optimal = task.optimal_predictions(batch.inputs[:, one])  # [T, 1, 1]
    # each predictor's cost as the task and the trainer define it (bits on this sequence)
    strips = [
        ("next bit", targets[:, 0, 0], None),
        ("Bayes-optimal", optimal[:, 0, 0], float(cross_entropy_bits(optimal, targets, mask)[0])),
    ]
    for name, model in models.items():
        logits = to_numpy(model.forward(batch.inputs[:, one], keep_cache=False)[0]).astype(float)
        cost = float(sigmoid_cross_entropy_forward(logits, targets, mask)[0])
        strips.append((name, sigmoid(logits)[:, 0, 0], cost))
    targets, optimal = targets[:, 0, 0], optimal[:, 0, 0]  # [T] each, for the pictures
    fig = _figure(12.0, 1.0 + 0.75 * len(strips) + 2.0)
    axes = fig.subplots(
        len(strips) + 1, 1, gridspec_kw={"height_ratios": [1] * len(strips) + [2.6]}
    )
    image = None
    for ax, (name, values, cost) in zip(axes, strips, strict=False):
        label = name if cost is None else f"{name}: P(next bit = 1), {cost:.1f} bits"
        image = ax.imshow(
            values[None, :], aspect="auto", cmap=BITS_CMAP, vmin=0.0, vmax=1.0,
            interpolation="nearest",
        )  # fmt: skip
        ax.set_yticks([])
        ax.set_title(label, fontsize=9)
        ax.tick_params(labelbottom=False, labelsize=8)
    for name, values, _ in strips[2:]:
        axes[-1].plot(np.abs(values - optimal), linewidth=1.0, label=name)
    axes[-1].set_xlim(-0.5, targets.size - 0.5)
    axes[-1].set_ylim(0.0, 1.0)
    axes[-1].set_ylabel("|p - p*|", fontsize=9)
    axes[-1].set_xlabel("step t", fontsize=9)
    axes[-1].tick_params(labelsize=8)
    axes[-1].grid(alpha=0.3)
    axes[-1].legend(fontsize=8, loc="upper right")
    _colorbar(fig, image, list(axes[:-1]), "bit / P(1)", size=0.02)
    fig.suptitle(title, fontsize=12)
    return fig


# ------------------------------------------------------------------ 8. the demo's figures


def _copy_task_for(model: Any) -> Any:
    """The copy task with the bit width the model's inputs imply (input_size = bits + 1)."""
    bits = model.config.input_size - 1
    if bits < 1 or model.config.outputs != bits:
        raise ValueError(
            f"the model's sizes ({model.config.input_size} in, {model.config.outputs} out) "
            "are not a copy task's (bits + 1 in, bits out)"
        )
    return make_task("copy", bits=bits)


def demo_figures(model: Any, out_dir: str | os.PathLike) -> list[Path]:
    """The demo's pictures of a copy NTM: ``copy_generalisation.png`` (lengths 10, 20, 30, 50;
    training stopped at 20, so the longer ones test generalisation) and ``copy_heads.png``
    (a length-10 sequence, seed 0). Returns the paths written."""
    out = Path(out_dir)
    task = _copy_task_for(model)
    figure = copy_generalisation(
        {"NTM": model},
        task,
        lengths=(10, 20, 30, 50),
        seed=0,
        title="Copy: NTM outputs at lengths 10 to 50 (seed 0)",
    )
    paths = [save(figure, out / "copy_generalisation.png")]
    batch = task.sample(batch_size=1, rng=np.random.default_rng(0), length=10)
    paths.append(save(head_heatmaps(model, batch, "Copy, length 10"), out / "copy_heads.png"))
    return paths


__all__ = [
    "addressing_stages",
    "architecture_diagram",
    "context_consistency",
    "copy_generalisation",
    "cost_by_length",
    "demo_figures",
    "head_heatmaps",
    "head_weightings",
    "learning_curve_panels",
    "learning_curves",
    "memory_over_time",
    "ngram_context_rows",
    "ngram_contexts",
    "ngram_predictions",
    "priority_rows",
    "recall_head_pairs",
    "recall_rows_found",
    "recall_weightings",
    "repeat_copy_generalisation",
    "save",
    "seed_curve_panels",
    "sequence_generalisation",
    "weight_mass_rows",
]
