"""The HTTP app: FastAPI routes over `medq.serve.service.Service` (needs ``medq[serve]``).

Routes: ``POST /v1/chat/completions``, ``GET /v1/models``, ``GET /v1/models/{id}``,
``GET /openapi.json``, and, without a key, ``GET /health`` and the page for clinicians at
``GET /`` (a static file that holds no data; it asks for a key and sends it with every
call it makes). Every other path, unknown ones included, needs a key: the guard in front
of the router checks the body size and the key before any route runs, so a request
without a key never learns which paths exist.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from medq import __version__
from medq.serve.config import ServeConfig, load_config
from medq.serve.page import page_headers, render_page
from medq.serve.service import ServeError, Service
from medq.serve.wire import (
    ChatCompletion,
    ChatCompletionRequest,
    ErrorEnvelope,
    Health,
    ModelCard,
    ModelList,
)

__all__ = ["create_app"]

log = logging.getLogger("medq.serve")
PUBLIC = frozenset({"/health", "/"})
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
_API_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def _error_response(error: ServeError) -> JSONResponse:
    return JSONResponse(error.envelope(), status_code=error.status,
                        headers={**_API_HEADERS, **error.headers})


class Guard:
    """Body-size cap and authentication in front of every route but the public ones."""

    def __init__(self, app: ASGIApp, service: Service, max_body: int) -> None:
        self.app, self.service, self.max_body = app, service, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # the server has none: refuse before any route
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", ())}
        too_big = ServeError(413, f"the request body is over {self.max_body} bytes",
                             "invalid_request_error", "body_too_large")
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_body:
            await _error_response(too_big)(scope, receive, send)
            return
        body = bytearray()
        more = True
        while more:  # read (at most max_body bytes of) the body once, then replay it
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_body:
                await _error_response(too_big)(scope, receive, send)
                return
        if scope["path"] not in PUBLIC:
            try:
                key = self.service.authenticate(headers.get("authorization"))
            except ServeError as exc:
                await _error_response(exc)(scope, receive, send)
                return
            scope.setdefault("state", {})["key"] = key
        scope.setdefault("state", {})["body"] = bytes(body)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorEnvelope, "description": why} for code, why in (
        (401, "no key, or not a valid one"),
        (413, "the request body is too large"),
    )
}


def _errors(*codes: tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    return {**_ERRORS, **{c: {"model": ErrorEnvelope, "description": d} for c, d in codes}}


def create_app(config: ServeConfig | Path | str, *, service: Service | None = None) -> FastAPI:
    """The server for `config` (a loaded config or its path).

    Example:
        >>> import uvicorn
        >>> uvicorn.run(create_app("serve.toml"), host="127.0.0.1", port=8000)
    """
    if not isinstance(config, ServeConfig):
        config = load_config(config)
    service = service or Service(config)
    page = render_page()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.close()

    app = FastAPI(title="medq serve", version=__version__, docs_url=None, redoc_url=None,
                  lifespan=lifespan,
                  description="Evaluated medical QA pipelines behind OpenAI's Chat "
                              "Completions interface. Every path but /health and / needs "
                              "'Authorization: Bearer <key>'.")
    app.state.service = service

    @app.exception_handler(ServeError)
    async def serve_error(request: Request, exc: ServeError) -> JSONResponse:
        return _error_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        error = ServeError(exc.status_code, str(exc.detail), "invalid_request_error", kind,
                           dict(exc.headers or {}))
        return _error_response(error)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s", request.url.path)
        return _error_response(ServeError(500, "internal error (see the server log)",
                                          "server_error", "internal_error"))

    @app.get("/health", response_model=Health, tags=["server"])
    async def health() -> dict[str, Any]:
        """Liveness: no key needed, says nothing about the pipelines but their number."""
        return {"status": "ok", "pipelines": len(service.pipelines)}

    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        return Response(page.html, media_type="text/html; charset=utf-8",
                        headers=page_headers(page))

    def card(pipeline: Any) -> dict[str, Any]:
        return {"id": pipeline.name, "object": "model", "created": 0, "owned_by": "medq",
                "medq": pipeline.describe()}

    @app.get("/v1/models", response_model=ModelList, tags=["openai"],
             responses=_errors())
    async def models(request: Request) -> JSONResponse:
        """The pipelines this key may use."""
        key = request.state.key
        return JSONResponse({"object": "list", "data": [card(p) for p in service.visible(key)]},
                            headers=_API_HEADERS)

    @app.get("/v1/models/{model}", response_model=ModelCard, tags=["openai"],
             responses=_errors((403, "the key's scopes do not cover it"),
                               (404, "no such pipeline")))
    async def model(model: str, request: Request) -> JSONResponse:
        """One pipeline."""
        return JSONResponse(card(service.pipeline_for(request.state.key, model)),
                            headers=_API_HEADERS)

    @app.post(
        "/v1/chat/completions", response_model=ChatCompletion, tags=["openai"],
        responses={
            **_errors((403, "the key's scopes do not cover the pipeline"),
                      (404, "no such pipeline"),
                      (422, "not a chat request, no question, or no options"),
                      (429, "a limit of the key (see Retry-After)"),
                      (503, "the pipeline could not answer (its reason is given)")),
            200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                  "description": "the completion, or its chunks when stream is true"},
        },
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/ChatCompletionRequest"}}}}},
    )
    async def chat(request: Request) -> Response:
        """Answer one question with the pipeline `model` names."""
        completion, body, stream = await service.chat(request.state.key, request.state.body)
        headers = {**_API_HEADERS, "x-request-id": completion["id"]}
        if stream:
            return StreamingResponse(_chunks(completion), media_type="text/event-stream",
                                     headers=headers)
        return Response(body, media_type="application/json", headers=headers)

    _document(app, ChatCompletionRequest, pipelines=list(service.pipelines))
    app.add_middleware(Guard, service=service, max_body=config.server.max_body_bytes)
    return app


def _document(app: FastAPI, *models: Any, pipelines: list[str]) -> None:
    """Add request models the routes parse themselves (to audit every outcome) to the
    schema's components, naming the pipelines served as the values of ``model``."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = original()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in models:
                body = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(body.pop("$defs", {}))
                components[model.__name__] = body
            chat = components["ChatCompletionRequest"]
            chat["properties"]["model"]["enum"] = pipelines
            chat["examples"] = [{
                "model": name,
                "messages": [{"role": "user", "content": "Which organ regulates mood?\n"
                              "A. The liver\nB. The glianorex\nC. The spleen"}],
            } for name in pipelines[:1]] + [{
                "model": name,
                "messages": [{"role": "user", "content": "Which organ regulates mood?"}],
                "medq": {"question": {"stem": "Which organ regulates mood?",
                                      "options": ["The liver", "The glianorex"]}},
            } for name in pipelines]
            schema["components"]["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer"}}
            schema["security"] = [{"bearer": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


async def _chunks(completion: dict[str, Any]) -> AsyncIterator[bytes]:
    """The completion as server-sent chunks: role, content, then the last chunk with
    finish_reason, usage and the medq object."""
    base = {"id": completion["id"], "object": "chat.completion.chunk",
            "created": completion["created"], "model": completion["model"]}
    content = completion["choices"][0]["message"]["content"]
    deltas = [({"role": "assistant", "content": ""}, None), ({"content": content}, None)]
    for delta, finish in deltas:
        chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish,
                                      "logprobs": None}]}
        yield f"data: {json.dumps(chunk)}\n\n".encode()
    last = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop",
                                 "logprobs": None}],
            "usage": completion["usage"], "medq": completion["medq"]}
    yield f"data: {json.dumps(last)}\n\n".encode()
    yield b"data: [DONE]\n\n"


def serve(config: ServeConfig, host: str, port: int) -> None:
    """Run the server until interrupted (``medq serve``)."""
    import uvicorn

    started = time.perf_counter()
    app = create_app(config)
    log.info("medq serve: %d pipeline(s) built in %.1fs", len(config.pipelines),
             time.perf_counter() - started)
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False,
                server_header=False)
