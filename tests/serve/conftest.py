"""The live `medq serve` shared by the server's tests (see `serve_helpers`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from serve_helpers import GLIANOREX, LiveServer, generated_corpus, respond, start, write_config

from medq.testing.openai_server import FakeOpenAIServer


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    from medq.retrieval import add_corpus, open_corpus

    home = tmp_path_factory.mktemp("serve-home")
    source = GLIANOREX if GLIANOREX.is_dir() else generated_corpus(
        tmp_path_factory.mktemp("corpus"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MEDQ_HOME", str(home))
        corpus = add_corpus("glianorex", source, progress=False)
        ids = frozenset(s.id for s in open_corpus(corpus.name).snippets())
        with FakeOpenAIServer(respond) as upstream, FakeOpenAIServer(always="500") as broken:
            config = write_config(home / "serve.toml", upstream.base_url, broken.base_url)
            server, thread, port = start(config, home)
            patch.undo()
            live = LiveServer(f"http://127.0.0.1:{port}", home, config, upstream, broken,
                              ids, server, thread)
            try:
                yield live
            finally:
                server.should_exit = True
                thread.join(timeout=30)

