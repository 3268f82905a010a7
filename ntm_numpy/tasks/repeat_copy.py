"""Repeat copy (Graves et al. 2014, section 4.2): write a sequence back a given number of times."""

from __future__ import annotations

import math
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
class RepeatCopyConfig:
    """Options of the repeat-copy task; the defaults are the paper's."""

    bits: int = 8  # width of each random vector
    min_length: int = 1  # shortest sequence drawn in training
    max_length: int = 10  # longest sequence drawn in training
    min_repeats: int = 1  # fewest copies asked for in training
    max_repeats: int = 10  # most copies asked for in training

    def __post_init__(self) -> None:
        set_fields(
            self,
            bits=check_int(self.bits, name="bits"),
            min_length=check_int(self.min_length, name="min_length"),
            max_length=check_int(self.max_length, name="max_length"),
            min_repeats=check_int(self.min_repeats, name="min_repeats"),
            max_repeats=check_int(self.max_repeats, name="max_repeats"),
        )
        check_range(self.min_length, self.max_length, low_name="min_length", high_name="max_length")
        check_range(
            self.min_repeats, self.max_repeats, low_name="min_repeats", high_name="max_repeats"
        )


def normalise_repeats(repeats: int, *, min_repeats: int, max_repeats: int) -> float:
    """The repeat count as the network sees it: zero mean, unit variance in training.

    With ``R`` uniform on ``{a, ..., b}`` and ``n = b - a + 1`` values::

        mean = (a + b) / 2,   var = (n^2 - 1) / 12,   R_hat = (R - mean) / sqrt(var)

    and ``R_hat = 0`` when ``a == b`` (a constant carries no information). Counts outside
    ``[a, b]`` (generalisation tests) use the same training statistics.
    """
    num_values = max_repeats - min_repeats + 1
    if num_values == 1:
        return 0.0
    mean = (min_repeats + max_repeats) / 2.0
    std = math.sqrt((num_values**2 - 1) / 12.0)
    return (repeats - mean) / std


@dataclass(frozen=True)
class RepeatCopyTask(Task):
    """Repeat copy: read ``L`` vectors and a count ``R``; write them ``R`` times, then "end".

    ``L`` and ``R`` are each drawn once per batch, uniform on their configured ranges, and
    ``T = 1 + L + 1 + R*L + 1``. An episode with ``L = 2``, ``R = 3`` and ``bits = 2``
    (``x`` a random bit, ``.`` zero, ``r`` the normalised count ``R_hat``)::

        step            0 | 1 2 | 3 | 4 5 6 7 8 9 | 10
        inputs  bit 0   . | x x | . | . . . . . . | .
                bit 1   . | x x | . | . . . . . . | .
                flag    1 | . . | 1 | . . . . . . | .   channel bits:   start / end of input
                count   . | . . | r | . . . . . . | .   channel bits+1: R_hat
        targets bit 0   . | . . | . | x x x x x x | .   the L vectors, R times over
                bit 1   . | . . | . | x x x x x x | .
                end     . | . . | . | . . . . . . | 1   channel bits: the end marker
        mask            0 | 0 0 | 0 | 1 1 1 1 1 1 | 1

    The flag channel is on at step 0, before the sequence (its start), and at the count step,
    after it (the paper's delimiter), so the count step is recognisable even when
    ``R_hat = 0``. ``R_hat`` is :func:`normalise_repeats` of ``R`` with the training range.
    Each bit is Bernoulli(1/2). ``input_size = bits + 2``, ``output_size = bits + 1``.
    The mask covers the whole output phase: ``R*L`` copy steps and the end-marker step.

    ``batch.info``: ``length`` (``L``), ``repeats`` (``R``).
    """

    name: ClassVar[str] = "repeat_copy"
    config_type: ClassVar[type] = RepeatCopyConfig
    title: ClassVar[str] = "Repeat copy"
    length_option: ClassVar[str | None] = "max_length"  # the curriculum grows it
    min_length_option: ClassVar[str | None] = "min_length"
    config: RepeatCopyConfig = field(default_factory=RepeatCopyConfig)

    @property
    def input_size(self) -> int:
        return self.config.bits + 2

    @property
    def output_size(self) -> int:
        return self.config.bits + 1

    def max_steps(self) -> int:
        c = self.config
        return c.max_length * (c.max_repeats + 1) + 3

    def describe(self) -> str:
        c = self.config
        return (
            f"repeat_copy: a start flag, L random {c.bits}-bit vectors "
            f"(L in [{c.min_length}, {c.max_length}]), a step with the flag and the normalised "
            f"count R (R in [{c.min_repeats}, {c.max_repeats}]), then the targets: the L vectors "
            f"R times and one end-marker step; T = (R + 1) L + 3; inputs {self.input_size} "
            f"channels ({c.bits} bits, flag, count), outputs {self.output_size} "
            f"({c.bits} bits, end marker)"
        )

    def sample(
        self,
        *,
        batch_size: int,
        rng: np.random.Generator,
        length: int | None = None,
        repeats: int | None = None,
    ) -> Batch:
        """Draw ``batch_size`` episodes; ``length`` fixes ``L``, ``repeats`` fixes ``R``.

        Either may lie outside the configured range (generalisation tests).
        """
        batch_size = check_sample_args(batch_size, rng)
        c = self.config
        seq_len = draw_length(rng, low=c.min_length, high=c.max_length, fixed=length)
        num_repeats = draw_length(
            rng, low=c.min_repeats, high=c.max_repeats, fixed=repeats, name="repeats"
        )
        sequence = random_bits(rng, (seq_len, batch_size, c.bits))  # [L, B, bits]

        start_step = 0
        sequence_steps = slice(1, 1 + seq_len)
        count_step = 1 + seq_len
        copy_steps = slice(count_step + 1, count_step + 1 + num_repeats * seq_len)
        end_step = count_step + 1 + num_repeats * seq_len
        num_steps = end_step + 1
        flag, count, end_marker = c.bits, c.bits + 1, c.bits

        inputs = np.zeros((num_steps, batch_size, self.input_size))  # [T, B, bits+2]
        inputs[start_step, :, flag] = 1.0
        inputs[sequence_steps, :, : c.bits] = sequence
        inputs[count_step, :, flag] = 1.0
        inputs[count_step, :, count] = normalise_repeats(
            num_repeats, min_repeats=c.min_repeats, max_repeats=c.max_repeats
        )

        targets = np.zeros((num_steps, batch_size, self.output_size))  # [T, B, bits+1]
        targets[copy_steps, :, : c.bits] = np.tile(sequence, (num_repeats, 1, 1))
        targets[end_step, :, end_marker] = 1.0

        mask = np.zeros((num_steps, batch_size))  # [T, B]
        mask[count_step + 1 :] = 1.0
        return Batch(inputs, targets, mask, info={"length": seq_len, "repeats": num_repeats})
