"""Data parallelism on the CPU: one batch's gradient computed by several processes at once.

A training step of one model is a chain of small NumPy calls, so it keeps one core busy and no
more (BLAS threads only fight over such small products, and threads of Python hold the
interpreter lock for most of the step). ``DataParallel`` splits each batch along B into one
shard per worker; this process computes the first shard with the model itself, and worker
processes, each holding a replica of the model, compute the others at the same time::

    batch [T, B, .]  ->  shards [T, B_k, .]  ->  (L_k, g_k) per shard, in parallel
    L = sum_k (B_k / B) L_k,    g = sum_k (B_k / B) g_k

The cost is a mean over the sequences of a batch, so the weighted sum is exactly the batch's
cost and gradient (up to float rounding: the sums are taken in another order, so a run with
2 workers is reproducible, but not bit-for-bit the run with 1).

Before every step the model's flat parameter array (``model.params.flat``) is copied into
memory shared with the workers (one buffer, written by this process, read by all: each worker's
model holds its parameters as views into it), and each worker writes its flat gradient into a
shared buffer of its own; only the shards and the costs go through pipes. Workers ignore
Ctrl-C (the trainer finishes its step and checkpoints) and run BLAS single-threaded.

    >>> with DataParallel(model, workers=2) as parallel:
    ...     loss, grads = parallel.loss_and_grads(x, y, mask)   # as model.loss_and_grads
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import signal
import threading
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..flat_arrays import FlatArrays, Layout, layout_size
from ..sequence_model import positive_int
from .allocator import keep_freed_memory
from .checkpoint import build_model, model_type_of

BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def shard_bounds(batch_size: int, shards: int) -> list[tuple[int, int]]:
    """Split B sequences into at most ``shards`` contiguous, nearly equal, non-empty ranges."""
    shards = min(shards, batch_size)
    edges = [batch_size * k // shards for k in range(shards + 1)]
    return list(itertools.pairwise(edges))


def _shared_array(context, size: int, dtype: np.dtype):
    """A buffer of ``size`` elements that child processes can map, and a NumPy view of it."""
    raw = context.RawArray("b", max(1, size * dtype.itemsize))
    return raw, np.frombuffer(raw, dtype=dtype, count=size)


@contextmanager
def _single_threaded_blas():
    """Environment for starting workers: one BLAS thread each (a child inherits it)."""
    saved = {name: os.environ.get(name) for name in BLAS_THREAD_VARIABLES}
    os.environ.update({name: "1" for name in BLAS_THREAD_VARIABLES})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def _sigint_ignored_by_children():
    """Start workers that ignore Ctrl-C from their first instruction: one still importing when
    a Ctrl-C reaches the process group would otherwise die with a traceback (``_worker``
    ignores SIGINT only once it runs). A spawned child keeps an ignored signal through exec, so
    this process ignores SIGINT while it starts them: a Ctrl-C in those few milliseconds is
    lost (blocking it instead does not help: starting a process discards a pending SIGINT)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        if previous is not None:  # None: a handler set outside Python, left as it was
            signal.signal(signal.SIGINT, previous)


def _worker(connection, model_type, config, layout: Layout, params_raw, grads_raw) -> None:
    """A worker process: rebuild the model around the shared parameters, then answer shards."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    keep_freed_memory()  # as in the parent: a step's large arrays are reused, not remapped
    model = build_model(model_type, config)
    dtype, size = np.dtype(model.config.dtype), layout_size(layout)
    model.params = FlatArrays(np.frombuffer(params_raw, dtype=dtype, count=size), layout)
    grads_out = np.frombuffer(grads_raw, dtype=dtype, count=size)
    while True:
        message = connection.recv()
        if message is None:
            return
        try:
            loss, grads = model.loss_and_grads(*message)
            grads_out[...] = grads.flat  # the same layout: grads are made like model.params
            connection.send(float(loss))
        except Exception as error:  # handed to the parent, which raises it
            connection.send(error)


def _worker_died() -> RuntimeError:
    return RuntimeError(
        "a DataParallel worker process died (killed, or out of memory); the others are "
        "stopped: start a new DataParallel"
    )


class DataParallel:
    """``loss_and_grads`` of ``model`` with each batch split over ``workers`` processes.

    ``workers=1`` starts no process and calls the model directly. The model must live on the
    CPU; its parameters may be replaced (with the same names, shapes and order) or updated in
    place between calls (each call sends the current ones). Use it as a context manager, or
    call ``close``, to stop the workers.
    """

    def __init__(self, model, workers: int) -> None:
        positive_int("workers", workers)
        if workers > 1 and model.device != "cpu":
            raise ValueError(
                f"workers > 1 splits a batch over CPU processes; the model is on the "
                f"{model.device} (use workers=1)"
            )
        self.model = model
        self.workers = workers
        self._processes: list = []
        self._connections: list = []
        self._grads: list[np.ndarray] = []  # each worker's flat gradient, in shared memory
        if workers == 1:
            return
        context = multiprocessing.get_context("spawn")  # fork is unsafe with BLAS threads
        dtype, layout = np.dtype(model.config.dtype), model.params.layout
        params_raw, flat_params = _shared_array(context, layout_size(layout), dtype)
        self._params = FlatArrays(flat_params, layout)
        config = model.config.to_dict()
        with _single_threaded_blas(), _sigint_ignored_by_children():
            for _ in range(workers - 1):
                grads_raw, flat_grads = _shared_array(context, layout_size(layout), dtype)
                ours, theirs = context.Pipe()
                process = context.Process(
                    target=_worker,
                    args=(
                        theirs,
                        model_type_of(model),
                        config,
                        layout,
                        params_raw,
                        grads_raw,
                    ),
                    daemon=True,
                )
                process.start()
                theirs.close()
                self._processes.append(process)
                self._connections.append(ours)
                self._grads.append(flat_grads)

    def loss_and_grads(self, x, y, mask=None) -> tuple[Any, dict[str, Any]]:
        """As ``model.loss_and_grads``: the batch's cost (a 0-d array) and its gradients.

        Shapes: x [T, B, input_size], y [T, B, outputs], mask [T, B] (None: every step).
        """
        if self.workers == 1:
            return self.model.loss_and_grads(x, y, mask)
        if self._processes and not self._connections:
            raise RuntimeError("DataParallel is closed")
        model = self.model
        x = model._check_sequence(x)  # every shard is then valid: no worker fails on input
        y, mask = model._check_targets(x, y, mask)
        B = x.shape[1]
        bounds = shard_bounds(B, self.workers)
        if model.params.layout != self._params.layout:  # the workers' gradients would not fit
            raise ValueError(
                "model.params changed its names, shapes or order since DataParallel started; "
                "start a new DataParallel"
            )
        self._params.flat[...] = model.params.flat
        connections = self._connections[: len(bounds) - 1]
        try:
            for connection, (start, stop) in zip(connections, bounds[1:], strict=True):
                connection.send((x[:, start:stop], y[:, start:stop], mask[:, start:stop]))
        except OSError:  # a broken pipe: the worker is gone
            self.close()
            raise _worker_died() from None
        start, stop = bounds[0]
        try:
            loss, grads = model.loss_and_grads(
                x[:, start:stop], y[:, start:stop], mask[:, start:stop]
            )
        finally:  # every answer is read, even after an error, so the next call starts clean
            answers = [self._receive(connection) for connection in connections]
        for answer in answers:
            if isinstance(answer, Exception):
                raise answer
        weights = [(stop - start) / B for start, stop in bounds]
        loss = loss * weights[0]
        grads = grads.map(lambda flat: flat * weights[0])
        for answer, theirs, weight in zip(answers, self._grads, weights[1:], strict=False):
            loss = loss + answer * weight
            grads.flat += theirs * weight  # theirs: a worker's flat gradient, as laid out here
        return loss, grads

    def _receive(self, connection):
        try:
            return connection.recv()
        except (EOFError, OSError):
            self.close()
            return _worker_died()

    def close(self) -> None:
        """Stop the worker processes (idempotent)."""
        for connection in self._connections:
            try:
                connection.send(None)
                connection.close()
            except (BrokenPipeError, OSError):
                pass
        for process in self._processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
        self._connections = []

    def __enter__(self) -> DataParallel:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # at interpreter exit, modules may be gone already
            pass
