"""The lifelong-ILP diagnostics (issue 18, §2) and the balanced loss they compare."""

import math
from dataclasses import replace

import pytest
import torch

from rllib_nsrl.systems.lifelong_ilp.diagnostics import (
    BUDGET,
    balanced_accuracy,
    base_rates,
    drift,
    head_only,
    run_all,
)
from rllib_nsrl.systems.lifelong_ilp.protocol import ILPConfig, task_loss

TINY = replace(
    BUDGET, epochs_per_task=1, batches_per_epoch=2, batch_size=2, test_size=2, test_size_2x=1, n_objects=6
)


def test_base_rates_match_the_tree_by_construction():
    (root, *_), n = base_rates("tree", 10, worlds=8), 10
    assert root["task"] == "IsRoot" and root["true_rate"] == pytest.approx(1 / n)  # one root per tree
    p = 1 / n
    assert root["base_rate_loss"] == pytest.approx(-(p * math.log(p) + (1 - p) * math.log(1 - p)))
    assert root["worlds_without_true"] == 0.0


def test_balanced_accuracy_is_one_half_for_a_constant_predictor_and_one_when_right():
    target = torch.tensor([1.0, 0.0, 0.0, 0.0])
    assert balanced_accuracy(torch.full((4,), -3.0), target) == 0.5  # "always false": 75 % accurate
    assert balanced_accuracy(torch.tensor([2.0, -1.0, -1.0, -1.0]), target) == 1.0


def test_balanced_loss_weighs_the_rare_true_atoms_up_to_the_false_ones():
    target, logits = torch.tensor([1.0, 0.0, 0.0, 0.0]), torch.zeros(4)
    plain, balanced = task_loss(logits, target), task_loss(logits, target, "balanced")
    assert plain == pytest.approx(math.log(2))
    # the one positive counts 3 times: (3 + 3) · log 2 / 4
    assert balanced == pytest.approx(6 * math.log(2) / 4)
    assert task_loss(logits, torch.zeros(4), "balanced") == pytest.approx(math.log(2))  # no positive: plain
    with pytest.raises(ValueError, match="unknown loss 'focal'"):
        ILPConfig(loss="focal")


def test_a_head_alone_reads_the_raw_inputs_and_drift_starts_at_zero():
    metrics = head_only(TINY, 0)
    assert set(metrics) == {"test_loss", "base_rate_loss", "at_base_rate", "balanced_acc"}
    rows = drift(replace(TINY, mode="lifelong"))
    assert [r["after_task"] for r in rows] == [0, 1, 2, 3]
    assert rows[0]["kb_weight_change"] == 0.0 and rows[0]["kb_output_change"] == 0.0
    assert rows[-1]["kb_weight_change"] > 0.0  # the shared KB kept training on the later tasks
    assert rows[0]["task0_loss_kb_ablated"] != rows[0]["task0_test_loss"]  # the head reads the KB


def test_run_all_writes_every_table(tmp_path):
    tables = run_all(tmp_path, seeds=(0,), base=TINY)
    assert set(tables) == {"base_rates", "bypass_and_loss", "learning_rate", "drift"}
    for name in tables:
        assert (tmp_path / f"{name}.csv").stat().st_size > 0
    assert "## drift" in (tmp_path / "diagnostics.md").read_text()


def test_settings_added_later_stay_out_of_the_trial_config_at_their_defaults():
    """Older runs keep their param space (and resume); a run that sets them gets them."""
    from rllib_nsrl.experiments.spec import validate_spec
    from rllib_nsrl.systems.lifelong_ilp.spec import trial_config

    default = trial_config(
        validate_spec({"name": "t", "kind": "ilp_lifelong", "domain": "tree"}), "lifelong", 0
    )
    assert "loss" not in default and "kb_include_inputs" not in default
    assert ILPConfig.from_dict(default).loss == "bce"
    spec = validate_spec(
        {"name": "t", "kind": "ilp_lifelong", "domain": "tree", "training": {"loss": "balanced"}}
    )
    assert ILPConfig.from_dict(trial_config(spec, "lifelong", 0)).loss == "balanced"


def test_later_defaults_are_the_protocols_and_the_specs_defaults():
    from rllib_nsrl.systems.lifelong_ilp.spec import LATER_DEFAULTS, ModelSpec, TrainingSpec

    config = ILPConfig()
    spec_defaults = {**ModelSpec().model_dump(), **TrainingSpec().model_dump()}
    for key, value in LATER_DEFAULTS.items():
        assert getattr(config, key) == value == spec_defaults[key], key
