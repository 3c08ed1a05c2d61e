"""FrenchMedMCQA: French pharmacy exam questions with one to five correct options.

Labrak, Y., Bazoge, A., Dufour, R., Daille, B., Gourraud, P.-A., Morin, E., & Rouvier, M.
(2022). FrenchMedMCQA: A French Multiple-Choice Question Answering Dataset for Medical
domain. Proceedings of the 13th International Workshop on Health Text Mining and
Information Analysis (LOUHI @ EMNLP 2022), 41-46. https://github.com/qanastek/FrenchMedMCQA
(Apache-2.0)

Tasks:
    frenchmedmcqa       test split (``test.json``), 622 questions: 321 / 97 / 141 / 56 / 7
                        with 1 / 2 / 3 / 4 / 5 correct options.
    frenchmedmcqa_dev   dev split (``dev.json``), 312 questions.

A release file is one JSON array of ``{id, question, answers{a..e}, correct_answers[],
nbr_correct_answers, subject_name[, type]}``. Options a-e become A-E; the gold is the set of
correct letters in option order ("BCD", answer kind ``choice_set``); the item's
``n_correct`` and ``language`` ("fr") go into its metadata. The paper scores the exact
match ratio (EMR) and the Hamming score; both are the task's metrics, with intervals and a
breakdown by the number of correct answers (`medq.scoring.choice_set`). The paper trained
classifiers and used no LLM prompt, so the prompt is medq's English multi-answer template
(`multi_answer`) with the French item and the instruction to answer with the letters. The
Hub copy (qanastek/frenchmedmcqa) is a zip behind a loading script, which medq does not
run: pass ``--data`` (the ``corpus/`` folder or a file), or ``--sample`` for 30 test items
(the first six with each number of correct answers).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medq.scoring.choice_set import METRICS
from medq.tasks._io import BUNDLED, data_error, field, find, load_json, no_hub, sample_path
from medq.tasks.base import DatasetUnavailableError, TaskDataError, TaskSpec, register_task
from medq.types import Question

CITATION = (
    "Labrak, Y., Bazoge, A., Dufour, R., Daille, B., Gourraud, P.-A., Morin, E., & Rouvier, "
    "M. (2022). FrenchMedMCQA: A French Multiple-Choice Question Answering Dataset for "
    "Medical domain. Proceedings of the 13th International Workshop on Health Text Mining "
    "and Information Analysis (LOUHI), 41-46."
)
CITE_SHORT = "Labrak et al., LOUHI 2022"
LANGUAGE = "fr"
_LETTERS = "abcde"


def parse_release(path: Path) -> tuple[Question, ...]:
    """Questions of a FrenchMedMCQA release file (a JSON array)."""
    records = load_json(path)
    if not isinstance(records, list) or not records:
        raise TaskDataError(f"{path}: expected a non-empty JSON array of questions")
    return tuple(_question(path, i, record) for i, record in enumerate(records))


def _question(path: Path, i: int, record: Any) -> Question:
    where = f"item {i + 1}"
    if not isinstance(record, dict):
        raise data_error(path, where, "expected a JSON object")
    answers = field(record, "answers", path, where, dict)
    if sorted(answers) != list(_LETTERS):
        raise data_error(path, where, f"field 'answers' has keys {sorted(answers)}, not a-e")
    correct = field(record, "correct_answers", path, where, list)
    if not correct or any(c not in _LETTERS for c in correct) or len(set(correct)) != len(
            correct):
        raise data_error(path, where, f"field 'correct_answers' is {correct!r}, not distinct "
                                      f"letters among a-e")
    count = field(record, "nbr_correct_answers", path, where, int)
    if count != len(correct):
        raise data_error(path, where, f"field 'nbr_correct_answers' is {count}, but "
                                      f"'correct_answers' lists {len(correct)}")
    options = {c.upper(): field(answers, c, path, where) for c in _LETTERS}
    metadata = {"source": "FrenchMedMCQA", "language": LANGUAGE, "n_correct": count,
                "subject": record.get("subject_name"), "type": record.get("type")}
    gold = "".join(c.upper() for c in _LETTERS if c in correct)
    return Question(field(record, "id", path, where), field(record, "question", path, where),
                    options, gold, metadata={k: v for k, v in metadata.items()
                                             if v is not None})


def _loader(name: str, filename: str):
    expects = f"{filename} of the FrenchMedMCQA release (its corpus/ folder)"

    def load(data: Path | None, sample: bool) -> tuple[tuple[Question, ...], str]:
        if sample:
            if filename != "test.json":
                raise DatasetUnavailableError(f"Task {name!r} has no bundled sample "
                                              f"(only frenchmedmcqa ships one).")
            return parse_release(sample_path("frenchmedmcqa/test.json")), BUNDLED
        if data is None:
            raise no_hub(name, expects)
        path = find(data, (filename, f"corpus/{filename}"), name, expects)
        return parse_release(path), str(path)

    return load



register_task(TaskSpec(
    "frenchmedmcqa", "test", "622 French pharmacy questions, 1-5 correct of 5 options",
    CITATION, CITE_SHORT, _loader("frenchmedmcqa", "test.json"),
    answer_kind="choice_set", default_strategy="multi_answer",
    metrics=METRICS, language=LANGUAGE))
register_task(TaskSpec(
    "frenchmedmcqa_dev", "dev", "312 French pharmacy questions, 1-5 correct of 5 options",
    CITATION, CITE_SHORT, _loader("frenchmedmcqa_dev", "dev.json"),
    answer_kind="choice_set", default_strategy="multi_answer",
    metrics=METRICS, language=LANGUAGE))
