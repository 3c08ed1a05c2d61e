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

#: Task names whose module is not the name or a prefix of it
#: (`medq.registry.Registry.module_of`).
MODULES = {
    "icraftmd": "mediq",
    "imedqa": "mediq",
    "medqa_train": "medqa_dev",
    "medqa_5opt_dev": "medqa_dev",
    "medqa_5opt_train": "medqa_dev",
    **{f"mmlu_{subject}": "mmlu_medical" for subject in (
        "anatomy", "clinical_knowledge", "college_biology", "college_medicine",
        "professional_medicine")},
}

__all__ = [
    "DatasetUnavailableError",
    "Task",
    "TaskDataError",
    "TaskSpec",
    "describe_tasks",
    "load_task",
    "task_names",
]
