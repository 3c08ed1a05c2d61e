"""The official OpenAI SDK against `medq serve` (see conftest: a live server, a loopback
upstream, a real corpus index): answers, evidence, accounting, keys, limits, abstention,
the audit log and upstream failures."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
import urllib.error
import urllib.request
from typing import Any

import openai
import pytest
from serve_helpers import RAG_REPLY, LiveServer, question, received_since, upstream_tokens
from typer.testing import CliRunner

from medq.cli import app
from medq.serve.audit import verify_audit
from medq.store import Store


def ask(client: Any, model: str, text: str, **options: Any) -> Any:
    return client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": text}], **options)


def raw(live: LiveServer, path: str, *, token: str | None = None, body: bytes | None = None,
        method: str | None = None) -> tuple[int, dict[str, str], dict[str, Any]]:
    """(status, headers, JSON body) of one plain HTTP request."""
    request = urllib.request.Request(live.url + path, data=body, method=method)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def test_answer_citations_usage_and_hash(live: LiveServer) -> None:
    client = live.client(live.key("pipeline:rag-sc"))
    before = live.upstream.count
    text = question()
    reply = ask(client, "rag-sc", text)
    medq = reply.model_extra["medq"]
    bodies = received_since(live.upstream, before)

    assert medq["answer"] in {"A", "B", "C", "D"} and medq["answer"] == "B"
    assert medq["answer_text"] == "Mood and emotional balance"
    assert not medq["abstained"]
    assert medq["confidence"] == 1.0 and medq["confidence_method"] == "vote_share"
    assert medq["votes"] == {"B": 3}
    assert reply.choices[0].message.content.startswith("B. Mood and emotional balance")
    assert "[1]" in reply.choices[0].message.content
    # Evidence: snippets of the index, in rank order, with their text; the reasoning's
    # Document [1] and [2] are the cited ones.
    cites = medq["citations"]
    assert len(cites) == 8 and [c["rank"] for c in cites] == list(range(1, 9))
    assert all(c["id"] in live.corpus_ids for c in cites)
    assert all(c["snippet"] and c["corpus"] == "glianorex" for c in cites)
    assert [c["rank"] for c in cites if c["cited"]] == [1, 2]
    assert any(c["shown"] for c in cites)
    # Accounting: three samples, three stored calls. Samples that reach the upstream
    # together go out as one request with n, plus one that checks identical choices
    # (medq.coalesce); each sample's search runs in a thread, so how many arrive together
    # varies. Usage = what the upstream counted, whichever way they went.
    assert sum(b.get("n", 1) for b in bodies) in (3, 4) and len(bodies) <= 3
    assert medq["calls"]["upstream"] == 3 and medq["calls"]["total"] == 3
    prompt, completion = upstream_tokens(bodies)
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (prompt, completion)
    assert reply.usage.total_tokens == prompt + completion
    with Store(live.home / "medq.sqlite") as store:
        stored = store.calls_for(medq["calls"]["ids"])
    assert len(stored) == 3
    assert sum(c.prompt_tokens for c in stored) == prompt
    # The pipeline hash is the one the CLI prints for the same config.
    hashes = CliRunner().invoke(app, ["serve", "pipelines", "--config", str(live.config),
                                      "--hash"], env={"MEDQ_HOME": str(live.home)})
    assert hashes.exit_code == 0, hashes.output
    assert f"{medq['pipeline_hash']}  rag-sc" in hashes.output.splitlines()
    assert reply.model == "rag-sc" and medq["request_id"] == reply.id

    # The same question again is answered from medq's call store: no upstream call.
    again = ask(client, "rag-sc", text).model_extra["medq"]
    assert live.upstream.count == before + len(bodies)
    assert again["calls"]["cached"] == 3 and again["answer"] == "B"


def test_models_list_pipelines_in_scope(live: LiveServer) -> None:
    models = live.client(live.key("pipeline:rag-sc,pipeline:direct")).models.list()
    assert [m.id for m in models.data] == ["rag-sc", "direct"]
    card = models.data[0].model_extra["medq"]
    assert card["strategy"].startswith("self_consistency(base=medrag(")
    assert card["backend"]["model"] == "openai/good" and card["corpus"] == ["glianorex"]
    assert card["calls_per_answer"] == 3 and card["abstain_below"] == 0.5
    assert any("Self-Consistency" in p for p in card["paper"])
    assert any("MedRAG" in p for p in card["paper"])


def test_structured_question_and_stream(live: LiveServer) -> None:
    client = live.client(live.key())
    stem = question().splitlines()[0]
    options = ["Bone growth", "Mood", "Hair colour"]
    reply = client.chat.completions.create(
        model="rag-sc", messages=[{"role": "user", "content": stem}],
        extra_body={"medq": {"question": {"stem": stem, "options": options}}})
    medq = reply.model_extra["medq"]
    assert medq["question"] == {"stem": stem, "options": {"A": "Bone growth", "B": "Mood",
                                                          "C": "Hair colour"}}
    assert medq["answer"] == "B" and medq["answer_text"] == "Mood"
    chunks = list(client.chat.completions.create(
        model="rag-sc", stream=True, messages=[{"role": "user", "content": question()}]))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("B. Mood")
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert last.model_extra["medq"]["answer"] == "B" and last.usage.total_tokens > 0
    assert all("medq" not in (c.model_extra or {}) for c in chunks[:-1])


def test_a_split_vote_below_the_threshold_abstains_with_evidence(live: LiveServer) -> None:
    reply = ask(live.client(live.key()), "split", question())
    medq = reply.model_extra["medq"]
    assert medq["abstained"] is True and medq["answer"] is None
    assert medq["votes"] == {"A": 3, "B": 2} and medq["confidence"] == 0.6
    assert medq["threshold"] == 0.7
    assert "below the pipeline's threshold 0.70" in medq["abstention_reason"]
    content = reply.choices[0].message.content
    assert content.startswith("No answer: the pipeline abstained")
    assert "Votes: A 3, B 2." in content and "Bone growth" not in content
    assert len(medq["citations"]) == 8 and all(c["snippet"] for c in medq["citations"])


def test_wrong_key_and_missing_scope_make_no_upstream_call(live: LiveServer) -> None:
    before = live.upstream.count
    with pytest.raises(openai.AuthenticationError) as wrong:
        ask(live.client("mq-aaaaaaaaaaaa." + "x" * 43), "rag-sc", question())
    assert wrong.value.status_code == 401
    assert wrong.value.body["type"] == "authentication_error"
    token = live.key("pipeline:direct")
    with pytest.raises(openai.PermissionDeniedError) as scope:
        ask(live.client(token), "rag-sc", question())
    assert scope.value.status_code == 403 and "pipeline:rag-sc" in scope.value.message
    with pytest.raises(openai.NotFoundError):
        ask(live.client(token), "no-such-pipeline", question())
    revoked = live.key()
    CliRunner().invoke(app, ["serve", "keys", "revoke", revoked.split(".")[0]],
                       env={"MEDQ_HOME": str(live.home)})
    with pytest.raises(openai.AuthenticationError):
        ask(live.client(revoked), "direct", question())
    assert live.upstream.count == before


def test_every_route_but_health_and_the_page_needs_a_key(live: LiveServer) -> None:
    assert raw(live, "/health")[0] == 200
    for path in ("/v1/models", "/v1/models/rag-sc", "/openapi.json", "/no/such/route",
                 "/docs"):
        status, headers, body = raw(live, path)
        assert status == 401, path
        assert body["error"]["code"] == "invalid_api_key"
        assert headers["www-authenticate"] == "Bearer"
    token = live.key()
    assert raw(live, "/no/such/route", token=token)[0] == 404
    assert raw(live, "/docs", token=token)[0] == 404  # no docs page (it loads CDN scripts)
    status, _, body = raw(live, "/v1/models", token=token, method="DELETE")
    assert status == 405 and set(body["error"]) == {"message", "type", "param", "code"}


def test_rate_limit_refuses_before_any_upstream_call(live: LiveServer) -> None:
    client = live.client(live.key(requests_per_minute=2))
    ask(client, "direct", question())
    ask(client, "direct", question())
    before = live.upstream.count
    with pytest.raises(openai.RateLimitError) as refused:
        ask(client, "direct", question())
    assert refused.value.status_code == 429
    assert 1 <= int(refused.value.response.headers["retry-after"]) <= 60
    assert refused.value.body["code"] == "requests_per_minute_exceeded"
    assert live.upstream.count == before


def test_concurrency_cap_refuses_the_second_request_in_flight(live: LiveServer) -> None:
    from concurrent.futures import ThreadPoolExecutor

    client = live.client(live.key(concurrent=1))
    before = live.upstream.count
    live.upstream.latency = 1.0  # the first request is still upstream when the second comes
    try:
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(ask, client, "direct", question())
            time.sleep(0.3)
            second = pool.submit(ask, client, "direct", question())
            with pytest.raises(openai.RateLimitError) as refused:
                second.result()
            assert first.result().model_extra["medq"]["answer"] == "C"
    finally:
        live.upstream.latency = 0.0
    assert refused.value.body["code"] == "concurrency_limit_exceeded"
    assert refused.value.response.headers["retry-after"] == "1"
    assert live.upstream.count == before + 1


def test_body_cap_no_options_and_bad_requests(live: LiveServer) -> None:
    token = live.key()
    big = json.dumps({"model": "direct", "messages": [{"role": "user",
                                                       "content": "x" * 70_000}]}).encode()
    status, _, body = raw(live, "/v1/chat/completions", token=token, body=big)
    assert status == 413 and body["error"]["code"] == "body_too_large"
    client = live.client(token)
    with pytest.raises(openai.UnprocessableEntityError) as none:
        ask(client, "direct", "What does the glianorex regulate?")
    assert none.value.body["code"] == "options_required"
    status, _, body = raw(live, "/v1/chat/completions", token=token, body=b"{not json")
    assert status == 422 and body["error"]["type"] == "invalid_request_error"
    with pytest.raises(openai.UnprocessableEntityError):
        ask(client, "direct", question(), n=2)
    ignored = ask(client, "direct", question(), temperature=1.5).model_extra["medq"]
    assert ignored["ignored"] == ["temperature"]


def test_an_upstream_failure_is_a_503_never_an_answer(live: LiveServer) -> None:
    before = live.broken.count
    with pytest.raises(openai.InternalServerError) as failed:
        ask(live.client(live.key()), "broken", question())
    assert failed.value.status_code == 503
    error = failed.value.body
    assert error["type"] == "upstream_error" and "HTTP 500" in error["message"]
    assert "choices" not in failed.value.response.json()
    assert live.broken.count == before + 1  # upstream_attempts = 1


def test_audit_rows_chain_privacy_and_tampering(live: LiveServer) -> None:
    client = live.client(live.key())
    secret = "zebra-unicorn-" + question().splitlines()[0][-16:]
    private = [ask(client, "rag-sc", question(secret)) for _ in range(3)]
    stored_text = ask(client, "direct", question("Kept on purpose"))
    rows = {r["request_id"]: r for r in live.audit_rows()}
    for reply in [*private, stored_text]:
        row = rows[reply.id]
        medq = reply.model_extra["medq"]
        assert row["status"] == 200 and row["pipeline_hash"] == medq["pipeline_hash"]
        assert json.loads(row["upstream_calls"]) == medq["calls"]["ids"]
        assert json.loads(row["citations"]) == [c["id"] for c in medq["citations"]]
        assert row["answer"] == medq["answer"] and row["key_prefix"].startswith("mq-")
        assert row["prompt_tokens"] == reply.usage.prompt_tokens
    assert all(rows[r.id]["question_text"] is None for r in private)
    assert "Kept on purpose" in rows[stored_text.id]["question_text"]
    assert rows[stored_text.id]["answer_text"] == stored_text.choices[0].message.content
    result = CliRunner().invoke(app, ["serve", "audit", "verify"],
                                env={"MEDQ_HOME": str(live.home)})
    assert result.exit_code == 0 and "audit log intact" in result.output

    # No prompt text anywhere in the audit file for the pipeline that does not opt in.
    path = live.home / "serve" / "audit.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = path.read_bytes()
    assert b"zebra-unicorn" not in data and b"Kept on purpose" in data
    assert RAG_REPLY.encode() not in data

    # One flipped byte (in the second private row's answer hash) is found by verify.
    copy = path.parent / "tampered.sqlite"
    target = rows[private[1].id]["output_hash"].encode()
    at = data.find(target)
    assert at > 0
    changed = bytearray(data)
    changed[at + 5] ^= 0x01
    copy.write_bytes(bytes(changed))
    check = verify_audit(copy)
    seq = rows[private[1].id]["seq"]
    assert not check.ok and check.rows == seq - 1
    assert f"row {seq} (request {private[1].id}) was changed" in str(check.problem)
    cli = CliRunner().invoke(app, ["serve", "audit", "verify", "--path", str(copy)])
    assert cli.exit_code == 1 and f"row {seq}" in cli.output


def test_audit_hashes_are_of_the_bytes_sent_and_received(live: LiveServer) -> None:
    token = live.key()
    sent = json.dumps({"model": "direct", "messages": [
        {"role": "user", "content": question()}]}).encode()
    request = urllib.request.Request(f"{live.api}/chat/completions", data=sent, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        received = response.read()
    row = next(r for r in live.audit_rows() if r["request_id"] == json.loads(received)["id"])
    assert row["input_hash"] == hashlib.sha256(sent).hexdigest()
    assert row["output_hash"] == hashlib.sha256(received).hexdigest()


def test_n_requests_leave_n_audit_rows(live: LiveServer) -> None:
    token = live.key(requests_per_minute=4)
    client = live.client(token)
    before = len(live.audit_rows())
    outcomes = []
    for model in ("direct", "rag-sc", "broken", "split", "direct", "direct"):
        try:
            outcomes.append(ask(client, model, question()).id)
        except openai.APIStatusError as error:
            outcomes.append(error.status_code)
    rows = live.audit_rows()[before:]
    assert len(rows) == 6
    assert [r["status"] for r in rows] == [200, 200, 503, 200, 429, 429]
    assert [o for o in outcomes if isinstance(o, int)] == [503, 429, 429]
    assert {r["key_prefix"] for r in rows} == {token.split(".")[0]}
    assert verify_audit(live.home / "serve" / "audit.sqlite").ok
