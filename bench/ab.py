"""Interleaved A/B timing of training: two checkouts, or two settings of this one.

    git worktree add /tmp/base HEAD~1            # the code to compare against
    python bench/ab.py /tmp/base                 # this checkout against it, same setting
    python bench/ab.py /tmp/base --batch-size 1 --dtype float64 --arm "blas=1"
    python bench/ab.py --arm "blas=1" --arm "blas=2"               # two settings, this checkout
    python bench/ab.py --config priority_sort --batch-size 16 --arm "blas=auto workers=auto" \
        --arm "blas=1 workers=2"

A setting is ``blas=N|auto`` (BLAS threads, applied with threadpoolctl; left out: NumPy's
default) and ``workers=N|auto`` (processes that share each batch; default 1); ``auto`` is the
package's rule (``ntm_numpy.training.threads.choose``), what ``python -m ntm_numpy train`` uses.

Each arm runs in a process of its own (its own ``ntm_numpy``), both train the same batches (a
round: one batch of every length of the task, ``harness.py``) from the same initial parameters,
and the rounds alternate between them, so that a shared machine's slow spells fall on both
alike. One run of ``bench/throughput.py`` moves by 10-20% from run to run here, more than most
single changes gain; interleaved, a change of a few percent shows. Prints the minimum and median
round of each arm and their ratios (B / A: under 1 is faster), and checks that both computed
the same first-round losses.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve()


def serve(root: str, config: str, batch_size: int, dtype: str, setting: dict) -> None:
    """The child: build the run from the checkout at ``root``, time a round per request."""
    sys.path.insert(0, root)  # that checkout's ntm_numpy first; this folder's harness after
    from harness import Bench, apply_settings

    workers, _ = apply_settings(batch_size, dtype, setting["workers"], setting["blas_threads"])
    bench = Bench(config, batch_size, dtype, workers)
    # the first round: a warm-up, and the check
    first = {"losses": bench.round()[1], "sequences": bench.sequences_per_round}
    print(json.dumps(first), flush=True)
    for _ in sys.stdin:
        print(bench.round()[0], flush=True)
    bench.close()


def main() -> None:
    sys.path.insert(0, str(HERE.parent))
    from configs import CONFIGS
    from harness import describe, parse_setting

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", nargs="?", help="another checkout (a directory holding ntm_numpy/)")
    parser.add_argument("--config", default="copy_lstm", choices=sorted(CONFIGS))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--rounds", type=int, default=10, help="timed rounds of each")
    parser.add_argument(
        "--arm",
        action="append",
        default=[],
        help="a setting, e.g. 'blas=1 workers=2' (two without a base; at most one with one)",
    )
    parser.add_argument("--serve", metavar="ROOT", help=argparse.SUPPRESS)
    parser.add_argument("--setting", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.config, args.batch_size, args.dtype, json.loads(args.setting))
        return
    try:
        settings = [parse_setting(text) for text in args.arm]
    except ValueError as error:
        parser.error(str(error))
    this = str(HERE.parents[1])
    if args.base is not None:
        if not (Path(args.base) / "ntm_numpy").is_dir():
            parser.error(f"base: {args.base} holds no ntm_numpy/ package")
        if len(settings) > 1:
            parser.error("with a base checkout, give at most one --arm (both use it)")
        setting = settings[0] if settings else parse_setting("")
        arms = {"base": (str(Path(args.base).resolve()), setting), "new": (this, setting)}
    else:
        if len(settings) != 2:
            parser.error("without a base checkout, give two --arm settings to compare")
        arms = {"A": (this, settings[0]), "B": (this, settings[1])}
    options = ["--config", args.config, "--batch-size", str(args.batch_size)]
    options += ["--dtype", args.dtype]
    children = {
        name: subprocess.Popen(
            [
                sys.executable,
                str(HERE),
                "--serve",
                root,
                "--setting",
                json.dumps(setting),
                *options,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=root,
            env={**os.environ, "PYTHONPATH": root},
        )
        for name, (root, setting) in arms.items()
    }

    def answer(name: str) -> str:
        line = children[name].stdout.readline()
        if not line:  # the child died; its traceback went to stderr
            raise SystemExit(f"arm {name} ({arms[name][0]}) failed to run a round")
        return line

    first, second = list(arms)
    firsts = {name: json.loads(answer(name)) for name in children}
    losses = {name: answer["losses"] for name, answer in firsts.items()}
    worst = max(abs(a - b) / abs(a) for a, b in zip(losses[first], losses[second], strict=True))
    sequences = firsts[first]["sequences"]
    times: dict[str, list[float]] = {name: [] for name in arms}
    for k in range(args.rounds):
        for name in (first, second) if k % 2 == 0 else (second, first):
            children[name].stdin.write("round\n")
            children[name].stdin.flush()
            times[name].append(float(answer(name)))
    for child in children.values():
        child.stdin.close()
        child.wait()

    def median(values: list[float]) -> float:
        return sorted(values)[len(values) // 2]

    print(
        f"{CONFIGS[args.config]['title']}; batch {args.batch_size}, {args.dtype}, "
        f"{args.rounds} rounds of each"
    )
    print(f"first-round losses: worst relative difference {worst:.1e}")
    for name in arms:
        best, mid = min(times[name]), median(times[name])
        print(
            f"{name:>4} ({describe(arms[name][1])}): min {best * 1e3:7.0f} ms "
            f"({sequences / best:5.0f} sequences/s), median {mid * 1e3:7.0f} ms "
            f"({sequences / mid:5.0f} sequences/s)"
        )
    ratios = [b / a for a, b in zip(times[first], times[second], strict=True)]
    print(
        f"{second} / {first}: min {min(times[second]) / min(times[first]):.3f}, "
        f"median of the paired ratios {median(ratios):.3f}"
    )


if __name__ == "__main__":
    main()
