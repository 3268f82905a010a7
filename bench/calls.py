"""Python-level calls per time step of one training step (forward and backward).

Counts every Python function call and every call of a C function that Python sees
(``sys.setprofile``) during ``loss_and_grads`` on one copy batch at the paper's copy
configuration, and prints the total per time step and the most frequent callees.

    python bench/calls.py
    python bench/calls.py --batch-size 1 --length 20
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import task_and_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--length", type=int, default=10)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    task, model = task_and_model("copy_lstm", "float32")
    batch = task.sample(
        batch_size=args.batch_size, rng=np.random.default_rng(0), length=args.length
    )
    model.loss_and_grads(batch.inputs, batch.targets, batch.mask)  # warm up: imports, caches

    counts: collections.Counter = collections.Counter()

    def count(frame, event, arg) -> None:
        if event == "call":
            counts[f"{frame.f_code.co_name} (Python)"] += 1
        elif event == "c_call":
            counts[f"{getattr(arg, '__name__', arg)} (C)"] += 1

    sys.setprofile(count)
    model.loss_and_grads(batch.inputs, batch.targets, batch.mask)
    sys.setprofile(None)
    steps = batch.inputs.shape[0]
    print(
        f"copy, batch {args.batch_size}, length {args.length} ({steps} time steps): "
        f"{sum(counts.values()) / steps:.0f} calls per time step"
    )
    for name, n in counts.most_common(args.top):
        print(f"  {n / steps:6.1f}  {name}")


if __name__ == "__main__":
    main()
