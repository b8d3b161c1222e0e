"""Pre-training of INSIGHT's perception on the teacher's labels (Luo et al., ICML 2024, "Perception").

L1 on the coordinates of existing objects weighted per object (`ObjectWeights`: the reference's
weights, rare objects up), L1 on their sizes, focal loss (γ 2) on existence; batch 32, Adam 3e-4 with
weight decay 1e-4. After each epoch the coordinate MAE (pixels) on the test split is measured; the epoch
with the lowest test loss is kept (the paper keeps its best checkpoint on the test split too).

Output, next to the dataset it was trained on (shared by every condition of a run)::

    <dataset>/pretrain/<key>/perception.pt    state dict of `Perception`
    <dataset>/pretrain/<key>/metrics.json     settings, per-epoch train loss and test MAE per slot, best epoch

`metrics.json` is written last: a folder without it is an interrupted pre-training and is redone.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

WEIGHTS = "perception.pt"
METRICS = "metrics.json"


@dataclass(frozen=True)
class PretrainSettings:
    """What a pre-training run is made of; equal settings and data give identical weights on CPU."""

    epochs: int = 30
    batch_size: int = 32
    lr: float = 3e-4
    weight_decay: float = 1e-4
    focal_gamma: float = 2.0
    size_weight: float = 1.0
    feature_dim: int = 512
    seed: int = 0
    object_weights: str = "reference"

    @classmethod
    def from_spec(cls, spec: dict, seed: int) -> PretrainSettings:
        """Settings of a validated `kind: insight` spec for one seed."""
        return cls(**spec["pretrain"], feature_dim=spec["model"]["feature_dim"], seed=seed)

    @property
    def key(self) -> str:
        """Folder name of the run."""
        return (
            f"e{self.epochs}_b{self.batch_size}_lr{self.lr:g}_wd{self.weight_decay:g}_g{self.focal_gamma:g}"
            f"_s{self.size_weight:g}_f{self.feature_dim}"
            + ("" if self.object_weights == "slot" else f"_w{self.object_weights}")  # keys before it: slot
            + f"_seed{self.seed}"
        )


def pretrain(settings: PretrainSettings, data_folder: str, out_folder: str, log=None) -> dict:
    """Train `Perception` on `data_folder`, write weights and metrics to `out_folder`; return the metrics."""
    import numpy as np
    import torch

    from rllib_nsrl.systems.insight.data import load_split, read_manifest
    from rllib_nsrl.systems.insight.evaluation import SCREEN_H, SCREEN_W
    from rllib_nsrl.systems.insight.perception import (
        PERCEPTION_LOSS,
        ObjectWeights,
        Perception,
        perception_loss,
    )

    torch.manual_seed(settings.seed)
    manifest = read_manifest(data_folder)
    slots = manifest["slots"]
    train_obs, train_obj = (torch.from_numpy(a) for a in load_split(data_folder, "train"))
    test_obs, test_obj = (torch.from_numpy(a) for a in load_split(data_folder, "test"))
    net = Perception(len(slots), train_obs.shape[1], train_obs.shape[-1], settings.feature_dim)
    object_weights = ObjectWeights(train_obj[..., 0], settings.object_weights)
    weighted_existence = settings.object_weights == "reference"  # as the reference; "slot" kept it plain
    opt = torch.optim.Adam(net.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    gen = torch.Generator().manual_seed(settings.seed)

    def loss_of(obs, obj):
        return perception_loss(
            net(obs), obj, object_weights(obj[..., 0]), gamma=settings.focal_gamma,
            size_weight=settings.size_weight, weighted_existence=weighted_existence,
        )  # fmt: skip

    @torch.no_grad()
    def test() -> dict:
        net.eval()
        preds = torch.cat([net(test_obs[i : i + 256]) for i in range(0, len(test_obs), 256)])
        net.train()
        test_weights = object_weights(test_obj[..., 0])
        loss = float(perception_loss(preds, test_obj, test_weights, gamma=settings.focal_gamma,
                                     size_weight=settings.size_weight,
                                     weighted_existence=weighted_existence)[PERCEPTION_LOSS])  # fmt: skip
        exists = test_obj[..., 0] > 0.5
        px = ((preds[..., 1:3] - test_obj[..., 1:3]).abs() * torch.tensor([SCREEN_W, SCREEN_H])).mean(-1)
        out = {"test_loss": loss, "mae_px": float(px[exists].mean()) if exists.any() else float("nan")}
        for s, name in enumerate(slots):
            m = exists[:, s]
            out[f"mae_px_{name}"] = float(px[:, s][m].mean()) if m.any() else float("nan")
        return out

    untrained = test()
    history, best, best_state = [], None, None
    start = time.perf_counter()
    for epoch in range(1, settings.epochs + 1):
        order = torch.randperm(len(train_obs), generator=gen)
        losses = []
        for i in range(0, len(order), settings.batch_size):
            idx = order[i : i + settings.batch_size]
            loss = loss_of(train_obs[idx], train_obj[idx])[PERCEPTION_LOSS]
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        row = {"epoch": epoch, "train_loss": float(np.mean(losses)), **test()}
        history.append(row)
        _progress_file(out_folder).parent.mkdir(parents=True, exist_ok=True)
        _progress_file(out_folder).write_text(json.dumps({**row, "epochs": settings.epochs}))
        if best is None or row["test_loss"] < best["test_loss"]:
            best, best_state = row, {k: v.clone() for k, v in net.state_dict().items()}
        if log is not None:
            log(f"nsrl: pretrain seed {settings.seed} epoch {epoch}/{settings.epochs}: "
                f"train loss {row['train_loss']:.4f}, test MAE {row['mae_px']:.2f} px")  # fmt: skip
    out = Path(out_folder)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    torch.save(best_state, out / WEIGHTS)
    metrics = {
        "settings": asdict(settings),
        "data": str(data_folder),
        "slots": slots,
        "untrained": untrained,
        "best_epoch": best["epoch"],
        "best": best,
        "history": history,
        "seconds": round(time.perf_counter() - start, 2),
    }
    tmp = out / (METRICS + ".tmp")
    tmp.write_text(json.dumps(metrics, indent=2))
    tmp.replace(out / METRICS)
    return metrics


def _progress_file(out_folder: str | Path) -> Path:
    """The last finished epoch of a pre-training in progress (read by the driver for its progress lines)."""
    out = Path(out_folder)
    return out.parent / f".{out.name}.progress.json"


def pretrain_folder(data_folder: str | Path, settings: PretrainSettings) -> Path:
    """Where the pre-training of `settings` on `data_folder` lives."""
    return Path(data_folder) / "pretrain" / settings.key


def weights_template(data_folder: str | Path, settings: PretrainSettings) -> str:
    """The weights file of `settings` with the seed left as ``{seed}`` (one path for a Tune grid)."""
    key = settings.key.rsplit("_seed", 1)[0] + "_seed{seed}"
    return str(Path(data_folder) / "pretrain" / key / WEIGHTS)


def ensure_pretrained(data_folder: str | Path, runs: list[PretrainSettings], log=print) -> dict[int, str]:
    """Seed → weights file for every settings in `runs`: reused when complete, else trained (Ray tasks
    when Ray is up, in parallel, one CPU each)."""
    todo, out = [], {}
    for s in runs:
        folder = pretrain_folder(data_folder, s)
        out[s.seed] = str(folder / WEIGHTS)
        if (folder / METRICS).is_file():
            best = json.loads((folder / METRICS).read_text())["best"]
            log(f"nsrl: reusing pre-trained perception {folder} (test MAE {best['mae_px']:.2f} px)")
        else:
            todo.append((s, str(data_folder), str(folder)))
    if not todo:
        return out
    start = time.perf_counter()
    log(
        f"nsrl: pre-training perception for seeds {[s.seed for s, _, _ in todo]} ({todo[0][0].epochs} epochs)"
    )

    def heartbeat() -> None:  # the last finished epoch of each seed, once a minute
        for s, _, folder in todo:
            progress = _progress_file(folder)
            if progress.is_file():
                row = json.loads(progress.read_text())
                log(
                    f"nsrl: pretrain seed {s.seed}: epoch {row['epoch']}/{row['epochs']}, "
                    f"test MAE {row['mae_px']:.2f} px ({time.perf_counter() - start:.0f}s)"
                )

    from rllib_nsrl.experiments.parallel import map_tasks

    results = map_tasks(pretrain, todo, label="pretrain", log=log, heartbeat=heartbeat)
    for (s, _, folder), m in zip(todo, results, strict=True):
        _progress_file(folder).unlink(missing_ok=True)
        log(
            f"nsrl: pre-trained perception seed {s.seed}: test MAE {m['best']['mae_px']:.2f} px "
            f"(untrained {m['untrained']['mae_px']:.2f} px), best epoch {m['best_epoch']} -> {folder}"
        )
    return out
