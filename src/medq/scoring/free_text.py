"""Reading a free-text answer: the response itself, for a judge to grade.

The reader keeps the response's final text (reasoning blocks such as ``<think>…</think>``
removed, as for every other reader) and marks it invalid only when nothing is left to
grade: an empty reply, or a reasoning block that never closed. It never shortens or
normalises the text: the judge grades what the model said.
"""

from __future__ import annotations

from medq.scoring.readings import leaf, read_leaf, register_reader
from medq.types import Answer, Completion, Generation, Reading, Status


def free_text_answer(completion: Completion, index: int = 0) -> Answer:
    """The free-text answer of one generation, with its reading recorded for rescore."""
    reading = leaf("free_text", completion, index)
    return read_leaf(reading, completion.generations[index])


@register_reader("free_text")
def _read_free_text(reading: Reading, generation: Generation) -> Answer:
    from medq.scoring.extract import strip_reasoning

    body, unusable = strip_reasoning(generation.text)
    text = body.strip()
    if unusable or not text:
        return Answer(None, Status.INVALID, generation.text, truncated=generation.truncated,
                      reason=unusable or "empty response")
    return Answer(None, Status.OK, text, truncated=generation.truncated)
