"""keep_freed_memory: a process-wide allocator setting that must be safe to call anywhere."""

import platform
import sys

import pytest

from ntm_numpy.training.allocator import keep_freed_memory


def test_keep_freed_memory_is_idempotent_and_reports_a_bool():
    first = keep_freed_memory()
    assert isinstance(first, bool)
    assert keep_freed_memory() is first


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="mallopt is glibc's",
)
def test_applied_on_glibc():
    assert keep_freed_memory() is True
