"""Multi-persona: expert personas answer, debate over rounds, and a senior expert decides.

Wang et al., "Unleashing the Emergent Cognitive Synergy in Large Language Models: A
Task-Solving Agent through Multi-Persona Self-Collaboration" (NAACL 2024), as run in the
MedAgentsBench baselines (Tang et al., "MedAgentsBench: Benchmarking Thinking Models and
Agent Frameworks for Complex Medical Reasoning", 2025; `multipersona-2`).

We follow the MedAgentsBench baseline, not the original paper: Wang et al.'s Solo
Performance Prompting is *one* call in which the model simulates several personas, while
MedAgentsBench runs three fixed personas as separate calls over `rounds` debate rounds
(from round two each persona sees the others' previous answers) and then asks a senior
expert to decide. Calls per item: personas x rounds + 1 = 7 at the defaults; the personas
of a round run concurrently; all calls at temperature 0. MedAgentsBench also parses every
response with an extra LLM call; medq uses its extractor on the final decision.
"""

from __future__ import annotations

from dataclasses import replace

from medq.models.base import Model
from medq.registry import strategies
from medq.scoring.extract import extract_choice
from medq.strategies._shared.answers import answer_from
from medq.strategies._shared.fanout import gather_or_cancel
from medq.strategies._shared.messages import generation_request, prompt_messages
from medq.strategies._shared.params import Count, MaxTokens
from medq.strategies.base import Strategy
from medq.types import Answer, Completion, Question

CALLS_PER_ITEM = "personas × rounds + 1 = 7"
PROMPTS = ("system", "multi_persona_initial", "multi_persona_debate", "multi_persona_final")
ACCEPTS = ("choice",)

PERSONAS = (
    "Innovative Medical Thinker (MD)",
    "Critical Medical Analyst (Medical Professor)",
    "Clinical Decision Specialist (Medical Researcher)",
)


@strategies.register(prompts=PROMPTS, calls_per_item=CALLS_PER_ITEM, accepts=ACCEPTS)
def multi_persona(*, rounds: Count = 2, seed: int = 0, max_tokens: MaxTokens = None) -> Strategy:
    """Three expert personas debate for `rounds` rounds; a senior expert decides.

    Args:
        rounds: debate rounds (1 = independent answers only).
        seed: sent with every request for servers that honour it.
        max_tokens: completion limit per call (server default when None).
    """
    if rounds < 1:
        raise ValueError("multi_persona needs rounds >= 1")

    async def speak(
        question: Question, model: Model, i: int, previous: list[str] | None
    ) -> Completion:
        role = PERSONAS[i]
        if previous is None:
            messages = prompt_messages(question, "multi_persona_initial", role=role)
        else:
            peers = "\n\n".join(
                f"{PERSONAS[j]}:\n{text.strip()}" for j, text in enumerate(previous) if j != i
            )
            messages = prompt_messages(question, "multi_persona_debate", role=role, peers=peers)
        return await model.complete(generation_request(messages, seed=seed, max_tokens=max_tokens))

    async def solve(question: Question, model: Model) -> Answer:
        previous: list[str] | None = None
        truncated = False
        history: list[list[str | None]] = []
        for _ in range(rounds):
            replies = await gather_or_cancel(
                *(speak(question, model, i, previous) for i in range(len(PERSONAS)))
            )
            previous = [r.generations[0].text for r in replies]
            truncated = truncated or any(r.generations[0].truncated for r in replies)
            history.append([extract_choice(t, question.options).choice for t in previous])
        assert previous is not None
        panel = "\n\n".join(
            f"{role}:\n{text.strip()}" for role, text in zip(PERSONAS, previous, strict=True)
        )
        final = await model.complete(
            generation_request(
                prompt_messages(question, "multi_persona_final", panel=panel),
                seed=seed,
                max_tokens=max_tokens,
            )
        )
        answer = answer_from(final, question)
        return replace(
            answer,
            truncated=truncated or answer.truncated,
            details={**answer.details, "rounds": history},
        )

    return solve
