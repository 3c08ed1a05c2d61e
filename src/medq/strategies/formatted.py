"""A multiple-choice prompt assembled from a small format grammar (format sensitivity).

Jeong et al., "Medical Adaptation of Large Language and Vision-Language Models: Are We
Making Progress?" (EMNLP 2024): once each model is given its best prompt format and
few-shot draw, medical fine-tunes win only 12% of comparisons. Sclar et al., "Quantifying
Language Models' Sensitivity to Spurious Features in Prompt Design" (ICLR 2024) give the
grammar's idea: separators, option layout and casing vary, the content does not. Each
parameter is one axis of the grammar; `medq tune-prompt` samples formats and keeps the best
on dev items. The text a format renders is fixed by its parameters, which are part of the
run's identity.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from medq.models.base import Model
from medq.registry import strategies
from medq.strategies._shared.answers import answer_from
from medq.strategies._shared.exemplars import ExemplarSelector, resolve_pool
from medq.strategies._shared.messages import generation_request
from medq.strategies._shared.params import MaxTokens, Size
from medq.strategies._shared.spec import StrategySpecError
from medq.strategies.base import Strategy
from medq.types import Answer, Message, Question

if TYPE_CHECKING:
    from medq.tasks.base import Task

CALLS_PER_ITEM = 1
PROMPTS = ()  # the text is built from the parameters below, which the identity records
ACCEPTS = ("choice",)

LAYOUTS = {"dot": "{k}. {v}", "paren": "({k}) {v}", "bracket": "[{k}] {v}",
           "colon": "{k}: {v}", "dash": "{k} - {v}"}
SEPARATORS = {"newline": "\n", "blank": "\n\n", "space": " "}
PREFIXES = {"question": "Question: ", "q": "Q: ", "bare": "", "case": "Case: "}
OPTION_HEADERS = {"options": "Options:", "choices": "Choices:", "bare": ""}
INSTRUCTIONS = {
    "letter": "Reply with the letter of the correct option ({letters}) only.",
    "answer_line": "End your reply with a line 'Answer: X', X being one of {letters}.",
    "best": "Which option is best? Give its letter ({letters}).",
    "json": 'Reply with JSON: {{"answer": "<one of {letters}>"}}',
}
SYSTEMS = {
    "expert": "You are a medical expert answering multiple-choice questions accurately.",
    "doctor": "You are a careful physician.",
    "bare": "",
}
AXES = {"layout": LAYOUTS, "separator": SEPARATORS, "prefix": PREFIXES,
        "header": OPTION_HEADERS, "instruction": INSTRUCTIONS, "system": SYSTEMS}


def render_format(question: Question, *, layout: str, separator: str, prefix: str,
                  header: str, instruction: str) -> str:
    """The user turn of one item in one format."""
    sep = SEPARATORS[separator]
    options = "\n".join(LAYOUTS[layout].format(k=k, v=v) for k, v in question.options.items())
    parts = []
    if question.context:
        parts.append(f"Context: {question.context}")
    parts.append(PREFIXES[prefix] + question.stem)
    parts.append((OPTION_HEADERS[header] + "\n" if OPTION_HEADERS[header] else "") + options)
    parts.append(INSTRUCTIONS[instruction].format(letters=", ".join(question.options)))
    return sep.join(parts)


@strategies.register(prompts=PROMPTS, calls_per_item=CALLS_PER_ITEM, accepts=ACCEPTS)
def formatted(
    *,
    layout: str = "dot",
    separator: str = "blank",
    prefix: str = "question",
    header: str = "options",
    instruction: str = "letter",
    system: str = "expert",
    shots: Size = 0,
    pool: str | None = None,
    pool_data: str | None = None,
    seed: int = 0,
    max_tokens: MaxTokens = None,
    task: Task | None = None,
) -> Strategy:
    """One call with the prompt format these axes describe (see `medq tune-prompt`).

    Args:
        layout: how an option is written: ``dot`` (A. x), ``paren``, ``bracket``,
            ``colon`` or ``dash``.
        separator: between the prompt's parts: ``newline``, ``blank`` or ``space``.
        prefix: before the stem: ``question``, ``q``, ``case`` or ``bare`` (nothing).
        header: above the options: ``options``, ``choices`` or ``bare`` (nothing).
        instruction: how the answer is asked for: ``letter``, ``answer_line``, ``best``
            or ``json``.
        system: the system prompt: ``expert``, ``doctor`` or ``bare`` (none).
        shots: exemplars drawn at random (seeded per item) from the pool, answered with
            their gold letter in the same format.
        pool: the task exemplars come from (default: derived from the evaluated task).
        pool_data: files of the pool's release (default: beside the evaluated task's).
        seed: seeds the exemplar draw; sent with the request.
        max_tokens: completion limit (server default when None).
        task: the evaluated task (passed by the runner).
    """
    chosen_axes = {"layout": layout, "separator": separator, "prefix": prefix,
                   "header": header, "instruction": instruction, "system": system}
    for axis, value in chosen_axes.items():
        if value not in AXES[axis]:
            raise StrategySpecError(
                f"strategy 'formatted': {axis}={value!r} must be one of {', '.join(AXES[axis])}")
    selector = None
    exemplar_pool = None
    if shots:
        exemplar_pool = resolve_pool(pool, pool_data, task, None)
        selector = ExemplarSelector(exemplar_pool, k=shots, selection="random", seed=seed)

    def user(question: Question) -> str:
        return render_format(question, layout=layout, separator=separator, prefix=prefix,
                             header=header, instruction=instruction)

    def reply(letter: str) -> str:
        if instruction == "answer_line":
            return f"Answer: {letter}"
        if instruction == "json":
            return f'{{"answer": "{letter}"}}'
        return letter

    async def solve(question: Question, model: Model) -> Answer:
        messages: list[Message] = []
        if SYSTEMS[system]:
            messages.append(Message("system", SYSTEMS[system]))
        exemplar_ids: list[str] = []
        if selector is not None and exemplar_pool is not None:
            for i in await selector.select(question):
                exemplar = exemplar_pool.questions[i]
                exemplar_ids.append(exemplar.id)
                messages += [Message("user", user(exemplar)),
                             Message("assistant", reply(exemplar.gold))]
        messages.append(Message("user", user(question)))
        request = generation_request(tuple(messages), seed=seed, max_tokens=max_tokens)
        answer = answer_from(await model.complete(request), question)
        if exemplar_ids:
            answer = replace(answer, details={**answer.details, "exemplars": exemplar_ids})
        return answer

    return solve
