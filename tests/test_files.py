"""Tests of ntm_numpy.training.files.write_atomic: the whole new file or the whole old one,
never half."""

from __future__ import annotations

import os

import pytest

from ntm_numpy.training.files import write_atomic


def test_writes_bytes_or_text_and_creates_the_folder(tmp_path):
    path = write_atomic(tmp_path / "a" / "b.bin", lambda f: f.write(b"\x00\x01"))
    assert path == tmp_path / "a" / "b.bin" and path.read_bytes() == b"\x00\x01"
    write_atomic(tmp_path / "c.txt", lambda f: f.write("é\n"), text=True)
    assert (tmp_path / "c.txt").read_text(encoding="utf-8") == "é\n"
    assert sorted(os.listdir(tmp_path)) == ["a", "c.txt"]  # no temporary file left behind


def test_a_failing_write_leaves_the_old_file_whole_and_no_temporary(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_bytes(b"old\n")

    def half_then_fail(f):
        f.write(b"new, half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(path, half_then_fail, durable=True)
    assert path.read_bytes() == b"old\n"
    assert os.listdir(tmp_path) == ["log.jsonl"]


def test_a_new_file_is_readable_by_all_and_a_replaced_one_keeps_its_mode(tmp_path):
    new = write_atomic(tmp_path / "new", lambda f: f.write(b"x"))
    assert new.stat().st_mode & 0o777 == 0o644
    private = tmp_path / "private"
    private.write_bytes(b"x")
    private.chmod(0o600)
    write_atomic(private, lambda f: f.write(b"y"))
    assert private.stat().st_mode & 0o777 == 0o600 and private.read_bytes() == b"y"
    write_atomic(private, lambda f: f.write(b"z"), mode=0o640)
    assert private.stat().st_mode & 0o777 == 0o640
