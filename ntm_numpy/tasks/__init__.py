"""The five tasks of Graves, Wayne & Danihelka (2014), section 4, with the paper's encodings.

::

    from ntm_numpy.tasks import make_task
    task = make_task("copy", bits=8, min_length=1, max_length=20)
    batch = task.sample(batch_size=16, rng=numpy.random.default_rng(0))
    batch.inputs    # [T, B, task.input_size]   float64
    batch.targets   # [T, B, task.output_size]  float64
    batch.mask      # [T, B]                    float64, 1 on the scored steps

Each task draws its length parameter once per batch, so all rows share ``T`` and nothing is
padded. Sampling uses only the ``numpy.random.Generator`` passed in: the same seed gives the
same batch. The tasks work on host (NumPy) arrays and know nothing of the model.
"""

from ntm_numpy.tasks.associative_recall import AssociativeRecallConfig, AssociativeRecallTask
from ntm_numpy.tasks.base import Batch, Task
from ntm_numpy.tasks.copy import CopyConfig, CopyTask
from ntm_numpy.tasks.ngrams import NgramsConfig, NgramsTask, optimal_cost, optimal_predictions
from ntm_numpy.tasks.priority_sort import PrioritySortConfig, PrioritySortTask
from ntm_numpy.tasks.registry import TASKS, make_task, register_task, unregister_task
from ntm_numpy.tasks.repeat_copy import RepeatCopyConfig, RepeatCopyTask, normalise_repeats

__all__ = [
    "TASKS",
    "AssociativeRecallConfig",
    "AssociativeRecallTask",
    "Batch",
    "CopyConfig",
    "CopyTask",
    "NgramsConfig",
    "NgramsTask",
    "PrioritySortConfig",
    "PrioritySortTask",
    "RepeatCopyConfig",
    "RepeatCopyTask",
    "Task",
    "make_task",
    "normalise_repeats",
    "optimal_cost",
    "optimal_predictions",
    "register_task",
    "unregister_task",
]
