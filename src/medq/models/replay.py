"""`replay/<name>`: answers from recorded real model outputs, for offline demos and tests.

The bundled recording ``mirage_gpt-4-32k_cot`` holds GPT-4's released chain-of-thought
answers to the bundled sample questions, from MIRAGE (Xiong et al., "Benchmarking
Retrieval-Augmented Generation for Medicine", Findings of ACL 2024; public domain). A
request is matched to a recording by the question text it contains.
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

from medq.models.base import ModelError, UnsupportedCapabilityError
from medq.registry import models
from medq.types import (
    Capability,
    Completion,
    ContinuationScore,
    Generation,
    GenerationRequest,
    LoglikelihoodRequest,
)


class ReplayModel:
    """Serves recorded responses; a prompt with no recording is a ModelError."""

    capabilities = frozenset({Capability.GENERATE})

    def __init__(self, name: str, recordings: dict[str, str], endpoint: str) -> None:
        self.name = name
        self.endpoint = endpoint
        # Longest stems first, so a stem that is a prefix of another never shadows it.
        self._recordings = sorted(recordings.items(), key=lambda kv: -len(kv[0]))

    async def complete(self, request: GenerationRequest) -> Completion:
        prompt = request.messages[-1].content
        for stem, response in self._recordings:
            if stem in prompt:
                text = (response,) * request.n
                return Completion(
                    tuple(Generation(t, "stop") for t in text),
                    prompt_tokens=len(prompt.split()),
                    completion_tokens=len(response.split()) * request.n,
                    model=self.name,
                )
        raise ModelError(f"{self.name}: no recorded response for this question")

    async def loglikelihoods(self, request: LoglikelihoodRequest) -> list[ContinuationScore]:
        raise UnsupportedCapabilityError(f"{self.name} replays text; it cannot score options")

    async def aclose(self) -> None:
        return None


def load_recordings(path: Path) -> dict[str, str]:
    """Question stem -> recorded response, from a JSONL file of {question, response}."""
    recordings: dict[str, str] = {}
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                recordings[row["question"]] = row["response"]
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ModelError(f"{path}, line {number}: bad replay record ({exc})") from None
    return recordings


@models.register("replay")
def replay(model: str) -> ReplayModel:
    """A replay backend: a bundled recording's name, or a path to a JSONL recording."""
    path = Path(model)
    if not path.is_file():
        path = Path(str(files("medq.data") / "replay" / f"{model}.jsonl"))
    if not path.is_file():
        raise ModelError(f"no replay recording named {model!r} (and no such file)")
    return ReplayModel(f"replay/{model}", load_recordings(path), endpoint=f"replay:{path.name}")
