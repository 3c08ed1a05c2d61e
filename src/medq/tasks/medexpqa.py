"""MedExpQA: Spanish MIR residency exam clinical cases, in English, Spanish, French and Italian.

Alonso, I., Oronoz, M., & Agerri, R. (2024). MedExpQA: Multilingual benchmarking of Large
Language Models for Medical Question Answering. Artificial Intelligence in Medicine 155,
102938. https://github.com/hitz-zentroa/MedExpQA (CC BY 4.0); the cases are CasiMedicos
(Goenaga et al., "Explanatory Argument Extraction of Correct Answers in Resident Medical
Exams", 2023; ixa-ehu/antidote-casimedicos, CC0 1.0 / CC BY 4.0).

Tasks (``<lang>`` is ``en``, ``es``, ``fr`` or ``it``):
    medexpqa_<lang>            the test split (4 or 5 options per case), in that language.
    medexpqa_<lang>_explained  the same items with the doctors' gold explanation as
                               context: the paper's explanation-grounded setting, an upper
                               bound (the explanation usually names the right option).

Two sources:

* the CasiMedicos argument-mining release (``--data`` = its folder with ``EN/ES/FR/IT/
  test.tsv``, or one ``test.tsv``): IOB2 token files, one token a line (``token tag
  [quality]``), blank lines between sentences. A case reads ``QUESTION TYPE: ...``,
  ``CLINICAL CASE:``, the case and its question, options ``1-`` ... ``5-``, ``CORRECT
  ANSWER: N`` (``BONNE RÉPONSE``, ``RISPOSTA CORRETTA`` in French and Italian), then the
  explanation; the four-option years write option 5 as ``nan``, read as no fifth option.
  Items are numbered by their position in the file (``casimedicos-test-001``), the same
  case in every language, so runs pair by item across languages (`medq compare`,
  `medq.multilingual.cross_lingual`). A case without its options or its answer line is
  left out and named in the task's source: all 117 test cases parse in English, Spanish
  and French, 116 in Italian (case 84 lists options 1 and 2 only).
* the official MedExpQA JSON lines (``test.<lang>.casimedicos.rag.jsonl``, fields
  ``full_question``, ``options``, ``correct_option``, ``full_answer``, ``type``,
  ``year``, ``question_id_specific``), from ``--data`` or the pinned Hub copy.

The paper prompts every language with the same English instruction; medq uses its English
templates (``direct``, ``cot``, ...) with the item in its language and the instruction to
answer with the option letter; options 1-5 are shown as A-E.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from medq.hub import HubFile
from medq.tasks._io import data_error, fetch, field, iter_jsonl, make_question, read_text
from medq.tasks.base import DatasetUnavailableError, TaskDataError, TaskSpec, register_task
from medq.types import Question

CITATION = (
    "Alonso, I., Oronoz, M., & Agerri, R. (2024). MedExpQA: Multilingual benchmarking of "
    "Large Language Models for Medical Question Answering. Artificial Intelligence in "
    "Medicine, 155, 102938."
)
CITE_SHORT = "Alonso et al., AIIM 2024"
LANGUAGES = ("en", "es", "fr", "it")
HUB_REVISION = "f88b7c055ac996bec32c1ab5cf3976d5cfcc81dd"
_ANSWER = re.compile(
    r"^(?:CORRECT ANSWER|BONNE RÉPONSE|RISPOSTA CORRETTA|RESPUESTA CORRECTA)\s*:\s*(\d)\b",
    re.I)
_OPTION = re.compile(r"^([1-5])-\s*(.*)$", re.S)
_TYPE = "QUESTION TYPE:"
_CASE = "CLINICAL CASE:"


def hub_file(language: str) -> HubFile:
    """The official test file of `language` at the pinned revision of HiTZ/MedExpQA."""
    return HubFile("HiTZ/MedExpQA", f"data/{language}/test.{language}.casimedicos.rag.jsonl",
                   HUB_REVISION)


def _sentences(path: Path, text: str) -> list[tuple[int, str]]:
    """(first line number, sentence text) of an IOB2 token file, tokens joined by spaces."""
    out: list[tuple[int, str]] = []
    tokens: list[str] = []
    start = 0
    for lineno, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            if tokens:
                out.append((start, " ".join(tokens)))
                tokens = []
            continue
        if not tokens:
            start = lineno
        tokens.append(parts[0])
    if tokens:
        out.append((start, " ".join(tokens)))
    if not out:
        raise TaskDataError(f"{path}: no tokens")
    return out


def parse_token_file(path: Path, language: str, *, explained: bool = False,
                     ) -> tuple[tuple[Question, ...], list[str]]:
    """The cases of a CasiMedicos token file, and why each left-out case was left out."""
    sentences = _sentences(path, read_text(path))
    cases: list[list[tuple[int, str]]] = []
    for lineno, sentence in sentences:
        if sentence.startswith(_TYPE):
            cases.append([])
        elif not cases:
            raise data_error(path, f"line {lineno}", f"the file must open with {_TYPE!r}")
        cases[-1].append((lineno, sentence))
    questions, skipped = [], []
    for number, case in enumerate(cases, start=1):
        item = f"casimedicos-test-{number:03d}"
        found = _case(case, item, language, explained)
        if isinstance(found, str):
            skipped.append(f"{item} (line {case[0][0]}): {found}")
        else:
            questions.append(found)
    if not questions:
        raise TaskDataError(f"{path}: no case could be read ({skipped[0]})")
    return tuple(questions), skipped


def _case(case: list[tuple[int, str]], item: str, language: str,
          explained: bool) -> Question | str:
    """One case as a Question, or why it cannot be read."""
    texts = [s for _, s in case]
    kind = texts[0][len(_TYPE):].strip()
    if len(texts) < 2 or texts[1] != _CASE:
        return f"no {_CASE!r} line"
    answer_at = next((i for i, s in enumerate(texts) if _ANSWER.match(s)), None)
    if answer_at is None:
        return "no correct-answer line"
    first = next((i for i in range(2, answer_at) if texts[i].startswith("1-")), None)
    if first is None:
        return "no option 1"
    options: dict[str, list[str]] = {}
    for sentence in texts[first:answer_at]:
        match = _OPTION.match(sentence)
        if match and int(match.group(1)) == len(options) + 1:
            options[match.group(1)] = [match.group(2)]
        else:
            options[str(len(options))].append(sentence)
    if list(options) != ["1", "2", "3", "4", "5"]:
        return f"options {', '.join(options)} instead of 1-5"
    texts_of = {k: " ".join(v).strip() for k, v in options.items()}
    if texts_of["5"] == "nan":  # a four-option year: the release writes option 5 as "nan"
        del texts_of["5"]
    if any(t in ("", "nan") for t in texts_of.values()):
        return "an empty option"
    correct = _ANSWER.match(texts[answer_at]).group(1)  # type: ignore[union-attr]
    if correct not in options:
        return f"correct answer {correct} is not an option"
    letters = {str(i): "ABCDE"[i - 1] for i in range(1, 6)}
    if correct not in texts_of:
        return f"correct answer {correct} is not an option"
    explanation = "\n".join(texts[answer_at + 1:]).strip()
    metadata = {"source": "CasiMedicos", "language": language, "question_type": kind,
                "topic": kind}
    return Question(item, " ".join(texts[2:first]).strip(),
                    {letters[k]: v for k, v in texts_of.items()}, letters[correct],
                    context=explanation if explained else None, metadata=metadata)


def parse_jsonl(path: Path, language: str, *, explained: bool = False,
                ) -> tuple[Question, ...]:
    """Questions of an official MedExpQA JSON-lines file."""
    out = []
    for lineno, record in iter_jsonl(path):
        where = f"line {lineno}"
        raw = field(record, "options", path, where, dict)
        keys = sorted(raw, key=lambda k: int(k) if str(k).isdigit() else 99)
        if keys != [str(i) for i in range(1, len(keys) + 1)] or not 4 <= len(keys) <= 5:
            raise data_error(path, where, f"field 'options' has keys {keys}, not 1-5")
        options = {"ABCDE"[int(k) - 1]: str(raw[k]) for k in keys if raw[k] is not None}
        correct = field(record, "correct_option", path, where, int)
        identifier = record.get("question_id_specific", record.get("id"))
        item = f"{record.get('year', '')}-{identifier}".lstrip("-")
        metadata = {"source": "MedExpQA", "language": language,
                    "question_type": record.get("type"), "topic": record.get("type"),
                    "year": record.get("year")}
        context = field(record, "full_answer", path, where) if explained else None
        out.append(make_question(
            path, where, id=item, stem=field(record, "full_question", path, where),
            options=options, gold="ABCDE"[correct - 1] if 1 <= correct <= 5 else str(correct),
            gold_field="correct_option", context=context, metadata=metadata))
    return tuple(out)


def _loader(name: str, language: str, explained: bool):
    expects = (f"the CasiMedicos release folder (with {language.upper()}/test.tsv), a "
               f"test.tsv token file, or test.{language}.casimedicos.rag.jsonl of MedExpQA")

    def load(data: Path | None, sample: bool) -> tuple[tuple[Question, ...], str]:
        if sample:
            raise DatasetUnavailableError(
                f"Task {name!r} has no bundled sample (use --data PATH pointing at {expects}).")
        if data is None:
            (path,) = fetch(name, [hub_file(language)], expects)
            return parse_jsonl(path, language, explained=explained), hub_file(language).label
        path = _find(data, language, name, expects)
        if path.suffix == ".jsonl":
            return parse_jsonl(path, language, explained=explained), str(path)
        questions, skipped = parse_token_file(path, language, explained=explained)
        source = str(path)
        if skipped:
            source += f" ({len(skipped)} case(s) left out: {'; '.join(skipped)})"
        return questions, source

    return load


def _find(data: Path, language: str, name: str, expects: str) -> Path:
    if data.is_file():
        return data
    for candidate in (f"{language.upper()}/test.tsv", f"{language}/test.tsv",
                      f"test.{language}.casimedicos.rag.jsonl",
                      f"data/{language}/test.{language}.casimedicos.rag.jsonl"):
        if (data / candidate).is_file():
            return data / candidate
    raise DatasetUnavailableError(
        f"--data {data} holds no file task {name!r} can read; pass --data PATH pointing at "
        f"{expects}.")


def _register(language: str) -> None:
    names = {"en": "English", "es": "Spanish", "fr": "French", "it": "Italian"}
    for explained in (False, True):
        name = f"medexpqa_{language}" + ("_explained" if explained else "")
        summary = f"~115 MIR clinical cases in {names[language]}, 4-5 options" + (
            ", with the gold explanation" if explained else "")
        register_task(TaskSpec(name, "test", summary, CITATION, CITE_SHORT,
                               _loader(name, language, explained), language=language))


for _language in LANGUAGES:
    _register(_language)


def cross_lingual_items(tasks: dict[str, Any]) -> list[str]:
    """Item IDs present in every task of `tasks` (language -> loaded Task) with the same
    gold in all of them: the items a cross-lingual comparison pairs."""
    golds = [{q.id: q.gold for q in task.questions} for task in tasks.values()]
    shared = set.intersection(*(set(g) for g in golds)) if golds else set()
    return sorted(i for i in shared if len({g[i] for g in golds}) == 1)
