"""The run directory and the run's stop signals.

One run at a time holds ``<out_dir>`` (``<out_dir>/.lock`` holds its PID). Ctrl-C or SIGTERM
stops a run at the end of its step, with a checkpoint; a second one stops it at once. The
metrics log is rewritten atomically on resume; ``best.npz`` is the best evaluation's model.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from .checkpoint import save
from .files import write_atomic


def write_jsonl_atomic(path: Path, rows: list[dict]) -> None:
    """Replace ``path`` by ``rows``, one JSON line each, atomically (``files.write_atomic``)."""
    write_atomic(path, lambda f: f.writelines(json.dumps(r) + "\n" for r in rows), text=True)


def read_metrics(path: str | os.PathLike) -> list[dict]:
    """The evaluations of a run, from its metrics.jsonl."""
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.jsonl"
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def append_jsonl(path: Path, row: dict) -> None:
    """Add ``row`` to ``path`` as one JSON line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


def keep_scheduled_evaluations(path: Path, *, step: int, eval_every: int) -> list[dict]:
    """On resume at ``step``: rewrite the log ``path`` as a run that had never stopped would
    have logged it (evaluations on the schedule up to ``step``; the last run's final one, off
    the schedule, is dropped), and return its rows."""
    if not path.exists():
        return []
    rows = [r for r in read_metrics(path) if r["step"] <= step and r["step"] % eval_every == 0]
    write_jsonl_atomic(path, rows)
    return rows


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # Ctrl-C; schedulers, ``timeout`` and ``kill``


class StopOnInterrupt:
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

    def __enter__(self) -> StopOnInterrupt:
        if threading.current_thread() is threading.main_thread():
            self.previous = {s: signal.signal(s, self._handler) for s in STOP_SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)


# --- the run directory: held by one run at a time, checked before any training ---------------

LOCK_NAME = ".lock"  # the PID of the run that holds the directory
# what a save killed half-way leaves (``checkpoint.save``, ``write_jsonl_atomic``)
STALE_PATTERNS = (
    ".checkpoint.npz.*.tmp",
    ".best.npz.*.tmp",
    ".metrics.jsonl.*.tmp",
    "snapshots/.step_*.npz.*.tmp",
)
BEST_BEFORE_FINAL = ".best-before-final.npz"  # see ``save_best``


class RunDirectoryError(ValueError):
    """The run directory cannot be used: not a directory, not writable, held by another run,
    or holding an earlier run's log."""


@contextmanager
def hold_run_directory(out: Path | None, *, resume: bool):
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


def save_best(out: Path, model, state: dict, *, scheduled: bool) -> None:
    """Write ``out/best.npz``. An evaluation off the schedule (a run's last step, between two
    multiples of eval_every) is one that the same run, resumed, would not make: the best.npz it
    replaces is kept aside (an empty file: there was none), for ``undo_final_evaluation``."""
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


def undo_final_evaluation(out: Path) -> None:
    """On resume: put back the best.npz that an off-schedule evaluation replaced."""
    best, before = out / "best.npz", out / BEST_BEFORE_FINAL
    if not before.exists():
        return
    if before.stat().st_size == 0:
        best.unlink(missing_ok=True)
        before.unlink()
    else:
        os.replace(before, best)
