"""The OpenAI backend surfaces 429s and x-ratelimit headers to the concurrency window."""

from __future__ import annotations

import asyncio

import pytest

from medq.concurrency import AdaptiveWindow, RateLimits
from medq.models.base import RateLimitedError
from medq.models.openai_compat import OpenAICompatModel, _rate_limits
from medq.testing.openai_server import FakeOpenAIServer
from medq.types import GenerationRequest, Message

REQUEST = GenerationRequest(messages=(Message("user", "Which letter?"),))


def test_headers_are_read_as_whole_numbers_only() -> None:
    assert _rate_limits({}) is None
    assert _rate_limits({"x-ratelimit-remaining-requests": "0",
                         "x-ratelimit-limit-requests": "500",
                         "x-ratelimit-remaining-tokens": "149984",
                         "x-ratelimit-limit-tokens": "150000"}) == RateLimits(0, 500, 149984,
                                                                                150000)
    # OpenAI's reset headers ("6m0s") are not counts; a garbled count is not guessed at.
    assert _rate_limits({"x-ratelimit-remaining-tokens": "1.5e3",
                         "x-ratelimit-reset-requests": "1s"}) is None


def test_a_429_is_a_rate_limit_with_its_retry_after() -> None:
    async def main() -> list[BaseException | object]:
        async with FakeOpenAIServer(latency=0.2, max_concurrent=1, retry_after="3") as server:
            model = OpenAICompatModel("m", base_url=server.base_url)
            try:
                return await asyncio.gather(model.complete(REQUEST), model.complete(REQUEST),
                                            return_exceptions=True)
            finally:
                await model.aclose()

    outcomes = asyncio.run(main())
    (refused,) = [o for o in outcomes if isinstance(o, BaseException)]
    assert isinstance(refused, RateLimitedError)
    assert refused.retry_after == 3.0 and "HTTP 429" in str(refused)


def test_spent_budgets_in_200s_shrink_the_window() -> None:
    """The server admits one at a time, so every answer says 0 remaining: after a round
    of such answers the window listening for those attempts halves, without any 429."""

    async def main() -> AdaptiveWindow:
        window = AdaptiveWindow(8, start=4)
        async with FakeOpenAIServer(max_concurrent=1) as server:
            model = OpenAICompatModel("m", base_url=server.base_url)
            try:
                for _ in range(4):
                    async with window.slot() as attempt:
                        completion = await attempt(lambda: model.complete(REQUEST))
                    assert completion.generations[0].text.startswith("Answer:")
            finally:
                await model.aclose()
            assert server.rate_limited == 0
        return window

    window = asyncio.run(main())
    assert (window.size, window.decreases, window.rate_limited) == (2, 1, 0)


@pytest.mark.parametrize("limit", [2, 5])
def test_remaining_headers_count_the_requests_in_flight(limit: int) -> None:
    async def main() -> list[tuple[int, str | None, str | None]]:
        import aiohttp

        async with FakeOpenAIServer(latency=0.1, max_concurrent=limit) as server, \
                aiohttp.ClientSession() as session:
            async def one() -> tuple[int, str | None, str | None]:
                async with session.post(f"{server.base_url}/chat/completions",
                                        json={"model": "m", "messages": [
                                            {"role": "user", "content": "hi"}]}) as r:
                    await r.read()
                    return (r.status, r.headers.get("x-ratelimit-remaining-requests"),
                            r.headers.get("Retry-After"))

            return await asyncio.gather(*(one() for _ in range(limit + 2)))

    replies = asyncio.run(main())
    assert sorted(r for r in replies if r[0] == 200) == sorted(
        (200, str(n), None) for n in range(limit))
    assert [r for r in replies if r[0] != 200] == [(429, "0", "0")] * 2
