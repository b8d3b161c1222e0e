"""Evaluation of an INSIGHT module: full games per actor, perception error and EQL/neural agreement.

Used by `InsightPPO` every `eval_every` iterations and usable on any trained module:

    returns = play(module, "Pong", actor="eql", greedy=False, episodes=10, seed=0)

Games are played without episodic life or reward clipping (the score is the game's), all episodes of
one call side by side with one batched forward pass per step.
"""

from __future__ import annotations

import numpy as np
import torch

from rllib_nsrl.seeding import derive_seed

SCREEN_W, SCREEN_H = 160, 210  # ALE screen, for errors in pixels


@torch.no_grad()
def play(
    module,
    game: str,
    *,
    actor: str,
    greedy: bool,
    episodes: int,
    seed: int,
    max_episode_frames: int = 108_000,
    fire_reset: bool = True,
    noop_max: int = 30,
) -> list[float]:
    """Scores of `episodes` full games of `actor` ("neural" | "eql"), greedy or sampled; game i is seeded
    with derive_seed(seed, i), the sampling with `seed`."""
    from rllib_nsrl.envs.atari import AtariObjectsEnv

    config = {"game": game, "episodic_life": False, "clip_rewards": False, "fire_reset": fire_reset,
              "noop_max": noop_max, "max_episode_frames": max_episode_frames}  # fmt: skip
    envs = [AtariObjectsEnv(config) for _ in range(episodes)]
    obs = [env.reset(seed=derive_seed(seed, i))[0] for i, env in enumerate(envs)]
    scores = [0.0] * episodes
    live = list(range(episodes))
    rng = torch.Generator().manual_seed(int(seed))
    was_training = module.training
    module.eval()
    try:
        while live:
            logits = module.logits(torch.from_numpy(np.stack([obs[i] for i in live])), actor)
            if greedy:
                actions = logits.argmax(-1)
            else:
                actions = torch.multinomial(torch.softmax(logits.float(), -1), 1, generator=rng).squeeze(-1)
            still = []
            for i, action in zip(live, actions.tolist(), strict=True):
                obs[i], _, terminated, truncated, info = envs[i].step(action)
                scores[i] += info["raw_reward"]
                if not (terminated or truncated):
                    still.append(i)
            live = still
    finally:
        module.train(was_training)
        for env in envs:
            env.close()
    return scores


@torch.no_grad()
def perception_metrics(
    module, obs: np.ndarray, objects: np.ndarray, slots, batch: int = 256, threshold: float = 1e-2
) -> dict:
    """On labelled frames (obs uint8 [N, F, H, W], objects [N, S, F, 5]): coordinate MAE in screen pixels
    per slot and overall (objects that exist in the label, all frames of each stack; x in 160, y in 210
    pixels), existence accuracy, and — with an EQL and a neural actor — their argmax agreement.

    With an EQL actor also F-MAE (the INSIGHT paper): the MAE over the slots whose coordinates the EQL
    pruned at `threshold` still reads (`used_slots`: how many), the objects the policy uses."""
    if module.perception.heads is None:
        return {}
    was_training = module.training
    module.eval()
    preds, eql_a, nn_a = [], [], []
    try:
        for start in range(0, len(obs), batch):
            features = module.features(torch.from_numpy(obs[start : start + batch]))
            pred = module.objects(features)
            preds.append(pred)
            if module.use_eql and module.pi is not None:
                eql_a.append(module.eql_logits(pred).argmax(-1))
                nn_a.append(module.neural_logits(features).argmax(-1))
    finally:
        module.train(was_training)
    pred = torch.cat(preds).numpy()
    exists = objects[..., 0] > 0.5
    err = np.abs(pred[..., 1:3] - objects[..., 1:3]) * np.array([SCREEN_W, SCREEN_H])
    px = err.mean(-1)  # [N, S, F]: mean of the x and y errors
    out = {"mae_px": float(px[exists].mean()) if exists.any() else float("nan")}
    for s, name in enumerate(slots):
        mask = exists[:, s]
        out[f"mae_px_{name}"] = float(px[:, s][mask].mean()) if mask.any() else float("nan")
    out["exists_accuracy"] = float(((pred[..., 0] > 0) == exists).mean())
    if eql_a:
        out["eql_agreement"] = float((torch.cat(eql_a) == torch.cat(nn_a)).float().mean())
    if module.use_eql:
        from rllib_nsrl.symbolic.eql import used_inputs

        with torch.enable_grad():
            used = used_inputs(module.eql, px.shape[1] * px.shape[2] * 2, threshold)
        used_slots = used.view(px.shape[1], -1).any(-1).numpy()  # inputs are ordered slot, frame, (x, y)
        mask = exists & used_slots[None, :, None]
        out["used_slots"] = int(used_slots.sum())
        out["fmae_px"] = float(px[mask].mean()) if mask.any() else float("nan")
    return out
