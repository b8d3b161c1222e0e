"""Offline planner datasets: manifest ↔ data, planner labels, validity, determinism, reuse (no Ray)."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from rllib_nsrl.envs.blocksworld import BlocksWorldEnv, BlocksWorldPlanner, layout
from rllib_nsrl.envs.blocksworld.encoding import decode_goal, decode_state
from rllib_nsrl.systems.blocksworld.collect import (
    COLUMNS,
    EXTRA_COLUMNS,
    MANIFEST,
    DataSettings,
    collect,
    collect_shard,
    ensure_dataset,
    load_task,
    read_manifest,
)

SETTINGS = DataSettings(
    tasks=(0, 2), transitions_per_task=70, exploration=0.5, shards_per_task=2, max_steps=12
)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    return root, collect(SETTINGS, root, log=lambda *_: None)


def test_manifest_matches_the_data(dataset):
    _, folder = dataset
    manifest = json.loads((folder / MANIFEST).read_text())
    assert folder.name == SETTINGS.key
    assert [t["task"] for t in manifest["tasks"]] == list(SETTINGS.tasks)
    assert manifest["exploration"] == 0.5 and manifest["seed"] == 0
    assert manifest["obs_dim"] == layout.flat_dim(6)
    assert "pyperplan" in manifest["planner"]["library"]
    for entry in manifest["tasks"]:
        assert entry["size"] == SETTINGS.transitions_per_task
        assert sum(f["rows"] for f in entry["files"]) == entry["size"]
        for f in entry["files"]:
            table = pq.read_table(folder / f["path"])
            assert table.num_rows == f["rows"]
            assert set(table.column_names) == set(COLUMNS) | set(EXTRA_COLUMNS)
        data = load_task(folder, entry["task"])
        assert len(data["actions"]) == entry["size"]
        assert data["obs"].shape == data["new_obs"].shape == (entry["size"], manifest["obs_dim"])
        # every complete episode ends terminated or at max_steps; rates are fractions of those episodes
        ends = data["terminateds"] | data["truncateds"]
        assert entry["episodes"] <= ends.sum() <= entry["episodes"] + len(entry["files"])
        assert 0.0 <= entry["goal_reach_rate"] <= 1.0 and 0.0 <= entry["planner_success_rate"] <= 1.0
        assert data["rewards"][data["terminateds"]].min(initial=99.9) == pytest.approx(99.9)


def test_actions_are_valid_and_follow_the_planner_when_not_exploring(dataset):
    _, folder = dataset
    planner = BlocksWorldPlanner(6)
    for task in SETTINGS.tasks:
        d = load_task(folder, task)
        parts = layout.unflatten(d["obs"])
        mask = parts["action_mask"]
        assert (mask[np.arange(len(d["actions"])), d["actions"]] == 1).all()
        greedy = ~d["explored"]
        assert 0 < greedy.sum() < len(greedy)
        assert (d["actions"][greedy] == d["planner_action"][greedy]).all()
        for i in np.flatnonzero(greedy)[:10]:  # the label is the real planner's optimal action
            state = decode_state(parts["nullary"][i], parts["unary"][i], parts["binary"][i])
            goal = decode_goal(parts["goal_unary"][i], parts["goal_binary"][i])
            assert planner.optimal_action(state, goal) == d["planner_action"][i]


def test_rows_chain_into_episodes(dataset):
    _, folder = dataset
    d = load_task(folder, 0)
    same = d["eps_id"][1:] == d["eps_id"][:-1]
    assert np.array_equal(d["new_obs"][:-1][same], d["obs"][1:][same])
    ends = d["terminateds"] | d["truncateds"]
    assert not ends[:-1][same].any()  # an episode only ends at its last row


def test_shards_are_deterministic(tmp_path):
    a = collect_shard(SETTINGS, 2, 1, 25, str(tmp_path / "a.parquet"))
    b = collect_shard(SETTINGS, 2, 1, 25, str(tmp_path / "b.parquet"))
    assert a == b
    assert pq.read_table(tmp_path / "a.parquet").equals(pq.read_table(tmp_path / "b.parquet"))


def test_flat_layout_round_trips_env_observations():
    env = BlocksWorldEnv({"num_blocks": 8, "task": 4})
    obs, _ = env.reset(seed=3)
    row = layout.flatten(obs)
    assert row.shape == (layout.flat_dim(8),) and layout.num_blocks_from_dim(row.size) == 8
    back = layout.unflatten(row)
    for key, value in obs.items():
        assert np.array_equal(back[key], value.astype(np.float32))
    with pytest.raises(ValueError, match="4n²"):
        layout.num_blocks_from_dim(181)


def test_complete_datasets_are_reused_and_never_overwritten(dataset):
    root, folder = dataset
    before = (folder / MANIFEST).stat().st_mtime_ns
    assert ensure_dataset(SETTINGS, root, log=lambda *_: None) == folder
    assert (folder / MANIFEST).stat().st_mtime_ns == before
    with pytest.raises(FileExistsError):
        collect(SETTINGS, root)


def test_an_interrupted_collection_is_collected_again(tmp_path):
    small = DataSettings(tasks=(1,), transitions_per_task=5, shards_per_task=1)
    (tmp_path / small.key / "task_1").mkdir(parents=True)
    (tmp_path / small.key / "task_1" / "part-000.parquet.tmp").write_text("cut")
    folder = ensure_dataset(small, tmp_path, log=lambda *_: None)
    assert read_manifest(folder)["tasks"][0]["size"] == 5
    assert [p.name for p in (folder / "task_1").iterdir()] == ["part-000.parquet"]


def test_missing_tasks_are_added_without_touching_collected_ones(tmp_path):
    first = DataSettings(tasks=(3,), transitions_per_task=6, shards_per_task=1)
    folder = collect(first, tmp_path, log=lambda *_: None)
    kept = (folder / "task_3" / "part-000.parquet").stat().st_mtime_ns
    more = DataSettings(tasks=(1, 3), transitions_per_task=6, shards_per_task=1)
    assert more.key == first.key and ensure_dataset(more, tmp_path, log=lambda *_: None) == folder
    manifest = read_manifest(folder)
    assert [e["task"] for e in manifest["tasks"]] == [1, 3] and manifest["settings"]["tasks"] == [1, 3]
    assert (folder / "task_3" / "part-000.parquet").stat().st_mtime_ns == kept
    assert len(load_task(folder, 1)["actions"]) == 6
