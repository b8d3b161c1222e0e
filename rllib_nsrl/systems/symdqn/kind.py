"""`kind: symdqn`: a validated spec → `SymDQNConfig` (conditions and seeds as Tune grid axes) and report.

The same config serves a local run, a Tune sweep and `ray job submit`.
"""

from __future__ import annotations

from typing import Any

from rllib_nsrl.experiments.kinds import Kind, Plan
from rllib_nsrl.systems.symdqn.conditions import condition_of, slug
from rllib_nsrl.systems.symdqn.spec import SYMDQN_SMOKE, SymDQNSpec

# `nsrl run` progress columns: label → result key
COLUMNS = {
    "score": "evaluation/env_runners/score",
    "neg": "evaluation/env_runners/negative_ratio",
    "train_score": "env_runners/score",
    "steps": "num_env_steps_sampled_lifetime",
}


def env_config(spec: dict) -> dict:
    """The evaluation env's config (training adds `zero_reward`)."""
    cfg = dict(spec["env"]["config"])
    cfg["rewards"] = dict(cfg["rewards"])
    if cfg.get("layout") is None:
        cfg.pop("layout", None)
    return cfg


def symdqn_config(spec: dict, condition: Any, seed: Any):
    """`SymDQNConfig` for one condition and seed (either may be a `tune.grid_search`)."""
    from rllib_nsrl.connectors.action_mask import make_action_filter_connector
    from rllib_nsrl.ray_private import env_to_module_override
    from rllib_nsrl.systems.symdqn.config import SymDQNConfig

    dqn, res, sym = spec["dqn"], spec["resources"], spec["symbolic"]
    eval_env = env_config(spec)
    train_env = {**eval_env, "zero_reward": sym["train_zero_reward"]}
    if sym["train_zero_reward"]:
        # RLlib deep-merges the evaluation env config into the training one, so a key left out would keep
        # the training value; said only when it differs, so the param space of earlier runs is unchanged
        eval_env["zero_reward"] = 0.0
    return (
        SymDQNConfig()
        .environment("ShapesGrid", env_config=train_env)
        .env_runners(rollout_fragment_length=dqn["rollout_fragment_length"])
        .learners(num_learners=0, num_gpus_per_learner=res["gpus_per_trial"])
        .resources(num_cpus_for_main_process=res["cpus_per_trial"])
        .training(
            lr=dqn["lr"],
            gamma=dqn["gamma"],
            train_batch_size_per_learner=dqn["train_batch_size"],
            double_q=dqn["double_q"],
            target_network_update_freq=dqn["target_update_freq"],
            epsilon=[tuple(p) for p in dqn["epsilon"]],
            grad_clip=dqn["grad_clip"],
            training_intensity=dqn["updates_per_step"] * dqn["train_batch_size"],
            num_steps_sampled_before_learning_starts=dqn["learning_starts"],
            replay_buffer_config={"type": "EpisodeReplayBuffer", "capacity": dqn["replay_capacity"]},
            condition=condition,
            dqn_loop=dqn["loop"],
            **sym,
        )
        .evaluation(
            evaluation_interval=1,
            evaluation_duration=spec["epoch"]["eval_episodes"],
            evaluation_duration_unit="episodes",
            evaluation_num_env_runners=0,
            evaluation_config=SymDQNConfig.overrides(
                explore=False, env_config=eval_env, **env_to_module_override(make_action_filter_connector)
            ),
        )
        .reporting(metrics_num_episodes_for_smoothing=spec["epoch"]["train_episodes"])
        .debugging(seed=seed)
        .epoch(train_episodes=spec["epoch"]["train_episodes"])
    )


def trial_label(config: dict) -> str:
    """Short progress label of a trial: 'SymDQN(AF) seed=0'."""
    return f"{condition_of(config)} seed={config['seed']}"


def trial_tag(config: dict) -> str:
    """File-system tag of a trial's directory: 'SymDQN-AF'."""
    return slug(condition_of(config))


def resume_problem(config: dict) -> str | None:
    """Runs made before `SymDQNConfig` (settings in `_model_config`), before the `glyphs` and
    `a2_inequality` settings, or before `dqn.loop`, analyse but cannot resume: Tune refuses a restore
    whose param space has other keys."""
    if "condition" not in config and "condition" in config.get("_model_config", {}):
        return (
            "made by rllib_nsrl before SymDQNConfig (commit 40e1198 or older); `nsrl analyze` reads it, "
            "but continuing it needs that version (git checkout 40e1198) or a new run (--name)"
        )
    if "a2_inequality" not in config:  # Tune would refuse the new keys a2_inequality, env_config/glyphs
        return (
            "made by rllib_nsrl before the `glyphs` and `a2_inequality` settings (commit 459692b or older); "
            "`nsrl analyze` reads it, but continuing it needs that version (git checkout 459692b) or a new "
            "run (--name)"
        )
    if "dqn_loop" not in config:  # Tune would refuse the new key dqn_loop
        return (
            "made by rllib_nsrl before the `dqn.loop` setting (commit a5ab4f0 or older); `nsrl analyze` "
            "reads it, but continuing it needs that version (git checkout a5ab4f0) or a new run (--name)"
        )
    return None


def plan(spec: dict) -> Plan:
    """Conditions × seeds as Tune grid axes over one `SymDQNConfig`."""
    from ray import tune

    from rllib_nsrl.systems.symdqn.algorithm import EpochDQN

    config = symdqn_config(spec, tune.grid_search(spec["conditions"]), tune.grid_search(spec["seeds"]))
    return Plan(EpochDQN, config, trial_label, trial_tag, COLUMNS, spec["stop"]["epochs"])


def check(spec: dict) -> None:
    """Cross-field checks (the env's own constructor validates its config)."""
    from rllib_nsrl.envs.shapes_grid import ShapesGridEnv
    from rllib_nsrl.experiments.schema import SpecError

    env_cfg = {k: v for k, v in spec["env"]["config"].items() if v is not None}
    try:
        ShapesGridEnv(env_cfg)
    except ValueError as err:
        raise SpecError(f"env.config: {str(err).removeprefix('ShapesGridEnv: ')}") from None


def report(trials, spec, out):
    """`nsrl analyze`: the ablation table and figures."""
    from rllib_nsrl.systems.symdqn.report import write_symdqn_report

    return write_symdqn_report(trials, spec, out)


KIND = Kind(
    name="symdqn",
    spec_model=SymDQNSpec,
    plan=plan,
    report=report,
    smoke=SYMDQN_SMOKE,
    check=check,
    resume_problem=resume_problem,
)
