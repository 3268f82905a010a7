"""Learning curves over several seeds, for the tasks that are cheap to train (issue #13, item 4).

    python bench/seed_curves.py                      # every run below, seeds 0 1 2
    python bench/seed_curves.py --runs copy_ntm --seeds 0 1 2 3

Each run is a ``train`` command with ``--seed k``, which seeds both the initial parameters and
the training batches, and a fixed number of steps, so that every seed sees the same number of
sequences: for copy, the shipped model's first stage (README, "Pretrained models"); for
associative recall, the paper's LSTM-controller NTM (100 units, one head), the model shipped
before the feed-forward one, a quarter of its cost per run here. The LSTM
baselines get the same number of sequences as the NTM of their task. The runs go one after
another (the machine has two cores, and a run's evaluations would otherwise compete), in
``runs/seed_curves/<run>_seed<k>/``; each finished run's log is copied to
``checkpoints/seed_curves/<run>_seed<k>.metrics.jsonl``, which ``python -m ntm_numpy figures``
draws as the mean and spread over seeds (``figures/learning_curves_seeds.png``). A run whose log
is already there is skipped, so the command can be stopped and started again.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / "checkpoints" / "seed_curves"

LSTM_BASELINE = [
    "--model", "lstm", "--hidden-size", "100", "--num-layers", "3", "--dtype", "float32",
    "--lr", "0.003",
]  # fmt: skip
COMMON = ["--eval-every", "200", "--checkpoint-every", "1000"]

# the runs, with a step count in place of a time budget
RUNS: dict[str, list[str]] = {
    "copy_ntm": ["--task", "copy", "--lr", "0.003", "--steps", "8000"],
    "associative_recall_ntm": [
        "--task", "associative_recall", "--controller", "lstm", "--steps", "15000",
    ],
    "copy_lstm": ["--task", "copy", *LSTM_BASELINE, "--no-curriculum", "--steps", "8000"],
    "associative_recall_lstm": ["--task", "associative_recall", *LSTM_BASELINE, "--steps", "15000"],
}  # fmt: skip


def command(run: str, seed: int, out: Path, extra: list[str]) -> list[str]:
    return [
        sys.executable, "-m", "ntm_numpy", "train", *RUNS[run], *COMMON,
        "--seed", str(seed), "--out", str(out), *extra,
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", choices=sorted(RUNS), default=list(RUNS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument(
        "--train-args",
        default="--workers 1 --blas-threads 1",
        help="more options for every train command (default: %(default)s, one core a run)",
    )
    args = parser.parse_args(argv)
    LOGS.mkdir(parents=True, exist_ok=True)
    for run in args.runs:
        for seed in args.seeds:
            log = LOGS / f"{run}_seed{seed}.metrics.jsonl"
            if log.exists():
                print(f"{log.name}: there already, skipped", flush=True)
                continue
            out = ROOT / "runs" / "seed_curves" / f"{run}_seed{seed}"
            if out.exists():
                shutil.rmtree(out)  # an unfinished run starts again: its log must be whole
            start = time.perf_counter()
            subprocess.run(command(run, seed, out, args.train_args.split()), check=True, cwd=ROOT)
            shutil.copyfile(out / "metrics.jsonl", log)
            print(f"{log.name}: {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
