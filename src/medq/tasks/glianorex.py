"""Glianorex: multiple-choice questions about a gland that does not exist.

Griot, M., Vanderdonckt, J., Yuksel, D., & Hemptinne, C. (2025). Pattern Recognition or
Medical Knowledge? The Problem with Multiple-Choice Questions in Medicine. ACL 2025
(arXiv:2406.02394, first titled "Multiple Choice Questions and Large Languages Models: A
Case Study with Fictional Medical Data"): models score 64% on exams about the fictional
Glianorex, physicians 27%, so such a score measures test-taking, not knowledge.
Textbooks: https://github.com/maximegmd/glianorex-gen (MIT licence).

A fictional-knowledge control is only a control while no model has seen its questions,
so medq ships none: ``medq glianorex generate --model M --books PATH`` writes a private
set from the textbooks, one question per section (the deepest headings with text), each
asked of the generator model as the paper does: a difficult four-option question needing
several steps of reasoning, options of similar length, as JSON. Malformed replies are
dropped and counted by reason; the gold letters are then balanced across A-D by rotating
each item's options (seeded), so position bias cannot pass for knowledge.
``medq eval --task glianorex --data FILE`` evaluates the set like any task.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from medq.tasks._io import field as record_field
from medq.tasks._io import iter_jsonl, make_question, options_field
from medq.tasks.base import DatasetUnavailableError, TaskSpec, register_task
from medq.types import LETTERS, Question

CITATION = (
    "Griot, M., Vanderdonckt, J., Yuksel, D., & Hemptinne, C. (2025). Pattern Recognition or "
    "Medical Knowledge? The Problem with Multiple-Choice Questions in Medicine. ACL 2025."
)
CITE_SHORT = "Griot et al., ACL 2025"
PROMPTS = ("glianorex_system", "glianorex_question")
N_OPTIONS = 4
_HEADING = re.compile(r"^(#{1,6})\s+(.*\S)\s*$")
_PREFIX = re.compile(r"^\s*\(?([A-D])[).:]\s*")


@dataclass(frozen=True)
class Section:
    """One textbook section: the unit a question is written about."""

    id: str
    book: str
    title: str
    text: str
    language: str


def read_books(path: Path | str) -> list[Section]:
    """The sections of the textbooks at `path` (a Markdown/text file, or a folder of them).

    A section is a heading with text under it before the next heading; its title is the
    path of headings above it. The language comes from a ``-en`` / ``-fr`` file suffix.

    Raises:
        FileNotFoundError: no such file or folder, or a folder without .txt/.md books.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in {".txt", ".md"})
    elif path.is_file():
        files = [path]
    else:
        raise FileNotFoundError(f"--books {path} does not exist")
    if not files:
        raise FileNotFoundError(f"--books {path} holds no .txt or .md textbook")
    sections: list[Section] = []
    for book in files:
        sections.extend(_sections(book, start=len(sections)))
    return sections


def _sections(book: Path, *, start: int) -> list[Section]:
    """The sections of one textbook, numbered from `start`."""
    language = m.group(1) if (m := re.search(r"-([a-z]{2})$", book.stem)) else "und"
    out: list[Section] = []
    trail: list[str] = []
    body: list[str] = []
    for line in [*book.read_text(encoding="utf-8").splitlines(), "# end"]:
        heading = _HEADING.match(line)
        if not heading:
            body.append(line)
            continue
        text = "\n".join(body).strip()
        if text and trail:
            out.append(Section(f"{book.stem}-{start + len(out):03d}", book.stem,
                               " / ".join(trail), text, language))
        body = []
        level = len(heading.group(1))
        trail = [*trail[:level - 1], heading.group(2)]
    return out


def parse_generation(text: str) -> tuple[str, list[str], int]:
    """(question, four option texts, index of the correct one) from a generator's reply.

    Raises:
        ValueError: why the reply is malformed (the reason it is counted under).
    """
    body = text.strip()
    fence = re.search(r"```(?:json)?\s*\n(.*?)```", body, re.S)
    if fence:
        body = fence.group(1).strip()
    try:
        record = json.loads(body)
    except json.JSONDecodeError:
        raise ValueError("not JSON") from None
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    question, choices, solution = (record.get(k) for k in ("question", "choices", "solution"))
    if not isinstance(question, str) or not question.strip():
        raise ValueError("no question")
    if not isinstance(choices, list) or len(choices) != N_OPTIONS or not all(
            isinstance(c, str) and c.strip() for c in choices):
        raise ValueError(f"not {N_OPTIONS} choices")
    texts = []
    for i, choice in enumerate(choices):
        prefix = _PREFIX.match(choice)
        if prefix and prefix.group(1) != LETTERS[i]:
            raise ValueError("choices out of order")
        texts.append(choice[prefix.end():].strip() if prefix else choice.strip())
    if len(set(texts)) != N_OPTIONS or not all(texts):
        raise ValueError("duplicate or empty choices")
    if not isinstance(solution, str) or not solution.strip():
        raise ValueError("no solution")
    prefix = _PREFIX.match(solution)
    rest = solution[prefix.end():].strip() if prefix else solution.strip()
    if prefix and (not rest or rest == texts[LETTERS.index(prefix.group(1))]):
        return question.strip(), texts, LETTERS.index(prefix.group(1))
    if rest in texts:
        return question.strip(), texts, texts.index(rest)
    raise ValueError("solution is not one of the choices")


@dataclass
class GenerationReport:
    """What `generate` did: sections asked, items written, replies dropped by reason,
    gold letters after balancing, the output file, and the calls made."""

    path: str
    sections: int
    written: int
    dropped: dict[str, int] = field(default_factory=dict)
    gold: dict[str, int] = field(default_factory=dict)
    new_calls: int = 0
    generator: str = ""


def balance(items: Sequence[tuple[Section, str, list[str], int]], seed: int
            ) -> list[tuple[Section, str, list[str], int]]:
    """Each item's options rotated so the gold letters are spread evenly over A-D (a
    seeded shuffle of A, B, C, D, A, … assigns the targets; rotation keeps the order)."""
    from medq.seeds import item_rng

    targets = [i % N_OPTIONS for i in range(len(items))]
    item_rng(seed, "glianorex", "balance").shuffle(targets)
    out = []
    for (section, question, texts, gold), target in zip(items, targets, strict=True):
        shift = (gold - target) % N_OPTIONS
        out.append((section, question, texts[shift:] + texts[:shift], target))
    return out


async def generate_async(
    model: Any, sections: Sequence[Section], out: Path, *, store: Any, generator: str,
    seed: int = 0, concurrency: int | str = 8, temperature: float = 0.0,
    max_tokens: int | None = 1024, max_concurrency: int = 64,
) -> GenerationReport:
    """Ask `model` for one question per section and write the valid ones to `out`.

    Calls go through the store like a run's (cached: generating again makes no calls).
    The file is written whole or not at all, with its report beside it (``.report.json``).
    """
    from medq.calls import CallLog, ItemModel, ItemTally
    from medq.prompts import render, template
    from medq.strategies._shared.messages import generation_request
    from medq.types import Message

    log = CallLog(model, store, concurrency=concurrency, max_concurrency=max_concurrency)
    log.bind(generator, model.endpoint, model.capabilities)
    system = Message("system", template("glianorex_system").strip())

    async def ask(section: Section) -> str:
        user = Message("user", render("glianorex_question", title=section.title,
                                      text=section.text))
        request = generation_request((system, user), seed=seed, max_tokens=max_tokens,
                                     temperature=temperature)
        completion = await ItemModel(log, ItemTally(None, section.id)).complete(request)
        return completion.generations[0].text

    replies = await asyncio.gather(*(ask(s) for s in sections))
    dropped: dict[str, int] = {}
    kept = []
    for section, reply in zip(sections, replies, strict=True):
        try:
            kept.append((section, *parse_generation(reply)))
        except ValueError as why:
            dropped[str(why)] = dropped.get(str(why), 0) + 1
    items = balance(kept, seed)
    gold = {letter: 0 for letter in LETTERS[:N_OPTIONS]}
    lines = []
    for section, question, texts, target in items:
        gold[LETTERS[target]] += 1
        lines.append(json.dumps({
            "id": section.id, "question": question,
            "options": dict(zip(LETTERS, texts, strict=False)),
            "answer_idx": LETTERS[target], "book": section.book, "section": section.title,
            "language": section.language, "generator": generator,
        }, ensure_ascii=False))
    report = GenerationReport(str(out), len(sections), len(items), dropped, gold,
                              log.new_calls, generator)
    out.parent.mkdir(parents=True, exist_ok=True)
    _write_whole(out, "".join(line + "\n" for line in lines))
    _write_whole(out.with_suffix(".report.json"), json.dumps(asdict(report), indent=2) + "\n")
    return report


def _write_whole(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def generate(
    model_spec: str, books: Path | str, out: Path | str, *, seed: int = 0,
    base_url: str | None = None, api_key_env: str | None = None,
    concurrency: int | str = 8, limit: int | None = None, model: Any = None,
    store: Any = None, max_concurrency: int = 64,
) -> GenerationReport:
    """Write a private Glianorex question set from the textbooks at `books` (see the module).

    Example:
        >>> generate("openai/gpt-4o", "glianorex_books", "glianorex.jsonl").written
    """
    from medq.models import load_model
    from medq.store import Store

    sections = read_books(books)[:limit]
    live = model or load_model(model_spec, base_url=base_url, api_key_env=api_key_env)
    own_store = store is None
    store = store or Store()

    async def run() -> GenerationReport:
        try:
            return await generate_async(live, sections, Path(out), store=store,
                                        generator=model_spec, seed=seed,
                                        concurrency=concurrency,
                                        max_concurrency=max_concurrency)
        finally:
            if model is None:
                await live.aclose()

    try:
        return asyncio.run(run())
    finally:
        if own_store:
            store.close()


def _load(data: Path | None, sample: bool) -> tuple[tuple[Question, ...], str]:
    if sample or data is None:
        raise DatasetUnavailableError(
            "Task 'glianorex' is a private set you generate, so medq ships none: run "
            "`medq glianorex generate --model M --books PATH --out FILE`, then pass "
            "--data FILE.")
    if not data.is_file():
        raise DatasetUnavailableError(f"--data {data} is not a file written by "
                                      "`medq glianorex generate`")
    questions = []
    for lineno, record in iter_jsonl(data):
        where = f"line {lineno}"
        questions.append(make_question(
            data, where, id=record_field(record, "id", data, where),
            stem=record_field(record, "question", data, where),
            options=options_field(record, "options", data, where),
            gold=record_field(record, "answer_idx", data, where), gold_field="answer_idx",
            metadata={"source": "Glianorex (generated)", "language": record.get("language"),
                      "topic": record.get("section"), "generator": record.get("generator")},
        ))
    return tuple(questions), str(data)


register_task(TaskSpec("glianorex", "generated", "fictional-organ control questions you "
                       "generate", CITATION, CITE_SHORT, _load))
