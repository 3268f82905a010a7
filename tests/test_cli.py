"""Tests of the command line, ``python -m ntm_numpy``: help for every subcommand, a one-line
error and exit code 2 for every bad argument, and a tiny train / evaluate / resume round.

Most cases call ``ntm_numpy.app.cli.main`` in-process (fast); a few run the real entry point in
a subprocess to prove that ``python -m ntm_numpy`` itself behaves the same.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import run_main

import ntm_numpy.ops.addressing
from ntm_numpy.app.cli import CLI_DEFAULTS, _parser, _train_config
from ntm_numpy.configs import MODEL_TYPES, TRAIN_MODEL_DEFAULTS, TrainConfig
from ntm_numpy.training import read_metrics, train
from ntm_numpy.training.checkpoint import read

ROOT = Path(__file__).resolve().parents[1]
SUBCOMMANDS = ["demo", "train", "evaluate", "gradcheck", "figures"]
TINY_TRAIN = [
    "train",
    "--task",
    "copy",
    "--task-option",
    "max_length=2",
    "--task-option",
    "bits=3",
    "--memory-size",
    "6",
    "--memory-dim",
    "4",
    "--controller-size",
    "8",
    "--steps",
    "20",
    "--eval-every",
    "10",
    "--eval-sequences",
    "20",
    "--quiet",
]


def run_module(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["OPENBLAS_NUM_THREADS"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "ntm_numpy", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


def assert_usage_error(code, err: str, *fragments: str) -> None:
    assert code == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("python -m ntm_numpy")
    assert "error" in lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    """Every test runs in its own empty directory (``train`` defaults to ./runs/<task>)."""
    monkeypatch.chdir(tmp_path)


# --- help ------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [[], *([c] for c in SUBCOMMANDS)], ids=lambda c: c or "top")
def test_help(command, capsys):
    code, out, err = run_main([*command, "--help"], capsys)
    assert code == 0
    assert out.startswith("usage: python -m ntm_numpy")
    assert err == ""


def test_help_lists_subcommands(capsys):
    _, out, _ = run_main(["--help"], capsys)
    for command in SUBCOMMANDS:
        assert command in out


def test_no_command(capsys):
    code, _, err = run_main([], capsys)
    assert_usage_error(code, err)


# --- bad arguments ---------------------------------------------------------------------------


BAD_ARGUMENTS = [
    (["train", "--task", "nope"], ("unknown task 'nope'",)),
    (["train", "--batch-size", "-3"], ("--batch-size", "-3")),
    (["train", "--batch-size", "2.5"], ("--batch-size", "2.5")),
    (["train", "--workers", "0"], ("--workers", "0")),
    (["train", "--steps", "0"], ("--steps",)),
    (["train", "--lr", "-1"], ("--lr",)),
    (["train", "--task-option", "bits"], ("NAME=VALUE",)),
    (["train", "--task-option", "colour=3"], ("colour",)),
    (["train", "--task-option", "bits=0"], ("bits",)),
    (["train", "--model", "lstm", "--memory-size", "8"], ("--memory-size", "lstm")),
    (["train", "--model", "ntm", "--hidden-size", "8"], ("--hidden-size", "ntm")),
    (["train", "--model", "gru"], ("--model",)),
    (["train", "--resume", "--out", "empty"], ("nothing to resume from",)),
    (["train", "--resume-lr", "1e-4"], ("--resume-lr", "--resume)")),
    (["train", "--init-from", "missing.npz"], ("missing.npz", "no such checkpoint")),
    (["evaluate", "missing.npz", "--task", "copy"], ("missing.npz", "no such checkpoint")),
    (["evaluate", "x", "--lengths", "a,b"], ("--lengths", "a,b")),
    (["evaluate", "x", "--lengths", "0,3"], ("--lengths",)),
    (["evaluate", "x", "--sequences", "0"], ("--sequences",)),
    (["evaluate", "associative_recall", "--lengths", "1"], ("--lengths 1", "2 items")),
    (["train", "--shift-range", "0"], ("--shift-range", "0")),
    (["train", "--num-read-heads", "-1"], ("--num-read-heads",)),
    (["train", "--model", "lstm", "--shift-range", "2"], ("--shift-range", "lstm")),
    (["train", "--optimizer", "sgd", "--beta1", "0.5"], ("--beta1", "sgd")),
    (["train", "--beta2", "1.5"], ("beta2", "1.5")),
    (["train", "--seed", "-1"], ("seed", "-1")),
    (["train", "--controller", "gru"], ("--controller", "gru")),
    (["gradcheck", "--nope"], ("--nope",)),
    (["fly"], ("fly",)),
]


@pytest.mark.parametrize(
    ("argv", "fragments"), BAD_ARGUMENTS, ids=[" ".join(a) for a, _ in BAD_ARGUMENTS]
)
def test_bad_arguments(argv, fragments, capsys):
    code, out, err = run_main(argv, capsys)
    assert_usage_error(code, err, *fragments)
    assert out == ""
    assert not Path("runs").exists()


@pytest.mark.skipif(importlib.util.find_spec("cupy") is not None, reason="CuPy is installed")
@pytest.mark.parametrize("command", ["train", "demo"])
def test_gpu_without_cupy(command, capsys):
    code, _, err = run_main([command, "--device", "gpu", "--out", "gpu_run"], capsys)
    assert_usage_error(code, err, "CuPy")
    assert not Path("gpu_run").exists()


# --- a tiny run: train, evaluate, refuse to overwrite, resume --------------------------------


def test_train_evaluate_resume(tmp_path, capsys):
    code, out, err = run_main([*TINY_TRAIN, "--out", "run"], capsys)
    assert code == 0, err
    assert "Traceback" not in err
    assert "after 20 steps" in out
    run = tmp_path / "run"
    assert (run / "checkpoint.npz").is_file()
    assert [r["step"] for r in read_metrics(run / "metrics.jsonl")] == [10, 20]
    saved = read(run / "checkpoint.npz")
    assert saved.model.config.memory_size == 6
    assert saved.model.config.memory_dim == 4
    assert saved.model.config.controller_size == 8
    assert saved.train_state["config"]["task_options"] == {"max_length": 2, "bits": 3}

    # evaluate: a table with one row per length
    code, out, err = run_main(
        ["evaluate", "run/checkpoint.npz", "--lengths", "1,2", "--sequences", "20"], capsys
    )
    assert code == 0, err
    assert "task copy" in out
    rows = [line.split() for line in out.splitlines()]
    lengths = [r[0] for r in rows if len(r) == 3 and r[0].isdigit()]
    assert lengths == ["1", "2"]
    for row in rows:
        if len(row) == 3 and row[0].isdigit():
            float(row[1]), float(row[2])  # cost, bit errors

    code, out, err = run_main(
        ["evaluate", "run/checkpoint.npz", "--lengths", "1,3", "--sequences", "10", "--json"],
        capsys,
    )
    assert code == 0, err
    results = [json.loads(line) for line in out.splitlines()]
    assert [r["length"] for r in results] == [1, 3]
    assert all({"task", "cost", "bit_errors"} <= set(r) for r in results)

    # a task the model does not fit
    code, _, err = run_main(
        ["evaluate", "run/checkpoint.npz", "--task-option", "bits=5", "--sequences", "10"],
        capsys,
    )
    assert_usage_error(code, err, "run/checkpoint.npz")

    # the same --out without --resume is refused and changes nothing
    before = (run / "checkpoint.npz").read_bytes()
    code, _, err = run_main([*TINY_TRAIN, "--out", "run"], capsys)
    assert_usage_error(code, err, "--resume")
    assert (run / "checkpoint.npz").read_bytes() == before

    # --resume with other options is refused
    code, _, err = run_main([*TINY_TRAIN, "--out", "run", "--resume", "--seed", "5"], capsys)
    assert_usage_error(code, err, "another config")
    assert (run / "checkpoint.npz").read_bytes() == before

    # --resume with the same options: the run is complete, so it stops at step 20
    code, out, err = run_main([*TINY_TRAIN, "--out", "run", "--resume"], capsys)
    assert code == 0, err
    assert "after 20 steps" in out
    assert [r["step"] for r in read_metrics(run / "metrics.jsonl")] == [10, 20]


def test_train_lstm(tmp_path, capsys):
    argv = [
        "train",
        "--model",
        "lstm",
        "--hidden-size",
        "8",
        "--num-layers",
        "1",
        "--task-option",
        "max_length=2",
        "--task-option",
        "bits=3",
        "--steps",
        "4",
        "--eval-every",
        "2",
        "--eval-sequences",
        "10",
        "--quiet",
        "--out",
        "lstm",
    ]
    code, _, err = run_main(argv, capsys)
    assert code == 0, err
    saved = read(tmp_path / "lstm" / "checkpoint.npz")
    assert saved.model.model_type == "lstm"
    assert saved.model.config.hidden_size == 8

    code, out, err = run_main(
        ["evaluate", "lstm/checkpoint.npz", "--lengths", "2", "--sequences", "10"], capsys
    )
    assert code == 0, err
    assert any(line.split()[:1] == ["2"] for line in out.splitlines())


def test_gradcheck_ops_only(capsys):
    code, out, err = run_main(["gradcheck", "--ops-only"], capsys)
    assert code == 0, err
    header = out.splitlines()[0].split()
    assert header[0] == "op" and header[-1] == "pass"
    assert " NO" not in out
    assert "passed" in out.splitlines()[-1]


# --- options generated from the configs ------------------------------------------------------


def parsed_config(argv: list[str]) -> TrainConfig:
    return _train_config(_parser().parse_args(["train", *argv]))


def test_train_without_options_is_the_default_config():
    """Every field of TrainConfig reaches the config (a field without an option would fail
    here), with the command line's own choices for the machine."""
    assert parsed_config([]) == dataclasses.replace(TrainConfig(), **CLI_DEFAULTS)


def test_train_options_reach_every_kind_of_train_config_field():
    config = parsed_config(
        [
            *("--eval-batch-size", "7", "--log-every", "3", "--curriculum-start", "4"),
            *("--curriculum-threshold", "0.25", "--no-curriculum", "--max-minutes", "2"),
            *("--init-from", "copy", "--clip-value", "10", "--snapshot-every", "5"),
        ]
    )
    assert (config.eval_batch_size, config.log_every, config.curriculum_start) == (7, 3, 4)
    assert (config.curriculum_threshold, config.curriculum) == (0.25, False)
    assert (config.max_seconds, config.init_from, config.clip_value) == (120.0, "copy", 10.0)
    assert config.snapshot_every == 5


def _other_value(config_class, field: dataclasses.Field, default):
    """A valid value of ``field`` other than ``default``, as text and as parsed."""
    choices = getattr(config_class, "CHOICES", {}).get(field.name)
    if choices:
        value = next(c for c in choices if c != default)
        return value, value
    return "2", 2  # every other model option is a positive integer, none 2 by default


MODEL_FIELDS = [
    (name, field)
    for name in sorted(MODEL_TYPES)
    for field in dataclasses.fields(MODEL_TYPES[name].config_class)
    if field.name not in ("input_size", "output_size", "seed")
]


@pytest.mark.parametrize(
    ("model", "field"), MODEL_FIELDS, ids=[f"{m}-{f.name}" for m, f in MODEL_FIELDS]
)
def test_every_model_option_is_a_train_option(model, field):
    config_class = MODEL_TYPES[model].config_class
    default = TRAIN_MODEL_DEFAULTS.get(model, {}).get(field.name, field.default)
    text, value = _other_value(config_class, field, default)
    assert value != default  # so that the option is seen to change something
    flag = "--" + field.name.replace("_", "-")
    config = parsed_config(["--model", model, flag, text])
    assert config.model_options == {field.name: value}
    built = config.model_config(config.task_instance())
    assert getattr(built, field.name) == value


def test_train_sets_the_shift_range_the_head_counts_and_adams_betas(capsys):
    argv = [*TINY_TRAIN, "--steps", "2", "--eval-every", "2", "--workers", "1", "--out", "run"]
    argv += ["--shift-range", "2", "--num-read-heads", "2", "--num-write-heads", "3"]
    argv += ["--beta1", "0.8", "--beta2", "0.95", "--eps", "1e-6"]
    code, _, err = run_main(argv, capsys)
    assert code == 0, err
    saved = read(Path("run") / "checkpoint.npz")
    config = saved.model.config
    assert (config.shift_range, config.read_heads, config.write_heads) == (2, 2, 3)
    assert saved.model.params["init.read"].shape == (2, config.memory_dim)
    assert saved.model.params["init.weights"].shape == (5, config.memory_size)
    assert saved.optimizer_state["name"] == "adam"
    assert saved.optimizer_state["config"] == {
        "lr": TrainConfig().optimizer_options["lr"],
        "beta1": 0.8,
        "beta2": 0.95,
        "eps": 1e-6,
    }


def test_train_sets_rmsprops_options(capsys):
    argv = [*TINY_TRAIN, "--steps", "2", "--eval-every", "2", "--workers", "1", "--out", "run"]
    argv += ["--optimizer", "rmsprop", "--lr", "1e-3", "--momentum", "0.5", "--decay", "0.9"]
    code, _, err = run_main(argv, capsys)
    assert code == 0, err
    saved = read(Path("run") / "checkpoint.npz")
    assert saved.optimizer_state["name"] == "rmsprop"
    config = saved.optimizer_state["config"]
    assert (config["lr"], config["momentum"], config["decay"]) == (1e-3, 0.5, 0.9)


# --- only the project's own errors are one line; a bug keeps its traceback -------------------


class BrokenShift:
    """``ops.addressing.shift_forward`` that works ``good_calls`` times, then fails as a shape
    bug in NumPy would."""

    def __init__(self, good_calls: int) -> None:
        self.original = ntm_numpy.ops.addressing.shift_forward
        self.calls, self.good_calls = 0, good_calls

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls > self.good_calls:
            raise ValueError("operands could not be broadcast together with shapes (2,3) (4,)")
        return self.original(*args, **kwargs)


def test_a_bug_inside_training_shows_its_traceback(monkeypatch, capsys):
    broken = BrokenShift(good_calls=40)  # a few steps of training, then the bug
    monkeypatch.setattr(ntm_numpy.ops.addressing, "shift_forward", broken)
    argv = [*TINY_TRAIN, "--workers", "1", "--out", "run"]
    with pytest.raises(ValueError, match="could not be broadcast"):
        run_main(argv, capsys)
    assert broken.calls == broken.good_calls + 1  # it failed mid-training, not before
    assert "error:" not in capsys.readouterr().err  # no usage line in its place


def test_a_bug_inside_training_shows_its_traceback_from_the_entry_point(tmp_path):
    """The same through ``python -m ntm_numpy``'s ``main``, in a fresh process."""
    argv = [*TINY_TRAIN, "--workers", "1", "--out", "run"]
    code = (
        "import sys, ntm_numpy.ops.addressing as a\n"
        "def broken(*args, **kwargs):\n"
        "    raise ValueError('operands could not be broadcast together')\n"
        "a.shift_forward = broken\n"
        "from ntm_numpy.app.cli import main\n"
        f"sys.exit(main({argv!r}))\n"
    )
    result = run_module_code(code, tmp_path)
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "ValueError: operands could not be broadcast together"
    )


def tiny_run(out: Path) -> None:
    """A finished tiny run in ``out``, with settings other than the demo's."""
    config = TrainConfig(
        task_options={"bits": 3, "max_length": 2},
        model_options={"memory_size": 6, "memory_dim": 4, "controller_size": 8},
        steps=2,
        eval_every=2,
        eval_sequences=4,
    )
    train(config, out, verbose=False)


def test_demo_refuses_a_run_with_other_settings(capsys):
    tiny_run(Path("demo"))
    before = Path("demo/checkpoint.npz").read_bytes()
    code, _, err = run_main(["demo", "--out", "demo", "--max-steps", "1"], capsys)
    assert_usage_error(code, err, "demo holds a run with other settings")
    assert Path("demo/checkpoint.npz").read_bytes() == before


def test_demo_reports_a_damaged_checkpoint_as_damaged(capsys):
    tiny_run(Path("demo"))
    data = Path("demo/checkpoint.npz").read_bytes()
    Path("demo/checkpoint.npz").write_bytes(data[: len(data) // 2])  # truncated
    code, _, err = run_main(["demo", "--out", "demo", "--max-steps", "1"], capsys)
    assert_usage_error(code, err, "demo/checkpoint.npz")
    assert "other settings" not in err


# --- the real entry point --------------------------------------------------------------------


def run_module_code(code: str, cwd: Path) -> subprocess.CompletedProcess:
    """``python -c code`` with this checkout importable, as ``run_module`` runs the package."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["OPENBLAS_NUM_THREADS"] = "1"
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, env=env, timeout=120
    )


def test_module_help(tmp_path):
    result = run_module(["--help"], tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith("usage: python -m ntm_numpy")
    for command in SUBCOMMANDS:
        assert command in result.stdout


@pytest.mark.parametrize(
    "argv",
    [["train", "--batch-size", "-3"], ["evaluate", "missing.npz", "--task", "copy"]],
    ids=["argparse", "missing-checkpoint"],
)
def test_module_bad_arguments(tmp_path, argv):
    result = run_module(argv, tmp_path)
    assert_usage_error(result.returncode, result.stderr)
    assert result.stdout == ""


def test_module_train_and_gradcheck(tmp_path):
    result = run_module([*TINY_TRAIN, "--steps", "4", "--eval-every", "2", "--out", "r"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "r" / "checkpoint.npz").is_file()
    assert (tmp_path / "r" / "metrics.jsonl").is_file()

    result = run_module(["gradcheck", "--ops-only"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "pass" in result.stdout
