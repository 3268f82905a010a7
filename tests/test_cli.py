"""Tests of the command line, ``python -m ntm_numpy``: help for every subcommand, a one-line
error and exit code 2 for every bad argument, and a tiny train / evaluate / resume round.

Most cases call ``ntm_numpy.__main__.main`` in-process (fast); a few run the real entry point in
a subprocess to prove that ``python -m ntm_numpy`` itself behaves the same.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import run_main

from ntm_numpy.checkpoint import read
from ntm_numpy.train import read_metrics

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


# --- the real entry point --------------------------------------------------------------------


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
