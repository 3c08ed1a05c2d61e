"""Reading the intermediate outputs of multi-call strategies: verdicts, query lists and
labelled fields.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_QUERY_LINE = re.compile(r"^\s*(?:[-*]\s*)?(?:\**query\s*\d*\**\s*[:.)-]|\d+[.)])\s*(.+?)\s*$",
                         re.I | re.M)
FALLBACK_FIELD = "General Medicine"
"""The expert field used when a recruitment reply names fewer fields than asked for."""


def parse_verdict(text: str, *, yes: Sequence[str], no: Sequence[str]) -> bool | None:
    """The last stated verdict in `text`: True for a word in `yes`, False for one in `no`.

    A ``Verdict:`` line wins over a bare word; without one, the last whole word from
    either list counts. None when neither appears.

    Example:
        >>> parse_verdict("It could be.\\nVerdict: incorrect", yes=["correct"], no=["incorrect"])
        False
    """
    words = "|".join(re.escape(w) for w in sorted([*yes, *no], key=len, reverse=True))
    labelled = re.findall(rf"verdict\W{{0,3}}\s*\W{{0,2}}({words})\b", text, re.IGNORECASE)
    found = labelled or re.findall(rf"\b({words})\b", text, re.IGNORECASE)
    if not found:
        return None
    return found[-1].lower() in {w.lower() for w in yes}


def parse_queries(text: str, limit: int) -> list[str]:
    """Up to `limit` distinct search queries from ``Query 1: ...`` (or ``1. ...``) lines."""
    queries: list[str] = []
    for match in _QUERY_LINE.finditer(text):
        query = match.group(1).strip().strip('"*').strip()
        if query and query not in queries:
            queries.append(query)
    return queries[:limit]


def parse_fields(text: str, count: int) -> list[str]:
    """Exactly `count` fields from ``Medical fields: a | b | c`` (cut, or padded with
    General Medicine, when the model names more or fewer)."""
    line = next((ln for ln in text.splitlines() if "|" in ln or ":" in ln), text)
    names = [f.strip(" *.'\"`") for f in line.rpartition(":")[2].split("|")]
    names = [n for n in names if n][:count]
    return names + [FALLBACK_FIELD] * (count - len(names))
