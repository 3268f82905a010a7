"""Interleaved A/B timing of training steps: this checkout against another one.

    git worktree add /tmp/base HEAD~1            # the code to compare against
    OPENBLAS_NUM_THREADS=1 python bench/ab.py /tmp/base
    OPENBLAS_NUM_THREADS=1 python bench/ab.py /tmp/base --batch-size 16 --dtype float64

Each checkout runs in a process of its own (its own ``ntm_numpy``, tasks and optimizer), both
train the same copy batches (one of every length 1-20: a round) from the same initial
parameters at the paper's copy configuration, and the rounds alternate between the two, so that
a shared machine's slow spells fall on both alike. One run of ``bench/throughput.py`` moves by
10-20% from run to run here, more than most single changes gain; interleaved, a change of a
few percent shows. Prints the minimum and median round of each and their ratios (new / base:
under 1 is faster), and checks that both computed the same first-round losses.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()


def serve(root: str, batch_size: int, dtype: str) -> None:
    """The child: build the run from the checkout at ``root``, time a round per request."""
    sys.path.insert(0, root)
    import numpy as np

    from ntm_numpy import NTM
    from ntm_numpy.allocator import keep_freed_memory
    from ntm_numpy.optim import Adam, AdamConfig, clip_by_global_norm
    from ntm_numpy.tasks import make_task

    keep_freed_memory()
    task = make_task("copy", bits=8, min_length=1, max_length=20)
    # throughput.copy_model's configuration, written out: importing bench/throughput.py would
    # put this checkout's ntm_numpy ahead of ROOT's on sys.path
    model = NTM(
        input_size=task.input_size,
        output_size=task.output_size,
        memory_size=128,
        memory_dim=20,
        controller_size=100,
        num_heads=1,
        dtype=dtype,
        seed=0,
    )
    optimizer = Adam(AdamConfig(lr=1e-3))
    rng = np.random.default_rng(0)
    batches = [task.sample(batch_size=batch_size, rng=rng, length=n) for n in range(1, 21)]

    def one_round() -> list[float]:
        losses = []
        for batch in batches:
            loss, grads = model.loss_and_grads(batch.inputs, batch.targets, batch.mask)
            grads, _ = clip_by_global_norm(grads, 50.0)
            optimizer.step(model.params, grads)
            losses.append(float(loss))
        return losses

    print(json.dumps(one_round()), flush=True)  # the first round: a warm-up, and the check
    for _ in sys.stdin:
        start = time.perf_counter()
        one_round()
        print(time.perf_counter() - start, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "base", nargs="?", help="the other checkout (a directory holding ntm_numpy/)"
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--rounds", type=int, default=10, help="timed rounds of each")
    parser.add_argument("--serve", metavar="ROOT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.batch_size, args.dtype)
        return
    if args.base is None or not (Path(args.base) / "ntm_numpy").is_dir():
        parser.error(f"base: {args.base} holds no ntm_numpy/ package")
    roots = {"base": str(Path(args.base).resolve()), "new": str(HERE.parents[1])}
    options = ["--batch-size", str(args.batch_size), "--dtype", args.dtype]
    children = {
        name: subprocess.Popen(
            [sys.executable, str(HERE), "--serve", root, *options],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=root,
            env={**os.environ, "PYTHONPATH": root},
        )
        for name, root in roots.items()
    }

    def answer(name: str) -> str:
        line = children[name].stdout.readline()
        if not line:  # the child died; its traceback went to stderr
            raise SystemExit(f"the {name} checkout ({roots[name]}) failed to run a round")
        return line

    first = {name: json.loads(answer(name)) for name in children}
    worst = max(abs(a - b) / abs(a) for a, b in zip(first["base"], first["new"], strict=True))
    times: dict[str, list[float]] = {"base": [], "new": []}
    for k in range(args.rounds):
        for name in ("base", "new") if k % 2 == 0 else ("new", "base"):
            children[name].stdin.write("round\n")
            children[name].stdin.flush()
            times[name].append(float(answer(name)))
    for child in children.values():
        child.stdin.close()
        child.wait()

    def median(values: list[float]) -> float:
        return sorted(values)[len(values) // 2]

    sequences = 20 * args.batch_size
    print(f"copy, batch {args.batch_size}, {args.dtype}, {args.rounds} rounds of each")
    print(f"first-round losses: worst relative difference {worst:.1e}")
    for name in ("base", "new"):
        best, mid = min(times[name]), median(times[name])
        print(
            f"{name:>4}: min {best * 1e3:7.0f} ms ({sequences / best:5.0f} sequences/s), "
            f"median {mid * 1e3:7.0f} ms"
        )
    ratios = [n / b for n, b in zip(times["new"], times["base"], strict=True)]
    print(
        f"new / base: min {min(times['new']) / min(times['base']):.3f}, "
        f"median of the paired ratios {median(ratios):.3f}"
    )


if __name__ == "__main__":
    main()
