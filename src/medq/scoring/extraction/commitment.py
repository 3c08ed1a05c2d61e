"""A model of commitment: which of a response's statements commits it to an option.

Each statement is classified by its sentence and clause:

- a *commitment* states the answer ("The answer is C", "I choose C", "C");
- a *retraction* withdraws one: "wait, no" withdraws the latest commitment, a denial
  ("it is not C", "Actually, C is wrong") withdraws those naming its option;
- a *correction* ("Actually, D.", "Wait, no, it's D") commits and supersedes what came
  before, whatever its form;
- a *conditional* or *hypothetical* never commits: "Had the onset been gradual, the answer
  would be A", "Suppose the answer is A"; "if I had to choose, C" does commit;
- *someone else's view* ("colleagues might think C is correct"), a *hedge* ("the answer
  might be C"), a concession ("although A is tempting") and *options under review*
  ("looking at option C", "Is it C?") do not commit.

The last commitment wins, explicit forms (JSON, boxed, answer phrases) over lenient ones;
a response whose commitments were all withdrawn is invalid (``retracted``).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from functools import cached_property, lru_cache

from medq.scoring.extraction.lexicon import Lexicon, phrase_regex, phrase_tries
from medq.scoring.extraction.statements import Statement

__all__ = ["ATTRIBUTED", "COMMIT", "CONDITIONAL", "HEDGED", "MARK", "QUESTION", "RETRACT",
           "REVIEW", "Decision", "Markers", "decide", "markers"]

COMMIT, RETRACT, MARK = "commit", "retract", "mark"
CONDITIONAL, ATTRIBUTED, HEDGED, QUESTION, REVIEW = (
    "conditional", "attributed", "hedged", "question", "review")

_CLAUSE_PUNCT = re.compile(r"[,;:]|\s-\s")
_MENTION_CLAUSE = re.compile(r"[,;]")
# A full stop, "!" or "?" before a space or the end (not "[?]"), or a line break; the
# character class comes first so re skips fast.
_SENTENCE_END = re.compile(r"[.!?\n](?:(?<=\n)|(?<![\[(].)(?=[\s\"')\]]|$))")
_WINDOW = 300


class Markers:
    """The marker words of a lexicon, compiled once into one trie; ``group`` names what a
    matched phrase marks (the longest phrase at a position wins: "if I had to choose" is
    a forced choice, not a condition)."""

    _GROUPS = (
        ("forced", "forced_choice"), ("firm", "firm_conditions"), ("retract", "retraction"),
        ("hypo", "hypothetical"), ("cond", "conditional"), ("attrib", "attribution"),
        ("concession", "concession"), ("hedge", "hedge"), ("review", "review"),
        ("neg", "negation"), ("subj", "subjunctive"), ("modal", "modal"),
        ("brk", "clause_breaks"), ("corr", "correction"),
    )

    def __init__(self, lex: Lexicon) -> None:
        self.group: dict[str, str] = {}
        phrases = []
        for name, field in self._GROUPS:
            for phrase in lex[f"markers.{field}"]:
                phrases.append(phrase)
                self.group.setdefault(" ".join(phrase.lstrip("~").split()), name)
        bounded, free = phrase_tries(phrases)
        parts = ([r"(?<!\w)" + bounded] if bounded else []) + ([free] if free else [])
        self.any = re.compile("|".join(parts) or r"(?!x)x")
        self.lex = lex

    # Compiled when first used: most responses need neither (issue 19).
    @cached_property
    def inverted(self) -> re.Pattern[str]:
        return re.compile(r"[ \t(\[\"'-]*" + phrase_regex(
            self.lex["markers.inverted_conditional"]) + r"[ \t]+\w")

    @cached_property
    def refusal(self) -> re.Pattern[str]:
        return re.compile(phrase_regex(self.lex["markers.refusal"]))

    def find(self, low: str, start: int, end: int) -> list[tuple[str, int, int]]:
        """(group, start, end) of every marker in low[start:end]."""
        found = []
        group = self.group
        for m in self.any.finditer(low, start, end):
            said = m.group()
            name = group.get(" ".join(said.split())) or group.get("".join(said.split()))
            if name is not None:
                found.append((name, m.start(), m.end()))
        return found


@lru_cache(maxsize=64)
def markers(lex: Lexicon) -> Markers:
    """The compiled markers of `lex`."""
    return Markers(lex)


class _Context:
    """One response's sentence stops and markers, computed once for all its statements."""

    def __init__(self, low: str, mk: Markers) -> None:
        self.low, self.mk = low, mk
        self._stops: list[int] | None = None
        self._markers: dict[tuple[int, int], list[tuple[str, int, int]]] = {}

    def sentence(self, start: int, end: int) -> tuple[int, int]:
        """The sentence around low[start:end]: from the previous stop to the next one."""
        if self._stops is None:
            self._stops = [m.start() for m in _SENTENCE_END.finditer(self.low)]
        stops = self._stops
        i = bisect_left(stops, start)
        s0 = stops[i - 1] + 1 if i else 0
        j = bisect_left(stops, end)
        s1 = stops[j] if j < len(stops) else len(self.low)
        return max(s0, start - _WINDOW), min(s1, end + _WINDOW)

    def markers(self, s0: int, s1: int) -> list[tuple[str, int, int]]:
        found = self._markers.get((s0, s1))
        if found is None:
            found = self._markers[(s0, s1)] = self.mk.find(self.low, s0, s1)
        return found


def act_of(st: Statement, ctx: _Context) -> str:
    """What a statement does: commit, retract, mark a correction, or nothing (its class)."""
    if st.kind == "retraction":
        return RETRACT
    if st.kind == "correction":
        return MARK
    if st.structured:
        return COMMIT
    low = ctx.low
    s0, s1 = ctx.sentence(st.start, st.end)
    if s1 < len(low) and low[s1] == "?":
        return QUESTION
    clause = s0
    for m in _CLAUSE_PUNCT.finditer(low, s0, st.start):
        clause = m.end()
    found: dict[str, list[tuple[int, int]]] = {}
    value = st.value
    value_end = value.end if value is not None else st.end
    for name, m_start, m_end in ctx.markers(s0, s1):
        if value is not None and value.start <= m_start < value.end:
            continue  # the words of the option itself ("If the sensitivity were ...")
        found.setdefault(name, []).append((m_start, m_end))
    # A condition reaches back to the sentence's start or its last "but"/"however"/";",
    # and forward only within the clause ("... would be A if the onset were gradual").
    scope = s0
    for _, m_end in found.get("brk", ()):
        if m_end <= st.start:
            clause = max(clause, m_end)
            scope = max(scope, m_end)
    scope = max(scope, low.rfind(";", s0, st.start) + 1)
    after = _CLAUSE_PUNCT.search(low, value_end, s1)
    scope_end = after.start() if after is not None else s1

    def near(group: str) -> bool:
        return any(scope <= m_start < scope_end for m_start, _ in found.get(group, ()))

    if near("hypo"):
        return CONDITIONAL
    suspended = near("modal") or near("subj")
    if suspended and (near("cond") or (scope == s0 and ctx.mk.inverted.match(low, s0))):
        return CONDITIONAL

    def before(group: str) -> bool:
        return any(clause <= m_start < st.start for m_start, _ in found.get(group, ()))

    if before("attrib"):
        return ATTRIBUTED
    if before("hedge") or before("concession"):
        return HEDGED
    if before("review"):
        return REVIEW
    if st.kind == "weak_denial":
        # "Option C is wrong": a review of C, unless the sentence corrects itself.
        return RETRACT if ("corr" in found or "retract" in found) else REVIEW
    if st.kind == "denial" or before("neg"):
        return RETRACT if st.value is not None and st.value.keys else HEDGED
    return COMMIT


@dataclass(frozen=True)
class Decision:
    """The outcome of the statements: the winning commitment, or why there is none."""

    winner: Statement | None
    retracted_by: Statement | None  # the retraction that left nothing committed
    quiet: tuple[tuple[int, int], ...]  # spans of non-committing statements


def decide(statements: list[Statement], low: str, mk: Markers) -> Decision:
    """Apply the model of commitment to statements in text order."""
    live: list[tuple[Statement, int]] = []
    quiet: list[tuple[int, int]] = []
    retracted_by = None
    pending, top = False, 0
    ctx = _Context(low, mk)
    for st in statements:
        act = act_of(st, ctx)
        if act == COMMIT:
            rank = st.rank
            if st.correction or pending:
                rank = max(rank, top)
            live.append((st, rank))
            top = max(top, rank)
            pending = False
        elif act == RETRACT:
            keys = set(st.value.keys) if st.value is not None else set()
            if keys:
                hit = [c for c in live if c[0].value is not None
                       and keys & set(c[0].value.keys)]
            elif live:
                latest = live[-1][0].value
                hit = [c for c in live if c[0].value == latest or (
                    c[0].value is not None and latest is not None
                    and c[0].value.keys == latest.keys and latest.keys)]
            else:
                hit = []
            if hit:
                live = [c for c in live if c not in hit]
                retracted_by = st
            pending = True
            quiet.append((st.start, st.end))
        elif act == MARK:
            pending = True
        else:
            quiet.append(ctx.sentence(st.start, st.end))
    if live:
        best = max(rank for _, rank in live)
        winner = next(st for st, rank in reversed(live) if rank == best)
        return Decision(winner, None, tuple(quiet))
    return Decision(None, retracted_by, tuple(quiet))


def clause_quiet(low: str, mk: Markers, start: int, end: int) -> bool:
    """Whether the clause around low[start:end] hedges, negates, conditions or reviews
    it ("is not pneumonia (option C)")."""
    s0, s1 = _Context(low, mk).sentence(start, end)
    c0, c1 = s0, s1
    for m in _MENTION_CLAUSE.finditer(low, s0, s1):
        if m.end() <= start:
            c0 = m.end()
        elif m.start() >= end:
            c1 = m.start()
            break
    for group, m_start, _ in mk.find(low, c0, c1):
        if group in ("hedge", "attrib", "concession", "cond", "hypo", "review", "forced"):
            return True
        # "(B) to rule out ..." states a purpose, not that B is ruled out.
        if group == "neg" and (m_start < start or not low.endswith("to ", 0, m_start)):
            return True
    return False
