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


def test_a_registered_kind_runs_and_is_analysed(ray_session, tmp_path, capsys):
    register_kind("toy", toy_kind.__name__)
    ray.cloudpickle.register_pickle_by_value(toy_kind)  # its trainable reaches Ray workers by value
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
