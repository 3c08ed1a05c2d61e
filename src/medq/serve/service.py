"""One chat request, from an authenticated key to an audited reply; no web framework here.

The order matters and is the contract: the key's scope, the request's shape and the
question are checked, then the key's limits, and only then is any upstream call made. An
upstream failure is a 503 with its reason, never an answer. Every request that presented
a valid key leaves exactly one audit row, whatever its outcome; a reply whose audit row
cannot be written is not sent (503).
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from medq.serve.audit import AuditEntry, AuditLog
from medq.serve.config import ServeConfig
from medq.serve.keys import KeyRecord, KeyStore
from medq.serve.limits import Lease, Limiter, RateLimited
from medq.serve.pipeline import Pipeline, UpstreamError
from medq.serve.questions import AskedQuestion, QuestionError, question_from
from medq.serve.reply import medq_object, message, verdict
from medq.serve.wire import ChatCompletionRequest
from medq.store import Store, canonical_json

__all__ = ["ServeError", "Service"]

log = logging.getLogger("medq.serve")

# Fields a pipeline answers the same whatever they say (it fixes its own prompts and
# generation); anything else unknown is listed as ignored too.
_USED = {"model", "messages", "stream", "n", "medq", "stream_options", "user"}


class ServeError(Exception):
    """A request refused, as an HTTP status and OpenAI's error envelope."""

    def __init__(self, status: int, message: str, type_: str, code: str | None = None,
                 headers: Mapping[str, str] | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.code = status, message, type_, code
        self.headers = dict(headers or {})
        self.param = param

    def envelope(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param,
                          "code": self.code}}


def unauthorized(message: str = "a valid API key is required: send 'Authorization: "
                 "Bearer mq-…' (keys: `medq serve keys create`)") -> ServeError:
    return ServeError(401, message, "authentication_error", "invalid_api_key",
                      {"WWW-Authenticate": "Bearer"})


def _first_error(exc: ValidationError) -> tuple[str, str]:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error["loc"]) or "body"
    return where, f"{where}: {error['msg']}"


@dataclass
class _Record:
    """What the audit row of the request in progress will say."""

    request_id: str
    input_hash: str
    key: KeyRecord
    started: float
    pipeline: Pipeline | None = None
    asked: AskedQuestion | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Service:
    """The server's state: pipelines, keys, limits, audit log. See the module docstring.

    Example:
        >>> service = Service(load_config("serve.toml"))
        >>> await service.start()
        >>> key = service.authenticate("Bearer mq-…")
        >>> completion = await service.chat(key, body_bytes)
    """

    def __init__(self, config: ServeConfig, *, store: Store | None = None,
                 keys: KeyStore | None = None, audit: AuditLog | None = None,
                 limiter: Limiter | None = None) -> None:
        self.config = config
        self.store = store or Store()
        self.keys = keys or KeyStore()
        self.audit = audit or AuditLog()
        self.limiter = limiter or Limiter()
        self.pipelines = {p.name: Pipeline.build(p, self.store) for p in config.pipelines}

    async def start(self) -> None:
        """Run each strategy's one-off preparation before the first request."""
        for pipeline in self.pipelines.values():
            await pipeline.prepare()

    async def close(self) -> None:
        for pipeline in self.pipelines.values():
            await pipeline.aclose()

    def authenticate(self, authorization: str | None) -> KeyRecord:
        """The key an ``Authorization`` header presents; a 401 ServeError otherwise."""
        if not authorization or not authorization.startswith("Bearer "):
            raise unauthorized()
        record = self.keys.authenticate(authorization[len("Bearer "):].strip())
        if record is None:
            raise unauthorized("the API key is not valid (unknown, mistyped or revoked)")
        return record

    def visible(self, key: KeyRecord) -> list[Pipeline]:
        """The pipelines `key` may use, in config order."""
        return [p for p in self.pipelines.values() if key.allows(p.name)]

    def pipeline_for(self, key: KeyRecord, name: str) -> Pipeline:
        pipeline = self.pipelines.get(name)
        if pipeline is None:
            raise ServeError(404, f"no pipeline {name!r} (GET /v1/models lists them)",
                             "invalid_request_error", "model_not_found", param="model")
        if not key.allows(name):
            raise ServeError(403, f"this key's scopes do not include pipeline:{name}",
                             "permission_error", "scope_missing", param="model")
        return pipeline

    async def chat(self, key: KeyRecord, raw: bytes) -> tuple[dict[str, Any], bytes, bool]:
        """Answer one ``POST /v1/chat/completions`` body: ``(completion, its JSON, stream)``.

        Raises:
            ServeError: 4xx for the request, 429 for a limit, 503 upstream.
        """
        record = _Record(f"chatcmpl-{secrets.token_hex(12)}", hashlib.sha256(raw).hexdigest(),
                         key, time.perf_counter())
        try:
            completion, stream = await self._chat(record, raw)
        except ServeError as exc:
            self._audit(record, exc.status, error=exc.message)
            exc.headers.setdefault("x-request-id", record.request_id)
            raise
        body = json.dumps(completion, ensure_ascii=False, separators=(",", ":")).encode()
        self._audit(record, 200, completion=completion, body=body)
        return completion, body, stream

    async def _chat(self, record: _Record, raw: bytes) -> tuple[dict[str, Any], bool]:
        try:
            request = ChatCompletionRequest.model_validate_json(raw)
        except ValidationError as exc:
            param, text = _first_error(exc)
            raise ServeError(422, text, "invalid_request_error", "invalid_body",
                             param=param) from None
        pipeline = self.pipeline_for(record.key, request.model)
        record.pipeline = pipeline
        if request.n not in (None, 1):
            raise ServeError(422, "n must be 1: a pipeline gives one answer per request",
                             "invalid_request_error", "invalid_n", param="n")
        messages = [m.model_dump() for m in request.messages]
        extension = request.medq.model_dump() if request.medq is not None else None
        try:
            asked = question_from(messages, extension)
        except QuestionError as exc:
            raise ServeError(422, str(exc), "invalid_request_error", "invalid_question",
                             param="messages") from None
        if not asked.options:
            raise ServeError(
                422, f"pipeline {pipeline.name!r} answers multiple-choice questions and "
                "found no options: list them one per line (A. …, B. …) or give "
                "medq.question.options", "invalid_request_error", "options_required",
                param="messages")
        record.asked = asked
        ignored = sorted(set(request.model_extra or {}) - _USED)
        if extension and extension.get("question") is not None and messages:
            ignored.append("messages (the question was given as medq.question)")
        elif len(messages) > 1:
            ignored.append("messages before the last user message")
        try:
            lease: Lease = self.limiter.admit(record.key.prefix, self._limits(record.key))
        except RateLimited as exc:
            raise ServeError(429, str(exc), "rate_limit_error", exc.code,
                             {"Retry-After": str(exc.retry_after)}) from None
        tokens = 0
        try:
            served = await pipeline.answer(asked, record.request_id)
            tally = served.tally
            tokens = tally.prompt_tokens + tally.completion_tokens
        except UpstreamError as exc:
            tokens = exc.tally.prompt_tokens + exc.tally.completion_tokens
            record.extra["tally"] = exc.tally
            raise ServeError(503, f"the pipeline could not answer: {exc}", "upstream_error",
                             "upstream_failed") from None
        finally:
            lease.release(tokens)
        record.extra["tally"] = tally
        threshold = pipeline.config.abstain_below
        judged = verdict(served.answer, threshold)
        record.extra["citations"] = [c.id for c in served.citations]
        record.extra["judged"] = judged
        content = message(asked, served.answer, judged, threshold, served.citations)
        calls = {"total": tally.calls, "upstream": tally.new_calls,
                 "cached": tally.calls - tally.new_calls, "ids": list(tally.keys)}
        latency = round(1000 * (time.perf_counter() - record.started), 3)
        medq = medq_object(
            asked=asked, answer=served.answer, judged=judged, threshold=threshold,
            calibration=pipeline.config.calibration, cites=served.citations,
            pipeline=pipeline.name, pipeline_hash=pipeline.hash, calls=calls,
            latency_ms=latency, request_id=record.request_id, ignored=ignored)
        completion = {
            "id": record.request_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": pipeline.name,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": "stop", "logprobs": None}],
            "usage": {"prompt_tokens": tally.prompt_tokens,
                      "completion_tokens": tally.completion_tokens,
                      "total_tokens": tally.prompt_tokens + tally.completion_tokens},
            "medq": medq,
        }
        return completion, request.stream

    def _limits(self, key: KeyRecord) -> Any:
        return self.config.limits.merged(key.limits)

    def _audit(self, record: _Record, status: int, *, error: str | None = None,
               completion: dict[str, Any] | None = None, body: bytes | None = None) -> None:
        pipeline, tally = record.pipeline, record.extra.get("tally")
        judged = record.extra.get("judged")
        keep = pipeline is not None and pipeline.config.store_content
        entry = AuditEntry(
            request_id=record.request_id,
            input_hash=record.input_hash,
            status=status,
            latency_ms=round(1000 * (time.perf_counter() - record.started), 3),
            key_prefix=record.key.prefix,
            pipeline=pipeline.name if pipeline else None,
            pipeline_hash=pipeline.hash if pipeline else None,
            output_hash=hashlib.sha256(body).hexdigest() if body is not None else None,
            answer=judged.choice if judged else None,
            confidence=judged.confidence if judged else None,
            abstained=judged.abstained if judged else None,
            citations=tuple(record.extra.get("citations", ())),
            upstream_calls=tuple(tally.keys) if tally else (),
            error=error,
            prompt_tokens=tally.prompt_tokens if tally else 0,
            completion_tokens=tally.completion_tokens if tally else 0,
            question_text=canonical_json(record.asked.to_json())
            if keep and record.asked else None,
            answer_text=completion["choices"][0]["message"]["content"]
            if keep and completion else None,
        )
        try:
            self.audit.append(entry)
        except sqlite3.Error as exc:
            log.error("audit log write failed for %s: %s", record.request_id, exc)
            raise ServeError(503, f"the audit log could not be written ({exc}); no reply is "
                             "sent without its audit row", "server_error",
                             "audit_unavailable") from None
