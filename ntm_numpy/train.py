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
"""

from __future__ import annotations

import json
import math
import numbers
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from . import backend, threads
from .allocator import keep_freed_memory
from .checkpoint import CheckpointError, find_checkpoint, read, save
from .configs import (  # noqa: F401  MODEL_TYPES, DEMO_MODEL, TrainConfig: re-exported
    DEMO_MODEL,
    MODEL_TYPES,
    TrainConfig,
    check_fits_in_memory,
    model_class,
)
from .ops.loss import bit_errors, sigmoid_cross_entropy_forward
from .optim import clip_by_global_norm, clip_by_value, global_norm, make_optimizer
from .optim import optimizer_from_state as _optimizer_from_state
from .parallel import DataParallel


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
    for a task that knows it (n-grams), the optimal predictor's cost on the same sequences.

    ``length`` fixes the length parameter of the task (e.g. the copy length). With None, a task
    with a length range (copy and repeat copy: lengths; associative recall: items) is scored
    over the whole range, stratified (each batch has one length): with at least as many batches
    as lengths, every length gets the same number of batches (give or take one); with fewer,
    the batches take evenly spaced lengths, the longest always among them. Drawing each batch's
    length at random instead made the score swing with how many long batches came up
    (associative recall, 20 batches: from 0 to 8 of them with 6 items).
    """
    rng = np.random.default_rng(seed)
    total_cost = total_errors = total_optimal = 0.0
    has_optimum = hasattr(task, "optimal_cost")  # n-grams: the Bayes-optimal predictor's cost
    lengths = [length] if length is not None else _training_lengths(task)
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
        if has_optimum:
            total_optimal += task.optimal_cost(batch) * size
        seen += size
    result = {"cost": total_cost / sequences, "bit_errors": total_errors / sequences}
    if has_optimum:
        result["optimal_cost"] = total_optimal / sequences
    return result


def _training_lengths(task) -> list[int | None]:
    """Every value of the task's length option in its range ([None]: the task has none)."""
    option = _length_option(task)
    if option is None:
        return [None]
    shortest = getattr(task.config, option.replace("max_", "min_"))
    return list(range(shortest, getattr(task.config, option) + 1))


def _length_option(task) -> str | None:
    """The name of the task option that the curriculum grows, if it has one."""
    for name in ("max_length", "max_items"):
        if hasattr(task.config, name):
            return name
    return None


class Progress:
    """A one-line progress bar on a terminal; one plain line per evaluation otherwise."""

    def __init__(self, total: int, stream=None, enabled: bool = True) -> None:
        self.total, self.stream, self.enabled = total, stream or sys.stderr, enabled
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.last = 0.0

    def update(self, step: int, rate: float, cost: float, errors: float | None) -> None:
        if not self.tty or time.perf_counter() - self.last < 0.2:
            return
        self.last = time.perf_counter()
        width = 24
        done = int(width * step / self.total)
        bar = "=" * done + (">" if done < width else "") + " " * (width - done - 1)
        err = f"  bit errors {errors:6.2f}" if errors is not None else ""
        self.stream.write(
            f"\r{step:>7}/{self.total} [{bar}] {rate:6.0f} seq/s  cost {cost:8.3f}{err} "
        )
        self.stream.flush()

    def line(self, text: str) -> None:
        if not self.enabled:
            return
        if self.tty:
            self.stream.write("\r" + " " * 100 + "\r")
        self.stream.write(text + "\n")
        self.stream.flush()


def _write_jsonl_atomic(path: Path, rows: list[dict]) -> None:
    """Replace ``path`` by ``rows``, one JSON line each, keeping its permissions (``mkstemp``
    makes a private file; the log is for sharing, as the checkpoints are)."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_metrics(path: str | os.PathLike) -> list[dict]:
    """The evaluations of a run, from its metrics.jsonl."""
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.jsonl"
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # Ctrl-C; schedulers, ``timeout`` and ``kill``


class _StopOnInterrupt:
    """Turns the first Ctrl-C or SIGTERM into a request to stop at the end of the current step
    (so the checkpoint is consistent: the run then saves and returns); a second one raises
    ``KeyboardInterrupt`` at once (the command line turns it into one line and exit code 130).
    """

    def __init__(self) -> None:
        self.signal: int | None = None  # the first stop signal received
        self.previous: dict = {}

    @property
    def requested(self) -> bool:
        return self.signal is not None

    def _handler(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.signal = signum

    def __enter__(self) -> _StopOnInterrupt:
        if threading.current_thread() is threading.main_thread():
            self.previous = {s: signal.signal(s, self._handler) for s in STOP_SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)


# --- the run directory: held by one run at a time, checked before any training ---------------

LOCK_NAME = ".lock"  # the PID of the run that holds the directory
# what a save killed half-way leaves (``checkpoint.save``, ``_write_jsonl_atomic``)
STALE_PATTERNS = (
    ".checkpoint.npz.*.tmp",
    ".best.npz.*.tmp",
    ".metrics.jsonl.*.tmp",
    "snapshots/.step_*.npz.*.tmp",
)
BEST_BEFORE_FINAL = ".best-before-final.npz"  # see ``_save_best``


class RunDirectoryError(ValueError):
    """The run directory cannot be used: not a directory, not writable, held by another run,
    or holding an earlier run's log."""


@contextmanager
def _hold_run_directory(out: Path | None, *, resume: bool):
    """Create ``out`` and hold it for this process (a lock file with our PID, taken atomically
    with O_CREAT | O_EXCL, released on the way out; a lock whose process is dead is taken over),
    then remove what a killed save of an earlier run left. ``None``: nothing to hold."""
    if out is None:
        yield
        return
    created = [d for d in (out, *out.parents) if not d.exists()]  # leaf first
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RunDirectoryError(
            f"run directory (--out) {out} cannot be created: {error.strerror or error}"
        ) from None
    lock = out / LOCK_NAME
    _take_lock(out, lock)
    try:
        for pattern in STALE_PATTERNS:
            for stale in out.glob(pattern):
                stale.unlink(missing_ok=True)
        if not resume and (out / "metrics.jsonl").exists():
            raise RunDirectoryError(
                f"{out} holds the metrics.jsonl of an earlier run but no checkpoint to resume: "
                f"delete it (or the directory) to start afresh, or choose another --out"
            )
        yield
    finally:
        if _lock_holder(lock) == os.getpid():
            lock.unlink(missing_ok=True)
        for directory in created:  # a run that wrote nothing leaves no directory behind
            try:
                directory.rmdir()
            except OSError:  # not empty: the run's files
                break


def _take_lock(out: Path, lock: Path) -> None:
    for _ in range(3):  # a stale lock is removed, then taken; another run may be quicker
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _lock_holder(lock)
            if holder is not None and holder != os.getpid() and _is_running(holder):
                raise RunDirectoryError(
                    f"{out} is in use by another training run (PID {holder}, lock file {lock}): "
                    f"wait for it to end, or choose another --out"
                ) from None
            if holder is None and time.time() - _mtime(lock) < 10:
                time.sleep(0.1)  # being written by a run that has just taken it
                continue
            lock.unlink(missing_ok=True)  # its run is gone
            continue
        except OSError as error:
            raise RunDirectoryError(
                f"run directory (--out) {out} is not writable: {error.strerror or error}"
            ) from None
        with os.fdopen(fd, "w") as f:
            f.write(f"{os.getpid()}\n")
        return
    raise RunDirectoryError(f"{out}: could not take its lock file {lock}; try again")


def _lock_holder(lock: Path) -> int | None:
    try:
        return int(lock.read_text().strip())
    except (OSError, ValueError):
        return None


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _is_running(pid: int) -> bool:
    if os.name == "nt":  # os.kill would end it; assume it runs
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _save_best(out: Path, model, state: dict, *, scheduled: bool) -> None:
    """Write ``out/best.npz``. An evaluation off the schedule (a run's last step, between two
    multiples of eval_every) is one that the same run, resumed, would not make: the best.npz it
    replaces is kept aside (an empty file: there was none), for ``_undo_final_evaluation``."""
    best, before = out / "best.npz", out / BEST_BEFORE_FINAL
    if scheduled:
        save(best, model, train_state=state)
        before.unlink(missing_ok=True)
        return
    if not before.exists():
        if best.exists():
            os.replace(best, before)
        else:
            before.write_bytes(b"")
    save(best, model, train_state=state)


def _undo_final_evaluation(out: Path) -> None:
    """On resume: put back the best.npz that an off-schedule evaluation replaced."""
    best, before = out / "best.npz", out / BEST_BEFORE_FINAL
    if not before.exists():
        return
    if before.stat().st_size == 0:
        best.unlink(missing_ok=True)
        before.unlink()
    else:
        os.replace(before, best)


def _check_step_fits(config: TrainConfig, task, model) -> None:
    """Refuse a run whose longest batch cannot fit in this machine's memory (a clear error now,
    rather than a ``MemoryError`` or the system's OOM killer after minutes)."""
    option = _length_option(task)
    what = f"task option {option}={getattr(task.config, option)}" if option else "the task"
    check_fits_in_memory(
        model.config,
        f"{what} (sequences of up to {task.max_steps()} steps) with batch_size {config.batch_size}",
        batch_size=max(config.batch_size, config.eval_batch_size),
        steps=task.max_steps(),
        training=True,
    )


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
    same large arrays again.
    """
    if resume_lr is not None:
        if not resume:
            raise ValueError(
                "resume_lr (--resume-lr) sets the learning rate of a resumed run: "
                "it needs resume=True (--resume)"
            )
        if not (isinstance(resume_lr, numbers.Real) and math.isfinite(resume_lr) and resume_lr > 0):
            raise ValueError(f"resume_lr must be a finite number > 0, got {resume_lr!r}")
    out = Path(out_dir) if out_dir is not None else None
    with _hold_run_directory(out, resume=resume), _StopOnInterrupt() as stop:
        return _train(
            config, out, stop, resume=resume, resume_lr=resume_lr, verbose=verbose, on_eval=on_eval
        )


def _train(
    config: TrainConfig,
    out: Path | None,
    stop: _StopOnInterrupt,
    *,
    resume: bool,
    resume_lr: float | None,
    verbose: bool,
    on_eval: Callable[[dict], None] | None,
) -> TrainResult:
    """``train``, once it holds the run directory and the stop signals."""
    keep_freed_memory()
    checkpoint_path = out / "checkpoint.npz" if out else None
    metrics_path = out / "metrics.jsonl" if out else None
    task, model, optimizer = build(config)
    _check_step_fits(config, task, model)
    if config.init_from is not None and not resume:
        init_params_from(model, config.init_from)
    rng = np.random.default_rng(config.seed)
    step, sequences, seconds, max_length = 0, 0, 0.0, None
    history: list[dict] = []
    recent_costs: list[float] = []  # training losses since the last evaluation
    length_option = _length_option(task)
    if config.curriculum and length_option:
        lengths = _training_lengths(task)
        max_length = max(lengths[0], min(config.curriculum_start, lengths[-1]))

    if resume:
        if checkpoint_path is None or not checkpoint_path.exists():
            raise CheckpointError(f"{checkpoint_path}: nothing to resume from")
        saved = read(checkpoint_path)
        state = saved.train_state or {}
        missing = [k for k in ("rng", "step", "sequences", "seconds") if k not in state]
        if missing:
            raise CheckpointError(
                f"{checkpoint_path}: cannot be resumed: its train_state lacks {missing}"
            )
        config.check_resumes(state.get("config"), checkpoint_path)  # ResumeMismatchError
        model = saved.model
        if backend.check_device(config.device) == "gpu":
            model.to("gpu")
        optimizer = _optimizer_from_state(saved.optimizer_state)
        if resume_lr is not None:
            optimizer.config = replace(optimizer.config, lr=float(resume_lr))
        optimizer.map_arrays(lambda a: backend.to_device(a, model.device))
        rng.bit_generator.state = state["rng"]
        step, sequences, seconds = state["step"], state["sequences"], state["seconds"]
        max_length = state.get("max_length")
        recent_costs[:] = state.get("recent_costs", [])
        if metrics_path.exists():
            # what a run that had never stopped would have logged: evaluations on the schedule
            # (the last run's final one, off it, is undone, with its best.npz)
            history = [
                r
                for r in read_metrics(metrics_path)
                if r["step"] <= step and r["step"] % config.eval_every == 0
            ]
            _write_jsonl_atomic(metrics_path, history)
        _undo_final_evaluation(out)

    def train_task():
        if max_length is None:
            return task
        return type(task)(replace(task.config, **{length_option: max_length}))

    def train_state() -> dict[str, Any]:
        return {
            "config": config.to_dict(),
            "rng": rng.bit_generator.state,
            "step": step,
            "sequences": sequences,
            "seconds": seconds,
            "max_length": max_length,
            "recent_costs": list(recent_costs),
        }

    def checkpoint() -> None:
        if checkpoint_path is not None:
            save(checkpoint_path, model, optimizer=optimizer, train_state=train_state())

    def score(row: dict) -> tuple[float, float]:
        return (row["bit_errors"], row["cost"])

    progress = Progress(config.steps, enabled=verbose)
    parallelism = threads.choose(
        batch_size=config.batch_size,
        dtype=model.config.dtype,
        workers=config.workers,
        blas_threads=config.blas_threads,
        device=backend.check_device(config.device),
    )
    progress.line(parallelism.describe())
    current_task = train_task()
    pending: list[tuple[Any, Any]] = []  # (loss, grad norm) on the device, since the last log
    last_errors = history[-1]["bit_errors"] if history else None
    converged = interrupted = False
    started = time.perf_counter() - seconds
    window_start, window_sequences = time.perf_counter(), 0

    def flush_pending() -> None:
        """Read the device scalars back; stop the run if any is NaN or inf."""
        values = [(float(loss), float(norm)) for loss, norm in pending]
        pending.clear()
        for loss, norm in values:
            if not (math.isfinite(loss) and math.isfinite(norm)):
                raise TrainingDiverged(
                    f"the loss or the gradients became NaN/inf near step {step} (loss {loss}, "
                    f"gradient norm {norm}); {_what_is_kept(checkpoint_path)}"
                )
            recent_costs.append(loss)

    with (
        threads.blas_threads(parallelism.blas_threads),
        DataParallel(model, parallelism.workers) as parallel,
    ):
        while step < config.steps and not converged and not stop.requested:
            batch = current_task.sample(batch_size=config.batch_size, rng=rng)
            loss, grads = parallel.loss_and_grads(batch.inputs, batch.targets, batch.mask)
            # norm: of the raw gradients, for the NaN check; clipping by norm computes it anyway
            if config.clip_value is None and config.clip_norm is not None:
                grads, norm = clip_by_global_norm(grads, config.clip_norm)
            else:
                norm = global_norm(grads)
                if config.clip_value is not None:
                    grads = clip_by_value(grads, config.clip_value)
                if config.clip_norm is not None:
                    grads, _ = clip_by_global_norm(grads, config.clip_norm)
            pending.append((loss, norm))
            if step % config.log_every == config.log_every - 1:
                flush_pending()  # before the update: a NaN gradient never reaches the params
            optimizer.step(model.params, grads)
            step += 1
            sequences += config.batch_size
            window_sequences += config.batch_size

            if out is not None and config.snapshot_every and step % config.snapshot_every == 0:
                # with its train state, so that a snapshot alone says its task and step
                save(out / "snapshots" / f"step_{step:06d}.npz", model, train_state=train_state())
            if step % config.log_every == 0:
                now = time.perf_counter()
                rate = window_sequences / max(now - window_start, 1e-9)
                window_start, window_sequences = now, 0
                progress.update(step, rate, recent_costs[-1], last_errors)

            if step % config.eval_every == 0 or step == config.steps:
                # off the schedule only at the run's last step: an uninterrupted run scores its
                # end; a resumed one must go on as if it had not (curriculum, costs, best.npz)
                scheduled = step % config.eval_every == 0
                flush_pending()
                seconds = time.perf_counter() - started
                result = evaluate(
                    model,
                    task,
                    sequences=config.eval_sequences,
                    batch_size=config.eval_batch_size,
                    seed=config.seed * 1_000_003 + step,
                )
                row = {
                    "step": step,
                    "sequences": sequences,
                    "seconds": round(seconds, 3),
                    "train_cost": float(np.mean(recent_costs)) if recent_costs else None,
                    **result,
                    "max_length": max_length,
                    "lr": optimizer.config.lr,
                }
                if scheduled:
                    recent_costs.clear()
                if out is not None and (not history or score(row) < min(map(score, history))):
                    # the best evaluation so far: what ``export`` ships
                    _save_best(out, model, train_state(), scheduled=scheduled)
                history.append(row)
                last_errors = result["bit_errors"]
                if metrics_path is not None:
                    metrics_path.parent.mkdir(parents=True, exist_ok=True)
                    with open(metrics_path, "a") as f:
                        f.write(json.dumps(row) + "\n")
                progress.line(
                    f"step {step:>6}  sequences {sequences:>8}  {seconds:7.1f}s  "
                    f"cost {result['cost']:8.3f}  bit errors {result['bit_errors']:7.3f}"
                    + (f"  max length {max_length}" if max_length is not None else "")
                )
                if on_eval is not None:
                    on_eval(row)
                if max_length is not None and scheduled:
                    # the curriculum scores the current training range, not the full one
                    current = evaluate(
                        model,
                        current_task,
                        sequences=200,
                        batch_size=config.eval_batch_size,
                        seed=step,
                    )
                    limit = getattr(task.config, length_option)
                    if current["bit_errors"] < config.curriculum_threshold and max_length < limit:
                        max_length += 1
                        current_task = train_task()
                if (
                    config.target_bit_errors is not None
                    and result["bit_errors"] < config.target_bit_errors
                ):  # judged on the task's full range, however far the curriculum has got
                    converged = True
            out_of_time = (
                config.max_seconds is not None
                and time.perf_counter() - started > config.max_seconds
            )
            if out_of_time:
                break
            if step % config.checkpoint_every == 0 or converged:
                flush_pending()
                seconds = time.perf_counter() - started
                checkpoint()
        interrupted = stop.requested
    if interrupted:
        progress.line(f"interrupted at step {step}; saving a checkpoint")
    flush_pending()
    seconds = time.perf_counter() - started
    checkpoint()
    return TrainResult(
        model, step, sequences, seconds, history, converged, interrupted, parallelism, stop.signal
    )


def _what_is_kept(checkpoint_path: Path | None) -> str:
    """After a divergence: which checkpoint, if any, holds the last good state."""
    if checkpoint_path is None:
        return "nothing was saved (no out_dir)"
    if checkpoint_path.exists():
        return f"the last good checkpoint is left untouched: {checkpoint_path}"
    return f"no checkpoint was written ({checkpoint_path} does not exist: it diverged first)"
