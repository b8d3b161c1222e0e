"""Every spec in tune_configs/ runs with --smoke through real Tune, and `nsrl analyze` reads it back."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from rllib_nsrl.analysis.results import load_trials
from rllib_nsrl.cli import main
from rllib_nsrl.systems.symdqn.conditions import condition_of

pytestmark = pytest.mark.ray


def run_smoke(repo_path, tmp_path, spec_name):
    code = main(
        [
            "run",
            str(Path(repo_path) / "tune_configs" / spec_name),
            "--smoke",
            "--storage",
            str(tmp_path),
            "--name",
            "smoke",
        ]
    )
    assert code == 0
    return tmp_path / "smoke"


def test_quickstart_smoke_run_and_analysis(ray_session, repo_path, tmp_path):
    run_dir = run_smoke(repo_path, tmp_path, "quickstart.yaml")
    spec = json.loads((run_dir / "nsrl_spec.json").read_text())
    trials = load_trials(run_dir)
    assert {condition_of(t[0]) for t in trials} == {"DuelDQN", "SymDQN(AF)"}
    for _, frame in trials:
        assert frame["training_iteration"].tolist() == list(range(1, spec["stop"]["epochs"] + 1))
        assert frame["evaluation/env_runners/score"].between(-1, 1).all()
    summary = pd.read_csv(run_dir / "analysis" / "summary.csv")
    assert set(summary["condition"]) == {"DuelDQN", "SymDQN(AF)"}
    assert (run_dir / "analysis" / "score.png").stat().st_size > 1000
    assert "DuelDQN" in (run_dir / "analysis" / "summary.md").read_text()
    # analysing again into another folder works from the experiment directory alone
    assert main(["analyze", str(run_dir), "--out", str(tmp_path / "again")]) == 0
    assert (tmp_path / "again" / "negative_ratio.png").exists()

    # a fresh process restores the Algorithm from a checkpoint with no registration step, and acts
    checkpoint = max(run_dir.glob("SymDQN-AF_seed0_*/checkpoint_*"))
    code = (
        "import ray, torch\n"
        "from ray.rllib.algorithms.algorithm import Algorithm\n"
        "ray.init(address='local', num_cpus=1, include_dashboard=False)  # never another running cluster\n"
        f"algo = Algorithm.from_checkpoint({str(checkpoint)!r})\n"
        "out = algo.get_module().forward_inference({'obs': torch.rand(1, 50, 50, 3)})\n"
        "print('ACTION', int(out['actions'][0]))\n"
        "algo.stop()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert proc.returncode == 0 and "ACTION " in proc.stdout, proc.stderr[-3000:]

    # `nsrl explain` on the SymDQN(AF) trial: labels, predicted rewards, the filter and Q-values per decision
    assert main(["explain", str(run_dir), "--out", str(tmp_path / "explain"), "--episodes", "1"]) == 0
    record = json.loads((tmp_path / "explain" / "decisions.json").read_text())
    assert len(record["decisions"]) == 3 and (tmp_path / "explain" / "decision_1.png").stat().st_size > 1000
    for d in record["decisions"]:
        assert [a["action"] for a in d["actions"]] == ["up", "right", "down", "left"]
        kept = [a for a in d["actions"] if a["kept"]]
        assert d["action"] == max(kept, key=lambda a: a["q"])["action"]  # greedy over the kept actions
        best = max(a["predicted_reward"] for a in d["actions"])
        for a in d["actions"]:  # the ActionFilter's rule, threshold 0.5
            assert a["kept"] == (a["predicted_reward"] >= best - 0.5 - 1e-6)
    assert "SymDQN(AF) seed 0" in (tmp_path / "explain" / "explanation.md").read_text()

    # a trial of the oldest layout (its condition only in `_model_config`) is explained the same way
    import shutil

    legacy = tmp_path / "legacy_trial"
    shutil.copytree(checkpoint.parent, legacy)
    params = json.loads((legacy / "params.json").read_text())
    params["_model_config"] = {**params.get("_model_config", {}), "condition": params.pop("condition")}
    (legacy / "params.json").write_text(json.dumps(params))
    assert main(["explain", str(legacy), "--out", str(tmp_path / "explain_legacy"), "--episodes", "1"]) == 0
    assert "SymDQN(AF) seed 0" in (tmp_path / "explain_legacy" / "explanation.md").read_text()


def test_ablation_smoke_runs_all_five_conditions(ray_session, repo_path, tmp_path):
    run_dir = run_smoke(repo_path, tmp_path, "symdqn_ablation.yaml")
    conditions = {condition_of(t[0]) for t in load_trials(run_dir)}
    assert conditions == {"DuelDQN", "SymDQN", "SymDQN(AR)", "SymDQN(AF)", "SymDQN(AR,AF)"}
    table = (run_dir / "analysis" / "summary.md").read_text()
    assert all(c in table for c in conditions)


def test_ilp_graph_smoke_run_and_analysis(ray_session, repo_path, tmp_path):
    run_dir = run_smoke(repo_path, tmp_path, "ilp_lifelong_graph.yaml")
    trials = load_trials(run_dir)
    assert {t[0]["mode"] for t in trials} == {"individual", "lifelong", "lifelong_replay"}
    for _, frame in trials:
        assert len(frame) == 8  # 4 tasks × 2 smoke epochs, each epoch reported once
        assert frame["test_acc/AdjacentToRed"].notna().all()
    assert (run_dir / "analysis" / "ilp_report.md").exists()


# Specs with a dedicated smoke test above or in test_blocksworld_smoke.py / test_insight_smoke.py; every
# other spec runs below.
DEDICATED = {"quickstart", "symdqn_ablation", "ilp_lifelong_graph", "blocksworld_lifelong", "insight_pong",
             "insight_freeway"}  # fmt: skip
OTHERS = sorted(
    p.stem for p in (Path(__file__).parents[2] / "tune_configs").glob("*.yaml") if p.stem not in DEDICATED
)


def test_every_spec_has_a_smoke_run():
    assert DEDICATED <= {p.stem for p in (Path(__file__).parents[2] / "tune_configs").glob("*.yaml")}
    assert OTHERS  # the generic test below covers the rest


@pytest.mark.parametrize("stem", OTHERS)
def test_spec_smoke_run_and_analysis(ray_session, repo_path, tmp_path, monkeypatch, stem):
    monkeypatch.chdir(tmp_path)  # a spec's relative data.dir lands in tmp_path
    run_dir = run_smoke(repo_path, tmp_path, f"{stem}.yaml")
    trials = load_trials(run_dir)
    assert trials and all(len(frame) > 0 for _, frame in trials)
    assert any((run_dir / "analysis").iterdir())
