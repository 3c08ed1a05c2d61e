"""PubMedQA (PQA-L), official test split: 500 yes/no/maybe questions about PubMed abstracts.

Jin, Q., Dhingra, B., Liu, Z., Cohen, W., & Lu, X. (2019). PubMedQA: A Dataset for
Biomedical Research Question Answering. Proceedings of EMNLP-IJCNLP 2019, 2567-2577.
https://github.com/pubmedqa/pubmedqa (MIT licence)

Tasks:
    pubmedqa        question + the abstract (its CONTEXTS joined, conclusions withheld).
    pubmedqa_noctx  the same 500 questions with no abstract: MIRAGE's "PubMedQA*".

Options are A yes / B no / C maybe; the gold letter comes from ``final_decision``.

Split membership is pinned by the 500 official test PMIDs shipped in
``medq/data/splits/pubmedqa_test_ids.txt`` (from the release's ``test_ground_truth.json``),
never by position: the 1000 PQA-L items in ``ori_pqal.json`` are not ordered by split.
Peers get this wrong: lm-evaluation-harness once scored all 1000 labelled items
(EleutherAI/lm-evaluation-harness#886), and slicing the first or last 500 of a Hub copy
(as proposed in #3649) does not give the test set either.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from medq.hub import HubFile
from medq.tasks import _mirage
from medq.tasks._io import (
    BUNDLED,
    data_error,
    fetch,
    field,
    find,
    make_question,
    read_text,
    sample_path,
    sniff_json,
    split_ids,
)
from medq.tasks.base import Loader, TaskDataError, TaskSpec, register_task
from medq.types import Question

CITATION = (
    "Jin, Q., Dhingra, B., Liu, Z., Cohen, W., & Lu, X. (2019). PubMedQA: A Dataset for "
    "Biomedical Research Question Answering. Proceedings of EMNLP-IJCNLP 2019, 2567-2577."
)
CITE_SHORT = "Jin et al., EMNLP 2019"
METADATA = {"source": "PubMedQA (PQA-L)", "language": "en"}
OPTIONS = {"A": "yes", "B": "no", "C": "maybe"}
_GOLD = {text: letter for letter, text in OPTIONS.items()}
TEST_IDS_FILE = "pubmedqa_test_ids.txt"
# A third-party mirror of the release's test_set.json; the loader checks its IDs against the
# shipped list, so a wrong file cannot pass for the test split.
HUB = HubFile("tan9/pubmedQA", "test_set.json", "c91f54f75fb57507e102af37f1e2b5a1e7fc9727")
EXPECTS = "test_set.json or ori_pqal.json of the original PubMedQA release (or its data folder)"
_CANDIDATES = ("test_set.json", "ori_pqal.json", "data/test_set.json", "data/ori_pqal.json")


def official_test_ids() -> tuple[str, ...]:
    """The 500 official PQA-L test PMIDs, in the release's order."""
    return split_ids(TEST_IDS_FILE)


def _pubmedqa_question(path: Path, pmid: str, record: Any, with_context: bool) -> Question:
    where = f"item {pmid!r}"
    if not isinstance(record, dict):
        raise data_error(path, where, "expected a JSON object")
    decision = field(record, "final_decision", path, where)
    if decision not in _GOLD:
        raise data_error(path, where, f"field 'final_decision' is {decision!r}, not yes/no/maybe")
    context = None
    if with_context:
        contexts = field(record, "CONTEXTS", path, where, list)
        if not contexts or not all(isinstance(c, str) for c in contexts):
            raise data_error(path, where, "field 'CONTEXTS' must be a non-empty list of strings")
        context = "\n".join(contexts)
    metadata = dict(METADATA)
    if isinstance(record.get("YEAR"), str):
        metadata["year"] = record["YEAR"]
    return make_question(
        path,
        where,
        id=pmid,
        stem=field(record, "QUESTION", path, where),
        options=OPTIONS,
        gold=_GOLD[decision],
        gold_field="final_decision",
        context=context,
        metadata=metadata,
    )


def _select(path: Path, items: Mapping[str, Any], sample: bool) -> list[str]:
    """The official test PMIDs present in `items`, in split order; all 500 unless a sample."""
    ids = official_test_ids()
    present = [pmid for pmid in ids if pmid in items]
    if not sample and len(present) != len(ids):
        missing = [pmid for pmid in ids if pmid not in items]
        raise TaskDataError(
            f"{path}: {len(missing)} of the {len(ids)} official test PMIDs are missing "
            f"(e.g. {missing[0]!r}); expected test_set.json or ori_pqal.json"
        )
    return present


def _parse(path: Path, name: str, with_context: bool, sample: bool) -> tuple[Question, ...]:
    text = read_text(path)
    document = sniff_json(path, text)
    if document is None:
        raise data_error(path, "line 1", "not a JSON document (expected {PMID: {...}})")
    if _mirage.is_benchmark(document):
        if with_context:
            raise TaskDataError(
                f"{path}: MIRAGE's benchmark.json has no abstracts; task {name!r} needs "
                "test_set.json or ori_pqal.json (use pubmedqa_noctx for MIRAGE's PubMedQA*)"
            )
        section = document.get("pubmedqa")
        if not isinstance(section, dict):
            raise data_error(path, "top level", "field 'pubmedqa' is missing")
        keep = set(_select(path, section, sample))
        extra = set(section) - set(official_test_ids())
        if extra:
            raise data_error(path, f"item 'pubmedqa/{min(extra)}'", "not an official test PMID")
        by_id = {
            q.id: q
            for q in _mirage.questions(
                path, document, "pubmedqa", lambda k, r: METADATA, keep=keep.__contains__
            )
        }
        return tuple(by_id[pmid] for pmid in official_test_ids() if pmid in by_id)
    if not isinstance(document, dict):
        raise data_error(path, "top level", "expected a JSON object {PMID: {...}}")
    return tuple(
        _pubmedqa_question(path, pmid, document[pmid], with_context)
        for pmid in _select(path, document, sample)
    )


def _loader(name: str, with_context: bool) -> Loader:
    def load(data: Path | None, sample: bool) -> tuple[tuple[Question, ...], str]:
        if sample:
            return _parse(sample_path("pubmedqa/test_set.json"), name, with_context, True), BUNDLED
        if data is None:
            (path,) = fetch(name, [HUB], EXPECTS if with_context else EXPECTS_NOCTX)
            return _parse(path, name, with_context, False), HUB.label
        candidates = _CANDIDATES if with_context else (*_CANDIDATES, _mirage.FILENAME)
        path = find(data, candidates, name, EXPECTS if with_context else EXPECTS_NOCTX)
        return _parse(path, name, with_context, False), str(path)

    return load


EXPECTS_NOCTX = f"{EXPECTS}, or MIRAGE's benchmark.json"

register_task(
    TaskSpec(
        "pubmedqa",
        "test",
        "500 yes/no/maybe questions with abstracts",
        CITATION,
        CITE_SHORT,
        _loader("pubmedqa", with_context=True),
    )
)
register_task(
    TaskSpec(
        "pubmedqa_noctx",
        "test",
        "500 yes/no/maybe questions, no abstract (PubMedQA*)",
        f"{CITATION} No-abstract setting (PubMedQA*): {_mirage.CITATION}",
        "Jin et al., EMNLP 2019; Xiong et al., ACL Findings 2024",
        _loader("pubmedqa_noctx", with_context=False),
    )
)
