"""The task registry: ``TASKS`` maps each name to its class, ``make_task`` builds one."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ntm_numpy.tasks.associative_recall import AssociativeRecallTask
from ntm_numpy.tasks.base import Task, check_task_class
from ntm_numpy.tasks.copy import CopyTask
from ntm_numpy.tasks.ngrams import NgramsTask
from ntm_numpy.tasks.priority_sort import PrioritySortTask
from ntm_numpy.tasks.repeat_copy import RepeatCopyTask

_REGISTERED: dict[str, type[Task]] = {}

TASKS: Mapping[str, type[Task]] = MappingProxyType(_REGISTERED)
"""Read-only: task name -> task class, in the paper's order (section 4), then those added by
``register_task``."""


def register_task(cls: type[Task]) -> type[Task]:
    """Add a task class to ``TASKS`` (and so to ``make_task``, the trainer and the command
    line), after ``check_task_class``; returns ``cls``, so it also works as a decorator. A
    name already registered is an error: ``unregister_task`` it first."""
    check_task_class(cls)
    if cls.name in _REGISTERED:
        raise ValueError(f"task {cls.name!r} is already registered ({_REGISTERED[cls.name]})")
    _REGISTERED[cls.name] = cls
    return cls


def unregister_task(name: str) -> None:
    """Remove the task called ``name`` from ``TASKS``."""
    if name not in _REGISTERED:
        raise ValueError(f"unknown task {name!r}; registered: {', '.join(_REGISTERED)}")
    del _REGISTERED[name]


for _task in (CopyTask, RepeatCopyTask, AssociativeRecallTask, NgramsTask, PrioritySortTask):
    register_task(_task)


def make_task(name: str, /, **options: Any) -> Task:
    """The task called ``name``, with ``options`` overriding its config's defaults.

    ``make_task("copy", bits=8, min_length=1, max_length=20)`` is
    ``CopyTask(CopyConfig(bits=8, min_length=1, max_length=20))``. An unknown name, an unknown
    option or a bad value raises ``ValueError`` saying what is allowed.
    """
    if not isinstance(name, str) or name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose one of: {', '.join(TASKS)}")
    return TASKS[name].from_options(**options)
