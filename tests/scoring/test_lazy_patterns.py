"""Patterns compiled when first used (issue 19) still all compile, for every language and
kind of label: a broken one would otherwise wait for the one response that needs it."""

from __future__ import annotations

import re
import subprocess
import sys
from functools import cached_property

import pytest

from medq.scoring.extraction import commitment, labels, statements, values
from medq.scoring.extraction.lexicon import available_languages, lexicon


def _lazy(cls: type) -> list[str]:
    return [n for n, v in vars(cls).items() if isinstance(v, cached_property)]


def test_the_lazy_patterns_are_the_rarely_used_ones() -> None:
    assert "trigger" not in _lazy(statements.Patterns)
    assert len(_lazy(statements.Patterns)) >= 12
    assert len(_lazy(values.ValuePatterns)) >= 9
    assert set(_lazy(commitment.Markers)) == {"inverted", "refusal"}


@pytest.mark.parametrize("language", available_languages())
def test_every_lazy_pattern_compiles(language: str) -> None:
    lex = lexicon((language,))
    for keys in (("A", "B", "C", "D"), ("a", "b", "c"), ("1", "2", "3"), ("I", "II", "III")):
        token = labels.build_options(tuple((k, f"text {k}") for k in keys), lex).token
        for obj in (statements.Patterns(token, lex), values.ValuePatterns(token, lex)):
            for name in _lazy(type(obj)):
                assert isinstance(getattr(obj, name), re.Pattern | str), name
    markers = commitment.Markers(lex)
    for name in _lazy(commitment.Markers):
        assert isinstance(getattr(markers, name), re.Pattern)


def test_a_plain_answer_compiles_few_patterns() -> None:
    # In a fresh process: other tests' responses share the cached patterns.
    code = (
        "from medq.scoring.extract import extract_choice\n"
        "from medq.scoring.extraction import labels, statements\n"
        "from medq.scoring.extraction.lexicon import lexicon\n"
        "options = {'A': 'Ampicillin', 'B': 'Ceftriaxone', 'C': 'Doxycycline', 'D': 'Nitro'}\n"
        "assert extract_choice('Answer: C', options).choice == 'C'\n"
        "lex = lexicon(('en',))\n"
        "token = labels.build_options(tuple(options.items()), lex).token\n"
        "print(sorted(vars(statements.patterns(token, lex))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    compiled = out.stdout
    assert "'trigger'" in compiled
    assert "'mention'" not in compiled and "'line_prefix'" not in compiled


def test_cjk_ranges_are_the_character_class_they_replace() -> None:
    from medq.scoring.extraction.lexicon import _cjk

    cls = re.compile(r"[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff"
                     r"\uac00-\ud7af\uf900-\ufaff]")
    assert all(_cjk(chr(c)) == (cls.match(chr(c)) is not None) for c in range(0x10000))
    assert not _cjk("\U00020000")


def test_the_cjk_ranges_are_the_character_class_they_replaced() -> None:
    import re

    from medq.scoring.extraction.lexicon import _cjk

    old = re.compile(r"[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff"
                     r"\uac00-\ud7af\uf900-\ufaff]")
    assert all(_cjk(chr(c)) == bool(old.match(chr(c))) for c in range(0x10000))
