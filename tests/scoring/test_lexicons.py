"""Tests for the answer lexicons and the text preparation they are matched against."""

from __future__ import annotations

import re
import tomllib
from importlib import resources

import pytest

from medq.scoring.extraction.lexicon import (
    FIELDS,
    UnknownLanguageError,
    available_languages,
    lexicon,
    phrase_regex,
)
from medq.scoring.extraction.text import fold, prepare

LANGUAGES = ("ar", "de", "en", "es", "fa", "fr", "it", "ja", "ko", "pl", "pt", "zh")


def test_the_languages_of_the_multilingual_medical_exams_have_lexicons() -> None:
    assert available_languages() == LANGUAGES


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_lexicon_cites_its_sources_and_uses_known_fields(language: str) -> None:
    path = resources.files("medq.scoring") / "lexicons" / f"{language}.toml"
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    meta = document.pop("meta")
    assert meta["language"] == language and meta["name"]
    assert meta["sources"] and all(isinstance(s, str) and len(s) > 20 for s in meta["sources"])
    assert set(document) == set(FIELDS)
    for section, fields in document.items():
        assert set(fields) == set(FIELDS[section]), (language, section)
    # Every language names the answer and can say yes and no.
    assert document["answer"]["nouns"] and document["polarity"]["yes"]
    assert document["polarity"]["no"]
    lexicon((language,))  # compiles


def test_english_is_always_on_and_codes_are_normalised() -> None:
    lex = lexicon(("pt-BR",))
    assert lex.languages == ("en", "pt")
    assert "answer" in lex["answer.nouns"] and "resposta" in lex["answer.nouns"]
    assert lexicon(("PT_br", "en")).languages == ("en", "pt")


def test_an_unknown_language_is_one_clear_error() -> None:
    with pytest.raises(UnknownLanguageError, match=r"no answer lexicon for language 'sw'; "
                                                   r"medq has: ar, de, en"):
        lexicon(("sw",))


def test_scripts_with_their_own_option_letters() -> None:
    assert lexicon(("ar",)).scripts == (("أ", "ب", "ج", "د", "هـ"),)
    assert lexicon(("fa",)).scripts == (("الف", "ب", "ج", "د", "ه"),)


@pytest.mark.parametrize(("phrases", "text", "found"), [
    (["answer", "answer choice"], "the answer choice is", "answer choice"),
    (["answer"], "the answers", None),  # a word boundary after Latin phrases
    (["answer"], "reanswer", None),  # and before them
    (["~n't"], "i don't think", "n't"),  # unless the phrase attaches to the word before
    (["答案"], "最终答案是C", "答案"),  # CJK phrases match inside runs of characters
    (["is correct"], "C is   correct", "is   correct"),  # a space matches any run
])
def test_phrases_become_a_word_bounded_trie(phrases: list[str], text: str,
                                            found: str | None) -> None:
    match = re.search(phrase_regex(phrases), text.lower())
    assert (match.group() if match else None) == (found.lower() if found else None)


def test_fold_keeps_length_and_maps_width_forms_and_punctuation() -> None:
    text = "答案：Ｃ（肺栓塞）。Réponse : «C» — ٣ ۳ ①"
    folded = fold(text)
    assert len(folded) == len(text)
    assert folded == '答案:C(肺栓塞).Réponse : "C" - 3 3 1'


def test_prepare_blanks_reasoning_and_markup_without_moving_offsets() -> None:
    text = "<think>A?</think>**Answer:** C\\n\\nBecause"
    prepared = prepare(text)
    assert len(prepared.prose) == len(prepared.raw) == len(text)
    assert "A?" not in prepared.prose and prepared.prose.index("C") == text.index("C")
    assert prepared.prose[text.index("C"):].count("\n") == 2  # literal \n: line breaks
    assert prepared.unclosed is None
    assert prepare("Answer: C <thinking>hmm").unclosed == (10, 23)
    assert "A" not in prepare("A, surely.</think>C").prose[:15]  # closing tag alone


@pytest.mark.parametrize("opening", ["<think>", "<reasoning>", "<|begin_of_thought|>",
                                     "\u25c1think\u25b7", "[THINK]", "<seed:think>"])
def test_reasoning_block_forms(opening: str) -> None:
    assert prepare(f"{opening} maybe A").unclosed is not None
