"""Prompt templates as package files, rendered strictly.

A template names its placeholders as ``{name}``; rendering with a missing or an unknown
value is an error, so a prompt can never silently lose a field. Each run records every
template's name and content hash, so every number traces back to exact text.
"""

from __future__ import annotations

import contextlib
import hashlib
import string
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from functools import cache
from importlib.resources import files

from medq.types import Question


class PromptError(ValueError):
    """A template was rendered with missing or unknown placeholders."""


_rendered: ContextVar[set[str] | None] = ContextVar("medq_prompts_rendered", default=None)


@contextlib.contextmanager
def recording() -> Iterator[set[str]]:
    """Collect the name of every template read inside the block (in this task and the
    tasks it starts), so a run can check that it declared every prompt it rendered."""
    names: set[str] = set()
    token = _rendered.set(names)
    try:
        yield names
    finally:
        _rendered.reset(token)


def template(name: str) -> str:
    """The text of prompt file ``prompts/<name>.txt``."""
    seen = _rendered.get()
    if seen is not None:
        seen.add(name)
    return _template_text(name)


@cache
def _template_text(name: str) -> str:
    return (files("medq.prompts") / f"{name}.txt").read_text(encoding="utf-8")


@cache
def template_fields(name: str) -> frozenset[str]:
    """The placeholders template `name` uses."""
    return frozenset(f for _, f, _, _ in string.Formatter().parse(_template_text(name)) if f)


def prompt_hash(name: str) -> str:
    """First 12 hex digits of the SHA-256 of the template's text."""
    return hashlib.sha256(_template_text(name).encode()).hexdigest()[:12]


def render(name: str, **values: str) -> str:
    """Fill template `name`; every placeholder must be given, and nothing else."""
    wanted = template_fields(name)
    missing = wanted - values.keys()
    extra = values.keys() - wanted
    if missing or extra:
        raise PromptError(
            f"prompt {name!r}: missing {sorted(missing)}, unknown {sorted(extra)}"
        )
    return template(name).format(**values).strip()


def format_options(options: Mapping[str, str]) -> str:
    """Options one per line: ``A. text``."""
    return "\n".join(f"{letter}. {text}" for letter, text in options.items())


def question_fields(question: Question) -> dict[str, str]:
    """The placeholders every multiple-choice template gets: context, question, options."""
    context = f"Context:\n{question.context}\n\n" if question.context else ""
    return {
        "context": context,
        "question": question.stem,
        "options": format_options(question.options),
        "letters": ", ".join(question.options),
    }
