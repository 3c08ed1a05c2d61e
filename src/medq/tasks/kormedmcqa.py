"""KorMedMCQA: Korean healthcare licensing exams for doctors, nurses, pharmacists, dentists.

Kweon, S., Choi, B., Chu, G., Song, J., Hyeon, D., Gan, S., ... & Choi, E. (2024).
KorMedMCQA: Multi-Choice Question Answering Benchmark for Korean Healthcare Professional
Licensing Examinations. arXiv:2403.01469. https://huggingface.co/datasets/sean0042/KorMedMCQA
(CC BY-NC 2.0)

Tasks ``kormedmcqa_<profession>`` (``doctor``, ``nurse``, ``pharm``, ``dentist``): the
test split, five options (columns ``A``-``E``), ``answer`` 1-5, with ``subject``, ``year``
and ``period`` kept (``by_year`` is a metric). Parquet rows from ``--data`` (the file, or
the repository folder holding ``<profession>/test-*.parquet``); the doctor test file is
pinned at a revision of the Hub repository (sean0042/KorMedMCQA @ fe998000, its file name
as listed there; not downloaded while this was written). The prompt is medq's English
template with the Korean item and the instruction to answer with the option letter.
"""

from __future__ import annotations

from medq.hub import HubFile
from medq.scoring.breakdowns import by_field
from medq.tasks._exam import ExamFormat, register_exam

CITATION = (
    "Kweon, S., Choi, B., Chu, G., Song, J., Hyeon, D., Gan, S., Kim, J., Kim, M., Park, R. "
    "W., & Choi, E. (2024). KorMedMCQA: Multi-Choice Question Answering Benchmark for Korean "
    "Healthcare Professional Licensing Examinations. arXiv:2403.01469."
)
REPO = "sean0042/KorMedMCQA"
REVISION = "fe998000e976f39211ed69c76830e9e6d2daa7ff"
HUB = {"doctor": (HubFile(REPO, "doctor/test-00000-of-00001-a16785256f5f42b8.parquet",
                          REVISION),)}
PROFESSIONS = ("doctor", "nurse", "pharm", "dentist")

for _profession in PROFESSIONS:
    register_exam(
        f"kormedmcqa_{_profession}", split="test",
        summary=f"Korean {_profession} licensing exam, 5 options",
        citation=CITATION, cite_short="Kweon et al. 2024", language="ko",
        spec=ExamFormat(question="question", options=("A", "B", "C", "D", "E"),
                        answer="answer", answer_kind="index1",
                        metadata={"subject": "subject", "year": "year", "period": "period",
                                  "exam_number": "q_number"},
                        fixed={"language": "ko", "source": "KorMedMCQA",
                               "profession": _profession}),
        files=(f"{_profession}/test-*.parquet", "test-*.parquet", "*.parquet"),
        hub=HUB.get(_profession, ()),
        expects=f"{_profession}/test-*.parquet of KorMedMCQA (or the repository folder)",
        metrics=(by_field("year"),))
