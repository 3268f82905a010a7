"""The training loop: sample a batch, loss and gradients, clip, step; evaluate, log, checkpoint.

Metrics are the paper's: *cost* is the cross-entropy of the output bits in bits per sequence,
*bit errors* the number of wrong output bits per sequence after thresholding at 0.5, both on
fresh sequences and averaged over them. Every evaluation appends one JSON line to
``<out_dir>/metrics.jsonl`` (and the model of the best one so far to ``<out_dir>/best.npz``);
the checkpoint ``<out_dir>/checkpoint.npz`` holds the parameters,
the optimizer state, the data generator's state, the step and the config, so that ``resume``
continues exactly where the run stopped: the same batches, the same losses.

Scalars stay on the device between log points: the loop reads them back (a GPU sync) once per
``log_every`` steps, which is also where a NaN or inf is caught. A run that diverges stops with
``TrainingDiverged`` and never overwrites the last good checkpoint.

One run at a time holds ``<out_dir>`` (``<out_dir>/.lock`` holds its PID). Ctrl-C or SIGTERM
stops a run at the end of its step, with a checkpoint; a second one stops it at once.

How it reads: ``train`` is the loop, as CS231n's ``Solver.train``; ``_train_step`` one update
(its ``_step``); ``_evaluate_and_log`` one evaluation (its ``check_accuracy``, and the log);
``_Run`` what the loop holds (the Solver's attributes); ``TrainState`` the part of it that a
checkpoint stores; ``Curriculum`` the policy that grows the training lengths.
"""

from __future__ import annotations

import math
import numbers
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .. import backend
from ..configs import (  # MODEL_TYPES, DEMO_MODEL, NOT_RESUMED, TrainConfig: re-exported
    DEMO_MODEL,
    MODEL_TYPES,
    TrainConfig,
    check_fits_in_memory,
    model_class,
)
from ..ops.loss import bit_errors, sigmoid_cross_entropy_forward
from ..tasks import Task
from . import threads
from .allocator import keep_freed_memory
from .checkpoint import CheckpointError, find_checkpoint, read, save
from .optimizers import clip_by_global_norm, clip_by_value, global_norm, make_optimizer
from .optimizers import optimizer_from_state as _optimizer_from_state
from .parallel import DataParallel
from .progress import Progress
from .rundir import (
    RunDirectoryError,
    StopOnInterrupt,
    append_jsonl,
    hold_run_directory,
    keep_scheduled_evaluations,
    read_metrics,
    save_best,
    undo_final_evaluation,
)
from .state import Curriculum, TrainState, TrainStateError, training_lengths

__all__ = [
    "DEMO_MODEL",
    "MODEL_TYPES",
    "NOT_RESUMED",
    "Curriculum",
    "Progress",
    "RunDirectoryError",
    "TrainConfig",
    "TrainResult",
    "TrainState",
    "TrainingDiverged",
    "build",
    "clip_gradients",
    "evaluate",
    "init_params_from",
    "read_metrics",
    "train",
]


class TrainingDiverged(RuntimeError):
    """The loss or the gradients became NaN or inf."""


@dataclass
class TrainResult:
    model: Any
    step: int
    sequences: int
    seconds: float
    history: list[dict]  # the evaluations, as written to metrics.jsonl
    converged: bool
    interrupted: bool = False
    parallelism: threads.Parallelism | None = None  # the workers and BLAS threads it used
    stop_signal: int | None = None  # SIGINT or SIGTERM, where one stopped the run


def init_params_from(model, path: str | os.PathLike) -> None:
    """Overwrite ``model``'s parameters with those saved at ``path`` (fine-tuning); ``path`` may
    also name a pretrained model (``"copy"``), as ``evaluate`` accepts.

    The saved model must have the same parameters, by name and shape (its dtype may differ);
    anything else is a ``CheckpointError`` naming the file and the first difference.
    """
    path = find_checkpoint(path)  # a file, or a pretrained name such as "copy"
    saved = read(path).model.params
    if set(saved) != set(model.params):
        raise CheckpointError(
            f"{path}: its parameters {sorted(saved)} are not this model's {sorted(model.params)}"
        )
    for key, value in model.params.items():
        if saved[key].shape != value.shape:
            raise CheckpointError(
                f"{path}: parameter {key!r} has shape {tuple(saved[key].shape)}, this model's "
                f"has {tuple(value.shape)}"
            )
    for key, value in model.params.items():
        value[...] = backend.to_device(saved[key].astype(value.dtype), model.device)


def build(config: TrainConfig):
    """(task, model, optimizer) for a config: the model sized to the task's inputs and outputs."""
    task = config.task_instance()
    model = model_class(config.model)(config.model_config(task))
    if backend.check_device(config.device) == "gpu":
        model.to("gpu")
    return task, model, make_optimizer(config.optimizer, **config.optimizer_options)


def evaluate(
    model,
    task,
    *,
    sequences: int = 1000,
    batch_size: int = 10,
    seed: int = 0,
    length: int | None = None,
) -> dict[str, float]:
    """Cost and bit errors per sequence on ``sequences`` fresh sequences (no caches kept), and
    for a task that knows it (``Task.optimal_cost``: n-grams), the optimal predictor's cost on
    the same sequences.

    ``length`` fixes the length parameter of the task (e.g. the copy length). With None, a task
    with a length range (``Task.length_range``: copy and repeat copy: lengths; associative
    recall: items) is scored over the whole range, stratified (each batch has one length): with
    at least as many batches as lengths, every length gets the same number of batches (give or
    take one); with fewer, the batches take evenly spaced lengths, the longest always among
    them. Drawing each batch's length at random instead made the score swing with how many long
    batches came up (associative recall, 20 batches: from 0 to 8 of them with 6 items).
    """
    rng = np.random.default_rng(seed)
    total_cost = total_errors = total_optimal = 0.0
    has_optimum = True  # until a batch says otherwise (``Task.optimal_cost`` returns None)
    lengths = [length] if length is not None else training_lengths(task)
    num_batches = -(-sequences // batch_size)
    seen = batches = 0
    while seen < sequences:
        size = min(batch_size, sequences - seen)
        longest_first = len(lengths) - 1 - batches * len(lengths) // num_batches
        batch = task.sample(batch_size=size, rng=rng, length=lengths[longest_first])
        batches += 1
        logits, _ = model.forward(batch.inputs, keep_cache=False)
        targets = backend.to_device(batch.targets, model.device)
        mask = backend.to_device(batch.mask, model.device)
        cost = sigmoid_cross_entropy_forward(logits, targets.astype(logits.dtype), mask)[0]
        total_cost += float(cost) * size
        total_errors += float(bit_errors(logits, targets, mask)) * size
        optimal = task.optimal_cost(batch) if has_optimum else None
        has_optimum = optimal is not None
        total_optimal += optimal * size if has_optimum else 0.0
        seen += size
    result = {"cost": total_cost / sequences, "bit_errors": total_errors / sequences}
    if has_optimum:
        result["optimal_cost"] = total_optimal / sequences
    return result


def _training_lengths(task: Task) -> list[int | None]:
    """``training.state.training_lengths``, by its former name (bench/harness.py uses it)."""
    return training_lengths(task)


def clip_gradients(grads: dict[str, Any], config: TrainConfig) -> tuple[dict[str, Any], Any]:
    """The gradients clipped as ``config`` says, and the global norm ``||g||_2`` of the raw
    ones (a device scalar: the loop checks it for NaN at its next read-back).

    First each element to ``[-clip_value, clip_value]`` (the paper's rule), then the whole to a
    global norm of at most ``clip_norm``: ``g <- g * min(1, clip_norm / (||g||_2 + 1e-6))``
    (Collier & Beel's); either may be None (off). Clipping by norm alone computes the raw norm
    anyway.
    """
    if config.clip_value is None and config.clip_norm is not None:
        return clip_by_global_norm(grads, config.clip_norm)
    norm = global_norm(grads)
    if config.clip_value is not None:
        grads = clip_by_value(grads, config.clip_value)
    if config.clip_norm is not None:
        grads, _ = clip_by_global_norm(grads, config.clip_norm)
    return grads, norm


NOT_RESUMED = TrainConfig.NOT_RESUMED  # what a resumed run may change (configs.py says why)


def _check_step_fits(config: TrainConfig, task: Task, model) -> None:
    """Refuse a run whose longest batch cannot fit in this machine's memory (a clear error now,
    rather than a ``MemoryError`` or the system's OOM killer after minutes)."""
    option = task.length_option
    what = f"task option {option}={getattr(task.config, option)}" if option else "the task"
    check_fits_in_memory(
        model.config,
        f"{what} (sequences of up to {task.max_steps()} steps) with batch_size {config.batch_size}",
        batch_size=max(config.batch_size, config.eval_batch_size),
        steps=task.max_steps(),
        training=True,
    )


def _check_resume_lr(resume: bool, resume_lr: float | None) -> None:
    if resume_lr is None:
        return
    if not resume:
        raise ValueError(
            "resume_lr (--resume-lr) sets the learning rate of a resumed run: "
            "it needs resume=True (--resume)"
        )
    if not (isinstance(resume_lr, numbers.Real) and math.isfinite(resume_lr) and resume_lr > 0):
        raise ValueError(f"resume_lr must be a finite number > 0, got {resume_lr!r}")


def train(
    config: TrainConfig,
    out_dir: str | os.PathLike | None = None,
    *,
    resume: bool = False,
    resume_lr: float | None = None,
    verbose: bool = True,
    on_eval: Callable[[dict], None] | None = None,
) -> TrainResult:
    """Train from scratch, or from ``out_dir/checkpoint.npz`` with ``resume=True``.

    ``resume_lr``, with ``resume=True``: continue at this learning rate instead of the saved
    optimizer's (annealing by hand); everything else must match the saved run. The optimizer
    state keeps the new rate from then on, and every evaluation row records the rate in use.

    ``out_dir=None`` trains without writing anything (tests, notebooks). On Linux the process
    keeps freed memory for reuse (``allocator.keep_freed_memory``): each step allocates the
    same large arrays again. ``on_eval`` is called with each evaluation's row.
    """
    _check_resume_lr(resume, resume_lr)
    out = Path(out_dir) if out_dir is not None else None
    with hold_run_directory(out, resume=resume), StopOnInterrupt() as stop:
        keep_freed_memory()
        run = _start(config, out, resume=resume, resume_lr=resume_lr, verbose=verbose)
        run.on_eval = on_eval
        parallelism = _choose_parallelism(run)
        run.start_clock()
        with (
            threads.blas_threads(parallelism.blas_threads),
            DataParallel(run.model, parallelism.workers) as parallel,
        ):
            while run.state.step < config.steps and not run.converged and not stop.requested:
                _train_step(run, parallel)
                step = run.state.step
                if _every(step, config.snapshot_every):
                    _snapshot(run)
                if _every(step, config.log_every):
                    _show_progress(run)
                if _every(step, config.eval_every) or step == config.steps:
                    # off the schedule only at the run's last step: an uninterrupted run scores
                    # its end; a resumed one goes on as if it had not (curriculum, costs, best)
                    _evaluate_and_log(run, scheduled=_every(step, config.eval_every))
                if run.out_of_time():
                    break
                if _every(step, config.checkpoint_every) or run.converged:
                    _checkpoint(run)
            interrupted = stop.requested
        return _finish(run, parallelism, interrupted=interrupted, stop_signal=stop.signal)


def _every(step: int, period: int | None) -> bool:
    """Whether ``step`` is a multiple of ``period`` (None: never)."""
    return period is not None and step % period == 0


@dataclass
class _Run:
    """What the loop holds while it runs (CS231n's ``Solver`` keeps the same as attributes)."""

    config: TrainConfig
    task: Task  # the full task: what evaluations score
    model: Any
    optimizer: Any
    state: TrainState  # what a checkpoint stores
    curriculum: Curriculum | None
    out: Path | None  # the run directory; None: nothing is written
    progress: Progress
    history: list[dict] = field(default_factory=list)  # the evaluations, as in metrics.jsonl
    on_eval: Callable[[dict], None] | None = None
    pending: list[tuple[Any, Any]] = field(default_factory=list)  # (loss, norm) on the device
    converged: bool = False
    started: float = 0.0  # perf_counter() when the run (all its sessions) would have begun
    current_task: Task = field(init=False)  # what training draws from (``task_to_train``)

    def __post_init__(self) -> None:
        self.current_task = self.task_to_train()

    def task_to_train(self) -> Task:
        """The task training draws from: the curriculum's, at its current longest length."""
        if self.curriculum is None:
            return self.task
        return self.curriculum.task_at(self.state.max_length)

    @property
    def checkpoint_path(self) -> Path | None:
        return self.out / "checkpoint.npz" if self.out is not None else None

    def start_clock(self) -> None:
        self.started = time.perf_counter() - self.state.seconds

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def out_of_time(self) -> bool:
        limit = self.config.max_seconds
        return limit is not None and self.elapsed() > limit


def _start(
    config: TrainConfig, out: Path | None, *, resume: bool, resume_lr: float | None, verbose: bool
) -> _Run:
    """The run at its first step: built from the config, or read back from its checkpoint."""
    task, model, optimizer = build(config)
    _check_step_fits(config, task, model)
    if config.init_from is not None and not resume:
        init_params_from(model, config.init_from)
    curriculum = Curriculum.for_task(
        task,
        enabled=config.curriculum,
        start=config.curriculum_start,
        threshold=config.curriculum_threshold,
    )
    first = curriculum.first_length() if curriculum is not None else None
    state = TrainState(config.to_dict(), np.random.default_rng(config.seed), max_length=first)
    history: list[dict] = []
    if resume:
        model, optimizer, state, history = _resume(config, out, resume_lr)
    progress = Progress(config.steps, enabled=verbose, sequences=state.sequences)
    return _Run(config, task, model, optimizer, state, curriculum, out, progress, history)


def _resume(config: TrainConfig, out: Path | None, resume_lr: float | None):
    """(model, optimizer, state, history) of the run saved in ``out``, checked against
    ``config``; the log and ``best.npz`` are put back as they were at its last checkpoint."""
    path = out / "checkpoint.npz" if out is not None else None
    if path is None or not path.exists():
        raise CheckpointError(f"{path}: nothing to resume from")
    saved = read(path)
    try:
        state = TrainState.from_dict(saved.train_state or {})
    except TrainStateError as error:
        raise CheckpointError(f"{path}: cannot be resumed: {error}") from None
    config.check_resumes(state.config, str(path))  # ResumeMismatchError
    state.config = config.to_dict()  # the fields of NOT_RESUMED may have changed
    model = saved.model
    if backend.check_device(config.device) == "gpu":
        model.to("gpu")
    optimizer = _optimizer_from_state(saved.optimizer_state)
    if resume_lr is not None:
        optimizer.config = replace(optimizer.config, lr=float(resume_lr))
    optimizer.map_arrays(lambda a: backend.to_device(a, model.device))
    metrics = out / "metrics.jsonl"
    history = keep_scheduled_evaluations(metrics, step=state.step, eval_every=config.eval_every)
    undo_final_evaluation(out)
    return model, optimizer, state, history


def _choose_parallelism(run: _Run) -> threads.Parallelism:
    """The workers and BLAS threads for this run (``threads.choose``), said on the progress."""
    config = run.config
    parallelism = threads.choose(
        batch_size=config.batch_size,
        dtype=run.model.config.dtype,
        workers=config.workers,
        blas_threads=config.blas_threads,
        device=backend.check_device(config.device),
    )
    run.progress.line(parallelism.describe())
    return parallelism


def _train_step(run: _Run, parallel: DataParallel) -> None:
    """One update: a batch, its loss and gradients, clipping, the optimizer's step."""
    config, state = run.config, run.state
    batch = run.current_task.sample(batch_size=config.batch_size, rng=state.rng)
    loss, grads = parallel.loss_and_grads(batch.inputs, batch.targets, batch.mask)
    grads, norm = clip_gradients(grads, config)
    run.pending.append((loss, norm))
    if state.step % config.log_every == config.log_every - 1:
        _read_back(run)  # before the update: a NaN gradient never reaches the params
    run.optimizer.step(run.model.params, grads)
    state.step += 1
    state.sequences += config.batch_size


def _read_back(run: _Run) -> None:
    """Read the device scalars back; stop the run if any is NaN or inf."""
    values = [(float(loss), float(norm)) for loss, norm in run.pending]
    run.pending.clear()
    for loss, norm in values:
        if not (math.isfinite(loss) and math.isfinite(norm)):
            raise TrainingDiverged(
                f"the loss or the gradients became NaN/inf near step {run.state.step} (loss "
                f"{loss}, gradient norm {norm}); {_what_is_kept(run.checkpoint_path)}"
            )
        run.state.recent_costs.append(loss)


def _show_progress(run: _Run) -> None:
    errors = run.history[-1]["bit_errors"] if run.history else None
    state = run.state
    run.progress.update(state.step, state.sequences, state.recent_costs[-1], errors)


def _evaluate_and_log(run: _Run, *, scheduled: bool) -> None:
    """Score the model on fresh sequences of the full task; log the row (metrics.jsonl, the
    progress, ``on_eval``); keep ``best.npz``; grow the curriculum; decide convergence.

    ``scheduled``: at a multiple of eval_every. The evaluation at a run's last step is off the
    schedule: it neither clears the recent training costs nor moves the curriculum, and the
    best.npz it writes is undone on resume (``save_best``)."""
    config, state = run.config, run.state
    _read_back(run)
    state.seconds = run.elapsed()
    result = evaluate(
        run.model,
        run.task,
        sequences=config.eval_sequences,
        batch_size=config.eval_batch_size,
        seed=config.seed * 1_000_003 + state.step,
    )
    costs = state.recent_costs
    row = {
        "step": state.step,
        "sequences": state.sequences,
        "seconds": round(state.seconds, 3),
        "train_cost": float(np.mean(costs)) if costs else None,
        **result,
        "max_length": state.max_length,
        "lr": run.optimizer.config.lr,
    }
    if scheduled:
        costs.clear()
    if run.out is not None and (not run.history or _score(row) < min(map(_score, run.history))):
        save_best(run.out, run.model, state.to_dict(), scheduled=scheduled)  # what export ships
    run.history.append(row)
    _log(run, row)
    if run.curriculum is not None and state.max_length is not None and scheduled:
        _grow_curriculum(run)
    target = config.target_bit_errors
    if target is not None and result["bit_errors"] < target:
        run.converged = True  # judged on the task's full range, however far the curriculum is


def _score(row: dict) -> tuple[float, float]:
    """What makes one evaluation better than another: fewer bit errors, then a lower cost."""
    return (row["bit_errors"], row["cost"])


def _log(run: _Run, row: dict) -> None:
    """One evaluation to metrics.jsonl, the progress and ``on_eval``."""
    if run.out is not None:
        append_jsonl(run.out / "metrics.jsonl", row)
    length = f"  max length {row['max_length']}" if row["max_length"] is not None else ""
    run.progress.line(
        f"step {row['step']:>6}  sequences {row['sequences']:>8}  {row['seconds']:7.1f}s  "
        f"cost {row['cost']:8.3f}  bit errors {row['bit_errors']:7.3f}{length}"
    )
    if run.on_eval is not None:
        run.on_eval(row)


def _grow_curriculum(run: _Run) -> None:
    """One more length once the model masters the current training range (scored on that
    range, not the full one)."""
    state = run.state
    current = evaluate(
        run.model,
        run.current_task,
        sequences=200,
        batch_size=run.config.eval_batch_size,
        seed=state.step,
    )
    longest = run.curriculum.next_length(state.max_length, current["bit_errors"])
    if longest != state.max_length:
        state.max_length = longest
        run.current_task = run.task_to_train()


def _checkpoint(run: _Run) -> None:
    """Save the model, the optimizer and the train state (after checking the last losses)."""
    _read_back(run)
    run.state.seconds = run.elapsed()
    if run.checkpoint_path is not None:
        state = run.state.to_dict()
        save(run.checkpoint_path, run.model, optimizer=run.optimizer, train_state=state)


def _snapshot(run: _Run) -> None:
    """Keep the parameters of this step in ``<out>/snapshots/``, with the train state (so that
    a snapshot alone says its task and step)."""
    if run.out is not None:
        path = run.out / "snapshots" / f"step_{run.state.step:06d}.npz"
        save(path, run.model, train_state=run.state.to_dict())


def _finish(
    run: _Run, parallelism: threads.Parallelism, *, interrupted: bool, stop_signal: int | None
) -> TrainResult:
    """The last checkpoint (every run ends with one), and what ``train`` returns."""
    if interrupted:
        run.progress.line(f"interrupted at step {run.state.step}; saving a checkpoint")
    _checkpoint(run)
    state = run.state
    return TrainResult(
        run.model,
        state.step,
        state.sequences,
        state.seconds,
        run.history,
        run.converged,
        interrupted,
        parallelism,
        stop_signal,
    )


def _what_is_kept(checkpoint_path: Path | None) -> str:
    """After a divergence: which checkpoint, if any, holds the last good state."""
    if checkpoint_path is None:
        return "nothing was saved (no out_dir)"
    if checkpoint_path.exists():
        return f"the last good checkpoint is left untouched: {checkpoint_path}"
    return f"no checkpoint was written ({checkpoint_path} does not exist: it diverged first)"
