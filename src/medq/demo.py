"""`medq demo`: evaluate on the bundled samples, offline by default.

With no model configured, the demo replays GPT-4's released chain-of-thought answers from
MIRAGE (Xiong et al., Findings of ACL 2024; public domain) through medq's own extractor
and scoring, and says so. With ``MEDQ_MODEL`` set it evaluates that model live.
"""

from __future__ import annotations

from typing import Any

from medq.runner import EvalSpec, evaluate
from medq.store import Store

DEMO_TASKS = ("medqa", "medmcqa", "mmlu_medical", "pubmedqa_noctx")
REPLAY_MODEL = "replay/mirage_gpt-4-32k_cot"


def run_demo(model: str | None, limit: int | None = None) -> tuple[list[dict[str, Any]], str]:
    """Evaluate `model` (or the offline replay) with `cot` on each demo task's sample.

    Returns the run summaries and a sentence saying which model answered.
    """
    if model:
        note = f"Evaluating {model} live on the bundled samples."
    else:
        model = REPLAY_MODEL
        note = (
            "No MEDQ_MODEL set: replaying GPT-4-32k's released MIRAGE chain-of-thought "
            "answers (offline), scored by medq's extractor. Set MEDQ_MODEL=openai/<model> "
            "(and OPENAI_BASE_URL) to evaluate a live model."
        )
    summaries = []
    with Store() as store:
        for task in DEMO_TASKS:
            spec = EvalSpec(task=task, model=model, strategy="cot", sample=True, limit=limit)
            summaries.append(evaluate(spec, store=store).summary)
    return summaries, note
