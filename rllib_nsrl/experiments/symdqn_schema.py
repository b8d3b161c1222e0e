"""Schema of `kind: symdqn` specs (SymDQN ablation, SPEC §1). Defaults are the paper's values."""

from __future__ import annotations

from rllib_nsrl.experiments.schema import Field, Section, SpecError
from rllib_nsrl.rl_modules.conditions import CONDITIONS


def _epsilon_check(schedule):
    try:
        pts = [(int(t), float(v)) for t, v in schedule]
    except (TypeError, ValueError):
        return "must be a list of [timestep, epsilon] pairs, e.g. [[0, 0.95], [25000, 0.05]]"
    if not pts or pts[0][0] != 0:
        return "the first [timestep, epsilon] pair must start at timestep 0"
    if any(not 0.0 <= v <= 1.0 for _, v in pts):
        return "epsilon values must lie in [0, 1]"
    if any(b[0] <= a[0] for a, b in zip(pts, pts[1:], strict=False)):
        return "timesteps must increase"
    return None


ENV = Section(
    {
        "name": Field(str, "ShapesGrid", choices=("ShapesGrid",)),
        "config": Section(
            {
                "rewards": Section(
                    {"cross": Field(float, 1.0), "circle": Field(float, -1.0), "square": Field(float, 0.0)}
                ),
                "colors": Field(str, "black_white", choices=("black_white", "red_blue", "blue_red")),
                "min_shapes": Field(int, 18, min=1, max=24),
                "max_shapes": Field(int, 18, min=1, max=24),
                "max_steps": Field(int, 50, min=1),
                "layout": Field(list, None, nullable=True, item=Field(str)),
            }
        ),
    }
)

DQN = Section(
    {
        "lr": Field(float, 1e-4, min=0.0),
        "gamma": Field(float, 0.99, min=0.0, max=1.0),
        "train_batch_size": Field(int, 16, min=1),
        "replay_capacity": Field(int, 1000, min=1),
        "target_update_freq": Field(int, 1000, min=1),
        "epsilon": Field(list, [[0, 0.95], [25000, 0.05]], check=_epsilon_check),
        "grad_clip": Field(float, 1.0, min=0.0, nullable=True),
        "double_q": Field(bool, True),
        "updates_per_step": Field(float, 1.0, min=0.0),
        "rollout_fragment_length": Field(int, 4, min=1),
        "learning_starts": Field(int, 16, min=0),
    }
)

SYMBOLIC = Section(
    {
        "filter_threshold": Field(float, 0.5, min=0.0),  # paper 0.5 (reference code 0.3)
        "filter_gate_reward_loss": Field(float, None, min=0.0, nullable=True),  # ref code: 0.01
        "train_zero_reward": Field(float, 0.0),  # ref code trains with -0.1 for zero rewards
        "shapes_weight": Field(float, 1.0, min=0.0),
        "reward_weight": Field(float, 1.0, min=0.0),
        "reasoner_weight": Field(float, 1.0, min=0.0),
        "reasoner_margin": Field(float, 0.0, min=0.0),  # A4 guard r1 > r2 + margin: paper 0 (ref code 0.5)
        "ltn_p": Field(float, 8.0, min=1.0),
        "patch_capacity": Field(int, 512, min=8),
    }
)

SYMDQN_SCHEMA = {
    "conditions": Field(list, ["DuelDQN"], item=Field(str, choices=tuple(CONDITIONS)), min_len=1),
    "env": ENV,
    "dqn": DQN,
    "symbolic": SYMBOLIC,
    "epoch": Section({"train_episodes": Field(int, 50, min=1), "eval_episodes": Field(int, 50, min=1)}),
    "stop": Section({"epochs": Field(int, 250, min=1)}),
    "analysis": Section(
        {
            "epochs": Field(list, [50, 150, 250], item=Field(int, min=1)),
            "window": Field(int, 5, min=1),
        }
    ),
}

# `--smoke`: a few tiny epochs, one seed; well under a minute of training per trial.
SYMDQN_SMOKE = {
    "_max_seeds": 1,
    "epoch": {"train_episodes": 2, "eval_episodes": 2},
    "stop": {"epochs": 2},
    "env": {"config": {"max_steps": 20}},
    "analysis": {"epochs": [1, 2], "window": 1},
}


def check_symdqn(spec: dict) -> None:
    """Cross-field checks (the env's own constructor validates its config)."""
    from rllib_nsrl.envs.shapes_grid import ShapesGridEnv

    env_cfg = {k: v for k, v in spec["env"]["config"].items() if v is not None}
    if len(set(spec["conditions"])) != len(spec["conditions"]):
        raise SpecError("conditions: listed twice")
    try:
        ShapesGridEnv(env_cfg)
    except ValueError as err:
        raise SpecError(f"env.config: {str(err).removeprefix('ShapesGridEnv: ')}") from None
