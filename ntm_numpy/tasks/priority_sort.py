"""Priority sort (Graves et al. 2014, section 4.5): write back the highest-priority vectors."""

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
class PrioritySortConfig:
    """Options of the priority-sort task; the defaults are the paper's."""

    bits: int = 8  # width of each random vector
    num_inputs: int = 20  # vectors read, each with a priority
    num_outputs: int = 16  # highest-priority vectors written back

    def __post_init__(self) -> None:
        set_fields(
            self,
            bits=check_int(self.bits, name="bits"),
            num_inputs=check_int(self.num_inputs, name="num_inputs"),
            num_outputs=check_int(self.num_outputs, name="num_outputs"),
        )
        check_range(
            self.num_outputs, self.num_inputs, low_name="num_outputs", high_name="num_inputs"
        )


@dataclass(frozen=True)
class PrioritySortTask(Task):
    """Priority sort: ``n`` vectors with priorities; write the top ``m``, highest first.

    Every vector has a priority ``p ~ U[-1, 1)`` on its own channel. ``T = n + 1 + m``, with
    ``n = num_inputs`` and ``m = num_outputs``. An episode with ``n = 3``, ``m = 2`` and
    ``bits = 2`` (``a b c`` the vectors, ``pa pb pc`` their priorities, here ``pb > pa > pc``)::

        step             0   1   2  | 3 | 4  5
        inputs  bit 0    a   b   c  | . | .  .
                bit 1    a   b   c  | . | .  .
                delim    .   .   .  | 1 | .  .     channel bits:   delimiter
                prio     pa  pb  pc | . | .  .     channel bits+1: the priority
        targets bit 0    .   .   .  | . | b  a     the m highest, by priority descending
                bit 1    .   .   .  | . | b  a
        mask             0   0   0  | 0 | 1  1

    Each bit is Bernoulli(1/2). ``input_size = bits + 2``, ``output_size = bits``.
    ``sample(length=n)`` fixes ``n`` and writes back ``min(m, n)`` vectors.

    ``batch.info``: ``num_inputs`` (``n``), ``num_outputs`` (``m``), ``priorities``
    (``[n, B]``), ``order`` (``[m, B]``, the input step of each output, int).
    """

    name: ClassVar[str] = "priority_sort"
    config_type: ClassVar[type] = PrioritySortConfig
    title: ClassVar[str] = "Priority sort"
    # no length option: every batch has the same length
    config: PrioritySortConfig = field(default_factory=PrioritySortConfig)

    @property
    def input_size(self) -> int:
        return self.config.bits + 2

    @property
    def output_size(self) -> int:
        return self.config.bits

    def max_steps(self) -> int:
        c = self.config
        return c.num_inputs + 1 + c.num_outputs

    def describe(self) -> str:
        c = self.config
        return (
            f"priority_sort: {c.num_inputs} random {c.bits}-bit vectors, each with a priority "
            f"in [-1, 1) on its own channel, a delimiter step, then the {c.num_outputs} "
            f"highest-priority vectors as targets, highest first; T = {self.max_steps()}; "
            f"inputs {self.input_size} channels ({c.bits} bits, delimiter, priority), "
            f"outputs {self.output_size}"
        )

    def sample(
        self, *, batch_size: int, rng: np.random.Generator, length: int | None = None
    ) -> Batch:
        """Draw ``batch_size`` episodes; ``length`` fixes the number of inputs ``n``."""
        batch_size = check_sample_args(batch_size, rng)
        c = self.config
        num_inputs = draw_length(rng, low=c.num_inputs, high=c.num_inputs, fixed=length)
        num_outputs = min(c.num_outputs, num_inputs)
        vectors = random_bits(rng, (num_inputs, batch_size, c.bits))  # [n, B, bits]
        priorities = rng.uniform(-1.0, 1.0, size=(num_inputs, batch_size))  # [n, B]
        order = np.argsort(-priorities, axis=0, kind="stable")[:num_outputs]  # [m, B]
        sorted_vectors = np.take_along_axis(vectors, order[:, :, None], axis=0)  # [m, B, bits]
        delimiter, priority = c.bits, c.bits + 1
        num_steps = num_inputs + 1 + num_outputs

        inputs = np.zeros((num_steps, batch_size, self.input_size))  # [T, B, bits+2]
        inputs[:num_inputs, :, : c.bits] = vectors
        inputs[:num_inputs, :, priority] = priorities
        inputs[num_inputs, :, delimiter] = 1.0

        targets = np.zeros((num_steps, batch_size, self.output_size))  # [T, B, bits]
        targets[num_inputs + 1 :] = sorted_vectors
        mask = np.zeros((num_steps, batch_size))  # [T, B]
        mask[num_inputs + 1 :] = 1.0
        info = {
            "num_inputs": num_inputs,
            "num_outputs": num_outputs,
            "priorities": priorities,
            "order": order,
        }
        return Batch(inputs, targets, mask, info=info)
