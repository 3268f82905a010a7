"""The progress of a run on a terminal: one line redrawn in place; plain lines otherwise."""

from __future__ import annotations

import sys
import time


class Progress:
    """A one-line progress bar on a terminal; one plain line per evaluation otherwise."""

    def __init__(self, total: int, stream=None, enabled: bool = True, sequences: int = 0) -> None:
        self.total, self.stream, self.enabled = total, stream or sys.stderr, enabled
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.last = 0.0
        # the throughput is measured from one update to the next
        self.window = (time.perf_counter(), sequences)

    def update(self, step: int, sequences: int, cost: float, errors: float | None) -> None:
        """Redraw the line: ``sequences`` is the run's total so far."""
        now = time.perf_counter()
        rate = (sequences - self.window[1]) / max(now - self.window[0], 1e-9)
        self.window = (now, sequences)
        if not self.tty or time.perf_counter() - self.last < 0.2:
            return
        self.last = time.perf_counter()
        width = 24
        done = int(width * step / self.total)
        bar = "=" * done + (">" if done < width else "") + " " * (width - done - 1)
        err = f"  bit errors {errors:6.2f}" if errors is not None else ""
        self.stream.write(
            f"\r{step:>7}/{self.total} [{bar}] {rate:6.0f} seq/s  cost {cost:8.3f}{err} "
        )
        self.stream.flush()

    def line(self, text: str) -> None:
        if not self.enabled:
            return
        if self.tty:
            self.stream.write("\r" + " " * 100 + "\r")
        self.stream.write(text + "\n")
        self.stream.flush()
