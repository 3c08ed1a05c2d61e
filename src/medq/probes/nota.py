""""None of the other answers": does the model recognise that the right answer is missing?

Bedi, S., Jiang, Y., Chung, P., Koyejo, S., & Shah, N. (2025). Fidelity of Medical
Reasoning in Large Language Models. JAMA Network Open, 8(8), e2526021 (the correct option
replaced by "None of the other answers", which becomes the correct answer; accuracy fell
by 9 to 38 points).

Modes: ``replace_gold`` (the gold's text becomes the NOTA text, its letter unchanged, so
the option count stays and NOTA sits at the gold position) and ``add_distractor`` (NOTA
added as a last, wrong option: a control for the mere presence of such an option).
Items that already have a "none of …" or "all of the above" option are left out (two
such options would make the item ambiguous) and counted.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Literal

from medq.probes.base import Skipped, Transform, Variant, probes, relabel
from medq.types import LETTERS, Question

NOTA = "None of the other answers"
_ALREADY = re.compile(r"\bnone of the\b|\ball of the (above|other|options|answers)\b", re.I)


@probes.register()
def nota(mode: Literal["replace_gold", "add_distractor"] = "replace_gold",
         text: str = NOTA) -> Transform:
    """Put a "None of the other answers" option in the item.

    Args:
        mode: replace_gold (NOTA is the new correct answer) or add_distractor (NOTA is an
            extra wrong option).
        text: the NOTA option's text.
    """

    def transform(question: Question) -> list[Variant]:
        if any(_ALREADY.search(t) for t in question.options.values()):
            raise Skipped("already has a none/all-of-the-above option")
        if mode == "replace_gold":
            options = {**question.options, question.gold: text}
            changed = replace(question, options=options)
            return [Variant("nota", changed, {k: k for k in options},
                            {"replaced": question.gold})]
        letters = list(question.options)
        added = LETTERS[len(letters)]
        item, back = relabel(question, [*letters, None], texts={added: text})
        return [Variant("notaplus", item, back, {"added": added})]

    return transform
