"""The perception dataset of INSIGHT: Atari frames with the object teacher's labels (`nsrl collect`).

Each shard is a Ray task (one CPU) that plays its own seeded games of ``AtariObjectsEnv`` with uniformly
random actions (the teacher needs no agent; random play on Pong, Freeway and Boxing already moves every
object across the screen) and keeps every ``every``-th step. The test split comes from separate games
(its own shard seeds), so pre-training cannot score on frames it has seen next to a training frame.

Layout (one parquet row per frame, readable by ``ray.data``)::

    <root>/<key>/manifest.json
    <root>/<key>/{train,test}/part-<shard>.parquet

Columns: ``obs`` (uint8 tensor [4, 84, 84], the agent's observation), ``objects`` (float32 tensor
[S, 4, 5]: exists, x, y, w, h per slot and frame, see `rllib_nsrl.envs.atari`), ``game_id`` (str),
``step`` (int64), ``action`` (int64, the action taken after the frame). The manifest (written last: a
folder without one is an interrupted collection and is collected again) records the game, the slots,
the seed, the policy, frames and episodes per split, and per-slot existence frequencies.

Shard (split, s) seeds its env and its action stream from (seed, split, s): the same settings give the
same data however the shards are scheduled.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from rllib_nsrl.seeding import derive_seed

MANIFEST = "manifest.json"
SPLITS = ("train", "test")
_SPLIT_KEY = {"train": 0, "test": 1}


@dataclass(frozen=True)
class DataSettings:
    """What a perception dataset is made of; equal settings give identical data (and the same folder)."""

    game: str = "Pong"
    train_frames: int = 10_000
    test_frames: int = 1_000
    shards: int = 4
    every: int = 4
    seed: int = 0
    policy: str = "random"

    @classmethod
    def from_spec(cls, spec: dict) -> DataSettings:
        """Settings of a validated `kind: insight` spec (its ``env.game`` and ``data``)."""
        d = spec["data"]
        return cls(
            spec["env"]["game"], d["train_frames"], d["test_frames"], d["shards"], d["every"], d["seed"]
        )

    def folder(self, root: str | Path) -> Path:
        """Where the dataset lives under `root`."""
        return Path(root).resolve() / self.key

    @property
    def key(self) -> str:
        """Folder name of the dataset."""
        return (
            f"{self.game.lower()}_train{self.train_frames}_test{self.test_frames}_every{self.every}"
            f"_{self.policy}_seed{self.seed}_shards{self.shards}"
        )

    def jobs(self) -> list[tuple[str, int, int]]:
        """(split, shard, frames) of every shard; the test split uses max(1, shards // 4) shards."""
        out = []
        for split, total, n in (
            ("train", self.train_frames, self.shards),
            ("test", self.test_frames, max(1, self.shards // 4)),
        ):
            base, extra = divmod(total, n)
            out += [(split, s, base + (s < extra)) for s in range(n) if base + (s < extra) > 0]
        return out


def _log(text: str) -> None:
    print(text, flush=True)


def collect_shard(settings: DataSettings, split: str, shard: int, size: int, out_file: str) -> dict:
    """Play seeded random games, keep ``size`` frames (every ``every``-th step), write ``out_file``."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from ray.data.extensions import ArrowTensorArray

    from rllib_nsrl.envs.atari import AtariObjectsEnv

    env = AtariObjectsEnv({"game": settings.game, "episodic_life": False, "clip_rewards": False})
    key = (settings.seed, _SPLIT_KEY[split], shard)
    rng = np.random.default_rng(derive_seed(*key, 1))
    obs, info = env.reset(seed=derive_seed(*key))
    frames, objects, game_ids, steps, actions = [], [], [], [], []
    game, t = 0, 0
    while len(frames) < size:
        action = int(rng.integers(env.action_space.n))
        if t % settings.every == 0:
            frames.append(obs)
            objects.append(info["objects"])
            game_ids.append(f"{split}{shard}g{game}")
            steps.append(t)
            actions.append(action)
        obs, _, terminated, truncated, info = env.step(action)
        t += 1
        if terminated or truncated:
            obs, info = env.reset()
            game, t = game + 1, 0
    env.close()
    table = pa.table(
        {
            "obs": ArrowTensorArray.from_numpy(np.stack(frames)),
            "objects": ArrowTensorArray.from_numpy(np.stack(objects).astype(np.float32)),
            "game_id": pa.array(game_ids, pa.string()),
            "step": pa.array(steps, pa.int64()),
            "action": pa.array(actions, pa.int64()),
        }
    )
    tmp = Path(out_file).with_suffix(".tmp")
    pq.write_table(table, tmp)
    tmp.replace(out_file)
    exists = np.stack(objects)[..., -1, 0]  # newest frame of each stack: [N, S]
    return {"rows": table.num_rows, "games_started": game + 1, "exists_sum": exists.sum(0).tolist()}


def read_manifest(folder: str | Path) -> dict | None:
    """The manifest of a dataset folder; None if its collection has not finished."""
    path = Path(folder) / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else None


def collect(settings: DataSettings, root: str | Path, *, log=_log) -> Path:
    """Collect the dataset into ``root/<key>`` (Ray tasks if Ray is up, else in-process); return the folder.

    A complete dataset (manifest present) is never rewritten: `FileExistsError`."""
    from rllib_nsrl.envs.atari import OBJECT_SLOTS

    folder = settings.folder(root)
    if read_manifest(folder) is not None:
        raise FileExistsError(f"{folder} is complete; remove it to collect again")
    if folder.exists():
        shutil.rmtree(folder)  # no manifest: an interrupted collection
    for split in SPLITS:
        (folder / split).mkdir(parents=True)
    jobs = settings.jobs()
    args = [(settings, split, s, n, str(folder / split / f"part-{s:03d}.parquet")) for split, s, n in jobs]
    start = time.perf_counter()

    from rllib_nsrl.experiments.parallel import map_tasks

    stats = map_tasks(collect_shard, args, label=f"collect {settings.game}: shards", log=log)
    slots = OBJECT_SLOTS[settings.game]
    splits = {}
    for split in SPLITS:
        mine = [(a, s) for a, s in zip(args, stats, strict=True) if a[1] == split]
        rows = sum(s["rows"] for _, s in mine)
        exists = np.sum([s["exists_sum"] for _, s in mine], axis=0) / max(rows, 1)
        splits[split] = {
            "frames": rows,
            "games_started": sum(s["games_started"] for _, s in mine),
            "files": [str(Path(a[4]).relative_to(folder)) for a, _ in mine],
            "exists_frequency": dict(zip(slots, np.round(exists, 4).tolist(), strict=True)),
        }
    manifest = {
        "format": "parquet, one row per frame: obs uint8 [4,84,84], objects float32 [S,4,5] (exists,x,y,w,h)",
        "game": settings.game,
        "slots": list(slots),
        "teacher": "RAM object extraction (rllib_nsrl.envs.atari.objects, OCAtari's rules)",
        "settings": asdict(settings),
        "seed": settings.seed,
        "policy": settings.policy,
        "collect_seconds": round(time.perf_counter() - start, 2),
        "splits": splits,
    }
    tmp = folder / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2))
    tmp.replace(folder / MANIFEST)
    log(
        f"nsrl: collected {settings.game}: {splits['train']['frames']} train + {splits['test']['frames']} "
        f"test frames in {time.perf_counter() - start:.1f}s -> {folder}"
    )
    return folder


def ensure_dataset(settings: DataSettings, root: str | Path, *, log=_log) -> Path:
    """The dataset folder for ``settings`` under ``root``: reused when complete, else collected."""
    folder = settings.folder(root)
    if read_manifest(folder) is not None:
        log(f"nsrl: reusing perception data {folder}")
        return folder
    return collect(settings, root, log=log)


def load_split(folder: str | Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """One split as numpy: obs uint8 [N, 4, 84, 84] and objects float32 [N, S, 4, 5].

    A folder without a manifest is a one-line `FileNotFoundError` naming the command that makes it."""
    import pyarrow.parquet as pq
    import ray.data.extensions  # noqa: F401  (registers the tensor column type with pyarrow)

    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest is None:
        raise FileNotFoundError(
            f"{folder}: no INSIGHT perception dataset here (no {MANIFEST}); make it with "
            "`nsrl collect <insight spec>` (or `nsrl run`, which collects it first)"
        )
    tables = [pq.read_table(folder / f) for f in manifest["splits"][split]["files"]]
    obs = np.concatenate([c.to_numpy() for t in tables for c in t.column("obs").chunks])
    objects = np.concatenate([c.to_numpy() for t in tables for c in t.column("objects").chunks])
    return obs.astype(np.uint8, copy=False), objects.astype(np.float32, copy=False)
