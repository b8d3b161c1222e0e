"""`kind: symdqn` glue without Ray: which saved trial configs this version can resume."""

import json
from pathlib import Path

from rllib_nsrl.experiments.spec import validate_spec
from rllib_nsrl.systems.symdqn.kind import env_config, resume_problem, symdqn_config

LEGACY = Path(__file__).parents[3] / "data" / "legacy_runs" / "symdqn_legacy"


def current_params() -> dict:
    spec = validate_spec({"name": "t", "kind": "symdqn"})
    return json.loads(json.dumps(symdqn_config(spec, "SymDQN", 0).to_dict(), default=str))


def test_spec_settings_reach_the_env_and_learner_config():
    spec = validate_spec({
        "name": "t", "kind": "symdqn",
        "env": {"config": {"glyphs": "simple"}}, "symbolic": {"a2_inequality": "reference"},
    })  # fmt: skip
    assert env_config(spec)["glyphs"] == "simple"
    config = symdqn_config(spec, "SymDQN", 0)
    assert config.env_config["glyphs"] == "simple" and config.a2_inequality == "reference"
    defaults = validate_spec({"name": "t", "kind": "symdqn"})
    assert env_config(defaults)["glyphs"] == "paper" and defaults["symbolic"]["a2_inequality"] == "exact"


def test_current_runs_resume_and_older_ones_get_one_line_saying_why_not():
    params = current_params()
    assert resume_problem(params) is None
    before_loop = {k: v for k, v in params.items() if k != "dqn_loop"}
    problem = resume_problem(before_loop)
    assert "dqn.loop" in problem and "git checkout a5ab4f0" in problem and "\n" not in problem
    before_glyphs = {k: v for k, v in before_loop.items() if k != "a2_inequality"}
    problem = resume_problem(before_glyphs)
    assert "glyphs" in problem and "git checkout 459692b" in problem and "\n" not in problem
    legacy = json.loads(next(LEGACY.glob("*/params.json")).read_text())
    assert "git checkout 40e1198" in resume_problem(legacy)


def test_the_lean_loop_refuses_settings_it_cannot_run_and_names_them():
    import pytest

    spec = validate_spec({"name": "t", "kind": "symdqn"})
    assert symdqn_config(spec, "SymDQN", 0).dqn_loop == "lean"  # the default
    config = symdqn_config(spec, "SymDQN", 0).env_runners(num_env_runners=2).training(n_step=3)
    with pytest.raises(
        ValueError, match=r"dqn_loop: 'lean' needs num_env_runners=0, n_step=1; use dqn_loop='rllib'"
    ):
        config.validate()
    config.training(dqn_loop="rllib").validate()  # RLlib's own step runs them


def test_the_training_zero_reward_stays_out_of_the_evaluation_env():
    """RLlib deep-merges the evaluation env config into the training one: the evaluation env must say 0
    itself, or evaluation games would be scored with the training penalty."""
    spec = validate_spec({"name": "t", "kind": "symdqn", "symbolic": {"train_zero_reward": -0.1}})
    config = symdqn_config(spec, "SymDQN(AF)", 0)
    assert config.env_config["zero_reward"] == -0.1
    assert config.get_evaluation_config_object().env_config["zero_reward"] == 0.0
    default = symdqn_config(validate_spec({"name": "t", "kind": "symdqn"}), "SymDQN(AF)", 0)
    assert default.get_evaluation_config_object().env_config.get("zero_reward", 0.0) == 0.0
