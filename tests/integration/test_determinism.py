"""The same spec and seed twice on CPU give identical per-epoch metrics; another seed gives others.

Each spec runs once through `nsrl run` (two seeds as Tune trials, in their own processes) and once
more directly in this process from the same validated spec; seed 0's metrics must agree bit for bit,
epoch by epoch, and seeds 0 and 1 must differ (a seed that was silently ignored would make them equal).
Fresh evaluation episodes per epoch are checked in test_symdqn_rllib.py.
"""

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from rllib_nsrl.analysis.results import load_trials
from rllib_nsrl.cli import main
from rllib_nsrl.experiments.spec import validate_spec

pytestmark = [pytest.mark.ray, pytest.mark.slow]

# Bookkeeping that differs between runs by nature: clocks, throughputs, processes, paths, ids.
VOLATILE = ("time", "duration", "throughput", "timers/", "perf/", "date", "pid", "hostname", "node_ip",
            "trial_id", "experiment_tag", "checkpoint_dir_name", "iterations_since_restore", "done",
            "config/", "num_healthy_workers", "num_remote_worker_restarts", "fault_tolerance/")  # fmt: skip


def metrics(frame: pd.DataFrame) -> pd.DataFrame:
    keep = [c for c in frame.columns if not any(v in c for v in VOLATILE) and not c.endswith("/sample")]
    return frame[keep].select_dtypes(include=[np.number, bool]).reset_index(drop=True)


def tune_run(tmp_path, spec: dict) -> dict[int, pd.DataFrame]:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    assert main(["run", str(path), "--storage", str(tmp_path), "--name", "tuned", "--no-analyze"]) == 0
    return {config["seed"]: metrics(frame) for config, frame in load_trials(tmp_path / "tuned")}


def assert_same(tuned: pd.DataFrame, direct: pd.DataFrame, needed: list[str]) -> None:
    common = sorted(set(tuned.columns) & set(direct.columns))
    assert set(needed) <= set(common) and len(tuned) == len(direct) >= 2
    for column in common:
        a, b = tuned[column].to_numpy(dtype=float), direct[column].to_numpy(dtype=float)
        assert np.array_equal(a, b, equal_nan=True), f"{column}: {a} (Tune) != {b} (direct)"


def straight_and_restored(build, tmp_path) -> tuple[list[dict], list[dict]]:
    """Three `train()` calls straight through, and (from a new Algorithm) one call, a checkpoint, a restore
    into another new Algorithm and two more calls: (the 3 straight results, the 2 restored results)."""
    algo = build()
    try:
        straight = [algo.train() for _ in range(3)]
        algo.stop()
        algo = build()
        algo.train()
        algo.save_to_path(str(tmp_path / "ckpt"))
        algo.stop()
        algo = build()
        algo.restore_from_path(str(tmp_path / "ckpt"))
        restored = [algo.train() for _ in range(2)]
    finally:
        algo.stop()
    return straight, restored


def assert_seeds_differ(tuned: dict, columns: list[str]) -> None:
    for column in columns:
        assert not tuned[0][column].equals(tuned[1][column]), f"seeds 0 and 1 agree on {column}"


def test_symdqn_same_seed_same_epochs(ray_session, tmp_path):
    from rllib_nsrl.systems.symdqn.kind import symdqn_config

    spec = {"name": "det", "kind": "symdqn", "conditions": ["SymDQN(AR,AF)"], "seeds": [0, 1],
            "epoch": {"train_episodes": 2, "eval_episodes": 2}, "stop": {"epochs": 2},
            "env": {"config": {"max_steps": 12}}}  # fmt: skip
    tuned = tune_run(tmp_path, spec)
    threads = torch.get_num_threads()  # SymDQN sets this process's torch threads
    algo = symdqn_config(validate_spec(spec), "SymDQN(AR,AF)", 0).build_algo()
    try:
        direct = pd.json_normalize([algo.train() for _ in range(2)], sep="/")
    finally:
        algo.stop()
        torch.set_num_threads(threads)
    needed = ["evaluation/env_runners/score", "env_runners/score", "learners/default_policy/total_loss"]
    assert_same(tuned[0], metrics(direct), needed)
    assert_seeds_differ(tuned, ["learners/default_policy/total_loss", "env_runners/episode_return_mean"])


@pytest.mark.parametrize("loop", ["lean", "rllib"])
def test_symdqn_restored_run_continues_bit_for_bit(ray_session, tmp_path, loop):
    """A SymDQN(AR,AF) Algorithm restored from its epoch-1 checkpoint gives epochs 2 and 3 exactly as the
    uninterrupted run: replay buffer, generators, episode seeds, patch store and metrics are all in the
    checkpoint (systems/symdqn/algorithm.py, "Exact restore")."""
    from rllib_nsrl.systems.symdqn.kind import symdqn_config

    spec = validate_spec({"name": "det", "kind": "symdqn", "conditions": ["SymDQN(AR,AF)"],
                          "epoch": {"train_episodes": 2, "eval_episodes": 2}, "stop": {"epochs": 3},
                          "env": {"config": {"max_steps": 13}},
                          "dqn": {"learning_starts": 8, "loop": loop}})  # fmt: skip
    threads = torch.get_num_threads()

    def build():
        return symdqn_config(spec, "SymDQN(AR,AF)", 0).build_algo()

    try:
        straight, restored = straight_and_restored(build, tmp_path)
    finally:
        torch.set_num_threads(threads)
    a, b = metrics(pd.json_normalize(straight[1:], sep="/")), metrics(pd.json_normalize(restored, sep="/"))
    needed = ["evaluation/env_runners/score", "env_runners/score", "learners/default_policy/total_loss",
              "learners/default_policy/ltn_sat_A1_A3", "learners/default_policy/reward_pred_mse"]  # fmt: skip
    assert_same(a, b, needed)
    assert [r["training_iteration"] for r in restored] == [2, 3]


def test_ilp_same_seed_same_epochs(ray_session, tmp_path):
    from rllib_nsrl.systems.lifelong_ilp.protocol import ILPConfig, ILPProtocol
    from rllib_nsrl.systems.lifelong_ilp.spec import trial_config

    spec = {"name": "det", "kind": "ilp_lifelong", "domain": "graph", "modes": ["lifelong_replay"],
            "seeds": [0, 1], "model": {"kb_depth": 1},
            "training": {"epochs_per_task": 2, "batches_per_epoch": 2, "batch_size": 2},
            "evaluation": {"test_size": 2, "test_size_2x": 1, "eval_batch_size": 2,
                           "n_objects": 6}}  # fmt: skip
    tuned = tune_run(tmp_path, spec)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as ilp_trainable does
    try:
        protocol = ILPProtocol(ILPConfig.from_dict(trial_config(validate_spec(spec), "lifelong_replay", 0)))
        epochs = []
        while not protocol.done:
            epochs.append(protocol.train_epoch())
    finally:
        torch.set_num_threads(threads)
    assert_same(tuned[0], metrics(pd.DataFrame(epochs)), ["train_loss", "test_acc/AdjacentToRed"])
    assert_seeds_differ(tuned, ["train_loss", "test_loss/AdjacentToRed"])


def test_insight_same_seed_same_epochs_and_a_restore_continues(ray_session, tmp_path, monkeypatch):
    """INSIGHT through Tune and directly agree bit for bit, and an Algorithm restored from its iteration-1
    checkpoint (games in mid-play) gives iterations 2 and 3 exactly as the uninterrupted run."""
    from rllib_nsrl.systems.insight.data import DataSettings
    from rllib_nsrl.systems.insight.kind import insight_config
    from rllib_nsrl.systems.insight.pretrain import PretrainSettings, weights_template

    monkeypatch.chdir(tmp_path)  # relative data.dir
    spec = {"name": "det", "kind": "insight", "conditions": ["INSIGHT"], "seeds": [0, 1],
            "data": {"dir": "data", "train_frames": 64, "test_frames": 16, "shards": 1},
            "pretrain": {"epochs": 1}, "model": {"feature_dim": 32},
            "ppo": {"total_steps": 96, "num_envs": 2, "rollout_length": 16, "num_epochs": 2,
                    "num_minibatches": 2},
            "insight": {"perception_batch": 8},
            "evaluation": {"every": 1, "episodes": 1, "max_episode_frames": 400}}  # fmt: skip
    tuned = tune_run(tmp_path, spec)
    valid = validate_spec(spec)
    data = str(DataSettings.from_spec(valid).folder(valid["data"]["dir"]))
    weights = weights_template(data, PretrainSettings.from_spec(valid, 0))

    def build():
        return insight_config(valid, "INSIGHT", 0, data, weights).build_algo()

    direct, restored = straight_and_restored(build, tmp_path)
    needed = ["insight/eql_return", "insight/mae_px", "learners/default_policy/guidance_loss",
              "learners/default_policy/perception_loss", "learners/default_policy/total_loss"]  # fmt: skip
    assert_same(tuned[0], metrics(pd.json_normalize(direct, sep="/")), needed)
    straight = metrics(pd.json_normalize(direct[1:], sep="/"))
    again = metrics(pd.json_normalize(restored, sep="/"))
    counters = ["env_runners/num_env_steps_sampled", "learners/default_policy/l_half_weight"]
    assert_same(straight, again, needed + counters)
    assert [r["training_iteration"] for r in restored] == [2, 3]
    assert_seeds_differ(tuned, ["learners/default_policy/total_loss"])
