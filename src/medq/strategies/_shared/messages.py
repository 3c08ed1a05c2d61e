"""Building the messages of every strategy: system text first (byte-identical across items,
so server-side prefix caching works), then the item through a prompt template.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from medq.prompts import question_fields, render, template, template_fields
from medq.strategies._shared.spec import StrategySpecError
from medq.types import (
    GenerationRequest,
    Message,
    Question,
)

if TYPE_CHECKING:
    from medq.retrieval import Passage


def chat(question: Question, prompt: str, *, system: bool = True) -> tuple[Message, ...]:
    """The messages for a multiple-choice prompt template: system text first, then the item.

    The system text comes first and is byte-identical across items, so server-side prefix
    caching works. The question's images go with the user turn.
    """
    if not question.options:
        raise StrategySpecError(
            f"item {question.id!r} is an open-answer item (no options); multiple-choice "
            f"prompt {prompt!r} cannot answer it — use the task's own strategies "
            f"(`medq strategies` lists each strategy's answer kinds)"
        )
    used = template_fields(prompt)
    fields = {k: v for k, v in question_fields(question).items() if k in used}
    user = Message("user", render(prompt, **fields), question.images)
    if not system:
        return (user,)
    return (Message("system", template("system").strip()), user)


def generation_request(
    messages: tuple[Message, ...],
    *,
    seed: int,
    max_tokens: int | None,
    temperature: float = 0.0,
    sample_index: int = 0,
) -> GenerationRequest:
    """A request with medq's defaults for one sampled answer."""
    return GenerationRequest(
        messages,
        temperature=temperature,
        seed=seed,
        max_tokens=max_tokens,
        sample_index=sample_index,
    )


def prompt_messages(question: Question, prompt: str, **extra: str) -> tuple[Message, ...]:
    """System text, then template `prompt` filled with the question fields it names and `extra`.

    Like `medq.strategies.base.chat`, but for the later stages of multi-call strategies,
    whose templates also take earlier outputs (reasoning paths, reports, verdicts) and
    may leave out some question fields (an expert who sees the question without options).
    The system text and each template's fixed instructions come first and are
    byte-identical across items, so server-side prefix caching works.
    """
    text = template(prompt)
    fields = {k: v for k, v in question_fields(question).items() if "{" + k + "}" in text}
    user = Message("user", render(prompt, **fields, **extra), question.images)
    return (Message("system", template("system").strip()), user)


def calc_messages(
    question: Question, system: str, user: str, **system_fields: str
) -> tuple[Message, ...]:
    """The system and user turns of a calculation prompt (the note is the item's context)."""
    fields = {"note": question.context or "", "question": question.stem}
    return (
        Message("system", render(system, **system_fields)),
        Message("user", render(user, **fields)),
    )


def medrag_messages(question: Question, shown: list[Passage]) -> tuple[Message, ...]:
    """MedRAG's two messages for `question` with `shown` as its documents."""
    from medq.retrieval.context import documents_block

    fields = question_fields(question)
    user = render("medrag", documents=documents_block(shown),
                  question=fields["context"] + fields["question"], options=fields["options"])
    return (Message("system", template("medrag_system").strip()), Message("user", user))
