"""OpenAICompatModel against a real OpenAI-compatible server on 127.0.0.1 (no mocks)."""

from __future__ import annotations

import asyncio
import math
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from email.utils import formatdate
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from medq.models.base import (
    FatalModelError,
    Model,
    ModelError,
    TransientModelError,
    UnsupportedCapabilityError,
)
from medq.models.openai_compat import OpenAICompatModel
from medq.models.retry import RetryPolicy, with_retries
from medq.registry import models
from medq.testing.openai_server import (
    FakeOpenAIServer,
    fixed_responder,
    letter_responder,
    table_responder,
    tool_call_responder,
)
from medq.types import (
    Capability,
    GenerationRequest,
    LoglikelihoodRequest,
    Message,
    ToolCall,
)

MakeModel = Callable[..., OpenAICompatModel]

NO_WAIT = RetryPolicy(max_attempts=4, base_delay=0.0, max_delay=0.0)


def ask(text: str = "Which letter?", **params: Any) -> GenerationRequest:
    return GenerationRequest(messages=(Message("user", text),), **params)


# -- what is sent ------------------------------------------------------------------------


async def test_minimal_request_omits_unset_fields(
    server: FakeOpenAIServer, make_model: MakeModel
) -> None:
    model = make_model(server.base_url, "gpt-test")
    request = GenerationRequest(
        messages=(Message("system", "Be brief."), Message("user", "Which letter?"))
    )
    await model.complete(request)
    assert server.bodies == [
        {
            "model": "gpt-test",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Which letter?"},
            ],
            "temperature": 0.0,
        }
    ]


async def test_all_generation_fields_are_sent(
    server: FakeOpenAIServer, make_model: MakeModel
) -> None:
    model = make_model(server.base_url)
    request = ask(
        n=3,
        temperature=0.7,
        seed=11,
        max_tokens=50,
        stop=("\n\n", "END"),
        logprobs=True,
        top_logprobs=5,
    )
    await model.complete(request)
    (body,) = server.bodies
    assert {k: v for k, v in body.items() if k not in ("model", "messages")} == {
        "n": 3,
        "temperature": 0.7,
        "seed": 11,
        "max_tokens": 50,
        "stop": ["\n\n", "END"],
        "logprobs": True,
        "top_logprobs": 5,
    }


async def test_completion_records_text_usage_and_finish_reason(make_model: MakeModel) -> None:
    async with FakeOpenAIServer(fixed_responder("The answer is C")) as server:
        model = make_model(server.base_url, "m1")
        completion = await model.complete(ask("one two three"))
    (generation,) = completion.generations
    assert generation.text == "The answer is C"
    assert generation.finish_reason == "stop"
    assert not generation.truncated
    assert generation.logprobs is None
    assert (completion.prompt_tokens, completion.completion_tokens) == (3, 4)
    assert completion.model == "m1"


async def test_length_finish_reason_marks_truncation(make_model: MakeModel) -> None:
    async with FakeOpenAIServer(fixed_responder("Let me think step by step")) as server:
        model = make_model(server.base_url)
        completion = await model.complete(ask(max_tokens=2))
    (generation,) = completion.generations
    assert generation.text == "Let me"
    assert generation.finish_reason == "length"
    assert generation.truncated
    assert completion.completion_tokens == 2


async def test_n_choices_come_back_in_index_order(make_model: MakeModel) -> None:
    async with FakeOpenAIServer(lambda body, index: f"sample {index}") as server:
        model = make_model(server.base_url)
        completion = await model.complete(ask(n=4, temperature=1.0))
    assert [g.text for g in completion.generations] == [f"sample {i}" for i in range(4)]


async def test_null_content_is_an_error_not_an_empty_answer(make_model: MakeModel) -> None:
    # An empty answer would be scored invalid and cached for good; an error is retried on
    # resume. Not transient (the same request gets the same null), not fatal.
    async with FakeOpenAIServer(lambda body, index: None) as server:
        with pytest.raises(ModelError, match="content null with no tool calls") as info:
            await make_model(server.base_url).complete(ask())
    assert type(info.value) is ModelError


async def test_responders_are_deterministic(make_model: MakeModel) -> None:
    table = table_responder({"aspirin": "Answer: B", "insulin": "Answer: D"})
    async with FakeOpenAIServer(table) as server:
        model = make_model(server.base_url)
        texts = [
            (await model.complete(ask(q))).generations[0].text
            for q in ("Dose of insulin?", "Aspirin? aspirin.", "Nothing")
        ]
    assert texts == ["Answer: D", "Answer: B", "I don't know."]
    letter = letter_responder("ABCDE")
    body = {"messages": [{"role": "user", "content": "q"}], "temperature": 0}
    assert letter(body, 0) == letter(body, 1) == letter(dict(body), 0)


# -- log-probabilities -------------------------------------------------------------------


async def test_logprobs_are_parsed_with_top_alternatives(
    make_model: MakeModel,
) -> None:
    async with FakeOpenAIServer(fixed_responder("Answer: C")) as server:
        model = make_model(server.base_url)
        completion = await model.complete(ask(logprobs=True, top_logprobs=3))
    logprobs = completion.generations[0].logprobs
    assert logprobs is not None
    assert [t.token for t in logprobs] == ["Answer:", " C"]
    letter = logprobs[1]
    assert letter.logprob == pytest.approx(math.log(0.7))
    assert [token for token, _ in letter.top] == [" C", " A", " B"]
    assert letter.top[0][1] == letter.logprob
    assert letter.top[0][1] > letter.top[1][1] > letter.top[2][1]


async def test_missing_capability_fails_before_any_request(
    server: FakeOpenAIServer, make_model: MakeModel
) -> None:
    model = make_model(server.base_url, logprobs=False)
    assert model.capabilities == frozenset(
        {Capability.GENERATE, Capability.SAMPLES, Capability.TOOLS, Capability.VISION})
    with pytest.raises(UnsupportedCapabilityError, match="logprobs=False"):
        await model.complete(ask(logprobs=True))
    with pytest.raises(UnsupportedCapabilityError):
        await model.complete(ask(top_logprobs=5))
    assert server.count == 0


async def test_server_that_drops_logprobs_is_an_error_not_a_silent_score(
    make_model: MakeModel,
) -> None:
    async with FakeOpenAIServer(logprobs=False) as server:
        model = make_model(server.base_url)
        with pytest.raises(ModelError, match="no log-probabilities") as info:
            await model.complete(ask(logprobs=True, top_logprobs=2))
    assert not isinstance(info.value, TransientModelError)


async def test_loglikelihoods_are_unsupported(
    server: FakeOpenAIServer, make_model: MakeModel
) -> None:
    model = make_model(server.base_url)
    assert Capability.LOGLIKELIHOOD not in model.capabilities
    with pytest.raises(UnsupportedCapabilityError, match="chat API"):
        await model.loglikelihoods(LoglikelihoodRequest((Message("user", "q"),), ("A", "B")))
    assert server.count == 0


# -- tool calling ------------------------------------------------------------------------

BMI_TOOL = {
    "name": "body_mass_index",
    "description": "Body mass index.",
    "parameters": {
        "type": "object",
        "properties": {"weight_kg": {"type": "number"}, "height_cm": {"type": "number"}},
        "required": ["weight_kg", "height_cm"],
    },
}
MAP_TOOL = {
    "name": "mean_arterial_pressure",
    "description": "Mean arterial pressure.",
    "parameters": {"type": "object", "properties": {"sbp": {"type": "number"}}},
}


async def test_tools_are_sent_as_openai_function_tools(
    server: FakeOpenAIServer, make_model: MakeModel
) -> None:
    model = make_model(server.base_url)
    assert Capability.TOOLS in model.capabilities
    await model.complete(ask(tools=(BMI_TOOL, MAP_TOOL), tool_choice="required"))
    await model.complete(ask(tools=(BMI_TOOL, MAP_TOOL), tool_choice="mean_arterial_pressure"))
    await model.complete(ask(tools=(BMI_TOOL,)))
    first, named, unset = server.bodies
    assert first["tools"] == [
        {"type": "function", "function": BMI_TOOL},
        {"type": "function", "function": MAP_TOOL},
    ]
    assert first["tool_choice"] == "required"
    assert named["tool_choice"] == {
        "type": "function", "function": {"name": "mean_arterial_pressure"}}
    assert "tool_choice" not in unset
    assert server.tools[2] == [{"type": "function", "function": BMI_TOOL}]


async def test_a_request_without_tools_sends_no_tool_fields(
    server: FakeOpenAIServer, make_model: MakeModel
) -> None:
    await make_model(server.base_url).complete(ask())
    assert "tools" not in server.bodies[0] and "tool_choice" not in server.bodies[0]
    assert server.tools == [[]]


async def test_tool_calls_are_parsed_and_null_content_is_empty_text(
    make_model: MakeModel,
) -> None:
    def choose(body: Any, index: int) -> tuple[str, dict[str, float]]:
        return "body_mass_index", {"weight_kg": 70, "height_cm": 175}

    async with FakeOpenAIServer(tool_call_responder(choose)) as server:
        model = make_model(server.base_url)
        completion = await model.complete(ask(tools=(BMI_TOOL,), tool_choice="required"))
        async with aiohttp.ClientSession() as session:
            body = {"model": "m", "messages": [{"role": "user", "content": "x"}],
                    "tools": [{"type": "function", "function": BMI_TOOL}]}
            async with session.post(f"{server.base_url}/chat/completions", json=body) as r:
                raw = await r.json()
    generation = completion.generations[0]
    assert generation.text == ""
    assert generation.finish_reason == "tool_calls"
    assert generation.tool_calls == (
        ToolCall("call_1_0_0", "body_mass_index", '{"weight_kg": 70, "height_cm": 175}'),
    )
    message = raw["choices"][0]["message"]
    assert message["content"] is None
    assert message["tool_calls"][0]["type"] == "function"
    assert raw["choices"][0]["finish_reason"] == "tool_calls"


async def test_several_tool_calls_with_text(make_model: MakeModel) -> None:
    def respond(body: Any, index: int) -> dict[str, Any]:
        return {"content": "Computing both.", "tool_calls": [
            {"name": "body_mass_index", "arguments": {"weight_kg": 70, "height_cm": 175}},
            {"name": "mean_arterial_pressure", "arguments": '{"sbp": 1'},  # broken on purpose
        ]}

    async with FakeOpenAIServer(respond) as server:
        model = make_model(server.base_url)
        completion = await model.complete(ask(tools=(BMI_TOOL, MAP_TOOL)))
    generation = completion.generations[0]
    assert generation.text == "Computing both."
    assert [c.name for c in generation.tool_calls] == ["body_mass_index", "mean_arterial_pressure"]
    assert generation.tool_calls[1].arguments == '{"sbp": 1'  # raw, for the caller to judge
    assert len({c.id for c in generation.tool_calls}) == 2


async def test_tools_to_a_model_without_tool_calling_fail_before_any_request(
    server: FakeOpenAIServer, make_model: MakeModel
) -> None:
    model = make_model(server.base_url, tools=False)
    assert Capability.TOOLS not in model.capabilities
    with pytest.raises(UnsupportedCapabilityError, match="tools=False"):
        await model.complete(ask(tools=(BMI_TOOL,), tool_choice="required"))
    assert server.count == 0
    await model.complete(ask())  # plain requests still work
    assert server.count == 1


async def _serve_message(message: dict[str, Any], make_model: MakeModel) -> Any:
    async def reply(request: web.Request) -> web.Response:
        choice = {"index": 0, "message": message, "finish_reason": "tool_calls"}
        return web.json_response({"choices": [choice]})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", reply)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        model = make_model(f"http://127.0.0.1:{runner.addresses[0][1]}/v1")
        return await model.complete(ask(tools=(BMI_TOOL,)))
    finally:
        await runner.cleanup()


async def test_object_arguments_become_json_text(make_model: MakeModel) -> None:
    # Some servers send the arguments as an object, not as the JSON text OpenAI sends.
    message = {"role": "assistant", "tool_calls": [
        {"id": "c1", "type": "function",
         "function": {"name": "body_mass_index", "arguments": {"weight_kg": 70}}}]}
    completion = await _serve_message(message, make_model)
    assert completion.generations[0].tool_calls == (
        ToolCall("c1", "body_mass_index", '{"weight_kg": 70}'),)
    assert completion.generations[0].text == ""  # no content key at all


async def test_malformed_tool_call_is_a_lasting_error(make_model: MakeModel) -> None:
    message = {"role": "assistant", "content": None,
               "tool_calls": [{"id": "c1", "type": "function", "function": {"arguments": "{}"}}]}
    with pytest.raises(ModelError, match="malformed tool call") as info:
        await _serve_message(message, make_model)
    assert not isinstance(info.value, TransientModelError)


async def test_fake_server_rejects_what_openai_rejects() -> None:
    bad_bodies = [
        {"tool_choice": "auto"},  # no tools
        {"tools": [{"type": "function", "function": {"name": "f", "parameters": {
            "type": "array"}}}]},
        {"tools": [{"name": "f"}]},  # not wrapped in {"type": "function", ...}
        {"tools": [{"type": "function", "function": {"name": "f"}}],
         "tool_choice": {"type": "function", "function": {"name": "g"}}},
    ]
    async with FakeOpenAIServer() as server, aiohttp.ClientSession() as session:
        for extra in bad_bodies:
            body = {"model": "m", "messages": [{"role": "user", "content": "x"}], **extra}
            async with session.post(f"{server.base_url}/chat/completions", json=body) as r:
                assert r.status == 400, extra
                assert (await r.json())["error"]["code"] == "invalid_tools"


# -- errors and retries ------------------------------------------------------------------


async def test_429_with_retry_after_then_success(make_model: MakeModel) -> None:
    async with FakeOpenAIServer(faults={"429": 2}, retry_after="2") as server:
        model = make_model(server.base_url)
        with pytest.raises(TransientModelError) as info:
            await model.complete(ask())
        assert info.value.retry_after == 2.0
        assert "HTTP 429" in str(info.value)

        delays: list[float] = []

        async def fake_sleep(seconds: float) -> None:
            delays.append(seconds)

        policy = RetryPolicy(max_attempts=3, base_delay=0.1, jitter=0)
        completion = await with_retries(lambda: model.complete(ask()), policy, sleep=fake_sleep)
    assert completion.generations[0].text.startswith("Answer: ")
    assert delays == [2.0]  # the server's Retry-After beat the 0.1 s backoff
    assert server.count == 3
    assert server.faults_sent == {"429": 2}


async def test_retry_after_as_http_date(make_model: MakeModel) -> None:
    async with FakeOpenAIServer(
        always="503", retry_after=formatdate(time.time() + 30, usegmt=True)
    ) as server:
        with pytest.raises(TransientModelError) as info:
            await make_model(server.base_url).complete(ask())
    assert info.value.retry_after is not None
    assert 25 < info.value.retry_after <= 30


async def test_500s_exhaust_retries_with_attempt_count(make_model: MakeModel) -> None:
    async with FakeOpenAIServer(always="500") as server:
        model = make_model(server.base_url)
        with pytest.raises(
            ModelError,
            match=r"gave up after 4 attempts; last error: HTTP 500: "
            r"injected fault",
        ) as info:
            await with_retries(lambda: model.complete(ask()), NO_WAIT)
    assert not isinstance(info.value, TransientModelError)
    assert server.count == 4


async def test_malformed_json_is_transient_and_retried(make_model: MakeModel) -> None:
    async with FakeOpenAIServer(faults={"malformed": 1}) as server:
        model = make_model(server.base_url)
        with pytest.raises(TransientModelError, match="malformed response"):
            await model.complete(ask("q1"))
        completion = await with_retries(lambda: model.complete(ask("q2")), NO_WAIT)
    assert completion.generations[0].text.startswith("Answer: ")
    assert server.count == 3  # q1 once, q2 malformed then fine


async def test_400_fails_at_once_with_the_servers_message(make_model: MakeModel) -> None:
    async with FakeOpenAIServer(always="400") as server:
        model = make_model(server.base_url)
        with pytest.raises(ModelError, match="HTTP 400: injected fault: HTTP 400") as info:
            await with_retries(lambda: model.complete(ask()), NO_WAIT)
    assert not isinstance(info.value, TransientModelError)
    assert server.count == 1


async def test_unknown_model_404_carries_the_servers_message(make_model: MakeModel) -> None:
    async with FakeOpenAIServer(models=["served-model"]) as server:
        with pytest.raises(ModelError, match="HTTP 404: The model `other` does not exist"):
            await make_model(server.base_url, "other").complete(ask())
        completion = await make_model(server.base_url, "served-model").complete(ask())
    assert completion.model == "served-model"


async def test_dropped_connection_is_transient(make_model: MakeModel) -> None:
    async with FakeOpenAIServer(faults={"drop": 1}) as server:
        model = make_model(server.base_url)
        with pytest.raises(TransientModelError, match="connection .* failed"):
            await model.complete(ask())
        await model.complete(ask())  # the session recovers on a fresh connection
    assert server.count == 2


async def test_timeout_is_transient(make_model: MakeModel) -> None:
    async with FakeOpenAIServer(latency=2.0) as server:
        model = make_model(server.base_url, timeout=0.1)
        with pytest.raises(TransientModelError, match="within 0.1s"):
            await model.complete(ask())


async def test_connection_refused_is_fatal_and_says_what_to_check(make_model: MakeModel) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    model = make_model(f"http://127.0.0.1:{port}/v1")
    with pytest.raises(FatalModelError, match="connection refused; is the server running"):
        await model.complete(ask())


async def test_fewer_choices_than_asked_is_an_error(make_model: MakeModel) -> None:
    async def one_choice(request: web.Request) -> web.Response:
        message = {"role": "assistant", "content": "Answer: A"}
        return web.json_response(
            {"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}
        )

    app = web.Application()
    app.router.add_post("/v1/chat/completions", one_choice)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        model = make_model(f"http://127.0.0.1:{port}/v1")
        with pytest.raises(ModelError, match="n=3 completions but got 1"):
            await model.complete(ask(n=3, temperature=1.0))
    finally:
        await runner.cleanup()


async def test_concurrent_retries_are_counted_per_request(make_model: MakeModel) -> None:
    async with FakeOpenAIServer(faults={"429": 1, "500": 1}) as server:
        model = make_model(server.base_url)
        completions = await asyncio.gather(
            *(with_retries(lambda i=i: model.complete(ask(f"q{i}")), NO_WAIT) for i in range(100))
        )
    assert len(completions) == 100
    assert server.count == 300
    assert server.faults_sent == {"429": 100, "500": 100}


# -- configuration -----------------------------------------------------------------------


async def test_api_key_from_named_env_var(
    monkeypatch: pytest.MonkeyPatch, make_model: MakeModel
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-default")
    monkeypatch.setenv("MY_PROVIDER_KEY", "sk-secret-123")
    async with FakeOpenAIServer(api_key="sk-secret-123") as server:
        model = make_model(server.base_url, api_key_env="MY_PROVIDER_KEY")
        await model.complete(ask())
        with pytest.raises(ModelError, match="HTTP 401: Incorrect API key"):
            await make_model(server.base_url).complete(ask())  # sends OPENAI_API_KEY
    assert server.requests[0].headers["authorization"] == "Bearer sk-secret-123"
    assert server.requests[1].headers["authorization"] == "Bearer sk-default"
    assert "sk-secret" not in repr(model)


async def test_no_key_no_header_and_missing_named_key_fails(
    monkeypatch: pytest.MonkeyPatch, server: FakeOpenAIServer, make_model: MakeModel
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ABSENT_KEY", raising=False)
    await make_model(server.base_url).complete(ask())
    assert "authorization" not in server.requests[0].headers
    with pytest.raises(ModelError, match="ABSENT_KEY"):
        make_model(server.base_url, api_key_env="ABSENT_KEY")


def test_base_url_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert OpenAICompatModel("m").endpoint == "https://api.openai.com/v1"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://gpu-box:8000/v1/")
    assert OpenAICompatModel("m").endpoint == "http://gpu-box:8000/v1"
    assert OpenAICompatModel("m", base_url="http://x/v1").endpoint == "http://x/v1"


def test_registered_as_openai() -> None:
    model = models.get("openai")(
        "gpt-4o-mini", base_url="http://127.0.0.1:9/v1", logprobs=False, timeout=5.0
    )
    assert isinstance(model, OpenAICompatModel)
    assert isinstance(model, Model)
    assert model.name == "openai/gpt-4o-mini"
    assert model.endpoint == "http://127.0.0.1:9/v1"
    assert model.timeout == 5.0
    assert Capability.TOP_LOGPROBS not in model.capabilities
    assert Capability.TOOLS in model.capabilities
    without_tools = models.get("openai")("m", base_url="http://127.0.0.1:9/v1", tools=False)
    assert Capability.TOOLS not in without_tools.capabilities


async def test_session_is_reusable_after_aclose(
    server: FakeOpenAIServer, make_model: MakeModel
) -> None:
    model = make_model(server.base_url)
    await model.complete(ask())
    await model.aclose()
    await model.aclose()  # idempotent
    await model.complete(ask())
    assert server.count == 2


# -- the server's other modes ------------------------------------------------------------


def test_threaded_server_from_sync_code() -> None:
    with FakeOpenAIServer(fixed_responder("Answer: B")) as server:
        model = OpenAICompatModel("m", base_url=server.base_url)

        async def call_then_close() -> str:
            try:
                return (await model.complete(ask())).generations[0].text
            finally:
                await model.aclose()

        assert asyncio.run(call_then_close()) == "Answer: B"
        assert asyncio.run(call_then_close()) == "Answer: B"  # a new loop after aclose
        assert server.count == 2


async def test_models_endpoint(make_model: MakeModel) -> None:
    async with FakeOpenAIServer(models=["a", "b"]) as server:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{server.base_url}/models") as response:
                data = await response.json()
    assert [m["id"] for m in data["data"]] == ["a", "b"]


def test_subprocess_server() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "medq.testing.openai_server",
            "--port",
            "0",
            "--latency",
            "0.01",
            "--responder",
            "fixed",
            "--text",
            "Answer: D",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        model = OpenAICompatModel("m", base_url=base_url)

        async def call_then_close() -> str:
            try:
                return (await model.complete(ask())).generations[0].text
            finally:
                await model.aclose()

        assert asyncio.run(call_then_close()) == "Answer: D"
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr


async def test_sample_index_is_mixed_into_the_seed(
    server: FakeOpenAIServer, make_model: MakeModel
) -> None:
    model = make_model(server.base_url)
    for index in (0, 1, 2):
        await model.complete(ask(temperature=0.7, seed=11, sample_index=index))
    assert [body["seed"] for body in server.bodies] == [11, 12, 13]
