"""Run directories made before the one-folder-per-system move (tests/data/legacy_runs, made by the code
of commit 40e1198 with `nsrl run tune_configs/{ilp_lifelong_graph,quickstart}.yaml --smoke`, checkpoints
and TensorBoard files left out) still analyse to the same tables. The ILP run continues with `--resume`;
the SymDQN run (whose settings moved into `SymDQNConfig`) is refused with one line saying what to do, and
so is the ILP run resumed with a setting added since that differs from its default."""

import shutil
from pathlib import Path

import pandas as pd
import pytest

from rllib_nsrl.cli import main

pytestmark = pytest.mark.ray

DATA = Path(__file__).parents[1] / "data" / "legacy_runs"
RUNS = {"ilp_legacy": "ilp_lifelong_graph.yaml", "symdqn_legacy": "quickstart.yaml"}
# tune_configs/quickstart.yaml at commit 40e1198 (the spec of symdqn_legacy, before --smoke)
QUICKSTART_40E1198 = """
name: quickstart
kind: symdqn
description: DuelDQN vs SymDQN(AF), short budget
conditions: [DuelDQN, SymDQN(AF)]
seeds: [0, 1]
epoch: {train_episodes: 10, eval_episodes: 20}
stop: {epochs: 4}
dqn: {epsilon: [[0, 0.95], [2000, 0.05]]}
analysis: {epochs: [2, 4], window: 1}
resources: {cpus_per_trial: 1}
"""

# tune_configs/ilp_lifelong_graph.yaml at commit 40e1198 (the spec of ilp_legacy, before --smoke)
ILP_GRAPH_40E1198 = """
name: ilp_lifelong_graph
kind: ilp_lifelong
domain: graph
modes: [individual, lifelong, lifelong_replay]
seeds: [0, 1, 2, 3]
model: {kb_depth: 4, kb_channels: [8, 8, 8, 8], head_channels: [8, 8, 8, 8]}
training: {lr: 1.0e-3, epochs_per_task: 50, batches_per_epoch: 10, batch_size: 4}
resources: {cpus_per_trial: 1}
failure: {max_failures: 2}
"""


def copy_run(name, tmp_path):
    dest = tmp_path / "runs" / name
    shutil.copytree(DATA / name, dest)
    return dest


@pytest.mark.parametrize("name", sorted(RUNS))
def test_legacy_run_analyses_to_the_same_tables(name, tmp_path):
    run = copy_run(name, tmp_path)
    assert main(["analyze", str(run), "--out", str(tmp_path / "out")]) == 0
    expected = sorted((DATA / f"{name}.expected").iterdir())
    assert expected
    for path in expected:
        if path.suffix == ".csv":  # every old column identical; tables may have gained (IQM) columns
            old = pd.read_csv(path)
            pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "out" / path.name)[list(old.columns)], old)


def test_legacy_ilp_run_resumes(ray_session, tmp_path, capsys):
    """Resumed with the spec it was made with, so that later changes to that spec do not matter."""
    name = "ilp_legacy"
    run = copy_run(name, tmp_path)
    results = sorted(p.read_text() for p in run.glob("*/result.json"))
    spec = tmp_path / "ilp_lifelong_graph_40e1198.yaml"
    spec.write_text(ILP_GRAPH_40E1198)
    spec = str(spec)
    args = ["run", spec, "--smoke", "--resume", "--storage", str(tmp_path / "runs"), "--name", name]
    assert main(args + ["--no-analyze"]) == 0
    out = capsys.readouterr().out
    assert "trials finished" in out and f"{len(results)}/{len(results)} trials finished" in out
    assert sorted(p.read_text() for p in run.glob("*/result.json")) == results  # nothing re-run or lost


def test_legacy_symdqn_run_refuses_resume_in_one_line(tmp_path, capsys):
    """Its SymDQN settings sat in `_model_config`; Tune refuses a param space of other keys, so nsrl says
    what to do before Ray starts, and changes nothing. Resumed with the quickstart.yaml it was made with, so
    that later changes to that spec do not matter."""
    run = copy_run("symdqn_legacy", tmp_path)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    spec = tmp_path / "quickstart_40e1198.yaml"
    spec.write_text(QUICKSTART_40E1198)
    storage = str(tmp_path / "runs")
    args = ["run", str(spec), "--smoke", "--resume", "--storage", storage, "--name", "symdqn_legacy"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "git checkout 40e1198" in err and "nsrl analyze" in err
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_legacy_ilp_run_refuses_a_setting_added_since_in_one_line(tmp_path, capsys):
    """The run was made before `training.loss`; resuming it with `loss: balanced` would train on with another
    loss, so nsrl refuses before Ray starts and changes nothing."""
    run = copy_run("ilp_legacy", tmp_path)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    spec = tmp_path / "ilp_graph_balanced.yaml"
    spec.write_text(ILP_GRAPH_40E1198.replace("batch_size: 4}", "batch_size: 4, loss: balanced}"))
    args = [
        "run",
        str(spec),
        "--smoke",
        "--resume",
        "--storage",
        str(tmp_path / "runs"),
        "--name",
        "ilp_legacy",
    ]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "training.loss" in err and "'bce'" in err, err
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
