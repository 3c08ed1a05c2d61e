"""What a run will cost before it starts: items, calls per item, one-off preparation calls.

`plan_run` resolves the run as `evaluate` would (same run ID, same items still to do) and
then runs the strategy's preparation and its first item against a stand-in model that
answers every request at once and counts it, so a composite strategy
(``self_consistency(n=5, base=cot_few_shot(k=3, reasoning=self))``) shows its real numbers:
5 calls per item and one call per exemplar-pool item for the self-generated reasoning. No
call reaches the real model. Strategies whose number of calls depends on the answers
(debates, repairs) are counted on the stand-in's answers, so the plan says "about".

Prices are USD per million tokens, from ``--price-in/--price-out`` or the editable table
``$MEDQ_HOME/prices.toml``::

    ["openai/gpt-4o-mini"]
    in = 0.15
    out = 0.60
"""

from __future__ import annotations

import asyncio
import tomllib
from dataclasses import dataclass, field
from typing import Any

from medq.store import Store, medq_home
from medq.types import (
    Capability,
    Completion,
    ContinuationScore,
    Generation,
    GenerationRequest,
    LoglikelihoodRequest,
)

CHARS_PER_TOKEN = 4  # the usual rule of thumb for English text; an estimate, said so


@dataclass(frozen=True)
class Price:
    """USD per million prompt (``input``) and completion (``output``) tokens."""

    input: float
    output: float

    def cost(self, prompt_tokens: float, completion_tokens: float) -> float:
        return (prompt_tokens * self.input + completion_tokens * self.output) / 1e6


@dataclass(frozen=True)
class Plan:
    """A run's expected size, known before its first call.

    Attributes:
        run_id: the run the spec evaluates under.
        total_items: items in the run; `items` of them are still to answer.
        calls_per_item: calls the first item took with the stand-in (None: not counted).
        declared: what the strategy declares per item (e.g. ``"n × base"``).
        exact: whether the count cannot depend on the model's answers.
        preparation_calls: one-off calls before the first item (exemplar reasoning, ...).
        prompt_chars_per_item: characters sent per item (for a token estimate).
        calls: total calls still to make (items × calls per item + preparation).
        loaded: the task as loaded for the plan, which the run reuses (not read twice).
    """

    task: str
    run_id: str
    strategy: str
    total_items: int
    items: int
    calls_per_item: int | None
    declared: str
    exact: bool
    preparation_calls: int
    prompt_chars_per_item: int
    preparation_prompt_chars: int
    max_tokens: int | None
    loaded: Any = field(default=None, repr=False, compare=False)

    @property
    def calls(self) -> int | None:
        if self.calls_per_item is None:
            return None
        return self.items * self.calls_per_item + self.preparation_calls

    def estimated_cost(self, price: Price) -> tuple[float, float | None]:
        """(prompt cost, completion cost upper bound or None when no limit is set)."""
        chars = self.items * self.prompt_chars_per_item + self.preparation_prompt_chars
        prompt = price.cost(chars / CHARS_PER_TOKEN, 0)
        if self.max_tokens is None or self.calls is None:
            return prompt, None
        return prompt, price.cost(0, self.calls * self.max_tokens)

    def lines(self, price: Price | None = None) -> list[str]:
        """The plan as text, one fact a line."""
        per_item = "not counted" if self.calls_per_item is None else (
            f"{'' if self.exact else 'about '}{self.calls_per_item}")
        out = [
            f"plan {self.run_id}: {self.task} · {self.strategy}",
            f"  items: {self.items} to answer of {self.total_items}",
            f"  calls per item: {per_item} (declared: {self.declared})",
            f"  one-off preparation calls: {self.preparation_calls}",
        ]
        if self.calls is not None:
            out.append(f"  model calls: {'' if self.exact else 'about '}{self.calls:,}")
        if price is not None:
            prompt, completion = self.estimated_cost(price)
            tokens = (self.items * self.prompt_chars_per_item
                      + self.preparation_prompt_chars) / CHARS_PER_TOKEN
            text = f"  estimated cost: ${prompt:.4f} for ~{tokens:,.0f} prompt tokens"
            text += (f" + at most ${completion:.4f} for completions (max_tokens "
                     f"{self.max_tokens})" if completion is not None
                     else " (completions not estimated: no max_tokens)")
            out.append(text)
        return out


class _StandIn:
    """Answers every request at once with a fixed reply, counting calls and prompt size."""

    def __init__(self, name: str, endpoint: str, capabilities: frozenset[Capability]) -> None:
        self.name, self.endpoint, self.capabilities = name, endpoint, capabilities
        self.calls = 0
        self.chars = 0

    async def complete(self, request: GenerationRequest) -> Completion:
        self.calls += 1
        self.chars += sum(len(m.content) for m in request.messages)
        reply = Generation('{"answer": "A", "answer_choice": "A"} The answer is A.', "stop")
        return Completion((reply,) * max(request.n, 1))

    async def loglikelihoods(self, request: LoglikelihoodRequest) -> list[ContinuationScore]:
        self.calls += 1
        self.chars += sum(len(m.content) for m in request.context)
        return [ContinuationScore(-1.0, 1, len(c)) for c in request.continuations]

    async def aclose(self) -> None:
        return None


def plan_run(spec: Any, model: Any, store: Store, *, max_tokens: int | None = None) -> Plan:
    """The plan of `spec` (an `EvalSpec`) on `model` (for its endpoint and capabilities).

    Raises what `evaluate` raises before its first call (unknown task or strategy, bad
    data, a strategy that cannot answer the task).
    """
    from medq.runner import prepare_run, role_endpoints
    from medq.store import RunNotFoundError
    from medq.strategies.base import prepare_strategy, strategy_info
    from medq.tasks.base import load_task

    task = load_task(spec.task, spec.data, sample=spec.sample)
    run = prepare_run(spec, model.endpoint, role_endpoints(spec), task)  # the run's own ID
    try:
        done = len(store.done_items(run.run_id))
    except RunNotFoundError:  # a new run: nothing done yet
        done = 0
    declared = str(strategy_info(run.strategy_spec.name)["calls_per_item"])
    stand_in = _StandIn(model.name, model.endpoint, model.capabilities)
    per_item: int | None = None
    item_chars = prep_chars = 0
    try:
        asyncio.run(prepare_strategy(run.strategy, stand_in))  # type: ignore[arg-type]
        prep_calls, prep_chars = stand_in.calls, stand_in.chars
        if run.questions:
            asyncio.run(run.strategy(run.questions[0], stand_in))  # type: ignore[arg-type]
            per_item = stand_in.calls - prep_calls
            item_chars = stand_in.chars - prep_chars
    except Exception:  # a strategy the stand-in cannot drive: count what was counted
        prep_calls = stand_in.calls
    exact = all(isinstance(strategy_info(s.name)["calls_per_item"], int)
                or strategy_info(s.name)["calls_per_item"] == "n × base"
                for s in run.strategy_spec.nested())
    params = dict(run.strategy_spec.params)
    limit = max_tokens if max_tokens is not None else params.get("max_tokens")
    return Plan(spec.task, run.run_id, str(run.strategy_spec), len(run.questions),
                len(run.questions) - done, per_item, declared, exact, prep_calls,
                item_chars, prep_chars, limit if isinstance(limit, int) else None, task)


def price_for(model: str, price_in: float | None = None,
              price_out: float | None = None) -> Price | None:
    """The price of `model`: from the flags when given, else ``$MEDQ_HOME/prices.toml``."""
    if price_in is not None or price_out is not None:
        if price_in is None or price_out is None:
            raise ValueError("give both --price-in and --price-out (USD per million tokens)")
        return Price(price_in, price_out)
    path = medq_home() / "prices.toml"
    if not path.is_file():
        return None
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML ({exc})") from None
    entry = table.get(model)
    if entry is None:
        return None
    try:
        return Price(float(entry["in"]), float(entry["out"]))
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"{path}, [{model!r}]: needs numbers 'in' and 'out'") from None


def actual_cost(summary: dict[str, Any], info: dict[str, Any], price: Price) -> float:
    """What the run's calls cost: the items' tokens plus the preparation's."""
    preparation = info.get("preparation") or {}
    return price.cost(summary["prompt_tokens"] + preparation.get("prompt_tokens", 0),
                      summary["completion_tokens"] + preparation.get("completion_tokens", 0))
