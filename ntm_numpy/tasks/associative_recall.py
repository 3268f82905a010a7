"""Associative recall (Graves et al. 2014, section 4.3): given an item, recall the next one."""

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
class AssociativeRecallConfig:
    """Options of the associative-recall task; the defaults are the paper's."""

    bits: int = 6  # width of each vector of an item
    item_length: int = 3  # vectors per item (3 x 6 = 18 bits per item)
    min_items: int = 2  # fewest items in an episode
    max_items: int = 6  # most items in an episode

    def __post_init__(self) -> None:
        set_fields(
            self,
            bits=check_int(self.bits, name="bits"),
            item_length=check_int(self.item_length, name="item_length"),
            min_items=check_int(self.min_items, name="min_items", minimum=2),
            max_items=check_int(self.max_items, name="max_items", minimum=2),
        )
        check_range(self.min_items, self.max_items, low_name="min_items", high_name="max_items")


@dataclass(frozen=True)
class AssociativeRecallTask(Task):
    """Associative recall: ``K`` items, then a query item; answer with the item after it.

    An item is ``k = item_length`` random vectors of ``bits`` bits. ``K`` is drawn once per
    batch, uniform on ``{min_items, ..., max_items}``; the query is a copy of item ``q``, with
    ``q`` uniform on ``{0, ..., K-2}`` for each row, and the target is item ``q + 1``.
    ``T = (K + 2)(k + 1)``. An episode with ``K = 2``, ``k = 2``, ``q = 0`` and ``bits = 2``
    (``a`` item 0, ``b`` item 1, ``.`` zero)::

        step          0 | 1 2 | 3 | 4 5 | 6 | 7 8 | 9 | 10 11
        inputs bit 0  . | a a | . | b b | . | a a | . | .  .
               bit 1  . | a a | . | b b | . | a a | . | .  .
               item   1 | . . | 1 | . . | . | . . | . | .  .    channel bits:   item delimiter
               query  . | . . | . | . . | 1 | . . | 1 | .  .    channel bits+1: query delimiter
        targets bit 0 . | . . | . | . . | . | . . | . | b  b    item q+1, after the query
                bit 1 . | . . | . | . . | . | . . | . | b  b
        mask          0 | 0 0 | 0 | 0 0 | 0 | 0 0 | 0 | 1  1

    Every item follows an item-delimiter step; the query sits between two query-delimiter
    steps; the answer is due on the ``k`` blank steps after the second one, the only scored
    steps. Each bit is Bernoulli(1/2) (two items coincide with probability ``2^-(k*bits)``,
    left as it is). ``input_size = bits + 2``, ``output_size = bits``.

    ``batch.info``: ``num_items`` (``K``), ``query_index`` (``q``, int array ``[B]``).
    """

    name: ClassVar[str] = "associative_recall"
    config_type: ClassVar[type] = AssociativeRecallConfig
    title: ClassVar[str] = "Associative recall"
    length_option: ClassVar[str | None] = "max_items"  # the curriculum grows it
    min_length_option: ClassVar[str | None] = "min_items"
    config: AssociativeRecallConfig = field(default_factory=AssociativeRecallConfig)

    @property
    def input_size(self) -> int:
        return self.config.bits + 2

    @property
    def output_size(self) -> int:
        return self.config.bits

    def max_steps(self) -> int:
        c = self.config
        return (c.max_items + 2) * (c.item_length + 1)

    def describe(self) -> str:
        c = self.config
        return (
            f"associative_recall: K items of {c.item_length} x {c.bits} bits "
            f"(K in [{c.min_items}, {c.max_items}]), each after an item-delimiter step, then "
            f"a query item between two query-delimiter steps; the target is the item that "
            f"followed the query, on the next {c.item_length} steps; T = (K + 2)"
            f"({c.item_length} + 1); inputs {self.input_size} channels ({c.bits} bits, item "
            f"delimiter, query delimiter), outputs {self.output_size}"
        )

    def sample(
        self, *, batch_size: int, rng: np.random.Generator, length: int | None = None
    ) -> Batch:
        """Draw ``batch_size`` episodes; ``length`` fixes the number of items ``K`` (>= 2)."""
        batch_size = check_sample_args(batch_size, rng)
        c = self.config
        num_items = draw_length(rng, low=c.min_items, high=c.max_items, fixed=length)
        if num_items < 2:
            raise ValueError(f"length: expected at least 2 items, got {num_items}")
        k, rows = c.item_length, np.arange(batch_size)
        items = random_bits(rng, (batch_size, num_items, k, c.bits))  # [B, K, k, bits]
        query_index = rng.integers(0, num_items - 1, size=batch_size)  # [B], q in {0..K-2}
        query = items[rows, query_index].transpose(1, 0, 2)  # [k, B, bits]
        answer = items[rows, query_index + 1].transpose(1, 0, 2)  # [k, B, bits]
        item_delimiter, query_delimiter = c.bits, c.bits + 1

        # The item phase, K blocks of (1 delimiter step + k item steps), as [K, k+1, B, C].
        item_blocks = np.zeros((num_items, k + 1, batch_size, self.input_size))
        item_blocks[:, 0, :, item_delimiter] = 1.0
        item_blocks[:, 1:, :, : c.bits] = items.transpose(1, 2, 0, 3)  # [K, k, B, bits]

        # The query phase: delimiter, query item, delimiter, then k blank answer steps.
        query_block = np.zeros((2 * k + 2, batch_size, self.input_size))
        query_block[0, :, query_delimiter] = 1.0
        query_block[1 : k + 1, :, : c.bits] = query
        query_block[k + 1, :, query_delimiter] = 1.0

        inputs = np.concatenate(
            [item_blocks.reshape(num_items * (k + 1), batch_size, self.input_size), query_block]
        )  # [T, B, bits+2]
        num_steps = inputs.shape[0]

        targets = np.zeros((num_steps, batch_size, self.output_size))  # [T, B, bits]
        targets[num_steps - k :] = answer
        mask = np.zeros((num_steps, batch_size))  # [T, B]
        mask[num_steps - k :] = 1.0
        return Batch(
            inputs, targets, mask, info={"num_items": num_items, "query_index": query_index}
        )
