"""Tests for medq.scoring.extract: hand-made cases, then released model outputs.

The catalog of answer styles (`test_catalog.py`, `extraction_catalog.toml`) is the
specification; these are the unit tests of the extractor's API and its regression checks
on released outputs.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from medq.scoring.extract import (
    EXTRACTOR_VERSION,
    INVALID_REASONS,
    Extraction,
    UnknownLanguageError,
    extract_choice,
    extract_choices,
    strip_reasoning,
)

ABCD = {"A": "Pneumonia", "B": "Asthma", "C": "Pulmonary embolism", "D": "Heart failure"}
ABCDE = {**ABCD, "E": "Pneumothorax"}
YES_NO_MAYBE = {"A": "yes", "B": "no", "C": "maybe"}
YES_NO = {"A": "yes", "B": "no"}
MMLU = {
    "A": "paralysis of the facial muscles.",
    "B": "paralysis of the facial muscles and loss of taste.",
    "C": "paralysis of the facial muscles, loss of taste and lacrimation.",
    "D": "paralysis of the facial muscles, loss of taste, lacrimation and decreased salivation.",
}

CHOSEN = [
    # (response, options, expected letter, expected method)
    ("C", ABCD, "C", "bare_letter"),
    ("C.", ABCD, "C", "bare_letter"),
    ("  (C)\n", ABCD, "C", "bare_letter"),
    ("[C]", ABCD, "C", "bare_letter"),
    ("**C**", ABCD, "C", "bare_letter"),
    ("*C*", ABCD, "C", "bare_letter"),
    ("__C__", ABCD, "C", "bare_letter"),
    ("Option C", ABCD, "C", "bare_letter"),
    ("c", ABCD, "C", "bare_letter"),
    ("C) Pulmonary embolism", ABCD, "C", "letter_prefix"),
    ("(C) Pulmonary embolism", ABCD, "C", "letter_prefix"),
    ("C: Pulmonary embolism", ABCD, "C", "letter_prefix"),
    ("C. Pulmonary embolism is the most likely diagnosis.", ABCD, "C", "letter_prefix"),
    ("C, given the sudden dyspnoea after surgery.", ABCD, "C", "letter_prefix"),
    ("C (Pulmonary embolism) fits the presentation.", ABCD, "C", "letter_prefix"),
    ("A. paralysis of the facial muscles.", MMLU, "A", "letter_prefix"),
    ("Answer: C", ABCD, "C", "answer_line"),
    ("answer: c", ABCD, "C", "answer_line"),
    ("The answer is (c).", ABCD, "C", "answer_line"),
    ("The answer is (C)", ABCD, "C", "answer_line"),
    ("The correct answer is C. Pulmonary embolism", ABCD, "C", "answer_line"),
    ("Final answer: C", ABCD, "C", "answer_line"),
    ("**Answer:** C", ABCD, "C", "answer_line"),
    ("**Answer: C**", ABCD, "C", "answer_line"),
    ("The answer is C because the D-dimer is raised.", ABCD, "C", "answer_line"),
    ("The answer is A", ABCD, "A", "answer_line"),
    ("Answer: Pulmonary embolism", ABCD, "C", "answer_line"),
    ("The answer to this question is pulmonary embolism.", ABCD, "C", "answer_line"),
    ("Answer:\n\nC) Pulmonary embolism", ABCD, "C", "answer_line"),
    ("### Answer: OPTION C IS CORRECT.", ABCD, "C", "answer_line"),
    ("<answer>C</answer>", ABCD, "C", "answer_line"),
    ("I first thought A, but the answer is C.", ABCD, "C", "answer_line"),
    ("Answer: B\nOn reflection the first step was wrong.\nFinal answer: D", ABCD, "D",
     "answer_line"),
    ("The answer is C. Option A is wrong because the chest film is clear.", ABCD, "C",
     "answer_line"),
    ("Although colleagues think the correct answer is A, the answer is C.", ABCD, "C",
     "answer_line"),
    (r"So the answer is $\boxed{C}$.", ABCD, "C", "boxed"),
    (r"\boxed{\text{C}}", ABCD, "C", "boxed"),
    (r"\boxed{\textbf{(C)}}", ABCD, "C", "boxed"),
    (r"Answer: A is tempting. \boxed{C}", ABCD, "C", "boxed"),
    ('{"answer": "C"}', ABCD, "C", "json"),
    ('{"Answer": "c"}', ABCD, "C", "json"),
    ('{"answer_choice": "C."}', ABCD, "C", "json"),
    ('{"answer_choice": "C: Pulmonary embolism"}', ABCD, "C", "json"),
    ('{"answer_choice": "Pulmonary embolism"}', ABCD, "C", "json"),
    ('{"answer": ["C"]}', ABCD, "C", "json"),
    ('{"result": {"final_answer": "C"}}', ABCD, "C", "json"),
    ('```json\n{"step_by_step_thinking": "PE is likely.", "answer_choice": "C"}\n```', ABCD,
     "C", "json"),
    ('Here is my output: {"step_by_step_thinking": "The answer is A? No.", '
     '"answer_choice": "C"} Done.', ABCD, "C", "json"),
    # MIRAGE's malformed JSON: the opening was lost and the thinking holds raw quotes.
    ('The "classic" triad is absent. Therefore C.", "answer_choice": "C"}', ABCD, "C",
     "json"),
    ('{"step_by_step_thinking": "He said "no" to\nsurgery", "answer_choice": "B" }', ABCD,
     "B", "json"),
    ("Pulmonary embolism", ABCD, "C", "option_text"),
    ("  pulmonary   EMBOLISM. ", ABCD, "C", "option_text"),
    ("paralysis of the facial muscles and loss of taste", MMLU, "B", "option_text"),
    ("Option C is correct.", ABCD, "C", "affirmation"),
    ("C is correct.", ABCD, "C", "affirmation"),
    ("Therefore, C.", ABCD, "C", "affirmation"),
    ("I would choose option C because of the tachycardia.", ABCD, "C", "affirmation"),
    ("The most likely diagnosis is pulmonary embolism.", ABCD, "C", "option_text"),
    ("The most likely diagnosis is D: Heart failure.", ABCD, "D", "affirmation"),
    ("While colleagues might think option A is correct, I choose C.", ABCD, "C",
     "affirmation"),
    ("The best next step would be surgery (option C). The others do not fit.", ABCD, "C",
     "option_mention"),
    ("C\n\nA) Pneumonia: no fever.\nB) Asthma: no wheeze.", ABCD, "C", "bare_letter"),
    ("<think>Maybe A. Or B.</think>\nC", ABCD, "C", "bare_letter"),
    ("<think>The answer is A.</think>The answer is C.", ABCD, "C", "answer_line"),
    ("Reasoning the template opened for me: answer A?</think>\nAnswer: C", ABCD, "C",
     "answer_line"),
    ("Yes.", YES_NO_MAYBE, "A", "yes_no"),
    ("no", YES_NO_MAYBE, "B", "yes_no"),
    ("Maybe", YES_NO_MAYBE, "C", "yes_no"),
    ("Yes, breast milk contains bacteria.", YES_NO_MAYBE, "A", "yes_no"),
    ("Answer: no", YES_NO_MAYBE, "B", "answer_line"),
    ("The answer is maybe.", YES_NO_MAYBE, "C", "answer_line"),
    ('{"answer": "yes"}', YES_NO_MAYBE, "A", "json"),
    ('{"answer_choice": "B. no"}', YES_NO_MAYBE, "B", "json"),
    ("Answer: B", YES_NO, "B", "answer_line"),
    ("Therefore, no.", YES_NO, "B", "yes_no"),
    ("E", ABCDE, "E", "bare_letter"),
    ("### Question: Dyspnoea after surgery. The correct answer is A: Pneumonia.\n"
     "### Options: A: Pneumonia, B: Asthma, C: Pulmonary embolism, D: Heart failure\n"
     "### Answer: 1 OPTION C IS CORRECT.", ABCD, "C", "affirmation"),
]

INVALID = [
    # (response, options, reason code, start of the detail)
    ("", ABCD, "no_answer", "empty response"),
    ("   \n\t ", ABCD, "no_answer", "empty response"),
    ("<think>The answer is C, I am fairly sure", ABCD, "unclosed_think", "unclosed <think> block"),
    ("Answer: C <think>let me check", ABCD, "unclosed_think", "unclosed <think> block"),
    ("<think>C</think>\n  ", ABCD, "no_answer", "no answer after the reasoning block"),
    ("A 45-year-old man presents with dyspnoea.", ABCD, "no_answer", "no answer found"),
    ("a patient presents with chest pain and a raised D-dimer.",
     ABCD, "no_answer", "no answer found"),
    ("The answer is a combination of findings.", ABCD, "no_answer", "no answer found"),
    ("Answer: E", ABCD, "out_of_range", "answer 'E' is not one of the options (A-D)"),
    ("E", ABCD, "out_of_range", "answer 'E' is not one of the options (A-D)"),
    ('{"answer_choice": "E. All of the above"}',
     ABCD, "out_of_range", "answer 'E' is not one of the options"),
    ("The answer is A or C.", ABCD, "several_answers", "several answers at once"),
    ("Answer: either B or D", ABCD, "several_answers", "several answers at once"),
    ("A or C", ABCD, "several_answers", "several answers at once"),
    ("The answer is C. Final answer: A/B", ABCD, "several_answers", "several answers at once"),
    ('{"answer_choice": "A, B, C, D"}', ABCD, "several_answers", "several answers at once"),
    ('{"answer_choice": "None of the above"}',
     ABCD, "no_answer", "JSON answer 'None of the above'"),
    ('{"answer_choice": "N/A"}', ABCD, "no_answer", "JSON answer 'N/A'"),
    (r"\boxed{42}", ABCD, "no_answer", "boxed answer '42'"),
    ("Maybe.", YES_NO, "out_of_range", "answer 'maybe' is not one of the options"),
    ("The response was filtered due to the prompt triggering Azure OpenAI's content "
     "management policy.", ABCD, "refusal", "the response declines to answer"),
    ("Option A is unlikely and option B does not fit either.",
     ABCD, "no_answer", "no answer found"),
    ("Both option A and option C remain possible.", ABCD, "no_answer", "several options mentioned"),
    ("A) Pneumonia\nB) Asthma\nC) Pulmonary embolism\nD) Heart failure", ABCD,
     "no_answer", "several options mentioned"),
    ("Colleagues might think option C is correct.", ABCD, "no_answer", "no answer found"),
    ("Thus, a", ABCD, "no_answer", "no answer found"),
    ("E. coli grows on the plate.", ABCDE, "no_answer", "no answer found"),
    ("I think the diagnosis is pneumonia or asthma.", ABCD, "no_answer", "no answer found"),
    ('{"a": ' * 3000,
     ABCD, "no_answer", "no answer found"),  # nested too deep for json: not a crash
]


@pytest.mark.parametrize(("text", "options", "choice", "method"), CHOSEN)
def test_reads_the_chosen_option(
    text: str, options: dict[str, str], choice: str, method: str
) -> None:
    result = extract_choice(text, options)
    assert (result.choice, result.method, result.reason) == (choice, method, None), result


@pytest.mark.parametrize(("text", "options", "reason", "detail"), INVALID)
def test_unreadable_or_ambiguous_is_invalid(
    text: str, options: dict[str, str], reason: str, detail: str
) -> None:
    result = extract_choice(text, options)
    assert result.choice is None
    assert result.reason == reason, result
    assert result.detail is not None and result.detail.startswith(detail), result


def test_a_letter_that_is_not_an_option_is_ignored_where_it_may_be_prose() -> None:
    assert extract_choice("I. Introduction\nThe answer is B.", ABCD).choice == "B"


@pytest.mark.parametrize("options", [{}, {"AA": "x"}, {"A": "x", "1": "y"}, {"a": "x", "A": "y"}])
def test_rejects_malformed_options(options: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        extract_choice("A", options)


@pytest.mark.parametrize(("text", "options", "choice"), [
    ("The answer is c.", dict(zip("abcde", ABCDE.values(), strict=True)), "c"),
    ("C) Pulmonary embolism", dict(zip("abcde", ABCDE.values(), strict=True)), "c"),
    ("Answer: 3", dict(zip("12345", ABCDE.values(), strict=True)), "3"),
    ("3- Pulmonary embolism", dict(zip("12345", ABCDE.values(), strict=True)), "3"),
    ("The answer is Ⅲ.", dict(zip("ⅠⅡⅢⅣⅤ", ABCDE.values(), strict=True)), "Ⅲ"),
    ("The answer is III.", dict(zip("ⅠⅡⅢⅣⅤ", ABCDE.values(), strict=True)), "Ⅲ"),
    ("Answer: (iv)", dict(zip(["I", "II", "III", "IV", "V"], ABCDE.values(), strict=True)), "IV"),
])
def test_option_labels_are_whatever_the_task_uses(
    text: str, options: dict[str, str], choice: str
) -> None:
    assert extract_choice(text, options).choice == choice


DOSES = {"1": "5 mg", "2": "10 mg", "3": "20 mg", "4": "40 mg"}


@pytest.mark.parametrize(("text", "choice", "reason"), [
    ("The answer is 2.", "2", None),
    ("The answer is 10 mg.", "2", None),  # the text of option 2, not label 1 or 10
    ("The answer is 5 mg.", "1", None),  # a dose, not label 5
    ("Answer: 4 (40 mg)", "4", None),
    ("Answer: 4 (20 mg)", None, "conflict"),
    ("Answer: 7", None, "out_of_range"),
    ("Answer: 2 mg", None, "no_answer"),  # an amount that is no option
])
def test_a_digit_label_is_told_from_a_number_in_the_answer(
    text: str, choice: str | None, reason: str | None
) -> None:
    result = extract_choice(text, DOSES)
    assert (result.choice, result.reason) == (choice, reason), result


def test_span_points_into_the_original_text() -> None:
    text = "<think>Maybe A.</think>\n\nAfter review, **the answer is (C)**."
    result = extract_choice(text, ABCD)
    assert result.choice == "C" and result.span is not None
    start, end = result.span
    assert "answer is (C" in text[start:end]
    wide = "ＡＮＳＷＥＲ：Ｃ"
    result = extract_choice(wide, ABCD)
    assert result.choice == "C" and wide[slice(*result.span)].endswith("Ｃ")


def test_every_invalid_reason_is_from_the_fixed_list() -> None:
    assert INVALID_REASONS == ("no_answer", "conflict", "retracted", "out_of_range",
                               "unclosed_think", "refusal", "several_answers")
    reasons = {extract_choice(text, options).reason for text, options, _, _ in INVALID}
    reasons |= {extract_choice(t, ABCD).reason for t in (
        "C. Asthma", "The answer is C. Actually, no - it is not C.")}
    assert reasons == set(INVALID_REASONS)


def test_languages_select_lexicons_and_english_is_always_on() -> None:
    assert extract_choice("La respuesta correcta es la C.", ABCD).choice is None
    assert extract_choice("La respuesta correcta es la C.", ABCD, languages=("es",)).choice == "C"
    assert extract_choice("The answer is C.", ABCD, languages=("es",)).choice == "C"
    assert extract_choice("Die Antwort ist C.", ABCD, languages=("de-DE",)).choice == "C"
    with pytest.raises(UnknownLanguageError, match="no answer lexicon for language 'xx'"):
        extract_choice("C", ABCD, languages=("xx",))


@pytest.mark.parametrize(("text", "choices"), [
    ("Réponses : B, C et D", {"b", "c", "d"}),
    ("The correct answers are B, C and D.", {"b", "c", "d"}),
    ("BCD", {"b", "c", "d"}),
    ('{"answers": ["B", "D"]}', {"b", "d"}),
    ("Answer: C", {"c"}),
    ("Answer: B and F", None),
    ("No idea.", None),
])
def test_multi_answer_reader(text: str, choices: set[str] | None) -> None:
    options = dict(zip("abcde", ABCDE.values(), strict=True))
    result = extract_choices(text, options, languages=("fr",))
    assert result.choices == (None if choices is None else frozenset(choices)), result


def test_strip_reasoning_keeps_its_contract() -> None:
    assert strip_reasoning("<think>x</think>Answer: 4") == ("\nAnswer: 4", None)
    assert strip_reasoning("<think>x") == ("", "unclosed <think> block")
    assert strip_reasoning("thoughts</think>Answer: 4") == ("Answer: 4", None)


def test_extraction_is_a_frozen_record() -> None:
    result = extract_choice("C", ABCD)
    assert result == Extraction("C", "bare_letter", None, (0, 1), None)
    with pytest.raises(AttributeError):
        result.choice = "A"  # type: ignore[misc]


def test_version_is_a_string() -> None:
    assert EXTRACTOR_VERSION == "2"


# --- MIRAGE: released GPT-4 outputs, scored by MIRAGE's own parser ------------------------

# MIRAGE's locate_answer (Teddy-XiongGZ/MIRAGE src/utils.py) without its final `return "A"`.
_MIRAGE_PATTERNS = [
    r"^\s*(A|B|C|D)$", r"^\s*(A|B|C|D) or", r"^\s*(A|B|C|D) and", r"^\s*(A|B|C|D)/",
    r"^\s*(A|B|C|D),", r"[Oo]ption (A|B|C|D)", r":\s*(A|B|C|D)", r"^\s*(A|B|C|D)\.",
    r"^\s*(A|B|C|D)\"", r"^\s*(A|B|C|D):",
]


def _mirage_locate(output: str) -> re.Match[str] | None:
    sentence = output.split('"answer_choice": "')[-1].strip()
    for pattern in _MIRAGE_PATTERNS:
        match = re.search(pattern, sentence)
        if match is not None:
            return match
    return None


# dataset -> (published accuracy %, medq accuracy with invalid counted wrong,
#             medq accuracy with invalid mapped to "A" as MIRAGE does, medq invalid count)
# Extractor 2 moved the medq columns (read by hand, every item): JSON answers that name
# several options with their texts ("A. Bacteria, B. Viruses, C. Spore formers",
# "C. Leishmania, D. Babesia", "A. Strengthener and B. Hardener") are several answers, where
# extractor 1 took the first letter (GPT-4 CoT: +22 MedMCQA, +1 MedQA, +2 MMLU; MedRAG: +49
# MedMCQA, +1 MedQA, +4 MMLU invalid); and "B. 225" when 225 is option C is a conflict (CoT
# MedMCQA). Extractor 1's figures: CoT mmlu (89.07, 89.35, 13), medqa (82.95, 83.97, 27),
# medmcqa (68.25, 69.88, 195); MedRAG mmlu (86.96, 87.24, 33), medqa (81.93, 82.80, 35),
# medmcqa (62.08, 66.65, 548).
MIRAGE_FIGURES = {
    "cot__OpenAI_gpt-4-32k": {
        "mmlu": (89.44, 88.98, 89.26, 15),
        "medqa": (83.97, 82.88, 83.90, 28),
        "medmcqa": (69.88, 67.99, 69.90, 217),
        "pubmedqa": (39.60, 39.60, 39.60, 0),
        "bioasq": (84.30, 83.82, 84.30, 5),
    },
    "rag_32__OpenAI_gpt-4-32k": {
        "mmlu": (87.24, 86.69, 87.05, 37),
        "medqa": (82.80, 81.85, 82.80, 36),
        "medmcqa": (66.65, 61.75, 66.60, 597),
        "pubmedqa": (70.60, 70.40, 70.60, 1),
        "bioasq": (92.56, 92.56, 92.56, 1),
    },
}
# Items where MIRAGE's parser found a letter and medq disagrees: the answer names several
# options ("A, B, C, D", "B/D", "A. Lysis and D. Coagulation of proteins": MIRAGE keeps the
# first), MIRAGE's ":\s*(A|B|C|D)" caught a word ("Error: All options...", "as follows:
# Capillary ..."), or the letter's attached text is another option's ("B. 225").
MIRAGE_DISAGREEMENTS = {
    "cot__OpenAI_gpt-4-32k": {"several letters": 49, "letter inside a word": 1,
                              "letter contradicts its text": 1},
    "rag_32__OpenAI_gpt-4-32k": {"several letters": 78, "letter inside a word": 1},
}


@pytest.mark.parametrize("run", sorted(MIRAGE_FIGURES))
def test_mirage_gpt4_outputs(shared_data: Path, run: str) -> None:
    benchmark = json.loads((shared_data / "mirage" / "benchmark.json").read_text())
    path = shared_data / "mirage" / "predictions" / f"{run}.jsonl.gz"
    n: Counter[str] = Counter()
    published: Counter[str] = Counter()
    strict: Counter[str] = Counter()
    as_a: Counter[str] = Counter()
    invalid: Counter[str] = Counter()
    disagreements: Counter[str] = Counter()
    with gzip.open(path, "rt") as lines:
        for line in lines:
            row = json.loads(line)
            (output,) = row["raw_outputs"]
            options = benchmark[row["dataset"]][row["id"]]["options"]
            result = extract_choice(output, options)
            mirage = _mirage_locate(output)
            assert (mirage.group(1) if mirage else "A") == row["parsed_answer"]
            if mirage is not None and result.choice != mirage.group(1):
                if result.reason == "several_answers":
                    disagreements["several letters"] += 1
                elif result.reason == "conflict":
                    disagreements["letter contradicts its text"] += 1
                elif re.match(r"[a-z]", mirage.string[mirage.end():]):
                    disagreements["letter inside a word"] += 1
                else:
                    pytest.fail(f"medq {result} but MIRAGE {mirage.group(1)}: {output!r}")
            dataset = row["dataset"]
            n[dataset] += 1
            published[dataset] += row["correct"]
            strict[dataset] += result.choice == row["gold"]
            as_a[dataset] += (result.choice or "A") == row["gold"]
            invalid[dataset] += result.choice is None

    def pct(counts: Counter[str], dataset: str) -> float:
        return round(100 * counts[dataset] / n[dataset], 2)

    measured = {d: (pct(published, d), pct(strict, d), pct(as_a, d), invalid[d]) for d in n}
    assert measured == MIRAGE_FIGURES[run]
    assert disagreements == MIRAGE_DISAGREEMENTS[run]


# --- BiasMedQA: free-text answers of 8 models, with the released correctness flags ---------

# The released flags are `response[0] == gold letter` for most runs (so "Based on ..." counts
# as B) and a GPT-3.5 judgement for the llama runs; medq disagrees where those are wrong or
# the response is truncated or garbled. Measured on every 4th line: (agreement %, invalid %).
# Extractor 2 (every changed verdict read by hand) marks as invalid a letter whose text is
# another option's ("E, Campylobacter jejuni" when that is D), several options at once ("D:
# Fluphenazine OR E: Risperidone") and "X is not the correct answer"; it reads answers behind
# zero-width spaces and literal "\n". Meditron's sample is ~117 responses a model, so one
# verdict is 0.85 points: meditron-70b invalid 65.81 -> 67.52, meditron-7b 60.00 -> 60.87.
BIASMEDQA_MEASURED = {
    "gpt-3.5-turbo-0613": (99.98, 0.03),
    "gpt-4-0613": (100.0, 0.06),
    "llama-2-70b-chat": (93.46, 7.02),
    "meditron-70b": (93.16, 67.52),
    "meditron-7b": (90.43, 60.87),
    "mixtral-8x7b-instruct-v0.1": (98.46, 3.39),
    "pmc-llama-13b": (86.40, 25.50),
    "text-bison-001": (100.0, 59.99),
}
_BIASMEDQA_OPTION = re.compile(r"(?:^|, )([A-E]): ")


def _biasmedqa_questions(path: Path) -> dict[int, tuple[dict[str, str], str]]:
    questions = {}
    for line in path.read_text(encoding="utf8").splitlines():
        row = json.loads(line)
        parts = _BIASMEDQA_OPTION.split(row["options"])
        options = {parts[i]: parts[i + 1].replace("\\n", "").strip('\\" ')
                   for i in range(1, len(parts), 2)}
        assert list(options) == list("ABCDE")
        questions[row["idx"]] = (options, row["correct_answer"][0])
    return questions


def test_biasmedqa_agrees_with_released_flags(shared_data: Path) -> None:
    folder = shared_data / "biasmedqa"
    questions = _biasmedqa_questions(folder / "questions_base_medqa_us_5opt_test.jsonl")
    n: Counter[str] = Counter()
    agree: Counter[str] = Counter()
    invalid: Counter[str] = Counter()
    with gzip.open(folder / "model_outputs_all_conditions.jsonl.gz", "rt") as lines:
        for number, line in enumerate(lines):
            if number % 4:
                continue
            row = json.loads(line)
            if row["idx"] is None:  # a few text-bison records lost their question index
                continue
            options, gold = questions[row["idx"]]
            result = extract_choice(row["response"], options)
            model = row["model"]
            n[model] += 1
            agree[model] += (result.choice == gold) == row["is_correct"]
            invalid[model] += result.choice is None
    assert set(n) == set(BIASMEDQA_MEASURED)
    for model, (agreement, invalid_pct) in BIASMEDQA_MEASURED.items():
        assert 100 * agree[model] / n[model] >= agreement - 0.5, model
        assert 100 * invalid[model] / n[model] <= invalid_pct + 0.5, model
