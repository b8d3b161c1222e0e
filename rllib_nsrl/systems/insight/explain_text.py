"""Text for `nsrl explain`: backends behind one small interface, the paper's prompts, the Markdown report.

A backend has `name`, `policy_text(game, variables, policy) -> str` and `decision_text(game, policy,
decision) -> str`. `TemplateBackend` (default) writes sentences from the equations' signs and
magnitudes and the attributions: deterministic, offline. `HTTPBackend` sends the INSIGHT paper's three
prompts (task and variables with the equations and probabilities; policy interpretation in three steps;
a decision with its input values and gradients) to any OpenAI-compatible `/chat/completions` endpoint.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request

VARIABLES = (
    "Each variable is [x|y]_<object>_<frame>: the object's centre, x from the left edge and y from the top "
    "edge of the screen (y grows downwards), both scaled to [0, 1]; frames 1..4 are the four most recent "
    "frames, 4 the newest. A variable is 0 when the object is not on screen."
)


SYSTEM = "You explain reinforcement-learning {what} to people, precisely and briefly."


def _fmt(x: float) -> str:
    return f"{x:.2e}" if x and abs(x) < 1e-2 else f"{x:.2f}"


class TemplateBackend:
    """Deterministic sentences from the numbers; nothing is downloaded or sent."""

    name = "template"

    def policy_text(self, game: str, variables, policy: dict) -> str:
        """What each action's logit grows and falls with, and how faithful the equations are."""
        lines = []
        for eq in policy["equations"]:
            terms = _terms(eq["shown"])
            if not terms:
                lines.append(f"- `{eq['action']}` ({eq['move']}): a constant logit after pruning.")
                continue
            ups = [f"`{t}` ({c:+.2g})" for c, t in terms if c > 0][:3]
            downs = [f"`{t}` ({c:+.2g})" for c, t in terms if c < 0][:3]
            parts = []
            if ups:
                parts.append("grows with " + ", ".join(ups))
            if downs:
                parts.append("falls with " + ", ".join(downs))
            lines.append(f"- `{eq['action']}` ({eq['move']}): its logit " + " and ".join(parts) + ".")
        probs = ", ".join(
            f"{k} {v:.0%}" for k, v in sorted(policy["mean_probabilities"].items(), key=lambda kv: -kv[1])
        )
        fid = policy["fidelity_pruned_vs_neural"]
        fidelity = (
            f"The pruned equations choose the neural actor's action in {fid:.0%} of the {policy['states']} "
            "played states"
            if fid is not None
            else "There is no neural actor to compare with"
        )
        return (
            f"In {game}, with weights below {policy['threshold']:g} pruned ({policy['weights_kept']} of "
            f"{policy['weights_total']} weights kept):\n\n" + "\n".join(lines) + "\n\n"
            f"On average over the played states the moves get: {probs}. {fidelity}; pruning changes the "
            f"greedy action in {1 - policy['pruned_vs_unpruned']:.0%} of them."
        )

    def decision_text(self, game: str, policy: dict, decision: dict) -> str:
        """Which inputs pushed the chosen action up or down, and by how much."""
        p = decision["probabilities"][decision["move"]]
        parts = []
        for name, value, grad in decision["top"][:3]:
            effect = "more" if grad > 0 else "less"
            parts.append(
                f"`{name}` = {_fmt(value)} (gradient {_fmt(grad)}: a larger value makes "
                f"{decision['move']} {effect} "
                f"likely; value × gradient {_fmt(value * grad)})"
            )
        absent = sorted({n.split("_", 1)[1].rsplit("_", 1)[0] for n, v in decision["inputs"].items()
                         if n.endswith("_4") and v == 0.0})  # fmt: skip
        missing = f" Not perceived in the newest frame: {', '.join(absent)}." if absent else ""
        return (
            f"The EQL actor chose **{decision['move']}** (`{decision['action']}`, probability {p:.2f} "
            "after merging "
            f"raw actions). The inputs with the largest influence on this choice: "
            + "; ".join(parts)
            + "."
            + missing
        )


def _terms(shown: str) -> list[tuple[float, str]]:
    """(coefficient, monomial) pairs of a summarised plain-text expression; 'other' is skipped."""
    import sympy

    expr = sympy.sympify(shown)
    out = []
    for monomial, coefficient in expr.as_coefficients_dict().items():
        if str(monomial) in ("other", "1"):
            continue
        out.append((float(coefficient), str(monomial)))
    return sorted(out, key=lambda t: -abs(t[0]))


def task_prompt(game: str, variables, policy: dict) -> str:
    """Prompt 1 (the INSIGHT paper): the task, the variables, the logit equations and probabilities."""
    eqs = "\n".join(f"logit[{e['action']}] = {e['shown']}" for e in policy["equations"])
    probs = ", ".join(f"{k}: {v:.2f}" for k, v in policy["mean_probabilities"].items())
    return (
        f"An agent plays the Atari game {game}. Its policy is a set of equations over object coordinates. "
        f"{VARIABLES}\nVariables: {', '.join(variables)}.\nThe probability of each action is the softmax "
        f"of its logit:\n{eqs}\n('other' sums small terms.) Average action probabilities: {probs}."
    )


def policy_prompt(game: str, variables, policy: dict) -> list[dict]:
    """Prompt 2: interpret the policy in three steps."""
    return [
        {"role": "system", "content": SYSTEM.format(what="policies")},
        {"role": "user", "content": task_prompt(game, variables, policy)
         + "\n\nInterpret this policy in three "
         "steps: 1. what each variable means in the game; 2. what each equation favours; 3. the strategy "
         "as a whole, in two sentences."},
    ]  # fmt: skip


def decision_prompt(game: str, policy: dict, decision: dict) -> list[dict]:
    """Prompt 3: explain one decision from its input values and gradients."""
    inputs = "\n".join(f"{n} = {_fmt(v)}, gradient of log-probability of the action w.r.t. it: {_fmt(g)}"
                       for n, v, g in decision["top"])  # fmt: skip
    return [
        {"role": "system", "content": SYSTEM.format(what="decisions")},
        {"role": "user", "content": task_prompt(game, [n for n, _, _ in decision["top"]], policy)
         + f"\n\nIn one state the agent took the action {decision['action']} ({decision['move']}). The most "
         f"influential inputs:\n{inputs}\nExplain in three sentences why the agent took this action."},
    ]  # fmt: skip


class HTTPBackend:
    """An OpenAI-compatible chat endpoint: `POST {url}/chat/completions`, temperature 0.

    url: the API base (e.g. http://127.0.0.1:8000/v1); model: sent when given; the key, if any, is read
    from the environment variable `api_key_env`. Connection errors, timeouts and 5xx answers are retried
    `retries` times with a doubling pause; anything else is an `HTTPBackendError` with one line."""

    name = "http"

    def __init__(self, url: str, model: str | None = None, *, api_key_env: str = "OPENAI_API_KEY",
                 timeout_s: float = 60.0, retries: int = 2, max_tokens: int = 400):  # fmt: skip
        self.url = url.rstrip("/") + "/chat/completions"
        self.model, self.api_key_env = model, api_key_env
        self.timeout_s, self.retries, self.max_tokens = timeout_s, retries, max_tokens

    def chat(self, messages: list[dict]) -> str:
        """The assistant's answer to `messages`."""
        body = {"messages": messages, "temperature": 0, "max_tokens": self.max_tokens}
        if self.model:
            body["model"] = self.model
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        request = urllib.request.Request(self.url, json.dumps(body).encode(), headers, method="POST")
        pause = 1.0
        for attempt in range(self.retries + 1):
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    raw = response.read()
                break
            except urllib.error.HTTPError as err:
                if err.code < 500 or attempt == self.retries:
                    raise HTTPBackendError(f"{self.url}: HTTP {err.code} {err.reason}") from None
            except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
                if attempt == self.retries:
                    reason = getattr(err, "reason", err)
                    raise HTTPBackendError(
                        f"{self.url}: no answer after {self.retries + 1} tries ({reason})"
                    ) from None
            time.sleep(pause)
            pause *= 2
        try:
            return json.loads(raw)["choices"][0]["message"]["content"].strip()
        except (ValueError, KeyError, IndexError, TypeError):
            raise HTTPBackendError(f"{self.url}: not an OpenAI chat completion: {raw[:120]!r}") from None

    def policy_text(self, game: str, variables, policy: dict) -> str:
        """The model's interpretation of the policy (prompt 2)."""
        return self.chat(policy_prompt(game, variables, policy))

    def decision_text(self, game: str, policy: dict, decision: dict) -> str:
        """The model's explanation of one decision (prompt 3)."""
        return self.chat(decision_prompt(game, policy, decision))


class HTTPBackendError(RuntimeError):
    """The endpoint failed or answered something that is not a chat completion."""


def render_markdown(
    loaded, policy: dict, policy_text: str, decisions: list[dict], backend: str, gif: dict | None = None
) -> str:
    """The `explanation.md` report; `gif` ({"file", "steps"}) adds a section showing the rollout."""
    lines = [
        f"# INSIGHT explanation: {loaded.game}",
        "",
        f"Checkpoint `{loaded.checkpoint}` (condition {loaded.condition or '?'}, seed {loaded.seed}); "
        f"text backend `{backend}`. Greedy EQL games played: scores {policy['scores']} "
        f"({policy['states']} states).",
        "",
        "## Policy",
        "",
        VARIABLES,
        "",
        f"Logits (×10 inverse temperature included), weights below {policy['threshold']:g} pruned, the "
        f"{policy['max_terms']} largest terms shown (largest |coefficient × typical input| first; "
        "`other` sums "
        "the rest; LaTeX and the unabridged expressions are in `equations.json`):",
        "",
    ]
    for eq in policy["equations"]:
        more = f" ({eq['terms_left_out']} more terms in `other`)" if eq["terms_left_out"] else ""
        lines += [f"- **{eq['action']}** ({eq['move']}){more}:", "", "  ```", f"  {eq['shown']}", "  ```", ""]
    fid = policy["fidelity_pruned_vs_neural"]
    lines += [
        "| measure | value |",
        "|---|---|",
        f"| weights kept after pruning | {policy['weights_kept']} / {policy['weights_total']} |",
        f"| pruned equations = neural actor (greedy) | {'–' if fid is None else f'{fid:.1%}'} |",
        f"| pruned = unpruned EQL (greedy) | {policy['pruned_vs_unpruned']:.1%} |",
        "",
        policy_text,
        "",
        "## Decisions",
        "",
    ]
    for k, d in enumerate(decisions, start=1):
        lines += [
            f"### Decision {k}: step {d['step']}, **{d['move']}** (`{d['action']}`)",
            "",
            f"![decision {k}]({d['image']})",
            "",
            "| input | value | ∂ log π(a∣s) / ∂ input | value × gradient |",
            "|---|---|---|---|",
        ]
        lines += [f"| `{n}` | {_fmt(v)} | {_fmt(g)} | {_fmt(v * g)} |" for n, v, g in d["top"]]
        probs = ", ".join(f"{m} {p:.2f}" for m, p in d["probabilities"].items())
        lines += ["", f"Probabilities: {probs}.", "", d["text"], ""]
    if gif:
        lines += [
            "## Rollout",
            "",
            f"The first {gif['steps']} steps of the first game: the newest frame, the perceived objects and "
            "the EQL actor's move.",
            "",
            f"![rollout]({gif['file']})",
            "",
        ]
    return "\n".join(lines)
