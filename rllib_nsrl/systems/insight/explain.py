"""`nsrl explain` for INSIGHT: the EQL policy as equations, and single decisions with attributions.

    nsrl explain runs/insight_pong [--episodes 2] [--decisions 3] [--backend template|http] [--out DIR]

1. **Load** a trained module from a run directory (the first INSIGHT-like trial, its newest checkpoint), a
   trial directory or an Algorithm checkpoint, with `RLModule.from_checkpoint` (no env registration needed).
2. **Play** `episodes` full games greedily with the EQL actor, recording states and actions.
3. **Policy**: one expanded sympy expression per action logit, weights below `threshold` pruned, the
   `max_terms` largest terms (by |coefficient × monomial at typical inputs|) shown with 2-significant-digit
   constants, plain and LaTeX; the action probabilities with raw actions that mean the same move merged;
   fidelity = how often the pruned equations' greedy action equals the neural actor's on the played states.
4. **Decisions**: for `decisions` states spread over the games: the newest frame with the perceived objects
   drawn, the action, each input's value and the gradient of log π(a|s) with respect to it (autograd through
   the EQL), the top inputs by |value × gradient|.
5. **Text** from a backend (`explain_text.py`): `template` (default, offline, deterministic) or `http`
   (an OpenAI-compatible chat endpoint, the paper's prompts).

Writes `explanation.md`, `equations.json`, `decision_<k>.png` into `--out` (default `<run or trial>/explain`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

# Raw actions that make the same move, merged in the probabilities (the INSIGHT paper does this for Pong).
MOVES = {
    "Pong": {
        "NOOP": "stay",
        "FIRE": "stay",
        "RIGHT": "up",
        "LEFT": "down",
        "RIGHTFIRE": "up",
        "LEFTFIRE": "down",
    },
    "Freeway": {"NOOP": "stay", "UP": "up", "DOWN": "down"},
}


class ExplainError(ValueError):
    """A user mistake (wrong path, a run without an EQL actor): one line, exit 2."""


@dataclass
class Loaded:
    """A trained INSIGHT module and what is needed to read it."""

    module: object
    game: str
    checkpoint: Path
    condition: str | None
    seed: int | None
    slots: tuple[str, ...] = ()
    variables: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)


def load(path: str | Path) -> Loaded:
    """The trained module behind `path` (run directory: the first INSIGHT-like trial; trial directory;
    Algorithm checkpoint), ready to play and explain."""
    from rllib_nsrl.analysis.checkpoints import find_checkpoints, load_module, module_class_name
    from rllib_nsrl.envs.atari import OBJECT_SLOTS, AtariObjectsEnv, variable_names

    try:
        found = find_checkpoints(path)
    except FileNotFoundError as err:
        raise ExplainError(str(err)) from None
    candidates = []
    for checkpoint, params in found:
        condition = params.get("condition")
        if module_class_name(checkpoint) == "InsightModule" and condition != "neural PPO":
            rank = (condition != "INSIGHT", condition == "w/o NG", params.get("seed") or 0, str(checkpoint))
            candidates.append((rank, checkpoint, params))
    if not candidates:
        raise ExplainError(f"{path}: no checkpoint of an INSIGHT trial with an EQL actor found")
    _, checkpoint, params = min(candidates, key=lambda c: c[0])
    module = load_module(checkpoint)
    if getattr(module, "eql", None) is None:
        raise ExplainError(
            f"{checkpoint}: this module has no EQL actor (condition {params.get('condition')!r})"
        )
    game = module.model_config.get("game") or (params.get("env_config") or {}).get("game")
    if game is None:
        raise ExplainError(f"{checkpoint}: cannot tell the game (no env_config in params.json)")
    env = AtariObjectsEnv({"game": game})
    actions = env.action_meanings
    env.close()
    return Loaded(
        module,
        game,
        checkpoint,
        params.get("condition"),
        params.get("seed"),
        OBJECT_SLOTS[game],
        variable_names(game),
        actions,
    )


@torch.no_grad()
def play_states(loaded: Loaded, episodes: int, seed: int, max_frames: int = 108_000) -> dict:
    """Greedy EQL games: per step the observation, the perceived objects, the EQL and neural actions."""
    from rllib_nsrl.envs.atari import AtariObjectsEnv
    from rllib_nsrl.seeding import derive_seed

    m = loaded.module
    out = {"obs": [], "objects": [], "eql": [], "neural": [], "game": [], "score": []}
    for game_index in range(episodes):
        env = AtariObjectsEnv(
            {
                "game": loaded.game,
                "episodic_life": False,
                "clip_rewards": False,
                "max_episode_frames": max_frames,
            }
        )
        obs, _ = env.reset(seed=derive_seed(seed, game_index))
        score, done = 0.0, False
        while not done:
            features = m.features(torch.from_numpy(obs[None]))
            objects = m.objects(features)
            action = int(m.eql_logits(objects).argmax(-1))
            out["obs"].append(obs)
            out["objects"].append(objects[0].numpy())
            out["eql"].append(action)
            out["neural"].append(int(m.neural_logits(features).argmax(-1)) if m.pi is not None else -1)
            out["game"].append(game_index)
            obs, reward, terminated, truncated, info = env.step(action)
            score += info["raw_reward"]
            done = terminated or truncated
        out["score"].append(score)
        env.close()
    return {k: np.asarray(v) for k, v in out.items()}


def eql_inputs_of(objects: np.ndarray) -> torch.Tensor:
    """The EQL's input vector(s) from perceived objects [..., S, F, 5]."""
    from rllib_nsrl.symbolic.eql import eql_inputs

    t = torch.as_tensor(objects)
    if t.dim() == 3:
        t = t[None]
    return eql_inputs(t[..., 1:3], t[..., 0])


def merged_probabilities(logits: torch.Tensor, game: str, actions: list[str]) -> dict[str, float]:
    """Softmax over the logits [A] (or, for [N, A], its mean over the N states), raw actions that make
    the same move summed (per game `MOVES`)."""
    probs = torch.softmax(logits.double(), -1)
    probs = (probs.mean(0) if probs.dim() == 2 else probs).tolist()
    moves = MOVES.get(game, {})
    out: dict[str, float] = {}
    for name, p in zip(actions, probs, strict=True):
        key = moves.get(name, name)
        out[key] = out.get(key, 0.0) + p
    return out


def policy_summary(loaded: Loaded, states: dict, threshold: float, max_terms: int) -> dict:
    """Equations (full and summarised), their fidelity, and the mean merged action probabilities."""
    from rllib_nsrl.symbolic.eql import pruned
    from rllib_nsrl.symbolic.eql_sympy import latex, logit_expressions, plain, summarise, typical_inputs

    m = loaded.module
    inputs = eql_inputs_of(states["objects"])
    typical = typical_inputs(inputs.numpy(), loaded.variables)
    expressions = logit_expressions(m.eql, loaded.variables, threshold)
    equations = []
    for action, expr in zip(loaded.actions, expressions, strict=True):
        shown, rest = summarise(expr, typical, max_terms)
        equations.append(
            {
                "action": action,
                "move": MOVES.get(loaded.game, {}).get(action, action),
                "shown": plain(shown),
                "latex": latex(shown),
                "terms_left_out": rest,
                "full": plain(expr),
            }
        )
    with torch.no_grad():
        greedy_pruned = pruned(m.eql, threshold)(inputs).argmax(-1).numpy()
        greedy_full = m.eql(inputs).argmax(-1).numpy()
        mean_probs = merged_probabilities(m.eql(inputs), loaded.game, loaded.actions)
    neural = states["neural"]
    has_neural = bool((neural >= 0).all())
    kept = sum(int((p.abs() >= threshold).sum()) for p in m.eql.regularized_parameters())
    total = sum(p.numel() for p in m.eql.regularized_parameters())
    return {
        "threshold": threshold,
        "max_terms": max_terms,
        "equations": equations,
        "weights_kept": kept,
        "weights_total": total,
        "fidelity_pruned_vs_neural": float((greedy_pruned == neural).mean()) if has_neural else None,
        "fidelity_eql_vs_neural": float((greedy_full == neural).mean()) if has_neural else None,
        "pruned_vs_unpruned": float((greedy_pruned == greedy_full).mean()),
        "mean_probabilities": mean_probs,
        "states": len(neural),
        "scores": states["score"].tolist(),
    }


def decision(loaded: Loaded, objects: np.ndarray, action: int, top: int = 5) -> dict:
    """Inputs, gradients of log π(action|s) w.r.t. them, and the top inputs by |value × gradient|."""
    m = loaded.module
    x = eql_inputs_of(objects).clone().requires_grad_(True)
    logits = m.eql(x)[0]
    logp = torch.log_softmax(logits, -1)[action]
    (grad,) = torch.autograd.grad(logp, x)
    values, grads = x[0].detach().numpy(), grad[0].numpy()
    order = np.argsort(-np.abs(values * grads), kind="stable")[:top]
    return {
        "action": loaded.actions[action],
        "move": MOVES.get(loaded.game, {}).get(loaded.actions[action], loaded.actions[action]),
        "probabilities": merged_probabilities(logits.detach(), loaded.game, loaded.actions),
        "inputs": dict(zip(loaded.variables, values.astype(float).tolist(), strict=True)),
        "gradients": dict(zip(loaded.variables, grads.astype(float).tolist(), strict=True)),
        "top": [(loaded.variables[i], float(values[i]), float(grads[i])) for i in order],
    }


def draw(obs: np.ndarray, objects: np.ndarray, slots, title: str, path: Path) -> None:
    """The newest frame (84×84 grey) with each perceived object's box and name."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    size = obs.shape[-1]
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(obs[-1], cmap="gray", vmin=0, vmax=255)
    for name, (exist, x, y, w, h) in zip(slots, objects[:, -1], strict=True):
        if exist <= 0:
            continue
        cx, cy, bw, bh = x * size, y * size, max(w * size, 2), max(h * size, 2)
        ax.add_patch(Rectangle((cx - bw / 2, cy - bh / 2), bw, bh, fill=False, edgecolor="red", lw=1.2))
        ax.text(cx, cy - bh / 2 - 1, name, color="yellow", fontsize=7, ha="center", va="bottom")
    ax.set_xlim(-0.5, size - 0.5)
    ax.set_ylim(size - 0.5, -0.5)
    ax.set_title(title, fontsize=9)
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_gif(loaded: Loaded, states: dict, path: Path, steps: int = 200, scale: int = 3) -> Path:
    """An animated rollout of the first played game: newest frame, perceived boxes and names, action."""
    from PIL import Image, ImageDraw

    frames = []
    size = states["obs"].shape[-1] * scale
    for obs, objects, action in list(zip(states["obs"], states["objects"], states["eql"], strict=True))[
        :steps
    ]:
        image = Image.fromarray(obs[-1]).resize((size, size), Image.NEAREST).convert("RGB")
        pen = ImageDraw.Draw(image)
        for name, (exist, x, y, w, h) in zip(loaded.slots, objects[:, -1], strict=True):
            if exist <= 0:
                continue
            cx, cy = x * size, y * size
            bw, bh = max(w * size, 4) / 2, max(h * size, 4) / 2
            pen.rectangle([cx - bw, cy - bh, cx + bw, cy + bh], outline=(255, 60, 60))
            pen.text((cx - bw, cy - bh - 11), name, fill=(255, 230, 0))
        move = MOVES.get(loaded.game, {}).get(loaded.actions[action], loaded.actions[action])
        pen.text((4, size - 14), f"EQL: {move}", fill=(80, 255, 80))
        frames.append(image)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=66, loop=0)
    return path


def explain(
    path: str | Path,
    out: str | Path | None = None,
    *,
    episodes: int = 1,
    decisions: int = 3,
    threshold: float = 1e-2,
    max_terms: int = 6,
    backend=None,
    seed: int = 0,
    max_frames: int = 108_000,
    gif_steps: int = 0,
    log=print,
) -> list[Path]:
    """Write the explanation report of the trained policy at `path`; return the files written."""
    from rllib_nsrl.systems.insight.explain_text import TemplateBackend, render_markdown

    backend = backend or TemplateBackend()
    loaded = load(path)
    target = Path(out) if out else loaded.checkpoint.parent / "explain"
    target.mkdir(parents=True, exist_ok=True)
    log(f"nsrl: explaining {loaded.checkpoint} ({loaded.game}, {loaded.condition or '?'} seed {loaded.seed})")
    states = play_states(loaded, episodes, seed, max_frames)
    log(
        f"nsrl: played {episodes} game(s) with the EQL actor: scores {states['score'].tolist()}, "
        f"{len(states['eql'])} states"
    )
    policy = policy_summary(loaded, states, threshold, max_terms)
    picks = np.linspace(0, len(states["eql"]) - 1, num=min(decisions, len(states["eql"])) + 2)[1:-1].astype(
        int
    )
    chosen = []
    for k, i in enumerate(picks, start=1):
        d = decision(loaded, states["objects"][i], int(states["eql"][i]))
        d["step"] = int(i)
        d["image"] = f"decision_{k}.png"
        draw(
            states["obs"][i],
            states["objects"][i],
            loaded.slots,
            f"step {i}: {d['move']}",
            target / d["image"],
        )
        chosen.append(d)
    if hasattr(backend, "start"):
        log(f"nsrl: starting the {backend.name} text model")
        backend.start(target)
    try:
        policy_text = backend.policy_text(loaded.game, loaded.variables, policy)
        for d in chosen:
            d["text"] = backend.decision_text(loaded.game, policy, d)
    finally:
        if hasattr(backend, "close"):
            backend.close()
    files = [target / "explanation.md", target / "equations.json"]
    files += [target / d["image"] for d in chosen]
    gif = None
    if gif_steps:
        first = states["game"] == 0
        files.append(
            write_gif(
                loaded,
                {k: v[first] for k, v in states.items() if k != "score"},
                target / "rollout.gif",
                gif_steps,
            )
        )
        gif = {"file": files[-1].name, "steps": min(gif_steps, int(first.sum()))}
        log(f"nsrl: wrote {files[-1]}")
    files[0].write_text(render_markdown(loaded, policy, policy_text, chosen, backend.name, gif))
    shown = [{k: v for k, v in d.items() if k not in ("inputs", "gradients")} for d in chosen]
    files[1].write_text(json.dumps({"policy": policy, "decisions": shown}, indent=2))
    for f in files[:2]:
        log(f"nsrl: wrote {f}")
    return files
