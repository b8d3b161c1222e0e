"""`kind: insight` glue without Ray: the perception term's scale reaches the learner's config, and runs made
before that setting get one line saying why they cannot resume."""

import json

from rllib_nsrl.experiments.spec import validate_spec
from rllib_nsrl.systems.insight.kind import insight_config, resume_problem


def _spec(**insight):
    return validate_spec({"name": "t", "kind": "insight", "insight": insight})


def test_the_reference_scale_is_the_default_and_mean_can_be_chosen():
    assert insight_config(_spec(), "INSIGHT", 0, None, None).perception_reduction == "sum"
    chosen = insight_config(_spec(perception_reduction="mean"), "INSIGHT", 0, None, None)
    assert chosen.perception_reduction == "mean"


def test_runs_without_the_setting_are_refused_in_one_line_and_current_ones_resume():
    params = json.loads(json.dumps(insight_config(_spec(), "INSIGHT", 0, None, None).to_dict(), default=str))
    assert resume_problem(params) is None
    params.pop("perception_reduction")
    problem = resume_problem(params)
    assert "before the `insight.perception_reduction` setting" in problem and "\n" not in problem
    assert "git checkout 2c8850f" in problem


def test_runs_before_the_reference_minibatches_are_refused_in_one_line():
    params = json.loads(json.dumps(insight_config(_spec(), "INSIGHT", 0, None, None).to_dict(), default=str))
    params.pop("minibatching")
    problem = resume_problem(params)
    assert "`ppo.minibatching`" in problem and "git checkout 1c41471" in problem and "\n" not in problem


def test_the_reference_minibatches_and_weight_decay_are_the_defaults():
    config = insight_config(_spec(), "INSIGHT", 0, None, None)
    assert config.minibatching == "per_epoch" and config.perception_weight_decay == 1e-4
    spec = validate_spec({"name": "t", "kind": "insight", "ppo": {"minibatching": "rllib_cyclic"}})
    assert insight_config(spec, "INSIGHT", 0, None, None).minibatching == "rllib_cyclic"


def test_the_reference_object_weights_are_the_default_and_older_runs_are_refused():
    config = insight_config(_spec(), "INSIGHT", 0, None, None)
    assert config.object_weights == "reference"
    params = json.loads(json.dumps(config.to_dict(), default=str))
    params.pop("object_weights")
    problem = resume_problem(params)
    assert "`pretrain.object_weights`" in problem and "git checkout e499e4d" in problem
