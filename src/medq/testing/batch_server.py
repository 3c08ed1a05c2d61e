"""A loopback fake of the OpenAI Batch API (files + batches), for tests and benchmarks.

It serves ``POST /v1/files`` (multipart upload, ``purpose=batch``), ``GET
/v1/files/{id}/content``, ``POST /v1/batches`` and ``GET /v1/batches/{id}`` on top of
`FakeOpenAIServer`, answering every line of a batch with the same responder as its
``/chat/completions`` route. A batch stays ``in_progress`` for `polls_to_complete` status
reads, so clients must poll.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from aiohttp import web

from medq.testing.openai_server import FakeOpenAIServer


class FakeBatchServer(FakeOpenAIServer):
    """`FakeOpenAIServer` plus the Batch API.

    Args:
        polls_to_complete: status reads a batch answers ``in_progress`` before it is done.
        fail_lines: custom IDs whose line is answered with an error instead of a body.
        **kwargs: as for `FakeOpenAIServer`.

    Attributes:
        batches: every batch created, by ID (with its ``lines``).
        uploads: how many files were uploaded.
    """

    client_max_size = 200 * 1024**2
    """OpenAI's limit for a batch input file (a 1,273-item MedQA run uploads ~1.5 MB)."""

    def __init__(self, *args: Any, polls_to_complete: int = 1,
                 fail_lines: frozenset[str] = frozenset(), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.polls_to_complete = polls_to_complete
        self.fail_lines = fail_lines
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.uploads = 0
        self._ids = itertools.count(1)

    def app(self) -> web.Application:
        app = super().app()
        app.router.add_post("/v1/files", self._upload)
        app.router.add_get("/v1/files/{file_id}/content", self._content)
        app.router.add_post("/v1/batches", self._create)
        app.router.add_get("/v1/batches/{batch_id}", self._status)
        return app

    async def _upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload = form.get("file")
        if form.get("purpose") != "batch" or not isinstance(upload, web.FileField):
            return web.json_response({"error": {"message": "need purpose=batch and a file"}},
                                     status=400)
        file_id = f"file-{next(self._ids)}"
        self.files[file_id] = upload.file.read()
        self.uploads += 1
        return web.json_response({"id": file_id, "object": "file", "purpose": "batch"})

    async def _content(self, request: web.Request) -> web.Response:
        data = self.files.get(request.match_info["file_id"])
        if data is None:
            return web.json_response({"error": {"message": "no such file"}}, status=404)
        return web.Response(body=data, content_type="application/jsonl")

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        source = self.files.get(body.get("input_file_id", ""))
        if source is None or body.get("endpoint") != "/v1/chat/completions":
            return web.json_response({"error": {"message": "bad batch"}}, status=400)
        batch_id = f"batch_{next(self._ids)}"
        lines = [json.loads(line) for line in source.decode().splitlines() if line.strip()]
        self.batches[batch_id] = {"id": batch_id, "status": "in_progress", "reads": 0,
                                  "lines": lines}
        return web.json_response(self._public(self.batches[batch_id]))

    async def _status(self, request: web.Request) -> web.Response:
        batch = self.batches.get(request.match_info["batch_id"])
        if batch is None:
            return web.json_response({"error": {"message": "no such batch"}}, status=404)
        batch["reads"] += 1
        if batch["status"] == "in_progress" and batch["reads"] > self.polls_to_complete:
            out = []
            for line in batch["lines"]:
                self.requests.append(_received(line["body"]))
                if line["custom_id"] in self.fail_lines:
                    out.append({"custom_id": line["custom_id"], "response": None,
                                "error": {"message": "scripted line failure"}})
                    continue
                out.append({"custom_id": line["custom_id"], "error": None, "response": {
                    "status_code": 200, "body": self._completion(line["body"])}})
            file_id = f"file-{next(self._ids)}"
            self.files[file_id] = "".join(json.dumps(o) + "\n" for o in out).encode()
            batch.update(status="completed", output_file_id=file_id)
        return web.json_response(self._public(batch))

    @staticmethod
    def _public(batch: dict[str, Any]) -> dict[str, Any]:
        total = len(batch["lines"])
        done = total if batch["status"] == "completed" else 0
        return {"id": batch["id"], "object": "batch", "status": batch["status"],
                "output_file_id": batch.get("output_file_id"),
                "request_counts": {"total": total, "completed": done, "failed": 0}}


def _received(body: dict[str, Any]) -> Any:
    from medq.testing.openai_server import ReceivedRequest

    return ReceivedRequest("/v1/chat/completions(batch)", body, {})
