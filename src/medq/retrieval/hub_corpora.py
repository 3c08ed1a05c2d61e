"""The MedRAG corpora (Xiong et al., "Benchmarking Retrieval-Augmented Generation for
Medicine", Findings of ACL 2024) from the Hugging Face Hub.

``medq corpus add textbooks --hub textbooks`` downloads the ready-chunked snippets
(``chunk/*.jsonl``: ``id``, ``title``, ``content``) of one of MedRAG's four corpora and
stores them like any other corpus. The commit the files came from is recorded in the
corpus's ``source`` (``hub:MedRAG/textbooks@<commit>``); pass ``revision`` to pin it.
"""

from __future__ import annotations

import re
from pathlib import Path

from medq.hub import cache_dir, require_reachable
from medq.retrieval.base import RetrievalError
from medq.retrieval.corpora import Corpus, read_snippets, write_corpus

#: MedRAG's corpora: name -> (Hub dataset repository, snippets as published).
MEDRAG_CORPORA = {
    "textbooks": "MedRAG/textbooks",  # 125,847 snippets from 18 textbooks
    "statpearls": "MedRAG/statpearls",  # 301,202 snippets (licence terms on the Hub)
    "pubmed": "MedRAG/pubmed",  # 23.9M PubMed abstract snippets
    "wikipedia": "MedRAG/wikipedia",  # 29.9M snippets
}
_COMMIT = re.compile(r"/snapshots/([0-9a-f]{40})(?:/|$)")


def download_medrag(corpus: str, revision: str | None = None) -> tuple[Path, str]:
    """The local folder of MedRAG corpus `corpus` and the commit it was downloaded at."""
    repo = MEDRAG_CORPORA.get(corpus, corpus)
    from huggingface_hub import snapshot_download

    def fetch(*, local_files_only: bool) -> str:
        return snapshot_download(
            repo_id=repo, repo_type="dataset", revision=revision,
            allow_patterns=["chunk/*.jsonl"], cache_dir=cache_dir(),
            local_files_only=local_files_only,
        )

    try:
        try:
            folder = fetch(local_files_only=True)
        except OSError:  # not cached: ask the Hub, failing at once when it is unreachable
            require_reachable()
            folder = fetch(local_files_only=False)
    except OSError as exc:  # huggingface_hub's network and not-found errors
        raise RetrievalError(
            f"could not download corpus {repo!r} ({type(exc).__name__}); offline, add the "
            f"snippets from a local copy instead: `medq corpus add NAME PATH/chunk`"
        ) from None
    match = _COMMIT.search(Path(folder).as_posix())
    return Path(folder), match.group(1) if match else (revision or "unknown")


def add_medrag_corpus(
    name: str, corpus: str, *, revision: str | None = None, replace: bool = False
) -> Corpus:
    """Download MedRAG corpus `corpus` (``textbooks``, ``statpearls``, ``pubmed``,
    ``wikipedia`` or a repository ID) and store it as corpus `name`."""
    folder, commit = download_medrag(corpus, revision)
    chunks = folder / "chunk"
    if not chunks.is_dir():
        raise RetrievalError(f"corpus {corpus!r}: the download has no chunk/ folder")
    repo = MEDRAG_CORPORA.get(corpus, corpus)
    return write_corpus(
        name, read_snippets(chunks, progress=True), source=f"hub:{repo}@{commit}", replace=replace,
        settings={"hub": repo, "revision": commit},
    )
