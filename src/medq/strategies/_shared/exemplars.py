"""Exemplar pools for few-shot strategies: where the pool comes from, which exemplars an
item gets, how they are rendered, and self-generated chain-of-thought exemplars.

The pool is a registered task (a dev or train split of the evaluated benchmark): given
explicitly (``pool="medqa_dev"``, ``pool_data=PATH``) or derived from the evaluated task
(``<task>_dev`` or ``<task>_train``, whichever is registered and is not the evaluated split),
its files looked for beside the evaluated task's files. An exemplar is never the test item:
pool items with the same stem (after whitespace and case folding) are excluded, and so are
items with the same ID when the pool is the evaluated split itself or the split is unknown.
"""

from __future__ import annotations

import asyncio
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from medq.embeddings import DEFAULT_ENCODER, EmbeddingCache, Encoder, get_encoder
from medq.models.base import Model, ModelError
from medq.prompts import question_fields, render, template
from medq.registry import UnknownNameError, tasks
from medq.seeds import item_rng
from medq.store import content_hash
from medq.strategies._shared.answers import answer_from
from medq.strategies._shared.messages import generation_request
from medq.strategies._shared.spec import StrategySpecError
from medq.tasks.base import DatasetUnavailableError, load_task
from medq.types import Message, Question, Status

if TYPE_CHECKING:
    from medq.tasks.base import Task

SELECTIONS = ("fixed", "random", "knn")


def _normalise(stem: str) -> str:
    return re.sub(r"\s+", " ", stem).strip().casefold()


@dataclass(frozen=True)
class Pool:
    """The questions exemplars are drawn from.

    Attributes:
        name: the pool's task name (or its file, for a pool given only by path).
        questions: the pool items, in release order.
        same_split: the pool is the evaluated split itself (or that is unknown), so items
            with the test item's ID are excluded too.
    """

    name: str
    questions: tuple[Question, ...]
    same_split: bool = False

    @cached_property
    def hash(self) -> str:
        """Content hash of the pool's items (IDs, stems, options, golds, explanations)."""
        return content_hash([
            [q.id, q.stem, dict(q.options), q.gold, q.context, q.metadata.get("explanation")]
            for q in self.questions
        ])

    @cached_property
    def _stems(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for i, q in enumerate(self.questions):
            out.setdefault(_normalise(q.stem), []).append(i)
        return out

    @cached_property
    def _ids(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for i, q in enumerate(self.questions):
            out.setdefault(q.id, []).append(i)
        return out

    def excluded(self, question: Question) -> set[int]:
        """Pool indices that must never be shown with `question`."""
        out = set(self._stems.get(_normalise(question.stem), ()))
        if self.same_split:
            out.update(self._ids.get(question.id, ()))
        return out


def _pool_candidates(task: Task) -> list[str]:
    names = set(tasks.names())
    return [f"{task.name}_{s}" for s in ("dev", "train") if s != task.split
            and f"{task.name}_{s}" in names]


def _load_beside(name: str, task: Task) -> Task:
    """Load pool task `name`, looking for its files beside the evaluated task's."""
    if task.source == "bundled sample":
        return load_task(name, sample=True)
    source = Path(task.source)
    if not source.exists():
        return load_task(name)  # a Hub source: the pool's own pinned copy
    last: Exception | None = None
    for folder in list(source.parents)[:4]:
        try:
            return load_task(name, folder)
        except DatasetUnavailableError as exc:
            last = exc
    raise DatasetUnavailableError(
        f"no {name!r} files beside {source}; pass pool_data=PATH to the strategy"
    ) from last


def resolve_pool(
    pool: str | None, pool_data: str | None, task: Task | None, pool_size: int | None
) -> Pool:
    """The exemplar pool for a strategy's `pool` / `pool_data` parameters and the task.

    Raises:
        StrategySpecError: no pool is named and none can be derived.
        DatasetUnavailableError: the pool's files cannot be found.
    """
    if pool is None:
        if task is None:
            raise StrategySpecError("few-shot strategies need pool=TASK or a task to derive it")
        candidates = _pool_candidates(task)
        if not candidates:
            raise StrategySpecError(
                f"no dev or train split is registered for task {task.name!r}; "
                "name one with pool=TASK (and pool_data=PATH)"
            )
        pool = candidates[0]
    try:
        if pool_data is not None:
            loaded = load_task(pool, Path(pool_data))
        elif task is not None:
            loaded = _load_beside(pool, task)
        else:
            loaded = load_task(pool)
    except UnknownNameError as exc:
        raise StrategySpecError(f"pool: {exc}") from None
    except DatasetUnavailableError as exc:
        raise DatasetUnavailableError(
            f"exemplar pool {pool!r}: {exc} (few-shot strategies take pool_data=PATH)"
        ) from None
    questions = loaded.questions[:pool_size] if pool_size else loaded.questions
    same_split = task is None or (task.name == loaded.name and task.split == loaded.split)
    return Pool(loaded.name, questions, same_split)


class ExemplarSelector:
    """Chooses `k` exemplars from a pool for each item.

    Args:
        pool: the pool.
        k: exemplars per item.
        selection: ``fixed`` (the first k eligible, identical for every item), ``random``
            (k drawn per item, seeded by (seed, item ID), so independent of order) or
            ``knn`` (the k most similar by embedding, the most similar placed last).
        seed: seed for ``random``.
        encoder: sentence-transformers name/path or an Encoder, for ``knn``.
        cache: where pool embeddings are cached.
    """

    def __init__(self, pool: Pool, *, k: int, selection: str, seed: int,
                 encoder: str | Encoder = DEFAULT_ENCODER,
                 cache: EmbeddingCache | None = None) -> None:
        if selection not in SELECTIONS:
            raise StrategySpecError(f"selection must be one of {SELECTIONS}, not {selection!r}")
        if k < 0:
            raise StrategySpecError(f"k must be >= 0, not {k}")
        self.pool, self.k, self.selection, self.seed = pool, k, selection, seed
        self.encoder_spec = encoder
        self.cache = cache or EmbeddingCache()
        self._matrix: np.ndarray | None = None
        self._matrix_lock = asyncio.Lock()
        self._queries: OrderedDict[str, asyncio.Future[np.ndarray]] = OrderedDict()

    @property
    def encoder(self) -> Encoder:
        return get_encoder(self.encoder_spec)

    async def pool_embeddings(self) -> np.ndarray:
        """The pool's embedding matrix (from the disk cache, or encoded once)."""
        async with self._matrix_lock:
            if self._matrix is None:
                texts = [embedding_text(q) for q in self.pool.questions]
                self._matrix = await asyncio.to_thread(
                    self.cache.pool_embeddings, self.encoder, texts
                )
            return self._matrix

    async def _query(self, question: Question) -> np.ndarray:
        # One encoding per distinct item even when several samples of it ask at once.
        text = embedding_text(question)
        future = self._queries.get(text)
        if future is None:
            future = asyncio.ensure_future(
                asyncio.to_thread(lambda: self.encoder.encode([text])[0])
            )
            self._queries[text] = future
            while len(self._queries) > 4096:
                self._queries.popitem(last=False)
        return await future

    async def select(self, question: Question, allowed: Sequence[int] | None = None) -> list[int]:
        """Pool indices of the exemplars for `question`, in presentation order.

        Args:
            allowed: restrict to these pool indices (e.g. exemplars with accepted reasoning).
        """
        excluded = self.pool.excluded(question)
        universe = range(len(self.pool.questions)) if allowed is None else allowed
        eligible = [i for i in universe if i not in excluded]
        if self.selection == "fixed":
            return eligible[: self.k]
        if self.selection == "random":
            rng = item_rng(self.seed, question.id)
            return rng.sample(eligible, min(self.k, len(eligible)))
        if not eligible or self.k == 0:
            return []
        matrix = await self.pool_embeddings()
        query = await self._query(question)
        candidates = np.asarray(eligible, dtype=np.int64)
        scores = matrix[candidates] @ query
        order = np.argsort(-scores, kind="stable")[: self.k]
        return [int(i) for i in candidates[order][::-1]]  # most similar last


def embedding_text(question: Question) -> str:
    """What kNN selection embeds: the question stem."""
    return question.stem


def exemplar_turns(
    exemplars: Sequence[tuple[Question, str]], prompt: str
) -> tuple[Message, ...]:
    """Each exemplar as a prior user turn (rendered with `prompt`) and assistant reply."""
    turns: list[Message] = []
    for question, reply in exemplars:
        turns.append(Message("user", render(prompt, **question_fields(question))))
        turns.append(Message("assistant", reply))
    return tuple(turns)


def few_shot_messages(
    question: Question, exemplars: Sequence[tuple[Question, str]], prompt: str
) -> tuple[Message, ...]:
    """System text, the exemplar turns, then the item: a prefix shared across items."""
    return (
        Message("system", template("system").strip()),
        *exemplar_turns(exemplars, prompt),
        Message("user", render(prompt, **question_fields(question))),
    )


@dataclass
class SelfGeneratedReasoning:
    """Chain-of-thought exemplars generated once per (model, pool) by the evaluated model,
    kept only when they reach the gold answer (and were not truncated), as in Nori et al.
    2023.

    Generation is zero-shot with `prompt` at temperature 0, one call per pool item. The
    accepted set is kept per (model, endpoint) for the strategy's lifetime; across runs the
    call cache is the cache (one policy, one place): a later run re-derives the set from
    stored calls with no new calls, and its preparation record still shows the full cost.
    A pool item whose call failed after retries is simply not an exemplar (and is retried
    by the next run).
    """

    pool: Pool
    prompt: str
    seed: int
    max_tokens: int | None
    stats: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    _done: dict[tuple[str, str], dict[int, str]] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def accepted(self, model: Model) -> dict[int, str]:
        """Pool index -> accepted reasoning text (ending in its ``Answer: X`` line)."""
        async with self._lock:
            ident = (model.name, model.endpoint)
            if ident not in self._done:
                self._done[ident] = await self._generate(model, ident)
            return self._done[ident]

    async def _generate(self, model: Model, ident: tuple[str, str]) -> dict[int, str]:
        async def one(question: Question) -> str | None:
            messages = (
                Message("system", template("system").strip()),
                Message("user", render(self.prompt, **question_fields(question))),
            )
            request = generation_request(messages, seed=self.seed, max_tokens=self.max_tokens)
            answer = answer_from(await model.complete(request), question)
            ok = answer.status is Status.OK and answer.choice == question.gold
            return answer.text if ok and not answer.truncated else None

        results = await asyncio.gather(
            *(one(q) for q in self.pool.questions), return_exceptions=True
        )
        accepted: dict[int, str] = {}
        failed = 0
        for index, result in enumerate(results):
            if isinstance(result, ModelError):
                failed += 1
            elif isinstance(result, BaseException):
                raise result
            elif result is not None:
                accepted[index] = result
        self.stats[ident] = {"generated": len(results), "accepted": len(accepted),
                             "failed": failed}
        return accepted
