"""The simulated patient of an interactive consultation, in the four variants of MediQ.

Li et al., NeurIPS 2024 (MediQ), section 3 (patient system):

- ``direct``: a model that sees only the initial information and answers from it.
- ``instruct``: a model that sees the whole case and answers, or says the fixed refusal
  sentence `REFUSAL` when the case does not answer the question.
- ``factselect`` (the paper's main setting): a model that sees the case's atomic facts and
  returns those that answer the question, verbatim, else `REFUSAL`. medq enforces the
  "verbatim": each line of the model's reply counts only when it is one of the facts
  (ignoring list numbering, quotes, case, spacing and a final full stop), and what the
  expert hears is the facts' own text; a reply with no such line is the refusal. An item
  without atomic facts gets them from the model first, with one call.
- ``random``: no model; the refusal or a random sentence of the case, half and half (for
  smoke tests), drawn by `medq.seeds.item_rng` from the seed, the item and the turn.

The patient answers each question on its own (it keeps no memory of the dialogue), so a
question asked again gets the same, cached, answer. Every model call goes through the
model it is given (the run's ``patient`` role), so it is stored, cached and resumable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from medq.interactive.case import Case, strip_marker
from medq.models.base import Model
from medq.prompts import render, template
from medq.scoring.extract import strip_reasoning
from medq.seeds import item_rng
from medq.strategies._shared.spec import StrategySpecError
from medq.types import GenerationRequest, Message

REFUSAL = "The patient cannot answer this question, please do not ask this question again."
"""The fixed sentence a patient says when the case does not answer a question (MediQ's)."""
VARIANTS = ("direct", "instruct", "factselect", "random")
PROMPTS = ("mediq_patient_system", "mediq_patient_direct", "mediq_patient_instruct",
           "mediq_patient_factselect", "mediq_patient_facts")
"""Every prompt a patient renders (an expert strategy declares them as its own)."""
_LABELS = ("statements:", "statement:", "facts:", "answer:")


@dataclass(frozen=True)
class PatientReply:
    """What the patient said to one question.

    Attributes:
        text: what the expert hears.
        refused: the reply is the fixed refusal sentence.
        calls: model calls the reply took (0 for ``random``, or a ``factselect`` patient
            with no facts at all).
        dropped: lines of a ``factselect`` reply that were not one of the facts.
    """

    text: str
    refused: bool
    calls: int = 1
    dropped: int = 0


class Patient(Protocol):
    """Answers the expert's questions about one case."""

    async def answer(self, question: str, turn: int) -> PatientReply:
        """The reply to `question`, asked at `turn` (1 for the first question)."""
        ...


def is_refusal(text: str) -> bool:
    """True when `text` is the refusal sentence (quotes, case and spacing aside)."""
    return _norm(text) == _norm(REFUSAL)


def _norm(text: str) -> str:
    text = strip_marker(text).strip().strip("\"'`*_").strip()
    return " ".join(text.split()).casefold().rstrip(" .")


def fact_index(facts: Sequence[str]) -> dict[str, int]:
    """Each fact's matching form -> its index (the first, for a fact stated twice)."""
    index: dict[str, int] = {}
    for i, fact in enumerate(facts):
        index.setdefault(_norm(fact), i)
    return index


def select_facts(reply: str, facts: Sequence[str] | Mapping[str, int]) -> tuple[list[int], int]:
    """(indices of the facts `reply` states verbatim, in the reply's order; the number of
    its other non-empty lines). A refusal line is neither. `facts` may be a `fact_index`."""
    index = facts if isinstance(facts, Mapping) else fact_index(facts)
    body, _ = strip_reasoning(reply)
    chosen: list[int] = []
    dropped = 0
    for line in body.splitlines():
        line = line.strip()
        for label in _LABELS:
            if line.casefold().startswith(label):
                line = line[len(label):].strip()
        if not line or is_refusal(line):
            continue
        found = index.get(_norm(line))
        if found is None:
            dropped += 1
        elif found not in chosen:
            chosen.append(found)
    return chosen, dropped


class _ModelPatient:
    """The shared part of the model-played variants: one request per question."""

    def __init__(self, model: Model, *, seed: int, max_tokens: int | None) -> None:
        self.model = model
        self.seed = seed
        self.max_tokens = max_tokens

    async def ask(self, prompt: str, max_tokens: int | None = None, **fields: str) -> str:
        messages = (Message("system", template("mediq_patient_system").strip()),
                    Message("user", render(prompt, **fields)))
        request = GenerationRequest(messages, temperature=0.0, seed=self.seed,
                                    max_tokens=max_tokens or self.max_tokens)
        completion = await self.model.complete(request)
        return strip_reasoning(completion.generations[0].text)[0].strip()


class DirectPatient(_ModelPatient):
    """Answers from the initial information only."""

    def __init__(self, case: Case, model: Model, **kwargs: int | None) -> None:
        super().__init__(model, **kwargs)  # type: ignore[arg-type]
        self.case = case

    async def answer(self, question: str, turn: int) -> PatientReply:
        text = await self.ask("mediq_patient_direct", information=self.case.initial,
                              question=question)
        return PatientReply(REFUSAL if is_refusal(text) else text, is_refusal(text))


class InstructPatient(DirectPatient):
    """Answers from the whole case, or says the refusal sentence."""

    async def answer(self, question: str, turn: int) -> PatientReply:
        text = await self.ask("mediq_patient_instruct", case=self.case.paragraph,
                              question=question, refusal=REFUSAL)
        return PatientReply(REFUSAL if is_refusal(text) else text, is_refusal(text))


class FactSelectPatient(DirectPatient):
    """Returns the atomic facts that answer the question, verbatim, else the refusal."""

    FACTS_MAX_TOKENS = 1024

    def __init__(self, case: Case, model: Model, **kwargs: int | None) -> None:
        super().__init__(case, model, **kwargs)
        self.facts = case.facts
        self._index: dict[str, int] | None = None
        self._listing = ""

    async def answer(self, question: str, turn: int) -> PatientReply:
        extra = 0
        if self.facts is None:
            # The release derives facts with the patient's model when an item has none.
            reply = await self.ask("mediq_patient_facts", self.FACTS_MAX_TOKENS,
                                   case=self.case.paragraph)
            self.facts = tuple(f for f in map(strip_marker, reply.splitlines()) if f)
            extra = 1
        facts = self.facts
        if not facts:
            return PatientReply(REFUSAL, True, calls=extra)
        if self._index is None:
            self._index = fact_index(facts)
            self._listing = "\n".join(f"{i}. {fact}" for i, fact in enumerate(facts, start=1))
        reply = await self.ask("mediq_patient_factselect", facts=self._listing,
                               question=question, refusal=REFUSAL)
        chosen, dropped = select_facts(reply, self._index)
        if not chosen:
            return PatientReply(REFUSAL, True, calls=1 + extra, dropped=dropped)
        return PatientReply("\n".join(facts[i] for i in chosen), False, calls=1 + extra,
                            dropped=dropped)


class RandomPatient:
    """No model: the refusal or a random sentence of the case, with equal chance."""

    def __init__(self, case: Case, *, seed: int, item_id: str) -> None:
        self.case = case
        self.seed = seed
        self.item_id = item_id

    async def answer(self, question: str, turn: int) -> PatientReply:
        rng = item_rng(self.seed, self.item_id, f"patient:{turn}")
        if rng.random() < 0.5 or not self.case.sentences:
            return PatientReply(REFUSAL, True, calls=0)
        return PatientReply(rng.choice(self.case.sentences), False, calls=0)


def make_patient(variant: str, case: Case, model: Model, *, seed: int, item_id: str,
                 max_tokens: int | None) -> Patient:
    """The patient `variant` (one of `VARIANTS`) for one case, played by `model`.

    Raises:
        StrategySpecError: an unknown variant.
    """
    if variant == "random":
        return RandomPatient(case, seed=seed, item_id=item_id)
    kinds = {"direct": DirectPatient, "instruct": InstructPatient,
             "factselect": FactSelectPatient}
    if variant not in kinds:
        raise StrategySpecError(f"patient must be one of {', '.join(VARIANTS)}, not {variant!r}")
    return kinds[variant](case, model, seed=seed, max_tokens=max_tokens)
