"""Every figure in ``figures/``, drawn from the pretrained models: ``python -m ntm_numpy figures``.

This module only chooses: which shipped model, which sequence (fixed seeds), which file. The
drawing is ``viz``'s, the loading ``checkpoint.pretrained_with_task``'s, the training logs
``train.read_metrics``'. A figure whose models are missing or unusable is skipped with a printed
note saying why, so the command draws what it can.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..tasks import TASKS, make_task, optimal_cost
from ..training import checkpoint
from ..training.loop import evaluate, read_metrics
from . import viz

SEED_CURVES = Path("checkpoints") / "seed_curves"  # bench/seed_curves.py writes the logs here


def task_titles() -> dict[str, str]:
    """Every registered task's title, by name (each task class declares its own)."""
    return {name: cls.title for name, cls in TASKS.items()}


def _note(message: str) -> None:
    print(f"figures: {message}")


def _load(name: str, *, quiet: bool = False) -> tuple[Any, Any] | None:
    """(model, task) of the pretrained ``name`` (``lstm_<task>`` for an LSTM); None, with a note,
    where it is missing, unreadable, or not the model its name promises."""
    try:
        model, task = checkpoint.pretrained_with_task(name)
    except ValueError as error:  # CheckpointError too: the reason is passed on
        if not quiet:
            _note(f"skipped {name!r}: {error}")
        return None
    expected_task = name.removeprefix("lstm_")
    expected_type = "lstm" if name.startswith("lstm_") else "ntm"
    if task.name != expected_task or getattr(model, "model_type", None) != expected_type:
        _note(
            f"skipped {name!r}: expected an {expected_type.upper()} for task {expected_task!r}, "
            f"found {type(model).__name__} for task {task.name!r}"
        )
        return None
    return model, task


def _read_log(path: Path) -> list[dict] | None:
    """The rows of the training log ``path``; None, with a note, where it cannot be read."""
    try:
        rows = read_metrics(path)
    except (OSError, ValueError) as error:
        _note(f"skipped the training log {path.name}: {error}")
        return None
    return [r for r in rows if isinstance(r, dict)] or None


def _metrics(name: str) -> list[dict] | None:
    """The rows of ``<name>.metrics.jsonl`` in the pretrained folder; None where there are none."""
    path = Path(checkpoint.PRETRAINED_DIR) / f"{name}.metrics.jsonl"
    return _read_log(path) if path.exists() else None


def _sample(task: Any, seed: int = 0, count: int = 1, **fixed: int) -> Any:
    """``count`` sequences of ``task`` (one by default) from ``default_rng(seed)``; ``fixed``
    fixes sampling options such as ``length``."""
    return task.sample(batch_size=count, rng=np.random.default_rng(seed), **fixed)


def _trained_range(task: Any) -> str:
    c = task.config
    if hasattr(c, "min_length") and hasattr(c, "max_length"):
        return f" (trained on lengths {c.min_length} to {c.max_length})"
    return ""


def _copy_generalisation(ntm: tuple | None, lstm: tuple | None) -> dict[str, Any]:
    """copy_generalisation.png: the NTM and the LSTM where each is there and copies the same
    bits, on the task of the first."""
    entries = {label: e for label, e in (("NTM", ntm), ("LSTM", lstm)) if e is not None}
    if not entries:
        _note("skipped copy_generalisation.png: neither 'copy' nor 'lstm_copy' is there")
        return {}
    task = next(iter(entries.values()))[1]
    models = {}
    for label, (model, model_task) in entries.items():
        if model_task.config.bits == task.config.bits:
            models[label] = model
        else:
            _note(f"left the {label} out of copy_generalisation.png: it copies other bits")
    title = f"Copy: targets and outputs by sequence length{_trained_range(task)}"
    figure = viz.copy_generalisation(models, task, (10, 20, 30, 50, 120), 0, title=title)
    return {"copy_generalisation.png": figure}


def _copy_mechanism(entry: tuple | None) -> dict[str, Any]:
    """copy_heads.png, addressing_stages.png (the read head in the middle of the output phase)
    and memory_over_time.png, of one copy sequence of length 20 (or the longest trained)."""
    if entry is None:
        _note("skipped copy_heads.png, addressing_stages.png, memory_over_time.png: no 'copy'")
        return {}
    model, task = entry
    length = min(20, getattr(task.config, "max_length", 20))
    batch = _sample(task, length=length)
    scored = np.flatnonzero(batch.mask[:, 0])
    middle = int(scored[len(scored) // 2]) if scored.size else batch.num_steps // 2
    return {
        "copy_heads.png": viz.head_heatmaps(model, batch, f"Copy, length {length}"),
        "addressing_stages.png": viz.addressing_stages(
            model, batch, middle, head="read", title="Copy, output phase"
        ),
        "memory_over_time.png": viz.memory_over_time(
            model, batch, title=f"Copy, length {length}: memory"
        ),
    }


def _other_heads() -> dict[str, Any]:
    """repeat_copy_heads.png and associative_recall_heads.png, where those models are there."""
    figures = {}
    repeat = _load("repeat_copy")
    if repeat is not None:
        model, task = repeat
        length, repeats = min(5, task.config.max_length), min(5, task.config.max_repeats)
        batch = _sample(task, length=length, repeats=repeats)
        heading = f"Repeat copy, length {length}, {repeats} repeats"
        figures["repeat_copy_heads.png"] = viz.head_heatmaps(model, batch, heading)
    recall = _load("associative_recall")
    if recall is not None:
        model, task = recall
        items = min(6, task.config.max_items)
        # with several heads, the pair that stores the items and finds the answer
        pairs = viz.recall_head_pairs(model, _sample(task, seed=2, count=100))
        write_head, read_head = (int(i) for i in np.unravel_index(pairs.argmax(), pairs.shape))
        heading = f"Associative recall, {items} items"
        figures["associative_recall_heads.png"] = viz.head_heatmaps(
            model,
            _sample(task, length=items),
            heading,
            write_head=write_head,
            read_head=read_head,
        )
    return figures


def _repeat_copy_generalisation() -> dict[str, Any]:
    """repeat_copy_generalisation.png (the paper's figure 8): length 10 repeated 20 times and
    length 20 repeated 10 times, NTM and LSTM, where each is there."""
    entries = {
        label: entry
        for label, entry in (("NTM", _load("repeat_copy")), ("LSTM", _load("lstm_repeat_copy")))
        if entry is not None
    }
    if not entries:
        _note("skipped repeat_copy_generalisation.png: no repeat-copy model")
        return {}
    task = next(iter(entries.values()))[1]
    c = task.config
    title = (
        f"Repeat copy beyond its training range (trained on lengths {c.min_length}-"
        f"{c.max_length}, {c.min_repeats}-{c.max_repeats} repeats)"
    )
    models = {label: model for label, (model, _) in entries.items()}
    figure = viz.repeat_copy_generalisation(models, task, ((10, 20), (20, 10)), 0, title=title)
    return {"repeat_copy_generalisation.png": figure}


def _recall_cost_by_items(sequences: int = 100, most_items: int = 15) -> dict[str, Any]:
    """associative_recall_by_items.png (the paper's figure 11): cost per sequence against the
    number of items, NTM and LSTM, on ``sequences`` fresh sequences per count (seed 0)."""
    results, task = {}, None
    for label, name in (("NTM", "associative_recall"), ("LSTM", "lstm_associative_recall")):
        entry = _load(name)
        if entry is None:
            continue
        model, task = entry
        counts = list(range(task.config.min_items, most_items + 1))
        costs = [evaluate(model, task, sequences=sequences, length=k)["cost"] for k in counts]
        results[label] = (counts, costs)
    if not results:
        _note("skipped associative_recall_by_items.png: no associative-recall model")
        return {}
    c = task.config
    figure = viz.cost_by_length(
        results,
        (c.min_items, c.max_items),
        xlabel="number of items",
        title=f"Associative recall: cost against the number of items ({sequences} a count)",
    )
    return {"associative_recall_by_items.png": figure}


def _ngrams_mechanism() -> dict[str, Any]:
    """ngrams_predictions.png (the paper's figure 14: one sequence, the optimal estimator's,
    the NTM's and the LSTM's predictions) and ngrams_context_rows.png (figure 15: the NTM's
    rows against the contexts, over 50 sequences)."""
    ntm, lstm = _load("ngrams"), _load("lstm_ngrams")
    figures = {}
    models = {label: e[0] for label, e in (("NTM", ntm), ("LSTM", lstm)) if e is not None}
    if models:
        task = (ntm or lstm)[1]
        figures["ngrams_predictions.png"] = viz.ngram_predictions(
            models, task, _sample(task), title="Dynamic N-grams: one sequence, predictions"
        )
    if ntm is not None:
        model, task = ntm
        batch = _sample(task, count=50)
        figures["ngrams_context_rows.png"] = viz.ngram_context_rows(
            model, batch, order=task.config.order
        )
    if not figures:
        _note("skipped ngrams_predictions.png, ngrams_context_rows.png: no N-grams model")
    return figures


def _priority_sort_rows() -> dict[str, Any]:
    """priority_sort_rows.png (the paper's figures 16-17): rows written against priority and
    rows read against output rank, every head, over 20 sequences."""
    entry = _load("priority_sort")
    if entry is None:
        _note("skipped priority_sort_rows.png: no 'priority_sort'")
        return {}
    model, task = entry
    batch = _sample(task, count=20)
    return {"priority_sort_rows.png": viz.priority_rows(model, batch, "Priority sort")}


def _seed_curves(folder: Path = SEED_CURVES) -> dict[str, Any]:
    """learning_curves_seeds.png: for each task with logs of several seeds in ``folder``
    (``<task>_<ntm|lstm>_seed<k>.metrics.jsonl``, written by ``bench/seed_curves.py``), the
    mean and spread of the learning curves, NTM and LSTM."""
    panels = []
    for name in TASKS:
        runs = {}
        for label in ("NTM", "LSTM"):
            logs = sorted(folder.glob(f"{name}_{label.lower()}_seed*.metrics.jsonl"))
            seeds = [rows for rows in (_read_log(path) for path in logs) if rows]
            if seeds:
                runs[label] = seeds
        if runs:
            panels.append((task_titles()[name], runs))
    if not panels:
        _note(f"skipped learning_curves_seeds.png: no logs in {folder} (bench/seed_curves.py)")
        return {}
    title = "Learning curves over seeds (evaluation cost on fresh sequences)"
    return {"learning_curves_seeds.png": viz.seed_curve_panels(panels, title)}


def _learning_curves() -> dict[str, Any]:
    """learning_curves.png: a panel per task with a training log (NTM and LSTM); N-grams with
    the Bayes-optimal cost of a fixed batch."""
    panels = []
    for name in TASKS:
        logs = (("NTM", _metrics(name)), ("LSTM", _metrics(f"lstm_{name}")))
        runs = {label: rows for label, rows in logs if rows}
        if runs:
            reference = _ngrams_reference() if name == "ngrams" else None
            panels.append((task_titles().get(name, name), runs, reference))
    if not panels:
        _note("skipped learning_curves.png: no <name>.metrics.jsonl in the pretrained folder")
        return {}
    title = "Learning curves (evaluation cost on fresh sequences)"
    return {"learning_curves.png": viz.learning_curve_panels(panels, title)}


def _ngrams_reference(sequences: int = 1000, seed: int = 0) -> dict[str, float]:
    """The Bayes-optimal cost of the N-grams task the model was trained on, on a fixed batch."""
    entry = _load("ngrams", quiet=True) or _load("lstm_ngrams", quiet=True)
    task = entry[1] if entry is not None else make_task("ngrams")
    batch = _sample(task, seed=seed, count=sequences)
    c = task.config
    return {"Bayes-optimal": optimal_cost(batch, order=c.order, beta_prior=c.beta_prior)}


def all_figures(
    out_dir: str | os.PathLike = "figures", seed_logs: str | os.PathLike = SEED_CURVES
) -> list[Path]:
    """Every figure, from the checkpoints and training logs in ``ntm_numpy/pretrained``.

    Writes into ``out_dir``: ``copy_generalisation.png`` (NTM and LSTM), ``copy_heads.png``,
    ``addressing_stages.png`` (the copy model's read head in the middle of the output phase),
    ``memory_over_time.png`` (copy), ``repeat_copy_heads.png``, ``associative_recall_heads.png``
    ``learning_curves.png`` (a panel per task with a training log; N-grams with the
    Bayes-optimal cost of a fixed batch), and the paper's figures of the other tasks:
    ``repeat_copy_generalisation.png`` (fig. 8), ``associative_recall_by_items.png`` (fig. 11),
    ``ngrams_predictions.png`` (fig. 14), ``ngrams_context_rows.png`` (fig. 15),
    ``priority_sort_rows.png`` (figs. 16-17), and ``learning_curves_seeds.png`` (the mean and
    spread over seeds of ``bench/seed_curves.py``'s runs, from the logs in ``seed_logs``,
    by default ``checkpoints/seed_curves`` relative to the working directory, like
    ``out_dir``). Each task is built with the options its model was trained with (the
    checkpoint's ``train_state``). A figure whose models are missing is skipped with a printed
    note. Seeds are fixed. Returns the paths written.
    """
    out = Path(out_dir)
    copy = _load("copy")
    written = []
    for draw in (
        lambda: _copy_generalisation(copy, _load("lstm_copy")),
        lambda: _copy_mechanism(copy),
        _other_heads,
        _learning_curves,
        _repeat_copy_generalisation,
        _recall_cost_by_items,
        _ngrams_mechanism,
        _priority_sort_rows,
        lambda: _seed_curves(Path(seed_logs)),
    ):
        # each group is saved before the next is drawn, so a failure keeps what came before
        written += [viz.save(figure, out / name) for name, figure in draw().items()]
    return written


__all__ = ["all_figures", "task_titles"]
