"""What `medq strategies NAME` and `medq tasks NAME` print: one card per strategy or task.

A strategy's card comes from the same sources the spec validator uses: its factory's typed
signature (types, defaults) and its docstring's ``Args:`` (meanings), plus its module's
citation and its registration (calls per item, answer kinds). A task's card comes from
its registration and loader: split, size, the files ``--data`` expects (asked of the
loader itself), the Hub copy it pins, the bundled sample and its licence, the citation.
"""

from __future__ import annotations

import importlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Card:
    """A titled list of (label, text) rows, plus an optional table."""

    title: str
    rows: list[tuple[str, str]]
    table: list[tuple[str, ...]] | None = None
    columns: tuple[str, ...] = ()


def paper_of(module_doc: str | None) -> str:
    """The citation paragraph of a module docstring (its second paragraph)."""
    parts = (module_doc or "").strip().split("\n\n")
    return " ".join(parts[1].split()) if len(parts) > 1 else ""


def strategy_card(name: str) -> Card:
    """Paper, calls per item, answer kinds and every parameter of strategy `name`.

    Raises:
        UnknownNameError: no strategy of that name (the message lists the known ones).
    """
    from medq.registry import strategies
    from medq.strategies._shared.params import parameters
    from medq.strategies.base import strategy_info

    factory = strategies.get(name)
    module = importlib.import_module(factory.__module__)
    info = strategy_info(name)
    summary = (factory.__doc__ or "").strip().splitlines()
    rows = [
        ("what", summary[0] if summary else ""),
        ("paper", paper_of(module.__doc__)),
        ("calls per item", str(info["calls_per_item"])),
        ("answers", ", ".join(info["accepts"])),
        ("spec", f"--strategy '{name}(param=value,...)' or '{name}:param=value,...'"),
    ]
    table: list[tuple[str, ...]] = [
        (p.name, p.type, "(required)" if p.required else _value(p.default), p.help)
        for p in parameters(factory)
    ]
    return Card(name, rows, table, ("parameter", "type", "default", "meaning"))


def _value(value: Any) -> str:
    return "None" if value is None else str(value)


def task_card(name: str) -> Card:
    """Split, size, expected ``--data`` files, Hub copy, sample, licence and citation.

    Raises:
        UnknownNameError: no task of that name.
    """
    from medq.registry import tasks
    from medq.tasks.base import TaskSpec, load_task

    factory = tasks.get(name)
    module = sys.modules.get(getattr(getattr(factory, "loader", factory), "__module__", ""))
    if isinstance(factory, TaskSpec):
        split, size, citation = factory.split, factory.summary, factory.citation
        answers = factory.answer_kind
    else:
        doc = (factory.__doc__ or "").strip().splitlines()
        split, size, citation, answers = "", doc[0] if doc else "", "", "choice"
    try:
        sample = load_task(name, sample=True)
        bundled = f"{len(sample)} items (`--sample`)"
    except Exception as exc:  # the task ships no sample: say why, as the loader does
        bundled = f"none ({exc})"
    licence = _sample_licences().get(name)
    rows = [
        ("split", split),
        ("items", size),
        ("answers", answers),
        ("--data expects", data_expected(name)),
        ("original release", release_of(module.__doc__ if module else None)),
        ("Hub copy (pinned)", "; ".join(hub_files(name)) or "none: pass --data PATH"),
        ("bundled sample", bundled),
        ("licence", licence or "see the original release (no sample bundled)"),
        ("citation", citation),
    ]
    return Card(name, rows)


def data_expected(name: str) -> str:
    """What ``--data`` must point at, in the loader's own words."""
    from medq.tasks.base import load_task

    probe = Path("/nonexistent") / "medq-probe-for-data-help"
    try:
        load_task(name, probe)
    except Exception as exc:
        message = str(exc)
        start = message.find("pointing at ")
        if start >= 0:
            return message[start + len("pointing at "):].rstrip(".")
        return message
    return "(the loader did not say)"


def release_of(module_doc: str | None) -> str:
    """The first URL of a task module's docstring (its original release)."""
    match = re.search(r"https?://\S+", module_doc or "")
    return match.group(0).rstrip(").,") if match else "see the citation"


def hub_files(name: str) -> list[str]:
    """The pinned Hub files task `name` loads without ``--data``, as its loader asks."""
    from medq.tasks._io import hub_files_asked
    from medq.tasks.base import DatasetUnavailableError, load_task

    with hub_files_asked() as asked:
        try:
            load_task(name)
        except DatasetUnavailableError:
            pass
    return [f"{f.repo_id}@{f.revision[:12]} ({f.filename})" for f in asked]


def _sample_licences() -> dict[str, str]:
    """Task name -> licence of its bundled sample, from the samples' README table."""
    from medq.tasks._io import SAMPLES

    out: dict[str, str] = {}
    readme = (SAMPLES / "README.md").read_text(encoding="utf-8")
    for line in readme.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 5 or cells[0] in {"path", "---"}:
            continue
        for task in re.findall(r"`([\w.<>*-]+)`", cells[2]):
            out[task] = cells[4]
    from medq.tasks.base import task_names

    for name in task_names():  # `mmlu_<subject>` and `medagentsbench_*` rows name patterns
        for pattern, licence in list(out.items()):
            if "<" in pattern or "*" in pattern:
                regex = re.escape(pattern).replace(r"<subject>", r"\w+").replace(r"\*", r"\w+")
                if re.fullmatch(regex, name):
                    out.setdefault(name, licence)
    return out
