"""Perception pre-training on real teacher labels, and the evaluation helpers on a real game."""

import json

import numpy as np
import pytest
import torch

from rllib_nsrl.systems.insight.pretrain import (
    METRICS,
    WEIGHTS,
    PretrainSettings,
    ensure_pretrained,
    pretrain_folder,
    weights_template,
)


@pytest.fixture(scope="module")
def pretrained(pong_pretrained):
    return pong_pretrained


def test_pretraining_brings_the_coordinate_error_well_below_an_untrained_network(pretrained):
    _, folder = pretrained
    metrics = json.loads((folder / METRICS).read_text())
    assert metrics["untrained"]["mae_px"] > 20
    assert metrics["best"]["mae_px"] < 0.6 * metrics["untrained"]["mae_px"]
    assert metrics["history"][-1]["train_loss"] < metrics["history"][0]["train_loss"]
    assert set(metrics["best"]) >= {"mae_px_player", "mae_px_ball", "mae_px_enemy"}


def test_pretraining_is_reproducible_and_reused(pretrained, pong_data, tmp_path):
    settings, folder = pretrained
    from rllib_nsrl.systems.insight.pretrain import pretrain

    again = pretrain(settings, str(pong_data), str(tmp_path / "again"))
    first = torch.load(folder / WEIGHTS, weights_only=True)
    second = torch.load(tmp_path / "again" / WEIGHTS, weights_only=True)
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert again["best"] == json.loads((folder / METRICS).read_text())["best"]
    lines = []
    ensure_pretrained(pong_data, [settings], log=lines.append)
    assert lines and lines[0].startswith("nsrl: reusing pre-trained perception")


def test_the_weights_template_names_each_seed(pong_data):
    template = weights_template(pong_data, PretrainSettings(seed=0))
    for seed in (0, 7):
        path = template.replace("{seed}", str(seed))
        assert path == str(pretrain_folder(pong_data, PretrainSettings(seed=seed)) / WEIGHTS)


def test_play_scores_full_games_and_perception_metrics(pretrained, pong_data):
    import gymnasium as gym
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    from rllib_nsrl.experiments.spec import validate_spec
    from rllib_nsrl.systems.insight.conditions import CONDITIONS
    from rllib_nsrl.systems.insight.data import load_split
    from rllib_nsrl.systems.insight.evaluation import perception_metrics, play
    from rllib_nsrl.systems.insight.module import InsightModule, insight_model_config

    settings, folder = pretrained
    spec = validate_spec({"name": "t", "kind": "insight", "model": {"feature_dim": 64}})
    mc = insight_model_config(spec, CONDITIONS["INSIGHT"], 3, str(folder / WEIGHTS))
    obs_space = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    module = RLModuleSpec(module_class=InsightModule, observation_space=obs_space,
                          action_space=gym.spaces.Discrete(6), model_config=mc).build()  # fmt: skip
    scores = play(module, "Pong", actor="eql", greedy=True, episodes=2, seed=0, max_episode_frames=2000)
    assert len(scores) == 2 and all(-21 <= s <= 21 and float(s).is_integer() for s in scores)
    assert (
        play(module, "Pong", actor="eql", greedy=True, episodes=2, seed=0, max_episode_frames=2000) == scores
    )
    test = load_split(pong_data, "test")
    metrics = perception_metrics(module, *test, ("player", "ball", "enemy"))
    best = json.loads((folder / METRICS).read_text())["best"]
    assert metrics["mae_px"] == pytest.approx(
        best["mae_px"], rel=1e-4
    )  # the loaded weights are the best epoch's
    assert 0.0 <= metrics["eql_agreement"] <= 1.0
    assert 0 <= metrics["used_slots"] <= 3
    if metrics["used_slots"] == 3:  # every slot read: F-MAE is the MAE
        assert metrics["fmae_px"] == pytest.approx(metrics["mae_px"])


def test_slot_weights_keep_the_key_of_the_runs_made_before_the_setting():
    old = "e30_b32_lr0.0003_wd0.0001_g2_s1_f512_seed3"  # PretrainSettings(seed=3).key at commit e499e4d
    assert PretrainSettings(seed=3, object_weights="slot").key == old
    assert PretrainSettings(seed=3).key == "e30_b32_lr0.0003_wd0.0001_g2_s1_f512_wreference_seed3"
