"""HealthBench: multi-turn health conversations graded against physician-written rubrics.

Arora, R. K., Wei, J., Soskin Hicks, R., Bowman, P., Quiñonero-Candela, J., Tsimpourlas,
F., Sharman, M., Shah, M., Vallone, A., Beutel, A., Heidecke, J., & Singhal, K. (2025).
HealthBench: Evaluating Large Language Models Towards Improved Human Health.
arXiv:2505.08775. Release and reference grader: openai/simple-evals (MIT).

Tasks:
    healthbench            the 5,000 conversations (``2025-05-07-06-14-12_oss_eval.jsonl``)
    healthbench_hard       the 1,000 hardest (``hard_2025-05-08-21-00-10.jsonl``)
    healthbench_consensus  the 3,671 with physician-consensus criteria
                           (``consensus_2025-05-09-20-00-46.jsonl``)

Each row is ``{prompt_id, prompt: [{role, content}], rubrics: [{criterion, points, tags}],
example_tags}``. The conversation goes to the model as it is (strategy ``respond``); the
model's reply is graded criterion by criterion by the run's judge (``--judge``), and the
item's score is official HealthBench scoring exactly: the points of the criteria met over
the sum of the positive points. A negative-point criterion is graded on whether the
undesirable behaviour occurred, and its points count when it did, so an item's score may
be negative; only the aggregate is clipped to [0, 1] (`medq.scoring.metrics`). Tag scores
follow the reference: an example tag (``theme:…``) scores its items' overall scores, a
rubric tag (``axis:…``, ``cluster:…``) scores each item on the criteria carrying the tag
(items where those criteria have no positive points are left out).

Fail-closed grading (`medq.judge`): a criterion without a valid verdict after two re-asks
is ungraded; an item with an ungraded positive criterion is ungraded (excluded from the
score, counted); an ungraded negative criterion is left out of that item's points and
counted in the run's ``ungraded_criteria``.

``--data`` takes a release file or a folder holding it; without it the release file is
downloaded from the release location into ``$MEDQ_HOME/cache/healthbench`` (one attempt,
failing at once when offline), verified before it is cached (`medq.tasks._release`: whole,
parsed, its sha256 equal to ``--data-sha256`` when given), and its sha256 is recorded in
the run's ``task_source``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medq.judge.ask import REASK_PROMPT
from medq.judge.jury import judge_many, jury
from medq.judge.record import GRADING_KEY, Grading, grading_of
from medq.judge.schema import RubricVerdict
from medq.prompts import render
from medq.tasks._io import data_error, find, iter_jsonl, read_text
from medq.tasks.base import (
    DatasetUnavailableError,
    Download,
    Loader,
    TaskDataError,
    TaskSpec,
    register_task,
)
from medq.types import Answer, Question, Status

if TYPE_CHECKING:
    from medq.tasks._release import Fetched

CITATION = (
    "Arora, R. K., Wei, J., Soskin Hicks, R., Bowman, P., Quiñonero-Candela, J., "
    "Tsimpourlas, F., Sharman, M., Shah, M., Vallone, A., Beutel, A., Heidecke, J., & "
    "Singhal, K. (2025). HealthBench: Evaluating Large Language Models Towards Improved "
    "Human Health. arXiv:2505.08775."
)
CITE_SHORT = "Arora et al. 2025 (HealthBench)"
PROMPT = "judge_rubric"
RELEASE = "https://openaipublic.blob.core.windows.net/simple-evals/healthbench/"
FILES = {
    "healthbench": "2025-05-07-06-14-12_oss_eval.jsonl",
    "healthbench_hard": "hard_2025-05-08-21-00-10.jsonl",
    "healthbench_consensus": "consensus_2025-05-09-20-00-46.jsonl",
}
PINNED_SHA256: dict[str, str] = {}
"""sha256 of the released files, where medq has verified them. None is pinned: the release
publishes no checksums and no whole copy was at hand to hash. Each download's sha256 is
recorded in the run's provenance (``task_source``) and can be required with
``--data-sha256``."""
META_EVAL_FILE = "2025-05-07-06-14-12_oss_meta_eval.jsonl"
_ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Criterion:
    """One rubric criterion: its text, its points (negative = a penalty) and its tags."""

    criterion: str
    points: float
    tags: tuple[str, ...] = ()

    def __str__(self) -> str:
        # As the reference grader shows it to the judge: "[points] criterion".
        return f"[{_number(self.points)}] {self.criterion}"


def _number(value: float) -> str:
    return str(value)  # as the release wrote it: "[10]" for 10, "[2.5]" for 2.5


def rubric_of(question: Question) -> list[Criterion]:
    """The item's rubric, from its metadata."""
    return [Criterion(r["criterion"], r["points"], tuple(r.get("tags") or ()))
            for r in question.metadata["rubrics"]]


def rubric_score(points: Sequence[float], met: Sequence[bool | None]) -> float | None:
    """Official HealthBench item score: the points of the met criteria (negative ones
    included) over the sum of the positive points.

    None (ungraded) when a positive criterion has no verdict (`met` None) or there are no
    positive points; a negative criterion without a verdict is left out.

    Example:
        >>> rubric_score([5, 3, -4], [True, False, True])
        0.125
    """
    possible = sum(p for p in points if p > 0)
    if possible <= 0 or any(m is None and p > 0 for p, m in zip(points, met, strict=True)):
        return None
    return sum(p for p, m in zip(points, met, strict=True) if m) / possible


def conversation_text(messages: Sequence[Mapping[str, Any]], response: str) -> str:
    """The conversation with the response as its last turn, as the judge reads it:
    ``role: content`` turns separated by blank lines (the reference grader's format)."""
    turns = [*messages, {"role": "assistant", "content": response}]
    return "\n\n".join(f"{m['role']}: {m['content']}" for m in turns)


class RubricGrader:
    """The grading stage: every criterion of the item's rubric, by the run's jury."""

    prompts = (PROMPT, REASK_PROMPT)

    async def __call__(self, question: Question, answer: Answer, model: Any) -> Answer:
        if answer.status is not Status.OK:
            return answer  # an invalid reply is a miss (score 0 by the one rule); no judge
        rubric = rubric_of(question)
        judges = jury(model)
        decisions = await judge_many(
            judges, PROMPT, self.questions(question, answer.text), RubricVerdict,
            points=[c.points for c in rubric],
        )
        points = [c.points for c in rubric]
        met = [None if d.label is None else d.label == "met" for d in decisions]
        per_judge = {
            name: rubric_score(points, [_judge_met(d, name) for d in decisions])
            for name, _ in judges
        }
        grading = Grading(prompt=PROMPT, judges=tuple(name for name, _ in judges),
                          decisions=tuple(decisions), judge_scores=per_judge)
        details = {**answer.details, GRADING_KEY: grading.to_json()}
        score = rubric_score(points, met)
        if score is None:
            first = next(i for i, (p, m) in enumerate(zip(points, met, strict=True))
                         if m is None and p > 0)
            why = (f"criterion {first + 1} ({_number(points[first])} points) is ungraded: "
                   f"{decisions[first].ungraded}")
            return replace(answer, status=Status.UNGRADED, reason=why, details=details,
                           score=None)
        return replace(answer, details=details, score=score)

    def questions(self, question: Question, response: str) -> list[dict[str, str]]:
        """The judge prompt's fields for each criterion of the item."""
        text = conversation_text(question.metadata["messages"], response)
        return [{"conversation": text, "criterion": str(c)} for c in rubric_of(question)]

    def plan(self, question: Question) -> list[str]:
        """The judge prompts one juror gets for the item, with an empty response (for
        `--dry-run` cost estimates)."""
        return [render(PROMPT, **fields) for fields in self.questions(question, "")]


def _judge_met(decision: Any, judge: str) -> bool | None:
    label = next((v.label for v in decision.votes if v.judge == judge), None)
    return None if label is None else label == "met"


# --- loading -----------------------------------------------------------------------------


def parse_jsonl(path: Path, text: str | None = None) -> tuple[Question, ...]:
    """The conversations of a HealthBench release file; a malformed row is a TaskDataError
    naming the file, the line and the field."""
    questions = []
    seen: set[str] = set()
    for lineno, record in iter_jsonl(path, text):
        where = f"line {lineno}"
        question = _question(path, where, record)
        if question.id in seen:
            raise data_error(path, where, f"field 'prompt_id' {question.id!r} repeats")
        seen.add(question.id)
        questions.append(question)
    if not questions:
        raise TaskDataError(f"{path}: no conversations")
    return tuple(questions)


def _question(path: Path, where: str, record: Mapping[str, Any]) -> Question:
    prompt_id = record.get("prompt_id")
    if not isinstance(prompt_id, str) or not prompt_id:
        raise data_error(path, where, "field 'prompt_id' is missing")
    messages = record.get("prompt")
    if not isinstance(messages, list) or not messages:
        raise data_error(path, where, "field 'prompt' must be a non-empty list of turns")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in _ROLES or not isinstance(
                m.get("content"), str):
            raise data_error(path, where, f"field 'prompt[{i}]' must be {{role, content}} "
                             f"with role in {', '.join(_ROLES)}")
    rubrics = record.get("rubrics")
    if not isinstance(rubrics, list) or not rubrics:
        raise data_error(path, where, "field 'rubrics' must be a non-empty list")
    for i, r in enumerate(rubrics):
        ok = (isinstance(r, dict) and isinstance(r.get("criterion"), str)
              and isinstance(r.get("points"), int | float) and not isinstance(r["points"], bool)
              and isinstance(r.get("tags", []), list)
              and all(isinstance(t, str) for t in r.get("tags", [])))
        if not ok:
            raise data_error(path, where, f"field 'rubrics[{i}]' must be {{criterion: string, "
                             f"points: number, tags: [string]}}")
    if sum(r["points"] for r in rubrics if r["points"] > 0) <= 0:
        raise data_error(path, where, "field 'rubrics' has no criterion with positive points")
    tags = record.get("example_tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise data_error(path, where, "field 'example_tags' must be a list of strings")
    themes = [t.split(":", 1)[1] for t in tags if t.startswith("theme:")]
    categories = [t.split(":", 1)[1] for t in tags if t.startswith("physician_agreed_category:")]
    last_user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    return Question(
        id=prompt_id,
        stem=last_user,
        options={},
        gold="",
        metadata={
            "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
            "rubrics": [{"criterion": r["criterion"], "points": r["points"],
                         "tags": list(r.get("tags", []))} for r in rubrics],
            "example_tags": list(tags),
            "theme": ", ".join(themes) or None,
            "physician_agreed_category": ", ".join(categories) or None,
            "turns": len(messages),
        },
    )


def release_file(name: str, sha256: str | None = None) -> Fetched[tuple[Question, ...]]:
    """The task's release file, parsed: from the cache, or downloaded into it and verified
    (`medq.tasks._release.fetch_release`: whole, its sha256 equal to the pinned one and to
    `sha256` when given, and parsed, before it is cached); fails at once offline.

    Raises:
        DatasetUnavailableError: offline, unreachable, or the download failed or was cut
            short (nothing is cached).
        TaskDataError: a sha256 differs, or the file does not parse.
    """
    from medq.hub import cache_dir, hub_offline
    from medq.tasks._release import fetch_release

    filename = FILES[name]
    url = RELEASE + filename
    try:
        return fetch_release(url, cache_dir() / "healthbench" / filename,
                             read=lambda path: parse_jsonl(path, read_text(path)),
                             offline=hub_offline(), pinned=PINNED_SHA256.get(filename),
                             expected=sha256)
    except DatasetUnavailableError as exc:
        raise DatasetUnavailableError(
            f"Task {name!r} could not download {url} ({exc}); pass --data PATH pointing at "
            f"the release file {filename} (or a folder holding it).") from None


def _loader(name: str) -> Loader:
    filename = FILES[name]

    def load(data: Path | None, sample: bool) -> tuple[tuple[Question, ...], str]:
        if sample:
            raise DatasetUnavailableError(
                f"Task {name!r} has no bundled sample (the release's licence and size); "
                f"pass --data PATH pointing at the release file {filename}.")
        if data is None:
            return _download(name)(None)  # TaskSpec calls `download` itself
        path = find(data, (filename,), name, f"the release file {filename}")
        return parse_jsonl(path, read_text(path)), str(path)

    return load


def _download(name: str) -> Download:
    def download(sha256: str | None) -> tuple[tuple[Question, ...], str]:
        fetched = release_file(name, sha256)
        # The file's own hash in the provenance, as a Hub file's revision is.
        return fetched.value, f"release:{RELEASE}{FILES[name]}@sha256:{fetched.sha256}"

    return download


# --- metrics -----------------------------------------------------------------------------


def tag_scores(samples: list[Any]) -> dict[str, Any] | None:
    """Scores per tag, as the reference computes them (see the module docstring): for each
    tag, ``score`` (the mean clipped to [0, 1]), ``score_unclipped`` and ``n`` items.

    Keys are the release's tags (``theme:emergency_referrals``, ``axis:accuracy`` …).
    None when no item has a rubric (not a HealthBench run).
    """
    from medq.results import item_score

    values: dict[str, list[float]] = {}
    for sample in samples:
        metadata = sample["details"].get("metadata") or {}
        rubrics = metadata.get("rubrics")
        overall = item_score(sample)
        if rubrics is None or overall is None:
            continue
        for tag in metadata.get("example_tags") or ():
            values.setdefault(tag, []).append(overall)
        grading = grading_of(sample["details"])
        met: list[bool | None] = (
            [False] * len(rubrics) if grading is None  # invalid reply: nothing was met
            else [None if d.label is None else d.label == "met" for d in grading.decisions])
        by_tag: dict[str, list[int]] = {}
        for i, rubric in enumerate(rubrics):
            for tag in rubric.get("tags") or ():
                by_tag.setdefault(tag, []).append(i)
        for tag, members in by_tag.items():
            score = rubric_score([rubrics[i]["points"] for i in members],
                                 [met[i] for i in members])
            if score is not None:
                values.setdefault(tag, []).append(score)
    if not values:
        return None
    out = {}
    for tag in sorted(values):
        mean = sum(values[tag]) / len(values[tag])
        out[tag] = {"score": min(1.0, max(0.0, mean)), "score_unclipped": mean,
                    "n": len(values[tag])}
    return out


def tag_lines(tags: Mapping[str, Any]) -> list[str]:
    """`medq show` lines for the tag scores: one line per kind of tag (theme, axis …)."""
    kinds: dict[str, list[str]] = {}
    for tag, value in tags.items():
        kind, _, name = tag.partition(":")
        kinds.setdefault(kind, []).append(
            f"{name or kind} {100 * value['score']:.1f}% (n={value['n']})")
    return [f"HealthBench by {kind}: {', '.join(cells)}" for kind, cells in kinds.items()
            if kind in ("theme", "axis")]


for _name, _summary in (
    ("healthbench", "5,000 conversations, physician rubrics (judged)"),
    ("healthbench_hard", "1,000 hardest conversations (judged)"),
    ("healthbench_consensus", "3,671 conversations, consensus criteria (judged)"),
):
    register_task(TaskSpec(
        _name, "oss_eval" if _name == "healthbench" else _name.split("_", 1)[1], _summary,
        CITATION, CITE_SHORT, _loader(_name), answer_kind="free_text", download=_download(_name),
        metrics=(("healthbench_tags", tag_scores, tag_lines),), grader=RubricGrader(),
        prompts=RubricGrader.prompts,
    ))
