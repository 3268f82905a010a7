"""The task registry: ``TASKS`` maps each name to its class, ``make_task`` builds one."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ntm_numpy.tasks.associative_recall import AssociativeRecallTask
from ntm_numpy.tasks.base import Task
from ntm_numpy.tasks.copy import CopyTask
from ntm_numpy.tasks.ngrams import NgramsTask
from ntm_numpy.tasks.priority_sort import PrioritySortTask
from ntm_numpy.tasks.repeat_copy import RepeatCopyTask

TASKS: Mapping[str, type[Task]] = MappingProxyType(
    {
        task.name: task
        for task in (
            CopyTask,
            RepeatCopyTask,
            AssociativeRecallTask,
            NgramsTask,
            PrioritySortTask,
        )
    }
)
"""Read-only: task name -> task class, in the paper's order (section 4)."""


def make_task(name: str, /, **options: Any) -> Task:
    """The task called ``name``, with ``options`` overriding its config's defaults.

    ``make_task("copy", bits=8, min_length=1, max_length=20)`` is
    ``CopyTask(CopyConfig(bits=8, min_length=1, max_length=20))``. An unknown name, an unknown
    option or a bad value raises ``ValueError`` saying what is allowed.
    """
    if not isinstance(name, str) or name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose one of: {', '.join(TASKS)}")
    return TASKS[name].from_options(**options)
