"""`openai-batch/<model>`: a run's requests through the OpenAI-compatible Batch API.

OpenAI's and vLLM's batch endpoints answer offline work at about half the price. The
backend collects the requests the runner has in flight (all of a run's items: it asks for
an unbounded window), writes them as one JSONL file, uploads it (``/v1/files``), creates a
batch (``/v1/batches``), polls it, and answers each request from the output file. The
runner stores every answer under the same cache key a direct call would have, so a batch
run resumes, rescores and reports like any run; multi-call strategies run round by round
(each round's requests form the next batch).

A round bigger than one batch may be (OpenAI: 50,000 requests and a 200 MB input file)
is submitted as several batches, each within both limits, polled together; a single
request bigger than a whole input file fails alone, as that item's error.

A killed run does not pay twice: each submitted batch is journalled under
``$MEDQ_HOME/batches.sqlite`` by request content, and the same requests later re-poll that
batch instead of submitting a new one.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from medq.models.base import ModelError, TransientModelError
from medq.models.openai_compat import OpenAICompatModel
from medq.registry import models
from medq.store import canonical_json, medq_home
from medq.types import Capability, Completion, GenerationRequest

TERMINAL_FAILED = ("failed", "expired", "cancelled", "cancelling")
MAX_BATCH_REQUESTS = 50_000
"""OpenAI's limit on the requests of one batch."""
MAX_BATCH_BYTES = 200_000_000
"""OpenAI's limit on a batch input file ("200 MB"; read as 10^6 bytes, the smaller)."""


@dataclass
class _Pending:
    key: str
    body: dict[str, Any]
    request: GenerationRequest
    wants_logprobs: bool
    future: asyncio.Future[Completion]


class BatchJournal:
    """Which submitted batch holds which request (by content), so a rerun re-polls."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS batch_requests (key TEXT PRIMARY KEY, "
            "batch_id TEXT NOT NULL, endpoint TEXT NOT NULL, created_at REAL NOT NULL)")

    def batch_of(self, key: str, endpoint: str) -> str | None:
        row = self._db.execute("SELECT batch_id FROM batch_requests WHERE key=? AND endpoint=?",
                               (key, endpoint)).fetchone()
        return None if row is None else str(row[0])

    def record(self, batch_id: str, keys: list[str], endpoint: str) -> None:
        now = time.time()
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO batch_requests VALUES (?,?,?,?)",
                                 [(k, batch_id, endpoint, now) for k in keys])

    def forget(self, batch_id: str) -> None:
        self._db.execute("DELETE FROM batch_requests WHERE batch_id=?", (batch_id,))

    def close(self) -> None:
        self._db.close()


class OpenAIBatchModel(OpenAICompatModel):
    """An OpenAI-compatible server used through its Batch API (see the module docstring).

    Args:
        model: the model ID the server knows.
        gather_s: how long the backend waits for more requests after the last one
            arrived before submitting a batch.
        poll_s: seconds between status polls.
        max_batch_requests: the most requests one batch holds; a bigger round is split.
        max_batch_bytes: the largest input file one batch takes (its JSONL bytes).
        **kwargs: as for `OpenAICompatModel` (base_url, api_key_env, timeout, ...).
    """

    unbounded_window = True
    """Tells the runner to keep every item in flight (a batch is the whole round)."""

    def __init__(self, model: str, *, gather_s: float = 0.2, poll_s: float = 10.0,
                 max_batch_requests: int = MAX_BATCH_REQUESTS,
                 max_batch_bytes: int = MAX_BATCH_BYTES, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        if max_batch_requests < 1 or max_batch_bytes < 1:
            raise ValueError("max_batch_requests and max_batch_bytes must be 1 or more")
        self.max_batch_requests = max_batch_requests
        self.max_batch_bytes = max_batch_bytes
        self.name = f"openai-batch/{model}"
        self.capabilities = self.capabilities - {Capability.TOOLS} | {Capability.GENERATE}
        self.gather_s = gather_s
        self.poll_s = poll_s
        self.batches_submitted = 0
        self._queue: list[_Pending] = []
        self._flusher: asyncio.Task[None] | None = None
        self._last_arrival = 0.0

    async def complete(self, request: GenerationRequest) -> Completion:
        """Queue `request` for the next batch and wait for its answer."""
        wants_logprobs = request.logprobs or request.top_logprobs is not None
        body = self._body(request, wants_logprobs)
        key = hashlib.sha256(canonical_json(body).encode()).hexdigest()
        future: asyncio.Future[Completion] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(key, body, request, wants_logprobs, future))
        self._last_arrival = time.monotonic()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.ensure_future(self._gather_then_flush())
        return await future

    async def _gather_then_flush(self) -> None:
        while time.monotonic() - self._last_arrival < self.gather_s:
            await asyncio.sleep(self.gather_s / 4)
        pending, self._queue = self._queue, []
        # Requests arriving from now on (a next round, asked as soon as this one's answers
        # are set, before this task ends) start the next batch rather than wait for none.
        self._flusher = None
        try:
            await self._flush(pending)
        except BaseException as exc:  # every waiting request learns why
            _fail(pending, exc)
            if not isinstance(exc, Exception):
                raise

    async def _flush(self, pending: list[_Pending]) -> None:
        journal = BatchJournal(medq_home() / "batches.sqlite")
        try:
            by_batch: dict[str, list[_Pending]] = {}
            fresh: list[_Pending] = []
            for item in pending:
                known = journal.batch_of(item.key, self.endpoint)
                (by_batch.setdefault(known, []) if known else fresh).append(item)
            for chunk in self._split(fresh):
                batch_id = await self._submit(chunk)
                journal.record(batch_id, [i.key for i in chunk], self.endpoint)
                by_batch.setdefault(batch_id, []).extend(chunk)
            outcomes = await asyncio.gather(
                *(self._collect(b, items, journal) for b, items in by_batch.items()),
                return_exceptions=True)
            # A batch that failed fails its own requests; the other batches' stand.
            for items, outcome in zip(by_batch.values(), outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    _fail(items, outcome)
                    if not isinstance(outcome, Exception):
                        raise outcome
        finally:
            journal.close()

    def _split(self, items: list[_Pending]) -> list[list[_Pending]]:
        """`items` as batches within the request and file-size limits, in order; the
        copies of one request (same key) stay in one batch, which sends it once. A request
        whose line alone is over the size limit is answered with its error here."""
        chunks: list[list[_Pending]] = []
        where: dict[str, list[_Pending]] = {}
        lines = size = 0
        for item in items:
            if item.key in where:
                where[item.key].append(item)
                continue
            length = len(_line(item.key, item.body).encode())
            if length > self.max_batch_bytes:
                item.future.set_exception(ModelError(
                    f"this request is {length:,} bytes as a batch line, over the "
                    f"{self.max_batch_bytes:,}-byte limit on a whole batch input file"))
                continue
            if not chunks or lines >= self.max_batch_requests or (
                    size + length > self.max_batch_bytes):
                chunks.append([])
                lines = size = 0
            chunks[-1].append(item)
            where[item.key] = chunks[-1]
            lines += 1
            size += length
        return chunks

    async def _submit(self, items: list[_Pending]) -> str:
        unique = {i.key: i for i in items}
        lines = "".join(_line(key, item.body) for key, item in unique.items())
        session = self._client()
        form = aiohttp.FormData()
        form.add_field("purpose", "batch")
        # A file object, not bytes: aiohttp warns that bodies over 1 MiB given as bytes
        # block the event loop (a full MedQA run's file is ~1.5 MB).
        form.add_field("file", io.BytesIO(lines.encode()), filename="medq-batch.jsonl",
                       content_type="application/jsonl")
        payload = form()
        # The session's JSON content type must not replace the multipart boundary.
        file = await self._json(session.post(f"{self.endpoint}/files", data=payload,
                                             headers={"Content-Type": payload.content_type}))
        batch = await self._json(session.post(f"{self.endpoint}/batches", data=json.dumps({
            "input_file_id": file["id"], "endpoint": "/v1/chat/completions",
            "completion_window": "24h"})))
        self.batches_submitted += 1
        return str(batch["id"])

    async def _collect(self, batch_id: str, items: list[_Pending],
                       journal: BatchJournal) -> None:
        session = self._client()
        while True:
            status = await self._json(session.get(f"{self.endpoint}/batches/{batch_id}"))
            state = status.get("status")
            counts = status.get("request_counts") or {}
            if sys.stderr.isatty():
                print(f"\rbatch {batch_id}: {state} {counts.get('completed', 0)}/"
                      f"{counts.get('total', '?')}", end="", file=sys.stderr, flush=True)
            if state == "completed":
                break
            if state in TERMINAL_FAILED:
                journal.forget(batch_id)
                raise TransientModelError(f"batch {batch_id} ended {state}: "
                                          f"{json.dumps(status.get('errors'))[:300]}")
            await asyncio.sleep(self.poll_s)
        output = status.get("output_file_id")
        results: dict[str, dict[str, Any]] = {}
        if output:
            async with session.get(f"{self.endpoint}/files/{output}/content") as response:
                text = (await response.read()).decode()
            for line in text.splitlines():
                if line.strip():
                    record = json.loads(line)
                    results[record["custom_id"]] = record
        for item in items:
            if item.future.done():  # its caller gave up on it (a cancelled run)
                continue
            record = results.get(item.key)
            if record is None or record.get("error") or not record.get("response"):
                why = (record or {}).get("error") or "no line in the batch's output"
                item.future.set_exception(ModelError(f"batch {batch_id}: {why}"))
                continue
            response = record["response"]
            if response.get("status_code") != 200:
                item.future.set_exception(ModelError(
                    f"batch {batch_id}: status {response.get('status_code')}: "
                    f"{json.dumps(response.get('body'))[:300]}"))
                continue
            raw = json.dumps(response["body"]).encode()
            try:
                item.future.set_result(self._parse(raw, item.request, item.wants_logprobs))
            except ModelError as exc:
                item.future.set_exception(exc)

    async def _json(self, call: Any) -> dict[str, Any]:
        try:
            async with call as response:
                raw = await response.read()
                if response.status != 200:
                    raise ModelError(f"batch API {response.url.path}: HTTP {response.status}: "
                                     f"{raw[:300].decode(errors='replace')}")
                return dict(json.loads(raw))
        except aiohttp.ClientConnectionError as exc:
            raise TransientModelError(f"batch API connection failed: {exc}") from exc


def _fail(items: list[_Pending], exc: BaseException) -> None:
    """Answer every request of `items` not answered yet with `exc`."""
    for item in items:
        if not item.future.done():
            item.future.set_exception(exc if isinstance(exc, ModelError) else ModelError(str(exc)))


def _line(key: str, body: dict[str, Any]) -> str:
    """One request of a batch input file, newline included."""
    return json.dumps({"custom_id": key, "method": "POST", "url": "/v1/chat/completions",
                       "body": body}) + "\n"


@models.register("openai-batch")
def openai_batch(model: str, *, base_url: str | None = None, api_key_env: str | None = None,
                 timeout: float = 600.0, poll_s: float = 10.0) -> OpenAIBatchModel:
    """``openai-batch/<model>``: the Batch API of an OpenAI-compatible server."""
    return OpenAIBatchModel(model, base_url=base_url, api_key_env=api_key_env,
                            timeout=timeout, poll_s=poll_s)
