"""`openai-batch/…`: a run through the Batch API of a loopback fake, resumable."""

from __future__ import annotations

import asyncio
from pathlib import Path

from medq.models.base import ModelError
from medq.models.openai_batch import OpenAIBatchModel
from medq.run_settings import RunSettings
from medq.runner import EvalSpec, evaluate_async, rescore
from medq.store import Store
from medq.testing.batch_server import FakeBatchServer
from medq.testing.openai_server import letter_responder
from medq.types import Completion, GenerationRequest, Message


def batch_model(server: FakeBatchServer) -> OpenAIBatchModel:
    return OpenAIBatchModel("m", base_url=server.base_url, api_key_env="HOME",
                            gather_s=0.05, poll_s=0.01)


def evaluate(spec: EvalSpec, *, model: OpenAIBatchModel, progress: bool = False,
             settings: RunSettings | None = None):
    """`medq.evaluate` with a model the test owns (closed in the same event loop)."""

    async def run():
        with Store() as store:
            try:
                return await evaluate_async(spec, store=store, model=model, progress=progress,
                                            settings=settings)
            finally:
                await model.aclose()

    return asyncio.run(run())


def kill_after_batches(spec: EvalSpec, model: OpenAIBatchModel, server: FakeBatchServer,
                       batches: int) -> None:
    """Start `spec`'s run and cancel it (a kill) once the server holds `batches` batches."""

    async def killed() -> None:
        with Store() as store:
            job = asyncio.ensure_future(evaluate_async(spec, store=store, model=model,
                                                       progress=False))
            while len(server.batches) < batches:
                await asyncio.sleep(0.01)
            job.cancel()
            try:
                await job
            except asyncio.CancelledError:
                pass
            await model.aclose()

    asyncio.run(killed())


def test_a_run_is_one_batch_and_resumes_with_zero_calls(medq_home: Path) -> None:
    with FakeBatchServer(letter_responder(), polls_to_complete=2) as server:
        spec = EvalSpec("medqa", "openai-batch/m", "direct", sample=True, limit=6)
        first = evaluate(spec, model=batch_model(server), progress=False)
        assert server.uploads == 1 and len(server.batches) == 1
        (batch,) = server.batches.values()
        assert len(batch["lines"]) == 6
        assert first.summary["n"] == 6 and first.summary["errors"] == 0
        again = evaluate(spec, model=batch_model(server), progress=False)
        assert again.run_id == first.run_id and again.new_calls == 0 and server.uploads == 1
        with Store() as store:
            assert rescore(first.run_id, store=store).summary["accuracy"] == \
                first.summary["accuracy"]


def test_sampling_strategies_batch_every_sample_of_every_item(medq_home: Path) -> None:
    with FakeBatchServer(letter_responder()) as server:
        spec = EvalSpec("medqa", "openai-batch/m", "self_consistency:n=3", sample=True, limit=4)
        result = evaluate(spec, model=batch_model(server), progress=False)
        # One line per item, asking for its 3 samples at once (medq.coalesce).
        (batch,) = server.batches.values()
        assert server.uploads == 1 and [line["body"]["n"] for line in batch["lines"]] == [3] * 4
        assert result.summary["calls"] == 12


def test_a_batch_server_without_n_falls_back_to_a_line_per_sample(medq_home: Path) -> None:
    with FakeBatchServer(letter_responder(), n_mode="ignore") as server:
        spec = EvalSpec("medqa", "openai-batch/m", "self_consistency:n=3", sample=True, limit=4)
        result = evaluate(spec, model=batch_model(server), progress=False)
        assert result.summary["calls"] == 12 and result.summary["errors"] == 0
        with Store() as store:
            info = store.run(result.run_id)["info"]["n_per_request"]["models"]["model"]
        assert info["serves_n"] is False
        lines = [line["body"].get("n", 1) for b in server.batches.values() for line in b["lines"]]
        # Not probed first (a probe would cost a round): 4 lines with n, then one per sample.
        assert sorted(lines) == [1] * 12 + [3] * 4


def test_a_killed_batch_run_repolls_instead_of_paying_twice(medq_home: Path) -> None:
    with FakeBatchServer(letter_responder(), polls_to_complete=10**9) as server:
        spec = EvalSpec("medqa", "openai-batch/m", "direct", sample=True, limit=3)

        kill_after_batches(spec, batch_model(server), server, 1)
        assert server.uploads == 1
        server.polls_to_complete = 0
        result = evaluate(spec, model=batch_model(server), progress=False)
        assert server.uploads == 1 and result.summary["n"] == 3


def test_a_failed_line_is_an_item_error_not_an_answer(medq_home: Path) -> None:
    import hashlib

    from medq.store import canonical_json

    with FakeBatchServer(letter_responder()) as server:
        model = batch_model(server)
        spec = EvalSpec("medqa", "openai-batch/m", "direct", sample=True, limit=2)
        # The custom ID of a line is the hash of its request body: fail the first item's.
        from medq.runner import prepare_run

        run = prepare_run(spec, model.endpoint)
        from medq.strategies._shared.messages import chat, generation_request

        first = generation_request(chat(run.questions[0], "direct"), seed=0, max_tokens=None)
        key = hashlib.sha256(canonical_json(model._body(first, False)).encode()).hexdigest()
        server.fail_lines = frozenset({key})
        # One of two items in error is 50%: allowed here, to see the error recorded.
        result = evaluate(spec, model=model, settings=RunSettings(max_error_rate=0.5))
        assert result.summary["errors"] == 1 and result.summary["n"] == 1


def test_a_batch_file_over_a_megabyte_is_uploaded(medq_home: Path) -> None:
    # A full MedQA run's input file is ~1.5 MB: over aiohttp's default 1 MiB body limit, at
    # which the fake used to answer 413 (OpenAI takes files up to 200 MB).
    prompts = [f"question {i}: " + "lorem ipsum " * 40_000 for i in range(3)]  # ~1.4 MB

    async def run(server: FakeBatchServer) -> list[Completion]:
        model = batch_model(server)
        try:
            return list(await asyncio.gather(*(
                model.complete(GenerationRequest((Message("user", p),))) for p in prompts)))
        finally:
            await model.aclose()

    with FakeBatchServer(letter_responder()) as server:
        completions = asyncio.run(run(server))
        assert server.uploads == 1
        assert [len(b["lines"]) for b in server.batches.values()] == [3]
    assert all(c.generations[0].text for c in completions)


def _complete_all(server: FakeBatchServer, prompts: list[str],
                  **limits: int) -> list[Completion | BaseException]:
    async def run() -> list[Completion | BaseException]:
        model = OpenAIBatchModel("m", base_url=server.base_url, api_key_env="HOME",
                                 gather_s=0.05, poll_s=0.01, **limits)
        try:
            return list(await asyncio.gather(
                *(model.complete(GenerationRequest((Message("user", p),))) for p in prompts),
                return_exceptions=True))
        finally:
            await model.aclose()

    return asyncio.run(run())


def test_a_round_over_the_request_limit_is_split_into_batches(medq_home: Path) -> None:
    # OpenAI takes at most 50,000 requests a batch: a bigger round is several batches,
    # each within the limit, every request in exactly one.
    prompts = [f"question {i}" for i in range(7)]
    with FakeBatchServer(letter_responder()) as server:
        answers = _complete_all(server, prompts, max_batch_requests=3)
        sizes = sorted(len(b["lines"]) for b in server.batches.values())
        sent = sorted(line["body"]["messages"][0]["content"]
                      for b in server.batches.values() for line in b["lines"])
    assert sizes == [1, 3, 3] and sent == sorted(prompts)
    assert all(isinstance(a, Completion) and a.generations[0].text for a in answers)


def test_a_round_over_the_file_size_limit_is_split_by_bytes(medq_home: Path) -> None:
    prompts = [f"question {i}: " + "x" * 1_000 for i in range(6)]  # ~1.1 kB a line
    with FakeBatchServer(letter_responder()) as server:
        answers = _complete_all(server, prompts, max_batch_bytes=2_500)
        files = [sum(len(__import__("json").dumps(line)) + 1 for line in b["lines"])
                 for b in server.batches.values()]
    assert len(files) == 3 and all(f <= 2_500 for f in files)
    assert all(isinstance(a, Completion) for a in answers)


def test_a_request_bigger_than_a_whole_batch_file_fails_alone(medq_home: Path) -> None:
    prompts = ["short question", "long question " + "x" * 5_000]
    with FakeBatchServer(letter_responder()) as server:
        short, long = _complete_all(server, prompts, max_batch_bytes=2_000)
        assert len(server.batches) == 1
    assert isinstance(short, Completion)
    assert isinstance(long, ModelError) and "2,000-byte" in str(long)


def test_a_killed_split_round_repolls_every_batch(medq_home: Path) -> None:
    with FakeBatchServer(letter_responder(), polls_to_complete=10**9) as server:
        spec = EvalSpec("medqa", "openai-batch/m", "direct", sample=True, limit=5)

        def split_model() -> OpenAIBatchModel:
            return OpenAIBatchModel("m", base_url=server.base_url, api_key_env="HOME",
                                    gather_s=0.05, poll_s=0.01, max_batch_requests=2)

        kill_after_batches(spec, split_model(), server, 3)
        assert server.uploads == 3
        server.polls_to_complete = 0
        result = evaluate(spec, model=split_model(), progress=False)
        assert server.uploads == 3 and result.summary["n"] == 5


def test_a_failed_batch_fails_its_own_requests_only(medq_home: Path) -> None:
    prompts = [f"question {i}" for i in range(4)]

    async def run(server: FakeBatchServer) -> list[Completion | BaseException]:
        model = OpenAIBatchModel("m", base_url=server.base_url, api_key_env="HOME",
                                 gather_s=0.05, poll_s=0.01, max_batch_requests=2)
        asked = asyncio.gather(
            *(model.complete(GenerationRequest((Message("user", p),))) for p in prompts),
            return_exceptions=True)
        while len(server.batches) < 2:
            await asyncio.sleep(0.01)
        first, second = server.batches.values()
        first["status"] = "expired"
        server.polls_to_complete = 0
        try:
            return list(await asked)
        finally:
            await model.aclose()

    with FakeBatchServer(letter_responder(), polls_to_complete=10**9) as server:
        answers = asyncio.run(run(server))
    failed = [isinstance(a, ModelError) and "expired" in str(a) for a in answers]
    assert failed == [True, True, False, False]
