"""Compact rows (m007_compact_rows): older stores migrate and read back exactly, a stored
request is the request that was sent, and each one-call item is one transaction."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from medq import _store_codec as codec
from medq.runner import EvalSpec, evaluate
from medq.store import MIGRATIONS, Store, canonical_json, content_hash
from medq.testing.openai_server import FakeOpenAIServer
from medq.testing.scripted import ScriptedModel

SYSTEM = "You are a careful physician answering exam questions. " * 3
H_SYSTEM = "a" * 64  # hashes of m005's shared texts are any 64-hex text
H_PROMPT = "b" * 64
H_OPTIONS = "c" * 64
OPTIONS = [["A", "Aspirin"], ["B", "Heparin"]]
K1, K2 = "1" * 64, "2" * 64


def _old_store(path: Path) -> None:
    """A store as medq wrote it before m007: JSON text rows, hex keys, response refs."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY)")
    for _, sql in MIGRATIONS:
        if _ == "m007_compact_rows":
            break
        for statement in sql.split(";"):
            if statement.strip():
                db.execute(statement)
        db.execute("INSERT INTO _migrations VALUES (?)", (_,))
    db.execute("INSERT INTO runs VALUES ('r', 1, 2, 'finished', 'medqa', 'm', 'direct', '{}',"
               " '{\"extractor_version\":\"3\"}', 1.5)")
    db.executemany("INSERT INTO request_texts VALUES (?, ?)", [
        (H_SYSTEM, SYSTEM), (H_PROMPT, "Question: which drug? " * 5),
        (H_OPTIONS, canonical_json(OPTIONS))])
    request = {"messages": [{"content": {"$text": H_SYSTEM}, "role": "system"},
                            {"content": {"$text": H_PROMPT}, "role": "user"},
                            {"content": "short", "role": "user"}], "n": 2, "seed": 0}
    response = {"completion_tokens": 4, "generations": [
        {"finish_reason": "stop", "logprobs": None, "text": "Answer: A"},
        {"finish_reason": "length", "logprobs": None, "text": "Answer: B and"}],
        "model": "served", "prompt_tokens": 30}
    db.execute("INSERT INTO calls VALUES (?, 'm', 'http://e/v1', 'chat', ?, ?, 30, 4, 0.25, 9)",
               (K1, canonical_json(request), canonical_json(response)))
    db.execute("INSERT INTO calls VALUES ('k-not-hex', 'm', '', 'chat', '{\"messages\":[]}', "
               "'{\"generations\":[{\"text\":\"x\"}]}', 0, 0, 0.0, 9)")
    reading = {"args": {"options": {"$text": H_OPTIONS}}, "call": K1, "index": 1,
               "rule": "choice"}
    details = {"method": "answer_line", "metadata": {"exam_step": "step1"}, "span": [8, 9]}
    sample = ("r", "q1", 0, "ok", "B", "B", 1, 1, None, None, "", canonical_json(details),
              1, 1, 30, 4, json.dumps([K1, K1]), 5.0, "3", canonical_json(reading), None)
    db.execute(f"INSERT INTO samples VALUES ({','.join('?' * 21)})", sample)
    db.execute("INSERT INTO sample_response_refs VALUES ('r', 'q1', '3', ?, 1)", (K1,))
    inline = ("r", "q2", 1, "error", None, "A", None, 0, None, "HTTP 500", "kept inline",
              "{}", 1, 0, 0, 0, '["k-not-hex"]', 6.0, "3", None, None)
    db.execute(f"INSERT INTO samples VALUES ({','.join('?' * 21)})", inline)
    db.close()
    return None


def test_an_older_store_migrates_and_reads_back_exactly(tmp_path: Path) -> None:
    path = tmp_path / "medq.sqlite"
    _old_store(path)
    with Store(path) as store:
        first, second = list(store.samples("r"))
        assert first.response == "Answer: B and"  # generation 1 of call K1, by reference
        assert first.call_keys == (K1, K1)
        assert first.details == {"method": "answer_line", "metadata": {"exam_step": "step1"},
                                 "span": [8, 9]}
        assert first.reading is not None and first.reading.call == K1
        assert first.reading.index == 1
        assert [list(o) for o in first.reading.args["options"]] == OPTIONS
        assert (first.created_at, first.extractor, first.prompt_tokens) == (5.0, "3", 30)
        assert (second.response, second.call_keys, second.reading) == (
            "kept inline", ("k-not-hex",), None)
        call = store.get_call(K1)
        assert call is not None and call.request["n"] == 2
        assert [m["content"] for m in call.request["messages"]] == [
            SYSTEM, "Question: which drug? " * 5, "short"]
        assert call.response["generations"][1]["text"] == "Answer: B and"
        assert (call.prompt_tokens, call.completion_tokens, call.latency_s) == (30, 4, 0.25)
        assert [c.key for c in store.calls_for([K1, "k-not-hex", K2])] == [K1, "k-not-hex"]
    db = sqlite3.connect(path)
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "sample_response_refs" not in tables
    keys = {r[0] for r in db.execute("SELECT key FROM calls")}
    assert keys == {bytes.fromhex(K1), "k-not-hex"}  # hex keys became their 32 bytes
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_reference_the_migration_cannot_encode_keeps_the_text(tmp_path: Path) -> None:
    path = tmp_path / "medq.sqlite"
    _old_store(path)
    db = sqlite3.connect(path, isolation_level=None)
    # A reference to a call the sample's keys do not list (a hand-edited store): the
    # migration writes the generation's text into the sample instead.
    db.execute("UPDATE samples SET call_keys = ? WHERE item_id = 'q1'", (json.dumps([K2]),))
    db.close()
    with Store(path) as store:
        assert next(store.samples("r")).response == "Answer: B and"


def test_codec_round_trips_every_form() -> None:
    text = canonical_json({"messages": [{"content": "é" * 300, "role": "user"}], "n": 1})
    assert codec.unpack_json(codec.pack_json(text)) == text
    assert codec.unpack_json(text) == text  # older rows: the text itself
    assert codec.unpack_keys(codec.pack_keys([K1, K2]) or b"") == [K1, K2]
    assert codec.pack_keys([K1, "not-hex"]) is None
    assert codec.unpack_response_ref(codec.response_ref(3, 70_000 % 65536)) == (3, 4464)
    with pytest.raises(ValueError):
        codec.unpack_json(codec.pack_keys([K1]) or b"")


def test_the_codec_dictionary_is_frozen() -> None:
    # Rows written with it are unreadable without exactly these bytes: never edit it; a
    # new dictionary is a new format tag.
    assert hashlib.sha256(codec._DICTIONARY_V1).hexdigest() == (
        "9b27e0d120c84da81d5558fab726467f4453dd082debfcb46ccdbcdb774393ac")


def test_a_stored_request_is_the_request_sent(medq_home: Path) -> None:
    with FakeOpenAIServer() as server:
        evaluate(EvalSpec("medqa", "openai/fake", "direct", sample=True, limit=5,
                          base_url=server.base_url), progress=False)
        sent = [body["messages"] for body in server.bodies]
    with Store() as store:
        run = store.run(store.resolve_run_id("last"))
        keys = [k for s in store.samples(run["run_id"]) for k in s.call_keys]
        calls = store.calls_for(keys)
        assert len(calls) == 5
        for call in calls:
            # The key is the hash of the request as keyed before it was sent: the request
            # read back is that request, byte for byte once canonical.
            identity = {"model": "openai/fake", "endpoint": run["info"]["endpoint"],
                        "kind": "chat"}
            assert content_hash({**identity, **call.request}) == call.key
        assert sorted(canonical_json(c.request["messages"]) for c in calls) == sorted(
            canonical_json(m) for m in sent)


def test_a_one_call_item_is_one_transaction(tmp_path: Path) -> None:
    store = Store(tmp_path / "medq.sqlite")
    commits: list[str] = []
    store._db.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
    evaluate(EvalSpec("medqa", "scripted/m", "direct", sample=True, limit=20), store=store,
             model=ScriptedModel(lambda r: "Answer: B", name="scripted/m"), progress=False)
    store._db.set_trace_callback(None)
    # 20 items (each with its call, texts and response reference), plus the run's start,
    # liveness and end.
    assert 20 <= len(commits) <= 26, len(commits)
    assert store.count_calls() == 20
    store.close()


def test_a_call_is_written_before_the_loop_waits_again(tmp_path: Path) -> None:
    path = tmp_path / "medq.sqlite"
    store = Store(path)

    def stored() -> int:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return int(db.execute("SELECT COUNT(*) FROM calls").fetchone()[0])
        finally:
            db.close()

    async def main() -> tuple[int, int, bool]:
        store.put_call(K1, model="m", endpoint="e", kind="chat", request={"messages": []},
                       response={"generations": [{"text": "A"}]}, prompt_tokens=1,
                       completion_tokens=1, latency_s=0.0, defer=True)
        before = stored()
        seen = store.get_call(K1) is not None  # answered from memory meanwhile
        await asyncio.sleep(0.01)  # the loop waits: the call must be on disk by then
        return before, stored(), seen

    assert asyncio.run(main()) == (0, 1, True)
    store.close()
