"""The per-item browser's data: every item, each run's verdict, and every call's prompt and
response, as compact JSON, gzip-compressed and base64-encoded for embedding in the page.

Items are keyed by (task, item ID), so runs on different tasks never merge. Texts go into
one string table, so a system prompt, or a prompt shared by several runs, is stored once;
calls are keyed by their cache key, so a call reused by several runs is stored once; the
snippets retrieval strategies retrieved go into one table (see `medq.report.snippets`).
An item's images go in as JPEG thumbnails (data URLs, once each in the string table).
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Mapping, Sequence
from typing import Any

from medq.progress import Progress
from medq.report.data import SUBGROUP_FIELDS, RunReport
from medq.report.snippets import SnippetTable, has_retrieval, retrieval_record
from medq.results import SampleResult
from medq.store import Store, StoredCall

# One letter per verdict keeps 10 runs x 4,183 items small before compression.
VERDICTS = {"correct": "c", "wrong": "w", "invalid": "i", "error": "e", "graded": "g",
            "ungraded": "u"}


def verdict(sample: SampleResult) -> str:
    """correct, wrong, invalid, error, graded (a judge's rubric score) or ungraded: the
    item's outcome by the one rule (`medq.results.outcome_of`)."""
    return sample.outcome.value


class _Strings:
    """A string table: each distinct text once, referred to by index."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.values: list[str] = []

    def __call__(self, text: str | None) -> int:
        if text is None:
            return -1
        found = self.index.get(text)
        if found is None:
            found = self.index[text] = len(self.values)
            self.values.append(text)
        return found


def _call_record(call: Any, s: _Strings, params_cache: dict[Any, int],
                 requests: dict[int, tuple[Any, list[list[Any]], int]]) -> list[Any]:
    """[kind, [[role, text], ...], params, [[output, finish_reason], ...]].

    `requests` keeps each request's messages and parameters once (by the request dict, which
    the store shares among the calls that sent the same request, held so its id stays its):
    a request's texts are in the string table after its first call, so later calls add none.
    """
    request, response = call.request, call.response
    known = requests.get(id(request))
    if known is None:
        messages = [[m["role"][0], s(m["content"])] for m in request.get("messages", [])]
        params = {k: v for k, v in request.items() if k not in {"messages", "continuations"}}
        cache_key = repr(sorted(params.items()))
        if cache_key not in params_cache:
            params_cache[cache_key] = s(json.dumps(params, sort_keys=True))
        known = requests[id(request)] = (request, messages, params_cache[cache_key])
    if call.kind == "loglikelihood":
        outputs = [
            [s(f"{c!r}: log p = {sc['logprob']:.4f} ({sc['n_tokens']} tokens"
               f"{', greedy' if sc.get('is_greedy') else ''})"), None]
            for c, sc in zip(request.get("continuations", []), response.get("scores", []),
                             strict=False)
        ]
    else:
        outputs = [[s(g["text"]), g.get("finish_reason")]
                   for g in response.get("generations", [])]
    return [call.kind, known[1], known[2], outputs]


CHUNK = 512  # items whose calls are read (and let go) together


def item_payload(store: Store, runs: Sequence[RunReport], *, progress: bool = False,
                 calls: Mapping[str, StoredCall] | None = None) -> dict[str, Any]:
    """The browser's data as one JSON-able dict (see `encode_payload`).

    Texts enter the string table item by item (question, then every run's prompts and
    responses for it), so text an item repeats, such as its question inside each prompt,
    sits close together, where gzip's 32 KB window finds it. `calls` are the runs' calls
    already read with their results (``Store.samples(..., calls=)``); any others are read
    from the store `CHUNK` items at a time.
    """
    s = _Strings()
    tasks = sorted({r.summary["task"] for r in runs})
    by_run: list[dict[tuple[str, str], SampleResult]] = []
    order: dict[tuple[str, str], int] = {}
    for run_number, run in enumerate(runs):
        task = run.summary["task"]
        rows = {(task, sample.item_id): sample for sample in run.samples}
        by_run.append(rows)
        for key in rows:
            order.setdefault(key, run_number)
    call_index: dict[str, int] = {}
    records: list[list[Any]] = []
    params_cache: dict[Any, int] = {}
    requests: dict[int, tuple[Any, list[list[Any]], int]] = {}
    known: Mapping[str, Any] = calls or {}
    snippets = SnippetTable(s)
    items = []
    keys = list(order)
    with Progress(len(order), "report · packing items", progress) as bar:
        for start in range(0, len(keys), CHUNK):
            chunk = keys[start : start + CHUNK]
            missing = {k: None for key in chunk for rows in by_run
                       if (sample := rows.get(key)) is not None for k in sample.call_keys
                       if k not in known}
            stored = known
            if missing:
                stored = {**known, **{c.key: c for c in store.calls_for(list(missing))}}
            for key in chunk:
                first = order[key]
                item = _new_item(runs[first], by_run[first][key], tasks.index(key[0]),
                                 len(runs), s)
                for run_number, rows in enumerate(by_run):
                    sample = rows.get(key)
                    if sample is not None:
                        _add_run(item, run_number, sample, stored, call_index, records,
                                 params_cache, requests, s, snippets)
                items.append(item)
            bar.advance(len(chunk))
    payload: dict[str, Any] = {
        "tasks": tasks,
        "runs": [{"id": r.run_id, "model": r.summary["model"],
                  "strategy": r.summary["strategy"], "task": r.summary["task"]} for r in runs],
        "fields": list(SUBGROUP_FIELDS),
        "strings": s.values,
        "calls": records,
        "items": items,
    }
    if snippets.rows:
        payload["snippets"] = snippets.rows
    return payload


def _add_run(item: dict[str, Any], run_number: int, sample: SampleResult,
             stored: dict[str, Any], call_index: dict[str, int], calls: list[list[Any]],
             params_cache: dict[Any, int], requests: dict[int, tuple[Any, list[list[Any]], int]],
             s: _Strings, snippets: SnippetTable) -> None:
    """One run's record of the item: [verdict, choice, truncated, confidence, reason,
    response, call IDs, paper verdict, (retrieval, calculation, dialogue when present)]."""
    call_ids = []
    for call_key in sample.call_keys:
        found = call_index.get(call_key)
        if found is None:
            call = stored.get(call_key)
            if call is None:
                continue  # not in the store: the item shows no call for it
            found = call_index[call_key] = len(calls)
            calls.append(_call_record(call, s, params_cache, requests))
        call_ids.append(found)
    if item["q"] == -1 and call_ids:
        item["q"] = _prompt_text(calls[call_ids[0]])
    details = sample.details
    paper = details.get("paper")
    record: list[Any] = [
        VERDICTS[sample.outcome],  # an Outcome is its value (a StrEnum)
        sample.choice,
        int(sample.truncated),
        sample.confidence,
        s(sample.reason),
        s(sample.response),
        call_ids,
        s(json.dumps(paper, sort_keys=True)) if paper is not None else -1,
    ]
    item["r"][run_number] = record
    if has_retrieval(details):  # runs without retrieval stay 8 long
        prompts = [m["content"] for k in sample.call_keys if k in stored
                   for m in stored[k].request.get("messages", []) if m["role"] == "user"]
        record.append(retrieval_record(details, prompts, s, snippets))
    worked = calculation_text(details)
    if worked is not None:  # [..., retrieval or 0, the worked calculation]
        record.extend([0] * (9 - len(record)) + [s(worked)])
    if details.get("dialogue") is not None:  # [..., 0, -1, the dialogue]
        record.extend([0, -1][len(record) - 8:])  # no retrieval, no calculation
        record.append(dialogue_record(details, s))


def calculation_text(details: dict[str, Any]) -> str | None:
    """A calculator tool's worked calculation (`medq.calculators.Calculation` as traced by
    `calculator_tool`): the result, the inputs as used and the intermediate values."""
    if "result_text" not in details:
        return None
    from medq.calculators import Step

    def lines(rows: list[dict[str, Any]]) -> list[str]:
        return [str(Step(r["name"], r["value"], r.get("unit"))) for r in rows]

    text = [f"{details.get('calculator')}: {details['result_text']}"]
    text += ["inputs: " + "; ".join(lines(details.get("inputs") or []))]
    if details.get("steps"):
        text.append("steps: " + "; ".join(lines(details["steps"])))
    return "\n".join(text)


def dialogue_record(details: dict[str, Any], s: _Strings) -> list[Any]:
    """An interactive answer's dialogue: [stop, timeout, [[question, reply, refused,
    confidence, choice], ...]] (texts as string indices)."""
    turns = [[s(t["question"]), s(t["reply"]), int(bool(t["refused"])), t.get("confidence"),
              t.get("choice")] for t in details["dialogue"]]
    return [s(details.get("stop")), int(bool(details.get("timeout"))), turns]


def _new_item(run: RunReport, sample: SampleResult, task: int, n_runs: int,
              s: _Strings) -> dict[str, Any]:
    metadata = sample.details.get("metadata", {})
    question = run.questions.get(sample.item_id) if run.questions is not None else None
    item: dict[str, Any] = {
        "id": sample.item_id,
        "t": task,
        "g": sample.gold,
        "m": [s(None if metadata.get(f) in (None, "") else str(metadata[f]))
              for f in SUBGROUP_FIELDS],
        "r": [None] * n_runs,
        "q": -1,
    }
    if question is not None:
        item["q"] = s(question.stem)
        if question.images:
            item["im"] = _images(question, s)
        item["o"] = [[letter, s(text)] for letter, text in question.options.items()]
        if question.context:
            item["x"] = s(question.context)
    else:
        item["fp"] = 1  # question text, if any, comes from the prompt
    return item


def _images(question: Any, s: _Strings) -> list[int]:
    """The item's images as thumbnail data URLs (one per image), or a note why not."""
    from medq.images import thumbnail_url

    try:
        return [s(thumbnail_url(image)) for image in question.images]
    except (ImportError, OSError, ValueError) as exc:
        return [s(f"(image not shown: {exc})")]


def _prompt_text(call: list[Any]) -> int:
    """The last user message of a call (it holds the question), as a string index."""
    users = [text for role, text in call[1] if role == "u"]
    return users[-1] if users else -1


def encode_payload(payload: dict[str, Any], level: int = 4) -> str:
    """Compact JSON -> gzip -> base64 (the page decompresses it with DecompressionStream).

    Level 4: on the 10-run benchmark it is 2.5x faster than level 6 for 6% more bytes.
    """
    return pack_payload(payload_json(payload), level)


def payload_json(payload: dict[str, Any]) -> bytes:
    """The payload as compact JSON (UTF-8): the first half of `encode_payload`."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def pack_payload(raw: bytes, level: int = 4) -> str:
    """gzip -> base64 of `payload_json`'s bytes: the second half of `encode_payload`, all in
    C and most of it without the GIL, so it can run beside other work."""
    return base64.b64encode(gzip.compress(raw, compresslevel=level, mtime=0)).decode("ascii")
