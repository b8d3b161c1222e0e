"""Every spec in tune_configs/ validates at full size and with --smoke (runs are in tests/integration)."""

from pathlib import Path

import pytest

from rllib_nsrl.experiments.spec import load_spec

SPECS = sorted((Path(__file__).parents[3] / "tune_configs").glob("*.yaml"))


def budget(spec):
    if spec["kind"] == "symdqn":
        return spec["stop"]["epochs"] * (spec["epoch"]["train_episodes"] + spec["epoch"]["eval_episodes"])
    if spec["kind"] == "ilp_lifelong":
        return spec["training"]["epochs_per_task"] * spec["training"]["batches_per_epoch"]
    return None


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_spec_validates_and_smoke_shrinks_it(path):
    full, smoke = load_spec(path), load_spec(path, smoke=True)
    assert full["name"] == path.stem or full["name"] in path.stem
    assert smoke["smoke_run"] and not full["smoke_run"]
    assert len(smoke["seeds"]) == 1
    if budget(full) is not None:
        assert budget(smoke) < budget(full) or budget(full) <= 10


def test_ablation_spec_is_the_paper_setup():
    spec = load_spec(Path(__file__).parents[3] / "tune_configs" / "symdqn_ablation.yaml")
    assert spec["conditions"] == ["DuelDQN", "SymDQN", "SymDQN(AR)", "SymDQN(AF)", "SymDQN(AR,AF)"]
    assert len(spec["seeds"]) == 5 and spec["stop"]["epochs"] == 250
    assert spec["epoch"] == {"train_episodes": 50, "eval_episodes": 50}
    dqn = spec["dqn"]
    assert (dqn["lr"], dqn["gamma"]) == (1e-4, 0.99)
    assert (dqn["train_batch_size"], dqn["replay_capacity"]) == (16, 1000)
    assert dqn["target_update_freq"] == 1000 and dqn["epsilon"] == [[0, 0.95], [25000, 0.05]]
    assert spec["symbolic"]["filter_threshold"] == 0.5 and spec["analysis"]["window"] == 5
