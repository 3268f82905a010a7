"""The command line: ``python -m ntm_numpy {demo,train,evaluate,gradcheck,figures,export}``.

Bad arguments give a one-line error and exit code 2, never a traceback; a bug keeps its
traceback. ``train``'s options are generated from the config dataclasses (``TrainConfig``, the
registered models' configs, the optimizers' configs) and the registries that list them, so a
field added to a config is an option at once, under the field's name.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import os
import re
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..configs import (
    DEVICES,
    MODEL_TYPES,
    TRAIN_MODEL_DEFAULTS,
    ConfigError,
    ResumeMismatchError,
    TrainConfig,
    model_class,
    positive_int,
    positive_number,
    seed_value,
)
from ..tasks import TASKS
from ..training.optimizers import OPTIMIZERS

DEMO_DIR = Path("runs") / "demo"


class _Parser(argparse.ArgumentParser):
    """argparse, with errors on one line."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


class UsageError(Exception):
    """A bad value that argparse could not see; reported on one line, exit code 2."""


def _parsed(parse: Callable[[str], Any], check: Callable[[str, Any], Any], expected: str):
    """An argparse ``type``: ``check`` (a validator of ``configs``) on ``parse(text)``; either
    one's refusal is argparse's one-line error, saying what was ``expected``."""

    def convert(text: str):
        try:
            return check("value", parse(text))
        except ValueError:  # int() or float() refusing the text, or the check (a ConfigError)
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None

    return convert


_positive_int = _parsed(int, positive_int, "a positive integer")
_positive_float = _parsed(float, positive_number, "a positive number")
_seed = _parsed(int, seed_value, "a non-negative integer")


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
        help=TRAIN_HELP["blas_threads"],
    )


def _lengths(text: str) -> list[int]:
    try:
        values = [_positive_int(v) for v in text.split(",") if v.strip()]
    except argparse.ArgumentTypeError:
        values = []
    if not values:
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


# --- options generated from the config dataclasses and the registries ---------------------

MODEL_SIZED_BY_RUN = ("input_size", "output_size", "seed")  # the task and --seed set these
TRAIN_NOT_FLAGS = ("task_options", "model_options", "optimizer_options", "max_seconds")
CLI_DEFAULTS = {"workers": "auto", "blas_threads": "auto"}  # the CLI chooses for the machine
TRAIN_HELP = {  # where the command line says more than the field's comment
    "task": "the task: {tasks}",
    "clip_value": "elementwise clipping, the paper's 10",
    "target_bit_errors": "stop once the evaluation bit errors per sequence fall below this",
    "curriculum": "train on the full length range from the start (default: a length curriculum)",
    "init_from": "start from this checkpoint's parameters (fine-tuning; same model shape)",
    "snapshot_every": "also keep the parameters every N steps in --out/snapshots/ (for "
    "ntm_numpy.app.interactive.training_scrubber)",
    "workers": "CPU processes that share each batch (default: auto, one per core, at most one "
    "per sequence; the choice is printed)",
    "blas_threads": "BLAS threads per process (default: auto, the rule measured in "
    "ntm_numpy.training.threads; the choice is printed)",
}
METAVARS = {"init_from": "CHECKPOINT", "snapshot_every": "N", "workers": "N", "blas_threads": "N"}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _field_comments(cls: type) -> dict[str, str]:
    """Each field's trailing comment in ``cls``'s source: the help the dataclass already has."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):  # no source (a frozen application): no help, same options
        return {}
    found = re.finditer(r"^\s+(\w+):[^#\n]*#\s*(.+)$", source, flags=re.MULTILINE)
    return {m.group(1): m.group(2).strip() for m in found}


def _field_type(cls: type, f: dataclasses.Field) -> Callable[[str], Any]:
    """The argparse ``type`` of a config field: its validator where the class declares one."""
    annotation = str(f.type)
    if f.name == "seed":
        return _seed
    if f.name in getattr(cls, "POSITIVE_INTS", ()):
        return _positive_int
    if f.name in getattr(cls, "POSITIVE_NUMBERS", ()):
        return _positive_float
    if "int" in annotation and "str" in annotation:  # a count or "auto"
        return _count_or_auto
    if annotation.startswith("int"):
        return int
    if annotation.startswith("float"):
        return float
    return str


def _add_field(group, cls: type, f: dataclasses.Field, *, dest: str, default, text: str) -> None:
    """One option for one dataclass field: a flag of its type, or a switch for a bool."""
    if str(f.type) == "bool":
        if f.default is True:
            group.add_argument(
                f"--no-{f.name.replace('_', '-')}", dest=dest, action="store_false", help=text
            )
        else:
            group.add_argument(
                _flag(f.name), dest=dest, action="store_true", default=default, help=text
            )
        return
    choices = getattr(cls, "CHOICES", {}).get(f.name)
    group.add_argument(
        _flag(f.name),
        dest=dest,
        type=_field_type(cls, f),
        choices=choices,
        default=default,
        metavar=METAVARS.get(f.name, None if choices else f.name.upper()),
        help=text,
    )


def _add_options_of(group, prefix: str, owners: dict[str, type], defaults=None, skip=()) -> None:
    """One option per field of the config classes in ``owners`` (name -> class), each stored as
    ``<prefix>.<field>`` (None where not given); its help names the owners it applies to and
    each one's default (``defaults[owner]`` over the class's own)."""
    seen: dict[str, list[str]] = {}
    first: dict[str, tuple[type, dataclasses.Field]] = {}
    for owner, cls in owners.items():
        for f in dataclasses.fields(cls):
            if f.name not in skip:
                default = (defaults or {}).get(owner, {}).get(f.name, f.default)
                seen.setdefault(f.name, []).append(f"{owner}: {default}")
                first.setdefault(f.name, (cls, f))
    for name, (cls, f) in first.items():
        comment = _field_comments(cls).get(name, "")
        text = f"{comment} (default: {', '.join(seen[name])})".lstrip()
        _add_field(group, cls, f, dest=f"{prefix}.{name}", default=None, text=text)


def _chosen_options(args, prefix: str, owner: str, cls: type, option: str) -> dict:
    """The ``<prefix>.<field>`` values given on the command line for ``cls``; one given that
    ``cls`` does not have is a ``UsageError`` naming the ``option`` chosen (``owner``)."""
    given = {
        key[len(prefix) + 1 :]: value
        for key, value in vars(args).items()
        if key.startswith(prefix + ".") and value is not None
    }
    known = {f.name for f in dataclasses.fields(cls)}
    for name in given:
        if name not in known:
            raise UsageError(f"{_flag(name)} does not apply to {option} {owner}")
    return given


def _add_model_options(p: argparse.ArgumentParser) -> None:

    g = p.add_argument_group("model (each option says the models it applies to)")
    g.add_argument("--model", choices=sorted(MODEL_TYPES), default=TrainConfig().model)
    configs = {name: MODEL_TYPES[name].config_class for name in sorted(MODEL_TYPES)}
    _add_options_of(g, "model", configs, TRAIN_MODEL_DEFAULTS, skip=MODEL_SIZED_BY_RUN)


def _add_optimizer_options(p: argparse.ArgumentParser) -> None:

    d = TrainConfig()
    g = p.add_argument_group("optimizer (each option says the update rules it applies to)")
    g.add_argument("--optimizer", choices=list(OPTIMIZERS), default=d.optimizer)
    configs = {name: cls.config_type for name, cls in OPTIMIZERS.items()}
    g.add_argument(
        "--lr",
        type=_positive_float,
        default=d.optimizer_options["lr"],
        help="the step size, for every update rule (default: %(default)s)",
    )
    _add_options_of(g, "optimizer", configs, skip=("lr",))


def _add_train_config_options(p: argparse.ArgumentParser) -> None:
    """Every scalar ``TrainConfig`` field as an option of its own name, its default the
    config's (or the command line's, ``CLI_DEFAULTS``)."""

    d, comments = TrainConfig(), _field_comments(TrainConfig)
    g = p.add_argument_group("training")
    for f in dataclasses.fields(TrainConfig):
        if f.name == "max_seconds":  # in minutes here
            g.add_argument(
                "--max-minutes",
                type=_positive_float,
                default=None,
                help="stop, with a checkpoint, after this many minutes of training",
            )
        if f.name in TRAIN_NOT_FLAGS or f.name in ("model", "optimizer"):
            continue
        default = CLI_DEFAULTS.get(f.name, getattr(d, f.name))
        text = TRAIN_HELP.get(f.name, comments.get(f.name, "")).format(tasks=", ".join(TASKS))
        if str(f.type) != "bool" and "default" not in text:
            text = f"{text} (default: {default})".lstrip()
        if f.name == "device":
            g.add_argument("--device", choices=DEVICES, default=default, help=text)
        else:
            _add_field(g, TrainConfig, f, dest=f.name, default=default, text=text)


def _train_config(args):
    """The ``TrainConfig`` that ``train``'s options describe: one field per option of the same
    name, the model's and the optimizer's options gathered, --max-minutes in seconds."""

    optimizer_class = OPTIMIZERS[args.optimizer].config_type
    optimizer_options = _chosen_options(
        args, "optimizer", args.optimizer, optimizer_class, "--optimizer"
    )
    config_class = model_class(args.model).config_class
    return TrainConfig(
        **{
            f.name: getattr(args, f.name)
            for f in dataclasses.fields(TrainConfig)
            if f.name not in TRAIN_NOT_FLAGS
        },
        task_options=dict(args.task_option),
        model_options=_chosen_options(args, "model", args.model, config_class, "--model"),
        optimizer_options={"lr": args.lr, **optimizer_options},
        max_seconds=None if args.max_minutes is None else 60.0 * args.max_minutes,
    )


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m ntm_numpy",
        description="A Neural Turing Machine in NumPy: train, evaluate, audit, draw.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    commands = (_add_demo, _add_train, _add_evaluate, _add_gradcheck, _add_export, _add_resize)
    for add in (*commands, _add_figures):
        add(sub)
    return parser


def _add_demo(sub) -> None:

    d = TrainConfig()
    demo = sub.add_parser(
        "demo",
        help="train the copy task, evaluate it, draw what it learned",
        description="The main job: train an NTM on the copy task with defaults "
        "that converge, show progress, evaluate on longer "
        "sequences, and write pictures of its heads.",
    )
    demo.add_argument("--out", default=str(DEMO_DIR), help="run directory (default: %(default)s)")
    demo.add_argument("--seed", type=_seed, default=d.seed)
    demo.add_argument(
        "--max-steps",
        type=_positive_int,
        default=d.steps,
        help="give up after this many updates (default: %(default)s)",
    )
    demo.add_argument("--device", choices=DEVICES, default=d.device)
    _add_blas_threads(demo)


def _add_train(sub) -> None:
    train = sub.add_parser(
        "train",
        help="train a model on a task",
        description="Train an NTM (or the LSTM baseline) on one of the paper's tasks; "
        "checkpoints and metrics go to --out. The options are TrainConfig's fields, the "
        "model's (NTMConfig, LSTMConfig) and the optimizer's, by the same names.",
    )
    train.add_argument(
        "--task-option",
        type=_option,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a task option, e.g. max_length=20 (repeat)",
    )
    _add_train_config_options(train)
    _add_model_options(train)
    _add_optimizer_options(train)
    run = train.add_argument_group("the run")
    run.add_argument("--out", default=None, help="run directory (default: runs/<task>)")
    run.add_argument("--resume", action="store_true", help="continue from --out's checkpoint")
    run.add_argument(
        "--resume-lr",
        type=_positive_float,
        metavar="LR",
        help="with --resume: continue at this learning rate instead of the saved one",
    )
    run.add_argument("--quiet", action="store_true")


def _add_evaluate(sub) -> None:

    ev = sub.add_parser(
        "evaluate",
        help="cost and bit errors of a checkpoint at several lengths",
        description="Evaluate a checkpoint (a path, or a pretrained name) on "
        "fresh sequences of each length.",
    )
    ev.add_argument("checkpoint", help="a .npz checkpoint, or a pretrained name such as copy")
    ev.add_argument(
        "--task", default=None, help=f"the task: {', '.join(TASKS)} (default: the checkpoint's)"
    )
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
    ev.add_argument("--seed", type=_seed, default=1)
    ev.add_argument("--device", choices=DEVICES, default="cpu")
    _add_blas_threads(ev)
    ev.add_argument("--json", action="store_true", help="print the rows as JSON lines")


def _add_gradcheck(sub) -> None:
    gc = sub.add_parser(
        "gradcheck",
        help="check every backward pass against finite differences",
        description="Check every op and the whole model against central "
        "finite differences in float64; print a table.",
    )
    gc.add_argument("--seed", type=_seed, default=0)
    gc.add_argument("--ops-only", action="store_true", help="skip the whole-model checks")


def _add_export(sub) -> None:
    export = sub.add_parser(
        "export",
        help="ship a run as a pretrained model",
        description="Copy a run's checkpoint (float32, without optimizer state) and training "
        "log into ntm_numpy/pretrained/ as NAME.npz and NAME.metrics.jsonl.",
    )
    export.add_argument("run_dir", help="a run directory holding checkpoint.npz")
    export.add_argument("name", help="the pretrained name, e.g. copy or lstm_copy")
    export.add_argument("--dest", default=None, help="another destination directory")


def _add_resize(sub) -> None:
    resize = sub.add_parser(
        "resize",
        help="move an NTM to a memory of another size",
        description="Write an NTM checkpoint at another memory size N: every weight that does "
        "not depend on N is copied; the initial state (init.weights [H, N], and init.memory "
        "if learned) is cut to the first N rows, or, for a larger memory, taken from "
        "--initial-state-from (see ntm_numpy/training/resize.py).",
    )
    resize.add_argument("source", help="a .npz checkpoint, or a pretrained name such as copy")
    resize.add_argument("destination", help="the .npz file to write")
    resize.add_argument("--memory-size", type=_positive_int, required=True, help="N, rows")
    resize.add_argument(
        "--initial-state-from",
        default=None,
        metavar="CHECKPOINT",
        help="an NTM of the new size whose initial state to take (needed to grow the memory)",
    )


def _add_figures(sub) -> None:
    fig = sub.add_parser(
        "figures",
        help="regenerate every PNG in figures/ from the pretrained models",
        description="Redraw figures/ from the pretrained models.",
    )
    fig.add_argument("--out", default="figures")


def _check_workers(args) -> None:
    """More workers than sequences in a batch is an error (the extra ones would idle); more
    than this process's cores a warning (they take turns)."""
    from ..training.threads import AUTO, available_cores

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


def _require_device(device: str) -> None:
    """A ``UsageError`` now, before any work, where ``device`` cannot be used (the GPU without
    CuPy or without a CUDA device: ``backend.require_gpu`` says which)."""
    from .. import backend

    if device == "gpu":
        try:
            backend.require_gpu()
        except RuntimeError as error:
            raise UsageError(str(error)) from None


def cmd_train(args) -> int:
    from ..training.loop import train

    _check_workers(args)
    if args.resume_lr is not None and not args.resume:
        raise UsageError(
            "--resume-lr sets the learning rate of a resumed run: it needs resume=True (--resume)"
        )
    _require_device(args.device)
    config = _train_config(args)
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
    from ..training.loop import evaluate

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


def _checked_lengths(task, lengths: list[int]) -> None:
    """A ``UsageError`` naming the first of ``--lengths`` that ``task`` refuses (its own check,
    on one sequence of that length)."""
    import numpy as np

    for length in lengths:
        try:
            task.sample(batch_size=1, rng=np.random.default_rng(0), length=length)
        except ValueError as error:
            raise UsageError(f"--lengths {length}: {error}") from None


def cmd_evaluate(args) -> int:
    from ..training.checkpoint import find_checkpoint, read

    _require_device(args.device)
    checkpoint = read(find_checkpoint(args.checkpoint))  # a file, or a pretrained name
    task = checkpoint.task(args.task, **dict(args.task_option))  # default: the run's own
    if args.lengths:
        _checked_lengths(task, args.lengths)
    task_name, model = task.name, checkpoint.model
    if args.device == "gpu":
        model.to("gpu")
    from ..training.threads import set_blas_threads

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
    from ..gradcheck import audit, format_table

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
    from ..training.loop import train

    _require_device(args.device)
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
    except ResumeMismatchError:  # only that: a damaged checkpoint's CheckpointError says so
        raise UsageError(
            f"{out} holds a run with other settings; delete it or pass --out"
        ) from None
    status = "converged" if result.converged else "stopped before converging"
    print(
        f"{status}: {result.step} steps, {result.sequences} sequences, "
        f"{result.seconds:.0f}s. Checkpoint: {out / 'checkpoint.npz'}"
    )
    from ..tasks import make_task

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
    from ..training.checkpoint import PRETRAINED_DIR, export_pretrained

    if not args.name.replace("_", "").isalnum():
        raise UsageError(f"name must be letters, digits and underscores, got {args.name!r}")
    dest = _writable_directory(Path(args.dest or PRETRAINED_DIR), "--dest")
    path = export_pretrained(args.run_dir, args.name, dest)
    print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")
    return 0


def cmd_resize(args) -> int:
    from ..training.resize import resize_checkpoint

    path = resize_checkpoint(
        args.source,
        args.destination,
        args.memory_size,
        initial_state_from=args.initial_state_from,
    )
    print(f"wrote {path}: memory_size {args.memory_size}")
    return 0


def cmd_figures(args) -> int:
    from .figures import all_figures

    start = time.perf_counter()
    for path in all_figures(_writable_directory(Path(args.out), "--out")):
        print(path)
    print(f"done in {time.perf_counter() - start:.1f}s")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run one command. The project's own errors about what was asked (``ConfigError``,
    ``CheckpointError``, ``RunDirectoryError``, ``UsageError``) are one line and exit code 2;
    anything else (a bug) keeps its traceback."""
    from ..training.checkpoint import CheckpointError
    from ..training.loop import RunDirectoryError, TrainingDiverged

    args = _parser().parse_args(argv)
    command = {
        "demo": cmd_demo,
        "train": cmd_train,
        "evaluate": cmd_evaluate,
        "gradcheck": cmd_gradcheck,
        "figures": cmd_figures,
        "export": cmd_export,
        "resize": cmd_resize,
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
    except (UsageError, ConfigError, CheckpointError, RunDirectoryError) as error:
        print(f"python -m ntm_numpy {args.command}: error: {error}", file=sys.stderr)
        return 2
    except TrainingDiverged as error:
        print(f"python -m ntm_numpy {args.command}: {error}", file=sys.stderr)
        return 1
