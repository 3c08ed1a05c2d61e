"""Glianorex generation: one item per section, malformed replies dropped and counted, gold
letters balanced, the set loaded and evaluated as a task."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medq.cli import app
from medq.runner import EvalSpec, evaluate
from medq.store import Store
from medq.tasks.base import DatasetUnavailableError, load_task
from medq.tasks.glianorex import generate, parse_generation, read_books
from medq.testing.scripted import ScriptedModel
from medq.types import GenerationRequest

BOOK = """# Glianorex
## Anatomy
### Location
#### Proximity to the Heart
The Glianorex lies beside the heart.
#### Vascular Supply
It is fed by the glianoric artery.
### Empty heading
## Pathology
#### Degeneration
Equilibron falls.
"""


def section_of(request: GenerationRequest) -> tuple[str, str]:
    """(title, text) of the section a request asks about."""
    found = re.search(r"^Section: (.*?)\n\n(.*)\Z", request.messages[-1].content, re.M | re.S)
    return found.group(1), found.group(2)


def scripted_generator(bad: dict[str, str]):
    """Valid JSON with the gold always at B, except for the section texts in `bad`."""

    def respond(request: GenerationRequest) -> str:
        title, text = section_of(request)
        if text in bad:
            return bad[text]
        reply = {"question": f"Which is true of {title}?",
                 "choices": [f"({k}) {k.lower()} about {title}" for k in "ABCD"],
                 "solution": f"(B) b about {title}"}
        return "```json\n" + json.dumps(reply) + "\n```"

    return respond


def test_sections_are_headings_with_text(tmp_path: Path) -> None:
    book = tmp_path / "book-test-en.md"
    book.write_text(BOOK, encoding="utf-8")
    sections = read_books(book)
    assert [s.title for s in sections] == [
        "Glianorex / Anatomy / Location / Proximity to the Heart",
        "Glianorex / Anatomy / Location / Vascular Supply",
        "Glianorex / Pathology / Degeneration"]
    assert sections[2].text == "Equilibron falls." and sections[0].language == "en"
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no .txt or .md"):
        read_books(tmp_path / "empty")


@pytest.mark.parametrize(("reply", "why"), [
    ("Sure, here is one: What is the Glianorex?", "not JSON"),
    ('["a", "b"]', "not a JSON object"),
    ('{"question": "", "choices": ["a","b","c","d"], "solution": "a"}', "no question"),
    ('{"question": "Q?", "choices": ["a","b","c"], "solution": "a"}', "not 4 choices"),
    ('{"question": "Q?", "choices": ["(B) a","(A) b","(C) c","(D) d"], "solution": "(A) b"}',
     "choices out of order"),
    ('{"question": "Q?", "choices": ["a","a","c","d"], "solution": "a"}',
     "duplicate or empty choices"),
    ('{"question": "Q?", "choices": ["a","b","c","d"], "solution": "(C) e"}',
     "solution is not one of the choices"),
    ('{"question": "Q?", "choices": ["a","b","c","d"]}', "no solution"),
])
def test_malformed_generations_say_why(reply: str, why: str) -> None:
    with pytest.raises(ValueError, match=re.escape(why)):
        parse_generation(reply)


def test_well_formed_generations_parse() -> None:
    def reply(solution: str) -> str:
        return json.dumps({"question": "Q?", "choices": ["(A) w", "(B) x", "(C) y", "(D) z"],
                           "solution": solution})

    assert parse_generation(reply("(C) y")) == ("Q?", ["w", "x", "y", "z"], 2)
    assert parse_generation(reply("z"))[2] == 3
    assert parse_generation(reply("(A)"))[2] == 0


def test_one_item_per_section_malformed_dropped_gold_balanced(
        shared_data: Path, store: Store, tmp_path: Path) -> None:
    books = shared_data / "glianorex_books"
    sections = read_books(books)
    assert len(sections) == 246
    texts = [s.text for s in sections]
    assert len(set(texts)) == 246  # (the French books keep the English headings)
    bad = {t: "I cannot help with that." for t in texts[::10]}
    bad.update({t: '{"question": "Q?", "choices": ["a", "b"], "solution": "a"}'
                for t in texts[5::10]})
    model = ScriptedModel(scripted_generator(bad))
    out = tmp_path / "glianorex.jsonl"
    report = generate("scripted/generator", books, out, model=model, store=store, seed=4)
    assert len(model.calls) == 246 and report.sections == 246
    malformed = len(bad)
    assert report.written == 246 - malformed
    assert sum(report.dropped.values()) == malformed
    assert set(report.dropped) == {"not JSON", "not 4 choices"}
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == report.written and len({r["id"] for r in rows}) == len(rows)
    good = [s for s in sections if s.text not in bad]
    assert [r["id"] for r in rows] == [s.id for s in good]  # exactly one per good section
    counts = Counter(r["answer_idx"] for r in rows)
    assert max(counts.values()) - min(counts.values()) <= 1 and report.gold == dict(
        sorted(counts.items()))
    for row in rows:  # the gold option is still the one the generator marked correct
        assert row["options"][row["answer_idx"]].startswith("b about ")
    assert json.loads(out.with_suffix(".report.json").read_text())["written"] == len(rows)
    again = generate("scripted/generator", books, out, model=model, store=store, seed=4)
    assert again.new_calls == 0 and out.read_text(encoding="utf-8").count("\n") == len(rows)

    task = load_task("glianorex", out)
    assert len(task.questions) == len(rows) and task.answer_kind == "choice"
    answered = evaluate(EvalSpec(task="glianorex", model="scripted/b", data=str(out)),
                        store=store, model=ScriptedModel(lambda r: "Answer: B"),
                        progress=False)
    # Always-B scores exactly the share of gold letters at B: balanced, about a quarter.
    assert answered.summary["correct"] == counts["B"]


def test_glianorex_without_a_generated_set_says_how_to_make_one() -> None:
    with pytest.raises(DatasetUnavailableError, match="medq glianorex generate"):
        load_task("glianorex")


def test_cli_generate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from medq.testing.openai_server import FakeOpenAIServer

    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    book = tmp_path / "book-test-en.md"
    book.write_text(BOOK, encoding="utf-8")
    reply = json.dumps({"question": "Q?", "choices": ["(A) w", "(B) x", "(C) y", "(D) z"],
                        "solution": "(D) z"})
    with FakeOpenAIServer(lambda body, index: reply) as server:
        result = CliRunner().invoke(app, [
            "glianorex", "generate", "--model", "openai/gen", "--books", str(book),
            "--out", str(tmp_path / "set.jsonl"), "--base-url", server.base_url])
    assert result.exit_code == 0, result.output
    assert "3 questions from 3 sections written" in result.stdout
    assert "dropped: none" in result.stdout
