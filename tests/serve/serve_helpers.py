"""Helpers for the server's tests: a live `medq serve` with pipelines over a real corpus
index, a loopback OpenAI-compatible upstream (`FakeOpenAIServer`), uvicorn on 127.0.0.1.

One server per test session (building the index and warming BM25 takes seconds); each
test makes its own key, asks questions no other test asks (so nothing is answered from
the call cache unless a test means it), and reads the server's own store, key table and
audit log by path.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medq.seeds import wire_seed
from medq.testing.openai_server import FakeOpenAIServer, prompt_text

GLIANOREX = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "glianorex_books"
TOKEN = re.compile(r"\s*\S+")  # how the fake server counts tokens
RAG_REPLY = json.dumps({"step_by_step_thinking": "Document [1] and Document [2] both "
                        "describe it; so the answer is B.", "answer_choice": "B"})
SPLIT = "ABAAB"  # by sample: three votes for A, two for B


def respond(body: Mapping[str, Any], index: int) -> str:
    """Answers by the model a pipeline names: `good` cites and answers B, `split` votes
    3–2 across its five samples (told apart by their seeds), `direct` answers C."""
    model = body["model"]
    if model == "good":
        return RAG_REPLY
    if model == "split":
        sample = next(i for i in range(5) if wire_seed(0, i) == body.get("seed"))
        letter = SPLIT[sample]
        return json.dumps({"step_by_step_thinking": "Document [1] is unclear.",
                           "answer_choice": letter})
    return "Answer: C"


def generated_corpus(folder: Path) -> Path:
    """A small corpus in the Glianorex books' form (markdown chapters), when the shared
    data is not there."""
    folder.mkdir(parents=True, exist_ok=True)
    topics = ["regulates mood and emotional balance", "secretes neurostabilin",
              "sits beside the pineal gland", "is inflamed in glianoritis",
              "is imaged with contrast MRI", "develops from neural crest cells"]
    for book in range(2):
        text = "\n\n".join(
            f"# Chapter {n}\n\n" + " ".join(f"The glianorex {topic} (book {book}, part {n}, "
                                          f"sentence {k})." for k in range(40))
            for n, topic in enumerate(topics))
        (folder / f"book-{book}.md").write_text(text, encoding="utf-8")
    return folder


@dataclass
class LiveServer:
    """A running `medq serve`; see the module docstring."""

    url: str
    home: Path
    config: Path
    upstream: FakeOpenAIServer
    broken: FakeOpenAIServer
    corpus_ids: frozenset[str]
    server: Any = None
    thread: threading.Thread | None = None

    @property
    def api(self) -> str:
        return f"{self.url}/v1"

    def key(self, scopes: str = "pipeline:*", **limits: int) -> str:
        """A new key (the way `medq serve keys create` makes one)."""
        from medq.serve.keys import KeyStore

        with KeyStore(self.home / "serve" / "keys.sqlite") as keys:
            token, _ = keys.create(f"test-{uuid.uuid4().hex[:8]}", scopes, limits)
        return token

    def client(self, token: str, **options: Any) -> Any:
        from openai import OpenAI

        return OpenAI(base_url=self.api, api_key=token, max_retries=0, timeout=60,
                      **options)

    def audit_rows(self) -> list[dict[str, Any]]:
        from medq.serve.audit import AuditLog

        with AuditLog(self.home / "serve" / "audit.sqlite") as log:
            return list(log.rows())


def question(topic: str = "What does the glianorex regulate?") -> str:
    """A question no other test asks (a fresh stem, so no cached call answers it)."""
    return (f"{topic} (case {uuid.uuid4().hex[:10]})\nA. Bone growth\nB. Mood and "
            "emotional balance\nC. Hair colour\nD. Blood pressure")


def write_config(path: Path, upstream: str, broken: str, **extra: str) -> Path:
    path.write_text(f"""\
[limits]
requests_per_minute = 1000
tokens_per_minute = 100000000
concurrent = 64

[[pipeline]]
name = "rag-sc"
model = "openai/good"
base_url = "{upstream}"
strategy = "self_consistency(n=3,base=medrag(corpus=glianorex,k=8))"
abstain_below = 0.5

[[pipeline]]
name = "split"
model = "openai/split"
base_url = "{upstream}"
strategy = "self_consistency(n=5,base=medrag(corpus=glianorex,k=8))"
abstain_below = 0.7

[[pipeline]]
name = "direct"
model = "openai/direct"
base_url = "{upstream}"
strategy = "direct"
store_content = true

[[pipeline]]
name = "broken"
model = "openai/any"
base_url = "{broken}"
strategy = "direct"
upstream_attempts = 1
""", encoding="utf-8")
    return path


def start(config: Path, home: Path) -> tuple[Any, threading.Thread, int]:
    """uvicorn serving `config` in a thread; the app is built in that thread, whose event
    loop uses its SQLite connections."""
    import uvicorn

    from medq.serve.app import create_app
    from medq.serve.audit import AuditLog
    from medq.serve.config import load_config
    from medq.serve.keys import KeyStore
    from medq.serve.service import Service
    from medq.store import Store

    box: dict[str, Any] = {}

    def run() -> None:
        try:
            loaded = load_config(config)
            service = Service(loaded, store=Store(home / "medq.sqlite"),
                              keys=KeyStore(home / "serve" / "keys.sqlite"),
                              audit=AuditLog(home / "serve" / "audit.sqlite"))
            app = create_app(loaded, service=service)
            box["server"] = uvicorn.Server(uvicorn.Config(
                app, host="127.0.0.1", port=0, log_level="warning", access_log=False))
        except BaseException as exc:  # surfaced in the fixture below
            box["error"] = exc
            return
        box["server"].run()

    thread = threading.Thread(target=run, name="medq-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if "error" in box:
            raise box["error"]
        server = box.get("server")
        if server is not None and server.started:
            port = server.servers[0].sockets[0].getsockname()[1]
            return server, thread, port
        if not thread.is_alive():
            raise RuntimeError("medq serve stopped before it started")
        time.sleep(0.05)
    raise TimeoutError("medq serve did not start within 60 s")



def received_since(server: FakeOpenAIServer, before: int) -> list[Mapping[str, Any]]:
    """Chat bodies the upstream received after its first `before` requests."""
    return [r.body for r in server.requests[before:] if r.path.endswith("/chat/completions")]


def upstream_tokens(bodies: list[Mapping[str, Any]]) -> tuple[int, int]:
    """(prompt, completion) tokens of these upstream calls, counted as the fake server
    counts them: independently of medq's own accounting."""
    prompt = sum(len(TOKEN.findall(prompt_text(b))) for b in bodies)
    completion = sum(len(TOKEN.findall(respond(b, 0))) * b.get("n", 1) for b in bodies)
    return prompt, completion
