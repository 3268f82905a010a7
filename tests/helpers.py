"""What several test files share: running the command line in this process."""

from __future__ import annotations

from pathlib import Path

import pytest

from ntm_numpy.app.cli import main
from ntm_numpy.training.checkpoint import CheckpointError, read


def run_main(argv: list[str], capsys) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``main(argv)``, whether it returns or exits."""
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_checkpoint_error(path: Path, *fragments: str) -> str:
    """``read(path)`` raises a CheckpointError naming the file and each fragment; its message."""
    with pytest.raises(CheckpointError) as info:
        read(path)
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, message
    return message
