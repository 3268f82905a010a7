"""Writing a file atomically: the one helper every writer of checkpoints, logs and figures uses.

The bytes go to a temporary file beside the destination, which is then renamed over it
(``os.replace`` is atomic on POSIX and Windows), so a reader, a crash or a Ctrl-C mid-write
never sees half a file: there is the old file, whole, or the new one, whole.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO


def write_atomic(
    path: str | os.PathLike,
    write: Callable[[IO], None],
    *,
    text: bool = False,
    durable: bool = False,
    mode: int | None = None,
) -> Path:
    """Call ``write(f)`` on a temporary file beside ``path``, then rename it over ``path``.

    ``text`` opens the file in text mode (UTF-8) instead of binary; ``durable`` forces the
    bytes to disk before the rename (a checkpoint must survive a power cut, a figure need not).
    The file gets ``mode``, by default that of the file it replaces, or 0o644 for a new one
    (``mkstemp`` makes a private file; what we write is for sharing). Creates the folder. On any
    error, or an interrupt, the temporary file is removed and ``path`` is left as it was.
    Returns ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w" if text else "wb", **({"encoding": "utf-8"} if text else {})) as f:
            write(f)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
