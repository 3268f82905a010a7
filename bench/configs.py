"""The shipped models' configurations, as the benchmarks train them (plain data: no imports).

Each entry is a task (with its options) and the NTM options on top of the task's input and
output sizes. The paper's "#Heads" counts head pairs: its copy NTM has "1 head", one read and one
write head, which is ``num_heads=1`` here; so "4 heads" is ``num_heads=4`` (4 read + 4 write).
The paper's LSTM controller for priority sort is 2 x 100 (two stacked layers); this package's
NTM has a one-layer controller, so that row uses one LSTM layer of 100 units.
"""

from __future__ import annotations

MEMORY = {"memory_size": 128, "memory_dim": 20}

CONFIGS: dict[str, dict] = {
    "copy": {
        "task": "copy",
        "model": {**MEMORY, "controller": "feedforward", "controller_size": 100, "num_heads": 1},
        "title": "copy, feed-forward 100, 1 head",
    },
    "copy_lstm": {
        "task": "copy",
        "model": {**MEMORY, "controller": "lstm", "controller_size": 100, "num_heads": 1},
        "title": "copy, LSTM 100, 1 head",
    },
    "repeat_copy": {
        "task": "repeat_copy",
        "model": {**MEMORY, "controller": "feedforward", "controller_size": 100, "num_heads": 1},
        "title": "repeat copy, feed-forward 100, 1 head",
    },
    "associative_recall": {
        "task": "associative_recall",
        "model": {**MEMORY, "controller": "feedforward", "controller_size": 256, "num_heads": 4},
        "title": "associative recall, feed-forward 256, 4 heads",
    },
    "ngrams": {
        "task": "ngrams",
        "model": {**MEMORY, "controller": "lstm", "controller_size": 100, "num_heads": 1},
        "title": "n-grams, LSTM 100, 1 head",
    },
    "priority_sort": {
        "task": "priority_sort",
        "model": {**MEMORY, "controller": "feedforward", "controller_size": 512, "num_heads": 8},
        "title": "priority sort, feed-forward 512, 8 heads",
    },
    "priority_sort_lstm": {
        "task": "priority_sort",
        "model": {**MEMORY, "controller": "lstm", "controller_size": 100, "num_heads": 5},
        "title": "priority sort, LSTM 100 (one layer), 5 heads",
    },
}

# the rows of the README's speed table, in the paper's order
TABLE = (
    "copy",
    "repeat_copy",
    "associative_recall",
    "ngrams",
    "priority_sort",
    "priority_sort_lstm",
)
