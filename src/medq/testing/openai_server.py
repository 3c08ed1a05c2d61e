"""A small, real OpenAI-compatible chat server on 127.0.0.1, for tests and benchmarks.

It serves ``POST /v1/chat/completions`` and ``GET /v1/models`` with deterministic answers,
optional log-probabilities, injectable latency and a fault schedule, and it records every
request it receives, so tests can assert exactly what was sent and how often.

Three ways to run it::

    # (a) in-process, from async code
    async with FakeOpenAIServer(responder=letter_responder()) as server:
        model = OpenAICompatModel("m", base_url=server.base_url)

    # (b) from sync code: the server runs its own event loop in a background thread
    with FakeOpenAIServer(latency=0.05) as server:
        ...

    # (c) as a separate process (prints its base URL on the first line of stdout)
    python -m medq.testing.openai_server --port 0 --latency 0.2 --responder letter

Messages may be lists of content parts (``text`` and ``image_url`` with a URL or a base64
data URL), as vision models take them; `prompt_text` reads their text parts and
`image_urls` their images, and a malformed part is a 400, as OpenAI answers it.

A responder may also call tools: it returns ``{"tool_calls": [{"name": ..., "arguments":
{...}}]}`` (optionally with ``"content"``), and the choice comes back OpenAI-shaped, with
``message.tool_calls`` carrying call IDs and the arguments as JSON text, and
``finish_reason: "tool_calls"``; `tool_call_responder` builds such a responder.

Faults are counted per request body: ``faults={"429": 1, "500": 2}`` makes the first
attempt of every distinct request get a 429, the next two a 500, and every later attempt
succeed. Retries resend identical bytes, so this stays deterministic under any concurrency.
Fault kinds: an HTTP status code as a string (``"400"``, ``"429"``, ``"500"``, ...),
``"malformed"`` (a 200 whose body is not valid JSON), ``"html"`` (a 200 carrying a web
page, as a login proxy or a web UI sends) and ``"drop"`` (the connection is closed without
a response). ``always="500"`` applies one kind to every request. A request with a wrong
key gets a 401 that echoes the key it was sent, as careless servers do.

A rate limit: ``max_concurrent=T`` admits at most T chat requests at once, counted here on
the server; one arriving while T are being answered gets an immediate 429 with
``Retry-After`` (`retry_after`) and ``x-ratelimit-remaining-requests: 0``. Admitted ones
carry ``x-ratelimit-limit-requests: T`` and ``x-ratelimit-remaining-requests`` (T minus the
requests being answered, this one included, when it was admitted), as OpenAI reports its
budget. `rate_limited` counts the 429s, `max_in_flight` the most requests it held at once
(refused ones included), `max_admitted` the most it answered at once.

``n`` (several choices per request) is served as vLLM serves it: choice j of a request
seeded S is answered as the same request with ``n = 1`` and seed ``S + j`` (vLLM gives
each of its n child requests ``seed + index``), so one request for n samples returns
exactly what n requests seeded S, S+1, … would. `n_mode` emulates servers that do not:
``"ignore"`` answers one choice whatever n is (llama.cpp-like proxies), ``"reject"``
answers a 400 naming ``n`` for n > 1, and ``"shared_seed"`` answers every choice with the
request's one seed (identical choices, as a server that copies the request n times
would). `count` and `bodies` count requests server-side.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import re
import signal
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from aiohttp import web

Reply = str | Mapping[str, Any] | None
Responder = Callable[[Mapping[str, Any], int], Reply]
"""(request body, choice index) -> response text, None for ``"content": null``, or a dict
``{"tool_calls": [{"name": str, "arguments": dict | str}], "content": str | None}``.

Must be cheap and deterministic."""

ToolChooser = Callable[[Mapping[str, Any], int], tuple[str, Mapping[str, Any] | str] | None]

_TOKEN = re.compile(r"\s*\S+")
N_MODES = ("serve", "ignore", "reject", "shared_seed")
_CHOSEN_PROB = 0.7
_MALFORMED = b'{"id": "chatcmpl-malformed", "choices": [{"index": 0, "message": '
_HTML = (b"<!doctype html><html><head><title>Sign in - Example Proxy</title></head>"
         b"<body><form method=post><input name=user></form></body></html>")


def prompt_text(body: Mapping[str, Any]) -> str:
    """All message contents of a chat request, joined by newlines (the text parts of a
    message made of content parts)."""
    return "\n".join(_content_text(m.get("content")) for m in body.get("messages", ()))


def _content_text(content: Any) -> str:
    if isinstance(content, list):
        return "\n".join(str(p.get("text") or "") for p in content
                         if isinstance(p, dict) and p.get("type") == "text")
    return str(content or "")


def image_urls(body: Mapping[str, Any]) -> list[str]:
    """The ``image_url`` URLs of a chat request, in order."""
    return [part["image_url"]["url"] for m in body.get("messages", ())
            if isinstance(m.get("content"), list) for part in m["content"]
            if isinstance(part, dict) and part.get("type") == "image_url"]


def _content_problem(body: Mapping[str, Any]) -> str | None:
    """What OpenAI would reject in content-part messages (an unknown part type, an image
    that is not a URL or a base64 data URL), or None."""
    for i, message in enumerate(body.get("messages", ())):
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            continue
        for j, part in enumerate(content):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text" and isinstance(part.get("text"), str):
                continue
            url = (part.get("image_url") or {}).get("url") if kind == "image_url" else None
            if isinstance(url, str) and (url.startswith(("http://", "https://")) or re.match(
                    r"data:image/[\w.+-]+;base64,[A-Za-z0-9+/]+=*$", url)):
                continue
            return f"messages[{i}].content[{j}]: invalid content part"
    return None


def letter_responder(letters: str = "ABCD") -> Responder:
    """Answer ``Answer: X`` with a letter picked from a CRC of the prompt.

    At temperature 0 every choice gets the same letter; with a positive temperature each
    choice index (and seed) hashes differently, so ``n > 1`` samples can disagree.
    """

    def respond(body: Mapping[str, Any], index: int) -> str:
        key = prompt_text(body)
        if body.get("temperature", 1.0):
            key = f"{key}\x00{body.get('seed')}\x00{index}"
        return f"Answer: {letters[zlib.crc32(key.encode()) % len(letters)]}"

    return respond


def table_responder(table: Mapping[str, str], default: str = "I don't know.") -> Responder:
    """Answer with the value of the first key (in table order) found in the prompt."""
    items = tuple(table.items())

    def respond(body: Mapping[str, Any], index: int) -> str:
        text = prompt_text(body)
        for needle, answer in items:
            if needle in text:
                return answer
        return default

    return respond


def fixed_responder(text: str) -> Responder:
    """Always answer `text`."""
    return lambda body, index: text


def tool_call_responder(choose: ToolChooser, fallback: str = "I cannot call a tool.") -> Responder:
    """Call the tool `choose(body, index)` names, with its arguments, when tools are offered.

    `choose` returns ``(tool name, arguments)`` (a dict, or raw text sent as is, which may
    be broken JSON on purpose), or None to answer `fallback` instead. A request that offers
    no tools, or says ``tool_choice: "none"``, also gets `fallback`, as a real server would.
    """

    def respond(body: Mapping[str, Any], index: int) -> Reply:
        if not body.get("tools") or body.get("tool_choice") == "none":
            return fallback
        chosen = choose(body, index)
        if chosen is None:
            return fallback
        name, arguments = chosen
        return {"tool_calls": [{"name": name, "arguments": arguments}]}

    return respond


def offered_tool_names(body: Mapping[str, Any]) -> list[str]:
    """The function names a chat request offers as tools."""
    return [t["function"]["name"] for t in body.get("tools") or ()]


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as the server received it (body parsed; headers lower-cased)."""

    path: str
    body: Mapping[str, Any]
    headers: Mapping[str, str]


class FakeOpenAIServer:
    """An OpenAI-compatible chat server bound to 127.0.0.1; see the module docstring.

    Args:
        responder: produces each choice's text (default: `letter_responder()`).
        latency: seconds to wait before answering each request.
        faults: fault kind -> number of attempts, applied in order per distinct request body.
        always: a fault kind applied to every chat request (e.g. ``"500"``, ``"drop"``).
        retry_after: the Retry-After header value sent with 429 and 503 faults.
        logprobs: when False the server ignores logprob requests (like some proxies do).
        models: model IDs served; others get a 404. None serves any model name.
        api_key: when set, requests without ``Authorization: Bearer <api_key>`` get a 401.
        max_concurrent: answer at most this many chat requests at once; the rest get a 429
            (see the module docstring). None: no limit.
        n_mode: how ``n > 1`` is answered: ``serve`` (vLLM's way, the default),
            ``ignore``, ``reject`` or ``shared_seed`` (see the module docstring).
        port: port to bind; 0 picks a free one.
    """

    client_max_size = 1024**2
    """Largest request body accepted, in bytes (aiohttp's default; larger gets a 413)."""

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        latency: float = 0.0,
        faults: Mapping[str, int] | None = None,
        always: str | None = None,
        retry_after: str = "0",
        logprobs: bool = True,
        models: Sequence[str] | None = None,
        api_key: str | None = None,
        max_concurrent: int | None = None,
        n_mode: str = "serve",
        port: int = 0,
    ) -> None:
        if max_concurrent is not None and max_concurrent < 1:
            raise ValueError(f"max_concurrent must be >= 1, not {max_concurrent}")
        if n_mode not in N_MODES:
            raise ValueError(f"n_mode must be one of {', '.join(N_MODES)}, not {n_mode!r}")
        self.n_mode = n_mode
        self.responder = responder or letter_responder()
        self.latency = latency
        self.faults = tuple((kind, count) for kind, count in (faults or {}).items() if count)
        self.always = always
        self.retry_after = retry_after
        self.logprobs = logprobs
        self.models = tuple(models) if models is not None else None
        self.api_key = api_key
        self.port = port
        self.requests: list[ReceivedRequest] = []
        self.attempts: Counter[bytes] = Counter()
        self.faults_sent: Counter[str] = Counter()
        self.max_concurrent = max_concurrent
        self.in_flight = 0
        self.max_in_flight = 0  # the most chat requests it was answering at once
        self.admitted = 0  # under max_concurrent: the requests being answered, not refused
        self.max_admitted = 0
        self.rate_limited = 0  # 429s sent because more than max_concurrent were in flight
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- what tests look at ---------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The OpenAI base URL, e.g. ``http://127.0.0.1:54321/v1``."""
        if not self.port:
            raise RuntimeError("the server is not running")
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def bodies(self) -> list[Mapping[str, Any]]:
        """The bodies of every chat request received, in arrival order."""
        return [r.body for r in self.requests if r.path.endswith("/chat/completions")]

    @property
    def tools(self) -> list[list[Mapping[str, Any]]]:
        """The ``tools`` each chat request offered (an empty list when none), in arrival
        order."""
        return [list(b.get("tools") or ()) for b in self.bodies]

    @property
    def count(self) -> int:
        """How many requests arrived (faulted ones included)."""
        return len(self.requests)

    # -- lifecycle --------------------------------------------------------------------------

    def app(self) -> web.Application:
        """The aiohttp application (for embedding in another server)."""
        app = web.Application(client_max_size=self.client_max_size)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        return app

    async def start(self) -> None:
        """Bind 127.0.0.1 and start serving in the running event loop."""
        # A short shutdown timeout: stopping must not wait on requests a test abandoned.
        self._runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Stop serving and close every connection."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeOpenAIServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def __enter__(self) -> FakeOpenAIServer:
        started = threading.Event()
        errors: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # surfaced in the calling thread below
                errors.append(exc)
                started.set()
                loop.close()
                return
            started.set()
            try:
                loop.run_forever()
                loop.run_until_complete(self.stop())
            finally:
                loop.close()

        self._thread = threading.Thread(target=serve, name="fake-openai-server", daemon=True)
        self._thread.start()
        started.wait()
        if errors:
            raise errors[0]
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop = self._thread = None

    # -- handlers -----------------------------------------------------------------------------

    async def _models(self, request: web.Request) -> web.Response:
        self.requests.append(ReceivedRequest(request.path, {}, _headers(request)))
        ids = self.models or ("medq-fake",)
        data = [{"id": i, "object": "model", "created": 0, "owned_by": "medq"} for i in ids]
        return web.json_response({"object": "list", "data": data})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.max_concurrent is not None:
                return await self._limited(request, self.max_concurrent)
            return await self._answer(request)
        finally:
            self.in_flight -= 1

    async def _limited(self, request: web.Request, limit: int) -> web.StreamResponse:
        """`_answer` under a limit of `limit` requests at once, reported in headers."""
        if self.admitted >= limit:
            await request.read()
            self.requests.append(ReceivedRequest(request.path, {}, _headers(request)))
            self.rate_limited += 1
            refused = _error(429, f"Rate limit reached: {limit} requests in flight.",
                             "rate_limit_exceeded")
            refused.headers.update({"Retry-After": self.retry_after,
                                    "x-ratelimit-limit-requests": str(limit),
                                    "x-ratelimit-remaining-requests": "0"})
            return refused
        self.admitted += 1
        self.max_admitted = max(self.max_admitted, self.admitted)
        remaining = limit - self.admitted
        try:
            response = await self._answer(request)
        finally:
            self.admitted -= 1
        response.headers.update({"x-ratelimit-limit-requests": str(limit),
                                 "x-ratelimit-remaining-requests": str(remaining)})
        return response

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        headers = _headers(request)
        self.requests.append(ReceivedRequest(request.path, body or {}, headers))
        if self.latency:
            await asyncio.sleep(self.latency)

        fault = self.always or self._scheduled_fault(raw)
        if fault is not None:
            self.faults_sent[fault] += 1
            return self._fault(request, fault)
        if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            sent = headers.get("authorization", "").removeprefix("Bearer ")
            return _error(401, f"Incorrect API key provided: {sent}." if sent else
                          "You didn't provide an API key.", "invalid_api_key")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return _error(400, "Request body must be a JSON object with 'messages'.")
        if "model" not in body:
            return _error(400, "you must provide a model parameter", "missing_model")
        if self.models is not None and body["model"] not in self.models:
            return _error(404, f"The model `{body['model']}` does not exist.", "model_not_found")
        problem = _tools_problem(body)
        if problem is not None:
            return _error(400, problem, "invalid_tools")
        problem = _content_problem(body)
        if problem is not None:
            return _error(400, problem, "invalid_content")
        if self.n_mode == "reject" and int(body.get("n") or 1) != 1:
            return _error(400, "'n' must be 1: this server returns one choice per request",
                          "invalid_n")
        return web.json_response(self._completion(body))

    def _scheduled_fault(self, raw: bytes) -> str | None:
        if not self.faults:
            return None
        attempt = self.attempts[raw]
        self.attempts[raw] = attempt + 1
        for kind, count in self.faults:
            if attempt < count:
                return kind
            attempt -= count
        return None

    def _fault(self, request: web.Request, kind: str) -> web.StreamResponse:
        if kind == "malformed":
            return web.Response(body=_MALFORMED, content_type="application/json")
        if kind == "html":
            return web.Response(body=_HTML, content_type="text/html")
        if kind == "drop":
            if request.transport is not None:
                request.transport.abort()
            # Nobody will read this; the connection is already gone.
            return web.Response(status=499)
        status = int(kind)
        response = _error(status, f"injected fault: HTTP {status}", f"fault_{status}")
        if status in (429, 503):
            response.headers["Retry-After"] = self.retry_after
        return response

    def _choice(self, body: Mapping[str, Any], index: int) -> Reply:
        """Choice `index`'s reply: a seeded request's choice j as the request seeded
        ``seed + j`` alone (vLLM's parallel sampling), unless `n_mode` says otherwise."""
        seed = body.get("seed")
        if seed is None or int(body.get("n") or 1) == 1:
            return self.responder(body, index)
        if self.n_mode == "shared_seed":
            return self.responder({**body, "n": 1}, 0)
        return self.responder({**body, "n": 1, "seed": seed + index}, 0)

    def _completion(self, body: Mapping[str, Any]) -> dict[str, Any]:
        n = 1 if self.n_mode == "ignore" else int(body.get("n") or 1)
        max_tokens = body.get("max_tokens") or body.get("max_completion_tokens")
        stop = body.get("stop") or ()
        if isinstance(stop, str):
            stop = (stop,)
        want_logprobs = bool(body.get("logprobs")) and self.logprobs
        top_k = int(body.get("top_logprobs") or 0)
        choices = []
        completion_tokens = 0
        for index in range(n):
            reply = self._choice(body, index)
            tool_calls = None
            if isinstance(reply, Mapping):
                tool_calls = [
                    _tool_call(call, f"call_{len(self.requests)}_{index}_{k}")
                    for k, call in enumerate(reply.get("tool_calls") or ())
                ]
                text = reply.get("content")
            else:
                text = reply
            finish = "tool_calls" if tool_calls else "stop"
            for s in stop:
                cut = text.find(s) if text is not None else -1
                if cut >= 0:
                    text = text[:cut]
            tokens = _TOKEN.findall(text) if text is not None else []
            if max_tokens is not None and len(tokens) > max_tokens:
                tokens = tokens[:max_tokens]
                text = "".join(tokens)
                finish = "length"
            completion_tokens += len(tokens)
            message: dict[str, Any] = {"role": "assistant", "content": text}
            if tool_calls:
                message["tool_calls"] = tool_calls
                completion_tokens += sum(
                    len(_TOKEN.findall(c["function"]["arguments"])) for c in tool_calls
                )
            choice: dict[str, Any] = {
                "index": index,
                "message": message,
                "logprobs": None,
                "finish_reason": finish,
            }
            if want_logprobs:
                choice["logprobs"] = {"content": [_token_logprobs(t, top_k) for t in tokens]}
            choices.append(choice)
        prompt_tokens = len(_TOKEN.findall(prompt_text(body)))
        return {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }


def _tool_call(call: Mapping[str, Any], call_id: str) -> dict[str, Any]:
    arguments = call.get("arguments", {})
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments)
    return {"id": call_id, "type": "function",
            "function": {"name": call["name"], "arguments": arguments}}


def _tools_problem(body: Mapping[str, Any]) -> str | None:
    """What OpenAI would reject in the request's ``tools`` and ``tool_choice``, or None."""
    tools = body.get("tools")
    choice = body.get("tool_choice")
    if tools is None:
        return None if choice is None else "tool_choice is only allowed when tools are given."
    if not isinstance(tools, list) or not tools:
        return "'tools' must be a non-empty array."
    names = []
    for i, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(
            function, dict
        ):
            return f"tools[{i}] must be {{'type': 'function', 'function': {{...}}}}."
        if not isinstance(function.get("name"), str) or not function["name"]:
            return f"tools[{i}].function.name is missing."
        parameters = function.get("parameters", {"type": "object"})
        if not isinstance(parameters, dict) or parameters.get("type") != "object":
            return f"tools[{i}].function.parameters must be a JSON Schema of type 'object'."
        names.append(function["name"])
    if choice is None or choice in ("auto", "required", "none"):
        return None
    if isinstance(choice, dict) and (choice.get("function") or {}).get("name") in names:
        return None
    return f"tool_choice {choice!r} names no offered tool."


def _headers(request: web.Request) -> dict[str, str]:
    return {k.lower(): v for k, v in request.headers.items()}


def _error(status: int, message: str, code: str | None = None) -> web.Response:
    error = {"message": message, "type": "invalid_request_error", "param": None, "code": code}
    return web.json_response({"error": error}, status=status)


_LETTER_ALTERNATIVES = "ABCDEFGHIJ"


def _token_logprobs(token: str, top_k: int) -> dict[str, Any]:
    """A plausible logprobs entry: a single-letter token beats the other letters."""
    stripped = token.strip()
    if len(stripped) == 1 and stripped in _LETTER_ALTERNATIVES:
        prefix = token[: len(token) - 1]
        top = [(token, math.log(_CHOSEN_PROB))]
        # The others share the rest, halving down the list so the order is strict.
        prob = (1 - _CHOSEN_PROB) / 2
        for letter in _LETTER_ALTERNATIVES:
            if letter != stripped:
                top.append((prefix + letter, math.log(prob)))
                prob /= 2
        logprob = top[0][1]
    else:
        logprob = -0.001
        top = [(token, logprob)]
    return {
        "token": token,
        "logprob": logprob,
        "bytes": list(token.encode()),
        "top_logprobs": [
            {"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in top[:top_k]
        ],
    }


RESPONDERS: dict[str, Callable[[argparse.Namespace], Responder]] = {
    "letter": lambda args: letter_responder(args.letters),
    "fixed": lambda args: fixed_responder(args.text),
}


def main(argv: Sequence[str] | None = None) -> None:
    """Run the server until SIGINT/SIGTERM; print its base URL on the first stdout line."""
    parser = argparse.ArgumentParser(prog="python -m medq.testing.openai_server")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per request")
    parser.add_argument("--responder", choices=sorted(RESPONDERS), default="letter")
    parser.add_argument("--letters", default="ABCD", help="letters for --responder letter")
    parser.add_argument("--text", default="Answer: A", help="text for --responder fixed")
    parser.add_argument("--no-logprobs", action="store_true", help="ignore logprob requests")
    parser.add_argument("--max-concurrent", type=int, default=None, metavar="T",
                        help="answer at most T requests at once; 429 the rest")
    parser.add_argument("--retry-after", default="0", help="Retry-After of 429s, seconds")
    parser.add_argument("--n-mode", choices=N_MODES, default="serve",
                        help="how n > 1 is answered (serve: as vLLM does)")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KIND=COUNT",
        help="per-request fault schedule, e.g. --fault 429=1 --fault 500=2",
    )
    args = parser.parse_args(argv)
    faults = {kind: int(count) for kind, count in (f.split("=", 1) for f in args.fault)}
    server = FakeOpenAIServer(
        RESPONDERS[args.responder](args),
        latency=args.latency,
        faults=faults,
        logprobs=not args.no_logprobs,
        retry_after=args.retry_after,
        max_concurrent=args.max_concurrent,
        n_mode=args.n_mode,
        port=args.port,
    )

    async def serve() -> None:
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, done.set)
        async with server:
            print(server.base_url, flush=True)
            await done.wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
