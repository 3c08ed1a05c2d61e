"""What the OpenAI-compatible backend makes of hostile or broken servers: oversized bodies,
refusals, proxies, and credentials it must never let into a message."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web

from medq.models.base import FatalModelError, ModelError, TransientModelError
from medq.models.credentials import mask, split_credentials, strip_credentials
from medq.models.openai_compat import DEFAULT_MAX_RESPONSE_BYTES, OpenAICompatModel
from medq.types import GenerationRequest, Message

MakeModel = Callable[..., OpenAICompatModel]
REQUEST = GenerationRequest(messages=(Message("user", "Which?"),))


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Any]]:
    """Start an aiohttp app answering POST /v1/chat/completions with `handler`."""
    runners: list[web.AppRunner] = []

    async def start(handler: Any) -> str:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", handler)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        return f"http://127.0.0.1:{runner.addresses[0][1]}/v1"

    yield start
    for runner in runners:
        await runner.cleanup()


def chat(message: dict[str, Any], finish: str = "stop") -> dict[str, Any]:
    return {"choices": [{"index": 0, "message": message, "finish_reason": finish}]}


async def test_a_50_mb_body_is_refused_by_its_length(serve: Any, make_model: MakeModel) -> None:
    sent = []

    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": str(50_000_000)})
        await response.prepare(request)
        for _ in range(50):  # the client must hang up long before the end
            sent.append(1)
            await response.write(b"x" * 1_000_000)
        return response

    model = make_model(await serve(huge))
    with pytest.raises(ModelError, match=r"\(50.0 MB\) exceeds the 8.0 MB cap") as info:
        await model.complete(REQUEST)
    assert not isinstance(info.value, TransientModelError | FatalModelError)
    assert DEFAULT_MAX_RESPONSE_BYTES == 8_000_000


async def test_a_chunked_body_is_cut_off_at_the_cap(serve: Any, make_model: MakeModel) -> None:
    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(30):
            await response.write(b"y" * 100_000)
        await response.write_eof()
        return response

    model = make_model(await serve(chunked), max_response_bytes=1_000_000)
    with pytest.raises(ModelError, match=r"\(more\) exceeds the 1.0 MB cap"):
        await model.complete(REQUEST)


async def test_a_small_compressed_body_that_inflates_past_the_cap_is_refused(
        serve: Any, make_model: MakeModel) -> None:
    import gzip

    bomb = gzip.compress(b"z" * 3_000_000)  # ~3 kB on the wire, 3 MB inflated

    async def compressed(request: web.Request) -> web.Response:
        return web.Response(body=bomb, headers={"Content-Encoding": "gzip",
                                                "Content-Type": "application/json"})

    model = make_model(await serve(compressed), max_response_bytes=1_000_000)
    with pytest.raises(ModelError, match=r"exceeds the 1.0 MB cap"):
        await model.complete(REQUEST)


async def test_a_compressed_reply_within_the_cap_reads_as_plain_json(
        serve: Any, make_model: MakeModel) -> None:
    import gzip
    import json

    body = gzip.compress(json.dumps(chat({"content": "B"})).encode())

    async def compressed(request: web.Request) -> web.Response:
        return web.Response(body=body, headers={"Content-Encoding": "gzip",
                                                "Content-Type": "application/json"})

    model = make_model(await serve(compressed))
    assert (await model.complete(REQUEST)).generations[0].text == "B"


async def test_a_refusal_is_an_answer_and_running_out_of_tokens_is_truncation(
    serve: Any, make_model: MakeModel
) -> None:
    replies = iter([chat({"content": None, "refusal": "I cannot help with that."}),
                    chat({"content": None}, finish="length")])

    async def reply(request: web.Request) -> web.Response:
        return web.json_response(next(replies))

    model = make_model(await serve(reply))
    refused = (await model.complete(REQUEST)).generations[0]
    assert refused.text == "I cannot help with that."
    truncated = (await model.complete(REQUEST)).generations[0]
    assert truncated.text == "" and truncated.finish_reason == "length"


async def test_an_echoed_key_and_password_are_masked(
    serve: Any, make_model: MakeModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = []

    async def echo(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization"))
        return web.json_response({"error": {"message": f"bad credentials "
                                            f"{request.headers.get('Authorization')} "
                                            f"for sk-live-abcdef and hunter2-pw"}}, status=401)

    monkeypatch.setenv("MY_KEY", "sk-live-abcdef")
    url = await serve(echo)
    model = make_model(url, api_key_env="MY_KEY")
    with pytest.raises(FatalModelError) as info:
        await model.complete(REQUEST)
    assert "sk-live-abcdef" not in str(info.value) and "bad credentials Bearer ***" in str(
        info.value)
    basic = make_model(url.replace("http://", "http://me:hunter2-pw@"))
    with pytest.raises(FatalModelError, match="refused the user:password") as info:
        await basic.complete(REQUEST)
    assert "hunter2-pw" not in str(info.value) and "hunter2" not in basic.endpoint
    assert seen[-1] == "Basic bWU6aHVudGVyMi1wdw=="  # me:hunter2-pw


def test_a_key_and_url_credentials_together_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_KEY", "sk-x")
    with pytest.raises(ModelError, match="either an API key .* or a user:password"):
        OpenAICompatModel("m", base_url="http://u:p@h/v1", api_key_env="MY_KEY")


async def test_html_error_pages_are_named_by_their_title(
    serve: Any, make_model: MakeModel
) -> None:
    async def bad_gateway(request: web.Request) -> web.Response:
        return web.Response(status=502, content_type="text/html",
                            text="<html><head><title>502 Bad Gateway</title></head></html>")

    model = make_model(await serve(bad_gateway))
    with pytest.raises(TransientModelError, match="HTTP 502: HTML page: 502 Bad Gateway"):
        await model.complete(REQUEST)


async def test_an_unknown_host_is_fatal(
    make_model: MakeModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    def no_such_host(*args: Any, **kwargs: Any) -> Any:  # no resolver is asked: no network
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    model = make_model("http://no-such-host.invalid/v1")
    with pytest.raises(FatalModelError, match="cannot resolve the host"):
        await model.complete(REQUEST)


def test_credentials_are_split_from_urls() -> None:
    assert split_credentials("http://a%40b:p%3Aw@[::1]:8000/v1") == (
        "http://[::1]:8000/v1", "a@b", "p:w")
    assert split_credentials("https://token@host/v1") == ("https://host/v1", "token", None)
    assert strip_credentials("http://host:8000/v1") == "http://host:8000/v1"
    assert strip_credentials(None) is None
    assert mask("key sk-abc1 and sk-abc123", ["sk-abc1", "sk-abc123", None, "ab"]) == (
        "key *** and ***")
