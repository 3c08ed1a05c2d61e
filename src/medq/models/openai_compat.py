"""A backend for any OpenAI-compatible chat server: vLLM, SGLang, llama.cpp, Ollama, hosted APIs.

One `complete` is one HTTP attempt. Failures worth retrying raise `TransientModelError`
(carrying the server's Retry-After); the runner wraps calls in `medq.models.retry`, the one
retry policy. aiohttp rather than httpx: on the same calls httpx's async client spent about
9x the CPU, and a 1,273-question eval should cost the client a couple of CPU-seconds.

Example::

    model = OpenAICompatModel("Qwen/Qwen2.5-7B-Instruct", base_url="http://gpu:8000/v1")
    completion = await model.complete(GenerationRequest(messages=(Message("user", "Hi"),)))
    await model.aclose()
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp

from medq.models.base import ModelError, TransientModelError, UnsupportedCapabilityError
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
    TokenLogprob,
    ToolCall,
)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"

# What openai-python retries too: 408 request timeout, 409 lock conflict, 429, and 5xx.
_TRANSIENT_STATUS = frozenset({408, 409, 429})


class OpenAICompatModel:
    """A chat model behind an OpenAI-compatible ``/chat/completions`` endpoint.

    Args:
        model: the model ID the server knows (``gpt-4o-mini``, ``Qwen/Qwen2.5-7B-Instruct``).
        base_url: the API root ending in ``/v1``; default ``$OPENAI_BASE_URL`` or OpenAI's.
        api_key_env: the environment variable holding the API key (default
            ``OPENAI_API_KEY``). The key is read once, sent as a Bearer token and never
            logged or shown in ``repr``. When the default variable is unset no
            Authorization header is sent (local servers); a named variable must be set.
        timeout: total seconds allowed for one HTTP attempt.
        logprobs: whether the server can return token log-probabilities; pass False for
            servers that cannot (e.g. llama.cpp) so logprob strategies fail up front.
        tools: whether the server supports tool (function) calling; pass False for servers
            that do not (e.g. vLLM started without ``--enable-auto-tool-choice``), so
            requests with tools fail up front and strategies that can fall back
            (``calculator_tool``) use JSON output instead.

    The aiohttp session is created on first use inside the running event loop and lives
    until `aclose()`; after `aclose()` the model may be used again (in another loop).
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key_env: str | None = None,
        timeout: float = 600.0,
        logprobs: bool = True,
        tools: bool = True,
    ) -> None:
        self.model = model
        self.name = f"openai/{model}"
        self.endpoint = base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        self.endpoint = self.endpoint.rstrip("/")
        capabilities = {Capability.GENERATE}
        if logprobs:
            capabilities.add(Capability.TOP_LOGPROBS)
        if tools:
            capabilities.add(Capability.TOOLS)
        self.capabilities = frozenset(capabilities)
        self.timeout = timeout
        key = os.environ.get(api_key_env or DEFAULT_API_KEY_ENV)
        if api_key_env is not None and not key:
            raise ModelError(
                f"model {self.name!r}: environment variable {api_key_env} (the API key) is unset"
            )
        self._headers = {"Content-Type": "application/json", "User-Agent": "medq"}
        if key:
            self._headers["Authorization"] = f"Bearer {key}"
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

        Raises:
            UnsupportedCapabilityError: logprobs or tools asked of a server declared
                without them (before any request is sent).
            TransientModelError: 408/409/429/5xx, timeout, connection error, malformed body.
            ModelError: any other 4xx (with the server's message), fewer choices than
                asked, missing logprobs that were asked for, or a malformed tool call.
        """
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
        payload = json.dumps(self._body(request, wants_logprobs)).encode()
        session = self._client()
        try:
            async with session.post(self._url, data=payload) as response:
                status = response.status
                raw = await response.read()
                if status != 200:
                    raise _status_error(status, raw, response.headers)
        except TimeoutError:
            raise TransientModelError(
                f"no response from {self._url} within {self.timeout:g}s"
            ) from None
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            raise TransientModelError(
                f"connection to {self._url} failed: {type(exc).__name__}: {exc}"
            ) from exc
        except aiohttp.ClientError as exc:
            raise ModelError(f"request to {self._url} failed: {type(exc).__name__}: {exc}") from exc
        return self._parse(raw, request, wants_logprobs)

    def _body(self, request: GenerationRequest, wants_logprobs: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
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
                "this server may not support n > 1"
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
            generations.append(
                Generation(
                    text=message.get("content") or "",
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


def _token_logprob(entry: Mapping[str, Any]) -> TokenLogprob:
    top = entry.get("top_logprobs") or ()
    return TokenLogprob(
        token=entry["token"],
        logprob=entry["logprob"],
        top=tuple((t["token"], t["logprob"]) for t in top),
    )


def _status_error(status: int, raw: bytes, headers: Mapping[str, str]) -> ModelError:
    message = f"HTTP {status}: {_server_message(raw)}"
    if status in _TRANSIENT_STATUS or 500 <= status <= 599:
        return TransientModelError(message, retry_after=_retry_after(headers))
    return ModelError(message)


def _server_message(raw: bytes) -> str:
    """The human message in an error body: OpenAI, vLLM and FastAPI shapes, else the text."""
    try:
        data = json.loads(raw)
    except ValueError:
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


def _snippet(raw: bytes, limit: int = 300) -> str:
    text = raw[:limit].decode("utf-8", "replace").strip()
    return (text + "...") if len(raw) > limit else (text or "<empty body>")


@models.register("openai")
def openai(
    model: str,
    *,
    base_url: str | None = None,
    api_key_env: str | None = None,
    timeout: float = 600.0,
    logprobs: bool = True,
    tools: bool = True,
) -> OpenAICompatModel:
    """``openai/<model>``: any OpenAI-compatible chat server (see `OpenAICompatModel`)."""
    return OpenAICompatModel(
        model,
        base_url=base_url,
        api_key_env=api_key_env,
        timeout=timeout,
        logprobs=logprobs,
        tools=tools,
    )
