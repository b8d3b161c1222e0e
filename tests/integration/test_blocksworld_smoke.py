"""`nsrl run tune_configs/blocksworld_lifelong.yaml --smoke`: collect (Ray tasks) + Tune trials + analysis."""

import json
from pathlib import Path

import pandas as pd
import pytest

from rllib_nsrl.analysis.results import load_trials
from rllib_nsrl.cli import main
from rllib_nsrl.experiments.spec import load_spec
from rllib_nsrl.systems.blocksworld.spec import iterations

pytestmark = pytest.mark.ray


def test_blocksworld_smoke_collects_trains_evaluates_and_reports(
    ray_session, repo_path, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)  # the spec's relative data.dir lands in tmp_path
    spec_path = str(Path(repo_path) / "tune_configs" / "blocksworld_lifelong.yaml")
    spec = load_spec(spec_path, smoke=True)
    assert main(["run", spec_path, "--smoke", "--storage", str(tmp_path / "runs"), "--name", "smoke"]) == 0

    # offline data: one folder per task, manifest rows = parquet rows, also readable by ray.data
    (data_dir,) = (tmp_path / spec["data"]["dir"]).iterdir()
    manifest = json.loads((data_dir / "manifest.json").read_text())
    assert [t["task"] for t in manifest["tasks"]] == spec["tasks"]
    size = spec["data"]["transitions_per_task"]
    assert all(t["size"] == size for t in manifest["tasks"])
    assert ray_session.data.read_parquet(str(data_dir / "task_4")).count() == size

    run_dir = tmp_path / "runs" / "smoke"
    trials = load_trials(run_dir)
    assert sorted(c["mode"] for c, _ in trials) == ["individual", "lifelong"]
    tasks = [t["name"] for t in manifest["tasks"]]
    for config, frame in trials:
        assert config["data_dir"] == str(data_dir)
        assert frame["training_iteration"].tolist() == list(range(1, iterations(spec) + 1))
        assert frame["task"].drop_duplicates().tolist() == tasks
        assert frame["eval_steps"].between(1, spec["env"]["max_steps"]).all()
        assert frame["eval_success"].between(0, 1).all()
        last = frame.iloc[-1]
        for task in tasks:  # every task's model was also evaluated on 8 blocks
            assert 1 <= last[f"gen_steps/{task}"] <= spec["generalisation"]["max_steps"]
        assert list(run_dir.glob(f"{config['mode']}_seed0_*/checkpoint_*")), "no task-boundary checkpoint"

    analysis = run_dir / "analysis"
    curves = pd.read_csv(analysis / "steps_to_goal_curves.csv")
    assert set(curves["mode"]) == {"individual", "lifelong"} and set(curves["task"]) == set(tasks)
    gen = pd.read_csv(analysis / "generalisation.csv")
    assert set(gen["gen_blocks"]) == {spec["generalisation"]["num_blocks"]} and len(gen) == 2 * len(tasks)
    assert (analysis / "steps_to_goal.png").stat().st_size > 1000
    assert "lifelong" in (analysis / "blocks_report.md").read_text()

    # `nsrl collect` on the same spec finds the complete dataset and keeps it
    capsys.readouterr()
    assert main(["collect", spec_path, "--smoke"]) == 0
    assert "reusing" in capsys.readouterr().out
