"""`nsrl collect`: offline BlocksWorld datasets labelled by the planner
(docs/systems/blocksworld.md#offline-data, "Offline RL").

For each task, ``transitions_per_task`` transitions of an ε-planner: with probability ``exploration`` (0.8)
a uniformly random *valid* action, else the first action of a shortest plan from pyperplan
(``envs/blocksworld/planner.py``). Every state is labelled with the planner's action, explored or not.

Layout (RLlib's columnar offline format, one parquet row per transition, readable by ``ray.data``)::

    <root>/<dataset key>/manifest.json
    <root>/<dataset key>/task_<k>/part-<shard>.parquet


Columns ``eps_id`` (str), ``obs``/``new_obs`` (float32 tensor columns in the layout of
``envs/blocksworld/layout.py``, action mask included), ``actions`` (int64), ``rewards`` (float32),
``terminateds``/``truncateds`` (bool),
plus ``planner_action`` (int64) and ``explored`` (bool: the ε-coin chose a random action). An episode cut by
the shard quota ends with ``truncateds = True``. The manifest is written last: a folder without one is an
interrupted collection and is collected again; asking for tasks a dataset lacks collects just those.

Shards run as Ray tasks (one CPU each). Shard (task k, shard s) seeds its env with (seed, k, s) and its
exploration with (seed, k, s, 1), so the data are identical however the shards are scheduled. On a
multi-node cluster ``<root>`` must be storage every node can write.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from rllib_nsrl.seeding import derive_seed

MANIFEST = "manifest.json"
COLUMNS = ("eps_id", "obs", "actions", "rewards", "new_obs", "terminateds", "truncateds")
EXTRA_COLUMNS = ("planner_action", "explored")


@dataclass(frozen=True)
class DataSettings:
    """What a dataset is made of; equal settings ⇒ identical data. All but ``tasks`` name the folder, which
    holds one sub-folder per task collected so far."""

    num_blocks: int = 6
    tasks: tuple[int, ...] = (0, 1, 2, 3, 4)
    transitions_per_task: int = 50_000
    exploration: float = 0.8
    seed: int = 0
    shards_per_task: int = 4
    max_steps: int = 50
    domain_file: str | None = None  # None: the built-in domain

    @classmethod
    def from_spec(cls, spec: dict) -> DataSettings:
        """Settings of a validated `kind: blocksworld_lifelong` spec (its ``env``, ``tasks`` and ``data``)."""
        d = spec["data"]
        return cls(
            num_blocks=spec["env"]["num_blocks"],
            tasks=tuple(spec["tasks"]),
            transitions_per_task=d["transitions_per_task"],
            exploration=d["exploration"],
            seed=d["seed"],
            shards_per_task=d["shards_per_task"],
            max_steps=spec["env"]["max_steps"],
            domain_file=spec["env"].get("domain_file"),
        )

    @property
    def key(self) -> str:
        """Folder name of the dataset: every setting but ``tasks`` (a custom domain file as a short hash)."""
        return (
            f"blocks{self.num_blocks}_n{self.transitions_per_task}_eps{self.exploration:g}"
            f"_steps{self.max_steps}_seed{self.seed}_shards{self.shards_per_task}"
            + (
                ""
                if self.domain_file is None
                else "_domain" + hashlib.sha1(self.domain_file.encode()).hexdigest()[:8]
            )
        )

    def shard_sizes(self) -> list[int]:
        """Transitions per shard of one task (sizes differ by at most 1; empty shards left out)."""
        base, extra = divmod(self.transitions_per_task, self.shards_per_task)
        return [base + (s < extra) for s in range(self.shards_per_task) if base + (s < extra) > 0]


def _log(text: str) -> None:
    print(text, flush=True)



def collect_shard(settings: DataSettings, task: int, shard: int, size: int, out_file: str) -> dict:
    """Run the ε-planner for ``size`` transitions of ``task`` and write them to ``out_file`` (parquet).

    Returns the shard's episode statistics (only episodes that ended inside the shard count)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from ray.data.extensions import ArrowTensorArray

    from rllib_nsrl.envs.blocksworld import BlocksWorldEnv
    from rllib_nsrl.envs.blocksworld.layout import flatten
    from rllib_nsrl.envs.blocksworld.planner import default_planner

    env = BlocksWorldEnv(
        {
            "task": task,
            "num_blocks": settings.num_blocks,
            "max_steps": settings.max_steps,
            "domain_file": settings.domain_file,
        }
    )
    planner = default_planner(settings.num_blocks)
    rng = np.random.default_rng([settings.seed, task, shard, 1])
    rows = {k: [] for k in (*COLUMNS, *EXTRA_COLUMNS)}
    stats = {"episodes": 0, "goal_reached": 0, "planner_solvable": 0, "optimal_length_sum": 0}
    obs, _ = env.reset(seed=derive_seed(settings.seed, task, shard))
    episode, t, start_plan_length = 0, 0, 0
    while len(rows["actions"]) < size:
        plan = planner.plan(env.state.literals, env.goal)
        if t == 0:
            start_plan_length = len(plan)
        explored = bool(rng.random() < settings.exploration)
        action = int(rng.choice(env.valid_actions())) if explored else plan[0]
        next_obs, reward, terminated, truncated, _ = env.step(action)
        t += 1
        last = len(rows["actions"]) + 1 == size
        for key, value in (
            ("eps_id", f"t{task}s{shard}e{episode}"),
            ("obs", flatten(obs)),
            ("actions", action),
            ("rewards", reward),
            ("new_obs", flatten(next_obs)),
            ("terminateds", terminated),
            ("truncateds", truncated or (last and not terminated)),
            ("planner_action", plan[0]),
            ("explored", explored),
        ):
            rows[key].append(value)
        if terminated or truncated:
            stats["episodes"] += 1
            stats["goal_reached"] += int(terminated)
            stats["optimal_length_sum"] += start_plan_length
            stats["planner_solvable"] += int(start_plan_length <= settings.max_steps)
            obs, _ = env.reset()
            episode, t = episode + 1, 0
        else:
            obs = next_obs
    env.close()
    table = pa.table(
        {
            "eps_id": pa.array(rows["eps_id"], pa.string()),
            "obs": ArrowTensorArray.from_numpy(np.stack(rows["obs"])),
            "actions": pa.array(rows["actions"], pa.int64()),
            "rewards": pa.array(rows["rewards"], pa.float32()),
            "new_obs": ArrowTensorArray.from_numpy(np.stack(rows["new_obs"])),
            "terminateds": pa.array(rows["terminateds"], pa.bool_()),
            "truncateds": pa.array(rows["truncateds"], pa.bool_()),
            "planner_action": pa.array(rows["planner_action"], pa.int64()),
            "explored": pa.array(rows["explored"], pa.bool_()),
        }
    )
    tmp = Path(out_file).with_suffix(".tmp")
    pq.write_table(table, tmp)
    tmp.replace(out_file)
    return {**stats, "rows": table.num_rows, "planner_searches": planner.stats()["searches"]}


def _task_entry(settings: DataSettings, task: int, files: list[tuple[str, dict]]) -> dict:
    from rllib_nsrl.envs.blocksworld import get_task

    total = {k: sum(s[k] for _, s in files) for k in ("episodes", "goal_reached", "planner_solvable", "rows")}
    episodes = max(total["episodes"], 1)
    return {
        "task": task,
        "name": get_task(task).name,
        "dir": f"task_{task}",
        "size": total["rows"],
        "episodes": total["episodes"],
        "goal_reach_rate": total["goal_reached"] / episodes,
        "planner_success_rate": total["planner_solvable"] / episodes,
        "mean_optimal_plan_length": sum(s["optimal_length_sum"] for _, s in files) / episodes,
        "planner_searches": sum(s["planner_searches"] for _, s in files),
        "files": [{"path": path, "rows": s["rows"]} for path, s in files],
    }


def collect(settings: DataSettings, root: str | Path, *, log=_log) -> Path:
    """Collect the tasks of ``settings`` that ``root/<key>`` lacks (Ray tasks if Ray is initialised, else
    in-process), then (re)write the manifest; return the folder. Complete tasks are never rewritten."""
    folder = Path(root).resolve() / settings.key
    manifest = read_manifest(folder)
    if manifest is None and folder.exists():
        shutil.rmtree(folder)  # no manifest: an interrupted collection
    done = {e["task"]: e for e in (manifest or {}).get("tasks", [])}
    todo = [t for t in settings.tasks if t not in done]
    if not todo:
        raise FileExistsError(f"{folder} already holds tasks {sorted(done)}; remove it to collect again")
    jobs = []
    for task in todo:
        shutil.rmtree(folder / f"task_{task}", ignore_errors=True)  # a cut collection of this task
        (folder / f"task_{task}").mkdir(parents=True)
        for shard, size in enumerate(settings.shard_sizes()):
            jobs.append((task, shard, size, f"task_{task}/part-{shard:03d}.parquet"))
    start = time.perf_counter()
    args = [(settings, task, shard, size, str(folder / rel)) for task, shard, size, rel in jobs]
    from rllib_nsrl.experiments.parallel import map_tasks

    stats = map_tasks(collect_shard, args, label="collect: shards", log=log)
    by_task: dict[int, list] = {t: [] for t in todo}
    for (task, _, _, rel), s in zip(jobs, stats, strict=True):
        by_task[task].append((rel, s))
    done.update({t: _task_entry(settings, t, by_task[t]) for t in todo})
    tasks = sorted(done)
    manifest = {
        "format": "RLlib columnar transitions (parquet), one row per transition",
        "columns": list(COLUMNS) + list(EXTRA_COLUMNS),
        "obs_layout": "rllib_nsrl.envs.blocksworld.layout: "
        "nullary|unary|binary|goal_unary|goal_binary|action_mask",
        "obs_dim": 4 * settings.num_blocks**2 + 6 * settings.num_blocks + 2,
        "settings": {**asdict(settings), "tasks": tasks},
        "planner": {
            "library": f"pyperplan {importlib.metadata.version('pyperplan')}",
            "search": "A* (MustMoveHeuristic, admissible): shortest plans",
        },
        "exploration": settings.exploration,
        "seed": settings.seed,
        "collect_seconds": round(time.perf_counter() - start + (manifest or {}).get("collect_seconds", 0), 2),
        "tasks": [done[t] for t in tasks],
    }
    tmp = folder / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2))
    tmp.replace(folder / MANIFEST)
    log(
        f"nsrl: collected tasks {todo} × {settings.transitions_per_task} transitions in "
        f"{time.perf_counter() - start:.1f}s -> {folder}"
    )
    return folder


def read_manifest(folder: str | Path) -> dict | None:
    """The manifest of a dataset folder; None if its collection has not finished."""
    path = Path(folder) / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else None


def ensure_dataset(settings: DataSettings, root: str | Path, *, log=_log) -> Path:
    """The dataset folder for ``settings`` under ``root``: reused if it holds every task, else completed."""
    folder = Path(root).resolve() / settings.key
    manifest = read_manifest(folder)
    if manifest is not None and {e["task"] for e in manifest["tasks"]} >= set(settings.tasks):
        log(f"nsrl: reusing offline data {folder}")
        return folder
    return collect(settings, root, log=log)


def load_task(folder: str | Path, task: int) -> dict[str, np.ndarray]:
    """All transitions of one task as numpy columns (``obs``/``new_obs``: ``[N, D]`` float32)."""
    import pyarrow.parquet as pq
    import ray.data.extensions  # noqa: F401  (registers the tensor column type with pyarrow)

    table = pq.read_table(Path(folder) / f"task_{task}")
    out = {}
    for name in (*COLUMNS, *EXTRA_COLUMNS):
        column = table.column(name)
        if name in ("obs", "new_obs"):
            out[name] = np.concatenate([c.to_numpy() for c in column.chunks]).astype(np.float32, copy=False)
        else:
            out[name] = column.to_numpy()
    return out


def run_collect(spec: dict, out_dir: str | None = None, address: str | None = None) -> int:
    """`nsrl collect`: the spec's datasets under ``out_dir`` (default ``data.dir``); complete ones are kept.

    Returns the exit code."""
    from rllib_nsrl.experiments.runner import connect

    connect(address)
    folder = ensure_dataset(DataSettings.from_spec(spec), out_dir or spec["data"]["dir"])
    for entry in read_manifest(folder)["tasks"]:
        print(
            f"nsrl: task {entry['task']} ({entry['name']}): {entry['size']} transitions, "
            f"{entry['episodes']} episodes, goal reached {entry['goal_reach_rate']:.0%}",
            file=sys.stdout,
        )
    return 0
