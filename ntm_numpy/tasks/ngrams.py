"""Dynamic N-grams (Graves et al. 2014, section 4.4): predict the next bit of a random N-gram.

Each sequence has its own table of ``2^(n-1)`` probabilities, one per context of ``n - 1``
bits, drawn from ``Beta(a, a)`` (the paper: ``n = 6``, ``a = 1/2``). A learner that adapts to
the table while reading does best; the Bayes-optimal one (Murphy 2012, the paper's section 4.4)
keeps, for every context ``c``, the counts ``N0(c)``, ``N1(c)`` of the bits that followed it so
far and predicts::

    P(next bit = 1 | c, N0, N1) = (N1 + a) / (N0 + N1 + 2a)            (a = 1/2 in the paper)

:func:`optimal_predictions` computes it; :func:`optimal_cost` turns it into the cost (bits
per sequence) that a trained network is compared with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from ntm_numpy.tasks.base import (
    Batch,
    FloatArray,
    Task,
    check_int,
    check_positive_float,
    check_sample_args,
    draw_length,
    set_fields,
)


@dataclass(frozen=True)
class NgramsConfig:
    """Options of the dynamic N-grams task; the defaults are the paper's."""

    order: int = 6  # n of the n-gram: each bit depends on the n - 1 bits before it
    length: int = 200  # steps per sequence (bits read; each step predicts the next bit)
    beta_prior: float = 0.5  # a: every table entry is drawn from Beta(a, a)

    def __post_init__(self) -> None:
        set_fields(
            self,
            order=check_int(self.order, name="order", maximum=16),
            length=check_int(self.length, name="length"),
            beta_prior=check_positive_float(self.beta_prior, name="beta_prior"),
        )


def next_context(context: NDArray[np.int64], bit: NDArray[np.int64], *, order: int) -> NDArray:
    """Shift ``bit`` into the ``order - 1`` bit context; the newest bit is the lowest.

    ``c' = (2c + bit) mod 2^(order-1)``; shapes ``[B]``.
    """
    return ((context << 1) | bit) & ((1 << (order - 1)) - 1)


def draw_sequences(
    probabilities: FloatArray, *, num_bits: int, order: int, rng: np.random.Generator
) -> NDArray[np.int64]:
    """Draw ``num_bits`` bits per row from the row's table; returns ``[num_bits, B]``.

    ``probabilities`` ``[B, 2^(order-1)]`` holds ``P(b_t = 1 | context)``. The first
    ``order - 1`` bits have no full context and are fair coin flips; after them
    ``b_t ~ Bernoulli(probabilities[context(b_{t-order+1}, ..., b_{t-1})])``.
    """
    batch_size = probabilities.shape[0]
    rows = np.arange(batch_size)
    bits = np.empty((num_bits, batch_size), dtype=np.int64)  # [num_bits, B]
    context = np.zeros(batch_size, dtype=np.int64)  # [B]
    for t in range(num_bits):
        if t < order - 1:
            bits[t] = rng.integers(0, 2, size=batch_size)
        else:
            bits[t] = rng.random(batch_size) < probabilities[rows, context]
        context = next_context(context, bits[t], order=order)
    return bits


def optimal_predictions(
    inputs: FloatArray, *, order: int = 6, beta_prior: float = 0.5
) -> FloatArray:
    """The Bayes-optimal ``P(next bit = 1)`` at every step, from the inputs alone.

    Args:
        inputs: ``[T, B, 1]`` the bits ``b_0 .. b_{T-1}`` of an N-gram batch.
        order: ``n`` of the n-gram.
        beta_prior: ``a`` of the ``Beta(a, a)`` prior over each table entry.

    Returns:
        ``[T, B, 1]``: at step ``t`` the probability that ``b_{t+1} = 1`` given ``b_0 .. b_t``.
        While the context is incomplete (``t < order - 2``) the next bit is a fair coin flip
        and the prediction is ``1/2``; after that, with ``c`` the last ``order - 1`` bits and
        ``N0(c)``, ``N1(c)`` the counts of 0s and 1s that followed ``c`` among ``b_0 .. b_t``,
        ``(N1 + a) / (N0 + N1 + 2a)``. Vectorised over the batch, a loop over time.
    """
    if inputs.ndim != 3 or inputs.shape[2] != 1:
        raise ValueError(f"inputs: expected [T, B, 1], got shape {inputs.shape}")
    bits = inputs[:, :, 0].astype(np.int64)  # [T, B]
    num_steps, batch_size = bits.shape
    rows = np.arange(batch_size)
    counts = np.zeros((batch_size, 1 << (order - 1), 2))  # [B, contexts, next bit]: N0, N1
    predictions = np.full((num_steps, batch_size), 0.5)  # [T, B]
    context = np.zeros(batch_size, dtype=np.int64)  # [B]
    for t in range(num_steps):
        context = next_context(context, bits[t], order=order)  # now holds b_{t-n+2} .. b_t
        if t < order - 2:
            continue
        n0, n1 = counts[rows, context, 0], counts[rows, context, 1]  # [B] each
        predictions[t] = (n1 + beta_prior) / (n0 + n1 + 2.0 * beta_prior)
        if t + 1 < num_steps:
            counts[rows, context, bits[t + 1]] += 1.0  # rows are distinct: no index repeats
    return predictions[:, :, None]


def cross_entropy_bits(
    probabilities: FloatArray, targets: FloatArray, mask: FloatArray
) -> FloatArray:
    """Per-sequence cost ``-sum_t m_t [y_t log2 p_t + (1 - y_t) log2(1 - p_t)]``.

    ``probabilities`` and ``targets`` ``[T, B, K]`` (``p`` strictly inside (0, 1)), ``mask``
    ``[T, B]``; returns ``[B]``, bits per sequence.
    """
    per_bit = -(targets * np.log2(probabilities) + (1.0 - targets) * np.log2(1.0 - probabilities))
    return (per_bit.sum(axis=2) * mask).sum(axis=0)


def optimal_cost(batch: Batch, *, order: int = 6, beta_prior: float = 0.5) -> float:
    """The Bayes-optimal predictor's cost, in bits per sequence, averaged over the batch.

    The same cost and the same mask as the network's: cross-entropy of
    :func:`optimal_predictions` against ``batch.targets``. Predicting 1/2 everywhere costs
    exactly one bit per scored step, ``mask.sum(axis=0).mean()``.
    """
    predictions = optimal_predictions(batch.inputs, order=order, beta_prior=beta_prior)
    return float(cross_entropy_bits(predictions, batch.targets, batch.mask).mean())


@dataclass(frozen=True)
class NgramsTask(Task):
    """Dynamic N-grams: read a bit at each step and predict the next one.

    For each row a fresh table of ``2^(n-1)`` probabilities is drawn from ``Beta(a, a)``,
    then ``T + 1`` bits from it (:func:`draw_sequences`); ``T = length``. With ``T = 6``::

        step          0   1   2   3   4   5
        inputs  bit   b0  b1  b2  b3  b4  b5
        targets bit   b1  b2  b3  b4  b5  b6      the next input bit
        mask          1   1   1   1   1   1       every step is scored

    The first ``n - 1`` bits (``b0 .. b4`` for ``n = 6``) have no full context and are fair
    coin flips; every later bit is drawn from the table entry of the ``n - 1`` bits before
    it. Every step is scored, as in the paper: on the first ``n - 2`` steps the best
    prediction is 1/2, which :func:`optimal_predictions` gives. ``input_size = 1``,
    ``output_size = 1``. ``T`` is ``length`` for every batch unless ``sample(length=...)``.

    ``batch.info``: ``length`` (``T``), ``probabilities`` (``[B, 2^(n-1)]``, the tables;
    context index = the previous ``n - 1`` bits as a binary number, newest bit lowest).
    """

    name: ClassVar[str] = "ngrams"
    config_type: ClassVar[type] = NgramsConfig
    title: ClassVar[str] = "Dynamic N-grams"
    # no length option: every batch has the same length
    config: NgramsConfig = field(default_factory=NgramsConfig)

    @property
    def input_size(self) -> int:
        return 1

    @property
    def output_size(self) -> int:
        return 1

    def max_steps(self) -> int:
        return self.config.length

    def describe(self) -> str:
        c = self.config
        return (
            f"ngrams: {c.length} bits from a random {c.order}-gram table "
            f"(2^{c.order - 1} entries, each ~ Beta({c.beta_prior:g}, {c.beta_prior:g}), new "
            f"for every sequence); at each step the target is the next bit; every step scored; "
            f"inputs 1 channel, outputs 1"
        )

    def sample(
        self, *, batch_size: int, rng: np.random.Generator, length: int | None = None
    ) -> Batch:
        """Draw ``batch_size`` sequences, each with its own table; ``length`` fixes ``T``."""
        batch_size = check_sample_args(batch_size, rng)
        c = self.config
        num_steps = draw_length(rng, low=c.length, high=c.length, fixed=length)
        num_contexts = 1 << (c.order - 1)
        probabilities = rng.beta(c.beta_prior, c.beta_prior, size=(batch_size, num_contexts))
        bits = draw_sequences(probabilities, num_bits=num_steps + 1, order=c.order, rng=rng)
        bits = bits.astype(np.float64)  # [T+1, B]
        inputs = bits[:-1, :, None].copy()  # [T, B, 1]
        targets = bits[1:, :, None].copy()  # [T, B, 1]
        mask = np.ones((num_steps, batch_size))  # [T, B]
        return Batch(
            inputs, targets, mask, info={"length": num_steps, "probabilities": probabilities}
        )

    def optimal_predictions(self, inputs: FloatArray) -> FloatArray:
        """:func:`optimal_predictions` with this task's order and prior; ``[T, B, 1]``."""
        return optimal_predictions(
            inputs, order=self.config.order, beta_prior=self.config.beta_prior
        )

    def optimal_cost(self, batch: Batch) -> float:
        """:func:`optimal_cost` with this task's order and prior; bits per sequence."""
        return optimal_cost(batch, order=self.config.order, beta_prior=self.config.beta_prior)
