"""`medq serve` as a user runs it: the real command in a subprocess, a key made by `medq
serve keys create`, the official SDK as the client; and the one-line message when the
`serve` extra is missing."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from medq.testing.openai_server import FakeOpenAIServer

MEDQ = [sys.executable, "-m", "medq.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_medq_serve_end_to_end(tmp_path: Path, medq_home: Path) -> None:
    pytest.importorskip("uvicorn")
    openai = pytest.importorskip("openai")
    env = {**os.environ, "MEDQ_HOME": str(medq_home)}
    created = subprocess.run([*MEDQ, "serve", "keys", "create", "--name", "ward-7",
                              "--scopes", "pipeline:*"], env=env, capture_output=True,
                             text=True, check=True)
    token = created.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"mq-[a-z2-7]{12}\.[A-Za-z0-9_-]{43}", token)
    listed = subprocess.run([*MEDQ, "serve", "keys", "list"], env=env, capture_output=True,
                            text=True, check=True).stdout
    assert token.split(".")[0] in listed and token.split(".")[1] not in listed

    port = free_port()
    with FakeOpenAIServer() as upstream:
        config = tmp_path / "serve.toml"
        config.write_text(f'[[pipeline]]\nname = "direct"\nmodel = "openai/m"\n'
                          f'base_url = "{upstream.base_url}"\nstrategy = "direct"\n')
        server = subprocess.Popen([*MEDQ, "serve", "--config", str(config), "--port",
                                   str(port)], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health",
                                                timeout=2) as response:
                        assert response.status == 200
                        break
                except OSError:
                    assert server.poll() is None, server.stdout.read()
                    assert time.monotonic() < deadline, "medq serve did not start"
                    time.sleep(0.2)
            client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=token,
                                   max_retries=0)
            reply = client.chat.completions.create(model="direct", messages=[
                {"role": "user", "content": "Which?\nA. one\nB. two\nC. three\nD. four"}])
            assert reply.model_extra["medq"]["answer"] in {"A", "B", "C", "D"}
            assert upstream.count == 1
        finally:
            server.terminate()
            output, _ = server.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}" in output  # bound to loopback by default
    verify = subprocess.run([*MEDQ, "serve", "audit", "verify"], env=env,
                            capture_output=True, text=True)
    assert verify.returncode == 0 and "1 rows" in verify.stdout


def test_a_missing_extra_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "serve.toml"
    config.write_text('[[pipeline]]\nname = "d"\nmodel = "scripted/first"\nstrategy = "direct"\n')
    code = ("import sys; sys.modules['fastapi'] = None; sys.argv = ['medq', 'serve', "
            f"'--config', {str(config)!r}]; from medq.cli import main; main()")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip() == ("error: medq serve needs fastapi, which is not "
                                      "installed: pip install 'medq[serve]'")
