"""HealthQA-BR: Brazilian licensing and residency exam questions across the health professions.

D'addario, A. M. V. (2025). HealthQA-BR: A System-Wide Benchmark Reveals Critical Knowledge
Gaps in Large Language Models. arXiv:2506.21578.

Task ``healthqa_br``: 5,632 Portuguese multiple-choice questions (medicine and its
specialties, nursing, dentistry, psychology, social work and other professions); the
paper reports accuracy per specialty (GPT-4.1: 98.7% in ophthalmology, 60.0% in
neurosurgery), the task's ``by_specialty`` and ``by_exam`` metrics. The loader reads
records ``{id, question, options (a mapping or list, or one text with a line per option),
answer (letter), specialty, exam, year}`` from JSON, JSON lines, CSV or parquet. No Hub
revision could be checked offline, so none is pinned: pass ``--data``. The prompt is
medq's English template with the Portuguese item and the instruction to answer with the
option letter.
"""

from __future__ import annotations

from medq.scoring.breakdowns import by_field
from medq.tasks._exam import ExamFormat, register_exam

CITATION = (
    "D'addario, A. M. V. (2025). HealthQA-BR: A System-Wide Benchmark Reveals Critical "
    "Knowledge Gaps in Large Language Models. arXiv:2506.21578."
)
FORMAT = ExamFormat(
    question="question", options="options", answer="answer", id="id",
    metadata={"specialty": "specialty", "exam": "exam", "year": "year"},
    fixed={"language": "pt", "source": "HealthQA-BR"})

register_exam(
    "healthqa_br", split="test", summary="5,632 Brazilian health exam questions by specialty",
    citation=CITATION, cite_short="D'addario 2025", language="pt", spec=FORMAT,
    files=("*.parquet", "*.jsonl", "*.json", "*.csv"),
    expects="the HealthQA-BR release file (JSON, JSON lines, CSV or parquet) or its folder",
    metrics=(by_field("specialty"), by_field("exam")))
