"""CMExam: Chinese National Medical Licensing Examination questions with annotations.

Liu, J., Zhou, P., Hua, Y., Chong, D., Tian, Z., Liu, A., ... & Li, Y. (2023). Benchmarking
Large Language Models on CMExam - A Comprehensive Chinese Medical Exam Dataset. NeurIPS
2023 Datasets and Benchmarks. https://github.com/williamliujl/CMExam

Task ``cmexam``: the test split (``test_with_annotations.csv``), single-answer questions
(GPT-4 61.6%, humans 71.6% in the paper). The release CSV has ``Question``, ``Options``
(one text, a line per option: "A 选项"), ``Answer`` (letter), ``Explanation`` and the
annotations ``Medical Discipline``, ``Competency``, ``Difficulty level``, kept as
``specialty``, ``competency``, ``difficulty`` (``by_specialty`` is a metric). Rows whose
answer names several letters are multi-answer and are not this single-answer task: they
are left out (the task's summary says so). No Hub revision could be checked offline:
pass ``--data`` (the file or the release's ``data/`` folder). The prompt is medq's English
template with the Chinese item and the instruction to answer with the option letter.
"""

from __future__ import annotations

from medq.scoring.breakdowns import by_field
from medq.tasks._exam import ExamFormat, register_exam

CITATION = (
    "Liu, J., Zhou, P., Hua, Y., Chong, D., Tian, Z., Liu, A., Wang, H., You, C., Guo, Z., "
    "Zhu, L., & Li, M. L. (2023). Benchmarking Large Language Models on CMExam - A "
    "Comprehensive Chinese Medical Exam Dataset. NeurIPS 2023 Datasets and Benchmarks."
)
FORMAT = ExamFormat(
    question="Question", options="Options", answer="Answer",
    metadata={"specialty": "Medical Discipline", "competency": "Competency",
              "difficulty": "Difficulty level"},
    fixed={"language": "zh", "source": "CMExam"})

register_exam(
    "cmexam", split="test", summary="Chinese licensing exam, single-answer rows",
    citation=CITATION, cite_short="Liu et al., NeurIPS 2023", language="zh", spec=FORMAT,
    files=("test_with_annotations.csv", "data/test_with_annotations.csv", "*test*.csv"),
    expects="test_with_annotations.csv of the CMExam release (or its data/ folder)",
    keep=lambda record: len(str(record.get("Answer") or "").strip()) <= 1,
    metrics=(by_field("specialty"),))
