"""Benchmarks, one module each; every module registers its tasks with `medq.registry.tasks`.

Use `load_task(name, data=None, sample=False)`; `task_names()` lists what is registered.
"""

from medq.tasks.base import (
    DatasetUnavailableError,
    Task,
    TaskDataError,
    TaskSpec,
    describe_tasks,
    load_task,
    task_names,
)

__all__ = [
    "DatasetUnavailableError",
    "Task",
    "TaskDataError",
    "TaskSpec",
    "describe_tasks",
    "load_task",
    "task_names",
]
