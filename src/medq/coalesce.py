"""The samples of one request asked for in one call (``n``), stored under one key each.

Self-consistency and the other sampling strategies (ensemble refinement, uncertainty
search, MediQ's abstention votes) draw several samples of the same request, differing only
in their sample index. Where the live backend declares `Capability.SAMPLES` (the
OpenAI-compatible servers: OpenAI, vLLM, SGLang), `SampleCoalescer` gathers the samples of
one request that reach the model together (a fan-out's siblings arrive within one turn of
the event loop) and asks once for those not in the cache: one request whose ``n`` is the
number of misses. Each returned choice is stored under its own sample's cache key, the key
it has when asked alone, so a resume, a rescore and a run without n support read the same
calls, and a partial cache (a run with n=3 before one with n=5 shares its first three
samples) asks only for the missing ones.
Greedy requests (temperature 0) are never coalesced.

Seeds. Samples i, i+1, …, i+k-1 of a request seeded S go out as one request with n = k and
the seed of sample i, ``wire_seed(S, i)``. vLLM gives choice j of a seeded n request the
seed ``seed + j`` (each of its n child requests gets ``seed + index``), which is the seed
sample i + j is sent with alone, so on vLLM both ways draw the same samples; that is why
only consecutive sample indices are asked together. Other servers draw valid but other
samples (OpenAI's seeds are best effort; SGLang copies the request's sampling parameters
to each of the n). The choice between the two ways is therefore not part of the run's
identity (the keys are the same either way, and a resumed run may mix them), but it is
recorded: per call, a sample drawn this way says so in its stored response (``drawn:
{"n": k, "choice": j}``; the request's token usage is on choice 0's row and the others
carry 0, so the sums are what was billed), and per run, in its info (`record`, shown by
``medq show``).

Detection (``--n-per-request auto``, the default). The first request with n > 1 to a
model goes out alone; the others wait for it. If the server rejects it (a 400) or ignores
n (one choice back), sample i is asked alone: when that succeeds, the server does not serve
n, and from then on every sample is its own request (this is recorded with the server's
message); when it fails too, the failure was not about n, and the item fails as it would
have. A server that gave every choice one seed would return n copies, which would vote as
one sample with a confidence of 1. So until an answer's choices differ (independent
draws), an answer of n identical choices is checked against sample i + 1 asked alone: a
model that sure says the same again, and the answer stands; if it differs, the answer is
discarded (its samples are asked alone), and after two such answers the model counts as
not serving n. (On vLLM, seeded, choice 1 is sample i + 1: the check agrees.) ``on`` trusts
the server (no check; a server without n is an error); ``off`` never coalesces. A batch
backend (``openai-batch``, whose requests wait for a whole round) is not probed first:
every request goes out with n, and the first answers teach it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from medq.models.base import (
    FatalModelError,
    ModelError,
    TransientModelError,
    UnsupportedCapabilityError,
)
from medq.types import Capability, Completion, GenerationRequest

if TYPE_CHECKING:
    from medq.calls import CallLog, ItemTally
    from medq.store import Store

MODES = ("auto", "on", "off")
#: OpenAI's limit on n; longer runs of samples are asked in several requests.
MAX_N = 128
#: Turns of the event loop a group waits for its siblings: they arrive in the first one;
#: the others absorb a view or two that awaits without suspending on the way.
SETTLE_TICKS = 3
#: Answers of n identical choices, each belied by a sample asked alone, after which a
#: model counts as not serving n.
IDENTICAL_STRIKES = 2

Response = dict[str, Any]


@dataclass
class _Member:
    """One sample waiting in a group: its request, cache key, item and own way to ask."""

    request: GenerationRequest
    payload: dict[str, Any]
    key: str
    tally: ItemTally
    alone: Callable[[], Awaitable[Response]]
    future: asyncio.Future[Response | None]  # None: ask alone

    @property
    def index(self) -> int:
        return self.request.sample_index


def sample_coalescer(log: CallLog) -> SampleCoalescer | None:
    """The coalescer for `log`'s live model, or None where nothing is coalesced (no live
    model, ``off``, or a backend that cannot serve n)."""
    if log.n_per_request not in MODES:
        from medq.run_settings import SettingError

        raise SettingError("n_per_request", "auto, on or off", log.n_per_request)
    if log.model is None or log.n_per_request == "off":
        return None
    if Capability.SAMPLES not in log.model.capabilities:
        return None
    return SampleCoalescer(log, log.n_per_request)


class SampleCoalescer:
    """Asks for the samples of one request at once; see the module docstring.

    Attributes:
        serves: whether the model serves n (None: not learned yet).
        why: what taught it (the server's message when it does not).
        requests, samples: requests sent with n, and the samples they drew.
        alone: sampled requests sent on their own (no sibling, or no n support).
        on_learn: called whenever `serves` is learned (the runner records it).
    """

    def __init__(self, log: CallLog, mode: str) -> None:
        self.log = log
        self.mode = mode
        self.serves: bool | None = True if mode == "on" else None
        self.why = "--n-per-request on" if mode == "on" else ""
        self.requests = self.samples = self.alone = 0
        # Until an answer's choices differ, identical ones are checked (module docstring).
        self.confirmed = mode == "on"
        self.strikes = 0
        self.recorded = (0, 0, 0)  # (requests, samples, alone) already in the run's info
        self.on_learn: Callable[[], None] | None = None
        # A batch backend answers rounds, not requests: probing first would cost a round.
        self._probe_first = not getattr(log.model, "unbounded_window", False)
        self._probe = asyncio.Lock()
        self._open: dict[tuple[int, str], list[_Member]] = {}

    def takes(self, request: GenerationRequest) -> bool:
        """Whether `request` is a sample, to gather with its siblings (greedy requests
        are not: their samples would be one)."""
        return request.n == 1 and request.temperature > 0

    async def fetch(self, request: GenerationRequest, payload: dict[str, Any], key: str,
                    tally: ItemTally, alone: Callable[[], Awaitable[Response]]) -> Response:
        """The stored response for sample `request` (cache key `key`), asked for with its
        siblings of the same item where they miss too; `alone()` fetches it by itself."""
        if self.log.store.get_call(key) is not None:
            return await alone()  # a hit: nothing to ask
        if self.serves is False:
            self.alone += 1
            return await alone()
        member = _Member(request, payload, key, tally, alone,
                         asyncio.get_running_loop().create_future())
        group_key = (id(tally), self.log.key("chat", {**payload, "sample_index": None}))
        group = self._open.get(group_key)
        if group is not None:
            if any(m.index == member.index for m in group):
                return await alone()  # the same sample twice at once: as before, alone
            group.append(member)
            return await self._outcome(member)
        group = self._open[group_key] = [member]
        try:
            for _ in range(SETTLE_TICKS):
                await asyncio.sleep(0)
            del self._open[group_key]
            await self._answer(group)
        finally:
            if self._open.get(group_key) is group:
                del self._open[group_key]
            for waiting in group:  # a cancelled leader leaves the others to ask alone
                if not waiting.future.done():
                    waiting.future.set_result(None)
        return await self._outcome(member)

    async def _outcome(self, member: _Member) -> Response:
        response = await member.future
        if response is None:
            self.alone += 1
            return await member.alone()
        return response

    async def _answer(self, group: list[_Member]) -> None:
        """Ask for each run of consecutive sample indices in one request."""
        group.sort(key=lambda m: m.index)
        runs: list[list[_Member]] = []
        for m in group:
            if runs and m.index == runs[-1][-1].index + 1 and len(runs[-1]) < MAX_N:
                runs[-1].append(m)
            else:
                runs.append([m])
        await asyncio.gather(*(self._ask(run) for run in runs))

    async def _ask(self, run: list[_Member]) -> None:
        if len(run) > 1 and self.serves is None and self._probe_first:
            async with self._probe:  # the first n request goes out alone
                if self.serves is None:
                    await self._ask_n(run)
                    return
        if len(run) == 1 or self.serves is False:
            for m in run:
                if not m.future.done():
                    m.future.set_result(None)
            return
        await self._ask_n(run)

    async def _ask_n(self, run: list[_Member]) -> None:
        """One request for `run`'s samples; every choice stored under its sample's key."""
        first, live = run[0], self.log.model
        assert live is not None
        asked = replace(first.request, n=len(run))  # the seed of sample `first.index`
        answered: list[Completion] = []

        async def call() -> tuple[Response, int, int]:
            try:
                completion = await live.complete(asked)
            except (TransientModelError, FatalModelError, UnsupportedCapabilityError):
                raise
            except ModelError as exc:
                if self.serves:
                    raise  # known to serve n (or told so): an error like any other
                single = await live.complete(first.request)  # was it about n?
                self.alone += 1
                self._learn(False, str(exc))
                return _row(single)
            spent = (0, 0)  # tokens of a request that checked this answer
            if not self.confirmed and _identical(completion):
                # n copies: one seed given to every choice, or a model this sure? Sample
                # i + 1 alone (its own seed) tells: a sure model says the same again.
                check = await live.complete(replace(first.request,
                                                    sample_index=first.index + 1))
                spent = (check.prompt_tokens, check.completion_tokens)
                if _text(check) != _text(completion):
                    self.strikes += 1
                    if self.strikes >= IDENTICAL_STRIKES:
                        self._learn(False, f"returned n identical choices where a sample "
                                    f"asked alone differed, {self.strikes} times (its n "
                                    "choices may share one seed)")
                    single = await live.complete(first.request)
                    self.alone += 1
                    return _row(single, spent=spent)
            else:
                self.confirmed = True  # choices that differ: independent draws
            self._learn(True, f"answered n={len(run)} with {len(run)} choices")
            answered.append(completion)
            return _row(_choice(completion, 0), drawn=(len(run), 0), spent=spent)

        started = time.perf_counter()
        try:
            response = await self.log.fetch("chat", first.payload, call, first.tally,
                                            first.key)
        except Exception as exc:
            for m in run:
                if not m.future.done():
                    m.future.set_exception(exc)
            return
        if not first.future.done():
            first.future.set_result(response)
        if not answered:  # asked alone (or stored meanwhile): the others ask alone too
            for m in run[1:]:
                if not m.future.done():
                    m.future.set_result(None)
            return
        self._store_rest(run, answered[0], time.perf_counter() - started)

    def _store_rest(self, run: list[_Member], completion: Completion, latency: float) -> None:
        """Store choices 1.. under their samples' keys, as `CallLog.fetch` stores one."""
        log, store = self.log, self.log.store
        rows = [_row(_choice(completion, j), drawn=(len(run), j))[0]
                for j in range(1, len(run))]
        for m, row in zip(run[1:], rows, strict=True):
            # Written with the item's result, in one transaction, as `fetch` writes its call.
            store.put_call(m.key, model=log.name, endpoint=log.endpoint, kind="chat",
                           request=m.payload, response=row, prompt_tokens=0,
                           completion_tokens=0, latency_s=latency, defer=True)
        for m, row in zip(run[1:], rows, strict=True):
            m.tally.keys.append(m.key)
            m.tally.add(0, 0, new=True)
            log.new_calls += 1
            if not m.future.done():
                m.future.set_result(row)
        self.requests += 1
        self.samples += len(run)

    def _learn(self, serves: bool, why: str) -> None:
        # Accepting n may still be belied by its choices until they have differed once.
        if self.serves is None or (self.serves and not serves and not self.confirmed):
            self.serves, self.why = serves, why
            if self.on_learn is not None:
                self.on_learn()


def _choice(completion: Completion, j: int) -> Completion:
    """Choice `j` alone; the request's usage goes with choice 0 (sums are what was billed)."""
    usage = (completion.prompt_tokens, completion.completion_tokens) if j == 0 else (0, 0)
    return Completion((completion.generations[j],), *usage, completion.model)


def _row(completion: Completion, *, drawn: tuple[int, int] | None = None,
         spent: tuple[int, int] = (0, 0)) -> tuple[Response, int, int]:
    """The stored response and token counts (`spent` added: a checking request's)."""
    from medq.calls import completion_to_json

    response = completion_to_json(completion)
    if drawn is not None:
        response["drawn"] = {"n": drawn[0], "choice": drawn[1]}
    return (response, completion.prompt_tokens + spent[0],
            completion.completion_tokens + spent[1])


def _text(completion: Completion) -> tuple[str, Any]:
    first = completion.generations[0]
    return first.text, first.tool_calls


def _identical(completion: Completion) -> bool:
    first = completion.generations[0]
    return len(completion.generations) > 1 and all(
        (g.text, g.tool_calls) == (first.text, first.tool_calls)
        for g in completion.generations[1:])


def watch(store: Store, run_id: str, logs: Mapping[str, CallLog]) -> Callable[[], None]:
    """Record what the run's models teach about n as they teach it; returns the function
    that records it (the runner calls it once more at the end, for the counts)."""

    def now() -> None:
        record(store, run_id, logs)

    for log in logs.values():
        if log.samples is not None:
            log.samples.on_learn = now
    return now


def record(store: Store, run_id: str, logs: Mapping[str, CallLog]) -> None:
    """Store, in the run's info under ``n_per_request``, whether each model (``model`` or
    a role's name) serves n, why, and the requests and samples since the last record
    (added to what earlier sessions of the run recorded)."""
    learned = {role: log.samples for role, log in logs.items() if log.samples is not None}
    if not any(c.serves is not None or c.samples or c.alone for c in learned.values()):
        return
    entry = dict(store.run(run_id)["info"].get("n_per_request") or {})
    models = dict(entry.get("models") or {})
    for role, c in learned.items():
        old = models.get(role) or {}
        if old.get("model") != c.log.name or old.get("endpoint") != c.log.endpoint:
            old = {}
        seen = c.recorded
        counts = (c.requests, c.samples, c.alone)
        models[role] = {
            "model": c.log.name, "endpoint": c.log.endpoint,
            "serves_n": c.serves if c.serves is not None else old.get("serves_n"),
            "why": c.why if c.serves is not None else old.get("why", ""),
            **{name: int(old.get(name, 0)) + now - before
               for name, now, before in zip(("requests", "samples", "alone"), counts, seen,
                                            strict=True)},
        }
        c.recorded = counts
    store.set_run_info(run_id, n_per_request={"setting": next(iter(learned.values())).mode,
                                              "models": models})


def describe(info: Mapping[str, Any]) -> list[str]:
    """Lines for ``medq show``: how each model's samples were asked for."""
    lines = []
    for role, m in sorted(((info.get("n_per_request") or {}).get("models") or {}).items()):
        who = f"{m['model']}" + ("" if role == "model" else f" ({role})")
        if m.get("serves_n") is False:
            lines.append(f"n per request: {who} does not serve n ({m.get('why')}); "
                         f"{m.get('alone', 0):,} samples asked one request each")
        elif m.get("requests"):
            lines.append(f"n per request: {m['requests']:,} requests to {who} drew "
                         f"{m['samples']:,} samples ({m['samples'] / m['requests']:.1f} per "
                         f"request); {m.get('alone', 0):,} asked alone")
    return lines
