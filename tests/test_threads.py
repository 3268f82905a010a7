"""The choice of worker processes and BLAS threads: a pure function of its inputs, overridden
by explicit numbers, applied through threadpoolctl and printed by the command line."""

from __future__ import annotations

import pytest
from helpers import run_main
from threadpoolctl import threadpool_info

from ntm_numpy.training import TrainConfig, threads
from ntm_numpy.training.threads import choose, choose_workers


def blas_counts() -> set[int]:
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


@pytest.mark.parametrize(
    ("batch_size", "cores", "device", "expected"),
    [
        (1, 2, "cpu", 1),  # nothing to share
        (2, 2, "cpu", 2),  # a sequence each
        (16, 2, "cpu", 2),
        (64, 1, "cpu", 1),  # one core: no worker pays
        (1024, 2, "cpu", 2),  # never more processes than cores
        (1024, 16, "cpu", 16),
        (3, 16, "cpu", 3),  # never more processes than sequences
        (1024, 16, "gpu", 1),  # a GPU run is one process
    ],
)
def test_workers_rule(batch_size, cores, device, expected):
    assert choose_workers(batch_size, cores, device) == expected
    chosen = choose(batch_size=batch_size, dtype="float32", cores=cores, device=device)
    assert chosen.workers == expected and chosen.workers_chosen


@pytest.mark.parametrize("cores", [1, 2, 8])
@pytest.mark.parametrize("batch_size", [1, 16, 64, 256])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_blas_rule_never_oversubscribes(cores, batch_size, dtype):
    chosen = choose(batch_size=batch_size, dtype=dtype, cores=cores)
    assert 1 <= chosen.blas_threads <= cores
    assert chosen.workers * chosen.blas_threads <= cores or chosen.workers == 1


def test_explicit_numbers_win():
    chosen = choose(batch_size=64, dtype="float32", workers=3, blas_threads=2, cores=2)
    assert (chosen.workers, chosen.blas_threads) == (3, 2)
    assert not chosen.workers_chosen and not chosen.blas_chosen
    assert "workers 3 (asked)" in chosen.describe()
    assert "BLAS threads 2 (asked)" in chosen.describe()
    kept = choose(batch_size=64, dtype="float32", blas_threads=None, cores=2)
    assert kept.blas_threads is None
    assert "as NumPy set them" in kept.describe()


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "two", None])
def test_bad_counts_name_the_parameter(bad):
    with pytest.raises(ValueError, match="workers"):
        choose(batch_size=4, dtype="float32", workers=bad)
    if bad is not None:
        with pytest.raises(ValueError, match="blas_threads"):
            choose(batch_size=4, dtype="float32", blas_threads=bad)
        with pytest.raises(ValueError, match="blas_threads"):
            TrainConfig(blas_threads=bad)
    with pytest.raises(ValueError, match="workers"):
        TrainConfig(workers=bad)


def test_available_cores_is_the_affinity():
    import os

    assert threads.available_cores() == len(os.sched_getaffinity(0))


def test_blas_threads_applied_and_restored():
    before = blas_counts()
    if not before:
        pytest.skip("NumPy here links no BLAS that threadpoolctl sees")
    with threads.blas_threads(1):
        assert blas_counts() == {1}
    assert blas_counts() == before
    with threads.blas_threads(None):  # None leaves them alone
        assert blas_counts() == before


def test_set_blas_threads_for_a_notebook():
    before = blas_counts()
    if not before:
        pytest.skip("NumPy here links no BLAS that threadpoolctl sees")
    try:
        assert threads.set_blas_threads(1) == 1
        assert blas_counts() == {1}
        expected = choose(batch_size=64, dtype="float64", workers=1).blas_threads
        assert threads.set_blas_threads(batch_size=64, dtype="float64") == expected
        assert blas_counts() == {expected}
    finally:
        threads.set_blas_threads(max(before))


TINY = ["train", "--task", "copy", "--task-option", "max_length=2", "--task-option", "bits=3"]
TINY += ["--memory-size", "6", "--memory-dim", "4", "--controller-size", "8", "--steps", "4"]
TINY += ["--eval-every", "2", "--eval-sequences", "4"]


def test_train_prints_the_automatic_choice(tmp_path, capsys):
    code, _, err = run_main([*TINY, "--out", str(tmp_path / "a")], capsys)
    assert code == 0
    expected = choose(batch_size=TrainConfig().batch_size, dtype="float32")
    assert expected.describe() in err
    assert "(auto)" in err


def test_train_options_override_the_choice(tmp_path, capsys):
    argv = [*TINY, "--batch-size", "4", "--workers", "2", "--blas-threads", "1"]
    code, _, err = run_main([*argv, "--out", str(tmp_path / "b")], capsys)
    assert code == 0
    assert "workers 2 (asked)" in err and "BLAS threads 1 (asked)" in err


@pytest.mark.parametrize("option", ["--workers", "--blas-threads"])
@pytest.mark.parametrize("value", ["0", "-2", "x", "1.5"])
def test_bad_cli_counts(option, value, tmp_path, capsys):
    code, _, err = run_main([*TINY, option, value, "--out", str(tmp_path / "c")], capsys)
    assert code == 2
    assert option in err and "positive integer or 'auto'" in err
    assert len(err.strip().splitlines()) == 1


def test_evaluate_prints_its_threads(capsys):
    code, out, _ = run_main(["evaluate", "copy", "--sequences", "2", "--lengths", "3"], capsys)
    expected = choose(batch_size=10, dtype="float32", workers=1).blas_threads
    assert code == 0 and f"BLAS threads {expected} (auto)" in out
    code, out, _ = run_main(
        ["evaluate", "copy", "--sequences", "2", "--lengths", "3", "--blas-threads", "1"], capsys
    )
    assert code == 0 and "BLAS threads 1 (asked)" in out
