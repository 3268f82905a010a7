"""The README's results table: every pretrained model, at its training lengths and beyond.

Each row is what ``python -m ntm_numpy evaluate`` prints for that model and length (the command
is in the row): cost (cross-entropy in bits per sequence) and wrong bits per sequence (outputs
thresholded at 0.5), both over the scored steps, for the NTM and the LSTM baseline; the
Bayes-optimal cost for n-grams, on the same sequences; the paper's figure (Graves et al. 2014,
read off its figures); and issue #13's target with whether the NTM meets it.

The evaluation seed (1 by default) is one that neither training (its batches come from the
run's seed, its evaluations from seed = step, a multiple of the evaluation interval) nor the
choice of a model (seed 7) used.

    python bench/results.py               # prints a Markdown table, 500 sequences a length
    python bench/results.py --sequences 200 --tasks copy repeat_copy
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ntm_numpy.app.cli import main as cli
from ntm_numpy.training.checkpoint import pretrained_names

# (task, lengths beyond training or None for the training range, the paper's result)
ROWS = [
    ("copy", None, "near 0"),
    ("copy", "30,50,80,120", "near-perfect to 50; 120 with local errors (figs. 4, 5)"),
    ("repeat_copy", None, "near 0"),
    ("repeat_copy", "15,20", "works at twice the training length (fig. 8)"),
    ("associative_recall", None, "near 0"),
    ("associative_recall", "10,12,15", "feed-forward NTM about 0 to 12 items, under 1 at 15"),
    ("ngrams", None, "about 1-2 bits above the optimal cost"),
    ("priority_sort", None, "17-20 bits"),
]


class Target(NamedTuple):
    """A result issue #13 asks for: ``text`` as printed, ``met(row)`` on the NTM's row."""

    text: str
    met: Callable[[dict], bool]


def _at_most(limit: float) -> Target:
    return Target(f"wrong bits <= {limit:g}", lambda row: row["bit_errors"] <= limit)


# (task, length; None for the training range) -> its target
TARGETS: dict[tuple[str, int | None], Target] = {
    ("copy", 80): _at_most(0.1),
    ("copy", 120): _at_most(1),
    ("repeat_copy", 20): _at_most(1),
    ("associative_recall", 10): _at_most(1),
    ("associative_recall", 15): _at_most(3),
    ("ngrams", None): Target(
        "cost - optimal <= 2", lambda row: row["cost"] - row["optimal_cost"] <= 2
    ),
    ("priority_sort", None): Target("cost <= 25", lambda row: row["cost"] <= 25),
}


def evaluate(name: str, lengths: str | None, args: argparse.Namespace) -> list[dict]:
    argv = ["evaluate", name, "--sequences", str(args.sequences), "--seed", str(args.seed)]
    argv.append("--json")
    if lengths:
        argv += ["--lengths", lengths]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli(argv)
    if code != 0:
        raise SystemExit(f"evaluate {name} failed with exit code {code}")
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


def _cells(task: str, i: int, n: dict | None, m: dict | None, paper: str, command: str) -> list:
    """One row of the table: the NTM's (n) and the LSTM's (m) results at one length."""
    row = n or m
    length = "training" if row["length"] is None else str(row["length"])
    optimal = ""
    if "optimal_cost" in row:
        optimal = f"{row['optimal_cost']:.2f}"
        if n:
            optimal += f" (NTM +{n['cost'] - row['optimal_cost']:.2f})"
    target = TARGETS.get((task, row["length"]))
    met = ("yes" if target.met(n) else "no") if target and n else ""
    return [
        task if i == 0 else "",
        length,
        f"{n['cost']:.3f}" if n else "-",
        f"{n['bit_errors']:.3f}" if n else "-",
        f"{m['cost']:.3f}" if m else "-",
        f"{m['bit_errors']:.3f}" if m else "-",
        optimal,
        paper if i == 0 else "",
        target.text if target else "",
        met,
        command if i == 0 else "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1, help="the evaluation seed (default: 1)")
    parser.add_argument(
        "--tasks", nargs="+", choices=sorted({task for task, _, _ in ROWS}), help="only these"
    )
    args = parser.parse_args()
    shipped = set(pretrained_names())
    print(
        "| task | length | NTM cost | NTM wrong bits | LSTM cost | LSTM wrong bits | "
        "optimal cost | paper | target | met | command |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for task, lengths, paper in ROWS:
        if args.tasks and task not in args.tasks:
            continue
        ntm = evaluate(task, lengths, args) if task in shipped else None
        lstm_name = f"lstm_{task}"
        lstm = evaluate(lstm_name, lengths, args) if lstm_name in shipped else None
        if ntm is None and lstm is None:
            print(f"| {task} | | not shipped yet | | | | | {paper} | | | |")
            continue
        seed = f" --seed {args.seed}" if args.seed != 1 else ""  # 1: evaluate's own default
        command = f"`python -m ntm_numpy evaluate {task} --sequences {args.sequences}{seed}" + (
            f" --lengths {lengths}`" if lengths else "`"
        )
        for i in range(len(ntm or lstm)):
            n = ntm[i] if ntm else None
            m = lstm[i] if lstm else None
            print("| " + " | ".join(_cells(task, i, n, m, paper, command)) + " |", flush=True)


if __name__ == "__main__":
    main()
