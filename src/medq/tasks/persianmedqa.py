"""PersianMedQA: Iranian medical exam questions in Persian, with their English translation.

Ranjbar Kalahroodi, M. J., Sheikholselami, A., Karimi, S., Ranjbar Kalahroodi, S., Faili, H.,
& Shakery, A. (2025). PersianMedQA: Evaluating Large Language Models on a Persian-English
Bilingual Medical Question Answering Benchmark. arXiv:2506.00250.
https://huggingface.co/datasets/MohammadJRanjbar/PersianMedQA

Tasks ``persianmedqa_fa`` (20,785 Persian originals from 14 years of Iranian residency
exams, 23 specialties) and ``persianmedqa_en`` (their English translations), four
options, paired by item ID, so `medq compare` (or `medq.multilingual.cross_lingual`)
measures the cross-lingual gap on the same questions.
Records: ``{id, question, options (list of 4), answer (1-based index), question_en,
options_en, specialty, year}`` in JSON, JSON lines, CSV or parquet; ``by_specialty`` is a
metric. No Hub revision could be checked offline, so none is pinned: pass ``--data``.
Both use medq's English template with the item in its language and the instruction to
answer with the option letter.
"""

from __future__ import annotations

from medq.scoring.breakdowns import by_field
from medq.tasks._exam import ExamFormat, register_exam

CITATION = (
    "Ranjbar Kalahroodi, M. J., Sheikholselami, A., Karimi, S., Ranjbar Kalahroodi, S., "
    "Faili, H., & Shakery, A. (2025). PersianMedQA: Evaluating Large Language Models on a "
    "Persian-English Bilingual Medical Question Answering Benchmark. arXiv:2506.00250."
)
_META = {"specialty": "specialty", "year": "year"}

for _language, _suffix in (("fa", ""), ("en", "_en")):
    register_exam(
        f"persianmedqa_{_language}", split="test",
        summary="Iranian residency exam MCQ, 4 options"
                + (" (English translation)" if _language == "en" else ""),
        citation=CITATION, cite_short="Ranjbar Kalahroodi et al. 2025", language=_language,
        spec=ExamFormat(question=f"question{_suffix}", options=f"options{_suffix}",
                        answer="answer", answer_kind="index1", id="id", metadata=_META,
                        fixed={"language": _language, "source": "PersianMedQA"}),
        files=("*test*.parquet", "*test*.jsonl", "*test*.json", "*test*.csv"),
        expects="the PersianMedQA test file (JSON, JSON lines, CSV or parquet) or its folder",
        metrics=(by_field("specialty"),))
