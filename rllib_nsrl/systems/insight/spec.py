"""The `kind: insight` spec (INSIGHT on Atari; docs/systems/insight.md). Defaults are the paper's values.

Ray-free and Atari-free: validating a spec needs neither ale-py nor torch.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator

from rllib_nsrl.envs.atari.objects import SUPPORTED_GAMES
from rllib_nsrl.experiments.schema import SpecModel, distinct, section, spec_field
from rllib_nsrl.experiments.spec import CommonSpec
from rllib_nsrl.systems.insight.conditions import CONDITIONS

ConditionName = Literal[tuple(CONDITIONS)]  # type: ignore[valid-type]
Game = Literal[SUPPORTED_GAMES]  # type: ignore[valid-type]


class EnvSpec(SpecModel):
    """The Atari env during training (`envs/atari`); evaluation plays full, unclipped games."""

    game: Game = spec_field("Pong", "Atari game (the object teacher's supported ones)")
    episodic_life: bool = spec_field(True, "a lost life ends a training episode")
    fire_reset: bool = spec_field(True, "press FIRE after a reset where the game has it")
    clip_rewards: bool = spec_field(True, "train on sign(reward)")
    noop_max: int = spec_field(30, "most random no-op frames after a reset", ge=0)
    max_episode_frames: int = spec_field(108_000, "emulator frames per game before truncation", ge=100)


class DataSpec(SpecModel):
    """The perception dataset: frames with the teacher's objects (`nsrl collect`; `insight/data.py`)."""

    dir: str = spec_field("runs/datasets/insight", "dataset root; one sub-folder per data setting")
    train_frames: int = spec_field(10_000, "training frames", ge=1)
    test_frames: int = spec_field(1_000, "test frames (pre-training picks its best epoch on them)", ge=1)
    shards: int = spec_field(4, "parallel Ray tasks; each plays its own seeded games", ge=1)
    every: int = spec_field(4, "keep every k-th step (consecutive frames are near-duplicates)", ge=1)
    seed: int = spec_field(0, "seed of the collection", ge=0, le=2**31 - 1)
    collect: bool = spec_field(True, "collect the dataset when missing (false: stop, naming `nsrl collect`)")


class PretrainSpec(SpecModel):
    """Supervised pre-training of perception on the dataset (`systems/insight/pretrain.py`)."""

    epochs: int = spec_field(30, "passes over the training frames (paper: 600 on its dataset)", ge=1)
    batch_size: int = spec_field(32, "frames per step", ge=1)
    lr: float = spec_field(3e-4, "Adam learning rate", gt=0.0)
    weight_decay: float = spec_field(1e-4, "Adam weight decay", ge=0.0)
    focal_gamma: float = spec_field(2.0, "focal loss γ on existence", ge=0.0)
    size_weight: float = spec_field(1.0, "weight of the L1 on box sizes", ge=0.0)
    object_weights: Literal["reference", "slot"] = spec_field(
        "reference",
        "loss weight of each object: reference (the reference code's, per frame over the objects present) "
        "or slot (one per slot from dataset frequencies; runs before 2026-12-08)",
    )


class EQLWidths(SpecModel):
    """Units of each primitive in a symbolic layer."""

    square: int = spec_field(8, "x² units", ge=0)
    cube: int = spec_field(8, "x³ units", ge=0)
    constant: int = spec_field(8, "constant-1 units", ge=0)
    identity: int = spec_field(8, "identity units", ge=0)
    product: int = spec_field(8, "x·y units", ge=0)
    sum: int = spec_field(8, "x+y units", ge=0)


class ModelSpec(SpecModel):
    """Sizes of the INSIGHT module (`systems/insight/module.py`)."""

    feature_dim: int = spec_field(512, "encoder output width (Nature DQN: 512)", ge=8)
    eql_layers: int = spec_field(1, "symbolic layers of the EQL actor", ge=0, le=4)
    eql_widths: EQLWidths = section(EQLWidths, "units per primitive")
    inverse_temperature: float = spec_field(10.0, "EQL logit scale", gt=0.0)


class PPOSpec(SpecModel):
    """PPO settings (the paper's, after CleanRL's Atari recipe)."""

    total_steps: int = spec_field(10_000_000, "env steps per trial", ge=1)
    num_envs: int = spec_field(8, "parallel envs", ge=1)
    rollout_length: int = spec_field(128, "steps per env per update", ge=1)
    num_epochs: int = spec_field(4, "passes over each batch", ge=1)
    num_minibatches: int = spec_field(4, "minibatches per pass", ge=1)
    minibatching: Literal["per_epoch", "rllib_cyclic"] = spec_field(
        "per_epoch",
        "per_epoch (the reference's: each pass a fresh shuffle split into num_minibatches) or rllib_cyclic "
        "(RLlib's iterator: minibatches of the same size until every row was seen num_epochs times; 17 "
        "for 1 024 steps, the first pass unshuffled; runs before 2026-12-08)",
    )
    lr: float = spec_field(2.5e-4, "Adam learning rate", gt=0.0)
    anneal_lr: bool = spec_field(True, "anneal the learning rate linearly to 0 over total_steps")
    adam_eps: float = spec_field(1e-5, "Adam ε", gt=0.0)
    clip: float = spec_field(0.1, "PPO ratio clip", gt=0.0)
    entropy: float = spec_field(0.01, "entropy bonus", ge=0.0)
    value: float = spec_field(0.5, "value-loss weight", ge=0.0)
    grad_clip: float = spec_field(0.5, "gradient-norm clip", gt=0.0)
    gamma: float = spec_field(0.99, "discount", ge=0.0, le=1.0)
    gae_lambda: float = spec_field(0.95, "GAE λ", ge=0.0, le=1.0)
    num_env_runners: int = spec_field(0, "remote env runners (0: sample in the trial's process)", ge=0)


class InsightLossSpec(SpecModel):
    """The INSIGHT terms added to the PPO loss (`systems/insight/learner.py`)."""

    guidance_weight: float = spec_field(1.0, "cross-entropy from EQL logits to the neural argmax", ge=0.0)
    guidance_every_epoch: bool = spec_field(False, "guide in every PPO epoch (paper: the last one only)")
    reg_weight: float = spec_field(1e-3, "final weight of the L½ penalty (ramped from 0)", ge=0.0)
    l_half_a: float = spec_field(0.05, "L½ smoothing threshold", gt=0.0)
    perception_weight: float = spec_field(2.0, "weight of the perception loss on dataset batches", ge=0.0)
    perception_batch: int = spec_field(256, "dataset frames per perception-loss batch", ge=1)
    perception_reduction: Literal["sum", "mean"] = spec_field(
        "sum",
        "scale of the perception term: sum (the reference's: summed over a frame's objects, frames and "
        "numbers, averaged over the batch) or mean (per number; 24–88× weaker, runs before 2026-12-08)",
    )
    perception_weight_decay: float = spec_field(
        1e-4, "Adam weight decay on perception (encoder, heads) in policy learning (the reference's)", ge=0.0
    )
    eql_acts_in_training: bool = spec_field(False, "sample training actions from the EQL actor")


class EvaluationSpec(SpecModel):
    """Full-game evaluation of the neural and EQL actors (and perception on the test split)."""

    every: int = spec_field(100, "iterations (PPO updates) between evaluations; 1 % of 10 M steps", ge=1)
    episodes: int = spec_field(10, "games per actor", ge=1)
    max_episode_frames: int = spec_field(108_000, "emulator frames per evaluation game", ge=100)
    eql_greedy: bool = spec_field(True, "also evaluate the EQL actor greedily (sampled is the reference)")


class InsightSpec(CommonSpec):
    """`kind: insight`: conditions × seeds of the INSIGHT ablation on one Atari game."""

    kind: Literal["insight"] = spec_field(help="experiment kind")
    conditions: Annotated[list[ConditionName], AfterValidator(distinct)] = spec_field(  # type: ignore[valid-type]
        ["INSIGHT", "neural PPO"], "ablation conditions (a Tune grid axis)", min_length=1
    )
    env: EnvSpec = section(EnvSpec, "Atari env")
    data: DataSpec = section(DataSpec, "perception dataset")
    pretrain: PretrainSpec = section(PretrainSpec, "perception pre-training")
    model: ModelSpec = section(ModelSpec, "module sizes")
    ppo: PPOSpec = section(PPOSpec, "PPO")
    insight: InsightLossSpec = section(InsightLossSpec, "INSIGHT loss terms")
    evaluation: EvaluationSpec = section(EvaluationSpec, "evaluation")


INSIGHT_SMOKE = {
    "data": {"dir": "runs/datasets/insight_smoke", "train_frames": 192, "test_frames": 64, "shards": 2},
    "pretrain": {"epochs": 2},
    "model": {"feature_dim": 64},
    "ppo": {"total_steps": 256, "num_envs": 2, "rollout_length": 32, "num_epochs": 2, "num_minibatches": 2},
    "insight": {"perception_batch": 16},
    "evaluation": {"every": 2, "episodes": 1, "max_episode_frames": 1000},
}


def train_batch_size(spec: dict) -> int:
    """Env steps per PPO update (= one Tune iteration)."""
    return spec["ppo"]["num_envs"] * spec["ppo"]["rollout_length"]


def iterations(spec: dict) -> int:
    """Tune iterations of one trial: PPO updates until total_steps."""
    return max(1, spec["ppo"]["total_steps"] // train_batch_size(spec))
