"""A kind defined under tests/ runs through `nsrl run --smoke` and `nsrl analyze` without editing any
shared file: registering it is the only step (`experiments.kinds.register_kind`)."""

import pandas as pd
import pytest
import ray.cloudpickle
import yaml

from rllib_nsrl.cli import main
from rllib_nsrl.experiments.kinds import kind_names, register_kind
from tests.fixtures import toy_kind

pytestmark = pytest.mark.ray


def register_toy():
    register_kind("toy", toy_kind.__name__)
    ray.cloudpickle.register_pickle_by_value(toy_kind)  # its trainable reaches Ray workers by value


def test_a_registered_kind_runs_and_is_analysed(ray_session, tmp_path, capsys):
    register_toy()
    assert "toy" in kind_names()
    spec = tmp_path / "toy.yaml"
    spec.write_text(yaml.safe_dump({"name": "toy", "kind": "toy", "seeds": [3, 4], "walk": {"steps": 50}}))

    assert main(["spec", "toy"]) == 0
    assert "walk.drift" in capsys.readouterr().out
    assert main(["run", str(spec), "--smoke", "--storage", str(tmp_path / "runs")]) == 0
    final = pd.read_csv(tmp_path / "runs" / "toy_smoke" / "analysis" / "final.csv")
    assert final["iterations"].tolist() == [3]  # --smoke: the kind's shrink, one seed
    assert final["seed"].tolist() == [3]
    assert main(["analyze", str(tmp_path / "runs" / "toy_smoke"), "--out", str(tmp_path / "again")]) == 0
    assert pd.read_csv(tmp_path / "again" / "final.csv").equals(final)

    # an unknown key of the plug-in's own section is the usual one-line error
    spec.write_text(yaml.safe_dump({"name": "toy", "kind": "toy", "walk": {"stpes": 5}}))
    assert main(["validate", str(spec)]) == 2
    assert "walk.stpes: unknown key (did you mean 'steps'?)" in capsys.readouterr().err


def test_a_failing_trial_names_its_cause_and_its_error_file_in_storage(ray_session, tmp_path, capsys):
    register_toy()
    spec = tmp_path / "toy.yaml"
    walk = {"steps": 5, "fail_at": 2}
    spec.write_text(yaml.safe_dump({"name": "toy", "kind": "toy", "seeds": [3], "walk": walk}))
    storage = tmp_path / "runs"
    assert main(["run", str(spec), "--storage", str(storage), "--no-analyze"]) == 1
    out, err = capsys.readouterr()
    (trial,) = (storage / "toy").glob("toy_seed3_*")
    cause = "RuntimeError: toy walk failed at step 2"
    assert f"FAILED: {cause} (traceback: {trial}/error.txt)" in out
    assert f"nsrl: TensorBoard reads this run with: tensorboard --logdir {storage / 'toy'}" in out
    assert f"nsrl: trial failed: {cause} (traceback: {trial}/error.txt)" in err
    assert f"continue from their last checkpoint with: nsrl run {spec} --resume --storage {storage}" in err
    assert cause in (trial / "error.txt").read_text()  # the file is in the storage directory
