"""Visual QA short answers: closed questions read strictly, open questions matched to the reference.

Lau et al., "A dataset of clinically generated visual questions and answers about
radiology images" (VQA-RAD, Scientific Data 2018) split questions into *closed* (yes/no, or
one of the alternatives the question names: "left or right?") and *open*. Peers' scorers
are where the numbers break: LLaVA-Med's closed-question scorer drops a wrong yes/no reply
from the denominator when it does not contain the gold; ProbMed counts any reply containing
"No" ("Normal ...") as a correct "no"; MedEvalKit's VQA-RAD/PathVQA counters are reset and
never restored. Here:

- **closed**: the reply's answer (after the last "Answer:" cue when there is one) must
  *start* with yes or no, as a whole word: "No, it is not" is "no"; "Normal" is not "no"
  and is **invalid**. An either-or answer must name exactly one of the alternatives
  ("It is on the left side"); none or two is invalid. Invalid replies stay in the
  denominator (a miss).
- **open**: the answer (after the last cue, else the first non-empty line) is normalised
  (lower case, punctuation and the articles a/an/the removed, number words 0-10 as
  digits) and compared with the reference three ways, reported apart and never blended
  without the split: exact match, token recall (share of reference tokens in the answer,
  LLaVA-Med's open-question "recall") and token F1 (SQuAD). An empty answer is invalid.

The closed options of a question are yes/no when the reference is yes or no; otherwise the
alternatives the question names (`closed_options`: the words before each "or" and after
the last one, "Is this a CT or an MRI?" -> ct, mri), with the reference always among them.

Every count is over all the run's items of that kind (errors excluded, as everywhere in
medq): `vqa_metrics` recomputes from the stored results, nothing is accumulated.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from medq.scoring.extract import strip_reasoning
from medq.scoring.readings import leaf, read_leaf, register_reader
from medq.types import Answer, Completion, Generation, Question, Reading, Status

__all__ = [
    "METRICS",
    "closed_options",
    "normalize_answer",
    "read_short_answer",
    "short_answer",
    "token_f1",
    "token_recall",
    "vqa_metrics",
    "vqa_score",
]

_NUMBERS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten".split())}
_ARTICLES = {"a", "an", "the"}
_CUE = re.compile(r"\b(?:final\s+)?answer\s*(?:is|:|-)\s*", re.I)
_PUNCT = re.compile(r"[^\w\s]")
# Words after "or" that are not the alternative ("or a CT", "or just 1").
_LEAD = re.compile(r"^(?:an?|the|just|only|is|are|was|were|it|this|these|there)$", re.I)


def normalize_answer(text: str) -> str:
    """Lower case, punctuation and articles removed, number words as digits, spaces
    collapsed: "The Left lung." -> "left lung"."""
    words = _PUNCT.sub(" ", text.lower()).split()
    return " ".join(_NUMBERS.get(w, w) for w in words if w not in _ARTICLES)


def closed_options(question: str, gold: str) -> list[str]:
    """The answers a closed question admits: yes/no for a yes/no reference, else the
    alternatives named around "or" in the question ("the left, right, or both sides" ->
    left, right, both), with the reference's among them."""
    answer = normalize_answer(gold)
    if answer in ("yes", "no"):
        return ["yes", "no"]
    tokens = re.findall(r"[\w'-]+|,", question.lower())
    options: list[str] = []
    for i, token in enumerate(tokens):
        if token != "or":
            continue
        j = i - 1 if i and tokens[i - 1] != "," else i - 2
        listed = []
        while j >= 0 and tokens[j] != ",":
            listed.append(tokens[j])
            if j >= 2 and tokens[j - 1] == ",":
                j -= 2
            else:
                break
        options.extend(reversed(listed))
        after = next((t for t in tokens[i + 1:i + 4] if t != "," and not _LEAD.match(t)), None)
        if after is not None:
            options.append(after)
    options = [o for o in dict.fromkeys(normalize_answer(o) for o in options) if o]
    if _gold_option(answer, options) is None:
        options.append(answer)
    return options


def _gold_option(answer: str, options: Sequence[str]) -> str | None:
    """The option the reference names (its first word may carry it: "right side")."""
    if answer in options:
        return answer
    first = answer.split()[:1]
    return first[0] if first and first[0] in options else None


def gold_option(question_text: str, gold: str, options: Sequence[str]) -> str:
    """The closed option a reference answer is."""
    answer = normalize_answer(gold)
    return _gold_option(answer, options) or answer


def _answer_part(text: str, *, first_line: bool) -> str:
    cues = list(_CUE.finditer(text))
    if cues:
        return text[cues[-1].end():].strip()
    stripped = text.strip()
    if first_line:
        return next((line.strip() for line in stripped.splitlines() if line.strip()), "")
    return stripped


def read_closed(text: str, options: Sequence[str]) -> tuple[str | None, str | None]:
    """(the closed option the reply gives, None) or (None, why it is invalid)."""
    body, why = strip_reasoning(text)
    if why is not None:
        return None, why
    words = normalize_answer(_answer_part(body, first_line=False)).split()
    if not words:
        return None, "empty answer"
    shown = " ".join(words[:4])
    if options == ["yes", "no"]:
        if words[0] in options:
            return words[0], None
        return None, f"closed answer {shown!r} does not start with yes or no"
    # An either-or answer may put its alternative later ("It is on the left side"), but
    # must name exactly one.
    named = [o for o in options if re.search(rf"\b{re.escape(o)}\b", " ".join(words))]
    if len(named) != 1:
        return None, (f"closed answer {shown!r} names none of {', '.join(options)}"
                      if not named else f"closed answer names {', '.join(named)}")
    return named[0], None


def read_open(text: str) -> tuple[str | None, str | None]:
    """(the normalised open answer, None) or (None, why it is invalid)."""
    body, why = strip_reasoning(text)
    if why is not None:
        return None, why
    answer = normalize_answer(_answer_part(body, first_line=True))
    return (answer, None) if answer else (None, "empty answer")


def token_recall(predicted: str | None, reference: str) -> float:
    """Share of the reference's tokens found in the prediction (0 for None)."""
    ref = normalize_answer(reference).split()
    pred = set((predicted or "").split())
    return sum(t in pred for t in ref) / len(ref) if ref else 0.0


def token_f1(predicted: str | None, reference: str) -> float:
    """SQuAD token F1 of the normalised prediction and reference (0 for None)."""
    from collections import Counter

    ref = normalize_answer(reference).split()
    pred = (predicted or "").split()
    common = sum((Counter(ref) & Counter(pred)).values())
    if not ref or not pred or common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


# -- the reader and the scorer -------------------------------------------------------------


def short_answer(completion: Completion, question: Question, index: int = 0) -> Answer:
    """Read a generation as the item's short answer, recording the ``short_answer``
    reading (answer type and closed options) for rescore."""
    meta = question.metadata
    args: dict[str, Any] = {"answer_type": meta.get("answer_type", "open")}
    if args["answer_type"] == "closed":
        args["options"] = list(meta["closed_options"])
    reading = leaf("short_answer", completion, index, **args)
    return read_leaf(reading, completion.generations[index])


@register_reader("short_answer")
def read_short_answer(reading: Reading, generation: Generation) -> Answer:
    """The ``short_answer`` leaf: a closed option or a normalised open answer, or invalid."""
    kind = reading.args.get("answer_type", "open")
    if kind == "closed":
        found, why = read_closed(generation.text, list(reading.args["options"]))
    else:
        found, why = read_open(generation.text)
    details = {"method": f"{kind}_answer", "answer_type": kind}
    if found is None:
        return Answer(None, Status.INVALID, generation.text, truncated=generation.truncated,
                      reason=why, details=details)
    return Answer(found, Status.OK, generation.text, truncated=generation.truncated,
                  details=details)


def vqa_score(question: Question, choice: str) -> bool:
    """A VQA task's scorer: the closed option equals the reference's; an open answer
    matches the normalised reference exactly."""
    meta = question.metadata
    if meta.get("answer_type") == "closed":
        return choice == meta["gold_option"]
    return choice == normalize_answer(question.gold)


# -- metrics -------------------------------------------------------------------------------

_Sample = Mapping[str, Any]


def _kind(sample: _Sample) -> str | None:
    return (sample["details"].get("metadata") or {}).get("answer_type")


def vqa_metrics(samples: Iterable[_Sample]) -> dict[str, Any] | None:
    """Closed accuracy (Wilson 95%), open exact match, token recall and F1, each with its
    n, over every scored item of the kind; None when no item has an answer type."""
    from medq.results import count, hit
    from medq.scoring.metrics import wilson_interval

    rows = [s for s in samples if _kind(s) in ("closed", "open")]
    if not rows:
        return None
    closed = [s for s in rows if _kind(s) == "closed"]
    opened = [s for s in rows if _kind(s) == "open" and hit(s) is not None]
    c = count(closed)
    low, high = wilson_interval(c.correct, c.n)
    out: dict[str, Any] = {
        "closed_n": c.n, "closed_correct": c.correct, "closed_invalid": c.invalid,
        "closed_accuracy": c.accuracy, "closed_accuracy_ci_low": low if c.n else None,
        "closed_accuracy_ci_high": high if c.n else None, "open_n": len(opened),
    }
    if opened:
        answers = [s["choice"] if s["status"] == "ok" else None for s in opened]
        out.update(
            open_exact_match=sum(hit(s) or 0 for s in opened) / len(opened),
            open_recall=sum(token_recall(a, s["gold"]) for a, s in zip(
                answers, opened, strict=True)) / len(opened),
            open_f1=sum(token_f1(a, s["gold"]) for a, s in zip(
                answers, opened, strict=True)) / len(opened),
            open_invalid=sum(s["status"] == "invalid" for s in opened))
    else:
        out.update(open_exact_match=None, open_recall=None, open_f1=None, open_invalid=0)
    return out


def _field(name: str):  # noqa: ANN202 - one key of `vqa_metrics` as a task metric
    def metric(samples: list[_Sample]) -> Any:
        found = vqa_metrics(samples)
        return None if found is None else found.get(name)

    metric.__name__ = name
    return metric


def _counts(label: str):  # noqa: ANN202 - a `medq show` line for one count
    return lambda value: [f"{label}: {value}"]


def _hidden(value: Any) -> list[str]:
    return []  # in the summary table's closed / open columns


_LINES = {"closed_invalid": _counts("closed questions answered invalidly"),
          "open_invalid": _counts("open questions answered invalidly")}
METRICS = tuple((name, _field(name), _LINES.get(name, _hidden)) for name in (
    "closed_accuracy", "closed_accuracy_ci_low", "closed_accuracy_ci_high", "closed_n",
    "closed_invalid", "open_exact_match", "open_recall", "open_f1", "open_n",
    "open_invalid"))
"""The metrics a VQA task declares: the closed/open split (name, function, show lines)."""
