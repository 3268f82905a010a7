"""Nothing lost, nothing misleading: issue #14's 26 cases, one or more tests each.

Each test names its case (``case N``). The sections follow the issue: resume and run
directories (1-9), checkpoints that must never be trusted (10-17; 17 is
``test_checkpoint.py::test_random_bytes``), model inputs and options (18-26). A few tests run
the real command line in a subprocess and send it signals, with a model small enough that a
step takes milliseconds; everything else runs in-process.

"A clear CLI error" is exit code 2 and one line on stderr, no traceback; "a clear API error" is
a ``ValueError`` (``CheckpointError`` is one) whose message names the argument or key.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_checkpoint_error, run_main

import ntm_numpy.training.loop as train_module
from ntm_numpy import configs
from ntm_numpy.app.cli import main
from ntm_numpy.lstm_baseline import LSTMModel
from ntm_numpy.model import NTM
from ntm_numpy.sequence_model import estimate_bytes, parameter_shapes
from ntm_numpy.training import TrainConfig, TrainingDiverged, checkpoint, read_metrics, train
from ntm_numpy.training.checkpoint import CheckpointError, load, read

ROOT = Path(__file__).resolve().parents[1]
TINY_MODEL = {"memory_size": 4, "memory_dim": 2, "controller_size": 2}
METRIC_FIELDS = ("step", "sequences", "cost", "bit_errors", "train_cost", "max_length", "lr")
# the S: a tiny run, on the command line
TINY_ARGS = [
    "--task-option",
    "bits=2",
    "--task-option",
    "max_length=2",
    "--memory-size",
    "4",
    "--memory-dim",
    "2",
    "--controller-size",
    "2",
    "--eval-every",
    "1",
    "--eval-sequences",
    "2",
    "--quiet",
]


def tiny_config(**overrides) -> TrainConfig:
    options = {
        "task": "copy",
        "task_options": {"bits": 2, "min_length": 1, "max_length": 4},
        "model_options": dict(TINY_MODEL),
        "batch_size": 2,
        "steps": 4,
        "eval_every": 2,
        "checkpoint_every": 2,
        "log_every": 1,
        "eval_sequences": 4,
        "eval_batch_size": 2,
        "seed": 5,
        "curriculum": False,
    }
    options.update(overrides)
    return TrainConfig(**options)


def assert_cli_error(code, err: str, *fragments: str) -> str:
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def metric_values(rows: list[dict]) -> list[tuple]:
    return [tuple(row.get(name) for name in METRIC_FIELDS) for row in rows]


def assert_same_params(a: dict, b: dict) -> None:
    assert set(a) == set(b)
    for key in a:
        assert a[key].dtype == b[key].dtype, key
        assert np.array_equal(a[key], b[key]), key


def module_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["OPENBLAS_NUM_THREADS"] = "1"
    return env


def start_training(out: Path, *args: str) -> subprocess.Popen:
    """``python -m ntm_numpy train`` of a tiny model for very many steps, in its own process
    group (so that a signal can go to the group, as a terminal's Ctrl-C does)."""
    return subprocess.Popen(
        [sys.executable, "-m", "ntm_numpy", "train", "--out", str(out), *TINY_ARGS, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=module_env(),
        cwd=out.parent,
        start_new_session=True,
    )


def wait_for(predicate, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if process.poll() is not None:
            raise AssertionError(f"the run ended early: {process.communicate()}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("timed out waiting for the run")
        time.sleep(0.01)


def finish(process: subprocess.Popen) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        raise AssertionError(f"the run did not end: {out} {err}") from None
    return process.returncode, out, err


# =============================================================================================
# Resume and run directories (cases 1-9)
# =============================================================================================


def test_case1_resume_is_bit_identical_whatever_the_step_counts(tmp_path):
    # the first run stops at 7, not a multiple of eval_every: it evaluates there (as an
    # uninterrupted run of 7 steps must), but that evaluation must not move the curriculum,
    # stay in the log, or stay in best.npz once the run continues
    config = tiny_config(
        steps=14,
        eval_every=3,
        checkpoint_every=100,
        curriculum=True,
        curriculum_threshold=100.0,  # every evaluation on the schedule grows the length
        eval_batch_size=50,  # the curriculum's own evaluation: 200 sequences
    )
    straight = train(config, tmp_path / "straight", verbose=False)
    first = train(replace_steps(config, 7), tmp_path / "resumed", verbose=False)
    assert [r["step"] for r in first.history] == [3, 6, 7]
    resumed = train(config, tmp_path / "resumed", resume=True, verbose=False)

    assert_same_params(resumed.model.params, straight.model.params)
    rows = read_metrics(tmp_path / "resumed")
    assert [r["step"] for r in rows] == [3, 6, 9, 12, 14]
    assert metric_values(rows) == metric_values(read_metrics(tmp_path / "straight"))
    best_straight, best_resumed = (read(tmp_path / d / "best.npz") for d in ("straight", "resumed"))
    assert best_resumed.train_state["step"] == best_straight.train_state["step"]
    assert_same_params(best_resumed.model.params, best_straight.model.params)


def test_case1_a_first_run_shorter_than_eval_every(tmp_path):
    # its only evaluation is off the schedule: its best.npz had nothing before it, and goes
    config = tiny_config(steps=5, eval_every=3, checkpoint_every=100)
    straight = train(config, tmp_path / "straight", verbose=False)
    train(replace_steps(config, 2), tmp_path / "resumed", verbose=False)
    assert (tmp_path / "resumed" / "best.npz").exists()
    resumed = train(config, tmp_path / "resumed", resume=True, verbose=False)
    assert_same_params(resumed.model.params, straight.model.params)
    rows = read_metrics(tmp_path / "resumed")
    assert metric_values(rows) == metric_values(read_metrics(tmp_path / "straight"))
    best = [read(tmp_path / d / "best.npz") for d in ("straight", "resumed")]
    assert best[0].train_state["step"] == best[1].train_state["step"] == 3 or (
        best[0].train_state["step"] == best[1].train_state["step"] == 5
    )
    assert_same_params(best[0].model.params, best[1].model.params)


def replace_steps(config: TrainConfig, steps: int) -> TrainConfig:
    return TrainConfig(**{**config.to_dict(), "steps": steps})


def test_case1_an_uninterrupted_run_still_evaluates_at_its_last_step(tmp_path):
    result = train(tiny_config(steps=5, eval_every=2), tmp_path, verbose=False)
    assert [r["step"] for r in read_metrics(tmp_path)] == [2, 4, 5]
    assert read(tmp_path / "checkpoint.npz").train_state["step"] == result.step == 5


def live_pid() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_case2_a_second_trainer_on_the_same_directory_is_refused(tmp_path, capsys):
    holder = live_pid()  # stands for a trainer that holds the directory
    try:
        out = tmp_path / "run"
        out.mkdir()
        (out / ".lock").write_text(f"{holder.pid}\n")
        code, _, err = run_main(["train", "--out", str(out), "--steps", "2", *TINY_ARGS], capsys)
        assert_cli_error(code, err, str(out), str(holder.pid))
        assert not (out / "metrics.jsonl").exists()
        with pytest.raises(ValueError, match=str(holder.pid)):
            train(tiny_config(), out, verbose=False)
        assert (out / ".lock").read_text().strip() == str(holder.pid)  # still theirs
    finally:
        holder.kill()
        holder.wait()


def test_case2_the_lock_holds_the_pid_while_training_and_is_released(tmp_path):
    seen = []
    train(
        tiny_config(),
        tmp_path,
        verbose=False,
        on_eval=lambda row: seen.append((tmp_path / ".lock").read_text().strip()),
    )
    assert seen and set(seen) == {str(os.getpid())}
    assert not (tmp_path / ".lock").exists()
    # released after a failure too
    with pytest.raises(ValueError, match="another config"):
        train(tiny_config(seed=6), tmp_path, resume=True, verbose=False)
    assert not (tmp_path / ".lock").exists()


def test_case2_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    (tmp_path / ".lock").write_text(f"{dead_pid()}\n")
    result = train(tiny_config(), tmp_path, verbose=False)
    assert result.step == 4
    assert not (tmp_path / ".lock").exists()


def test_case2_two_real_trainers(tmp_path):
    out = tmp_path / "run"
    first = start_training(out, "--steps", "100000", "--checkpoint-every", "100000")
    try:
        wait_for(lambda: (out / "metrics.jsonl").exists(), first)
        second = subprocess.run(
            [
                sys.executable,
                "-m",
                "ntm_numpy",
                "train",
                "--out",
                str(out),
                "--steps",
                "2",
                *TINY_ARGS,
            ],
            capture_output=True,
            text=True,
            env=module_env(),
            timeout=60,
        )
        assert_cli_error(second.returncode, second.stderr, str(first.pid))
    finally:
        first.send_signal(signal.SIGINT)
        finish(first)
    assert not (out / ".lock").exists()


@pytest.mark.parametrize("where", ["a-file", "under-a-file"])
def test_case3_an_unusable_out_is_refused_before_training(tmp_path, capsys, monkeypatch, where):
    (tmp_path / "file").write_text("not a directory")
    out = tmp_path / "file" if where == "a-file" else tmp_path / "file" / "run"
    monkeypatch.setattr(train_module, "evaluate", fail_if_called)  # nothing may train first
    code, _, err = run_main(["train", "--out", str(out), "--steps", "2", *TINY_ARGS], capsys)
    assert_cli_error(code, err, str(out))
    with pytest.raises(ValueError, match="out"):
        train(tiny_config(), out, verbose=False)


def fail_if_called(*args, **kwargs):
    raise AssertionError("training started before the run directory was checked")


def test_case3_export_and_figures_to_an_unusable_directory(tmp_path, capsys):
    run = tmp_path / "run"
    train(tiny_config(), run, verbose=False)
    (tmp_path / "file").write_text("not a directory")
    code, _, err = run_main(["export", str(run), "tiny", "--dest", str(tmp_path / "file")], capsys)
    assert_cli_error(code, err, "--dest", str(tmp_path / "file"))
    code, _, err = run_main(["figures", "--out", str(tmp_path / "file" / "figs")], capsys)
    assert_cli_error(code, err, "--out", str(tmp_path / "file" / "figs"))


def test_case4_a_fresh_start_over_an_old_log_is_refused(tmp_path, capsys):
    old = '{"step": 100}\n{"step": 200}\n'
    (tmp_path / "metrics.jsonl").write_text(old)
    code, _, err = run_main(["train", "--out", str(tmp_path), "--steps", "2", *TINY_ARGS], capsys)
    line = assert_cli_error(code, err, "metrics.jsonl")
    assert "--resume" in line or "delete" in line  # says how to proceed
    with pytest.raises(ValueError, match=r"metrics\.jsonl"):
        train(tiny_config(), tmp_path, verbose=False)
    assert (tmp_path / "metrics.jsonl").read_text() == old


def test_case5_stale_temporary_files_are_removed_at_start_and_resume(tmp_path):
    stale = [".checkpoint.npz.k2j4h1.tmp", ".best.npz.a8d7.tmp", ".metrics.jsonl.x1y2.tmp"]
    stale_snapshot = tmp_path / "snapshots" / ".step_000002.npz.q9w8.tmp"
    stale_snapshot.parent.mkdir()
    stale_snapshot.write_bytes(b"PK")
    for name in stale:
        (tmp_path / name).write_bytes(b"PK\x03\x04 half")
    (tmp_path / "notes.txt").write_text("mine")
    train(tiny_config(), tmp_path, verbose=False)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    assert not stale_snapshot.exists()
    for name in stale:
        (tmp_path / name).write_bytes(b"PK\x03\x04 half")
    train(tiny_config(steps=6), tmp_path, resume=True, verbose=False)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    assert (tmp_path / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"]
)
def test_case6_sigterm_saves_and_exits_like_ctrl_c(tmp_path, signum, code):
    out = tmp_path / "run"
    process = start_training(out, "--steps", "100000", "--checkpoint-every", "100000")
    wait_for(lambda: len(read_lines(out / "metrics.jsonl")) >= 3, process)
    process.send_signal(signum)
    returncode, stdout, stderr = finish(process)
    assert returncode == code, stderr
    assert "Traceback" not in stderr
    assert len(stdout.strip().splitlines()) == 1 and "interrupted" in stdout
    saved = read(out / "checkpoint.npz")  # the final save, not only a periodic one
    assert saved.train_state["step"] >= 3
    assert not (out / ".lock").exists()


def read_lines(path: Path) -> list[str]:
    try:
        return [line for line in path.read_text().splitlines() if line.endswith("}")]
    except FileNotFoundError:
        return []


def test_case7_a_second_ctrl_c_stops_at_once_with_one_line(tmp_path):
    out = tmp_path / "run"
    # steps of a few tenths of a second, so that both signals arrive within one step
    bigger = ["--memory-size", "64", "--memory-dim", "16", "--controller-size", "64"]
    bigger += ["--batch-size", "64", "--task-option", "max_length=6", "--no-curriculum"]
    process = start_training(out, "--steps", "100000", "--checkpoint-every", "2", *bigger)
    wait_for(lambda: (out / "checkpoint.npz").exists(), process)
    periodic = out / "checkpoint.npz"
    process.send_signal(signal.SIGINT)
    time.sleep(0.05)  # two signals at once would arrive as one
    process.send_signal(signal.SIGINT)
    returncode, _, stderr = finish(process)
    assert returncode == 130, stderr
    assert "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert "interrupted" in stderr
    assert read(periodic).train_state["step"] >= 2  # the last checkpoint stays whole
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]


def worker_children(pid: int) -> list[str]:
    """The PIDs of ``pid``'s children that multiprocessing started (not, e.g., ldconfig)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    workers = []
    for child in children:
        try:
            if b"multiprocessing" in Path(f"/proc/{child}/cmdline").read_bytes():
                workers.append(child)
        except OSError:
            pass
    return workers


def importing_numpy(pids: list[str]) -> bool:
    """Whether one of ``pids`` has got as far as loading NumPy: a worker that is starting up
    (importing what it needs before ``parallel._worker`` runs)."""
    for pid in pids:
        try:
            if "_multiarray_umath" in Path(f"/proc/{pid}/maps").read_text():
                return True
        except OSError:
            pass
    return False


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_case8_ctrl_c_while_workers_start_is_a_clean_interrupt(tmp_path):
    out = tmp_path / "run"
    process = start_training(out, "--steps", "100000", "--workers", "2", "--batch-size", "4")
    wait_for(lambda: importing_numpy(worker_children(process.pid)), process)
    os.killpg(process.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole group
    returncode, stdout, stderr = finish(process)
    assert returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "KeyboardInterrupt" not in stderr
    assert "died" not in stderr + stdout
    read(out / "checkpoint.npz")


def test_case9_divergence_before_the_first_save_says_what_is_true(tmp_path, monkeypatch):
    real_build = train_module.build

    def build_with_nan(config):
        task, model, optimizer = real_build(config)
        real = model.loss_and_grads

        def loss_and_grads(x, y, mask=None):
            loss, grads = real(x, y, mask)
            return loss * math.nan, {k: g * math.nan for k, g in grads.items()}

        model.loss_and_grads = loss_and_grads
        return task, model, optimizer

    monkeypatch.setattr(train_module, "build", build_with_nan)
    with pytest.raises(TrainingDiverged) as info:
        train(tiny_config(), tmp_path, verbose=False)
    message = str(info.value)
    assert not (tmp_path / "checkpoint.npz").exists()
    assert "left untouched" not in message
    assert "no checkpoint" in message


# =============================================================================================
# Checkpoints: never trust the file (cases 10-17)
# =============================================================================================


@pytest.fixture
def good(tmp_path):
    """A real checkpoint of a short run (optimizer and train state included), as its members."""
    result = train(tiny_config(), tmp_path / "run", verbose=False)
    path = tmp_path / "run" / "checkpoint.npz"
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    meta = json.loads(np.load(path)["meta.json"].tobytes().decode())
    return path, members, meta, result


def npy_bytes(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def write_members(path: Path, members: dict, *, compress: set | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            kind = zipfile.ZIP_DEFLATED if compress and name in compress else zipfile.ZIP_STORED
            archive.writestr(name, data, compress_type=kind)
    return path


def with_meta(members: dict, meta: dict) -> dict:
    data = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    return {**members, "meta.json.npy": npy_bytes(data)}


@pytest.fixture
def opened(monkeypatch):
    """The names of the zip members opened (inflated) while the test runs."""
    names: list[str] = []
    real_open = zipfile.ZipFile.open

    def open_(self, name, mode="r", *args, **kwargs):
        if mode == "r":  # not the writes that build the test's archive
            names.append(name.filename if isinstance(name, zipfile.ZipInfo) else name)
        return real_open(self, name, mode, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", open_)
    return names


def test_case10_an_unknown_key_is_refused_before_it_is_inflated(tmp_path, good, opened):
    _, members, _, _ = good
    bomb = npy_bytes(np.zeros(2**20 // 8))  # 1 MiB of zeros: deflates to about 1 KiB
    path = write_members(
        tmp_path / "bomb.npz", {**members, "junk.npy": bomb}, compress={"junk.npy"}
    )
    assert_checkpoint_error(path, "junk")
    assert "junk.npy" not in opened


def test_case10_a_member_larger_than_its_array_is_refused_before_it_is_inflated(
    tmp_path, good, opened
):
    _, members, _, _ = good
    bomb = npy_bytes(np.zeros(2**22 // 8))  # 4 MiB declared in the zip directory
    members = {**members, "param/output.b.npy": bomb}
    path = write_members(tmp_path / "bomb.npz", members, compress={"param/output.b.npy"})
    assert path.stat().st_size < 64 * 1024
    assert_checkpoint_error(path, "output.b")
    assert "param/output.b.npy" not in opened


@pytest.mark.parametrize("memory_size", [10**5, 10**8, 10**9])
def test_case11_config_against_headers_before_allocating(tmp_path, good, monkeypatch, memory_size):
    _, members, meta, _ = good
    meta["config"]["memory_size"] = memory_size

    def no_build(*args, **kwargs):
        raise AssertionError("the model was built before its arrays were checked")

    monkeypatch.setattr(checkpoint, "build_model", no_build)
    path = write_members(tmp_path / "big.npz", with_meta(members, meta))
    assert path.stat().st_size < 64 * 1024
    started = time.perf_counter()
    message = assert_checkpoint_error(path)
    # refused by the config's size limit, or by init.weights' header: the file holds (2, 4)
    assert "memory_size" in message or "init.weights" in message, message
    assert time.perf_counter() - started < 2.0


def header_only(shape: tuple, dtype: str = "<f8") -> bytes:
    """An .npy member whose header claims ``shape``, with no data behind it."""
    header = {"descr": dtype, "fortran_order": False, "shape": shape}
    text = repr(header).encode()
    text += b" " * (63 - (len(text) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text


def test_case12_a_header_that_claims_a_huge_shape(tmp_path, good, capsys):
    _, members, _, _ = good
    members = {**members, "param/output.W.npy": header_only((10**6, 10**6))}
    path = write_members(tmp_path / "huge.npz", members)
    assert_checkpoint_error(path, "output.W", "shape")
    code, _, err = run_main(["evaluate", str(path)], capsys)
    assert_cli_error(code, err, "output.W")


@pytest.mark.parametrize(
    "array",
    [
        np.array(["ab", "cd"]),
        np.zeros(2, dtype=[("a", "<f8")]),
        np.zeros(2, dtype=complex),
        np.zeros(2, dtype=bool),
        np.zeros(2, dtype=np.int64),
        np.zeros(2, dtype="datetime64[s]"),
        np.zeros(2, dtype=np.float16),
    ],
    ids=["str", "structured", "complex", "bool", "int64", "datetime64", "float16"],
)
def test_case13_parameters_of_a_wrong_dtype(tmp_path, good, capsys, array):
    _, members, _meta, _ = good
    shape = np.load(good[0])["param/output.b"].shape
    members = {**members, "param/output.b.npy": npy_bytes(np.resize(array, shape))}
    path = write_members(tmp_path / "dtype.npz", members)
    assert_checkpoint_error(path, "output.b", "dtype")
    code, _, err = run_main(["evaluate", str(path)], capsys)
    assert_cli_error(code, err, "output.b")


def test_case13_float32_and_float64_both_load(tmp_path, good):
    path, members, _, result = good
    for dtype in ("float32", "float64"):
        value = np.load(path)["param/output.b"].astype(dtype)
        changed = {**members, "param/output.b.npy": npy_bytes(value)}
        loaded = load(write_members(tmp_path / f"{dtype}.npz", changed))
        assert loaded.params["output.b"].dtype == result.model.params["output.b"].dtype


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("m", lambda a: np.full(a.shape, "x"), "dtype"),
        ("m", lambda a: np.full(a.shape, np.nan), "NaN"),
        ("v", lambda a: -np.ones(a.shape), "negative"),
    ],
    ids=["string", "nan", "negative-v"],
)
def test_case14_optimizer_state_is_validated_at_load(tmp_path, good, key, value, fragment):
    path, members, _, _ = good
    name = f"optim/{key}.output.W"
    members = {**members, f"{name}.npy": npy_bytes(value(np.load(path)[name]))}
    bad = write_members(tmp_path / "optim.npz", members)
    assert_checkpoint_error(bad, f"{key}.output.W", fragment)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda state: "a string", "train_state"),
        (lambda state: {**state, "step": "ten"}, "step"),
        (lambda state: {**state, "recent_costs": ["a", "b"]}, "recent_costs"),
        (lambda state: {**state, "max_length": 10**6}, "max_length"),
        (lambda state: {**state, "rng": "seed"}, "rng"),
        (lambda state: {**state, "seconds": -1}, "seconds"),
    ],
    ids=["string", "step-ten", "recent-costs", "max-length", "rng", "seconds"],
)
def test_case15_a_malformed_train_state(tmp_path, good, capsys, change, fragment):
    _, members, meta, _ = good
    meta["train_state"] = change(meta["train_state"])
    path = write_members(tmp_path / "state.npz", with_meta(members, meta))
    assert_checkpoint_error(path, fragment)
    code, _, err = run_main(["evaluate", str(path)], capsys)
    assert_cli_error(code, err, fragment)


def test_case15_resume_needs_the_whole_train_state(tmp_path, good, capsys):
    path, members, meta, _ = good
    del meta["train_state"]["rng"]
    write_members(path, with_meta(members, meta))
    with pytest.raises(CheckpointError, match="rng"):
        train(tiny_config(steps=6), path.parent, resume=True, verbose=False)
    argv = ["train", "--out", str(path.parent), "--resume", "--steps", "6", *TINY_ARGS]
    code, _, err = run_main(argv, capsys)
    assert_cli_error(code, err, "rng")


def test_case16_deeply_nested_meta(tmp_path, good):
    _, members, _, _ = good
    data = np.frombuffer(b"[" * 100_000, dtype=np.uint8)
    path = write_members(tmp_path / "nested.npz", {**members, "meta.json.npy": npy_bytes(data)})
    assert_checkpoint_error(path, "meta.json")


def test_case16_an_optimizer_entry_that_is_not_an_object(tmp_path, good):
    _, members, meta, _ = good
    meta["optimizer"] = "adam"
    path = write_members(tmp_path / "optimizer.npz", with_meta(members, meta))
    assert_checkpoint_error(path, "optimizer")
    with pytest.raises(CheckpointError, match=str(path)):
        load(path)


def test_no_pickle_runs_and_every_good_checkpoint_still_loads(tmp_path, good):
    # the old guarantee: an object array (a pickle) is refused from its header
    _, members, _, result = good
    members = {**members, "param/output.b.npy": pickled_member()}
    path = write_members(tmp_path / "pickle.npz", members)
    assert_checkpoint_error(path, "output.b", "dtype")
    assert not (tmp_path / "pwned").exists()
    assert_same_params(load(good[0]).params, result.model.params)


def pickled_member() -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.array([Pwn()], dtype=object), allow_pickle=True)
    return buffer.getvalue()


class Pwn:
    def __reduce__(self):
        return (Path.touch, (Path("pwned").absolute(),))


# =============================================================================================
# Model inputs and options (cases 18-26)
# =============================================================================================


def tiny_models():
    return [
        NTM(input_size=3, output_size=2, **TINY_MODEL, seed=1),
        LSTMModel(input_size=3, output_size=2, hidden_size=4, num_layers=1, seed=1),
    ]


def sequence(T: int = 3, B: int = 2, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, size=(T, B, 3)).astype(float)
    y = rng.integers(0, 2, size=(T, B, 2)).astype(float)
    return x, y, np.ones((T, B))


@pytest.mark.parametrize("model", tiny_models(), ids=["ntm", "lstm"])
@pytest.mark.parametrize("bad", [-1.0, 2.0, math.nan, math.inf], ids=str)
def test_case18_a_mask_outside_0_1_is_refused(model, bad):
    x, y, mask = sequence()
    mask[1, 0] = bad
    for fn in (model.loss, model.loss_and_grads):
        with pytest.raises(ValueError, match="mask"):
            fn(x, y, mask)


@pytest.mark.parametrize("model", tiny_models(), ids=["ntm", "lstm"])
def test_case18_a_fractional_mask_weighs_the_step(model):
    x, y, mask = sequence()
    half = mask.copy()
    half[1:] = 0.5
    none = mask.copy()
    none[1:] = 0.0
    # cost = cost(step 0) + 0.5 * cost(steps 1..)
    expected = 0.5 * (float(model.loss(x, y, mask)) + float(model.loss(x, y, none)))
    assert float(model.loss(x, y, half)) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("model", tiny_models(), ids=["ntm", "lstm"])
@pytest.mark.parametrize("bad", [math.nan, math.inf], ids=str)
def test_case18_targets_must_be_finite(model, bad):
    x, y, mask = sequence()
    y[0, 1, 0] = bad
    for fn in (model.loss, model.loss_and_grads):
        with pytest.raises(ValueError, match="y must be finite"):
            fn(x, y, mask)


@pytest.mark.parametrize("model", tiny_models(), ids=["ntm", "lstm"])
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf], ids=str)
def test_case19_non_finite_x_is_refused(model, bad):
    x, y, mask = sequence()
    x[2, 1, 0] = bad
    with pytest.raises(ValueError, match="x must be finite"):
        model.forward(x)
    for fn in (model.loss, model.loss_and_grads):
        with pytest.raises(ValueError, match="x must be finite"):
            fn(x, y, mask)


@pytest.fixture
def machine_of_16_gib(monkeypatch):
    """The size limits judged against a machine of 16 GiB, whatever runs the tests."""
    monkeypatch.setattr(configs, "physical_memory_bytes", lambda: 16 * 2**30)


@pytest.mark.parametrize("memory_size", [10**9, 10**30])
def test_case20_a_model_far_beyond_the_machine_is_refused(machine_of_16_gib, memory_size):
    started = time.perf_counter()
    with pytest.raises(ValueError, match="memory_size") as info:
        NTM(input_size=3, memory_size=memory_size)
    assert "GiB" in str(info.value)
    assert time.perf_counter() - started < 1.0  # refused, not attempted


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"controller": "feedforward"},
        {"memory_init": "learned", "num_read_heads": 2, "num_write_heads": 3, "shift_range": 2},
    ],
    ids=["lstm-controller", "feedforward", "learned-memory-more-heads"],
)
def test_case20_parameter_shapes_without_building_are_the_model_shapes(options):
    model = NTM(input_size=3, output_size=2, **TINY_MODEL, **options)
    assert parameter_shapes(model.config) == {k: v.shape for k, v in model.params.items()}
    lstm = LSTMModel(input_size=3, output_size=2, hidden_size=4, num_layers=3)
    assert parameter_shapes(lstm.config) == {k: v.shape for k, v in lstm.params.items()}
    small = estimate_bytes(model.config)
    assert small >= model.num_parameters * model.params["output.W"].itemsize
    assert estimate_bytes(model.config, batch_size=2, steps=5) > small


@pytest.mark.parametrize(
    "make",
    [
        lambda: NTM(input_size=3, seed=True),
        lambda: LSTMModel(input_size=3, seed=True),
        lambda: tiny_config(seed=True),
    ],
    ids=["ntm", "lstm", "train-config"],
)
def test_case21_a_bool_seed_is_refused(make):
    with pytest.raises(ValueError, match="seed"):
        make()


def test_case22_more_workers_than_sequences_in_a_batch(tmp_path, capsys):
    with pytest.raises(ValueError, match="workers"):
        tiny_config(workers=6, batch_size=2)
    argv = ["train", "--out", str(tmp_path), "--steps", "2", "--workers", "6", "--batch-size", "2"]
    code, _, err = run_main(argv + TINY_ARGS, capsys)
    assert_cli_error(code, err, "--workers", "--batch-size")


def test_case22_more_workers_than_cores_is_a_warning(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    if hasattr(os, "sched_getaffinity"):
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    argv = ["train", "--out", str(tmp_path), "--steps", "1", "--workers", "2", "--batch-size", "2"]
    code, _, err = run_main(argv + TINY_ARGS, capsys)
    assert code == 0, err
    assert "warning" in err and "--workers" in err and "Traceback" not in err


def test_case23_a_step_far_beyond_the_machine_is_refused(tmp_path, capsys, machine_of_16_gib):
    options = {"bits": 8, "max_length": 100_000}
    config = tiny_config(task_options=options, model_options={}, batch_size=16)
    with pytest.raises(ValueError, match="max_length"):
        train(config, None, verbose=False)
    # the control: the same model at the default copy lengths fits
    train(tiny_config(task_options={"bits": 8}, model_options={}, steps=1), None, verbose=False)
    argv = ["train", "--out", str(tmp_path), "--task-option", "max_length=100000"]
    code, _, err = run_main([*argv, "--no-curriculum", "--steps", "1", "--quiet"], capsys)
    assert_cli_error(code, err, "max_length")


def test_case24_metrics_keep_their_mode_after_resume(tmp_path):
    train(tiny_config(), tmp_path, verbose=False)
    mode = (tmp_path / "metrics.jsonl").stat().st_mode & 0o777
    train(tiny_config(steps=6), tmp_path, resume=True, verbose=False)
    assert (tmp_path / "metrics.jsonl").stat().st_mode & 0o777 == mode


def test_case25_init_from_takes_a_pretrained_name(tmp_path, capsys):
    pretrained = checkpoint.pretrained("copy")
    config = tiny_config(
        task_options={"bits": 8, "max_length": 2},
        model_options={},
        init_from="copy",
        steps=1,
        optimizer_options={"lr": 1e-30},
    )
    result = train(config, None, verbose=False)
    for key, value in pretrained.params.items():
        assert np.allclose(result.model.params[key], value), key
    argv = ["train", "--out", str(tmp_path / "run"), "--init-from", "copy", "--steps", "1"]
    argv += ["--task-option", "max_length=2", "--eval-sequences", "2", "--quiet"]
    code, _, err = run_main(argv, capsys)
    assert code == 0, err


@pytest.mark.parametrize("model", tiny_models(), ids=["ntm", "lstm"])
def test_case26_a_masked_array_is_refused(model):
    x, y, mask = sequence()
    masked = np.ma.array(x, mask=np.zeros_like(x, dtype=bool))
    with pytest.raises(ValueError, match="masked"):
        model.forward(masked)
    with pytest.raises(ValueError, match="masked"):
        model.loss_and_grads(x, np.ma.array(y), mask)


# =============================================================================================
# The old guarantees
# =============================================================================================


def test_sigkill_leaves_a_loadable_checkpoint_and_resume_ends_bit_identical(tmp_path):
    # three kills at whatever moment (a checkpoint every step: often during a save), each
    # followed by a resume that is killed in turn; then a resume to the end
    args = ["--steps", "100000", "--checkpoint-every", "1", "--eval-every", "3"]
    out = tmp_path / "killed"
    for cycle in range(3):
        resume = ["--resume"] if cycle else []
        rows = len(read_lines(out / "metrics.jsonl"))
        process = start_training(out, *args, *resume)
        wait_for(lambda rows=rows: len(read_lines(out / "metrics.jsonl")) >= rows + 2, process)
        process.kill()
        finish(process)
        read(out / "checkpoint.npz")  # loadable after every kill; its stale .lock stays
    step = read(out / "checkpoint.npz").train_state["step"]
    target = step + 4
    argv = ["train", *TINY_ARGS, "--steps", str(target), "--checkpoint-every", "1"]
    argv += ["--eval-every", "3"]
    assert main([*argv, "--out", str(out), "--resume"]) == 0
    assert main([*argv, "--out", str(tmp_path / "straight")]) == 0
    a, b = read(out / "checkpoint.npz"), read(tmp_path / "straight" / "checkpoint.npz")
    assert_same_params(a.model.params, b.model.params)
    assert metric_values(read_metrics(out)) == metric_values(read_metrics(tmp_path / "straight"))
    assert not [p.name for p in out.iterdir() if p.name == ".lock" or p.name.endswith(".tmp")]
