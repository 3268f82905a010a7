"""One benchmark's training loop, shared by ``throughput.py`` and ``ab.py``.

A *round* trains one batch of every value of the task's length option (copy: lengths 1-20;
associative recall: 2-6 items), or ``FIXED_ROUND`` batches for a task without one (n-grams,
priority sort): its throughput is the expected one under the task's training distribution,
without the noise of which lengths a random draw brings. The batches are drawn once and every
round trains the same ones; a step is what ``train`` does with a batch: loss and gradients
(split over ``workers`` processes), clipping to a global norm of 50, an Adam update.

``ntm_numpy`` is imported inside the functions, so that ``ab.py`` can put another checkout's
package first on ``sys.path`` before anything here imports it.
"""

from __future__ import annotations

import resource
import time

from configs import CONFIGS

FIXED_ROUND = 2  # batches per round for a task of one length (its batches all cost the same)


def round_lengths(task) -> list:
    """One length per batch of a round: every value of the task's length range, or None."""
    from ntm_numpy.training.loop import _training_lengths

    lengths = _training_lengths(task)
    return lengths if lengths != [None] else [None] * FIXED_ROUND


def task_and_model(config: str, dtype: str):
    """The task and a freshly initialised NTM (seed 0) of a configuration of ``configs.py``."""
    from ntm_numpy import NTM
    from ntm_numpy.tasks import make_task

    spec = CONFIGS[config]
    task = make_task(spec["task"], **spec.get("task_options", {}))
    model = NTM(
        input_size=task.input_size,
        output_size=task.output_size,
        dtype=dtype,
        seed=0,
        **spec["model"],
    )
    return task, model


class Bench:
    """A model of one configuration and its optimizer, ready to time rounds of training."""

    def __init__(
        self, config: str, batch_size: int, dtype: str, workers: int = 1, device: str = "cpu"
    ) -> None:
        import numpy as np

        from ntm_numpy import backend
        from ntm_numpy.optim import AdamConfig
        from ntm_numpy.training.allocator import keep_freed_memory
        from ntm_numpy.training.optimizers import Adam, clip_by_global_norm
        from ntm_numpy.training.parallel import DataParallel

        keep_freed_memory()  # as the trainer does
        self.task, self.model = task_and_model(config, dtype)
        if device == "gpu":
            self.model.to("gpu")
        # a GPU runs asynchronously: a round ends when its kernels have finished
        self.synchronize = (
            backend.require_gpu().cuda.Device().synchronize if device == "gpu" else lambda: None
        )
        self.batch_size = batch_size
        self.optimizer = Adam(AdamConfig(lr=1e-3))
        self.clip = clip_by_global_norm
        self.parallel = DataParallel(self.model, workers)
        rng = np.random.default_rng(0)
        # the same batches every round: rounds differ only in the time they take
        self.batches = [
            self.task.sample(batch_size=batch_size, rng=rng, length=length)
            for length in round_lengths(self.task)
        ]

    def step(self, batch) -> float:
        loss, grads = self.parallel.loss_and_grads(batch.inputs, batch.targets, batch.mask)
        grads, _ = self.clip(grads, 50.0)
        self.optimizer.step(self.model.params, grads)
        return float(loss)

    def round(self) -> tuple[float, list[float]]:
        """Seconds for one round, and its losses."""
        start = time.perf_counter()
        losses = [self.step(batch) for batch in self.batches]
        self.synchronize()
        return time.perf_counter() - start, losses

    def median_throughput(self, seconds: float, min_rounds: int = 3) -> float:
        """Sequences per second of the median round, over rounds for ``seconds`` (at least
        ``min_rounds``), after one round to warm up (allocator, caches, GPU kernels)."""
        self.round()
        times, start = [], time.perf_counter()
        while time.perf_counter() - start < seconds or len(times) < min_rounds:
            times.append(self.round()[0])
        return self.sequences_per_round / sorted(times)[len(times) // 2]

    @property
    def sequences_per_round(self) -> int:
        return self.batch_size * len(self.batches)

    def close(self) -> None:
        self.parallel.close()


def peak_rss_mb() -> tuple[float, float]:
    """Peak resident memory of this process and of its largest child so far, in MB (Linux)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def apply_settings(batch_size: int, dtype: str, workers, blas_threads) -> tuple[int, int]:
    """Resolve "auto" with the package's rule and set the BLAS threads of this process."""
    if workers == "auto" or blas_threads == "auto":
        from ntm_numpy.training.threads import choose

        chosen = choose(
            batch_size=batch_size, dtype=dtype, workers=workers, blas_threads=blas_threads
        )
        workers, blas_threads = chosen.workers, chosen.blas_threads
    if blas_threads is not None:
        # through the package, which imports NumPy first: threadpoolctl limits only the BLAS
        # libraries already loaded, and a limit set before NumPy's import limits nothing
        from ntm_numpy.training.threads import set_blas_threads

        set_blas_threads(int(blas_threads))
    return int(workers), blas_threads


def parse_setting(text: str) -> dict:
    """ "blas=1 workers=2" -> {"blas_threads": 1, "workers": 2}; "auto" stays a string."""
    names = {"blas": "blas_threads", "workers": "workers"}
    setting = {"blas_threads": None, "workers": 1}
    for part in text.split():
        key, _, value = part.partition("=")
        if key not in names or not value:
            raise ValueError(f"a setting is 'blas=N|auto workers=N|auto', got {text!r}")
        setting[names[key]] = value if value == "auto" else int(value)
    return setting


def describe(setting: dict) -> str:
    blas = setting["blas_threads"]
    return f"blas={'default' if blas is None else blas} workers={setting['workers']}"
