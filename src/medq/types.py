"""Typed values that cross medq's seams: questions, model requests and completions, answers.

Everything here is a frozen dataclass so values can be hashed, cached and compared, and so
no component can mutate another's data behind its back.
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _frozen_mapping(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


_SCALARS = frozenset({str, int, float, bool, type(None)})


class _FrozenArray(tuple):  # type: ignore[type-arg]
    """A JSON array as `_freeze_json` returns it: a tuple whose items are frozen too, so
    freezing it again (a reading built from shared, already frozen options) costs nothing."""

    __slots__ = ()


def _freeze_json(value: Any) -> Any:
    """A read-only view of a JSON value: objects become mappings, arrays tuples."""
    # Scalars are tested by exact type first: the ABC checks below cost more than the copy.
    kind = type(value)
    if kind in _SCALARS or kind is _FrozenArray:
        return value
    if kind is dict or isinstance(value, Mapping):
        return MappingProxyType({k: v if type(v) in _SCALARS else _freeze_json(v)
                                 for k, v in value.items()})
    if kind is list or kind is tuple or isinstance(value, list | tuple):
        return _FrozenArray([v if type(v) in _SCALARS else _freeze_json(v) for v in value])
    return value


def _thaw_json(value: Any) -> Any:
    """Plain dicts and lists again (fresh copies) from a read-only JSON value."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if isinstance(value, JSONObject):
        return value.thaw()
    if kind is MappingProxyType or kind is dict or isinstance(value, Mapping):
        return {k: v if type(v) in _SCALARS else _thaw_json(v) for k, v in value.items()}
    if kind is tuple or kind is list or isinstance(value, list | tuple):
        return [v if type(v) in _SCALARS else _thaw_json(v) for v in value]
    return value


class JSONObject(Mapping[str, Any]):
    """A read-only JSON object, compared and hashed by its canonical JSON text.

    Tool definitions are large (the calculators' schemas are ~100 kB), so this copies the
    value once, through its JSON text, and hands out read-only views of the parts read;
    building one from a JSONObject costs nothing.

    Raises:
        TypeError: the value is not JSON (e.g. holds a set or a non-string key).
    """

    __slots__ = ("_data", "_text")
    _data: dict[str, Any]
    _text: str

    def __init__(self, value: Mapping[str, Any]) -> None:
        if isinstance(value, JSONObject):
            self._text, self._data = value._text, value._data
            return
        try:
            self._text = json.dumps(_thaw_json(value), sort_keys=True, allow_nan=False)
        except ValueError as exc:
            raise TypeError(f"not a JSON object: {exc}") from None
        self._data = json.loads(self._text)

    def __getitem__(self, key: str) -> Any:
        return _freeze_json(self._data[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, JSONObject):
            return self._text == other._text
        if isinstance(other, Mapping):
            return self._data == _thaw_json(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._text)

    def __repr__(self) -> str:
        return f"JSONObject({self._data!r})"

    def thaw(self) -> dict[str, Any]:
        """The object as plain dicts and lists (a fresh copy)."""
        return json.loads(self._text)


TOOL_CHOICES = ("auto", "required", "none")

_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
)


def sniff_mime(data: bytes) -> str | None:
    """The MIME type of encoded image bytes by their magic number (JPEG, PNG, GIF, WebP,
    BMP), or None when they are none of these."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((mime for magic, mime in _MAGIC if data.startswith(magic)), None)


@dataclass(frozen=True)
class Image:
    """An image input, identified by its content: equal and hashed by SHA-256 and MIME type.

    The bytes are held (`data`) or read from `path` on demand; either way `read()` checks
    them against `sha256`, so a file changed after loading is an error, never a silently
    different input. Build one with `from_path` or `from_bytes`
    (`medq.images.from_dicom` renders a DICOM file to PNG).

    Attributes:
        sha256: hex SHA-256 of the encoded bytes (what the call cache keys on).
        mime: ``image/jpeg``, ``image/png``, ...
        path: the file the bytes come from, when they are not held.
        data: the encoded bytes, when held.
        dicom: the DICOM file this image was rendered from, when it was.
    """

    sha256: str
    mime: str
    path: str | None = field(default=None, compare=False)
    data: bytes | None = field(default=None, compare=False, repr=False)
    dicom: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.path is None and self.data is None:
            raise ValueError("an Image needs its bytes or a path")
        if not self.mime.startswith("image/"):
            raise ValueError(f"not an image MIME type: {self.mime!r}")

    @classmethod
    def from_bytes(cls, data: bytes, mime: str | None = None, *,
                   dicom: str | None = None) -> Image:
        """An image held in memory; the MIME type is sniffed when not given.

        Raises:
            ValueError: the bytes are not a known image format (and no `mime` was given).
        """
        kind = mime or sniff_mime(data)
        if kind is None:
            raise ValueError(f"not a JPEG, PNG, GIF, WebP or BMP image ({data[:8]!r}...)")
        return cls(hashlib.sha256(data).hexdigest(), kind, data=bytes(data), dicom=dicom)

    @classmethod
    def from_path(cls, path: str | os.PathLike[str], mime: str | None = None) -> Image:
        """An image file, read once for its hash and type; its bytes are not kept.

        Raises:
            OSError: the file cannot be read.
            ValueError: it is not a known image format.
        """
        with open(path, "rb") as f:
            data = f.read()
        kind = mime or sniff_mime(data)
        if kind is None:
            raise ValueError(f"{path}: not a JPEG, PNG, GIF, WebP or BMP image")
        return cls(hashlib.sha256(data).hexdigest(), kind, path=os.fspath(path))

    def read(self) -> bytes:
        """The encoded bytes.

        Raises:
            OSError: the file is gone.
            ValueError: its content no longer matches `sha256`.
        """
        if self.data is not None:
            return self.data
        assert self.path is not None
        with open(self.path, "rb") as f:
            data = f.read()
        if hashlib.sha256(data).hexdigest() != self.sha256:
            raise ValueError(f"{self.path}: image changed since it was loaded (SHA-256 differs)")
        return data

    def to_json(self) -> dict[str, Any]:
        """What identifies the image in a call's key and a data hash: hash and type."""
        return {"sha256": self.sha256, "mime": self.mime}


@dataclass(frozen=True)
class Question:
    """One benchmark item.

    Attributes:
        id: the item's ID in its original release (stable across loaders).
        stem: the question text.
        options: option letter -> option text, in presentation order ("A", "B", ...);
            empty for open-answer tasks (calculations, corrections).
        gold: the correct option letter, or the reference answer of an open-answer task.
        context: supporting text shown with the question (PubMedQA abstracts), or None.
        metadata: subject, specialty, exam_step, language, source, topic, difficulty, ...
        images: the images the question is about (visual QA), in the order shown.

    A multi-answer item's gold is its set of correct letters written in option order
    ("BCD"); every letter must be an option.
    """

    id: str
    stem: str
    options: Mapping[str, str]
    gold: str
    context: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    images: tuple[Image, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", _frozen_mapping(self.options))
        object.__setattr__(self, "metadata", _frozen_mapping(self.metadata))
        object.__setattr__(self, "images", tuple(self.images))
        if self.options and self.gold not in self.options and not _is_letter_set(
                self.gold, self.options):
            raise ValueError(f"question {self.id}: gold {self.gold!r} is not an option letter")
        for image in self.images:
            if not isinstance(image, Image):
                raise TypeError(f"question {self.id}: images must be Image values")

    def __hash__(self) -> int:
        return hash((self.id, self.stem, tuple(self.options.items()), self.gold,
                     tuple(i.sha256 for i in self.images)))


def _is_letter_set(gold: str, options: Mapping[str, str]) -> bool:
    """Gold is two or more distinct option letters in option order ("BCD")."""
    order = [letter for letter in options if letter in gold]
    return len(gold) > 1 and "".join(order) == gold


@dataclass(frozen=True)
class Message:
    """One chat message; a user turn may carry images (shown before its text)."""

    role: Literal["system", "user", "assistant"]
    content: str
    images: tuple[Image, ...] = ()


@dataclass(frozen=True)
class GenerationRequest:
    """A chat-completion request, independent of any backend.

    `sample_index` distinguishes repeated samples of the same prompt in the cache key, so
    sampled calls are distinct yet reproducible.

    `tools` are function definitions the model may call, each an OpenAI function spec
    ``{"name", "description", "parameters": <JSON Schema>}``, kept as read-only
    `JSONObject`s (`tool_specs()` and `params()` give them back as plain JSON).
    `tool_choice` is ``"auto"``, ``"required"``, ``"none"`` or the name of one of the
    tools; None leaves it to the server. Both enter `params()`, and so the cache key, only
    when set: a request without tools has the same key it always had.

    Example::

        GenerationRequest((Message("user", "BMI of 70 kg, 175 cm?"),),
                          tools=(json_schema("body_mass_index"),), tool_choice="required")
    """

    messages: tuple[Message, ...]
    n: int = 1
    temperature: float = 0.0
    seed: int | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    logprobs: bool = False
    top_logprobs: int | None = None
    sample_index: int = 0
    tools: tuple[Mapping[str, Any], ...] = ()
    tool_choice: str | None = None

    def __post_init__(self) -> None:
        names = []
        for tool in self.tools:
            if not isinstance(tool, Mapping) or not isinstance(tool.get("name"), str):
                raise ValueError(f"a tool must be a mapping with a string 'name', not {tool!r}")
            names.append(tool["name"])
        tools = tuple(JSONObject(t) for t in self.tools)
        if len(set(names)) != len(names):
            raise ValueError(f"tool names must be unique: {names}")
        if self.tool_choice is not None:
            if not tools:
                raise ValueError(f"tool_choice={self.tool_choice!r} needs tools")
            if self.tool_choice not in TOOL_CHOICES and self.tool_choice not in names:
                raise ValueError(
                    f"tool_choice must be one of {', '.join(TOOL_CHOICES)} or a tool name "
                    f"({', '.join(names)}), not {self.tool_choice!r}"
                )
        object.__setattr__(self, "tools", tools)

    def tool_specs(self) -> list[dict[str, Any]]:
        """The tools as plain JSON dicts (fresh copies, safe to change)."""
        return [_thaw_json(t) for t in self.tools]

    def params(self) -> dict[str, Any]:
        """Generation parameters as a plain JSON-able dict (used in cache keys and logs)."""
        params: dict[str, Any] = {
            "n": self.n,
            "temperature": self.temperature,
            "seed": self.seed,
            "max_tokens": self.max_tokens,
            "stop": list(self.stop),
            "logprobs": self.logprobs,
            "top_logprobs": self.top_logprobs,
            "sample_index": self.sample_index,
        }
        # Only when set, so the cache keys of requests without tools stay as they were.
        if self.tools:
            params["tools"] = self.tool_specs()
        if self.tool_choice is not None:
            params["tool_choice"] = self.tool_choice
        return params


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token with its log-probability and the top alternatives at that step."""

    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class ToolCall:
    """A function call the model made, as the API returns it.

    Attributes:
        id: the call's ID from the server (``call_...``).
        name: the function called.
        arguments: the arguments as the raw JSON text the model wrote (may be invalid JSON;
            parsing and validating it is the caller's job).
    """

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class Generation:
    """One of the n choices returned for a request.

    `text` is empty when the model answered with `tool_calls` only.
    """

    text: str
    finish_reason: str | None = None
    logprobs: tuple[TokenLogprob, ...] | None = None
    tool_calls: tuple[ToolCall, ...] = ()

    @property
    def truncated(self) -> bool:
        """True when the model stopped because it hit max_tokens."""
        return self.finish_reason == "length"


@dataclass(frozen=True)
class Completion:
    """A backend's answer to a GenerationRequest.

    `key` is the call's key in the store when the completion came through it (set by the
    run's call log; None otherwise): answers record it so they can be read again later
    from the stored response alone.
    """

    generations: tuple[Generation, ...]
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str | None = None
    key: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class LoglikelihoodRequest:
    """Score each continuation given one shared context (option log-likelihood scoring)."""

    context: tuple[Message, ...]
    continuations: tuple[str, ...]


@dataclass(frozen=True)
class ContinuationScore:
    """Log-likelihood of one continuation; `n_chars` feeds length normalisation."""

    logprob: float
    n_tokens: int
    n_chars: int
    is_greedy: bool = False


class Capability(enum.Enum):
    """What a model backend can serve."""

    GENERATE = "generate"
    TOP_LOGPROBS = "top_logprobs"
    LOGLIKELIHOOD = "loglikelihood"
    TOOLS = "tools"  # function (tool) calling: GenerationRequest.tools
    VISION = "vision"  # image inputs: Message.images
    # Several samples of one request in one call (GenerationRequest.n > 1); the server may
    # still refuse, which `medq.coalesce` detects once and falls back from.
    SAMPLES = "samples"


class Status(enum.StrEnum):
    """Outcome of one item."""

    OK = "ok"  # an answer was extracted (may be right or wrong)
    INVALID = "invalid"  # the model answered but no option could be extracted
    ERROR = "error"  # the model could not be reached / failed after retries
    # The model answered, but its judge could not grade the answer (no valid verdict after
    # the re-asks): excluded from the score and counted apart, never given a default.
    UNGRADED = "ungraded"


@dataclass(frozen=True)
class Reading:
    """How an answer was read from model output, replayable with no model and no prompt.

    A leaf reads one generation — the stored call `call` (its generation `index`), or
    `text` itself when the output never went through the store — with the reader `rule`
    (``choice``, ``calc``, ``correction`` …) and its `args` (the options as presented, the
    mapping back to the original letters, the answer format). A ``vote`` combines the
    readings of its `parts`; a ``fixed`` reading carries an answer that no text reader
    produced (option log-likelihoods, tool results), which rescoring keeps as it is.
    `medq rescore` re-evaluates the tree with today's readers.
    """

    rule: str
    call: str | None = None
    index: int = 0
    text: str | None = None
    args: Mapping[str, Any] = field(default_factory=dict)
    parts: tuple[Reading, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "args", _freeze_json(dict(self.args)))

    def to_json(self) -> dict[str, Any]:
        """The reading as plain JSON (stored with each item)."""
        data: dict[str, Any] = {"rule": self.rule}
        if self.call is not None:
            data["call"] = self.call
            data["index"] = self.index
        if self.text is not None:
            data["text"] = self.text
        if self.args:
            data["args"] = _thaw_json(self.args)
        if self.parts:
            data["parts"] = [p.to_json() for p in self.parts]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Reading:
        """Inverse of `to_json`."""
        return cls(
            data["rule"],
            data.get("call"),
            data.get("index", 0),
            data.get("text"),
            data.get("args") or {},
            tuple(cls.from_json(p) for p in data.get("parts") or ()),
        )


@dataclass(frozen=True)
class Answer:
    """A strategy's final answer for one question.

    Attributes:
        choice: the chosen option letter, or None when invalid or error.
        status: ok / invalid / error.
        text: the final response text the choice was extracted from.
        truncated: any response behind this answer stopped at max_tokens.
        confidence: probability or vote share of `choice`, when the strategy has one.
        reason: why the item is invalid or an error.
        details: strategy-specific extras (votes, option scores, acc_norm choice, ...).
        reading: how `choice` was read from the model's output (see `Reading`); None for
            answers made without one (errors, answers built by hand).
        score: the item's graded score when a judge graded it (a rubric task's points
            fraction, which may be negative); None for rule-scored and ungraded answers.
    """

    choice: str | None
    status: Status
    text: str = ""
    truncated: bool = False
    confidence: float | None = None
    reason: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    reading: Reading | None = None
    score: float | None = None
