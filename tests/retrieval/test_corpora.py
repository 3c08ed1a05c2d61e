"""Corpora: chunking, readers, the corpus store, and index staleness."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from medq.retrieval import (
    BM25Retriever,
    RetrievalError,
    add_corpus,
    chunk_text,
    list_corpora,
    open_corpus,
    read_snippets,
)


def test_chunks_are_word_windows_with_overlap_and_exact_spans() -> None:
    text = "  one two\nthree four five  six seven\teight nine "
    chunks = chunk_text(text, chunk_words=4, overlap_words=2)
    assert [c.text.split() for c in chunks] == [
        ["one", "two", "three", "four"],
        ["three", "four", "five", "six"],
        ["five", "six", "seven", "eight"],
        ["seven", "eight", "nine"],
    ]
    for c in chunks:
        assert text[c.start:c.end] == c.text  # original formatting kept
    assert chunk_text("a b", chunk_words=4, overlap_words=1)[0].text == "a b"
    assert chunk_text("", chunk_words=4, overlap_words=1) == []
    with pytest.raises(ValueError):
        chunk_text("a", chunk_words=2, overlap_words=2)


def test_markdown_chunks_keep_source_position_and_nearest_heading(tmp_path: Path) -> None:
    words = " ".join(f"w{i}" for i in range(30))
    (tmp_path / "book.md").write_text(f"# Book\n## Heart\n{words}\n## Lungs\n{words}\n")
    snippets = list(read_snippets(tmp_path, chunk_words=20, overlap_words=5))
    assert [s.id for s in snippets] == [f"book.md#{i}" for i in range(len(snippets))]
    titles = [s.title for s in snippets]  # the last heading at or above the chunk's start
    assert titles[0] == "Book" and "Heart" in titles and titles[-1] == "Lungs"
    text = (tmp_path / "book.md").read_text()
    for s in snippets:
        assert s.metadata["source"] == "book.md"
        assert text[s.metadata["start"]:s.metadata["end"]] == s.content


def test_reads_medrag_jsonl_gz_json_lists_and_pubmedqa(tmp_path: Path) -> None:
    rows = [{"id": "s1", "title": "T", "content": "c1", "PMID": 7},
            {"id": "s2", "title": "U", "contents": "c2"}]
    with gzip.open(tmp_path / "a.jsonl.gz", "wt") as f:
        f.write("\n".join(json.dumps(r) for r in rows) + "\n\n")
    (tmp_path / "b.json").write_text(json.dumps([{"id": "s3", "title": "", "text": "c3"}]))
    (tmp_path / "c.json").write_text(json.dumps(
        {"123": {"QUESTION": "q?", "CONTEXTS": ["first.", "second."], "YEAR": "2001"}}))
    got = {s.id: s for s in read_snippets(tmp_path)}
    assert sorted(got) == ["123", "s1", "s2", "s3"]
    assert got["s1"].metadata == {"PMID": 7} and got["s2"].content == "c2"
    assert got["123"].content == "first. second." and got["123"].metadata == {"year": "2001"}
    (tmp_path / "d.json").write_text(json.dumps({"x": 1}))
    with pytest.raises(RetrievalError, match="PubMedQA"):
        list(read_snippets(tmp_path / "d.json"))


def test_add_open_list_and_replace(tmp_path: Path) -> None:
    source = tmp_path / "s.jsonl"
    source.write_text('{"id": "a", "title": "Ta", "content": "fever"}\n'
                      '{"id": "b", "title": "", "content": "cough"}\n')
    corpus = add_corpus("tiny", source)
    assert len(corpus) == 2 and corpus.snippet(1).content == "cough"
    assert corpus.snippet(0).text() == "Ta\nfever"
    assert [c["name"] for c in list_corpora()] == ["tiny"]
    with pytest.raises(RetrievalError, match="exists"):
        add_corpus("tiny", source)
    with pytest.raises(RetrievalError, match="unknown corpus 'nope'.*tiny"):
        open_corpus("nope")
    with pytest.raises(RetrievalError, match="corpus name"):
        add_corpus("../x", source)
    source.write_text('{"id": "a", "content": "x"}\n{"id": "a", "content": "y"}\n')
    with pytest.raises(RetrievalError, match="twice"):
        add_corpus("dup", source)


def test_bm25_retriever_builds_once_and_rebuilds_after_the_corpus_changes(
    tmp_path: Path,
) -> None:
    source = tmp_path / "s.jsonl"
    source.write_text('{"id": "a", "title": "", "content": "fever"}\n')
    first = BM25Retriever(add_corpus("c", source))
    assert [p.id for p in first.search("fever", 3)] == ["a"]
    stamp = (open_corpus("c").index_dir("bm25") / "meta.json").stat().st_mtime_ns
    BM25Retriever(open_corpus("c"))  # reopened, not rebuilt
    assert (open_corpus("c").index_dir("bm25") / "meta.json").stat().st_mtime_ns == stamp
    source.write_text('{"id": "b", "title": "", "content": "fever fever"}\n')
    again = BM25Retriever(add_corpus("c", source, replace=True))
    passages = again.search("fever", 3)
    assert [p.id for p in passages] == ["b"] and passages[0].corpus == "c"
    assert again.search_many(["fever", "nothing"], 2)[1] == []
