"""Masking under real RLlib: a strict env that raises on masked actions runs clean, greedy and ε-random."""

import pytest
from ray.rllib.algorithms.dqn import DQNConfig
from ray.rllib.core.rl_module.rl_module import RLModuleSpec

from rllib_nsrl.connectors.action_mask import ActionMaskConnector, make_action_filter_connector
from rllib_nsrl.envs import register_tune_envs
from rllib_nsrl.rl_modules.dueling_q_module import DuelingQModule

pytestmark = pytest.mark.ray


def strict_config(with_connector: bool):
    register_tune_envs()
    config = (
        DQNConfig()
        .environment("StrictMask", env_config={"length": 5, "n_actions": 4})
        .env_runners(num_env_runners=0, rollout_fragment_length=8)
        .training(
            train_batch_size_per_learner=16,
            epsilon=[(0, 1.0)],  # fully random exploration: every masked action would be hit
            num_steps_sampled_before_learning_starts=16,
            replay_buffer_config={"type": "EpisodeReplayBuffer", "capacity": 500},
        )
        .rl_module(rl_module_spec=RLModuleSpec(module_class=DuelingQModule))
        .evaluation(evaluation_interval=1, evaluation_duration=3, evaluation_duration_unit="episodes",
                    evaluation_num_env_runners=0)
        .reporting(min_sample_timesteps_per_iteration=64)
        .debugging(seed=0)
    )
    if with_connector:
        config.env_runners(env_to_module_connector=make_action_filter_connector)
    return config


@pytest.mark.parametrize("with_connector", [False, True])
def test_strict_env_never_sees_a_masked_action(ray_session, with_connector):
    algo = strict_config(with_connector).build_algo()
    try:
        for _ in range(3):
            result = algo.train()  # MaskedActionError would propagate from the env
        assert result["env_runners"]["num_env_steps_sampled_lifetime"] >= 192
        assert result["evaluation"]["env_runners"]["num_episodes"] >= 3
        pipeline = algo.env_runner._env_to_module
        assert any(isinstance(c, ActionMaskConnector) for c in pipeline.connectors) == with_connector
    finally:
        algo.stop()
