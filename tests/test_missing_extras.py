"""A command that needs an optional dependency which is not installed says, in one line,
which extra installs it, and exits 2. Absence is simulated the way Python itself reports
it: a None entry in sys.modules makes `import x` raise ModuleNotFoundError."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from tests.fault_helpers import invoke, one_error_line, store_with_run

from medq import embeddings
from medq._extras import EXTRAS, MissingExtraError, missing_extra, require_extra


def _missing(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    for name in modules:
        monkeypatch.setitem(sys.modules, name, None)


def _refused(args: tuple[str, ...], extra: str, *fragments: str) -> None:
    code, _, err = invoke(*args)
    assert code == 2, err
    one_error_line(err, f"pip install 'medq[{extra}]'", *fragments)


@pytest.mark.parametrize("module", ["torch", "transformers"])
def test_local_model_without_torch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                   module: str) -> None:
    _missing(monkeypatch, module)
    _refused(("eval", "--task", "medqa", "--sample", "--limit", "1", "--model",
              f"hf/{tmp_path}"), "hf", module, "local models (hf/...)")


@pytest.mark.parametrize("strategy", ["few_shot:k=2,selection=knn", "medprompt"])
def test_knn_strategies_without_sentence_transformers(monkeypatch: pytest.MonkeyPatch,
                                                      strategy: str) -> None:
    _missing(monkeypatch, "sentence_transformers")
    monkeypatch.setattr(embeddings, "_ENCODERS", {})  # no encoder loaded by earlier tests
    _refused(("eval", "--task", "medqa", "--sample", "--limit", "1", "--model",
              "scripted/first", "--strategy", strategy), "hf", "sentence-transformers")


def test_dense_retrieval_without_faiss_or_sentence_transformers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"id": "1", "content": "glianorex"}) + "\n")
    assert invoke("corpus", "add", "c", str(corpus))[0] == 0
    with monkeypatch.context() as patch:
        _missing(patch, "faiss")
        _refused(("index", "build", "c", "--retriever", "dense"), "rag", "faiss-cpu",
                 "dense retrieval")
    with monkeypatch.context() as patch:
        _missing(patch, "sentence_transformers")
        _refused(("index", "build", "c", "--retriever", "dense:medcpt"), "hf",
                 "sentence-transformers")


def test_parquet_export_without_pyarrow(monkeypatch: pytest.MonkeyPatch, medq_home: Path,
                                        tmp_path: Path) -> None:
    store_with_run(medq_home, items=2)
    _missing(monkeypatch, "pyarrow", "pyarrow.parquet")
    out = tmp_path / "run.parquet"
    _refused(("export", "last", "--format", "parquet", "-o", str(out)), "parquet",
             "parquet export")
    assert not out.exists()


def test_require_extra_and_missing_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    assert require_extra("json", "x") is json
    _missing(monkeypatch, "faiss")
    with pytest.raises(MissingExtraError, match=r"^search needs faiss-cpu, which is not "
                                                r"installed: pip install 'medq\[rag\]'$"):
        require_extra("faiss", "search")
    with pytest.raises(ModuleNotFoundError) as info:
        import faiss  # noqa: F401
    assert "medq[rag]" in str(missing_extra(info.value))
    assert missing_extra(ModuleNotFoundError("no", name="left_pad")) is None
    assert {extra for extra, _, _ in EXTRAS.values()} == {"hf", "rag", "parquet", "ray",
                                                           "serve"}
