"""The README's results table: every pretrained model, at its training lengths and beyond.

Each row is what ``python -m ntm_numpy evaluate`` prints for that model and length (the command
is in the row); the paper's column is what Graves et al. (2014) report, read off their learning
curves. Models that are not shipped yet are listed as such.

    python bench/results.py               # prints a Markdown table
    python bench/results.py --sequences 200
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ntm_numpy.app.cli import main as cli
from ntm_numpy.training.checkpoint import pretrained_names

# (task, lengths beyond training or None for the training range, the paper's result)
ROWS = [
    ("copy", None, "near 0"),
    (
        "copy",
        "30,50,80,120",
        "NTM copies far past 20 with few errors (fig. 4); LSTM fails (fig. 5)",
    ),
    ("repeat_copy", None, "near 0"),
    ("repeat_copy", "15,20", "NTM generalises to longer sequences"),
    ("associative_recall", None, "near 0"),
    ("associative_recall", "8,12", "NTM generalises to more items"),
    ("ngrams", None, "NTM within about 1 bit of the optimal cost"),
    ("priority_sort", None, "NTM roughly 18-20 bits"),
]


def evaluate(name: str, lengths: str | None, sequences: int) -> list[dict]:
    argv = ["evaluate", name, "--sequences", str(sequences), "--json"]
    if lengths:
        argv += ["--lengths", lengths]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli(argv)
    if code != 0:
        raise SystemExit(f"evaluate {name} failed with exit code {code}")
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=500)
    args = parser.parse_args()
    shipped = set(pretrained_names())
    print(
        "| task | lengths | NTM cost | NTM bit errors | LSTM cost | LSTM bit errors | "
        "optimal cost | paper | command |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for task, lengths, paper in ROWS:
        ntm = evaluate(task, lengths, args.sequences) if task in shipped else None
        lstm_name = f"lstm_{task}"
        lstm = evaluate(lstm_name, lengths, args.sequences) if lstm_name in shipped else None
        if ntm is None and lstm is None:
            print(f"| {task} | | not shipped yet | | | | | {paper} | |")
            continue
        count = len(ntm or lstm)
        for i in range(count):
            n = ntm[i] if ntm else None
            m = lstm[i] if lstm else None
            row = n or m
            length = "training" if row["length"] is None else str(row["length"])
            optimal = f"{row['optimal_cost']:.2f}" if "optimal_cost" in row else ""
            command = f"`python -m ntm_numpy evaluate {task} --sequences {args.sequences}" + (
                f" --lengths {lengths}`" if lengths else "`"
            )
            cells = [
                task if i == 0 else "",
                length,
                f"{n['cost']:.3f}" if n else "-",
                f"{n['bit_errors']:.3f}" if n else "-",
                f"{m['cost']:.3f}" if m else "-",
                f"{m['bit_errors']:.3f}" if m else "-",
                optimal,
                paper if i == 0 else "",
                command if i == 0 else "",
            ]
            print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
