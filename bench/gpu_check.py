"""The same code on a GPU: is it the same, how fast is it, does it learn?

Needs CuPy and a CUDA device. Prints one table with three parts:

1. agreement: forward logits and every gradient of one batch, GPU against CPU, in float64
   (max relative difference; must be under 1e-10);
2. throughput: training sequences per second on the copy configuration (LSTM controller 100,
   memory 128 x 20, lengths 1-20, Adam) for batch 1, 64, 256 and 1024, on the GPU and the CPU;
3. convergence: the demo's copy run on the GPU until under 0.1 bit errors per sequence.

    python bench/gpu_check.py                 # about 5 minutes
    python bench/gpu_check.py --seconds 5 --max-train-seconds 150
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ntm_numpy import backend
from ntm_numpy.training import TrainConfig, train

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Bench, task_and_model


def max_relative_difference(a, b) -> float:
    a, b = backend.to_numpy(a), backend.to_numpy(b)
    return float(np.max(np.abs(a - b)) / max(1e-300, float(np.max(np.abs(b)))))


def agreement() -> list[tuple[str, float]]:
    task, model = task_and_model("copy_lstm", "float64")
    batch = task.sample(batch_size=8, rng=np.random.default_rng(0), length=12)
    logits, _ = model.forward(batch.inputs)
    _, grads = model.loss_and_grads(batch.inputs, batch.targets, batch.mask)
    model.to("gpu")
    gpu_logits, _ = model.forward(batch.inputs)
    _, gpu_grads = model.loss_and_grads(batch.inputs, batch.targets, batch.mask)
    rows = [("logits", max_relative_difference(gpu_logits, logits))]
    rows += [(f"d {name}", max_relative_difference(gpu_grads[name], grads[name])) for name in grads]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="per throughput measurement")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 64, 256, 1024])
    parser.add_argument("--max-train-seconds", type=float, default=150.0)
    args = parser.parse_args()
    try:
        cupy = backend.require_gpu()
    except RuntimeError as error:
        raise SystemExit(f"bench/gpu_check.py: {error}") from None
    name = cupy.cuda.runtime.getDeviceProperties(0)["name"]
    name = name.decode() if isinstance(name, bytes) else name
    start = time.perf_counter()
    lines = [f"GPU: {name}; CuPy {cupy.__version__}; NumPy {np.__version__}", ""]

    rows = agreement()
    worst = max(r[1] for r in rows)
    lines += [
        "1. GPU vs CPU, float64, copy batch of 8 x length 12",
        f"   {'quantity':<22} {'max rel. diff':>14}",
    ]
    lines += [f"   {n:<22} {d:>14.2e}" for n, d in rows]
    lines += [f"   worst {worst:.2e}: {'PASS' if worst < 1e-10 else 'FAIL'} (bound 1e-10)", ""]
    print("\n".join(lines), flush=True)

    lines = [
        "2. training throughput, sequences/s (float32; median round over lengths 1-20)",
        f"   {'batch':>6} {'GPU':>10} {'CPU':>10} {'GPU/CPU':>8}",
    ]
    print("\n".join(lines), flush=True)
    for batch_size in args.batch_sizes:
        gpu, cpu = (
            Bench("copy_lstm", batch_size, "float32", device=device).median_throughput(
                args.seconds, min_rounds=1
            )
            for device in ("gpu", "cpu")
        )
        lines.append(f"   {batch_size:>6} {gpu:>10.0f} {cpu:>10.0f} {gpu / cpu:>8.2f}")
        print(lines[-1], flush=True)
    print()

    config = replace(TrainConfig(), device="gpu", target_bit_errors=0.1)
    deadline = time.perf_counter() + args.max_train_seconds

    def stop_at_deadline(row: dict) -> None:
        if time.perf_counter() > deadline:
            raise TimeoutError

    try:
        result = train(config, None, verbose=False, on_eval=stop_at_deadline)
        outcome = (
            f"{'converged' if result.converged else 'not converged'} after "
            f"{result.sequences} sequences in {result.seconds:.1f}s, bit errors "
            f"{result.history[-1]['bit_errors']:.3f}"
        )
    except TimeoutError:
        outcome = f"not converged within {args.max_train_seconds:.0f}s"
    lines = [
        "3. the demo's copy run on the GPU (target: under 0.1 bit errors per sequence)",
        f"   {outcome}",
        "",
        f"total {time.perf_counter() - start:.0f}s",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
