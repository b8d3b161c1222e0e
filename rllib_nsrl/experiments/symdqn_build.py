"""One function from a validated `kind: symdqn` spec to an RLlib `AlgorithmConfig`.

The same config serves a local run, a Tune sweep (conditions and seeds as grid axes) and
`ray job submit`. Condition flags travel in `model_config`, read by the module, the learner and the
evaluation-only ActionFilter connector.
"""

from __future__ import annotations

from typing import Any

from rllib_nsrl.rl_modules.conditions import CONDITIONS


def env_config(spec: dict) -> dict:
    cfg = dict(spec["env"]["config"])
    cfg["rewards"] = dict(cfg["rewards"])
    if cfg.get("layout") is None:
        cfg.pop("layout", None)
    return cfg


def model_config(spec: dict, condition: Any) -> dict:
    """Module/learner settings; `condition` may be a name or a `tune.grid_search` over names."""
    sym = spec["symbolic"]
    return {
        "condition": condition,
        "filter_threshold": sym["filter_threshold"],
        "filter_gate_reward_loss": sym["filter_gate_reward_loss"],
        "shapes_weight": sym["shapes_weight"],
        "reward_weight": sym["reward_weight"],
        "reasoner_weight": sym["reasoner_weight"],
        "reasoner_margin": sym["reasoner_margin"],
        "ltn_p": sym["ltn_p"],
        "patch_capacity": sym["patch_capacity"],
        "cell": 10,
    }


def build_symdqn_config(spec: dict, condition: Any, seed: Any):
    """`EpochDQNConfig` for one condition and seed (or Tune grid axes over them)."""
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    from rllib_nsrl.algorithms.epoch_dqn import EpochDQNConfig
    from rllib_nsrl.callbacks.shapes_metrics import ShapesMetricsCallback
    from rllib_nsrl.connectors.action_mask import make_action_filter_connector
    from rllib_nsrl.env_runners.fresh_episodes_env_runner import FreshEpisodesEnvRunner
    from rllib_nsrl.envs import register_tune_envs
    from rllib_nsrl.learners.symdqn_learner import SymDQNLearner
    from rllib_nsrl.rl_modules.symdqn_module import SymDQNModule

    if isinstance(condition, str) and condition not in CONDITIONS:
        raise ValueError(f"unknown condition {condition!r}; valid: {', '.join(CONDITIONS)}")
    register_tune_envs()
    dqn, res = spec["dqn"], spec["resources"]
    eval_env = env_config(spec)
    train_env = {**eval_env, "zero_reward": spec["symbolic"]["train_zero_reward"]}
    config = (
        EpochDQNConfig()
        .environment("ShapesGrid", env_config=train_env)
        .framework("torch")
        .env_runners(
            num_env_runners=0,
            num_envs_per_env_runner=1,
            rollout_fragment_length=dqn["rollout_fragment_length"],
            env_runner_cls=FreshEpisodesEnvRunner,
        )
        .learners(num_learners=0, num_gpus_per_learner=res["gpus_per_trial"], learner_class=SymDQNLearner)
        .resources(num_cpus_for_main_process=res["cpus_per_trial"])
        .training(
            lr=dqn["lr"],
            gamma=dqn["gamma"],
            train_batch_size_per_learner=dqn["train_batch_size"],
            dueling=True,
            double_q=dqn["double_q"],
            n_step=1,
            target_network_update_freq=dqn["target_update_freq"],
            epsilon=[tuple(p) for p in dqn["epsilon"]],
            grad_clip=dqn["grad_clip"],
            grad_clip_by="global_norm",
            training_intensity=dqn["updates_per_step"] * dqn["train_batch_size"],
            num_steps_sampled_before_learning_starts=dqn["learning_starts"],
            replay_buffer_config={"type": "EpisodeReplayBuffer", "capacity": dqn["replay_capacity"]},
        )
        .rl_module(
            rl_module_spec=RLModuleSpec(module_class=SymDQNModule), model_config=model_config(spec, condition)
        )
        .evaluation(
            evaluation_interval=1,
            evaluation_duration=spec["epoch"]["eval_episodes"],
            evaluation_duration_unit="episodes",
            evaluation_num_env_runners=0,
            evaluation_config=EpochDQNConfig.overrides(
                explore=False,
                env_config=eval_env,
                # Leading underscore: the plain key is silently ignored by `overrides`.
                _env_to_module_connector=make_action_filter_connector,
            ),
        )
        .callbacks(ShapesMetricsCallback)
        .reporting(metrics_num_episodes_for_smoothing=spec["epoch"]["train_episodes"])
        .debugging(seed=seed, log_level="ERROR")
        .epoch(train_episodes=spec["epoch"]["train_episodes"])
    )
    return config
