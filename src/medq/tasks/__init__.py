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

BUILTIN_MODULES: tuple[str, ...] = (
    "medqa",
    "medmcqa",
    "pubmedqa",
    "mmlu_medical",
    "bioasq",
    "medagentsbench",
)

__all__ = [
    "BUILTIN_MODULES",
    "DatasetUnavailableError",
    "Task",
    "TaskDataError",
    "TaskSpec",
    "describe_tasks",
    "load_task",
    "task_names",
]
