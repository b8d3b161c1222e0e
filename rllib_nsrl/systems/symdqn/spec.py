"""The `kind: symdqn` spec (the SymDQN ablation; docs/systems/symdqn.md). Defaults are the paper's values.

These models are also the one place the SymDQN settings' defaults and ranges are written:
`SymDQNConfig` takes its defaults from `SymbolicSpec`/`DQNSpec`/`EpochSpec` and checks them in
`validate()` with the same models. Ray-free.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator

from rllib_nsrl.experiments.schema import SpecModel, distinct, section, spec_field
from rllib_nsrl.experiments.spec import CommonSpec
from rllib_nsrl.systems.symdqn.conditions import CONDITIONS

Condition = Literal[tuple(CONDITIONS)]  # type: ignore[valid-type]


def epsilon_schedule(points: list[list[float]]) -> list[list[float]]:
    """After-validator of `[[timestep, epsilon], ...]`: timesteps 0 < ... (whole), epsilons in [0, 1]."""
    if any(len(p) != 2 for p in points):
        raise ValueError("must be a list of [timestep, epsilon] pairs, e.g. [[0, 0.95], [25000, 0.05]]")
    if not points or points[0][0] != 0:
        raise ValueError("the first [timestep, epsilon] pair must start at timestep 0")
    if any(not float(t).is_integer() for t, _ in points):
        raise ValueError("timesteps must be whole numbers")
    if any(not 0.0 <= v <= 1.0 for _, v in points):
        raise ValueError("epsilon values must lie in [0, 1]")
    if any(b[0] <= a[0] for a, b in zip(points, points[1:], strict=False)):
        raise ValueError("timesteps must increase")
    return [[int(t), v] for t, v in points]


class Rewards(SpecModel):
    """Reward of entering each shape."""

    cross: float = spec_field(1.0, "reward for entering a cross")
    circle: float = spec_field(-1.0, "reward for entering a circle")
    square: float = spec_field(0.0, "reward for entering a square")


class EnvConfig(SpecModel):
    """ShapesGridEnv settings (`envs/shapes_grid.py`)."""

    rewards: Rewards = section(Rewards, "reward of each shape")
    colors: Literal["black_white", "red_blue", "blue_red"] = spec_field("black_white", "colour scheme")
    glyphs: Literal["paper", "simple"] = spec_field(
        "paper", "shape drawing: paper (anti-aliased 2 px strokes filling the cell) or simple (small 1 px)"
    )
    min_shapes: int = spec_field(18, "fewest shapes on a new grid", ge=1, le=24)
    max_shapes: int = spec_field(18, "most shapes on a new grid", ge=1, le=24)
    max_steps: int = spec_field(50, "steps per episode", ge=1)
    layout: list[str] | None = spec_field(None, "a fixed grid (5 strings of 5 cells) instead of random ones")


class EnvSpec(SpecModel):
    """The environment: ShapesGrid and its settings."""

    name: Literal["ShapesGrid"] = spec_field("ShapesGrid", "the environment")
    config: EnvConfig = section(EnvConfig, "ShapesGridEnv settings")


class DQNSpec(SpecModel):
    """Dueling double-DQN settings (docs/systems/symdqn.md#q-network-and-hyperparameters)."""

    lr: float = spec_field(1e-4, "Adam learning rate", ge=0.0)
    gamma: float = spec_field(0.99, "discount", ge=0.0, le=1.0)
    train_batch_size: int = spec_field(16, "replay batch per update", ge=1)
    replay_capacity: int = spec_field(1000, "replay buffer size (transitions)", ge=1)
    target_update_freq: int = spec_field(1000, "env steps between target-network copies", ge=1)
    epsilon: Annotated[list[list[float]], AfterValidator(epsilon_schedule)] = spec_field(
        [[0, 0.95], [25000, 0.05]], "ε-greedy schedule: [[timestep, epsilon], ...], linear in between"
    )
    grad_clip: float | None = spec_field(1.0, "global gradient-norm clip; null: none", ge=0.0)
    double_q: bool = spec_field(True, "double Q-learning")
    updates_per_step: float = spec_field(1.0, "updates per sampled env step (paper: 1)", ge=0.0)
    rollout_fragment_length: int = spec_field(4, "env steps per sampling call", ge=1)
    learning_starts: int = spec_field(16, "env steps sampled before the first update", ge=0)
    loop: Literal["lean", "rllib"] = spec_field(
        "lean",
        "training loop: lean (flat replay buffer, runner acts with the learner's module, one metrics "
        "reduce per training step) or rllib (RLlib's DQN step: EpisodeReplayBuffer, weight sync)",
    )


class SymbolicSpec(SpecModel):
    """LTN module settings: ActionFilter, training reward, loss weights, A4 margin, LTN p, patch set."""

    filter_threshold: float = spec_field(
        0.5, "ActionFilter: drop actions predicted this far below the best (paper 0.5, ref code 0.3)", ge=0.0
    )
    filter_gate_reward_loss: float | None = spec_field(
        None, "filter only once the reward predictor's running MSE is below this (ref code 0.01)", ge=0.0
    )
    train_zero_reward: float = spec_field(0.0, "training reward for a zero-reward step (ref code -0.1)")
    shapes_weight: float = spec_field(1.0, "weight of 1 − SatAgg(A1–A3)", ge=0.0)
    reward_weight: float = spec_field(1.0, "weight of the reward predictor's MSE", ge=0.0)
    reasoner_weight: float = spec_field(1.0, "weight of 1 − Sat(A4) in the (AR) conditions", ge=0.0)
    reasoner_margin: float = spec_field(0.0, "A4 guard r1 > r2 + margin (paper 0, ref code 0.5)", ge=0.0)
    ltn_p: float = spec_field(8.0, "p of the pMeanError ∀ and pMean ∃ aggregators", ge=1.0)
    patch_capacity: int = spec_field(512, "unique cell patches kept as A1–A3 training data", ge=8)
    a2_inequality: Literal["exact", "reference"] = spec_field(
        "exact",
        "A2's l1 ≠ l2: exact (1 for different labels, as in the paper) or reference "
        "(1 − exp(−‖l1 − l2‖), 0.76 for different one-hot labels, as in the reference code)",
    )


class EpochSpec(SpecModel):
    """Size of one epoch (one Tune iteration)."""

    train_episodes: int = spec_field(50, "training episodes per epoch", ge=1)
    eval_episodes: int = spec_field(50, "evaluation episodes (new start states) per epoch", ge=1)


class StopSpec(SpecModel):
    """When a trial stops."""

    epochs: int = spec_field(250, "epochs per trial", ge=1)


class AnalysisSpec(SpecModel):
    """The `nsrl analyze` table: its epochs and the rolling-mean window."""

    epochs: list[Annotated[int, spec_field(ge=1)]] = spec_field([50, 150, 250], "epochs in the table")
    window: int = spec_field(5, "rolling-mean window over epochs (paper 5)", ge=1)


class SymDQNSpec(CommonSpec):
    """`kind: symdqn`: conditions × seeds of the SymDQN ablation."""

    kind: Literal["symdqn"] = spec_field(help="experiment kind")
    conditions: Annotated[list[Condition], AfterValidator(distinct)] = spec_field(
        ["DuelDQN"], "ablation conditions (a Tune grid axis)", min_length=1
    )
    env: EnvSpec = section(EnvSpec, "environment")
    dqn: DQNSpec = section(DQNSpec, "Dueling DQN settings")
    symbolic: SymbolicSpec = section(SymbolicSpec, "LTN module settings")
    epoch: EpochSpec = section(EpochSpec, "one Tune iteration = one paper epoch")
    stop: StopSpec = section(StopSpec, "stopping")
    analysis: AnalysisSpec = section(AnalysisSpec, "`nsrl analyze` table")


# `--smoke`: a few tiny epochs, one seed; well under a minute of training per trial.
SYMDQN_SMOKE = {
    "epoch": {"train_episodes": 2, "eval_episodes": 2},
    "stop": {"epochs": 2},
    "env": {"config": {"max_steps": 20}},
    "analysis": {"epochs": [1, 2], "window": 1},
}
