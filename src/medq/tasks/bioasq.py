"""BioASQ yes/no as packaged by MIRAGE: 618 yes/no questions from BioASQ Task B (2019-2023).

Tsatsaronis, G., Balikas, G., Malakasiotis, P., Partalas, I., Zschunke, M., Alvers, M. R.,
et al. (2015). An overview of the BIOASQ large-scale biomedical semantic indexing and
question answering competition. BMC Bioinformatics, 16, 138.
Set as used here: Xiong, G., Jin, Q., Lu, Z., & Zhang, A. (2024). Benchmarking
Retrieval-Augmented Generation for Medicine. Findings of ACL 2024.

BioASQ data is distributed under the BioASQ terms of use, so medq ships no sample and no
Hub copy: pass MIRAGE's ``benchmark.json`` (github.com/Teddy-XiongGZ/MIRAGE) with
``--data``. Options are A yes / B no; the ``PMID`` list is kept as metadata ``pmids``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from medq.tasks import _mirage
from medq.tasks._io import data_error, find, load_json, no_hub, no_sample
from medq.tasks.base import TaskSpec, register_task
from medq.types import Question

CITATION = (
    "Tsatsaronis, G., et al. (2015). An overview of the BIOASQ large-scale biomedical "
    "semantic indexing and question answering competition. BMC Bioinformatics, 16, 138. "
    f"Yes/no set from {_mirage.CITATION}"
)
CITE_SHORT = "Tsatsaronis et al., 2015; Xiong et al., ACL Findings 2024"
EXPECTS = "MIRAGE's benchmark.json (github.com/Teddy-XiongGZ/MIRAGE)"


def _metadata(key: str, record: Mapping[str, Any]) -> dict[str, Any]:
    pmids = record.get("PMID")
    metadata: dict[str, Any] = {"source": "BioASQ (MIRAGE)", "language": "en"}
    if isinstance(pmids, list):
        metadata["pmids"] = tuple(str(p) for p in pmids)
    return metadata


def _load(data: Path | None, sample: bool) -> tuple[tuple[Question, ...], str]:
    if sample:
        raise no_sample("bioasq_yn", "the BioASQ terms of use do not allow redistribution")
    if data is None:
        raise no_hub("bioasq_yn", EXPECTS)
    path = find(data, (_mirage.FILENAME,), "bioasq_yn", EXPECTS)
    document = load_json(path)
    if not _mirage.is_benchmark(document):
        raise data_error(path, "top level", "not MIRAGE's benchmark.json (field 'bioasq')")
    return tuple(_mirage.questions(path, document, "bioasq", _metadata)), str(path)


register_task(
    TaskSpec("bioasq_yn", "test", "618 yes/no questions (MIRAGE)", CITATION, CITE_SHORT, _load)
)
