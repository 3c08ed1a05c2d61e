"""The report's reads: `Store.samples` gives exactly what `SampleResult.from_row` makes of
each stored row (the one decoding rule), with or without reading the calls alongside, and
the calls read alongside are the calls `get_call` returns."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from tests.test_store_compact import K1, _old_store

from medq._store_codec import unpack_json, unpack_keys, unpack_response_ref
from medq.results import SampleResult
from medq.runner import EvalSpec, evaluate
from medq.store import Store
from medq.testing.scripted import ScriptedModel


def reference_samples(path: Path, run_id: str, extractor: str) -> list[SampleResult]:
    """Every row decoded the plain way: whole rows, whole calls, then `from_row`."""
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    out = []
    for row in db.execute("SELECT * FROM samples WHERE run_id=? AND extractor=? "
                          "ORDER BY position", (run_id, extractor)):
        values: dict[str, Any] = dict(row)
        keys = values["call_keys"]
        values["call_keys"] = unpack_keys(keys) if isinstance(keys, bytes) else json.loads(keys)
        values["details"] = json.loads(unpack_json(values["details"]))
        if isinstance(values["response"], bytes):
            number, index = unpack_response_ref(values["response"])
            key = values["call_keys"][number]
            stored = db.execute("SELECT response FROM calls WHERE key=?",
                                (bytes.fromhex(key) if len(key) == 64 else key,)).fetchone()
            values["response"] = json.loads(unpack_json(stored[0]))["generations"][index]["text"]
        if values["reading"] is not None:
            reading = json.loads(unpack_json(values["reading"]))
            for leaf in [reading, *reading.get("parts", ())]:
                options = (leaf.get("args") or {}).get("options")
                if isinstance(options, dict):
                    text = db.execute("SELECT text FROM request_texts WHERE hash=?",
                                      (options["$text"],)).fetchone()[0]
                    leaf["args"]["options"] = json.loads(text)
            values["reading"] = reading
        out.append(SampleResult.from_row(values))
    return out


def check_run(store: Store, run_id: str) -> None:
    version = store.extractor_of(run_id)
    expected = reference_samples(store.path, run_id, version)
    plain = list(store.samples(run_id))
    calls: dict[str, Any] = {}
    with_calls = list(store.samples(run_id, calls=calls))
    assert plain == expected
    assert with_calls == expected
    assert [type(s) for s in plain] == [SampleResult] * len(expected)
    keys = {k for s in expected for k in s.call_keys}
    assert set(calls) == {k for k in keys if store.get_call(k) is not None}
    for key, call in calls.items():
        assert call == store.get_call(key)  # `get_call` decodes one call the plain way
    assert {c.key: c for c in store.calls_for(sorted(keys))} == calls


def test_an_older_store_reads_the_same_both_ways(tmp_path: Path) -> None:
    path = tmp_path / "medq.sqlite"
    _old_store(path)
    with Store(path) as store:
        check_run(store, "r")
        calls: dict[str, Any] = {}
        first = next(store.samples("r", calls=calls))
        assert first.response == "Answer: B and"  # generation 1 of call K1, by reference
        assert first.response is calls[K1].response["generations"][1]["text"]


@pytest.mark.parametrize("strategy", ["direct", "cot", "self_consistency"])
def test_evaluated_runs_read_the_same_both_ways(medq_home: Path, strategy: str) -> None:
    with Store() as store:
        ids = [evaluate(EvalSpec(task="medqa", sample=True, model=f"scripted/m{i}",
                                 strategy=strategy, limit=12),
                        store=store, model=ScriptedModel(lambda r, i=i: f"Answer: {'ABCD'[i]}",
                                                         name=f"scripted/m{i}"),
                        progress=False).run_id for i in range(2)]
        for run_id in ids:
            check_run(store, run_id)


def test_calls_with_the_same_request_share_it_read_only(medq_home: Path) -> None:
    with Store() as store:
        ids = [evaluate(EvalSpec(task="medqa", sample=True, model=f"scripted/m{i}",
                                 strategy="direct", limit=3),
                        store=store, model=ScriptedModel(lambda r: "Answer: A",
                                                         name=f"scripted/m{i}"),
                        progress=False).run_id for i in range(2)]
        calls: dict[str, Any] = {}
        one, two = (list(store.samples(run_id, calls=calls)) for run_id in ids)
        for a, b in zip(one, two, strict=True):
            first, second = calls[a.call_keys[0]], calls[b.call_keys[0]]
            assert first.key != second.key
            assert first.request is second.request  # the same prompt, decoded once
            assert first.request == store.get_call(first.key).request


def test_the_item_data_is_the_same_from_calls_read_with_the_results(medq_home: Path) -> None:
    from medq.report import build_report
    from medq.report.data import gather_runs
    from medq.report.items import encode_payload, item_payload, pack_payload, payload_json

    with Store() as store:
        ids = [evaluate(EvalSpec(task="medqa", sample=True, model=f"scripted/m{i}",
                                 strategy=strategy, limit=10),
                        store=store, model=ScriptedModel(lambda r, i=i: f"Answer: {'ABCD'[i]}",
                                                         name=f"scripted/m{i}"),
                        progress=False).run_id
               for i, strategy in enumerate(["direct", "cot", "self_consistency"])]
        calls: dict[str, Any] = {}
        runs = gather_runs(store, ids, calls=calls)
        read_alongside = item_payload(store, runs, calls=calls)
        read_by_chunk = item_payload(store, gather_runs(store, ids))  # calls_for, by chunk
        partly = item_payload(store, runs, calls=dict(list(calls.items())[::2]))
        assert read_alongside == read_by_chunk == partly
        assert payload_json(read_alongside) == payload_json(read_by_chunk)
        blob = encode_payload(read_by_chunk)
        assert pack_payload(payload_json(read_by_chunk)) == blob
        assert blob in build_report(store, ids, progress=False)
