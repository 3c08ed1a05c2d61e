"""Verification of choice: verify every option in turn, then decide given all verifications.

Li et al., "From Beginner to Expert: Modeling Medical Knowledge into General LLMs"
(AntGLM-Med technical report, arXiv:2312.01040, 2023), which proposes Verification-of-Choice
prompting for medical multiple-choice questions.

One call per option asks whether that option is the correct answer (reasoning, then
``Verdict: correct`` / ``Verdict: incorrect``); the verifications run concurrently. A final
call sees the question and every verification, in option order, and states the answer,
which is extracted as usual (unparseable means invalid; the verdicts are never used as a
fallback). Calls per item: number of options + 1. The paper's exact prompts were not
available to us: the prompts here are our own and follow the description above, not a
published template.
"""

from __future__ import annotations

from dataclasses import replace

from medq.models.base import Model
from medq.registry import strategies
from medq.strategies._shared.answers import answer_from
from medq.strategies._shared.fanout import gather_or_cancel
from medq.strategies._shared.messages import generation_request, prompt_messages
from medq.strategies._shared.params import MaxTokens
from medq.strategies._shared.verdicts import parse_verdict
from medq.strategies.base import Strategy
from medq.types import Answer, Completion, Question

CALLS_PER_ITEM = "options + 1"
PROMPTS = ("system", "verification_of_choice_verify", "verification_of_choice_decide")
ACCEPTS = ("choice",)


@strategies.register(prompts=PROMPTS, calls_per_item=CALLS_PER_ITEM, accepts=ACCEPTS)
def verification_of_choice(*, seed: int = 0, max_tokens: MaxTokens = None) -> Strategy:
    """Verify each option (one call each, temperature 0), then decide (one call).

    Args:
        seed: sent with every request for servers that honour it.
        max_tokens: completion limit per call (server default when None).
    """

    async def verify(question: Question, model: Model, letter: str) -> Completion:
        messages = prompt_messages(
            question,
            "verification_of_choice_verify",
            letter=letter,
            option=question.options[letter],
        )
        return await model.complete(generation_request(messages, seed=seed, max_tokens=max_tokens))

    async def solve(question: Question, model: Model) -> Answer:
        letters = list(question.options)
        checks = await gather_or_cancel(*(verify(question, model, x) for x in letters))
        texts = [c.generations[0].text for c in checks]
        verifications = "\n\n".join(
            f"Option {x}. {question.options[x]}\n{text.strip()}"
            for x, text in zip(letters, texts, strict=True)
        )
        messages = prompt_messages(
            question, "verification_of_choice_decide", verifications=verifications
        )
        answer = answer_from(
            await model.complete(generation_request(messages, seed=seed, max_tokens=max_tokens)),
            question,
        )
        verdicts = {
            x: parse_verdict(text, yes=["correct"], no=["incorrect"])
            for x, text in zip(letters, texts, strict=True)
        }
        truncated = answer.truncated or any(c.generations[0].truncated for c in checks)
        return replace(
            answer, truncated=truncated, details={**answer.details, "verdicts": verdicts}
        )

    return solve
