"""The command line: ``python -m ntm_numpy {demo,train,evaluate,gradcheck,figures}``.

Bad arguments give a one-line error and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

DEMO_DIR = Path("runs") / "demo"


class _Parser(argparse.ArgumentParser):
    """argparse, with errors on one line."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


class UsageError(Exception):
    """A bad value that argparse could not see; reported on one line, exit code 2."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _count_or_auto(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        return _positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer or 'auto', got {text!r}"
        ) from None


def _add_blas_threads(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--blas-threads",
        type=_count_or_auto,
        default="auto",
        metavar="N",
        help="BLAS threads per process (default: auto, the rule measured in ntm_numpy.threads; "
        "the choice is printed)",
    )


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return value


def _lengths(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers, got {text!r}"
        ) from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers, got {text!r}"
        )
    return values


def _option(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    name, value = text.split("=", 1)
    try:
        return name.strip(), json.loads(value)
    except json.JSONDecodeError:
        return name.strip(), value


def _add_model_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model (NTM options; the LSTM takes --hidden-size, --num-layers)")
    g.add_argument("--model", choices=["ntm", "lstm"], default="ntm")
    g.add_argument("--memory-size", type=_positive_int, help="N, memory rows")
    g.add_argument("--memory-dim", type=_positive_int, help="M, row width")
    g.add_argument("--controller-size", type=_positive_int, help="C")
    g.add_argument("--controller", choices=["lstm", "feedforward"])
    g.add_argument("--num-heads", type=_positive_int)
    g.add_argument("--memory-init", choices=["constant", "learned", "random"])
    g.add_argument("--hidden-size", type=_positive_int, help="LSTM baseline units per layer")
    g.add_argument("--num-layers", type=_positive_int, help="LSTM baseline layers")
    g.add_argument("--dtype", choices=["float32", "float64"])


def _model_options(args) -> dict:
    names = {
        "ntm": [
            "memory_size",
            "memory_dim",
            "controller_size",
            "controller",
            "num_heads",
            "memory_init",
            "dtype",
        ],
        "lstm": ["hidden_size", "num_layers", "dtype"],
    }[args.model]
    other = {
        "ntm": ["hidden_size", "num_layers"],
        "lstm": [
            "memory_size",
            "memory_dim",
            "controller_size",
            "controller",
            "num_heads",
            "memory_init",
        ],
    }[args.model]
    for name in other:
        if getattr(args, name) is not None:
            raise UsageError(f"--{name.replace('_', '-')} does not apply to --model {args.model}")
    return {n: getattr(args, n) for n in names if getattr(args, n) is not None}


def _parser() -> argparse.ArgumentParser:
    from .train import TrainConfig

    d = TrainConfig()
    parser = _Parser(
        prog="python -m ntm_numpy",
        description="A Neural Turing Machine in NumPy: train, evaluate, audit, draw.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    demo = sub.add_parser(
        "demo",
        help="train the copy task, evaluate it, draw what it learned",
        description="The main job: train an NTM on the copy task with defaults "
        "that converge, show progress, evaluate on longer "
        "sequences, and write pictures of its heads.",
    )
    demo.add_argument("--out", default=str(DEMO_DIR), help="run directory (default: %(default)s)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument(
        "--max-steps",
        type=_positive_int,
        default=d.steps,
        help="give up after this many updates (default: %(default)s)",
    )
    demo.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    _add_blas_threads(demo)

    train = sub.add_parser(
        "train",
        help="train a model on a task",
        description="Train an NTM (or the LSTM baseline) on one of the "
        "paper's tasks; checkpoints and metrics go to --out.",
    )
    train.add_argument(
        "--task",
        default=d.task,
        help="copy, repeat_copy, associative_recall, ngrams, priority_sort",
    )
    train.add_argument(
        "--task-option",
        type=_option,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a task option, e.g. max_length=20 (repeat)",
    )
    _add_model_options(train)
    train.add_argument("--optimizer", choices=["adam", "rmsprop", "sgd"], default=d.optimizer)
    train.add_argument("--lr", type=_positive_float, default=d.optimizer_options["lr"])
    train.add_argument("--momentum", type=float, help="RMSProp / SGD momentum")
    train.add_argument("--batch-size", type=_positive_int, default=d.batch_size)
    train.add_argument("--steps", type=_positive_int, default=d.steps)
    train.add_argument("--clip-norm", type=_positive_float, default=d.clip_norm)
    train.add_argument(
        "--clip-value",
        type=_positive_float,
        default=None,
        help="elementwise clipping, the paper's 10",
    )
    train.add_argument("--seed", type=int, default=d.seed)
    train.add_argument("--eval-every", type=_positive_int, default=d.eval_every)
    train.add_argument("--eval-sequences", type=_positive_int, default=d.eval_sequences)
    train.add_argument(
        "--max-minutes",
        type=_positive_float,
        default=None,
        help="stop, with a checkpoint, after this many minutes of training",
    )
    train.add_argument("--checkpoint-every", type=_positive_int, default=d.checkpoint_every)
    train.add_argument(
        "--snapshot-every",
        type=_positive_int,
        default=None,
        metavar="N",
        help="also keep the parameters every N steps in --out/snapshots/ (for "
        "ntm_numpy.interactive.training_scrubber)",
    )
    train.add_argument(
        "--target-bit-errors",
        type=_positive_float,
        default=None,
        help="stop once the evaluation bit errors per sequence fall below this",
    )
    train.add_argument(
        "--no-curriculum",
        dest="curriculum",
        action="store_false",
        help="train on the full length range from the start (default: a length curriculum)",
    )
    train.add_argument("--out", default=None, help="run directory (default: runs/<task>)")
    train.add_argument("--resume", action="store_true", help="continue from --out's checkpoint")
    train.add_argument(
        "--init-from",
        metavar="CHECKPOINT",
        help="start from this checkpoint's parameters (fine-tuning; same model shape)",
    )
    train.add_argument(
        "--resume-lr",
        type=float,
        metavar="LR",
        help="with --resume: continue at this learning rate instead of the saved one",
    )
    train.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    train.add_argument(
        "--workers",
        type=_count_or_auto,
        default="auto",
        metavar="N",
        help="CPU processes that share each batch (default: auto, one per core, at most one "
        "per sequence; the choice is printed)",
    )
    _add_blas_threads(train)
    train.add_argument("--quiet", action="store_true")

    ev = sub.add_parser(
        "evaluate",
        help="cost and bit errors of a checkpoint at several lengths",
        description="Evaluate a checkpoint (a path, or a pretrained name) on "
        "fresh sequences of each length.",
    )
    ev.add_argument("checkpoint", help="a .npz checkpoint, or a pretrained name such as copy")
    ev.add_argument("--task", default=None, help="the task (default: the checkpoint's)")
    ev.add_argument(
        "--task-option", type=_option, action="append", default=[], metavar="NAME=VALUE"
    )
    ev.add_argument(
        "--lengths",
        type=_lengths,
        default=None,
        help="comma-separated lengths, e.g. 10,20,40,80 (default: the training range)",
    )
    ev.add_argument("--sequences", type=_positive_int, default=1000)
    ev.add_argument(
        "--batch-size",
        type=_positive_int,
        default=10,
        help="sequences per batch; each batch has one length, and over the training range the "
        "batches are spread evenly over the lengths (default: %(default)s)",
    )
    ev.add_argument("--seed", type=int, default=1)
    ev.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    _add_blas_threads(ev)
    ev.add_argument("--json", action="store_true", help="print the rows as JSON lines")

    gc = sub.add_parser(
        "gradcheck",
        help="check every backward pass against finite differences",
        description="Check every op and the whole model against central "
        "finite differences in float64; print a table.",
    )
    gc.add_argument("--seed", type=int, default=0)
    gc.add_argument("--ops-only", action="store_true", help="skip the whole-model checks")

    export = sub.add_parser(
        "export",
        help="ship a run as a pretrained model",
        description="Copy a run's checkpoint (float32, without optimizer state) and training "
        "log into ntm_numpy/pretrained/ as NAME.npz and NAME.metrics.jsonl.",
    )
    export.add_argument("run_dir", help="a run directory holding checkpoint.npz")
    export.add_argument("name", help="the pretrained name, e.g. copy or lstm_copy")
    export.add_argument("--dest", default=None, help="another destination directory")

    fig = sub.add_parser(
        "figures",
        help="regenerate every PNG in figures/ from the pretrained models",
        description="Redraw figures/ from the pretrained models.",
    )
    fig.add_argument("--out", default="figures")
    return parser


def _check_workers(args) -> None:
    """More workers than sequences in a batch is an error (the extra ones would idle); more
    than this process's cores a warning (they take turns)."""
    from .threads import AUTO, available_cores

    if args.workers == AUTO:
        return
    if args.workers > args.batch_size:
        raise UsageError(
            f"--workers {args.workers} is more than --batch-size {args.batch_size}: each worker "
            f"computes a share of a batch; use at most {args.batch_size} (or auto)"
        )
    cores = available_cores()
    if args.workers > cores:
        print(
            f"python -m ntm_numpy {args.command}: warning: --workers {args.workers} is more than "
            f"the {cores} cores this process may use; the workers will take turns",
            file=sys.stderr,
        )


def _writable_directory(path: Path, option: str) -> Path:
    """``path``, created if need be; a ``UsageError`` naming ``option`` where it cannot be
    written, before any work is done."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"{option} {path}: cannot be a directory: {error.strerror}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: the directory is not writable")
    return path


def cmd_train(args) -> int:
    from .train import TrainConfig, train

    _check_workers(args)
    model_options = _model_options(args)
    optimizer_options = {"lr": args.lr}
    if args.momentum is not None:
        optimizer_options["momentum"] = args.momentum
    config = TrainConfig(
        task=args.task,
        task_options=dict(args.task_option),
        model=args.model,
        model_options=model_options,
        optimizer=args.optimizer,
        optimizer_options=optimizer_options,
        batch_size=args.batch_size,
        steps=args.steps,
        clip_norm=args.clip_norm,
        clip_value=args.clip_value,
        seed=args.seed,
        eval_every=args.eval_every,
        eval_sequences=args.eval_sequences,
        checkpoint_every=args.checkpoint_every,
        snapshot_every=args.snapshot_every,
        target_bit_errors=args.target_bit_errors,
        curriculum=args.curriculum,
        max_seconds=None if args.max_minutes is None else 60.0 * args.max_minutes,
        device=args.device,
        init_from=args.init_from,
        workers=args.workers,
        blas_threads=args.blas_threads,
    )
    out = Path(args.out or Path("runs") / args.task)
    if not args.resume and (out / "checkpoint.npz").exists():
        raise UsageError(
            f"{out}/checkpoint.npz exists: pass --resume to continue it, or choose another --out"
        )
    result = train(
        config, out, resume=args.resume, resume_lr=args.resume_lr, verbose=not args.quiet
    )
    state = "interrupted" if result.interrupted else ("converged" if result.converged else "done")
    if result.stop_signal is not None:
        state += f" ({signal.Signals(result.stop_signal).name})"
    print(
        f"{state} after {result.step} steps, {result.sequences} sequences, "
        f"{result.seconds:.1f}s; checkpoint {out / 'checkpoint.npz'}"
    )
    if not result.interrupted:
        return 0
    return 128 + (result.stop_signal or signal.SIGINT)  # 130 for Ctrl-C, 143 for SIGTERM


def _eval_rows(model, task, lengths, sequences: int, seed: int, batch_size: int = 10) -> list[dict]:
    from .train import evaluate

    rows = []
    for length in lengths:
        result = evaluate(
            model, task, sequences=sequences, seed=seed, length=length, batch_size=batch_size
        )
        rows.append({"length": length, **result})
    return rows


def _print_rows(rows: list[dict], header: str) -> None:
    print(header)
    optimum = "optimal_cost" in rows[0]
    print(
        f"{'length':>8}  {'cost (bits/seq)':>16}  {'bit errors/seq':>15}"
        + (f"  {'optimal cost':>13}" if optimum else "")
    )
    for r in rows:
        length = "train" if r["length"] is None else r["length"]
        print(
            f"{length:>8}  {r['cost']:>16.3f}  {r['bit_errors']:>15.3f}"
            + (f"  {r['optimal_cost']:>13.3f}" if optimum else "")
        )


def cmd_evaluate(args) -> int:
    from .checkpoint import find_checkpoint, read

    checkpoint = read(find_checkpoint(args.checkpoint))  # a file, or a pretrained name
    task = checkpoint.task(args.task, **dict(args.task_option))  # default: the run's own
    task_name, model = task.name, checkpoint.model
    if args.device == "gpu":
        model.to("gpu")
    from .threads import set_blas_threads

    count = set_blas_threads(
        args.blas_threads, batch_size=args.batch_size, dtype=model.config.dtype
    )
    if not args.json:
        print(f"BLAS threads {count} ({'auto' if args.blas_threads == 'auto' else 'asked'})")
    rows = _eval_rows(
        model, task, args.lengths or [None], args.sequences, args.seed, args.batch_size
    )
    if args.json:
        for r in rows:
            print(json.dumps({"task": task_name, **r}))
    else:
        _print_rows(
            rows, f"{checkpoint.path}  task {task_name}  ({args.sequences} sequences per length)"
        )
    return 0


def cmd_gradcheck(args) -> int:
    from .gradcheck import audit, format_table

    start = time.perf_counter()
    results = audit(seed=args.seed, include_model=not args.ops_only)
    print(format_table(results))
    failed = [r.name for r in results if not r.passed]
    print(
        f"{len(results) - len(failed)} of {len(results)} passed in "
        f"{time.perf_counter() - start:.1f}s"
    )
    return 1 if failed else 0


def cmd_demo(args) -> int:
    from .train import TrainConfig, train

    config = TrainConfig(
        seed=args.seed,
        steps=args.max_steps,
        target_bit_errors=0.1,
        device=args.device,
        workers="auto",
        blas_threads=args.blas_threads,
    )
    out = Path(args.out)
    resume = (out / "checkpoint.npz").exists()
    if resume:
        print(f"continuing the run in {out} (delete it to start afresh)")
    print(
        "Training an NTM on the copy task (8-bit vectors, lengths 1-20) until it makes under "
        "0.1 wrong bits per sequence."
    )
    try:
        result = train(config, out, resume=resume)
    except ValueError:
        if not resume:
            raise
        raise UsageError(
            f"{out} holds a run with other settings; delete it or pass --out"
        ) from None
    status = "converged" if result.converged else "stopped before converging"
    print(
        f"{status}: {result.step} steps, {result.sequences} sequences, "
        f"{result.seconds:.0f}s. Checkpoint: {out / 'checkpoint.npz'}"
    )
    from .tasks import make_task

    trained_on = result.history[-1].get("max_length") or 20 if result.history else 20
    rows = _eval_rows(result.model, make_task("copy"), [10, 20, 30, 50], 200, seed=1)
    _print_rows(
        rows, f"Generalisation (trained on lengths 1-{trained_on}; 200 fresh sequences each):"
    )
    from . import viz

    for path in viz.demo_figures(result.model, out):
        print(f"figure: {path}")
    return 130 if result.interrupted else 0


def cmd_export(args) -> int:
    from .checkpoint import PRETRAINED_DIR, export_pretrained

    if not args.name.replace("_", "").isalnum():
        raise UsageError(f"name must be letters, digits and underscores, got {args.name!r}")
    dest = _writable_directory(Path(args.dest or PRETRAINED_DIR), "--dest")
    path = export_pretrained(args.run_dir, args.name, dest)
    print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")
    return 0


def cmd_figures(args) -> int:
    from .figures import all_figures

    start = time.perf_counter()
    for path in all_figures(_writable_directory(Path(args.out), "--out")):
        print(path)
    print(f"done in {time.perf_counter() - start:.1f}s")
    return 0


def main(argv: list[str] | None = None) -> int:
    from .checkpoint import CheckpointError
    from .train import TrainingDiverged

    args = _parser().parse_args(argv)
    command = {
        "demo": cmd_demo,
        "train": cmd_train,
        "evaluate": cmd_evaluate,
        "gradcheck": cmd_gradcheck,
        "figures": cmd_figures,
        "export": cmd_export,
    }[args.command]
    try:
        return command(args)
    except KeyboardInterrupt:  # a second Ctrl-C (or SIGTERM) while training, or one elsewhere
        print(
            f"python -m ntm_numpy {args.command}: interrupted at once; checkpoints already "
            f"written are kept whole",
            file=sys.stderr,
        )
        return 130
    except (UsageError, CheckpointError, ValueError) as error:
        print(f"python -m ntm_numpy {args.command}: error: {error}", file=sys.stderr)
        return 2
    except TrainingDiverged as error:
        print(f"python -m ntm_numpy {args.command}: {error}", file=sys.stderr)
        return 1
    except RuntimeError as error:  # e.g. --device gpu without CuPy
        print(f"python -m ntm_numpy {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
