"""Request texts are stored once per distinct content and read back exactly (issue 19)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from medq._store_codec import unpack_json
from medq.runner import EvalSpec, evaluate
from medq.store import Store
from medq.testing.scripted import ScriptedModel


def test_shared_texts_read_back_exactly_and_are_stored_once(medq_home: Path) -> None:
    model = ScriptedModel(lambda r: "Answer: B")
    for name in ("scripted/a", "scripted/b"):
        evaluate(EvalSpec("medqa", name, "direct", sample=True, limit=20), progress=False,
                 model=ScriptedModel(lambda r: "Answer: B", name=name))
    with Store() as store:
        calls = store.calls_for([k for r in store.runs()
                                 for s in store.samples(r["run_id"]) for k in s.call_keys])
        assert len(calls) == 40
        readings = [s.reading for r in store.runs() for s in store.samples(r["run_id"])]
        assert all(r is not None and len(r.args["options"]) == 4 for r in readings)
        one = store.get_call(calls[0].key)
        assert one is not None and one.request == calls[0].request
        contents = [m["content"] for c in calls for m in c.request["messages"]]
        assert all(isinstance(c, str) for c in contents)
        assert any("Question:" in c for c in contents)
    db = sqlite3.connect(medq_home / "medq.sqlite")
    texts = db.execute("SELECT COUNT(*) FROM request_texts").fetchone()[0]
    # 20 item prompts shared by both models, the one system prompt, and the 20 items'
    # option lists the answers' readings refer to.
    assert texts == 41
    stored = db.execute("SELECT request FROM calls").fetchall()
    assert all("Question:" not in unpack_json(r[0]) for r in stored)
    del model


def test_option_lists_are_read_once_for_every_run_of_the_items(medq_home: Path) -> None:
    for name in ("scripted/a", "scripted/b"):
        evaluate(EvalSpec("medqa", name, "direct", sample=True), progress=False,
                 model=ScriptedModel(lambda r: "Answer: B", name=name))
    with Store() as store:
        first, second = (r["run_id"] for r in store.runs())
        reads: list[str] = []
        store._db.set_trace_callback(
            lambda sql: reads.append(sql) if "request_texts" in sql else None)
        one = list(store.samples(first))
        assert len(reads) == 1  # 50 items' option lists: one query, not one per item
        two = list(store.samples(second))
        assert len(reads) == 1  # the same items in another run: nothing read again
        store._db.set_trace_callback(None)
    assert [s.reading.args["options"] for s in one] == [s.reading.args["options"] for s in two]
    assert all(s.reading.args["options"] is t.reading.args["options"]
               for s, t in zip(one, two, strict=True))
    with Store() as fresh:  # what a new Store reads is the same
        assert [s.reading for s in fresh.samples(second)] == [s.reading for s in two]
