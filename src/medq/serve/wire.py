"""The wire format: OpenAI Chat Completions, plus a top-level ``medq`` object.

These pydantic models validate requests and document every reply in the OpenAPI schema
(``GET /openapi.json``), errors included: OpenAI's envelope ``{"error": {"message",
"type", "param", "code"}}``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ChatCompletion", "ChatCompletionRequest", "ErrorEnvelope", "Health", "MedqReply",
    "ModelCard", "ModelList",
]


class ChatMessage(BaseModel):
    """One message; the question is the last ``user`` message's text."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None


class MedqQuestion(BaseModel):
    """A question given structured: the stem and its options (letters A, B, … in order,
    or a list of texts lettered in order)."""

    model_config = ConfigDict(extra="forbid")

    stem: str
    options: dict[str, str] | list[str] = Field(default_factory=dict)


class MedqRequest(BaseModel):
    """medq's request extension (``extra_body={"medq": {...}}`` in the OpenAI SDK)."""

    model_config = ConfigDict(extra="forbid")

    question: MedqQuestion | None = None


class ChatCompletionRequest(BaseModel):
    """``POST /v1/chat/completions``. `model` names a pipeline (``GET /v1/models``).

    A pipeline fixes its own prompts and generation parameters: fields such as
    ``temperature`` or ``max_tokens`` are accepted and not used, and the reply lists them
    in ``medq.ignored``.
    """

    model_config = ConfigDict(extra="allow")

    model: str = Field(description="the pipeline's name")
    messages: list[ChatMessage] = Field(default_factory=list)
    stream: bool = False
    n: int | None = Field(default=None, description="must be 1 when given")
    medq: MedqRequest | None = None


class Usage(BaseModel):
    """Tokens of every upstream call behind the answer (cached calls included)."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ReplyMessage(BaseModel):
    role: Literal["assistant"]
    content: str


class Choice(BaseModel):
    index: int
    message: ReplyMessage
    finish_reason: Literal["stop"]
    logprobs: None = None


class CitationOut(BaseModel):
    """One snippet behind the answer; `rank` is its ``[n]`` in the message."""

    rank: int
    id: str
    corpus: str
    title: str
    source: str
    snippet: str | None
    score: float | None
    shown: bool = Field(description="the model was shown this snippet")
    cited: bool = Field(description="the answer's reasoning refers to it")
    url: str | None = Field(description="a PubMed link when the snippet has a PMID")


class Calls(BaseModel):
    total: int
    upstream: int = Field(description="calls made to the backend for this request")
    cached: int = Field(description="calls answered from medq's call store")
    ids: list[str] = Field(description="keys in medq's call store (the audit log has them)")


class MedqReply(BaseModel):
    """What medq adds to a completion. When `abstained` is true, `answer` is null and
    `abstention_reason` says why; votes and citations are still there."""

    answer: str | None
    answer_text: str | None
    confidence: float | None
    confidence_method: str | None = Field(
        description="vote_share, letter_probability, option_likelihood or strategy")
    confidence_basis: str | None
    threshold: float | None
    calibration: dict[str, Any] | None
    votes: dict[str, int] | None
    abstained: bool
    abstention_reason: str | None
    citations: list[CitationOut]
    question: dict[str, Any]
    pipeline: str
    pipeline_hash: str
    calls: Calls
    latency_ms: float
    request_id: str
    ignored: list[str]


class ChatCompletion(BaseModel):
    """A completion (``stream: false``). With ``stream: true`` the same arrives as
    server-sent ``chat.completion.chunk`` events: the role, one content chunk, and a last
    chunk carrying ``finish_reason``, ``usage`` and ``medq``, then ``[DONE]``."""

    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    medq: MedqReply


class ErrorBody(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorEnvelope(BaseModel):
    """OpenAI's error envelope."""

    error: ErrorBody


class PipelineCard(BaseModel):
    """A pipeline: strategy, backend, corpus, hash, paper, calls per answer, abstention."""

    name: str
    strategy: str
    backend: dict[str, str]
    corpus: list[str]
    hash: str
    paper: list[str]
    calls_per_answer: int | str
    abstain_below: float | None
    calibration: dict[str, Any] | None
    stores_content: bool
    description: str


class ModelCard(BaseModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str
    medq: PipelineCard


class ModelList(BaseModel):
    object: Literal["list"]
    data: list[ModelCard]


class Health(BaseModel):
    status: Literal["ok"]
    pipelines: int
