"""EMPEC: Taiwanese professional health exams (Traditional Chinese), twenty professions.

Luo, Z., Yuan, C., Xie, Q., & Ananiadou, S. (2025). EMPEC: A Comprehensive Benchmark for
Evaluating Large Language Models Across Diverse Healthcare Professions. Findings of ACL
2025, 9945-9958 (arXiv:2406.11328).
https://github.com/zhehengluoK/Examinations-for-Medical-PErsonnel-in-Chinese

Task ``empec``: 157,803 questions from the examinations of 124 subjects across 20
healthcare professions (physicians, nurses, pharmacists, dietitians, radiologic
technologists, ...); ``by_profession`` is a metric. Records: ``{id, question, options
(mapping A-D or a list), answer (letter), profession, subject, exam}`` in JSON, JSON
lines, CSV or parquet (the authors distribute the release from a drive, not the Hub):
pass ``--data``. The
prompt is medq's English template with the Chinese item and the instruction to answer
with the option letter.
"""

from __future__ import annotations

from medq.scoring.breakdowns import by_field
from medq.tasks._exam import ExamFormat, register_exam

CITATION = (
    "Luo, Z., Yuan, C., Xie, Q., & Ananiadou, S. (2025). EMPEC: A Comprehensive Benchmark "
    "for Evaluating Large Language Models Across Diverse Healthcare Professions. Findings of "
    "the Association for Computational Linguistics: ACL 2025, 9945-9958."
)
FORMAT = ExamFormat(
    question="question", options="options", answer="answer", id="id",
    metadata={"profession": "profession", "subject": "subject", "exam": "exam"},
    fixed={"language": "zh", "source": "EMPEC"})

register_exam(
    "empec", split="test", summary="Taiwanese health exams, 20 professions",
    citation=CITATION, cite_short="Luo et al., Findings ACL 2025", language="zh", spec=FORMAT,
    files=("*test*.parquet", "*test*.jsonl", "*test*.json", "*test*.csv"),
    expects="the EMPEC test file (JSON, JSON lines, CSV or parquet) or its folder",
    metrics=(by_field("profession"),))
