"""The released GPT-4o-mini direct-answer outputs re-scored by medq give back the paper's
table: 20.63 overall and every category, with no row where medq and the paper disagree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medq.importers import import_predictions
from medq.importers.base import ReadRequest
from medq.importers.medcalc import medcalc
from medq.store import Store

OUTPUTS = "medcalc_bench/outputs/openai_gpt-4o-mini_direct_answer.jsonl"
PUBLISHED = "medcalc_bench/outputs/published_results_gpt-4o-mini_direct_answer.json"


def test_gpt4o_mini_direct_answer_table(shared_data: Path) -> None:
    # Through `medq import`, i.e. the runner: the release served as a model, read by the
    # calculation reader, scored by the task's official rule.
    result = import_predictions(shared_data / OUTPUTS, task="medcalc", model="gpt-4o-mini",
                                fmt="medcalc", data=shared_data / "medcalc_bench",
                                progress=False)
    assert result.imported == 1047
    with Store() as store:
        samples = list(store.samples(result.run_id))
    disagreements = [s.item_id for s in samples
                     if bool(s.correct) != s.details["paper"]["correct"]]
    invalid = sum(s.status == "invalid" for s in samples)
    table = result.summary["medcalc"]
    published = json.loads((shared_data / PUBLISHED).read_text())
    assert table is not None and table.keys() == published.keys()
    for category, figures in published.items():
        assert table[category]["average"] == figures["average"], category
        assert table[category]["std"] == figures["std"], category
    assert table["overall"] == {"average": 20.63, "std": 0.01, "correct": 216, "n": 1047}
    assert disagreements == []
    # 27 rows hold the official parser's "name 'N' is not defined" and all 20 gestational
    # age rows its "cannot access local variable 'ground_truth'": no answer, so invalid.
    assert invalid == 47


def test_reader_rejects_other_tasks(shared_data: Path) -> None:
    from medq.importers.base import ImportDataError

    with pytest.raises(ImportDataError, match="medcalc"):
        medcalc(ReadRequest(shared_data / OUTPUTS, "medqa", "gpt-4o-mini"))
