"""MedAgents: domain experts analyse, a report is synthesised, revised to consensus, decided.

Tang et al., "MedAgents: Large Language Models as Collaborators for Zero-shot Medical
Reasoning" (Findings of ACL 2024); the `syn_verif` method of their code, as also run in
MedAgentsBench (Tang et al. 2025).

1. Expert gathering: one call names `question_experts` fields for the question, one names
   `option_experts` fields for the options (run concurrently).
2. Analyses: one call per question expert (question only), then one per option expert
   (question, options and the question experts' analyses).
3. Report: one call synthesises all analyses into a report.
4. Consensus, up to `max_rounds` rounds: every expert votes YES/NO on the report (one call
   each); each NO voter then proposes revisions (one more call); when anyone disagreed, one
   call revises the report. A round where all agree ends the loop.
5. Decision: one call answers from the final report.

Calls per item, with q question and o option experts and all experts agreeing in round r:
2 + q + o + 1 + (r - 1) x (q + o + advice + 1) + (q + o) + 1; at the defaults (q=5, o=2,
max_rounds=3) that is 18 when all agree at once and at most 56. All calls at temperature 0.
Differences from the released code: expert lists are cut or padded ("General Medicine")
to exactly q and o fields, so the cost is predictable; an unparseable vote counts as NO
(consensus needs an explicit YES); the question and options are shown to the voters, the
reviser and the decider (the original passes them inside the report); prompts are
paraphrased; the final decision asks for "Answer: X" and goes through medq's extractor.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from medq.models.base import Model
from medq.registry import strategies
from medq.strategies._shared.answers import answer_from
from medq.strategies._shared.fanout import gather_or_cancel
from medq.strategies._shared.messages import generation_request, prompt_messages
from medq.strategies._shared.params import Count, MaxTokens
from medq.strategies._shared.verdicts import parse_fields, parse_verdict
from medq.strategies.base import Strategy
from medq.types import Answer, Completion, Question

CALLS_PER_ITEM = "18–56 (q=5, o=2 experts; 7 votes ≤ 3 rounds)"
PROMPTS = (
    "system",
    "medagents_question_domains",
    "medagents_option_domains",
    "medagents_question_analysis",
    "medagents_option_analysis",
    "medagents_synthesis",
    "medagents_vote",
    "medagents_advice",
    "medagents_revision",
    "medagents_decision",
)
ACCEPTS = ("choice",)


@dataclass(frozen=True)
class _Vote:
    expert: str
    agrees: bool
    advice: str | None


@strategies.register(prompts=PROMPTS, calls_per_item=CALLS_PER_ITEM, accepts=ACCEPTS)
def medagents(
    *,
    question_experts: Count = 5,
    option_experts: Count = 2,
    max_rounds: Count = 3,
    seed: int = 0,
    max_tokens: MaxTokens = None,
) -> Strategy:
    """Multi-expert collaboration (MedAgents `syn_verif`).

    Args:
        question_experts: fields named for the question (one analysis each).
        option_experts: fields named for the options (one analysis each).
        max_rounds: most voting rounds on the report.
        seed: sent with every request for servers that honour it.
        max_tokens: completion limit per call (server default when None).
    """
    if question_experts < 1 or option_experts < 1 or max_rounds < 1:
        raise ValueError("medagents needs at least one expert of each kind and one round")

    async def solve(question: Question, model: Model) -> Answer:
        truncated = False

        async def call(prompt: str, **extra: str) -> Completion:
            nonlocal truncated
            messages = prompt_messages(question, prompt, **extra)
            completion = await model.complete(
                generation_request(messages, seed=seed, max_tokens=max_tokens)
            )
            truncated = truncated or completion.generations[0].truncated
            return completion

        async def ask(prompt: str, **extra: str) -> str:
            return (await call(prompt, **extra)).generations[0].text

        async def review(expert: str, report: str) -> _Vote:
            vote = await ask("medagents_vote", domain=expert, report=report)
            if parse_verdict(vote, yes=["yes"], no=["no"]):
                return _Vote(expert, True, None)
            return _Vote(expert, False, await ask("medagents_advice", domain=expert, report=report))

        q_text, o_text = await gather_or_cancel(
            ask("medagents_question_domains", count=str(question_experts)),
            ask("medagents_option_domains", count=str(option_experts)),
        )
        q_fields = parse_fields(q_text, question_experts)
        o_fields = parse_fields(o_text, option_experts)
        q_analyses = await gather_or_cancel(
            *(ask("medagents_question_analysis", domain=f) for f in q_fields)
        )
        q_block = _labelled(q_fields, q_analyses)
        o_analyses = await gather_or_cancel(
            *(ask("medagents_option_analysis", domain=f, analyses=q_block) for f in o_fields)
        )
        report = await ask(
            "medagents_synthesis", analyses=q_block + "\n\n" + _labelled(o_fields, o_analyses)
        )
        rounds: list[dict[str, list[str]]] = []
        for _ in range(max_rounds):
            votes = await gather_or_cancel(*(review(e, report) for e in q_fields + o_fields))
            rounds.append(
                {
                    "agree": [v.expert for v in votes if v.agrees],
                    "disagree": [v.expert for v in votes if not v.agrees],
                }
            )
            if all(v.agrees for v in votes):
                break
            advice = _labelled(
                [v.expert for v in votes if v.advice is not None],
                [v.advice for v in votes if v.advice is not None],
            )
            report = await ask("medagents_revision", report=report, advice=advice)
        answer = answer_from(await call("medagents_decision", report=report), question)
        details = {
            **answer.details,
            "question_experts": q_fields,
            "option_experts": o_fields,
            "rounds": rounds,
            "consensus": not rounds[-1]["disagree"],
        }
        return replace(answer, truncated=truncated, details=details)

    return solve


def _labelled(experts: list[str], texts: list[str]) -> str:
    return "\n\n".join(f"{e} expert:\n{t.strip()}" for e, t in zip(experts, texts, strict=True))
