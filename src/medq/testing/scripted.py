"""A scripted model for tests: answers from a function or a table, and records every call.

Example:
    >>> model = ScriptedModel(table({"Verify option": "Verdict: incorrect"}, default="Answer: A"))
    >>> # ... run a strategy against `model`, then inspect what it was asked:
    >>> [(c.temperature, c.sample_index) for c in model.recorded]  # doctest: +SKIP

A reply may also be a `Generation`, e.g. a tool call made with `tool_call` (the model must
be built with ``tools=True`` to be offered tools):

    >>> model = ScriptedModel(lambda r: tool_call("body_mass_index", {"weight": 70}),
    ...                       tools=True)
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from medq.models.base import ModelError, TransientModelError, UnsupportedCapabilityError
from medq.types import (
    Capability,
    Completion,
    ContinuationScore,
    Generation,
    GenerationRequest,
    LoglikelihoodRequest,
    ToolCall,
)

Responder = Callable[[GenerationRequest], str | Generation]
Reply = str | Generation | Sequence[str] | Responder


class UnscriptedCallError(LookupError):
    """A table responder got a prompt that none of its keys match (a test bug, so loud)."""


@dataclass(frozen=True)
class RecordedCall:
    """One call the scripted model answered (or failed), in the order it was made.

    Attributes:
        request: the request as received.
        text: the reply, or None when the call failed.
        tool_calls: the tool calls of the reply, if it made any.
    """

    request: GenerationRequest
    text: str | None
    tool_calls: tuple[ToolCall, ...] = ()

    @property
    def prompt(self) -> str:
        """The last message's content (the user turn the strategy just wrote)."""
        return self.request.messages[-1].content

    @property
    def temperature(self) -> float:
        return self.request.temperature

    @property
    def sample_index(self) -> int:
        return self.request.sample_index


class ScriptedModel:
    """A Model whose replies come from `respond(request)`; every request is kept in `calls`.

    Args:
        respond: request -> response text, or a `Generation` (a tool call: see `tool_call`);
            see `table` and `answers` for ready-made ones. Raise a ModelError subclass to
            simulate failure.
        name: the model name used in cache keys.
        latency: seconds to wait per call (to exercise concurrency).
        fail_first: the first N calls raise TransientModelError (to exercise retries).
        tools: declare `Capability.TOOLS` (tool calling); without it a request that offers
            tools raises UnsupportedCapabilityError, as a real backend would.
        vision: declare `Capability.VISION` (image inputs); without it a request that
            shows images is refused, as a text-only backend's would be.

    Attributes:
        calls: every request, in arrival order.
        recorded: every call with its reply (None when it failed), in completion order.
        max_in_flight: the most calls that were ever waiting at once.
        busy_s: seconds spent inside `complete` (the "model time" of a benchmark).
    """

    capabilities = frozenset({Capability.GENERATE})

    def __init__(
        self,
        respond: Responder,
        *,
        name: str = "scripted/test",
        latency: float = 0.0,
        fail_first: int = 0,
        tools: bool = False,
        vision: bool = False,
    ) -> None:
        declared = {Capability.GENERATE}
        if tools:
            declared.add(Capability.TOOLS)
        if vision:
            declared.add(Capability.VISION)
        self.capabilities = frozenset(declared)
        self.respond = respond
        self.name = name
        self.endpoint = "scripted"
        self.latency = latency
        self.fail_first = fail_first
        self.calls: list[GenerationRequest] = []
        self.recorded: list[RecordedCall] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.busy_s = 0.0

    async def complete(self, request: GenerationRequest) -> Completion:
        started = time.perf_counter()
        self.calls.append(request)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        generations: list[Generation] = []
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            if len(self.calls) <= self.fail_first:
                raise TransientModelError("scripted transient failure")
            if request.tools and Capability.TOOLS not in self.capabilities:
                raise UnsupportedCapabilityError(
                    f"{self.name} was built without tools=True but was offered tools")
            generations = [_generation(self.respond(request)) for _ in range(request.n)]
        finally:
            self.in_flight -= 1
            first = generations[0] if generations else None
            self.recorded.append(RecordedCall(
                request,
                first.text if first else None,
                first.tool_calls if first else (),
            ))
            self.busy_s += time.perf_counter() - started
        return Completion(
            tuple(generations),
            prompt_tokens=sum(len(m.content.split()) for m in request.messages),
            completion_tokens=sum(
                len(g.text.split()) + sum(len(c.arguments.split()) for c in g.tool_calls)
                for g in generations
            ),
            model=self.name,
        )

    def prompts(self, containing: str = "") -> list[str]:
        """The prompts (last message) of the answered calls whose prompt contains `containing`."""
        return [c.prompt for c in self.recorded if containing in c.prompt]

    async def loglikelihoods(self, request: LoglikelihoodRequest) -> list[ContinuationScore]:
        raise UnsupportedCapabilityError(f"{self.name} cannot score options")

    async def aclose(self) -> None:
        return None


def _generation(reply: str | Generation) -> Generation:
    return reply if isinstance(reply, Generation) else Generation(reply, "stop")


def tool_call(
    name: str, arguments: Mapping[str, Any] | str, *, call_id: str = "call_0", text: str = ""
) -> Generation:
    """A reply that calls tool `name` with `arguments` (a dict, or raw JSON text, which may
    be broken on purpose), as a backend with tool calling returns it."""
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return Generation(text, "tool_calls", tool_calls=(ToolCall(call_id, name, raw),))


def failing(message: str = "scripted permanent failure") -> Responder:
    """A responder that always fails for good."""

    def respond(request: GenerationRequest) -> str:
        raise ModelError(message)

    return respond


def table(entries: Mapping[str, Reply], *, default: Reply | None = None) -> Responder:
    """A responder that picks its reply by the first key found in the prompt.

    The prompt is the request's last message. Keys are tried in insertion order, so put
    the more specific ones first. A reply is a string; a sequence of strings, indexed by
    the request's ``sample_index`` (cyclically); or a responder function. Raising inside
    a responder function (e.g. `failing()`) simulates a failed sub-call.

    Args:
        entries: prompt substring -> reply.
        default: the reply when no key matches; without one such a prompt raises
            `UnscriptedCallError`.
    """

    def pick(reply: Reply, request: GenerationRequest) -> str | Generation:
        if isinstance(reply, str | Generation):
            return reply
        if callable(reply):
            return reply(request)
        return reply[request.sample_index % len(reply)]

    def respond(request: GenerationRequest) -> str | Generation:
        prompt = request.messages[-1].content
        for key, reply in entries.items():
            if key in prompt:
                return pick(reply, request)
        if default is None:
            raise UnscriptedCallError(f"no scripted reply for prompt: {prompt[:200]!r}")
        return pick(default, request)

    return respond


def answers(*letters: str, template: str = "Reasoning.\nAnswer: {letter}") -> Responder:
    """A responder that answers ``letters[sample_index % len(letters)]`` in a parseable form."""

    def respond(request: GenerationRequest) -> str:
        return template.format(letter=letters[request.sample_index % len(letters)])

    return respond
