"""Views a learner drives in Jupyter: move a control, and the picture is recomputed and redrawn.

    addressing_explorer()          beta, g, s, gamma, key noise -> the four addressing stages
    write_explorer()               where a write head attends, e, a -> M_{t-1}, M_t, M_t - M_{t-1}
    step_debugger(model, batch)    one time step of a recorded forward pass: values or adjoints
    training_scrubber(run)         one sequence's heads and outputs across training snapshots

Each returns a ``View``: its ipywidgets controls by name (``view.controls["gamma"].value = 5``
redraws at once), the matplotlib figure (``view.figure``), and the arrays it drew last
(``view.panels``, plain NumPy). In Jupyter a View displays as its controls above the picture.
``view.render(**values)`` draws the same view for chosen control values into a new Figure
without moving the controls: the static picture a notebook keeps for readers without a kernel.

The picture is a PNG in an ``ipywidgets.Image``, drawn by matplotlib's Agg canvas, so it works
the same in JupyterLab, Notebook 7, VS Code and a test without a browser, with no
``%matplotlib`` backend. Every number drawn comes from ``ntm_numpy.ops`` or the model: the views
choose inputs and draw, they define no math. ipywidgets and matplotlib are imported inside the
functions, so ``import ntm_numpy`` needs neither.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..backend import to_numpy
from ..ops.activations import sigmoid
from ..ops.addressing import (
    content_forward,
    interpolate_forward,
    sharpen_forward,
    shift_forward,
)
from ..ops.loss import sigmoid_cross_entropy_forward
from ..ops.memory import write_forward

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 90
STAGE_NAMES = ("content", "gated", "shifted", "sharpened")
STAGE_SYMBOLS = ("$w^c$", "$w^g$", "$\\tilde w$", "$w$")
STAGE_TITLES = tuple(
    f"{i + 1}. {name} {symbol}"
    for i, (name, symbol) in enumerate(zip(STAGE_NAMES, STAGE_SYMBOLS, strict=True))
)
STAGE_COLOURS = ("C0", "C1", "C2", "C3")
SIGNED_CMAP = "RdBu_r"  # blue negative, red positive, white zero
WEIGHTS_CMAP = "viridis"


# ------------------------------------------------------------------ the view


class View:
    """Named controls, a figure, and the arrays last drawn; redrawn whenever a control moves.

    ``compute(**values) -> panels`` turns the controls' values into the arrays to draw;
    ``draw(figure, panels, values)`` draws them into an empty figure. ``describe(panels,
    values) -> str`` (optional) is HTML shown under the controls (the values a reader should
    see that no slider shows, such as the renormalised shift).
    """

    def __init__(
        self,
        controls: Mapping[str, Any],
        compute: Callable[..., dict[str, Any]],
        draw: Callable[[Figure, dict[str, Any], dict[str, Any]], None],
        *,
        figsize: tuple[float, float],
        arrange: Callable[[Mapping[str, Any]], Any] | None = None,
        describe: Callable[[dict[str, Any], dict[str, Any]], str] | None = None,
        layout_key: Callable[[dict[str, Any]], Any] = lambda values: None,
    ) -> None:
        import ipywidgets

        self.controls = dict(controls)
        self._compute, self._draw, self._describe = compute, draw, describe
        self._figsize = figsize
        self._holding = False
        self._layout_key = layout_key  # values that need a layout of their own (wider labels)
        self._positions: dict[Any, list] = {}  # layout key -> the axes' places, once laid out
        self.figure = _new_figure(figsize)
        self.panels: dict[str, Any] = {}
        self.image = ipywidgets.Image(format="png", layout=ipywidgets.Layout(max_width="100%"))
        self.note = ipywidgets.HTML()
        boxed = arrange(self.controls) if arrange else ipywidgets.VBox(list(self.controls.values()))
        self.widget = ipywidgets.VBox([boxed, self.note, self.image])
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        self.redraw()

    def values(self) -> dict[str, Any]:
        """The controls' current values, by name."""
        return {name: control.value for name, control in self.controls.items()}

    def set(self, **values: Any) -> None:
        """Move several controls at once, with a single redraw."""
        self._check_names(values)
        with self._hold():
            for name, value in values.items():
                self.controls[name].value = value
        self.redraw()

    def redraw(self) -> None:
        """Recompute ``panels`` from the controls and redraw the figure and the picture.

        The first drawing is laid out by matplotlib's constrained layout; later ones put the
        same axes in the same places, which keeps the picture still and halves the time of a
        redraw (the layout costs as much as the drawing).
        """
        values = self.values()
        self.panels = self._compute(**values)
        self.figure.clear()
        self.figure.set_layout_engine("constrained")
        self._draw(self.figure, self.panels, values)
        key = self._layout_key(values)
        positions = self._positions.get(key)
        same_axes = positions is not None and len(positions) == len(self.figure.axes)
        if same_axes:
            self.figure.set_layout_engine("none")
            for ax, position in zip(self.figure.axes, positions, strict=True):
                ax.set_position(position)
        self.image.value = _png(self.figure)
        if not same_axes:
            self._positions[key] = [ax.get_position() for ax in self.figure.axes]
        self.note.value = self._describe(self.panels, values) if self._describe else ""

    def render(self, **values: Any) -> Figure:
        """A new Figure of this view for the given control values (the others as they are now).

        The controls do not move: this is the static picture that a notebook keeps.
        """
        self._check_names(values)
        merged = {**self.values(), **values}
        figure = _new_figure(self._figsize)
        self._draw(figure, self._compute(**merged), merged)
        return figure

    def _check_names(self, values: Mapping[str, Any]) -> None:
        unknown = sorted(set(values) - set(self.controls))
        if unknown:
            raise ValueError(f"unknown control(s) {unknown}; this view has {list(self.controls)}")

    @contextmanager
    def _hold(self):
        self._holding = True
        try:
            yield
        finally:
            self._holding = False

    def _on_change(self, _change: Any) -> None:
        if not self._holding:
            self.redraw()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """In Jupyter, the view is its widget box."""
        return self.widget._repr_mimebundle_(**kwargs)


def _new_figure(figsize: tuple[float, float]) -> Figure:
    """A figure with its own Agg canvas: no pyplot, so nothing is shown behind the view's back."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _slider(description: str, value: float, low: float, high: float, step: float) -> Any:
    import ipywidgets

    return ipywidgets.FloatSlider(
        value=value,
        min=low,
        max=high,
        step=step,
        description=description,
        continuous_update=False,  # redraw on release: a drag would queue one redraw per pixel
        style={"description_width": "initial"},
    )


def _symmetric_limit(*arrays: np.ndarray, floor: float = 1e-12) -> float:
    """max abs value over the finite entries of ``arrays``: a signed colour scale's half-width."""
    finite = [np.abs(a[np.isfinite(a)]) for a in arrays]
    return max([floor, *(float(f.max()) for f in finite if f.size)])


def _bars(ax, weights: np.ndarray, colour: str, title: str) -> None:
    rows = np.arange(weights.shape[-1])
    ax.bar(rows, weights, color=colour, width=0.8)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("memory row")
    if rows.size <= 16:
        ax.set_xticks(rows)


# ------------------------------------------------------------------ addressing explorer


def addressing_explorer(*, memory_size: int = 10, memory_dim: int = 6, seed: int = 0) -> View:
    """The four addressing stages of one head over a small fixed memory, driven by sliders.

    Sliders: beta (0-50), g (0-1), the shift weights s_-1, s_0, s_+1 (renormalised to sum to 1:
    the note under the sliders shows the normalised values), gamma (1-20), and the noise added
    to the key (the key is memory row 3 plus ``noise`` times a fixed random direction). The
    previous weighting w_{t-1} is focused on row 0. Panels (``view.panels``, each [N]):
    ``content``, ``gated``, ``shifted``, ``sharpened``, and the inputs ``previous``,
    ``cosine``, ``shift`` ([3], normalised), ``key`` ([M]), ``key_row``.
    """
    rng = np.random.default_rng(seed)
    memory = rng.standard_normal((1, memory_size, memory_dim))  # [B, N, M]
    noise_direction = rng.standard_normal((1, 1, memory_dim))  # [B, H, M]
    key_row = min(3, memory_size - 1)
    previous = np.full((1, 1, memory_size), 0.2 / max(memory_size - 1, 1))  # [B, H, N]
    previous[0, 0, 0] = 0.8 if memory_size > 1 else 1.0

    def compute(beta, g, s_minus, s_zero, s_plus, gamma, noise) -> dict[str, Any]:
        shift = _normalised_shift(s_minus, s_zero, s_plus)  # [B, H, 3]
        key = memory[:, None, key_row, :] + noise * noise_direction
        content, content_cache = content_forward(key, memory, np.full((1, 1, 1), beta))
        gated, _ = interpolate_forward(content, previous, np.full((1, 1, 1), g))
        shifted, _ = shift_forward(gated, shift)
        sharpened, _ = sharpen_forward(shifted, np.full((1, 1, 1), gamma))
        return {
            "previous": previous[0, 0],
            "cosine": content_cache.cosine[0, 0],
            "content": content[0, 0],
            "gated": gated[0, 0],
            "shifted": shifted[0, 0],
            "sharpened": sharpened[0, 0],
            "shift": shift[0, 0],
            "key": key[0, 0],
            "key_row": key_row,
        }

    controls = {
        "beta": _slider("key strength β", 5.0, 0.0, 50.0, 0.5),
        "g": _slider("gate g", 0.5, 0.0, 1.0, 0.01),
        "s_minus": _slider("s₋₁ (back)", 0.05, 0.0, 1.0, 0.01),
        "s_zero": _slider("s₀ (stay)", 0.15, 0.0, 1.0, 0.01),
        "s_plus": _slider("s₊₁ (forward)", 0.8, 0.0, 1.0, 0.01),
        "gamma": _slider("sharpening γ", 3.0, 1.0, 20.0, 0.1),
        "noise": _slider(f"noise on the key (row {key_row})", 0.4, 0.0, 2.0, 0.05),
    }
    return View(
        controls,
        compute,
        _draw_addressing,
        figsize=(13, 3.0),
        arrange=_two_columns,
        describe=_describe_shift,
    )


def _normalised_shift(s_minus: float, s_zero: float, s_plus: float) -> np.ndarray:
    """[1, 1, 3]: the three slider values divided by their sum (all zero: equal weights)."""
    raw = np.array([s_minus, s_zero, s_plus], dtype=float)
    total = raw.sum()
    shift = raw / total if total > 0 else np.full(3, 1.0 / 3.0)
    return shift[None, None, :]


def _describe_shift(panels: dict[str, Any], values: dict[str, Any]) -> str:
    s = panels["shift"]
    return (
        f"shift weights, renormalised to sum to 1: s₋₁ = {s[0]:.3f}, s₀ = {s[1]:.3f}, "
        f"s₊₁ = {s[2]:.3f}"
    )


def _two_columns(controls: Mapping[str, Any]) -> Any:
    import ipywidgets

    names = list(controls)
    half = (len(names) + 1) // 2
    columns = [names[:half], names[half:]]
    return ipywidgets.HBox(
        [ipywidgets.VBox([controls[n] for n in column]) for column in columns],
    )


def _draw_addressing(figure: Figure, panels: dict[str, Any], values: dict[str, Any]) -> None:
    axes = figure.subplots(1, 4, sharey=True)
    s = panels["shift"]
    titles = [
        f"{STAGE_TITLES[0]}   β = {values['beta']:g}",
        f"{STAGE_TITLES[1]}   g = {values['g']:g}",
        f"{STAGE_TITLES[2]}   s = [{s[0]:.2f}, {s[1]:.2f}, {s[2]:.2f}]",
        f"{STAGE_TITLES[3]}   γ = {values['gamma']:g}",
    ]
    for ax, name, title, colour in zip(axes, STAGE_NAMES, titles, STAGE_COLOURS, strict=True):
        _bars(ax, panels[name], colour, title)
    rows = np.arange(panels["previous"].size)
    axes[1].step(rows, panels["previous"], where="mid", color="0.4", lw=1, label="$w_{t-1}$")
    axes[1].legend(fontsize=8, loc="upper right")
    axes[0].set(ylim=(0, 1.02), ylabel="weight")
    figure.suptitle(
        f"key: memory row {panels['key_row']} + {values['noise']:g} × a fixed random vector",
        fontsize=10,
    )


# ------------------------------------------------------------------ write explorer


def write_explorer(*, memory_size: int = 8, memory_dim: int = 5, seed: int = 1) -> View:
    """One write head's erase-then-add on a small memory, with every value printed.

    Controls: ``row`` (where the head attends) and ``spread`` (the share of the weighting that
    spills onto the two neighbouring rows: a one-hot weighting on ``row`` shifted by
    s = [spread/2, 1 - spread, spread/2] with ``shift_forward``), then one slider per column for
    the erase vector (``e0``, ``e1``, ... in 0-1) and the add vector (``a0``, ... in -1-1).
    Panels (``view.panels``): ``weighting`` [N], ``erase``, ``add`` [M], ``before`` (M_{t-1}),
    ``after`` (M_t = ``write_forward``), ``change`` (M_t - M_{t-1}), each [N, M].
    """
    rng = np.random.default_rng(seed)
    before = rng.standard_normal((1, memory_size, memory_dim)).round(1)  # [B, N, M]

    def compute(row, spread, **vectors) -> dict[str, Any]:
        erase = np.array([vectors[f"e{m}"] for m in range(memory_dim)])[None, None, :]  # [1,1,M]
        add = np.array([vectors[f"a{m}"] for m in range(memory_dim)])[None, None, :]
        one_hot = np.zeros((1, 1, memory_size))
        one_hot[0, 0, row] = 1.0
        weighting, _ = shift_forward(one_hot, np.array([[[spread / 2, 1 - spread, spread / 2]]]))
        after, _ = write_forward(before, weighting, erase, add)
        return {
            "weighting": weighting[0, 0],
            "erase": erase[0, 0],
            "add": add[0, 0],
            "before": before[0],
            "after": after[0],
            "change": after[0] - before[0],
        }

    import ipywidgets

    controls: dict[str, Any] = {
        "row": ipywidgets.IntSlider(
            value=min(5, memory_size - 1),
            min=0,
            max=memory_size - 1,
            description="row",
            continuous_update=False,
        ),
        "spread": _slider("spread to the neighbours", 0.0, 0.0, 1.0, 0.05),
    }
    pattern = [1.0, -1.0] * memory_dim
    for m in range(memory_dim):
        controls[f"e{m}"] = _column_slider(f"e{m}", 1.0, 0.0, 1.0)
    for m in range(memory_dim):
        controls[f"a{m}"] = _column_slider(f"a{m}", pattern[m], -1.0, 1.0)
    limit = float(np.abs(before).max()) + 1.0  # |M_t| <= |M_{t-1}| + |a| with |a| <= 1

    def draw(figure: Figure, panels: dict[str, Any], values: dict[str, Any]) -> None:
        _draw_write(figure, panels, limit)

    return View(
        controls, compute, draw, figsize=(13, 3.6), arrange=_arrange_write, describe=_describe_write
    )


def _column_slider(description: str, value: float, low: float, high: float) -> Any:
    import ipywidgets

    return ipywidgets.FloatSlider(
        value=value,
        min=low,
        max=high,
        step=0.05,
        description=description,
        orientation="vertical",
        readout_format=".2f",
        continuous_update=False,
        layout=ipywidgets.Layout(width="56px", height="150px"),
    )


def _arrange_write(controls: Mapping[str, Any]) -> Any:
    import ipywidgets

    erase = [c for n, c in controls.items() if n.startswith("e")]
    add = [c for n, c in controls.items() if n.startswith("a")]
    return ipywidgets.VBox(
        [
            ipywidgets.HBox([controls["row"], controls["spread"]]),
            ipywidgets.HBox(
                [
                    ipywidgets.VBox(
                        [
                            ipywidgets.HTML("<b>erase e</b> (0: keep, 1: erase)"),
                            ipywidgets.HBox(erase),
                        ]
                    ),
                    ipywidgets.HTML("&emsp;&emsp;"),
                    ipywidgets.VBox([ipywidgets.HTML("<b>add a</b>"), ipywidgets.HBox(add)]),
                ]
            ),
        ]
    )


def _describe_write(panels: dict[str, Any], values: dict[str, Any]) -> str:
    w = panels["weighting"]
    rows = ", ".join(f"w<sub>{i}</sub> = {w[i]:.2f}" for i in np.flatnonzero(w > 1e-12))
    return f"write weighting: {rows}; every other row 0 (the spread wraps around, as shifts do)"


def _draw_write(figure: Figure, panels: dict[str, Any], limit: float) -> None:
    axes = figure.subplots(1, 4, sharey=True, width_ratios=[0.6, 1, 1, 1])
    N = panels["weighting"].size
    axes[0].barh(np.arange(N), panels["weighting"], color="C0")
    axes[0].set(xlim=(0, 1.05), xlabel="weight", ylabel="memory row", title="write weighting $w$")
    titles = {
        "before": "$M_{t-1}$",
        "after": "$M_t = M_{t-1} \\odot (1 - w e^\\top) + w a^\\top$",
        "change": "$M_t - M_{t-1}$",
    }
    for ax, (name, title) in zip(axes[1:], titles.items(), strict=True):
        image = _annotated_heatmap(ax, panels[name], limit)
        ax.set(title=title, xlabel="column")
    axes[0].set_yticks(np.arange(N))
    axes[0].set_ylim(N - 0.5, -0.5)
    figure.colorbar(image, ax=axes[1:], fraction=0.03, label="one scale for all three")
    vectors = [
        f"{name} = ({', '.join(f'{v:.2g}' for v in panels[key])})"
        for name, key in (("erase e", "erase"), ("add a", "add"))
    ]
    figure.suptitle("      ".join(vectors), fontsize=10)


def _annotated_heatmap(ax, values: np.ndarray, limit: float) -> Any:
    """A signed heatmap with each value printed in its cell (dark cells get white text)."""
    image = ax.imshow(values, cmap=SIGNED_CMAP, vmin=-limit, vmax=limit, aspect="auto")
    for (i, m), value in np.ndenumerate(values):
        shown = 0.0 if abs(value) < 5e-3 else value  # no "-0.00"
        colour = "white" if abs(value) > 0.6 * limit else "black"
        ax.text(m, i, f"{shown:.2f}", ha="center", va="center", fontsize=7, color=colour)
    ax.set_xticks(np.arange(values.shape[1]))
    return image


# ------------------------------------------------------------------ step debugger


def step_debugger(model: Any, batch: Any, *, row: int = 0, t: int = 0) -> View:
    """One time step of a recorded forward pass of ``model`` (an ``NTM``) on sequence ``row``
    of ``batch`` (a ``tasks.Batch``), every value of the step on one picture, first at step
    ``t`` (a notebook that keeps a static picture of one step builds the view there and shows
    ``view.figure``, instead of drawing the step twice).

    Controls: ``t`` (the time step) and ``adjoint``: off, the panels show the forward's values
    (``cache.trace``); on, the adjoints dL/d(the same quantity) of that sequence's loss, from
    ``ntm_numpy.reference.adjoint_trace``: what flows back into each stage at step t.

    Panels (``view.panels``) at step t: ``input`` [I], ``output`` (sigmoid of the logits) and
    ``target`` [O], ``scored`` (the mask); ``write_stages`` [W, 4, N] and ``read_stages``
    [R, 4, N] (content, gated, shifted, sharpened); the head parameters ``write_key`` [W, M],
    ``write_beta``, ``write_gate``, ``write_gamma`` [W], ``write_shift`` [W, 2S+1], ``erase``,
    ``add`` [W, M], the same ``read_*`` [R, ...]; ``memory_prev`` (M_{t-1}), ``memory`` (M_t),
    ``memory_change`` (their difference), each [N, M]; ``reads`` (r_t) [R, M].
    """
    import ipywidgets

    recording = _record(model, batch, row)
    steps = recording["input"].shape[0]
    if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or not 0 <= t < steps:
        raise ValueError(
            f"t must be a time step of the batch, an int in [0, {steps - 1}], got {t!r}"
        )

    def compute(t: int, adjoint: bool, zoom: bool) -> dict[str, Any]:
        panels = _step_panels(recording, t, adjoint)
        panels["rows"] = recording["used_rows"] if zoom else (0, recording["memory_size"] - 1)
        return panels

    controls = {
        "t": ipywidgets.IntSlider(
            value=int(t), min=0, max=steps - 1, description="time step t", continuous_update=False
        ),
        "adjoint": ipywidgets.ToggleButton(
            value=False,
            description="show adjoints dL/d·",
            tooltip="every panel shows dL/d(that quantity) from the backward pass instead",
        ),
        "zoom": ipywidgets.Checkbox(
            value=True, description="zoom to the rows the heads use", indent=False
        ),
    }
    heads = (
        recording["values"]["write_content"].shape[1] + recording["values"]["read_content"].shape[1]
    )
    return View(
        controls,
        compute,
        _draw_step,
        figsize=(14, 4.4 + 1.9 * heads),
        arrange=lambda c: ipywidgets.HBox(list(c.values())),
        describe=lambda panels, values: _describe_step(recording, panels, values),
        layout_key=lambda values: values["adjoint"],
    )


def _record(model: Any, batch: Any, row: int) -> dict[str, Any]:
    """The forward pass of sequence ``row``: inputs, outputs, the trace as host arrays [T, ...]."""
    for name in ("inputs", "targets", "mask"):
        if not hasattr(batch, name):
            raise ValueError(f"batch must be a tasks Batch (inputs, targets, mask); no .{name}")
    if isinstance(row, bool) or not isinstance(row, int) or not 0 <= row < batch.batch_size:
        raise ValueError(f"row must be an integer in [0, {batch.batch_size}), got {row!r}")
    x = batch.inputs[:, row : row + 1]
    y = batch.targets[:, row : row + 1]
    mask = batch.mask[:, row : row + 1]
    logits, cache = model.forward(x)
    if not hasattr(cache, "trace"):
        raise ValueError(f"model must be an NTM (its forward records a trace); got {model!r}")
    values = _host_trace(cache.trace)
    loss, _ = sigmoid_cross_entropy_forward(logits, model.xp.asarray(y), model.xp.asarray(mask))
    return {
        "model": model,
        "x": x,
        "y": y,
        "mask": mask,
        "input": x[:, 0],
        "output": to_numpy(sigmoid(logits))[:, 0],
        "target": y[:, 0],
        "scored": mask[:, 0] > 0,
        "loss": float(to_numpy(loss)),
        "initial_memory": to_numpy(cache.steps[0].write.memory_prev)[0],
        "values": values,
        "adjoints": None,  # the reference's adjoint trace, on the first request
        "memory_size": values["memory"].shape[1],
        "used_rows": _used_rows(values["write_weights"], values["read_weights"]),
    }


def _used_rows(*weights: np.ndarray, threshold: float = 0.25, margin: int = 3) -> tuple[int, int]:
    """(first, last) memory row that any head focuses on (weight above ``threshold``) at any step,
    widened by ``margin``: where to zoom. Weights [T, H, N]."""
    N = weights[0].shape[-1]
    used = np.flatnonzero(np.max([w.max(axis=(0, 1)) for w in weights], axis=0) > threshold)
    if used.size == 0:
        return 0, N - 1
    return max(int(used[0]) - margin, 0), min(int(used[-1]) + margin, N - 1)


def _host_trace(trace: Any) -> dict[str, np.ndarray]:
    """A ``Trace`` of one sequence as a dict of host arrays, the batch axis dropped: [T, ...]."""
    return {name: to_numpy(value)[:, 0] for name, value in trace._asdict().items()}


def _adjoints(recording: dict[str, Any]) -> dict[str, np.ndarray]:
    if recording["adjoints"] is None:
        try:
            from ..reference import adjoint_trace
        except ImportError as error:  # pragma: no cover - the reference ships with the package
            raise RuntimeError(
                "the adjoint view needs ntm_numpy.reference.adjoint_trace, which is missing"
            ) from error
        model = recording["model"]
        trace = adjoint_trace(model, recording["x"], recording["y"], recording["mask"])
        recording["adjoints"] = _host_trace(trace)
    return recording["adjoints"]


def _step_panels(recording: dict[str, Any], t: int, adjoint: bool) -> dict[str, Any]:
    """Every quantity of step t, as values or as adjoints (see ``step_debugger``)."""
    source = _adjoints(recording) if adjoint else recording["values"]
    memory = source["memory"][t]
    if t > 0:
        memory_prev = source["memory"][t - 1]
    elif adjoint:  # dL/dM_{-1}, the initial memory's adjoint, is not part of the trace
        memory_prev = np.full_like(memory, np.nan)
    else:
        memory_prev = recording["initial_memory"]
    panels: dict[str, Any] = {
        "t": t,
        "adjoint": adjoint,
        "input": recording["input"][t],
        "output": recording["output"][t],
        "target": recording["target"][t],
        "scored": bool(recording["scored"][t]),
        "memory_prev": memory_prev,
        "memory": memory,
        "memory_change": memory - memory_prev,
        "reads": source["reads"][t],
        "erase": source["erase"][t],
        "add": source["add"][t],
    }
    for side in ("write", "read"):
        stages = ("content", "gated", "shifted", "weights")
        panels[f"{side}_stages"] = np.stack([source[f"{side}_{s}"][t] for s in stages], axis=1)
        for name in ("key", "beta", "gate", "shift", "gamma"):
            panels[f"{side}_{name}"] = source[f"{side}_{name}"][t]
    return panels


def _describe_step(recording: dict[str, Any], panels: dict[str, Any], values: dict) -> str:
    steps = recording["input"].shape[0]
    scored = "scored" if panels["scored"] else "not scored"
    text = (
        f"step t = {panels['t']} of 0…{steps - 1} ({scored}); "
        f"this sequence's cost: {recording['loss']:.3f} bits"
    )
    if panels["adjoint"]:
        text += (
            ". <b>Adjoints</b>: each panel shows dL/d(that quantity at step t), from "
            "<code>ntm_numpy.reference.adjoint_trace</code>; x<sub>t</sub> and the output "
            "stay values."
        )
    return text


def _draw_step(figure: Figure, panels: dict[str, Any], values: dict[str, Any]) -> None:
    W, R = panels["write_stages"].shape[0], panels["read_stages"].shape[0]
    grid = figure.add_gridspec(W + R + 2, 12, height_ratios=[1.2] + [1] * (W + R) + [1.3])
    prefix = "dL/d" if panels["adjoint"] else ""
    _draw_step_io(figure, grid, panels, prefix)
    heads = [("write", h, h) for h in range(W)] + [("read", h, W + h) for h in range(R)]
    _draw_step_stages(figure, grid, panels, heads, prefix)
    for side, h, line in heads:
        _draw_step_params(figure.add_subplot(grid[1 + line, 8:]), panels, side, h, prefix)
    _draw_step_memory(figure, grid[W + R + 1, :], panels, prefix)


def _draw_step_io(figure: Figure, grid: Any, panels: dict[str, Any], prefix: str) -> None:
    ax = figure.add_subplot(grid[0, :4])
    ax.bar(np.arange(panels["input"].size), panels["input"], color="0.35")
    ax.set(title=f"input $x_t$, t = {panels['t']}", ylim=(-0.05, 1.05), xlabel="channel")
    ax = figure.add_subplot(grid[0, 4:8])
    channels = np.arange(panels["output"].size)
    ax.bar(channels, panels["output"], color="C4")
    ax.plot(channels, panels["target"], "k_", markersize=14, mew=2)
    scored = "scored" if panels["scored"] else "not scored"
    title = f"output σ($y_t$) (bars) vs target (black), {scored}"
    ax.set(title=title, ylim=(-0.05, 1.05), xlabel="bit")
    ax = figure.add_subplot(grid[0, 8:])
    reads = panels["reads"]
    _grouped_bars(ax, {f"head {h}": reads[h] for h in range(reads.shape[0])})
    ax.set(title=f"read {prefix}$r_t$", xlabel="memory column")


def _grouped_bars(ax, groups: dict[str, np.ndarray]) -> None:
    """Bars of several vectors of the same length side by side, one colour each."""
    width = 0.8 / max(len(groups), 1)
    for i, (label, values) in enumerate(groups.items()):
        positions = np.arange(values.size) + (i - (len(groups) - 1) / 2) * width
        ax.bar(positions, values, width=width, label=label, color=f"C{(i + 5) % 10}")
    ax.axhline(0, color="k", lw=0.5)
    if len(groups) > 1:
        ax.legend(fontsize=7, loc="upper right", ncols=len(groups))


def _draw_step_stages(
    figure: Figure, grid: Any, panels: dict[str, Any], heads: list, prefix: str
) -> None:
    """The four stages of every head on one shared y axis: 0-1 for values, symmetric for
    adjoints."""
    if panels["adjoint"]:
        limit = 1.05 * _symmetric_limit(panels["write_stages"], panels["read_stages"])
        ylim = (-limit, limit)
    else:
        ylim = (0, 1.02)
    axes: list = []
    for side, h, line in heads:
        stages = panels[f"{side}_stages"][h]
        for s in range(4):
            share = axes[0] if axes else None
            ax = figure.add_subplot(grid[1 + line, 2 * s : 2 * s + 2], sharey=share, sharex=share)
            edges = np.arange(stages.shape[-1] + 1) - 0.5  # one filled outline, not N bars
            ax.stairs(stages[s], edges, fill=True, color=STAGE_COLOURS[s], baseline=0)
            title = f"{side} head {h}: {STAGE_NAMES[s]} {prefix}{STAGE_SYMBOLS[s]}"
            ax.set_title(title, fontsize=9)
            if s:
                ax.tick_params(labelleft=False)
            axes.append(ax)
    axes[0].set_ylim(*ylim)
    axes[0].set_xlim(panels["rows"][0] - 0.5, panels["rows"][1] + 0.5)
    for ax in axes[-4:]:
        ax.set_xlabel("memory row")


def _draw_step_params(ax, panels: dict[str, Any], side: str, h: int, prefix: str) -> None:
    """One head's parameters: the key (and erase, add) as bars over the columns, the scalars
    and the shift distribution in the title."""
    groups = {"k": panels[f"{side}_key"][h]}
    if side == "write":
        groups.update({"e": panels["erase"][h], "a": panels["add"][h]})
    _grouped_bars(ax, groups)
    shift = ", ".join(f"{v:.2g}" for v in panels[f"{side}_shift"][h])
    scalars = "   ".join(
        f"{prefix}{symbol}={panels[f'{side}_{name}'][h]:.2g}"
        for name, symbol in (("beta", "β"), ("gate", "g"), ("gamma", "γ"))
    )
    ax.set_title(f"{side} head {h}: {scalars}\n{prefix}s = [{shift}]", fontsize=9)
    ax.set_xlabel("memory column")


def _draw_step_memory(figure: Figure, cell: Any, panels: dict[str, Any], prefix: str) -> None:
    """M_{t-1}, M_t and M_t - M_{t-1} (or their adjoints), rows along x, on one signed scale."""
    inner = cell.subgridspec(1, 3)
    names = {
        "memory_prev": f"{prefix}$M_{{t-1}}$",
        "memory": f"{prefix}$M_t$",
        "memory_change": f"{prefix}$M_t$ − {prefix}$M_{{t-1}}$",
    }
    limit = _symmetric_limit(*(panels[n] for n in names))
    axes = []
    for i, (name, title) in enumerate(names.items()):
        ax = figure.add_subplot(inner[0, i])
        values = panels[name]
        image = ax.imshow(values.T, cmap=SIGNED_CMAP, vmin=-limit, vmax=limit, aspect="auto")
        ax.set_xlim(panels["rows"][0] - 0.5, panels["rows"][1] + 0.5)
        if not np.isfinite(values).any():
            ax.text(0.5, 0.5, "not in the trace (t = 0)", ha="center", transform=ax.transAxes)
        ax.set(title=title, xlabel="memory row", ylabel="column" if i == 0 else None)
        axes.append(ax)
    label = "dL/dM (adjoint)" if prefix else "value"
    figure.colorbar(image, ax=axes, fraction=0.02, label=label)


# ------------------------------------------------------------------ training scrubber

SNAPSHOT_NAME = re.compile(r"step_(\d+)\.npz$")


def training_scrubber(
    run: str | Path | Sequence[str | Path],
    *,
    task: Any = None,
    length: int | None = None,
    seed: int = 0,
) -> View:
    """One fixed sequence of the run's task through every training snapshot: the heads and the
    outputs taking shape as training goes on.

    ``run``: a run directory whose ``snapshots/`` folder (or the directory itself) holds
    ``step_NNNNNN.npz`` checkpoints, or a list of checkpoint paths. The task is ``task`` (a
    ``tasks`` Task) when given, else the one in the training config (``train_state["config"]``:
    ``task``, ``task_options``) of the first snapshot or of the run's ``checkpoint.npz``. The
    sequence is ``task.sample(1, default_rng(seed), length=length)``. Control: ``snapshot`` (an
    index into the checkpoints sorted by step). Panels (``view.panels``): ``step``, ``cost``
    (bits), ``target``, ``output``
    [T, O], ``mask`` [T], ``write_weights`` [W, T, N], ``read_weights`` [R, T, N].
    """
    import ipywidgets

    from ..training import checkpoint

    paths = _snapshot_paths(run)
    if task is None:
        task = _task_of(paths)
    batch = task.sample(batch_size=1, rng=np.random.default_rng(seed), length=length)
    loaded: dict[int, dict[str, Any]] = {}  # snapshot index -> panels, each file read once

    def compute(snapshot: int) -> dict[str, Any]:
        if snapshot not in loaded:
            loaded[snapshot] = _snapshot_panels(checkpoint.read(paths[snapshot]), batch)
        return loaded[snapshot]

    controls = {
        "snapshot": ipywidgets.IntSlider(
            value=0,
            min=0,
            max=len(paths) - 1,
            description="snapshot",
            continuous_update=False,
        )
    }

    def describe(panels: dict[str, Any], values: dict[str, Any]) -> str:
        return (
            f"snapshot {values['snapshot'] + 1} of {len(paths)}: after {panels['step']} steps, "
            f"cost {panels['cost']:.2f} bits on this sequence ({paths[values['snapshot']].name})"
        )

    return View(controls, compute, _draw_scrubber, figsize=(14, 3.4), describe=describe)


def _snapshot_paths(run: str | Path | Sequence[str | Path]) -> list[Path]:
    """The checkpoints of ``run``, sorted by step (see ``training_scrubber``)."""
    if isinstance(run, str | Path):
        folder = Path(run)
        if (folder / "snapshots").is_dir():
            folder = folder / "snapshots"
        if not folder.is_dir():
            raise ValueError(f"run must be a run directory or a list of checkpoints; {run} is not")
        paths = [p for p in folder.iterdir() if SNAPSHOT_NAME.search(p.name)]
        if not paths:
            raise ValueError(f"run: no step_NNNNNN.npz snapshots in {folder}")
        return sorted(paths, key=lambda p: int(SNAPSHOT_NAME.search(p.name).group(1)))
    paths = [Path(p) for p in run]
    if not paths:
        raise ValueError("run: an empty list of checkpoints")
    return paths


def _task_of(paths: list[Path]) -> Any:
    """The task the run trained on: from the training config of the first snapshot, or else of
    the run's ``checkpoint.npz`` beside the ``snapshots/`` folder (the trainer's snapshots hold
    the parameters only)."""
    from ..tasks import make_task
    from ..training import checkpoint

    run_checkpoint = paths[0].parent.parent / "checkpoint.npz"
    candidates = [paths[0], *([run_checkpoint] if run_checkpoint.exists() else [])]
    for path in candidates:
        config = (checkpoint.read(path).train_state or {}).get("config") or {}
        if "task" in config:
            return make_task(config["task"], **config.get("task_options", {}))
    raise ValueError(
        f"no training config naming the task in {[str(p) for p in candidates]}; pass task="
    )


def _snapshot_panels(saved: Any, batch: Any) -> dict[str, Any]:
    model = saved.model
    logits, cache = model.forward(batch.inputs)
    if not hasattr(cache, "trace"):
        raise ValueError(f"{saved.path}: not an NTM checkpoint (no heads to show)")
    xp = model.xp
    cost, _ = sigmoid_cross_entropy_forward(
        logits, xp.asarray(batch.targets), xp.asarray(batch.mask)
    )
    trace = cache.trace
    match = SNAPSHOT_NAME.search(saved.path.name)
    step = (saved.train_state or {}).get("step", int(match.group(1)) if match else None)
    return {
        "step": step,
        "cost": float(to_numpy(cost)),
        "target": batch.targets[:, 0],
        "output": to_numpy(sigmoid(logits))[:, 0],
        "mask": batch.mask[:, 0],
        "write_weights": to_numpy(trace.write_weights)[:, 0].transpose(1, 0, 2),
        "read_weights": to_numpy(trace.read_weights)[:, 0].transpose(1, 0, 2),
    }


def _draw_scrubber(figure: Figure, panels: dict[str, Any], values: dict[str, Any]) -> None:
    W, R = panels["write_weights"].shape[0], panels["read_weights"].shape[0]
    from matplotlib.ticker import MaxNLocator

    axes = figure.subplots(1, 2 + W + R, sharex=True, width_ratios=[1, 1] + [1.5] * (W + R))
    unscored = np.where(panels["mask"][:, None] > 0, 0.0, np.nan)  # NaN: drawn in the bad colour
    for ax, name in zip(axes[:2], ("target", "output"), strict=True):
        image = ax.imshow(
            (panels[name] + unscored).T,
            cmap=_bits_cmap(),
            vmin=0,
            vmax=1,
            aspect="auto",
            interpolation="nearest",
        )
        ax.set(title=f"{name} (blue: not scored)", ylabel="bit", xlabel="time step")
    heads = [("write", h, panels["write_weights"][h]) for h in range(W)]
    heads += [("read", h, panels["read_weights"][h]) for h in range(R)]
    for ax, (side, h, weights) in zip(axes[2:], heads, strict=True):
        image = ax.imshow(
            weights.T, cmap=WEIGHTS_CMAP, vmin=0, vmax=1, aspect="auto", interpolation="nearest"
        )
        ax.set(title=f"{side} head {h}: $w_t$", ylabel="memory row", xlabel="time step")
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    figure.colorbar(image, ax=axes[2:], fraction=0.02, label="weight")
    figure.suptitle(f"after {panels['step']} training steps: cost {panels['cost']:.2f} bits")


def _bits_cmap() -> Any:
    from matplotlib import colormaps

    return colormaps["Greys"].with_extremes(bad="#dce6f2")  # 0 white, 1 black; unscored: blue
