"""Explanation text: the template backend, the paper's prompts, and the HTTP client against a real local
HTTP server speaking the OpenAI chat protocol (answers, retries, errors, timeouts, malformed JSON)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rllib_nsrl.systems.insight.explain_text import (
    HTTPBackend,
    HTTPBackendError,
    TemplateBackend,
    decision_prompt,
    policy_prompt,
)

POLICY = {
    "threshold": 0.01,
    "max_terms": 6,
    "weights_kept": 3,
    "weights_total": 100,
    "equations": [
        {"action": "NOOP", "move": "stay", "shown": "0.5", "terms_left_out": 0},
        {"action": "RIGHT", "move": "up", "shown": "-12.0*y_ball_4 + 11.0*y_player_4 + other",
         "terms_left_out": 2},
        {"action": "LEFT", "move": "down", "shown": "12.0*y_ball_4 - 11.0*y_player_4", "terms_left_out": 0},
    ],
    "fidelity_pruned_vs_neural": 0.9,
    "pruned_vs_unpruned": 0.95,
    "mean_probabilities": {"stay": 0.1, "up": 0.5, "down": 0.4},
    "states": 200,
}
DECISION = {
    "action": "RIGHT",
    "move": "up",
    "probabilities": {"stay": 0.05, "up": 0.9, "down": 0.05},
    "inputs": {"y_ball_4": 0.2, "y_player_4": 0.6, "x_ball_4": 0.0},
    "top": [("y_player_4", 0.6, 1.1), ("y_ball_4", 0.2, -1.2)],
}


def test_template_text_reads_the_signs_and_magnitudes():
    backend = TemplateBackend()
    policy = backend.policy_text("Pong", ["y_ball_4", "y_player_4"], POLICY)
    assert "`RIGHT` (up): its logit grows with `y_player_4` (+11) and falls with `y_ball_4` (-12)." in policy
    assert "`NOOP` (stay): a constant logit after pruning." in policy
    assert "90% of the 200 played states" in policy and "3 of 100 weights kept" in policy
    decision = backend.decision_text("Pong", POLICY, DECISION)
    assert decision.startswith("The EQL actor chose **up** (`RIGHT`, probability 0.90")
    assert "`y_player_4` = 0.60 (gradient 1.10: a larger value makes up more likely" in decision
    assert "`y_ball_4` = 0.20 (gradient -1.20: a larger value makes up less likely" in decision
    assert "Not perceived in the newest frame: ball." in decision
    assert backend.decision_text("Pong", POLICY, DECISION) == decision  # deterministic


def test_prompts_carry_the_equations_variables_values_and_gradients():
    policy = policy_prompt("Pong", ["y_ball_4", "y_player_4"], POLICY)
    user = policy[-1]["content"]
    assert "logit[RIGHT] = -12.0*y_ball_4 + 11.0*y_player_4 + other" in user
    assert "y grows downwards" in user and "Interpret this policy in three steps" in user
    decision = decision_prompt("Pong", POLICY, DECISION)[-1]["content"]
    assert "took the action RIGHT (up)" in decision
    assert "y_ball_4 = 0.20, gradient of log-probability of the action w.r.t. it: -1.20" in decision


class Server:
    """A local OpenAI-style endpoint whose answers the test scripts: a list of (status, body) or 'sleep'."""

    def __init__(self, script):
        self.script, self.requests = list(script), []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                outer.requests.append((self.path, dict(self.headers), json.loads(self.rfile.read(
                    int(self.headers["Content-Length"])))))  # fmt: skip
                status, body = outer.script.pop(0)
                if status == "sleep":
                    threading.Event().wait(body)
                    status, body = 200, "{}"
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode() if isinstance(body, str) else json.dumps(body).encode())

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(request):
    s = Server(request.param)
    yield s
    s.close()


def answer(text):
    return {"choices": [{"message": {"role": "assistant", "content": f"  {text}\n"}}]}


@pytest.mark.parametrize("server", [[(200, answer("It tracks the ball."))]], indirect=True)
def test_http_backend_sends_the_prompt_and_reads_the_answer(server, monkeypatch):
    monkeypatch.setenv("MY_KEY", "sk-test")
    backend = HTTPBackend(server.url, "smol", api_key_env="MY_KEY", retries=0)
    assert backend.policy_text("Pong", ["y_ball_4"], POLICY) == "It tracks the ball."
    path, headers, body = server.requests[0]
    assert path == "/v1/chat/completions" and headers["Authorization"] == "Bearer sk-test"
    assert body["model"] == "smol" and body["temperature"] == 0 and body["messages"][0]["role"] == "system"


@pytest.mark.parametrize("server", [[(503, "busy"), (200, answer("ok"))]], indirect=True)
def test_http_backend_retries_a_server_error(server, monkeypatch):
    monkeypatch.setattr("time.sleep", lambda s: None)
    backend = HTTPBackend(server.url, retries=1)
    assert backend.decision_text("Pong", POLICY, DECISION) == "ok"
    assert len(server.requests) == 2 and "model" not in server.requests[0][2]  # no model given: none sent


@pytest.mark.parametrize("server", [[(400, "bad request")]], indirect=True)
def test_http_backend_does_not_retry_a_client_error(server):
    with pytest.raises(HTTPBackendError, match="HTTP 400"):
        HTTPBackend(server.url, retries=3).chat([{"role": "user", "content": "hi"}])
    assert len(server.requests) == 1


@pytest.mark.parametrize("server", [[(200, "not json")], [(200, {"choices": []})]], indirect=True)
def test_http_backend_refuses_a_malformed_answer(server):
    with pytest.raises(HTTPBackendError, match="not an OpenAI chat completion"):
        HTTPBackend(server.url, retries=0).chat([{"role": "user", "content": "hi"}])


@pytest.mark.parametrize("server", [[("sleep", 2.0)]], indirect=True)
def test_http_backend_times_out_with_one_line(server):
    with pytest.raises(HTTPBackendError, match="no answer after 1 tries"):
        HTTPBackend(server.url, retries=0, timeout_s=0.2).chat([{"role": "user", "content": "hi"}])


def test_http_backend_names_an_unreachable_endpoint(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda s: None)
    with pytest.raises(HTTPBackendError, match="no answer after 2 tries"):
        HTTPBackend("http://127.0.0.1:9/v1", retries=1, timeout_s=1).chat([{"role": "user", "content": "hi"}])


def test_mean_move_probabilities_average_the_per_state_probabilities():
    """The policy's "on average" figure is the mean of each state's merged probabilities, not the softmax
    of the mean logits: two states sure of opposite moves average to about one half each, while the mean
    logits (25 for up, 5 for down) would give up almost 1."""
    import torch

    from rllib_nsrl.systems.insight.explain import merged_probabilities

    actions = ["NOOP", "FIRE", "RIGHT", "LEFT", "RIGHTFIRE", "LEFTFIRE"]
    logits = torch.tensor([[0.0, 0.0, 50.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 10.0, 0.0, 0.0]])
    mean = merged_probabilities(logits, "Pong", actions)
    assert mean["up"] == pytest.approx(0.5, abs=1e-3) and mean["down"] == pytest.approx(0.5, abs=1e-3)
    one = merged_probabilities(torch.tensor([0.0, 0.0, 1.0, 0.0, 1.0, 0.0]), "Pong", actions)
    assert sum(one.values()) == pytest.approx(1.0) and one["up"] > one["down"]
