"""Reading the final answer of an interactive consultation (MediQ), with its dialogue.

Li et al., NeurIPS 2024 (MediQ). The ``mediq`` leaf reads the expert's final reply with
medq's option extractor; its arguments hold the dialogue as it happened (each question, the
patient's reply, whether it was the refusal, the confidence estimate, and the text of the
expert's intermediate choice), so a rescore re-reads the final answer *and* every
intermediate choice from stored text alone, and the answer's details (turns, timeout,
refusals, intermediate choices) come back the same.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from medq.scoring.extract import extract_choice
from medq.scoring.readings import read_leaf, register_reader
from medq.types import Answer, Generation, Reading


@register_reader("mediq")
def read_consultation(reading: Reading, generation: Generation) -> Answer:
    """The final choice of a consultation, with its dialogue in the details.

    Details: ``condition``, ``patient``, ``abstain``, ``turns`` (questions asked),
    ``dialogue`` (one entry per question, with the intermediate ``choice`` made before
    asking it), ``intermediate`` (whether those choices were asked for),
    ``intermediate_choices`` (the choice after 0, 1, … answers, the final one
    last), ``timeout`` (stopped by ``max_questions``), ``stop``, ``patient_refusals`` and
    ``calls_by_role``.
    """
    args = reading.args
    options = [[k, v] for k, v in args["options"]]
    base = read_leaf(Reading("choice", text=generation.text, args={"options": options}),
                     generation)
    by_letter = dict(args["options"])
    dialogue: list[dict[str, Any]] = []
    for turn in args["turns"]:
        entry = {k: v for k, v in turn.items() if k != "choice_text"}
        text = turn.get("choice_text")
        entry["choice"] = None if text is None else extract_choice(text, by_letter).choice
        dialogue.append(entry)
    details = {
        **base.details,
        "condition": args["condition"],
        "patient": args.get("patient"),
        "abstain": args.get("abstain"),
        "turns": len(dialogue),
        "dialogue": dialogue,
        "intermediate": bool(args.get("intermediate")),
        "intermediate_choices": [t["choice"] for t in dialogue] + [base.choice],
        "timeout": args["stop"] == "max_questions",
        "stop": args["stop"],
        "patient_refusals": sum(bool(t["refused"]) for t in dialogue),
        "calls_by_role": dict(args["calls"]),
    }
    return replace(base, confidence=args.get("confidence"), details=details)
