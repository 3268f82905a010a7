"""Time to converge on the copy task with the demo's defaults, from several seeds.

For each seed: train with ``TrainConfig(seed=s, target_bit_errors=0.1)`` (the ``demo``'s
settings) and report the sequences seen and the wall-clock seconds until the mean bit errors
per sequence on 1,000 fresh sequences of lengths 1-20 fall under 0.1.

    python bench/converge.py --seeds 0 1 2 3 4
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ntm_numpy.training import TrainConfig, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--max-steps", type=int, default=TrainConfig().steps)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=JSON",
        help="override a TrainConfig field, e.g. batch_size=32",
    )
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args()
    overrides = {k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)}
    rows = []
    for seed in args.seeds:
        config = replace(
            TrainConfig(),
            seed=seed,
            steps=args.max_steps,
            target_bit_errors=0.1,
            workers="auto",  # as the demo: the package's choice (ntm_numpy.training.threads)
            blas_threads="auto",
            **overrides,
        )
        result = train(config, None, verbose=False)
        last = result.history[-1]
        rows.append(
            {
                "seed": seed,
                "converged": result.converged,
                "sequences": result.sequences,
                "seconds": round(result.seconds, 1),
                "bit_errors": last["bit_errors"],
                "cost": last["cost"],
            }
        )
        r = rows[-1]
        print(
            f"seed {seed}: converged={r['converged']}  sequences={r['sequences']}  "
            f"seconds={r['seconds']}  bit errors={r['bit_errors']:.3f}",
            flush=True,
        )
    print()
    print(f"{'seed':>4}  {'converged':>9}  {'sequences':>9}  {'seconds':>7}  {'bit errors':>10}")
    for r in rows:
        print(
            f"{r['seed']:>4}  {'yes' if r['converged'] else 'NO':>9}  {r['sequences']:>9}  "
            f"{r['seconds']:>7.1f}  {r['bit_errors']:>10.3f}"
        )
    done = [r for r in rows if r["converged"]]
    print(f"converged {len(done)} of {len(rows)}", end="")
    if done:
        print(
            f"; median {statistics.median(r['seconds'] for r in done):.1f}s, "
            f"{statistics.median(r['sequences'] for r in done):.0f} sequences"
        )
    else:
        print()
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
