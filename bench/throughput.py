"""Training throughput and peak memory of each shipped model's configuration.

For every configuration (``bench/configs.py``), batch size and precision, it times the package's
automatic choice of worker processes and BLAS threads (``ntm_numpy.training.threads``: what
``python -m ntm_numpy train`` uses with no options and no environment variables) beside every
hand-tuned setting this machine allows (1 or all cores of BLAS threads; 1 to all cores of
workers), and prints them side by side. Throughput is the median round (one batch of every
length of the task's range, ``harness.py``) of one training step each: sample, loss and
gradients, clipping, Adam. Each measurement runs in a fresh process, so its peak resident memory
is its own.

    python bench/throughput.py                                   # the README's table
    python bench/throughput.py --configs copy --batch-sizes 64 --seconds 20
    python bench/throughput.py --configs copy_lstm --dtypes float64 --batch-sizes 1

Single runs move by 10-20% here from one run to the next; to decide between two settings, use
the interleaved ``bench/ab.py --arm ... --arm ...``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parents[1]))

from configs import CONFIGS, TABLE  # noqa: E402
from harness import Bench, apply_settings, describe, peak_rss_mb  # noqa: E402


def measure(config: str, batch_size: int, dtype: str, setting: dict, seconds: float) -> dict:
    """In this process: median-round throughput of one setting, and the peak memory."""
    workers, blas = apply_settings(batch_size, dtype, setting["workers"], setting["blas_threads"])
    bench = Bench(config, batch_size, dtype, workers)
    throughput = bench.median_throughput(seconds)
    bench.close()
    own, child = peak_rss_mb()
    return {
        "workers": workers,
        "blas_threads": blas,
        "sequences_per_s": throughput,
        "rss_mb": own,
        "worker_rss_mb": child if workers > 1 else 0.0,
    }


def measure_in_child(config: str, batch_size: int, dtype: str, setting: dict, seconds: float):
    command = [sys.executable, str(HERE), "--child", json.dumps(setting), "--configs", config]
    command += ["--batch-sizes", str(batch_size), "--dtypes", dtype, "--seconds", str(seconds)]
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{config} batch {batch_size} {describe(setting)} failed:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


def hand_settings(batch_size: int, cores: int) -> list[dict]:
    """Every setting worth trying by hand: one process with 1 or all BLAS threads, or 2..cores
    single-threaded workers (never more workers than sequences, nor threads than cores)."""
    settings = [{"workers": 1, "blas_threads": 1}]
    if cores > 1:
        settings.append({"workers": 1, "blas_threads": cores})
    settings += [{"workers": w, "blas_threads": 1} for w in range(2, min(cores, batch_size) + 1)]
    return settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=list(TABLE), choices=sorted(CONFIGS))
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--dtypes", nargs="+", default=["float32"])
    parser.add_argument("--seconds", type=float, default=6.0, help="per measurement")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        setting = json.loads(args.child)
        result = measure(
            args.configs[0], args.batch_sizes[0], args.dtypes[0], setting, args.seconds
        )
        print(json.dumps(result))
        return

    from ntm_numpy.training.threads import available_cores, choose

    cores = available_cores()
    print(f"training sequences/s (median round) and peak RSS; {cores} cores; no *_NUM_THREADS")
    print(
        f"{'configuration':<46} {'batch':>5} {'dtype':>7}  {'auto':<13} {'seq/s':>6} "
        f"{'RSS MB':>7}  {'best by hand':<13} {'seq/s':>6}  {'auto/best':>9}"
    )
    for config in args.configs:
        for dtype in args.dtypes:
            for batch_size in args.batch_sizes:
                auto = choose(batch_size=batch_size, dtype=dtype)
                results = {}
                for setting in hand_settings(batch_size, cores):
                    key = (setting["workers"], setting["blas_threads"])
                    results[key] = measure_in_child(
                        config, batch_size, dtype, setting, args.seconds
                    )
                mine = results[(auto.workers, auto.blas_threads)]
                best_key = max(results, key=lambda k: results[k]["sequences_per_s"])
                best = results[best_key]
                rss = f"{mine['rss_mb']:.0f}" + (
                    f"+{mine['worker_rss_mb']:.0f}" if mine["worker_rss_mb"] else ""
                )

                def label(workers: int, blas: int) -> str:
                    return f"w{workers} blas{blas}"

                print(
                    f"{CONFIGS[config]['title']:<46} {batch_size:>5} {dtype:>7}  "
                    f"{label(auto.workers, auto.blas_threads):<13} "
                    f"{mine['sequences_per_s']:>6.0f} {rss:>7}  {label(*best_key):<13} "
                    f"{best['sequences_per_s']:>6.0f}  "
                    f"{mine['sequences_per_s'] / best['sequences_per_s']:>9.2f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
