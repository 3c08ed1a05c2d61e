"""Keys, limits, the audit chain and question parsing, each on its own (no server)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from medq.serve.audit import AuditEntry, AuditLog, verify_audit
from medq.serve.config import KeyLimits
from medq.serve.keys import KeyStore, KeyStoreError, parse_scopes
from medq.serve.limits import Limiter, RateLimited
from medq.serve.questions import QuestionError, parse_text, question_from


def test_a_key_is_stored_as_prefix_and_hash_only(medq_home: Path) -> None:
    with KeyStore() as keys:
        token, record = keys.create("ward-7", "pipeline:rag, pipeline:direct")
        assert token.startswith(record.prefix + ".")
        assert record.scopes == ("pipeline:rag", "pipeline:direct")
        assert keys.authenticate(token) == record
        assert keys.authenticate(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
        assert keys.authenticate(record.prefix) is None
        assert keys.authenticate("") is None
        secret = token.split(".", 1)[1]
    raw = (medq_home / "serve" / "keys.sqlite").read_bytes()
    wal = medq_home / "serve" / "keys.sqlite-wal"
    raw += wal.read_bytes() if wal.exists() else b""
    assert secret.encode() not in raw and token.encode() not in raw
    assert record.prefix.encode() in raw
    assert (medq_home / "serve" / "keys.sqlite").stat().st_mode & 0o077 == 0


def test_scopes_revocation_and_names(medq_home: Path) -> None:
    with KeyStore() as keys:
        token, record = keys.create("a", ["pipeline:rag"])
        assert record.allows("rag") and not record.allows("direct")
        _, star = keys.create("b", "pipeline:*")
        assert star.allows("anything")
        with pytest.raises(KeyStoreError, match="already named"):
            keys.create("a", "pipeline:*")
        assert keys.revoke("a").revoked_at is not None
        assert keys.authenticate(token) is None
        keys.create("a", "pipeline:*")  # the name is free again once revoked
        assert [r.name for r in keys.list()] == ["a", "b", "a"]
        with pytest.raises(KeyStoreError, match="no active key"):
            keys.revoke("nobody")
    for bad in ("rag", "pipeline:", "pipeline:a b", "model:x", ""):
        with pytest.raises(KeyStoreError):
            parse_scopes(bad)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_request_limit_slides_and_says_when_to_retry() -> None:
    clock = Clock()
    limiter = Limiter(clock)
    limits = KeyLimits(requests_per_minute=2, tokens_per_minute=None, concurrent=None)
    limiter.admit("k", limits).release()
    clock.now += 10
    limiter.admit("k", limits).release()
    clock.now += 5
    with pytest.raises(RateLimited) as refused:
        limiter.admit("k", limits)
    assert refused.value.retry_after == 45  # the first request leaves the window at +60
    assert refused.value.code == "requests_per_minute_exceeded"
    clock.now += 45
    limiter.admit("k", limits).release()  # one left the window
    limiter.admit("other", limits).release()  # keys are counted apart


def test_token_limit_and_concurrency_cap() -> None:
    clock = Clock()
    limiter = Limiter(clock)
    limits = KeyLimits(requests_per_minute=None, tokens_per_minute=100, concurrent=2)
    first = limiter.admit("k", limits)
    second = limiter.admit("k", limits)
    with pytest.raises(RateLimited) as busy:
        limiter.admit("k", limits)
    assert busy.value.code == "concurrency_limit_exceeded" and busy.value.retry_after == 1
    first.release(60)
    clock.now += 20
    second.release(50)  # 110 tokens in the window: the next request waits
    with pytest.raises(RateLimited) as spent:
        limiter.admit("k", limits)
    assert spent.value.code == "tokens_per_minute_exceeded"
    assert spent.value.retry_after == 40  # the 60 tokens leave at +60 from their release
    clock.now += 40
    limiter.admit("k", limits).release()


def entry(n: int) -> AuditEntry:
    return AuditEntry(f"req-{n}", f"{n:064x}", 200, 1.5 * n, key_prefix="mq-x",
                      pipeline="rag", answer="B", confidence=0.8, abstained=False,
                      citations=("c1", "c2"), upstream_calls=("k1",), prompt_tokens=n)


def test_audit_chain_holds_and_is_append_only(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    with AuditLog(path) as log:
        heads = [log.append(entry(n)) for n in range(1, 6)]
        assert log.count() == 5
        for statement in ("UPDATE audit SET answer='C' WHERE seq=2", "DELETE FROM audit"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                log._db.execute(statement)
    result = verify_audit(path)
    assert result.ok and result.rows == 5 and result.head == heads[-1]


def test_audit_verify_finds_a_flipped_byte(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    with AuditLog(path) as log:
        for n in range(1, 6):
            log.append(entry(n))
        log._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = bytearray(path.read_bytes())
    at = raw.find(f"{3:064x}".encode())  # row 3's input hash
    assert at > 0
    raw[at + 10] ^= 0x01
    path.write_bytes(bytes(raw))
    result = verify_audit(path)
    assert not result.ok and result.rows == 2
    assert "row 3 (request req-3) was changed" in str(result.problem)


def test_audit_verify_finds_a_removed_row(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    with AuditLog(path) as log:
        for n in range(1, 5):
            log.append(entry(n))
        log._db.execute("DROP TRIGGER audit_no_delete")
        log._db.execute("DELETE FROM audit WHERE seq=2")
    result = verify_audit(path)
    assert result.rows == 1 and "row 2 is missing" in str(result.problem)


def test_plain_text_questions() -> None:
    asked = parse_text("A 30-year-old has a rash.\nWhich is most likely?\n"
                       "A. Measles\nB) Rubella\n(C) Scarlet\n  fever\nD: Roseola")
    assert asked.stem == "A 30-year-old has a rash.\nWhich is most likely?"
    assert dict(asked.options) == {"A": "Measles", "B": "Rubella", "C": "Scarlet fever",
                                   "D": "Roseola"}
    assert parse_text("What regulates mood?").options == {}
    # Letters out of order end the options; one option alone is no list of options.
    assert dict(parse_text("Q?\nA. one\nC. three").options) == {}
    assert dict(parse_text("Q?\nA. one\nB. two\nD. four").options) == {
        "A": "one", "B": "two D. four"}


def test_structured_questions_and_their_errors() -> None:
    asked = question_from([], {"question": {"stem": "Q?", "options": ["x", "y"]}})
    assert dict(asked.options) == {"A": "x", "B": "y"}
    asked = question_from([{"role": "user", "content": [{"type": "text", "text": "Q?\nA. x\n"
                                                        "B. y"}]}], None)
    assert dict(asked.options) == {"A": "x", "B": "y"}
    for bad, why in (
        ({"question": {"stem": "", "options": ["x"]}}, "stem"),
        ({"question": {"stem": "Q", "options": {"B": "x"}}}, "letters must run"),
        ({"question": {"stem": "Q", "options": {"A": " "}}}, "non-empty"),
    ):
        with pytest.raises(QuestionError, match=why):
            question_from([], bad)
    with pytest.raises(QuestionError, match="no user message"):
        question_from([{"role": "system", "content": "x"}], None)
    with pytest.raises(QuestionError, match="only text"):
        question_from([{"role": "user", "content": [{"type": "image_url"}]}], None)


def test_two_writers_keep_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    with AuditLog(path) as first, AuditLog(path) as second:
        for n in range(1, 9):  # each writer's idea of the head goes stale in turn
            (first if n % 3 else second).append(entry(n))
        assert first.count() == 8
    result = verify_audit(path)
    assert result.ok and result.rows == 8


def test_citations_from_details_and_recorded_passages() -> None:
    from medq.retrieval import Passage
    from medq.serve.evidence import citations

    found = {("pubmed", "p1"): Passage("p1", "Trial", "A trial of x.", 2.0, "pubmed",
                                       {"PMID": "31415926"}),
             ("books", "b7"): Passage("b7", "Chapter", "Text of b7.", 1.0, "books",
                                      {"source": "book.md"})}
    details = {"retrieved": [{"id": "p1", "corpus": "pubmed", "title": "Trial", "score": 2.0},
                             {"id": "b7", "corpus": "books", "title": "Chapter", "score": 1.0},
                             {"id": "gone", "corpus": "books", "title": "", "score": 0.5}],
               "cited": ["p1", "b7"], "referenced": ["b7"]}
    out = citations(details, found)
    assert [(c.n, c.id, c.shown, c.cited) for c in out] == [
        (1, "p1", True, False), (2, "b7", True, True), (3, "gone", False, False)]
    assert out[0].url == "https://pubmed.ncbi.nlm.nih.gov/31415926/" and out[1].url is None
    assert out[1].source == "book.md" and out[1].snippet == "Text of b7."
    assert out[2].snippet is None  # retrieved, but its text was never seen
    # A strategy that keeps no retrieval record: what the retrievers found, none shown.
    assert [(c.id, c.shown) for c in citations({}, found)] == [("p1", False), ("b7", False)]


@pytest.mark.parametrize(("mode", "requests"), [("on", 1), ("off", 3)])
def test_a_pipeline_asks_for_its_samples_as_n_per_request_says(
        tmp_path: Path, medq_home: Path, mode: str, requests: int) -> None:
    import asyncio

    from medq.serve.config import load_config
    from medq.serve.pipeline import Pipeline
    from medq.store import Store
    from medq.testing.openai_server import FakeOpenAIServer

    with FakeOpenAIServer() as server:
        path = tmp_path / "serve.toml"
        path.write_text(f'[[pipeline]]\nname = "sc"\nmodel = "openai/m"\n'
                        f'base_url = "{server.base_url}"\napi_key_env = "HOME"\n'
                        f'strategy = "self_consistency(n=3,base=direct)"\n'
                        f'n_per_request = "{mode}"\n', encoding="utf-8")
        config = load_config(path).pipeline("sc")
        assert config.n_per_request == mode

        async def ask() -> None:
            with Store() as store:
                pipeline = Pipeline.build(config, store)
                try:
                    await pipeline.answer(parse_text("Which organ?\nA. liver\nB. lung"), "r1")
                finally:
                    await pipeline.aclose()

        asyncio.run(ask())
        assert server.count == requests
