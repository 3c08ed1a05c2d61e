"""Named groups of tasks, and `--task` lists: ``medqa,medmcqa`` or ``multimedqa``.

Groups are the sets papers report together, so one command evaluates them all and reports
one table with micro and macro aggregates (`medq.scoring.stats.aggregate`):

- ``multimedqa``: the multiple-choice part of MultiMedQA as Med-PaLM evaluates it (Singhal
  et al., "Large language models encode clinical knowledge", Nature 2023): MedQA (USMLE,
  4 options), MedMCQA (dev), PubMedQA (reasoning-required, with context) and the MMLU
  clinical topics.
- ``mirage``: MIRAGE's five sets (Xiong et al., "Benchmarking Retrieval-Augmented
  Generation for Medicine", Findings of ACL 2024): MMLU-Med, MedQA-US, MedMCQA,
  PubMedQA* (question only) and BioASQ-Y/N.
- ``medagentsbench_hard``: the hard subsets of MedAgentsBench's eight sources (Tang et al.
  2025).
"""

from __future__ import annotations

from medq.registry import UnknownNameError, tasks
from medq.tasks.base import task_names

# MedAgentsBench's sources (`medq.tasks.medagentsbench.SOURCES`, which a test checks
# against), written out so that expanding `--task medqa` imports no other benchmark.
_MEDAGENTSBENCH_SOURCES = ("afrimedqa", "medbullets", "medmcqa", "medqa", "medqa_5options",
                           "mmlu", "mmlu_pro", "pubmedqa")

GROUPS: dict[str, tuple[str, ...]] = {
    "multimedqa": ("medqa", "medmcqa", "pubmedqa", "mmlu_medical"),
    "mirage": ("mmlu_medical", "medqa", "medmcqa", "pubmedqa_noctx", "bioasq_yn"),
    "medagentsbench_hard": tuple(f"medagentsbench_{source}_hard"
                                 for source in _MEDAGENTSBENCH_SOURCES),
}


def expand_tasks(text: str) -> list[str]:
    """The tasks a ``--task`` value names: comma-separated task names and group names, in
    order, each task once.

    Example:
        >>> expand_tasks("medqa,multimedqa")
        ['medqa', 'medmcqa', 'pubmedqa', 'mmlu_medical']

    Raises:
        UnknownNameError: a name that is neither a task nor a group (the message lists both).
    """
    names: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if part in GROUPS:
            names.extend(GROUPS[part])
            continue
        try:
            tasks.get(part)  # imports the task's own module only
        except UnknownNameError:
            raise UnknownNameError(
                f"unknown task {part!r}; tasks: {', '.join(task_names())}; groups: "
                f"{', '.join(GROUPS)} (see `medq tasks`)"
            ) from None
        names.append(part)
    if not names:
        raise UnknownNameError("--task names no task (see `medq tasks`)")
    return list(dict.fromkeys(names))
