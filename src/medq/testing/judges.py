"""Scripted judges for tests and benchmarks: replies computed from the judge's own prompt.

Example:
    >>> judge = ScriptedModel(rubric_judge(lambda response, criterion: "X" in response))
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from medq.testing.scripted import Responder
from medq.types import GenerationRequest

_BLOCK = re.compile(r"<(conversation|criterion|answer_to_grade|reference_answer|response)>\n"
                    r"(.*?)\n</\1>", re.S)


def judged_parts(request: GenerationRequest) -> dict[str, str]:
    """The tagged blocks of the judge prompt (the first user turn): ``conversation``,
    ``criterion``, ``response`` … and ``reply``: the last assistant turn of the
    conversation (the reply being graded)."""
    parts = dict(_BLOCK.findall(request.messages[0].content))
    conversation = parts.get("conversation", "")
    if conversation:
        parts["reply"] = conversation.rsplit("\n\nassistant: ", 1)[-1].removeprefix(
            "assistant: ")
    return parts


def rubric_judge(decide: Callable[[str, str], bool | str]) -> Responder:
    """A rubric judge: ``decide(reply, criterion)`` gives ``criteria_met`` (a bool), or a
    raw string to send as the reply instead (to script invalid output)."""

    def respond(request: GenerationRequest) -> str:
        parts = judged_parts(request)
        verdict = decide(parts.get("reply", ""), parts.get("criterion", ""))
        if isinstance(verdict, str):
            return verdict
        return json.dumps({"explanation": "scripted", "criteria_met": verdict})

    return respond
