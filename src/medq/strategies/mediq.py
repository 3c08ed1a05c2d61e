"""MediQ: an expert that asks a simulated patient questions until it is confident to answer.

Li, S. S., Balachandran, V., Feng, S., Ilgen, J. S., Pierson, E., Koh, P. W., & Tsvetkov, Y.
(2024). MediQ: Question-Asking LLMs and a Benchmark for Reliable Interactive Clinical
Reasoning. NeurIPS 2024.

The expert starts from the case's initial information. Each turn it decides, by its
abstention rule, whether it can answer; if not, it asks one atomic question, and the
patient (`medq.interactive.patient`, played by the run's ``patient`` role model) replies.
After `max_questions` questions a final answer is forced (a *timeout*). Abstention rules:

- ``basic``: one reply that is a choice or a question (the confidence is the share of
  choices among the self-consistency samples);
- ``fixed``: always ask, until `max_questions`;
- ``binary`` (yes / no), ``numerical`` (a probability), ``scale`` (a five-point rating,
  as r / 5): a confidence estimate, averaged over `self_consistency` samples; the expert
  answers when it is at least `threshold`. An unread estimate counts as not confident.

Every reply is one JSON object (`medq.interactive.replies`); each call stands alone (the
case block: initial information, the conversation so far, the question and options, the
task). Unless `intermediate` is off, the expert also gives its current choice before each
question, for accuracy as a function of the turn. The answer's reading (`medq.scoring.mediq`)
holds the dialogue, so ``medq rescore`` needs no call.

``condition`` gives the paper's reference points, paired by item: ``full`` answers at once
from the whole case (upper bound), ``initial`` from the initial information only (lower
bound); each is one call, the same request as a dialogue stopped before its first question.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import fmean
from typing import TYPE_CHECKING, Any

from medq.interactive import patient as patients
from medq.interactive.case import Case, case_of
from medq.interactive.replies import read_confidence, read_decision, read_question
from medq.models.base import Model
from medq.prompts import format_options, render, template, template_fields
from medq.registry import strategies
from medq.scoring.readings import leaf, read_leaf
from medq.strategies._shared.fanout import gather_or_cancel, majority_vote
from medq.strategies._shared.messages import generation_request
from medq.strategies._shared.params import Count, MaxTokens, Probability, Size, Temperature
from medq.strategies._shared.spec import StrategySpecError
from medq.strategies.base import Strategy
from medq.types import Answer, Completion, Message, Question

if TYPE_CHECKING:
    from medq.tasks.base import Task

ABSTAIN = ("basic", "fixed", "binary", "numerical", "scale")
CONDITIONS = ("full", "initial", "interactive")
CALLS_PER_ITEM = "per question n + 3 (n confidence samples, choice, question, patient), " \
    "then n + 1; 1 for full / initial"
PROMPTS = ("mediq_system", "mediq_case", "mediq_basic", "mediq_binary", "mediq_numerical",
           "mediq_scale", "mediq_choice", "mediq_question", "mediq_rationale",
           *patients.PROMPTS)
ACCEPTS = ("choice",)


@dataclass
class _Turn:
    """What the expert concluded at one turn."""

    confidence: float | None
    final: Completion | None = None
    question: str | None = None
    choice: Completion | None = None
    unread: bool = False


@dataclass
class _Expert:
    """The expert's calls for one item; `history` is the conversation so far."""

    question: Question
    model: Model
    information: str
    seed: int
    temperature: float
    max_tokens: int | None
    rationale: bool
    history: list[tuple[str, str]] = field(default_factory=list)
    calls: int = 0

    async def ask(self, prompt: str, sample_index: int = 0) -> Completion:
        fields = {"rationale": " " + render("mediq_rationale") if self.rationale else ""}
        if "letters" in template_fields(prompt):
            fields["letters"] = ", ".join(self.question.options)
        conversation = "\n".join(f"Doctor: {q}\nPatient: {' '.join(a.splitlines())}"
                                 for q, a in self.history) or "(nothing asked yet)"
        user = render("mediq_case", information=self.information or "(nothing)",
                      conversation=conversation, question=self.question.stem,
                      options=format_options(self.question.options), task=render(prompt, **fields))
        messages = (Message("system", template("mediq_system").strip()), Message("user", user))
        self.calls += 1
        return await self.model.complete(generation_request(
            messages, seed=self.seed, max_tokens=self.max_tokens,
            temperature=self.temperature, sample_index=sample_index))

    async def samples(self, prompt: str, n: int) -> list[Completion]:
        return await gather_or_cancel(*(self.ask(prompt, i) for i in range(n)))


async def _basic(expert: _Expert, n: int, threshold: float, intermediate: bool) -> _Turn:
    replies = await expert.samples("mediq_basic", n)
    decisions = [read_decision(r.generations[0].text, expert.question.options) for r in replies]
    read = [d for d in decisions if d.kind is not None]
    letters = [d.choice for d in decisions if d.kind == "choice"]
    confidence = len(letters) / len(read) if read else None
    if letters and confidence is not None and confidence >= threshold:
        winner, _, _ = majority_vote(letters, list(expert.question.options))
        final = next(r for r, d in zip(replies, decisions, strict=True) if d.choice == winner)
        return _Turn(confidence, final=final)
    asked = next((d.question for d in decisions if d.kind == "question"), None)
    if asked is None:  # no sample asked anything readable: ask for the question itself
        asked = read_question((await expert.ask("mediq_question")).generations[0].text)
    choice = await expert.ask("mediq_choice") if intermediate else None
    return _Turn(confidence, question=asked, choice=choice, unread=not read)


async def _estimated(expert: _Expert, abstain: str, n: int, threshold: float,
                     intermediate: bool) -> _Turn:
    confidence = None
    if abstain != "fixed":
        replies = await expert.samples(f"mediq_{abstain}", n)
        values = [read_confidence(r.generations[0].text, abstain) for r in replies]
        stated = [v for v in values if v is not None]
        confidence = fmean(stated) if stated else None
    confident = confidence is not None and confidence >= threshold
    choice = await expert.ask("mediq_choice") if confident or intermediate else None
    if confident:
        return _Turn(confidence, final=choice)
    asked = read_question((await expert.ask("mediq_question")).generations[0].text)
    return _Turn(confidence, question=asked, choice=choice,
                 unread=abstain != "fixed" and confidence is None)


@strategies.register(prompts=PROMPTS, calls_per_item=CALLS_PER_ITEM, accepts=ACCEPTS,
                     conditions=CONDITIONS)
def mediq(
    *,
    abstain: str = "scale",
    threshold: Probability = 0.8,
    self_consistency: Count = 1,
    rationale: bool = False,
    max_questions: Size = 30,
    intermediate: bool = True,
    patient: str = "factselect",
    condition: str = "interactive",
    temperature: Temperature = 0.6,
    max_tokens: MaxTokens = 256,
    patient_max_tokens: MaxTokens = 200,
    seed: int = 0,
    task: Task | None = None,
) -> Strategy:
    """Ask the patient until confident (MediQ); the abstention rule decides when.

    Args:
        abstain: the abstention rule: basic, fixed, binary, numerical or scale.
        threshold: the confidence (on 0..1) at which the expert answers.
        self_consistency: samples of each confidence estimate (or basic decision), averaged.
        rationale: ask for a one-sentence rationale in every expert reply.
        max_questions: questions at most; then a final answer is forced (a timeout).
        intermediate: ask for the current choice before each question (accuracy by turn).
        patient: the patient variant: factselect, instruct, direct or random.
        condition: interactive, or the reference full (whole case) or initial (first
            sentence only), each answered at once.
        temperature: sampling temperature of the expert's calls (the release's 0.6).
        max_tokens: completion limit of the expert's calls (the release's 256).
        patient_max_tokens: completion limit of the patient's calls.
        seed: sent with every call; also seeds the random patient.
        task: the evaluated task (its items must be interactive cases: checked before
            any call).
    """
    for name, value, allowed in (("abstain", abstain, ABSTAIN), ("patient", patient,
                                 patients.VARIANTS), ("condition", condition, CONDITIONS)):
        if value not in allowed:
            raise StrategySpecError(
                f"strategy 'mediq': {name} must be one of {', '.join(allowed)}, not {value!r}")
    if task is not None and task.questions:
        case_of(task.questions[0])  # a task of other items fails here, before any call

    async def solve(question: Question, model: Model) -> Answer:
        case = case_of(question)
        information = case.paragraph if condition == "full" else case.initial
        expert = _Expert(question, model, information, seed, temperature, max_tokens,
                         rationale)
        if condition != "interactive":
            final = await expert.ask("mediq_choice")
            return _answer(question, final, condition, [], "reference", None,
                           {"expert": expert.calls, "patient": 0})
        return await _consult(question, case, expert, model)

    async def _consult(question: Question, case: Case, expert: _Expert, model: Model) -> Answer:
        role = getattr(model, "role", None)  # a bare Model (no run) plays the patient itself
        played_by = role("patient") if role is not None else model
        sim = patients.make_patient(patient, case, played_by, seed=seed,
                                    item_id=question.id, max_tokens=patient_max_tokens)
        turns: list[dict[str, Any]] = []
        patient_calls = 0
        confidence = None
        while True:
            if len(turns) == max_questions:
                final, stop = await expert.ask("mediq_choice"), "max_questions"
                break
            if abstain == "basic":
                turn = await _basic(expert, self_consistency, threshold, intermediate)
            else:
                turn = await _estimated(expert, abstain, self_consistency, threshold,
                                        intermediate)
            confidence = turn.confidence
            if turn.final is not None:
                final, stop = turn.final, "confident"
                break
            if turn.question is None:  # nothing to ask: the expert's current choice stands
                final, stop = turn.choice or await expert.ask("mediq_choice"), "no_question"
                break
            reply = await sim.answer(turn.question, len(turns) + 1)
            patient_calls += reply.calls
            expert.history.append((turn.question, reply.text))
            turns.append({
                "question": turn.question, "reply": reply.text, "refused": reply.refused,
                "confidence": confidence, "unread": turn.unread, "dropped": reply.dropped,
                "choice_text": turn.choice.generations[0].text if turn.choice else None,
            })
        return _answer(question, final, "interactive", turns, stop, confidence,
                       {"expert": expert.calls, "patient": patient_calls},
                       patient=patient, abstain=abstain, intermediate=intermediate)

    return solve


def _answer(question: Question, final: Completion, condition: str, turns: list[dict[str, Any]],
            stop: str, confidence: float | None, calls: dict[str, int], *,
            patient: str | None = None, abstain: str | None = None,
            intermediate: bool = False) -> Answer:
    """The final answer, read by the ``mediq`` reader with the dialogue as its arguments."""
    reading = leaf("mediq", final, options=[[k, v] for k, v in question.options.items()],
                   condition=condition, patient=patient, abstain=abstain, turns=turns,
                   stop=stop, confidence=confidence, calls=calls, intermediate=intermediate)
    return read_leaf(reading, final.generations[0])
