"""The report's content, without a browser: numbers, formats, self-containment, escaping."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medq.cli import app
from medq.registry import tasks
from medq.report import build_report
from medq.report.render import pct
from medq.runner import EvalSpec, evaluate
from medq.scoring.metrics import summarize
from medq.store import Store
from medq.tasks.base import Task
from medq.testing.scripted import ScriptedModel
from medq.types import GenerationRequest, Question

HOSTILE = "<script>document.title='pwned'</script><img src=x onerror=alert(1)> Answer: C"


def scripted(salt: str) -> ScriptedModel:
    """Deterministic per item: some right, some wrong, some invalid, some hostile."""

    def respond(request: GenerationRequest) -> str:
        h = int(hashlib.sha256((salt + request.messages[-1].content).encode()).hexdigest(), 16)
        if h % 10 == 0:
            return HOSTILE
        if h % 10 == 1:
            return "I am not sure, see https://example.com/x"
        return f"The answer is ({'ABCD'[h % 4]})."

    return ScriptedModel(respond, name=f"scripted/{salt}")


def make_runs(store: Store, n: int = 2) -> list[str]:
    ids = []
    for i, strategy in enumerate(["direct", "cot", "direct"][:n]):
        spec = EvalSpec(task="medqa", sample=True, model=f"scripted/m{i}", strategy=strategy)
        ids.append(evaluate(spec, store=store, model=scripted(f"m{i}"), progress=False).run_id)
    return ids


@pytest.fixture
def store(medq_home: Path):
    with Store() as s:
        yield s


def items_of(html: str) -> dict:
    blob = re.search(r'<script type="application/octet-stream" id="item-data">([^<]*)</script>',
                     html)
    assert blob is not None
    return json.loads(gzip.decompress(base64.b64decode(blob.group(1))))


def test_summary_numbers_match_summarize(store: Store) -> None:
    (run_id,) = make_runs(store, 1)
    summary = summarize(store.run(run_id), store.samples(run_id))
    html = build_report(store, [run_id])
    row = re.search(rf'<tr data-run="{run_id}">(.*?)</tr>', html, re.S)
    assert row is not None
    cells = dict(re.findall(r'data-field="(\w+)">([^<]*)<', row.group(1)))
    assert cells["n"] == str(summary["n"]) == "50"
    assert cells["accuracy"] == pct(summary["accuracy"])
    assert cells["ci"] == f"{pct(summary['ci_low'])}–{pct(summary['ci_high'])}"
    assert cells["invalid"].startswith(f"{summary['invalid']} (")
    assert summary["invalid"] > 0  # the scripted model gives some unparseable answers
    assert "comparison" not in re.findall(r'<section id="(\w+)"', html)


def test_self_contained_and_locked_down(store: Store) -> None:
    html = build_report(store, make_runs(store, 2))
    # Nothing outside the page is ever referenced: no src/href/url() to the network.
    assert not re.search(r'(?:src|href)\s*=\s*["\']?(?:https?:)?//', html, re.I)
    assert "url(" not in html and "@import" not in html
    assert "<link" not in html.replace('<link rel="icon" href="data:,">', "")
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert csp is not None and "default-src 'none'" in csp.group(1)
    # The only script that may run is the page's own, allowed by its hash.
    script = re.findall(r"<script>(.*?)</script>", html, re.S)
    assert len(script) == 1
    digest = base64.b64encode(hashlib.sha256(script[0].encode()).digest()).decode()
    assert f"'sha256-{digest}'" in csp.group(1)


def test_hostile_model_output_stays_text(store: Store) -> None:
    html = build_report(store, make_runs(store, 1))
    # The hostile text never reaches the markup; it travels compressed in the item data
    # and the page inserts it with textContent.
    assert "pwned" not in html and "onerror" not in html
    data = items_of(html)
    assert HOSTILE in data["strings"]
    js = re.findall(r"<script>(.*?)</script>", html, re.S)[0]
    assert "innerHTML" not in js and "insertAdjacentHTML" not in js and "eval(" not in js


def test_escapes_hostile_metadata_and_run_fields(store: Store) -> None:
    @tasks.register("report_hostile")
    def report_hostile(data: Path | None, sample: bool) -> Task:
        questions = tuple(
            Question(f"h{i}", f"Question {i}?", {"A": "a", "B": "b"}, "A",
                     metadata={"subject": "<b onmouseover=x>cardio|logy</b>" if i % 2 else "ok"})
            for i in range(6)
        )
        return Task("report_hostile", questions, "none", "generated", "test")

    spec = EvalSpec(task="report_hostile", model="scripted/<i>evil</i>")
    run_id = evaluate(spec, store=store, model=scripted("h"), progress=False).run_id
    html = build_report(store, [run_id])
    assert "<b onmouseover" not in html and "<i>evil</i>" not in html
    assert "&lt;i&gt;evil&lt;/i&gt;" in html
    markdown = build_report(store, [run_id], "markdown")
    assert "\\<b onmouseover=x\\>cardio\\|logy\\</b\\>" in markdown
    html_of_markdown, cells, tags = render_markdown(markdown)
    assert "<b onmouseover=x>cardio|logy</b>" in cells and "scripted/<i>evil</i>" in cells
    assert tags <= {"h1", "h2", "p", "table", "thead", "tbody", "tr", "th", "td", "code"}


def render_markdown(markdown: str) -> tuple[str, list[str], set[str]]:
    """The Markdown as a CommonMark + GFM-tables renderer shows it: (HTML, the text of every
    table cell, every tag used)."""
    from html.parser import HTMLParser

    from markdown_it import MarkdownIt

    html = MarkdownIt("commonmark").enable("table").render(markdown)
    cells: list[str] = []
    tags: set[str] = set()

    class Cells(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list) -> None:
            tags.add(tag)
            if tag in {"td", "th"}:
                cells.append("")

        def handle_data(self, data: str) -> None:
            if cells:
                cells[-1] += data

    Cells(convert_charrefs=True).feed(html)
    return html, [c.strip() for c in cells], tags


@pytest.mark.parametrize("value", [
    "step2&3", "&amp; is an entity", "**not bold** _nor this_ a_b", "[a link](x) ![img](y)",
    "`code` and \\ backslash", "~~struck~~ | piped", "<u>tag</u> &#60; <http://a.b>",
])
def test_markdown_cells_read_as_their_own_text(store: Store, value: str) -> None:
    @tasks.register(f"report_md_{abs(hash(value))}")
    def md_task(data: Path | None, sample: bool) -> Task:
        questions = tuple(Question(f"m{i}", "Q?", {"A": "a", "B": "b"}, "A",
                                   metadata={"subject": value if i % 2 else "other"})
                          for i in range(6))
        return Task("report_md", questions, "none", "generated", "test")

    spec = EvalSpec(task=f"report_md_{abs(hash(value))}", model="scripted/md")
    run_id = evaluate(spec, store=store, model=scripted("md"), progress=False).run_id
    markdown = build_report(store, [run_id], "markdown")
    _, cells, tags = render_markdown(markdown)
    assert " ".join(value.split()) in cells
    assert not tags & {"strong", "em", "a", "img", "u", "del", "s"}
    if value == "step2&3":
        assert "| step2&3 |" in markdown  # raw Markdown reads naturally too


def test_item_data_has_questions_calls_and_verdicts(store: Store) -> None:
    ids = make_runs(store, 2)
    data = items_of(build_report(store, ids))
    assert [r["id"] for r in data["runs"]] == ids
    assert len(data["items"]) == 50
    samples = {s["item_id"]: s for s in store.samples(ids[0])}
    strings = data["strings"]
    for item in data["items"]:
        sample = samples[item["id"]]
        assert item["g"] == sample["gold"]
        assert [letter for letter, _ in item["o"]] == ["A", "B", "C", "D", "E"][:len(item["o"])]
        verdict, choice, _, _, _, response, calls, _ = item["r"][0]
        expected = {"ok": "c" if sample["correct"] else "w", "invalid": "i"}[sample["status"]]
        assert (verdict, choice, strings[response]) == (expected, sample["choice"],
                                                         sample["response"])
        kind, messages, _, outputs = data["calls"][calls[0]]
        assert kind == "chat" and strings[outputs[0][0]] == sample["response"]
        assert strings[item["q"]] in strings[messages[-1][1]]  # the prompt holds the question
    # The system prompt is stored once, however many calls use it.
    system = [m[1] for c in data["calls"] for m in c[1] if m[0] == "s"]
    assert len(system) == 100 and len(set(system)) == 1


def test_multi_run_sections(store: Store) -> None:
    ids = make_runs(store, 3)
    html = build_report(store, ids)
    sections = re.findall(r'<section id="(\w+)"', html)
    assert sections == ["summary", "cost", "comparison", "subgroups", "items"]
    assert html.count("<tr>", html.index('id="comparison"'), html.index('id="subgroups"')) == 4
    assert 'data-subgroup="exam_step"' in html  # medqa items carry exam_step
    # Two cost plots and two subgroup charts: exam_step, and how the answers were read.
    assert 'data-subgroup="extraction"' in html
    assert html.count("<svg") == 4


def test_markdown_and_json(store: Store) -> None:
    ids = make_runs(store, 2)
    summaries = [summarize(store.run(i), store.samples(i)) for i in ids]
    markdown = build_report(store, ids, "markdown")
    for number, s in enumerate(summaries, start=1):
        assert f"| {number} | `{s['run_id']}` |" in markdown
        assert f"| {s['n']} | {pct(s['accuracy'])} | {pct(s['ci_low'])}–{pct(s['ci_high'])} |" \
            in markdown
    assert "## Paired comparisons" in markdown and "## Accuracy by exam_step" in markdown
    report = json.loads(build_report(store, ids, "json"))
    assert [r["summary"] for r in report["runs"]] == json.loads(json.dumps(summaries))
    pair = report["comparisons"][0]["pairs"][0]
    assert (pair["run_a"], pair["run_b"], pair["n_shared"]) == (ids[0], ids[1], 50)
    groups = report["runs"][0]["breakdowns"]["exam_step"]
    assert sum(g["n"] for g in groups) == 50


def test_calibration_when_confidences_exist(store: Store) -> None:
    from medq.report.data import gather_runs
    from medq.report.render import render_html

    (run_id,) = make_runs(store, 1)
    for i, s in enumerate(store.samples(run_id)):  # give every item a confidence
        store.put_sample(run_id, {**s, "confidence": (i % 10) / 10 + 0.05})
    runs = gather_runs(store, [run_id])
    assert runs[0].calibration is not None and runs[0].calibration.n == 50
    html = render_html(runs, [], "", "t")
    assert 'id="calibration"' in html and "ECE" in html
    assert "## Calibration" in build_report(store, [run_id], "markdown")


def test_falls_back_to_prompts_when_task_data_is_gone(store: Store, tmp_path: Path) -> None:
    source = tmp_path / "items.json"
    source.write_text(json.dumps([{"id": f"g{i}", "stem": f"Gone question {i}?"}
                                  for i in range(4)]))

    @tasks.register("report_gone")
    def report_gone(data: Path | None, sample: bool) -> Task:
        assert data is not None
        rows = json.loads(Path(data).read_text())
        questions = tuple(Question(r["id"], r["stem"], {"A": "x", "B": "y"}, "B") for r in rows)
        return Task("report_gone", questions, "none", str(data), "test")

    spec = EvalSpec(task="report_gone", model="scripted/g", data=str(source))
    run_id = evaluate(spec, store=store, model=scripted("g"), progress=False).run_id
    source.unlink()
    html = build_report(store, [run_id])
    assert "could not be loaded" in html and "prompts the model saw" in html
    data = items_of(html)
    first = data["items"][0]
    assert first["fp"] == 1 and "o" not in first
    assert "Gone question 0?" in data["strings"][first["q"]]


def test_cli_report(store: Store, tmp_path: Path) -> None:
    ids = make_runs(store, 2)
    runner = CliRunner()
    out = tmp_path / "r.html"
    result = runner.invoke(app, ["report", *ids, "-o", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("<!doctype html>")
    result = runner.invoke(app, ["report", "last", "--format", "markdown"],
                           catch_exceptions=False)
    assert result.exit_code == 0 and result.stdout.startswith("# medq report")
    result = runner.invoke(app, ["report", "nope"])
    assert result.exit_code == 2 and "no run matches" in result.output
    result = runner.invoke(app, ["report", "last", "--format", "pdf"])
    assert result.exit_code == 2 and "unknown report format" in result.output


SNIPPETS = [
    {"id": "n1", "title": "Presentation",
     "content": "A patient presents with pain and fever; the year-old man is examined."},
    {"id": "n2", "title": "Management",
     "content": "Management of the patient depends on the most likely diagnosis.\n\n"
                "The next step is often imaging."},
    {"id": "n3", "title": "Pregnancy", "content": "<img src=x onerror=alert(1)> A woman, "
                                                   "pregnant at 30 weeks, gives her history."},
    {"id": "n4", "title": "Vital signs",
     "content": "Her blood pressure, pulse and temperature are within normal limits."},
]


def rag_run(store: Store, strategy: str, respond) -> str:
    """A retrieval run on the medqa sample over a tiny stored corpus (BM25, offline)."""
    from medq.retrieval import add_corpus, list_corpora

    if not any(c["name"] == "notes" for c in list_corpora()):
        source = Path(os.environ["MEDQ_HOME"]) / "notes.jsonl"
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_text("".join(json.dumps(r) + "\n" for r in SNIPPETS))
        add_corpus("notes", source)
    spec = EvalSpec(task="medqa", sample=True, model="scripted/rag", strategy=strategy)
    return evaluate(spec, store=store, model=ScriptedModel(respond, name="scripted/rag"),
                    progress=False).run_id


def snippet_text(data: dict, row: list[int]) -> str | None:
    """A snippet's text as the page reads it: a string, or a slice of one (a prompt)."""
    if row[3] < 0:
        return None
    text = data["strings"][row[3]]
    return text[row[4]:row[5]] if len(row) > 4 else text  # ASCII here: JS and Python agree


def medrag_answer(request: GenerationRequest) -> str:
    return json.dumps({"step_by_step_thinking": "Document [2] agrees with Document [1].",
                       "answer_choice": "A"})


def test_item_data_has_retrieved_snippets_and_marks(store: Store) -> None:
    (plain,) = make_runs(store, 1)
    run_id = rag_run(store, "medrag:corpus=notes,k=4,budget=60", medrag_answer)
    data = items_of(build_report(store, [plain, run_id]))
    strings = data["strings"]
    table = {strings[row[1]]: (strings[row[0]], strings[row[2]], snippet_text(data, row))
             for row in data["snippets"]}
    assert len(table) == len(data["snippets"])  # each snippet once, however often retrieved
    by_id = {r["id"]: r for r in SNIPPETS}
    for ident, (corpus, title, text) in table.items():
        assert (corpus, title) == ("notes", by_id[ident]["title"])
        assert text == by_id[ident]["content"]  # read back from the prompts, blank line too
    assert all(len(row) == 6 for row in data["snippets"])  # a slice of a prompt, no copy
    samples = {s["item_id"]: s for s in store.samples(run_id)}
    checked = 0
    for item in data["items"]:
        assert len(item["r"][0]) == 8  # a run without retrieval carries nothing more
        details = samples[item["id"]]["details"]
        rag = item["r"][1][8]
        ids = [strings[data["snippets"][row][1]] for row, _, _ in rag["k"]]
        assert ids == [r["id"] for r in details["retrieved"]]
        assert [score for _, score, _ in rag["k"]] == [round(r["score"], 4)
                                                       for r in details["retrieved"]]
        cited = [i for i, (_, _, marks) in zip(ids, rag["k"], strict=True) if marks & 1]
        named = [i for i, (_, _, marks) in zip(ids, rag["k"], strict=True) if marks & 2]
        assert cited == details["cited"] and sorted(named) == sorted(details["referenced"])
        checked += bool(named) and len(ids) > len(cited)
    assert checked > 0  # some items had referenced snippets and some retrieved but not shown
    assert "onerror" not in build_report(store, [run_id])


def test_item_data_has_follow_ups_and_rounds(store: Store) -> None:
    def imedrag_replies(request: GenerationRequest) -> str:
        text = request.messages[-1].content
        if "Before answering" in text:
            return "Query 1: patient management\nQuery 2: vital signs"
        if text.startswith("Here are the relevant documents"):
            return "Imaging first."
        return medrag_answer(request)

    run_id = rag_run(store, "imedrag:corpus=notes,rounds=1,queries=2,k=2", imedrag_replies)
    data = items_of(build_report(store, [run_id]))
    strings = data["strings"]
    follow_ups = data["items"][0]["r"][0][8]["f"]
    assert [(strings[q], strings[a]) for q, a, _ in follow_ups] == [
        ("patient management", "Imaging first."), ("vital signs", "Imaging first.")]
    first = [data["snippets"][row] for row, _, marks in follow_ups[0][2] if marks == 1]
    assert first and all(snippet_text(data, row) == next(r["content"] for r in SNIPPETS
                                                         if r["id"] == strings[row[1]])
                         for row in first)

    def uncertain(request: GenerationRequest) -> str:
        if "disagreed" in request.messages[-1].content:
            return "Query 1: patient management"
        return f"Reasoning.\nAnswer: {'AB'[request.sample_index % 2]}"

    run_id = rag_run(store, "uncertainty_search:corpus=notes,rounds=2,n=2,k=2", uncertain)
    data = items_of(build_report(store, [run_id]))
    rag = data["items"][0]["r"][0][8]
    (votes, entropy, queries, shown), (_, _, later, shown_later) = rag["u"]
    assert (data["strings"][votes], entropy, [data["strings"][q] for q in queries]) == (
        "A B", 1.0, ["patient management"])
    assert shown == [] and later == [] and shown_later == list(range(len(shown_later)))
    assert shown_later and all(rag["k"][i][2] & 1 for i in shown_later)


def test_calculator_runs_show_the_worked_calculation(store: Store) -> None:
    reply = json.dumps({"calculator": "creatinine_clearance", "arguments": {
        "age": 65, "sex": "male", "weight": [82, "kg"], "creatinine": [106, "µmol/L"]}})
    spec = EvalSpec(task="medcalc", sample=True, model="scripted/calc",
                    strategy="calculator_tool", limit=3)
    run_id = evaluate(spec, store=store, model=ScriptedModel(lambda r: reply),
                      progress=False).run_id
    data = items_of(build_report(store, [run_id]))
    worked = [data["strings"][r[9]] for item in data["items"] for r in item["r"]
              if r and len(r) > 9]
    assert len(worked) == 3
    assert worked[0].startswith("creatinine_clearance: 71.2 mL/min\ninputs: age = 65 years")
    assert "creatinine = 1.199 mg/dL" in worked[0] and "steps: weight used = 82 kg" in worked[0]
