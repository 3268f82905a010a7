"""Training throughput on the copy task at the paper's copy configuration.

LSTM controller of 100 units, memory 128 x 20, one read and one write head, 8-bit vectors,
lengths 1-20. One training step is a sampled batch, forward, backward, global-norm clipping and
an Adam update: exactly what ``train.py`` does. Prints sequences per second for each batch size
and precision: the median over rounds that each train one batch of every length 1-20.

    python bench/throughput.py                       # batch 1, 16, 64 in float32 and float64
    python bench/throughput.py --batch-sizes 64 --dtypes float32 --seconds 20
    python bench/throughput.py --controller feedforward
    python bench/throughput.py --workers 1 2         # each batch split over 2 processes
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ntm_numpy import NTM, backend
from ntm_numpy.allocator import keep_freed_memory
from ntm_numpy.optim import Adam, AdamConfig, clip_by_global_norm
from ntm_numpy.parallel import DataParallel
from ntm_numpy.tasks import make_task


def copy_model(task, dtype: str, controller: str = "lstm") -> NTM:
    """The paper's copy configuration: controller 100, memory 128 x 20, 1 read + 1 write head."""
    return NTM(
        input_size=task.input_size,
        output_size=task.output_size,
        memory_size=128,
        memory_dim=20,
        controller_size=100,
        num_heads=1,
        controller=controller,
        dtype=dtype,
        seed=0,
    )


def measure(
    batch_size: int,
    dtype: str,
    seconds: float,
    controller: str,
    device: str,
    min_rounds: int = 3,
    workers: int = 1,
) -> dict:
    """Training sequences per second, as the median over rounds of one batch of every length.

    The time of a step grows with the sequence length, so a round holds one batch of each
    length 1-20 (in a shuffled order): a round's throughput is the expected throughput under the
    task's uniform length distribution, without the sampling noise of which lengths came up.
    Rounds run until ``seconds`` have passed (at least ``min_rounds``); the median round is
    reported, since a shared machine slows some rounds down. With ``workers`` > 1 each batch is
    split over that many processes (``ntm_numpy.parallel``), as ``train --workers`` does.
    """
    task = make_task("copy", bits=8, min_length=1, max_length=20)
    model = copy_model(task, dtype, controller)
    if device == "gpu":
        model.to("gpu")
    optimizer = Adam(AdamConfig(lr=1e-3))
    rng = np.random.default_rng(0)
    lengths = np.arange(task.config.min_length, task.config.max_length + 1)
    parallel = DataParallel(model, workers)

    def train_step(length: int) -> None:
        batch = task.sample(batch_size=batch_size, rng=rng, length=int(length))
        _, grads = parallel.loss_and_grads(batch.inputs, batch.targets, batch.mask)
        grads, _ = clip_by_global_norm(grads, 50.0)
        optimizer.step(model.params, grads)

    def synchronize() -> None:
        if device == "gpu":
            backend.require_gpu().cuda.Device().synchronize()

    for length in (lengths.min(), lengths.max()):  # warm up: allocator, caches, GPU kernels
        train_step(length)
    synchronize()
    round_seconds, start = [], time.perf_counter()
    while time.perf_counter() - start < seconds or len(round_seconds) < min_rounds:
        round_start = time.perf_counter()
        for length in rng.permutation(lengths):
            train_step(length)
        synchronize()
        round_seconds.append(time.perf_counter() - round_start)
    parallel.close()
    median = float(np.median(round_seconds))
    return {
        "batch_size": batch_size,
        "workers": workers,
        "dtype": dtype,
        "sequences_per_s": batch_size * len(lengths) / median,
        "ms_per_step": 1e3 * median / len(lengths),
        "rounds": len(round_seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    parser.add_argument("--seconds", type=float, default=10.0, help="per measurement")
    parser.add_argument("--controller", default="lstm", choices=["lstm", "feedforward"])
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1],
        help="processes that share each batch (ntm_numpy.parallel); one table row each",
    )
    args = parser.parse_args()
    keep_freed_memory()  # as the trainer does
    print(
        f"copy task, NTM {args.controller} controller 100, memory 128x20, 1 read + 1 write "
        f"head, lengths 1-20, Adam; {args.device}"
    )
    print(f"{'batch':>5}  {'dtype':>7}  {'workers':>7}  {'sequences/s':>11}  {'ms/step':>8}")
    for dtype in args.dtypes:
        for batch_size in args.batch_sizes:
            for workers in args.workers:
                if workers > batch_size:  # a batch splits into at most batch_size shards
                    continue
                r = measure(
                    batch_size, dtype, args.seconds, args.controller, args.device, workers=workers
                )
                print(
                    f"{batch_size:>5}  {dtype:>7}  {workers:>7}  {r['sequences_per_s']:>11.0f}  "
                    f"{r['ms_per_step']:>8.1f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
