"""A backend for any OpenAI-compatible chat server: vLLM, SGLang, llama.cpp, Ollama, hosted APIs.

One `complete` is one HTTP attempt. Failures worth retrying raise `TransientModelError`
(carrying the server's Retry-After; a 429 is a `RateLimitedError`); the runner wraps calls
in `medq.models.retry`, the one retry policy. Every response's ``x-ratelimit-*`` headers
are reported to the run's concurrency window (`medq.concurrency.report`). aiohttp rather
than httpx: on the same calls httpx's async client spent about 9x the CPU, and a
1,273-question eval should cost the client a couple of CPU-seconds.

Example::

    model = OpenAICompatModel("Qwen/Qwen2.5-7B-Instruct", base_url="http://gpu:8000/v1")
    completion = await model.complete(GenerationRequest(messages=(Message("user", "Hi"),)))
    await model.aclose()
"""

from __future__ import annotations

import asyncio
import base64
import errno
import json
import math
import os
import re
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp

from medq.concurrency import RateLimits, report
from medq.models.base import (
    FatalModelError,
    ModelError,
    RateLimitedError,
    TransientModelError,
    UnsupportedCapabilityError,
)
from medq.models.credentials import mask, split_credentials
from medq.registry import models
from medq.seeds import wire_seed
from medq.types import (
    TOOL_CHOICES,
    Capability,
    Completion,
    ContinuationScore,
    Generation,
    GenerationRequest,
    LoglikelihoodRequest,
    Message,
    TokenLogprob,
    ToolCall,
)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"
DEFAULT_TIMEOUT = 120.0
# A chat completion is kilobytes; even 4,000 tokens with 20 top log-probabilities each are
# about 4 MB. A body past this is a misbehaving server, and storing it would bloat the store.
DEFAULT_MAX_RESPONSE_BYTES = 8_000_000

# What openai-python retries too: 408 request timeout, 409 lock conflict, 429, and 5xx.
_TRANSIENT_STATUS = frozenset({408, 409, 429})


class OpenAICompatModel:
    """A chat model behind an OpenAI-compatible ``/chat/completions`` endpoint.

    Args:
        model: the model ID the server knows (``gpt-4o-mini``, ``Qwen/Qwen2.5-7B-Instruct``).
        base_url: the API root ending in ``/v1``; default ``$OPENAI_BASE_URL`` or OpenAI's.
            A ``user:password@`` in it is sent as HTTP Basic auth and left out of
            `endpoint` (which is stored and shown).
        api_key_env: the environment variable holding the API key (default
            ``OPENAI_API_KEY``). The key is read once, sent as a Bearer token and never
            logged or shown in ``repr``. When the default variable is unset no
            Authorization header is sent (local servers); a named variable must be set.
        timeout: total seconds allowed for one HTTP attempt (default 120).
        max_response_bytes: a response body larger than this is an error (default 8 MB).
        logprobs: whether the server can return token log-probabilities; pass False for
            servers that cannot (e.g. llama.cpp) so logprob strategies fail up front.
        tools: whether the server supports tool (function) calling; pass False for servers
            that do not (e.g. vLLM started without ``--enable-auto-tool-choice``), so
            requests with tools fail up front and strategies that can fall back
            (``calculator_tool``) use JSON output instead.
        vision: whether the model takes images (``image_url`` content parts); pass False
            for a text-only model, so a task with images is refused before any call.

    The aiohttp session is created on first use inside the running event loop and lives
    until `aclose()`; after `aclose()` the model may be used again (in another loop).
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key_env: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        logprobs: bool = True,
        tools: bool = True,
        vision: bool = True,
    ) -> None:
        if not timeout > 0:
            raise ValueError(f"timeout must be a number of seconds > 0, not {timeout!r}")
        if max_response_bytes < 1:
            raise ValueError(f"max_response_bytes must be >= 1, not {max_response_bytes!r}")
        self.model = model
        self.name = f"openai/{model}"
        url = base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        self.endpoint, user, password = split_credentials(url.rstrip("/"))
        self._auth = None if user is None else "Basic " + base64.b64encode(
            f"{user}:{password or ''}".encode()).decode("ascii")
        capabilities = {Capability.GENERATE, Capability.SAMPLES}
        if logprobs:
            capabilities.add(Capability.TOP_LOGPROBS)
        if tools:
            capabilities.add(Capability.TOOLS)
        if vision:
            capabilities.add(Capability.VISION)
        self.capabilities = frozenset(capabilities)
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        self._key_env = api_key_env or DEFAULT_API_KEY_ENV
        key = os.environ.get(self._key_env)
        if api_key_env is not None and not key:
            raise ModelError(
                f"model {self.name!r}: environment variable {api_key_env} (the API key) is unset"
            )
        if self._auth is not None:
            if api_key_env is not None:
                raise ModelError(
                    f"model {self.name!r}: give either an API key ({api_key_env}) or a "
                    "user:password in the base URL, not both (both would be the one "
                    "Authorization header)"
                )
            key = None  # the URL's credentials are the ones meant for this server
        self._headers = {"Content-Type": "application/json", "User-Agent": "medq"}
        if key:
            self._headers["Authorization"] = f"Bearer {key}"
        elif self._auth is not None:
            self._headers["Authorization"] = self._auth
        self._key_sent = bool(key) or self._auth is not None
        self._secrets = (key, password)
        self._url = f"{self.endpoint}/chat/completions"
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"OpenAICompatModel({self.model!r}, base_url={self.endpoint!r})"

    def _client(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None:
            # limit=0: no connection cap here; the runner bounds concurrency.
            connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers=self._headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            )
            self._loop = loop
        elif loop is not self._loop:
            raise ModelError(
                f"model {self.name!r} is bound to another event loop; call aclose() in that "
                "loop before using it in a new one"
            )
        return self._session

    async def aclose(self) -> None:
        """Close the HTTP session; the model can be used again afterwards."""
        if self._session is not None:
            await self._session.close()
            self._session = None
            self._loop = None

    async def loglikelihoods(self, request: LoglikelihoodRequest) -> list[ContinuationScore]:
        """Chat APIs cannot score arbitrary continuations; always raises."""
        raise UnsupportedCapabilityError(
            f"model {self.name!r} is served through a chat API, which cannot score arbitrary "
            "continuations; use a generation or top-logprobs strategy, or a local backend"
        )

    async def complete(self, request: GenerationRequest) -> Completion:
        """Make one ``/chat/completions`` call for `request` (no retries here).

        Every message raised has the API key and the URL's password masked, even where
        the server echoed them.

        Raises:
            UnsupportedCapabilityError: logprobs, tools or images asked of a server
                declared without them (before any request is sent).
            FatalModelError: 401/403, 404/405, connection refused, unknown host, a TLS
                failure, or an HTML page where the API should be: every call would fail
                the same way; the message says what to fix.
            TransientModelError: 408/409/429/5xx, timeout, dropped connection, truncated body.
            ModelError: any other 4xx (with the server's message), a body over
                `max_response_bytes`, ``content: null`` without tool calls, fewer choices
                than asked, missing logprobs that were asked for, or a malformed tool call.
        """
        try:
            return await self._complete(request)
        except ModelError as exc:
            masked = mask(str(exc), self._secrets)
            if masked != str(exc):
                exc.args = (masked,)
            raise

    async def _complete(self, request: GenerationRequest) -> Completion:
        wants_logprobs = request.logprobs or request.top_logprobs is not None
        if wants_logprobs and Capability.TOP_LOGPROBS not in self.capabilities:
            raise UnsupportedCapabilityError(
                f"model {self.name!r} was declared without log-probabilities "
                "(logprobs=False), but the request asks for them"
            )
        if request.tools and Capability.TOOLS not in self.capabilities:
            raise UnsupportedCapabilityError(
                f"model {self.name!r} was declared without tool calling (tools=False), but "
                f"the request offers {len(request.tools)} tool(s)"
            )
        if Capability.VISION not in self.capabilities and any(m.images for m in request.messages):
            raise UnsupportedCapabilityError(
                f"model {self.name!r} was declared without vision (vision=False), but the "
                f"request shows images"
            )
        payload = json.dumps(self._body(request, wants_logprobs)).encode()
        session = self._client()
        try:
            async with session.post(self._url, data=payload) as response:
                status = response.status
                limits = _rate_limits(response.headers)
                if limits is not None:
                    report(limits)
                raw = await self._read(response)
                if status != 200:
                    raise self._status_error(status, raw, response.headers)
                if _is_html(raw, response.headers):
                    raise FatalModelError(
                        f"{self._url} answered with a web page ({_server_message(raw)}), "
                        "not the OpenAI API",
                        hint=self._url_hint("--base-url must be the API root"),
                    )
        except TimeoutError:
            raise TransientModelError(
                f"no response from {self._url} within {self.timeout:g}s"
            ) from None
        except aiohttp.ClientConnectorDNSError as exc:
            raise FatalModelError(
                f"cannot resolve the host of {self._url} ({exc.os_error})",
                hint="check --base-url",
            ) from None
        except (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError) as exc:
            raise FatalModelError(
                f"TLS with {self._url} failed: {exc}", hint="check --base-url (http or https?)"
            ) from None
        except aiohttp.ClientConnectorError as exc:
            if _refused(exc):
                raise FatalModelError(
                    f"cannot connect to {self._url}: connection refused",
                    hint="is the server running, and is --base-url right?",
                ) from None
            raise TransientModelError(
                f"connection to {self._url} failed: {type(exc).__name__}: {exc}"
            ) from exc
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            raise TransientModelError(
                f"connection to {self._url} failed: {type(exc).__name__}: {exc}"
            ) from exc
        except aiohttp.ClientError as exc:
            raise ModelError(f"request to {self._url} failed: {type(exc).__name__}: {exc}") from exc
        return self._parse(raw, request, wants_logprobs)

    async def _read(self, response: aiohttp.ClientResponse) -> bytes:
        """The body, refused past `max_response_bytes` (before storing or parsing it)."""
        cap = self.max_response_bytes
        length = response.content_length
        encoded = response.headers.get("Content-Encoding", "identity") != "identity"
        if length is not None and length <= cap and not encoded:
            # The usual case: a declared length within the cap, read in one call (aiohttp
            # stops at the declared length; a body cut short is a ClientPayloadError). A
            # compressed body is counted as it is inflated, below: it can grow past the cap.
            return await response.read()
        chunks, size = [], 0
        if length is None or length <= cap:
            async for chunk in response.content.iter_chunked(1 << 16):
                size += len(chunk)
                if size > cap:
                    break
                chunks.append(chunk)
        if (length is not None and length > cap) or size > cap:
            got = f"{length / 1e6:.1f} MB" if length is not None else "more"
            raise ModelError(
                f"the response from {self._url} ({got}) exceeds the {cap / 1e6:.1f} MB cap "
                "on a response body (max_response_bytes; --max-response-mb)"
            )
        return b"".join(chunks)

    def _status_error(self, status: int, raw: bytes, headers: Mapping[str, str]) -> ModelError:
        message = f"HTTP {status}: {_server_message(raw)}"
        if status == 429:
            return RateLimitedError(message, retry_after=_retry_after(headers))
        if status in _TRANSIENT_STATUS or 500 <= status <= 599:
            return TransientModelError(message, retry_after=_retry_after(headers))
        if status in (401, 403):
            if self._auth is not None:
                hint = "the server refused the user:password in --base-url"
            elif not self._key_sent:
                hint = (f"{self._key_env} is not set; export the key in it (or name another "
                        "variable with --api-key-env)")
            elif status == 401:
                hint = f"the server refused the key in {self._key_env}; check it"
            else:
                hint = f"the key in {self._key_env} may not use model {self.model!r} here"
            return FatalModelError(message, hint=hint)
        if status == 404 and self.model in _server_message(raw) and _has_v1(self.endpoint):
            return FatalModelError(
                message, hint=f"the server does not serve model {self.model!r}; check --model "
                f"(GET {self.endpoint}/models lists the ones it does)"
            )
        if status in (404, 405):
            return FatalModelError(message, hint=self._url_hint(f"{self._url} is not there"))
        return ModelError(message)

    def _url_hint(self, fallback: str) -> str:
        if not _has_v1(self.endpoint):
            return f"--base-url probably lacks /v1 (try {self.endpoint}/v1)"
        return f"{fallback}; check --base-url"

    def _body(self, request: GenerationRequest, wants_logprobs: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [_message(m) for m in request.messages],
            "temperature": request.temperature,
        }
        # Unset fields are left out: some servers reject fields they do not know, and
        # llama.cpp rejects any n other than 1.
        if request.n != 1:
            body["n"] = request.n
        if request.seed is not None:
            # Repeated samples of one prompt must differ: vLLM returns identical text for
            # an identical (prompt, seed), so the sample index is mixed into the seed.
            body["seed"] = wire_seed(request.seed, request.sample_index)
        if request.max_tokens is not None:
            body["max_tokens"] = request.max_tokens
        if request.stop:
            body["stop"] = list(request.stop)
        if wants_logprobs:
            body["logprobs"] = True
            if request.top_logprobs is not None:
                body["top_logprobs"] = request.top_logprobs
        if request.tools:
            body["tools"] = [{"type": "function", "function": t} for t in request.tool_specs()]
        if request.tool_choice in TOOL_CHOICES:
            body["tool_choice"] = request.tool_choice
        elif request.tool_choice is not None:
            body["tool_choice"] = {"type": "function", "function": {"name": request.tool_choice}}
        return body

    def _parse(self, raw: bytes, request: GenerationRequest, wants_logprobs: bool) -> Completion:
        try:
            data = json.loads(raw)
            choices = sorted(data["choices"], key=lambda c: c.get("index", 0))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            # Overloaded proxies return truncated or HTML bodies with a 200; retrying helps.
            raise TransientModelError(
                f"malformed response from {self._url} ({type(exc).__name__}): {_snippet(raw)}"
            ) from None
        if len(choices) != request.n:
            raise ModelError(
                f"asked {self._url} for n={request.n} completions but got {len(choices)}; "
                "this server may not support n > 1 (--n-per-request auto detects that and "
                "falls back to one request per sample)"
            )
        generations = []
        for choice in choices:
            message = choice.get("message") or {}
            logprobs = None
            if wants_logprobs:
                content = (choice.get("logprobs") or {}).get("content")
                if content is None:
                    raise ModelError(
                        f"{self._url} returned no log-probabilities although they were asked "
                        f"for; declare the model with logprobs=False if it cannot serve them"
                    )
                logprobs = tuple(_token_logprob(t) for t in content)
            text = message.get("content")
            if text is None and isinstance(message.get("refusal"), str):
                text = message["refusal"]  # the model declined: an answer, scored invalid
            if text is None and not message.get("tool_calls") and (
                choice.get("finish_reason") != "length"
            ):
                # No text and no tool call is no answer at all (a server fault, a filter);
                # an error is retried on resume, whereas an invalid answer would be final.
                # Out of tokens before any text (a reasoning model) is a truncated answer.
                raise ModelError(
                    f"{self._url} returned content null with no tool calls (finish_reason "
                    f"{choice.get('finish_reason')!r})"
                )
            generations.append(
                Generation(
                    text=text or "",
                    finish_reason=choice.get("finish_reason"),
                    logprobs=logprobs,
                    tool_calls=self._tool_calls(message.get("tool_calls")),
                )
            )
        usage = data.get("usage") or {}
        return Completion(
            generations=tuple(generations),
            prompt_tokens=usage.get("prompt_tokens") or 0,
            completion_tokens=usage.get("completion_tokens") or 0,
            model=data.get("model"),
        )


    def _tool_calls(self, calls: Any) -> tuple[ToolCall, ...]:
        """``message.tool_calls`` as ToolCalls; `arguments` stays the raw JSON text."""
        out = []
        try:
            for call in calls or ():
                function = call["function"]
                arguments = function.get("arguments")
                if not isinstance(arguments, str):
                    # Some servers send the arguments as an object rather than its JSON text.
                    arguments = json.dumps(arguments if arguments is not None else {})
                out.append(ToolCall(str(call.get("id") or ""), str(function["name"]), arguments))
        except (KeyError, TypeError, AttributeError) as exc:
            raise ModelError(
                f"{self._url} returned a malformed tool call ({type(exc).__name__}: {exc}): "
                f"{json.dumps(calls)[:300]}"
            ) from None
        return tuple(out)


def _message(message: Message) -> dict[str, Any]:
    """A chat message on the wire; one with images is a list of content parts, the images
    (``image_url`` data URLs) before the text."""
    if not message.images:
        return {"role": message.role, "content": message.content}
    from medq.images import data_url

    parts: list[dict[str, Any]] = [{"type": "image_url", "image_url": {"url": data_url(i)}}
                                   for i in message.images]
    parts.append({"type": "text", "text": message.content})
    return {"role": message.role, "content": parts}


def _token_logprob(entry: Mapping[str, Any]) -> TokenLogprob:
    top = entry.get("top_logprobs") or ()
    return TokenLogprob(
        token=entry["token"],
        logprob=entry["logprob"],
        top=tuple((t["token"], t["logprob"]) for t in top),
    )


_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def _is_html(raw: bytes, headers: Mapping[str, str]) -> bool:
    """A web page (a proxy's, a web UI's) where a JSON body should be."""
    content_type = headers.get("Content-Type", "")
    return content_type.startswith("text/html") or raw.lstrip()[:1] == b"<"


def _has_v1(endpoint: str) -> bool:
    return "/v1" in endpoint.split("://", 1)[-1]


def _refused(exc: aiohttp.ClientConnectorError) -> bool:
    """Nothing listens there (rather than a network hiccup worth retrying)."""
    error = exc.os_error
    return isinstance(error, ConnectionRefusedError) or error.errno == errno.ECONNREFUSED or (
        f"[Errno {errno.ECONNREFUSED}]" in str(error)
    )


def _server_message(raw: bytes) -> str:
    """The human message in an error body: OpenAI, vLLM and FastAPI shapes, an HTML page's
    title, else the text."""
    try:
        data = json.loads(raw)
    except ValueError:
        title = _TITLE.search(raw[:65536])
        if title is not None:
            return "HTML page: " + " ".join(title.group(1).decode("utf-8", "replace").split())
        return _snippet(raw)
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        for value in (error, data.get("message"), data.get("detail")):
            if value:
                return str(value)
    return _snippet(raw)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            return max(float(value) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return max(seconds, 0.0) if math.isfinite(seconds) else None


_RATE_HEADERS = ("x-ratelimit-remaining-requests", "x-ratelimit-limit-requests",
                 "x-ratelimit-remaining-tokens", "x-ratelimit-limit-tokens")


def _rate_limits(headers: Mapping[str, str]) -> RateLimits | None:
    """The response's ``x-ratelimit-{remaining,limit}-{requests,tokens}`` headers (OpenAI's
    names), or None without any. A value that is not a whole number is ignored, not
    guessed."""
    values: list[int | None] = []
    for name in _RATE_HEADERS:
        text = headers.get(name)
        values.append(int(text) if text is not None and text.strip().isdigit() else None)
    if all(v is None for v in values):
        return None
    return RateLimits(*values)


def _snippet(raw: bytes, limit: int = 300) -> str:
    text = raw[:limit].decode("utf-8", "replace").strip()
    return (text + "...") if len(raw) > limit else (text or "<empty body>")


@models.register("openai")
def openai(
    model: str,
    *,
    base_url: str | None = None,
    api_key_env: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    logprobs: bool = True,
    tools: bool = True,
    vision: bool = True,
) -> OpenAICompatModel:
    """``openai/<model>``: any OpenAI-compatible chat server (see `OpenAICompatModel`)."""
    return OpenAICompatModel(
        model,
        base_url=base_url,
        api_key_env=api_key_env,
        timeout=timeout,
        max_response_bytes=max_response_bytes,
        logprobs=logprobs,
        tools=tools,
        vision=vision,
    )
