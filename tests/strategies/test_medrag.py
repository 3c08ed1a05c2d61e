"""MedRAG, i-MedRAG and uncertainty-guided search: exact call structure, scripted model."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from medq.retrieval import Passage, add_corpus
from medq.strategies._shared.verdicts import parse_queries
from medq.strategies.base import build_strategy
from medq.strategies.imedrag import imedrag
from medq.strategies.medrag import medrag
from medq.strategies.uncertainty_search import answer_entropy, uncertainty_search
from medq.testing.scripted import ScriptedModel
from medq.types import GenerationRequest, Question, Status

Q = Question("q1", "Which organ secretes equilibrin?", {"A": "Glianorex", "B": "Liver"}, "A")


class FakeRetriever:
    """Returns k passages named after the query; records every query."""

    def __init__(self) -> None:
        self.queries: list[tuple[str, int]] = []

    def search(self, query: str, k: int) -> list[Passage]:
        self.queries.append((query, k))
        return [Passage(f"{query[:12]}-{i}", f"T{i}", f"text {i} " * 5, 1.0 / (i + 1), "fake")
                for i in range(k)]


def _json(choice: str, thinking: str = "Document [1] says so.") -> str:
    return json.dumps({"step_by_step_thinking": thinking, "answer_choice": choice})


def test_medrag_one_call_question_only_query_json_answer_and_citations() -> None:
    retriever = FakeRetriever()
    model = ScriptedModel(lambda r: _json("A", "Per Document [2] and Document [1]."))
    answer = asyncio.run(medrag(retriever=retriever)(Q, model))
    assert retriever.queries == [(Q.stem, 32)]  # the question alone, k = 32
    assert len(model.calls) == 1
    system, user = model.calls[0].messages
    assert system.role == "system" and "answer_choice" in system.content
    assert user.content.startswith("Here are the relevant documents:\nDocument [1] (Title: T0)")
    assert "Here is the question:\nWhich organ" in user.content
    assert "A. Glianorex\nB. Liver" in user.content
    assert answer.choice == "A" and answer.status is Status.OK
    assert answer.details["method"] == "json"
    assert len(answer.details["cited"]) == 32 and len(answer.details["retrieved"]) == 32
    assert answer.details["referenced"] == [answer.details["cited"][1], answer.details["cited"][0]]


def test_medrag_fits_the_budget_and_can_query_with_options() -> None:
    retriever = FakeRetriever()
    model = ScriptedModel(lambda r: "no json here, sorry")
    answer = asyncio.run(medrag(retriever=retriever, k=10, budget=40, query_options=True)(Q,
                                                                                         model))
    assert retriever.queries == [(Q.stem + "\nGlianorex\nLiver", 10)]
    assert len(answer.details["retrieved"]) == 10
    assert len(answer.details["cited"]) == 2  # 16 estimated tokens each: two fit in 40
    assert "Document [3]" not in model.calls[0].messages[1].content
    assert answer.status is Status.INVALID


def test_medrag_from_a_spec_over_a_stored_corpus(tmp_path: Path) -> None:
    (tmp_path / "c.jsonl").write_text(
        '{"id": "g1", "title": "Glianorex", "content": "The Glianorex secretes equilibrin."}\n'
        '{"id": "l1", "title": "Liver", "content": "The liver makes bile."}\n')
    add_corpus("book", tmp_path / "c.jsonl")
    model = ScriptedModel(lambda r: _json("A"))
    answer = asyncio.run(build_strategy("medrag:corpus=book,k=5", seed=0)(Q, model))
    assert answer.details["cited"] == ["g1"]  # the only snippet sharing a word
    with pytest.raises(ValueError, match="needs a corpus"):
        build_strategy("medrag", seed=0)


def test_parse_queries() -> None:
    text = "Sure:\nQuery 1: role of X?\n**Query 2:** Y levels\n3. Z\nQuery 4: role of X?"
    assert parse_queries(text, 3) == ["role of X?", "Y levels", "Z"]
    assert parse_queries("no queries", 3) == []


def _imedrag_responder(request: GenerationRequest) -> str:
    text = request.messages[-1].content
    if "Before answering" in text:
        return "Query 1: what is equilibrin?\nQuery 2: where is it made?\nQuery 3: why?"
    if text.startswith("Here are the relevant documents"):
        return "It is a hormone."
    return _json("A")


def test_imedrag_rounds_times_queries_then_one_final_answer() -> None:
    retriever = FakeRetriever()
    model = ScriptedModel(_imedrag_responder)
    strategy = imedrag(retriever=retriever, rounds=2, queries=3, k=4)
    answer = asyncio.run(strategy(Q, model))
    kinds = ["ask" if "Before answering" in c.messages[-1].content
             else "answer" if c.messages[-1].content.startswith("Here are the relevant")
             else "final" for c in model.calls]
    assert kinds == ["ask", "answer", "answer", "answer"] * 2 + ["final"]  # 2 x (1 + 3) + 1
    assert [q for q, _ in retriever.queries] == ["what is equilibrin?", "where is it made?",
                                                 "why?"] * 2
    assert "Query: what is equilibrin?\nAnswer: It is a hormone." in \
        model.calls[4].messages[-1].content  # round 2 sees round 1's pairs
    final = model.calls[-1].messages
    assert final[0].role == "system" and final[1].content.count("Query:") == 6
    assert answer.choice == "A" and len(answer.details["follow_ups"]) == 6
    assert answer.details["cited"][0] == "what is equi-0"


def test_imedrag_defaults_make_17_calls() -> None:
    model = ScriptedModel(_imedrag_responder)
    asyncio.run(imedrag(retriever=FakeRetriever())(Q, model))
    assert len(model.calls) == 4 * (1 + 3) + 1


def _uncertain(votes_by_round: list[list[str]]) -> ScriptedModel:
    def respond(request: GenerationRequest) -> str:
        text = request.messages[-1].content
        if "disagreed" in text:
            return "Query 1: equilibrin source\nQuery 2: glianorex hormones"
        round_no, i = divmod(request.sample_index, 5)
        return f"Reasoning.\nAnswer: {votes_by_round[round_no][i]}"

    return ScriptedModel(respond)


def test_uncertainty_search_stops_when_the_samples_agree() -> None:
    retriever = FakeRetriever()
    model = _uncertain([["A"] * 5])
    strategy = uncertainty_search(retriever=retriever, seed=3)
    answer = asyncio.run(strategy(Q, model))
    assert len(model.calls) == 5 and retriever.queries == []
    # One seed; distinct sample indices become distinct server seeds in the backend.
    assert [c.seed for c in model.calls] == [3] * 5
    assert sorted(c.sample_index for c in model.calls) == [0, 1, 2, 3, 4]
    assert {c.temperature for c in model.calls} == {0.7}
    assert answer.choice == "A" and answer.confidence == 1.0
    assert answer.details["searched"] is False


def test_uncertainty_search_searches_between_rounds_while_uncertain() -> None:
    retriever = FakeRetriever()
    rounds = [["A", "B", "A", "B", "A"], ["A", "A", "A", "A", "B"], ["B"] * 5]
    model = _uncertain(rounds)
    strategy = uncertainty_search(retriever=retriever, k=2, threshold=0.5)
    answer = asyncio.run(strategy(Q, model))
    # 5 samples, 1 query call, 5 samples with documents, 1 query call, 5 samples (agree).
    assert len(model.calls) == 5 + 1 + 5 + 1 + 5
    assert [c.sample_index for c in model.calls if c.temperature] == list(range(15))
    assert [q for q, _ in retriever.queries] == ["equilibrin source", "glianorex hormones"] * 2
    assert "Document [1]" not in model.calls[0].messages[-1].content
    assert "Document [1]" in model.calls[6].messages[-1].content
    assert answer.choice == "B" and answer.details["searched"] is True
    assert [r["entropy"] for r in answer.details["rounds"]] == [0.971, 0.7219, 0.0]
    assert len(answer.details["cited"]) == 4  # 2 queries x 2 snippets, deduplicated


def test_uncertainty_search_answers_with_the_last_majority_after_max_rounds() -> None:
    model = _uncertain([["A", "B", "A", "B", "A"]] * 2)
    strategy = uncertainty_search(retriever=FakeRetriever(), rounds=2)
    answer = asyncio.run(strategy(Q, model))
    assert len(model.calls) == 5 + 1 + 5 and answer.choice == "A"
    assert answer.confidence == pytest.approx(0.6)


def test_answer_entropy_in_bits() -> None:
    assert answer_entropy(["A"] * 5) == 0.0
    assert answer_entropy(["A", "B"]) == pytest.approx(1.0)
    assert answer_entropy(["A", "A", "B", None]) == pytest.approx(0.9183, abs=1e-4)
    assert answer_entropy([None, None]) == 0.0


class SlowRetriever(FakeRetriever):
    """A FakeRetriever whose searches take a while (a real index's), counted."""

    def search(self, query: str, k: int) -> list[Passage]:
        import time

        time.sleep(0.05)
        return super().search(query, k)


def test_an_items_identical_searches_in_flight_run_once() -> None:
    from medq.strategies._shared.retrieval import _IN_FLIGHT, retrieve

    retriever = SlowRetriever()

    async def go() -> list[list[Passage]]:
        asked = [retrieve(retriever, "liver", 3, item="q1") for _ in range(5)]
        asked += [retrieve(retriever, "liver", 3, item="q2"),  # another item: its own
                  retrieve(retriever, "liver", 4, item="q1"),  # another k: its own
                  retrieve(retriever, "liver", 3)]  # no item: never shared
        return [passages for passages, _ in await asyncio.gather(*asked)]

    found = asyncio.run(go())
    # q1's five searches ran once; q2's, k=4's and the unshared one each ran
    assert sorted(retriever.queries) == [("liver", 3)] * 3 + [("liver", 4)]
    assert all(f == found[0] for f in found[:6]) and len(found[6]) == 4
    assert found[0] is not found[1]  # each caller its own list
    assert not _IN_FLIGHT  # nothing kept once done


def test_self_consistency_over_medrag_asks_once_per_item(tmp_path: Path, medq_home: Path) -> None:
    # Each sample searches for the same item; woken together by the one search, the five
    # samples reach the model together and go out as one request with n=5.
    from tests.test_sampling_n import run

    from medq.testing.openai_server import FakeOpenAIServer

    rows = [{"id": f"d{i}", "title": f"t{i}", "content": f"liver heart lung fever {i}"}
            for i in range(40)]
    (tmp_path / "c.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    add_corpus("book", tmp_path / "c.jsonl")
    with FakeOpenAIServer() as server:
        result = run(server, "self_consistency(n=5,base=medrag(corpus=book,k=3))", limit=4)
        bodies = list(server.bodies)
    assert [b.get("n", 1) for b in bodies] == [5] * 4
    assert result.summary["calls"] == 20 and result.summary["errors"] == 0
