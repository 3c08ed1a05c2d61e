"""MedQA-USMLE (US) dev and train splits, the exemplar pools for few-shot strategies on MedQA.

Jin, D., Pan, E., Oufattole, N., Weng, W.-H., Fang, H., & Szolovits, P. (2021). What Disease
Does This Patient Have? A Large-Scale Open Domain Question Answering Dataset from Medical
Exams. Applied Sciences, 11(14), 6421. https://github.com/jind11/MedQA (MIT licence)

Tasks:
    medqa_dev         1272 dev questions, 4 options (``US/4_options/phrases_no_exclude_dev.jsonl``)
    medqa_5opt_dev    the same 1272 with 5 options (``US/dev.jsonl``)
    medqa_train       10178 train questions, 4 options (``US/4_options/…_train.jsonl``)
    medqa_5opt_train  the same 10178 with 5 options (``US/train.jsonl``)

These load from a local copy of the original release only (``--data`` or a strategy's
``pool_data``): no Hub copy of these files in their original format is pinned. The first
50 dev items ship as a sample (``sample=True``), the exemplar pool for few-shot strategies
on the bundled test sample. IDs are the zero-padded line index, as for the test split, so a dev ID
may equal a test ID; few-shot strategies exclude exemplars by identical stem across splits.
"""

from __future__ import annotations

from pathlib import Path

from medq.tasks._io import BUNDLED, find, no_hub, no_sample, sample_path
from medq.tasks.base import TaskSpec, register_task
from medq.tasks.medqa import CITATION, CITE_SHORT, _parse
from medq.types import Question


def _loader(name: str, split: str, n_options: int) -> TaskSpec:
    folder = "US/4_options/" if n_options == 4 else "US/"
    filename = f"phrases_no_exclude_{split}.jsonl" if n_options == 4 else f"{split}.jsonl"
    expects = f"{folder}{filename} of the original MedQA release (or its folder)"
    candidates = (f"{folder}{filename}", f"{folder.removeprefix('US/')}{filename}", filename)

    def load(data: Path | None, sample: bool) -> tuple[tuple[Question, ...], str]:
        if sample:
            if split != "dev":
                raise no_sample(name, "only the dev split ships a sample")
            return _parse(sample_path(f"medqa_usmle/{folder}{filename}"), name, n_options), BUNDLED
        if data is None:
            raise no_hub(name, expects)
        path = find(data, candidates, name, expects)
        return _parse(path, name, n_options), str(path)

    size = "1272" if split == "dev" else "10178"
    summary = f"{size} USMLE questions, {n_options} options (exemplar pool)"
    return TaskSpec(name, split, summary, CITATION, CITE_SHORT, load)


register_task(_loader("medqa_dev", "dev", 4))
register_task(_loader("medqa_5opt_dev", "dev", 5))
register_task(_loader("medqa_train", "train", 4))
register_task(_loader("medqa_5opt_train", "train", 5))
