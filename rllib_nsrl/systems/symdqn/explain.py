"""`nsrl explain` for SymDQN: per decision, what the symbolic modules saw and why the action was taken.

For states of fresh evaluation episodes (`decisions` of them, spread over `episodes` episodes played
greedily with the ActionFilter as at evaluation): the grid with the agent's cell and the chosen move, for
each action the cell it would enter with the ShapeRecognizer's label truths there (and the shape actually
there, for reference), the RewardPredictor's predicted reward, whether the ActionFilter kept the action
(kept iff predicted reward ≥ best − `filter_threshold`), and the Q-values; then one template sentence.
SymDQN's labels are learned without names (axioms A1–A3 only say that different shapes get different
labels), so a label is shown by its index together with the shape most often under it in the played states.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

ACTIONS = ("up", "right", "down", "left")
ENTITY = ("empty", "agent", "circle", "cross", "square")


def _load(checkpoint: Path, params: dict):
    from rllib_nsrl.analysis.checkpoints import load_module

    module = load_module(checkpoint)
    if not getattr(module, "symbolic", False):
        raise ValueError(
            f"{checkpoint}: condition {params.get('condition')!r} has no symbolic modules to explain"
        )
    return module


@torch.no_grad()
def explain_symdqn(
    checkpoint: Path,
    params: dict,
    out: Path,
    *,
    episodes: int = 2,
    decisions: int = 3,
    seed: int = 0,
    log=print,
) -> list[Path]:
    """Write `explanation.md`, `decisions.json` and `decision_<k>.png` for a SymDQN checkpoint."""
    from ray.rllib.algorithms.dqn.default_dqn_rl_module import QF_PREDS
    from ray.rllib.core.columns import Columns

    from rllib_nsrl.envs.shapes_grid import ShapesGridEnv
    from rllib_nsrl.seeding import derive_seed
    from rllib_nsrl.symbolic.grid_dynamics import next_cells

    module = _load(checkpoint, params)
    module.eval()
    env_config = {k: v for k, v in (params.get("env_config") or {}).items() if k != "zero_reward"}
    if "a2_inequality" not in params:  # made before the `glyphs` setting: trained on the simple glyphs
        env_config.setdefault("glyphs", "simple")
    log(
        f"nsrl: explaining {checkpoint} (SymDQN, condition {params.get('condition')}, "
        f"seed {params.get('seed')})"
    )
    states = []
    for e in range(episodes):
        env = ShapesGridEnv(env_config)
        obs, info = env.reset(seed=derive_seed(seed, e))
        done = False
        while not done:
            x = torch.as_tensor(obs[None], dtype=torch.float32)
            probs = module.shape_truths(x)[0]  # [25, 5]
            pred = module.action_rewards(probs[None])[0]
            q = module.compute_q_values({Columns.OBS: x})[QF_PREDS][0]
            keep = module.action_filter_mask(x)
            keep = torch.ones(4, dtype=torch.bool) if keep is None else keep[0]
            action = int(torch.where(keep, q, torch.full_like(q, -torch.inf)).argmax())
            grid = np.asarray(info["grid"]).reshape(-1) if "grid" in info else None
            states.append(
                {
                    "obs": obs,
                    "probs": probs.numpy(),
                    "pred": pred.numpy(),
                    "q": q.numpy(),
                    "keep": keep.numpy(),
                    "action": action,
                    "grid": grid,
                    "episode": e,
                }
            )
            obs, _, terminated, truncated, info = env.step(action)
            done = terminated or truncated
    agent_label = int(module.agent_tracker.agent_label())
    names = _label_names(states)
    picks = np.linspace(0, len(states) - 1, num=min(decisions, len(states)) + 2)[1:-1].astype(int)
    out.mkdir(parents=True, exist_ok=True)
    threshold = float(module.settings["filter_threshold"])
    lines = [
        f"# SymDQN explanation: {params.get('condition')} seed {params.get('seed')}",
        "",
        f"Checkpoint `{checkpoint}`. {len(states)} states of {episodes} evaluation episode(s), "
        "actions greedy "
        f"over the Q-values the ActionFilter kept (filter threshold {threshold:g}). The agent is label "
        f"{agent_label} (self-recognition); labels by the shape most often under them: "
        + ", ".join(f"label {k} ≈ {n}" for k, n in names.items())
        + ".",
        "",
    ]
    record = []
    for k, i in enumerate(picks, start=1):
        s = states[i]
        agent = int(np.argmax(s["probs"][:, agent_label]))
        cells = next_cells(torch.tensor([agent]))[0].tolist()
        rows = []
        for a, cell in enumerate(cells):
            label = int(np.argmax(s["probs"][cell]))
            truth = ENTITY[int(s["grid"][cell])] if s["grid"] is not None else "?"
            rows.append(
                {
                    "action": ACTIONS[a],
                    "cell": cell,
                    "label": label,
                    "label_truth": float(s["probs"][cell, label]),
                    "label_means": names.get(label, "?"),
                    "actually": truth,
                    "predicted_reward": float(s["pred"][a]),
                    "kept": bool(s["keep"][a]),
                    "q": float(s["q"][a]),
                }
            )
        text = _sentence(rows, s["action"], threshold)
        image = f"decision_{k}.png"
        _draw(s["obs"], agent, s["action"], rows, out / image)
        lines += [
            f"## Decision {k}: step {i}, **{ACTIONS[s['action']]}**",
            "",
            f"![decision {k}]({image})",
            "",
            "| action | enters cell | label (truth) | ≈ shape | actually | predicted reward | filter | Q |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            lines.append(
                f"| {r['action']} | {r['cell']} | {r['label']} ({r['label_truth']:.2f}) | {r['label_means']} "
                f"| {r['actually']} | {r['predicted_reward']:+.2f} | {'kept' if r['kept'] else 'removed'} "
                f"| {r['q']:.3f} |"
            )
        lines += ["", text, ""]
        record.append(
            {
                "step": int(i),
                "action": ACTIONS[s["action"]],
                "agent_cell": agent,
                "actions": rows,
                "text": text,
            }
        )
    files = [out / "explanation.md", out / "decisions.json"]
    files[0].write_text("\n".join(lines))
    files[1].write_text(
        json.dumps({"agent_label": agent_label, "labels": names, "decisions": record}, indent=2)
    )
    for f in files:
        log(f"nsrl: wrote {f}")
    return files + [out / f"decision_{k}.png" for k in range(1, len(picks) + 1)]


def _label_names(states: list[dict]) -> dict[int, str]:
    """Each label's most frequent true entity over the played cells (where the env reports its grid)."""
    counts: dict[int, dict[str, int]] = {}
    for s in states:
        if s["grid"] is None:
            continue
        for cell, label in enumerate(np.argmax(s["probs"], -1)):
            name = ENTITY[int(s["grid"][cell])]
            counts.setdefault(int(label), {}).setdefault(name, 0)
            counts[int(label)][name] += 1
    return {k: max(v, key=v.get) for k, v in sorted(counts.items())}


def _sentence(rows: list[dict], action: int, threshold: float) -> str:
    removed = [r for r in rows if not r["kept"]]
    best = max(r["predicted_reward"] for r in rows)
    chosen = rows[action]
    parts = [
        f"The agent moved **{chosen['action']}** into a cell it sees as {chosen['label_means']} "
        f"(predicted reward {chosen['predicted_reward']:+.2f})."
    ]
    if removed:
        parts.append(
            "The ActionFilter removed "
            + ", ".join(
                f"{r['action']} ({r['label_means']}, predicted {r['predicted_reward']:+.2f})" for r in removed
            )
            + f": more than {threshold:g} below the best predicted reward {best:+.2f}."
        )
    kept = sorted((r for r in rows if r["kept"]), key=lambda r: -r["q"])
    if len(kept) > 1:
        parts.append(
            f"Among the kept actions its Q-value {chosen['q']:.3f} is the highest; next is "
            f"{kept[1]['action']} with {kept[1]['q']:.3f}."
        )
    return " ".join(parts)


def _draw(obs: np.ndarray, agent: int, action: int, rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(np.clip(obs, 0, 1), interpolation="nearest")
    cy, cx = (agent // 5) * 10 + 5, (agent % 5) * 10 + 5
    dy, dx = [(-1, 0), (0, 1), (1, 0), (0, -1)][action]
    ax.annotate("", xy=(cx + 8 * dx, cy + 8 * dy), xytext=(cx, cy), arrowprops={"color": "green", "width": 2})
    for a, r in enumerate(rows):
        ddy, ddx = [(-1, 0), (0, 1), (1, 0), (0, -1)][a]
        ax.text(
            cx + 10 * ddx,
            cy + 10 * ddy,
            f"{r['predicted_reward']:+.1f}",
            fontsize=7,
            ha="center",
            color="green" if r["kept"] else "red",
        )
    ax.set_title(f"{ACTIONS[action]} (numbers: predicted reward; red: filtered)", fontsize=8)
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
