"""`nsrl run tune_configs/insight_*.yaml --smoke`: collect (Ray tasks), pre-train, train every condition
through Tune, evaluate both actors on full games, and `nsrl analyze`."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from rllib_nsrl.analysis.results import load_trials
from rllib_nsrl.cli import main
from rllib_nsrl.experiments.spec import load_spec
from rllib_nsrl.systems.insight.spec import iterations

pytestmark = pytest.mark.ray
MID = "learners/default_policy/"


def smoke(repo_path, tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)  # the spec's relative data.dir lands in tmp_path
    spec_path = str(Path(repo_path) / "tune_configs" / name)
    spec = load_spec(spec_path, smoke=True)
    assert main(["run", spec_path, "--smoke", "--storage", str(tmp_path / "runs"), "--name", "smoke"]) == 0
    return spec, tmp_path / "runs" / "smoke"


def test_insight_pong_smoke_trains_perception_neural_and_eql_actors(
    ray_session, repo_path, tmp_path, monkeypatch
):
    spec, run_dir = smoke(repo_path, tmp_path, monkeypatch, "insight_pong.yaml")
    (data_dir,) = (tmp_path / spec["data"]["dir"]).iterdir()
    manifest = json.loads((data_dir / "manifest.json").read_text())
    assert manifest["splits"]["train"]["frames"] == spec["data"]["train_frames"]
    assert ray_session.data.read_parquet(str(data_dir / "train")).count() == spec["data"]["train_frames"]
    (pretrained,) = (data_dir / "pretrain").iterdir()
    metrics = json.loads((pretrained / "metrics.json").read_text())
    assert len(metrics["history"]) == spec["pretrain"]["epochs"]

    trials = {config["condition"]: frame for config, frame in load_trials(run_dir)}
    assert set(trials) == set(spec["conditions"]) == {"INSIGHT", "w/o NG", "fixed perception", "w/o pretrain",
                                                      "neural PPO"}  # fmt: skip
    # every `evaluation.every` iterations, and after the last one
    evals = sorted({*range(spec["evaluation"]["every"], iterations(spec) + 1, spec["evaluation"]["every"]),
                    iterations(spec)})  # fmt: skip
    for condition, frame in trials.items():
        assert frame["training_iteration"].tolist() == list(range(1, iterations(spec) + 1))
        scored = frame.dropna(
            subset=["insight/eql_return" if condition == "w/o NG" else "insight/neural_return"]
        )
        assert scored["training_iteration"].tolist() == evals
        assert scored.filter(like="_return").stack().between(-21, 21).all()
    for condition in ("INSIGHT", "fixed perception", "w/o pretrain"):
        frame = trials[condition]
        assert frame[MID + "guidance_loss"].notna().all() and frame[MID + "l_half_penalty"].gt(0).all()
        assert frame["insight/eql_agreement"].dropna().between(0, 1).all()
    assert (
        MID + "guidance_loss" not in trials["neural PPO"] and "insight/eql_return" not in trials["neural PPO"]
    )
    assert "insight/neural_return" not in trials["w/o NG"]
    # perception: refined by the perception loss in INSIGHT, untouched when fixed
    mae = {
        c: trials[c]["insight/mae_px"].dropna().tolist()
        for c in ("INSIGHT", "fixed perception", "w/o pretrain")
    }
    assert len(set(mae["fixed perception"])) == 1 and len(set(mae["INSIGHT"])) == len(evals)
    assert mae["fixed perception"][0] == pytest.approx(metrics["best"]["mae_px"], rel=1e-4)
    assert trials["INSIGHT"][MID + "perception_loss"].notna().all()
    assert MID + "perception_loss" not in trials["fixed perception"]
    # pre-trained perception sees objects far better than the untrained one of `w/o pretrain`
    assert mae["INSIGHT"][0] < mae["w/o pretrain"][0]

    summary = pd.read_csv(run_dir / "analysis" / "summary.csv")
    assert summary["condition"].tolist() == spec["conditions"]  # in the order of the ablation
    assert (run_dir / "analysis" / "returns.png").stat().st_size > 1000
    assert main(["analyze", str(run_dir), "--out", str(tmp_path / "again")]) == 0
    assert (tmp_path / "again" / "curves.csv").read_text() == (
        run_dir / "analysis" / "curves.csv"
    ).read_text()

    # `nsrl explain` in a fresh process: the checkpoint loads without any registration step
    out = tmp_path / "explain"
    proc = subprocess.run(
        [sys.executable, "-m", "rllib_nsrl.cli", "explain", str(run_dir), "--out", str(out),
         "--decisions", "2", "--max-frames", "2000", "--gif", "30"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = (out / "explanation.md").read_text()
    assert "condition INSIGHT, seed 0" in report and report.count("### Decision") == 2
    assert "![rollout](rollout.gif)" in report
    equations = json.loads((out / "equations.json").read_text())
    actions = [e["action"] for e in equations["policy"]["equations"]]
    assert actions == ["NOOP", "FIRE", "RIGHT", "LEFT", "RIGHTFIRE", "LEFTFIRE"]
    assert 0 <= equations["policy"]["fidelity_pruned_vs_neural"] <= 1
    assert all((out / f"decision_{k}.png").stat().st_size > 1000 for k in (1, 2))
    from PIL import Image

    with Image.open(out / "rollout.gif") as gif:  # 30 steps; PIL merges identical consecutive frames
        assert gif.format == "GIF" and 1 < gif.n_frames <= 30 and gif.size == (252, 252)


def test_insight_freeway_smoke_has_eleven_object_slots(ray_session, repo_path, tmp_path, monkeypatch):
    spec, run_dir = smoke(repo_path, tmp_path, monkeypatch, "insight_freeway.yaml")
    trials = {config["condition"]: frame for config, frame in load_trials(run_dir)}
    assert set(trials) == {"INSIGHT", "neural PPO"}
    frame = trials["INSIGHT"]
    assert {"insight/mae_px_chicken", "insight/mae_px_car10"} <= set(frame.columns)
    assert frame["insight/eql_return"].dropna().between(0, 40).all()


def test_nsrl_collect_makes_the_insight_dataset_alone(ray_session, repo_path, tmp_path, capsys):
    spec_path = str(Path(repo_path) / "tune_configs" / "insight_freeway.yaml")
    assert main(["collect", spec_path, "--smoke", "--out", str(tmp_path / "data")]) == 0
    (folder,) = (tmp_path / "data").iterdir()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["game"] == "Freeway" and len(manifest["slots"]) == 11
    out = capsys.readouterr().out
    assert "nsrl: train: 192 frames from" in out and "objects seen: chicken" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]  # nothing else written
