"""`scripted/<rule>`: a model with no weights and no network, for smoke tests of a pipeline.

It answers every request by a fixed rule, so a run file or a command can be tried end to
end (tasks, strategies, store, report) before any money is spent:

- ``scripted/answer:B`` — always ``Answer: B``;
- ``scripted/first`` — the first option letter listed in the prompt;
- ``scripted/random`` — a letter among those listed in the prompt, chosen by a hash of
  the prompt and the sample index (reproducible; seeded sampling gives varied votes);
- ``scripted/text:...`` — the given text, verbatim.

The same `medq.testing.scripted.ScriptedModel` drives the test suite from Python.
"""

from __future__ import annotations

import hashlib
import re

from medq.registry import models
from medq.testing.scripted import ScriptedModel
from medq.types import GenerationRequest

_LISTED = re.compile(r"^\(?([A-Z])[.)]\s", re.M)
RULES = ("answer:<LETTER>", "first", "random", "text:<TEXT>")


def _letters(request: GenerationRequest) -> list[str]:
    return _LISTED.findall(request.messages[-1].content) or ["A"]


@models.register("scripted")
def scripted(name: str) -> ScriptedModel:
    """A scripted model answering by rule `name` (see the module docstring).

    Raises:
        ValueError: an unknown rule.
    """
    rule, _, value = name.partition(":")
    if rule == "answer" and re.fullmatch(r"[A-Za-z0-9]+", value):
        reply = f"Answer: {value}"
        return ScriptedModel(lambda request: reply, name=f"scripted/{name}")
    if rule == "text" and value:
        return ScriptedModel(lambda request: value, name=f"scripted/{name}")
    if rule == "first" and not value:
        return ScriptedModel(lambda r: f"Answer: {_letters(r)[0]}", name="scripted/first")
    if rule == "random" and not value:

        def pick(request: GenerationRequest) -> str:
            letters = _letters(request)
            digest = hashlib.sha256(
                f"{request.sample_index}:{request.messages[-1].content}".encode()).digest()
            return f"Answer: {letters[digest[0] % len(letters)]}"

        return ScriptedModel(pick, name="scripted/random")
    raise ValueError(f"scripted model rule {name!r} is not one of {', '.join(RULES)}")
