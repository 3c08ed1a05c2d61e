"""Corpus names are names, not paths: everything a corpus name leads to stays inside
``$MEDQ_HOME/corpora`` (index build, search, the strategies' ``corpus=``), by the one rule
that `corpus add` applies."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tests.fault_helpers import invoke, one_error_line

from medq.retrieval import RetrievalError, add_corpus, open_corpus, open_retriever
from medq.retrieval.corpora import corpus_path
from medq.testing.openai_server import FakeOpenAIServer

ESCAPES = ("{outside}", "../outside", "books/../../outside", "..", ".hidden", "a/b")


@pytest.fixture
def outside(medq_home: Path, tmp_path: Path) -> Path:
    """A real corpus copied to a folder beside MEDQ_HOME (what a path name would reach)."""
    source = tmp_path / "books.jsonl"
    source.write_text("".join(json.dumps({"id": str(i), "content": f"glianorex {i}"}) + "\n"
                              for i in range(5)))
    corpus = add_corpus("books", source)
    copy = medq_home.parent / "outside"
    shutil.copytree(corpus.path, copy)
    return copy


def _names(outside: Path) -> list[str]:
    return [name.format(outside=outside) for name in ESCAPES]


def test_cli_refuses_path_names_and_writes_nothing_outside(outside: Path) -> None:
    before = sorted(p.name for p in outside.rglob("*"))
    for name in _names(outside):
        for args in (("index", "build", name), ("index", "build", name, "--retriever",
                                                "dense"), ("search", name, "glianorex"),
                     ("search", f"books+{name}", "glianorex"),
                     ("corpus", "add", name, str(outside / "snippets.jsonl"))):
            code, _, err = invoke(*args)
            assert code == 2, (args, err)
            one_error_line(err, "corpus name", "not a plain name")
    assert sorted(p.name for p in outside.rglob("*")) == before  # no index appeared there
    assert invoke("search", "books", "glianorex", "-k", "2")[0] == 0  # names still work


def test_strategy_corpus_parameter_is_confined(outside: Path) -> None:
    with FakeOpenAIServer() as server:
        for strategy in ("medrag", "imedrag", "uncertainty_search"):
            code, _, err = invoke("eval", "--task", "medqa", "--sample", "--model",
                                  "openai/fake", "--base-url", server.base_url, "--limit", "1",
                                  "--strategy", f"{strategy}:corpus={outside}")
            assert code == 2, err
            one_error_line(err, "not a plain name")
        assert server.count == 0


def test_python_api_applies_the_same_rule(outside: Path) -> None:
    for name in [*_names(outside), "books\n", "", "books/"]:
        for call in (open_corpus, corpus_path):
            with pytest.raises(RetrievalError, match="not a plain name"):
                call(name)
    for name in _names(outside):
        with pytest.raises(RetrievalError, match="not a plain name"):
            open_retriever(f"books+{name}")
    assert open_corpus("books").name == "books"
