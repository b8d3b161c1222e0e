"""SymDQN on real RLlib: filter only on evaluation runners, fresh evaluation episodes, per-epoch metrics."""

import numpy as np
import pytest

from rllib_nsrl.connectors.action_mask import ActionMaskConnector
from rllib_nsrl.constants import NEGATIVE_RATIO, OBS, REWARD_PRED_MSE, SAT_A4, SAT_SHAPES, SCORE
from rllib_nsrl.experiments.spec import validate_spec
from rllib_nsrl.experiments.symdqn_build import build_symdqn_config

pytestmark = pytest.mark.ray


def smoke_spec(**over):
    return validate_spec({"name": "t", "kind": "symdqn", **over}, smoke=True)


@pytest.fixture(scope="module")
def algo(ray_session):
    algo = build_symdqn_config(smoke_spec(), "SymDQN(AR,AF)", 3).build_algo()
    yield algo
    algo.stop()


def test_one_epoch_reports_paper_metrics_and_logic_losses(algo):
    result = algo.train()
    ev, learner = result["evaluation"]["env_runners"], result["learners"]["default_policy"]
    assert ev["num_episodes"] == 2 and -1.0 <= ev[SCORE] <= 1.0 and 0.0 <= ev[NEGATIVE_RATIO] <= 1.0
    assert result["env_runners"]["num_episodes"] >= 2  # an epoch = N finished training episodes
    for key in (SAT_SHAPES, REWARD_PRED_MSE, SAT_A4):
        assert np.isfinite(learner[key])


def test_action_filter_only_on_evaluation_runners(algo):
    has = lambda runner: any(isinstance(c, ActionMaskConnector) for c in runner._env_to_module.connectors)  # noqa: E731
    assert not has(algo.env_runner)
    assert has(algo.eval_env_runner)


def first_observations(runner, n=3):
    firsts = [ep.get_observations(0) for ep in runner.sample(num_episodes=n, explore=False)]
    return np.stack([o[OBS] if isinstance(o, dict) else o for o in firsts])  # filter-wrapped on eval runners


def test_evaluation_episodes_are_fresh_and_seeded(ray_session):
    runs = [build_symdqn_config(smoke_spec(), "DuelDQN", 3).build_algo() for _ in range(2)]
    try:
        first = first_observations(runs[0].eval_env_runner)
        second = first_observations(runs[0].eval_env_runner)
        assert not np.array_equal(first, second)  # RLlib alone would replay the same start states
        assert np.array_equal(first, first_observations(runs[1].eval_env_runner))  # same seed → same episodes
    finally:
        for algo in runs:
            algo.stop()
