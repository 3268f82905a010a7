"""How many BLAS threads and worker processes a run uses: a rule measured here, then applied.

A training step is a chain of a few hundred small NumPy calls. Its products are small, so BLAS
threads mostly wait on each other, and a second core pays best as a second process that
computes half the batch (``parallel.DataParallel``). ``choose`` turns a run's batch size,
precision and the cores this process may use into a ``Parallelism``; ``blas_threads`` applies
the thread count through threadpoolctl, at run time, whatever environment NumPy started in.

The command line (``train``, ``evaluate``, ``demo``) and the benchmarks choose automatically;
a notebook or a script keeps NumPy's own behaviour unless it calls ``set_blas_threads``.
The rule's measurements are in the README (Speed) and ``bench/ab.py --arm``.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass

from ..configs import AUTO, count_or_auto


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity), not the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def choose_workers(batch_size: int, cores: int, device: str = "cpu") -> int:
    """Worker processes for a batch: one per core, never more than its sequences; 1 on a GPU
    or on one core, where a worker cannot pay.

    Measured on 2 cores (README, "Speed"): a second process paid at every batch size from 2
    on, from 1.03-1.16x (batch 2 to 16, the copy model) to 2x (batch 64, priority sort's 512
    units and 8 heads), because a step of a few sequences is bound by its Python calls, which
    two processes make side by side. More cores than 2 were not measured.
    """
    if device != "cpu" or cores < 2:
        return 1
    return min(cores, batch_size)


def choose_blas_threads(batch_size: int, dtype: str, workers: int, cores: int) -> int:
    """BLAS threads per process: one, for every workload measured here (README, "Speed").

    With workers the cores are taken by processes; alone, a step's products are too small for
    threads to pay: a second thread measured 0.97-1.04x the time of one (batch 1 and 16, the
    copy model and priority sort's 512 units, float32 and float64).
    """
    # the arguments are what a rule may depend on; none of them changed the measured best
    del batch_size, dtype, workers, cores
    return 1


@dataclass(frozen=True)
class Parallelism:
    """What a run uses, and whether each number was chosen or asked for."""

    workers: int
    blas_threads: int | None  # None: left as NumPy set them
    cores: int
    workers_chosen: bool
    blas_chosen: bool

    def describe(self) -> str:
        """E.g. ``"2 cores: workers 2 (auto), BLAS threads 1 (auto)"``."""
        how = {True: "auto", False: "asked"}
        blas = (
            "BLAS threads as NumPy set them"
            if self.blas_threads is None
            else f"BLAS threads {self.blas_threads} ({how[self.blas_chosen]})"
        )
        return f"{self.cores} cores: workers {self.workers} ({how[self.workers_chosen]}), {blas}"


def choose(
    *,
    batch_size: int,
    dtype: str,
    workers: int | str = AUTO,
    blas_threads: int | str | None = AUTO,
    device: str = "cpu",
    cores: int | None = None,
) -> Parallelism:
    """The workers and BLAS threads for a run; an explicit number wins over the rule, and
    ``blas_threads=None`` leaves NumPy's threads as they are.

    ``cores`` defaults to ``available_cores()``; pass it to ask what another machine would get.
    """
    workers = count_or_auto("workers", workers)
    if blas_threads is not None:
        blas_threads = count_or_auto("blas_threads", blas_threads)
    cores = available_cores() if cores is None else cores
    chosen_workers = choose_workers(batch_size, cores, device) if workers == AUTO else workers
    chosen_blas = (
        choose_blas_threads(batch_size, dtype, chosen_workers, cores)
        if blas_threads == AUTO
        else blas_threads
    )
    return Parallelism(chosen_workers, chosen_blas, cores, workers == AUTO, blas_threads == AUTO)


@contextmanager
def blas_threads(count: int | None):
    """Run a block with ``count`` BLAS threads (None: leave them as they are)."""
    if count is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=count, user_api="blas"):
        yield


def set_blas_threads(
    count: int | str = AUTO, *, batch_size: int = 16, dtype: str = "float32"
) -> int:
    """Set this process's BLAS threads for good, as the command line does; returns the count.

    For a notebook or a script that trains in its own process (``train``, a loop over
    ``loss_and_grads``): ``ntm_numpy.set_blas_threads()`` applies the measured rule for a run
    of one process at ``batch_size`` in ``dtype``; ``set_blas_threads(2)`` asks for 2.
    Without this call NumPy keeps its own default (a thread per core).
    """
    from threadpoolctl import threadpool_limits

    chosen = choose(batch_size=batch_size, dtype=dtype, workers=1, blas_threads=count)
    threadpool_limits(limits=chosen.blas_threads, user_api="blas")
    return chosen.blas_threads
