"""A served pipeline: strategy + backend + corpus + abstention rule, answering one question
at a time through the same library `medq eval` measures with.

The strategy is built with `build_strategy` from the normalised spec and called with an
`ItemModel` over the pipeline's `CallLog`, so every upstream call is cached and recorded
in medq's call store exactly as in an evaluation (its keys are the audit log's upstream
call IDs), under the one retry policy and a concurrency window. The pipeline's hash is
the content hash of what decides its answers: the normalised strategy, the declared
prompts' hashes, the seed, the backend model and resolved endpoint, each corpus's
fingerprint and the abstention threshold.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import time
from dataclasses import dataclass, field
from typing import Any

from medq import registry
from medq.calls import CallLog, ItemModel, ItemTally
from medq.models.base import ModelError
from medq.models.retry import RetryPolicy
from medq.prompts import prompt_hash
from medq.retrieval import RetrievalError, open_corpus
from medq.serve.config import PipelineConfig
from medq.serve.evidence import (
    Citation,
    RecordingRetriever,
    citations,
    collecting,
    corpora_of,
    with_recording_retrievers,
)
from medq.serve.questions import AskedQuestion
from medq.store import Store, content_hash
from medq.strategies._shared.spec import StrategySpec, StrategySpecError
from medq.strategies.base import (
    build_strategy,
    normalize,
    prepare_strategy,
    prompt_names,
    strategy_info,
)
from medq.types import Answer, Question, Status

__all__ = ["Pipeline", "PipelineError", "Served", "UpstreamError", "calls_per_answer",
           "paper_of", "pipeline_identity"]


class PipelineError(ValueError):
    """A pipeline that cannot be built (unknown strategy, missing corpus, bad backend)."""


class UpstreamError(Exception):
    """The pipeline could not answer: the model (after retries) or its retrieval failed.

    Attributes:
        tally: the calls made before the failure (for the audit log).
    """

    def __init__(self, reason: str, tally: ItemTally) -> None:
        super().__init__(reason)
        self.tally = tally


@dataclass(frozen=True)
class Served:
    """One question answered by a pipeline, before the abstention rule is applied."""

    answer: Answer
    citations: list[Citation]
    tally: ItemTally
    seconds: float


def paper_of(name: str) -> str:
    """The citation a strategy module opens with (its docstring's second paragraph)."""
    module = importlib.import_module(registry.strategies.get(name).__module__)
    doc = (module.__doc__ or "").strip().split("\n\n")
    return " ".join(doc[1].split()) if len(doc) > 1 else ""


def calls_per_answer(spec: StrategySpec) -> int | str:
    """Upstream calls one answer takes, from what the strategies declare: a number, ``n ×
    base`` resolved through the spec, or the declared text when it depends on more."""
    declared = strategy_info(spec.name)["calls_per_item"]
    if isinstance(declared, int):
        return declared
    base = spec.params.get("base")
    if declared == "n × base" and isinstance(base, StrategySpec):
        inner = calls_per_answer(base)
        if isinstance(inner, int) and isinstance(spec.params.get("n"), int):
            return spec.params["n"] * inner
    return str(declared)


def _load_backend(config: PipelineConfig) -> Any:
    from medq.models import load_model

    backend = config.model.partition("/")[0]
    try:
        accepted = inspect.signature(registry.models.get(backend)).parameters
    except registry.UnknownNameError as exc:
        raise PipelineError(str(exc)) from None
    options: dict[str, Any] = {"base_url": config.base_url, "api_key_env": config.api_key_env}
    if "timeout" in accepted:
        options["timeout"] = config.upstream_timeout
    try:
        return load_model(config.model, **options)
    except (ValueError, ModelError) as exc:
        raise PipelineError(f"model: {exc}") from None


def pipeline_identity(config: PipelineConfig, spec: StrategySpec, endpoint: str,
                      corpora: dict[str, str]) -> dict[str, Any]:
    """Everything that decides a pipeline's answers; its hash is the pipeline hash."""
    return {
        "model": config.model,
        "endpoint": endpoint,
        "strategy": str(spec),
        "prompts": {name: prompt_hash(name) for name in prompt_names(spec)},
        "seed": config.seed,
        "corpora": corpora,
        "abstain_below": config.abstain_below,
    }


@dataclass
class Pipeline:
    """One configured pipeline, built (see the module docstring).

    Example:
        >>> pipeline = Pipeline.build(config.pipeline("medrag-sc5"), Store())
        >>> served = await pipeline.answer(parse_text("Which organ? A. x B. y"), "req_1")
    """

    config: PipelineConfig
    spec: StrategySpec
    hash: str
    identity: dict[str, Any]
    log: CallLog
    strategy: Any
    model: Any
    corpora: dict[str, str] = field(default_factory=dict)
    retrievers: list[RecordingRetriever] = field(default_factory=list)

    @classmethod
    def build(cls, config: PipelineConfig, store: Store) -> Pipeline:
        """Resolve and build `config`; `store` caches and records its calls (unless the
        pipeline says ``calls = "memory"``, which keeps them in memory only).

        Raises:
            PipelineError: one line naming the pipeline and what is wrong.
        """
        where = f"pipeline {config.name!r}"
        try:
            spec = normalize(config.strategy, seed=config.seed)
            accepts = tuple(strategy_info(spec.name)["accepts"])
        except (StrategySpecError, registry.UnknownNameError) as exc:
            raise PipelineError(f"{where}: strategy: {exc}") from None
        if "choice" not in accepts:
            raise PipelineError(f"{where}: strategy {spec.name!r} gives "
                                f"{' or '.join(accepts)} answers; medq serve answers "
                                "multiple-choice questions")
        try:
            corpora = {name: open_corpus(name).fingerprint for name in corpora_of(spec)}
            retrievers: list[RecordingRetriever] = []
            strategy = build_strategy(with_recording_retrievers(spec, retrievers),
                                      seed=config.seed)
        except (RetrievalError, StrategySpecError, ValueError) as exc:
            raise PipelineError(f"{where}: {exc}") from None
        try:
            model = _load_backend(config)
        except PipelineError as exc:
            raise PipelineError(f"{where}: {exc}") from None
        calls = store if config.calls == "store" else Store(":memory:")
        log = CallLog(model, calls, concurrency=config.concurrency,
                      retry=RetryPolicy(max_attempts=config.upstream_attempts,
                                        base_delay=0.25, max_delay=5.0),
                      n_per_request=config.n_per_request)
        log.bind(config.model, model.endpoint, model.capabilities)
        identity = pipeline_identity(config, spec, model.endpoint, corpora)
        return cls(config, spec, content_hash(identity), identity, log, strategy, model,
                   corpora, retrievers)

    @property
    def name(self) -> str:
        return self.config.name

    def describe(self) -> dict[str, Any]:
        """What ``/v1/models`` and ``medq serve pipelines`` show of the pipeline."""
        return {
            "name": self.name,
            "strategy": str(self.spec),
            "backend": {"model": self.config.model, "endpoint": self.model.endpoint},
            "corpus": sorted(self.corpora),
            "hash": self.hash,
            "paper": [p for p in dict.fromkeys(paper_of(s.name) for s in self.spec.nested())
                      if p],
            "calls_per_answer": calls_per_answer(self.spec),
            "abstain_below": self.config.abstain_below,
            "calibration": dict(self.config.calibration) or None,
            "stores_content": self.config.store_content,
            "description": self.config.description,
        }

    async def prepare(self) -> None:
        """Before the first request: the strategy's one-off preparation (an exemplar pool)
        and one search per retriever (the first search maps the index and compiles BM25's
        scatter: about a second that no user should wait for)."""
        await prepare_strategy(self.strategy, ItemModel(self.log, ItemTally(None, None)))
        for retriever in self.retrievers:
            await asyncio.to_thread(retriever.inner.search, "warm-up", 1)

    async def answer(self, asked: AskedQuestion, request_id: str) -> Served:
        """Run the strategy on one question.

        Raises:
            UpstreamError: the model failed after retries, or retrieval failed.
        """
        # Question needs a gold among the options; no strategy reads the gold of the item
        # it answers (Medprompt's shuffle only carries it along).
        gold = next(iter(asked.options), "")
        question = Question(request_id, asked.stem, asked.options, gold)
        tally = ItemTally(None, request_id)
        started = time.perf_counter()
        with collecting() as found:
            try:
                answer = await self.strategy(question, ItemModel(self.log, tally))
            except ModelError as exc:
                raise UpstreamError(f"the model failed: {exc}", tally) from None
            except RetrievalError as exc:
                raise UpstreamError(f"retrieval failed: {exc}", tally) from None
        if answer.status is Status.ERROR:
            raise UpstreamError(f"the model failed: {answer.reason}", tally)
        return Served(answer, citations(answer.details, found), tally,
                      time.perf_counter() - started)

    async def aclose(self) -> None:
        await self.model.aclose()
