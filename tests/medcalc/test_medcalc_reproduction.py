"""The released GPT-4o-mini direct-answer outputs re-scored by medq give back the paper's
table: 20.63 overall and every category, with no row where medq and the paper disagree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medq.calls import ItemTally
from medq.importers.base import ReadRequest
from medq.importers.medcalc import medcalc, read_answer
from medq.runner import sample_row
from medq.scoring.medcalc import medcalc_table
from medq.tasks import load_task
from medq.tasks.medcalc import official_score

OUTPUTS = "medcalc_bench/outputs/openai_gpt-4o-mini_direct_answer.jsonl"
PUBLISHED = "medcalc_bench/outputs/published_results_gpt-4o-mini_direct_answer.json"


def test_gpt4o_mini_direct_answer_table(shared_data: Path) -> None:
    task = load_task("medcalc", shared_data / "medcalc_bench")
    questions = {q.id: (i, q) for i, q in enumerate(task.questions)}
    released = medcalc(ReadRequest(shared_data / OUTPUTS, "medcalc", "gpt-4o-mini"))
    assert len(released.items) == 1047
    samples, disagreements, invalid = [], [], 0
    for item in released.items:
        position, question = questions[item.item_id]
        answer = read_answer(question, item.responses[0], {"paper": {
            "choice": item.paper_choice, "correct": item.paper_correct}})
        row = sample_row(question, position, answer, ItemTally("run", question.id),
                         official_score)
        samples.append(row)
        invalid += row["status"] == "invalid"
        if bool(row["correct"]) != item.paper_correct:
            disagreements.append(item.item_id)
    table = medcalc_table(samples)
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
