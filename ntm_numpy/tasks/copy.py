"""Copy (Graves et al. 2014, section 4.1): store a sequence, then write it back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from ntm_numpy.tasks.base import (
    Batch,
    Task,
    check_int,
    check_range,
    check_sample_args,
    draw_length,
    random_bits,
    set_fields,
)


@dataclass(frozen=True)
class CopyConfig:
    """Options of the copy task; the defaults are the paper's."""

    bits: int = 8  # width of each random vector
    min_length: int = 1  # shortest sequence drawn in training
    max_length: int = 20  # longest sequence drawn in training

    def __post_init__(self) -> None:
        set_fields(
            self,
            bits=check_int(self.bits, name="bits"),
            min_length=check_int(self.min_length, name="min_length"),
            max_length=check_int(self.max_length, name="max_length"),
        )
        check_range(self.min_length, self.max_length, low_name="min_length", high_name="max_length")


@dataclass(frozen=True)
class CopyTask(Task):
    """Copy: read ``L`` random vectors, then a delimiter, then write the ``L`` vectors back.

    ``L`` is drawn once per batch, uniform on ``{min_length, ..., max_length}``, and
    ``T = 2L + 1``. An episode with ``L = 3`` and ``bits = 4`` (``x`` a random bit,
    ``.`` zero; time runs left to right, channels top to bottom)::

        step            0 1 2 | 3 | 4 5 6
        inputs  bit 0   x x x | . | . . .
                bit 1   x x x | . | . . .
                bit 2   x x x | . | . . .
                bit 3   x x x | . | . . .
                delim   . . . | 1 | . . .      channel ``bits``: the delimiter flag
        targets bit 0   . . . | . | x x x      the inputs of steps 0..L-1,
                 ...                           shifted by L + 1 steps
        mask            0 0 0 | 0 | 1 1 1

    Each bit is Bernoulli(1/2). ``input_size = bits + 1``, ``output_size = bits``;
    ``targets[L + 1 + t] = inputs[t, :, :bits]`` for ``t < L``.

    ``batch.info``: ``length`` (``L``).
    """

    name: ClassVar[str] = "copy"
    config_type: ClassVar[type] = CopyConfig
    title: ClassVar[str] = "Copy"
    length_option: ClassVar[str | None] = "max_length"  # the curriculum grows it
    min_length_option: ClassVar[str | None] = "min_length"
    config: CopyConfig = field(default_factory=CopyConfig)

    @property
    def input_size(self) -> int:
        return self.config.bits + 1

    @property
    def output_size(self) -> int:
        return self.config.bits

    def max_steps(self) -> int:
        return 2 * self.config.max_length + 1

    def describe(self) -> str:
        c = self.config
        return (
            f"copy: L random {c.bits}-bit vectors (L in [{c.min_length}, {c.max_length}]), a "
            f"delimiter step, then L blank steps on which the L vectors are the targets; "
            f"T = 2L + 1; inputs {self.input_size} channels ({c.bits} bits, delimiter), "
            f"outputs {self.output_size}"
        )

    def sample(
        self, *, batch_size: int, rng: np.random.Generator, length: int | None = None
    ) -> Batch:
        """Draw ``batch_size`` copy episodes; ``length`` fixes ``L`` (any ``L >= 1``)."""
        batch_size = check_sample_args(batch_size, rng)
        c = self.config
        seq_len = draw_length(rng, low=c.min_length, high=c.max_length, fixed=length)
        sequence = random_bits(rng, (seq_len, batch_size, c.bits))  # [L, B, bits]
        num_steps = 2 * seq_len + 1
        delimiter_step = seq_len
        output_steps = slice(seq_len + 1, num_steps)

        inputs = np.zeros((num_steps, batch_size, self.input_size))  # [T, B, bits+1]
        inputs[:seq_len, :, : c.bits] = sequence
        inputs[delimiter_step, :, c.bits] = 1.0

        targets = np.zeros((num_steps, batch_size, self.output_size))  # [T, B, bits]
        targets[output_steps] = sequence

        mask = np.zeros((num_steps, batch_size))  # [T, B]
        mask[output_steps] = 1.0
        return Batch(inputs, targets, mask, info={"length": seq_len})
