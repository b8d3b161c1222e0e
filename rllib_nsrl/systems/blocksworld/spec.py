"""The `kind: blocksworld_lifelong` spec (offline lifelong NLM actor-critic on BlocksWorld;
docs/systems/blocksworld.md).

Defaults are the paper's values where it gives them (6 blocks, 50 000 transitions per task, exploration 0.8,
head ``[8,8,8,8]``-style channels, actor/critic lr 3e-3, target copy rate 0.05, temperature 1.5). Channel
lists give one entry per arity 0..B; B = 2 by default (``module.py`` says why breadth 2 suffices).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator

from rllib_nsrl.experiments.schema import SpecModel, distinct, section, spec_field
from rllib_nsrl.experiments.spec import CommonSpec

MODES = ("individual", "lifelong")
NUM_TASKS = 5

Channels = list[Annotated[int, spec_field(ge=0)]]


class EnvSpec(SpecModel):
    """The BlocksWorld environment."""

    num_blocks: int = spec_field(6, "blocks per problem", ge=2)
    max_steps: int = spec_field(50, "steps per episode", ge=1)
    domain_file: str | None = spec_field(
        None, "a PDDL domain file to load instead of the built-in one (same predicates and operators)"
    )


class DataSpec(SpecModel):
    """The offline planner datasets (``nsrl collect``; ``systems/blocksworld/collect.py``)."""

    dir: str = spec_field("runs/datasets/blocksworld", "dataset root; one sub-folder per data setting")
    transitions_per_task: int = spec_field(50_000, "planner-labelled transitions per task", ge=1)
    exploration: float = spec_field(
        0.8, "probability of a random instead of the planner's action", ge=0.0, le=1.0
    )
    seed: int = spec_field(0, "seed of the data collection", ge=0, le=2**31 - 1)
    shards_per_task: int = spec_field(4, "parallel Ray tasks per task", ge=1)


class ModelSpec(SpecModel):
    """Sizes of the NLM actor-critic: knowledge base and task heads."""

    kb_depth: int = spec_field(4, "NLM layers of the shared knowledge base", ge=1)
    kb_channels: Channels = spec_field([4, 4, 4], "KB predicates per arity 0..B", min_length=3)
    head_channels: Channels = spec_field([8, 8, 8], "head predicates per arity 0..B", min_length=3)
    temperature: float = spec_field(1.5, "policy softmax temperature", ge=1e-6)
    logit_scale: float = spec_field(5.0, "scale of the action logits", ge=1e-6)
    exclude_self: bool = spec_field(True, "expansions skip tuples that repeat an object")
    actor_trains_kb: bool = spec_field(False, "False: the KB learns from the critic loss only")


class TrainingSpec(SpecModel):
    """Offline actor-critic training of each task (``systems/blocksworld/learner.py``)."""

    updates_per_task: int = spec_field(3000, "gradient updates per task", ge=1)
    eval_every: int = spec_field(250, "updates between evaluations (= one Tune iteration)", ge=1)
    batch_size: int = spec_field(64, "transitions per update", ge=1)
    actor_lr: float = spec_field(3e-3, "actor learning rate", ge=0.0)
    critic_lr: float = spec_field(3e-3, "critic learning rate", ge=0.0)
    tau: float = spec_field(0.05, "target-network copy rate", ge=0.0, le=1.0)
    gamma: float = spec_field(0.9, "discount (ours: the paper gives none)", ge=0.0, le=1.0)
    reward_scale: float = spec_field(0.01, "reward multiplier", ge=0.0)
    actor_weighting: Literal["binary", "exp"] = spec_field("binary", "advantage weighting of the actor loss")
    beta: float = spec_field(1.0, "temperature of the exp weighting", ge=1e-6)
    max_weight: float = spec_field(20.0, "cap of the exp weights", ge=0.0)
    grad_clip: float | None = spec_field(10.0, "gradient-norm clip; null: none", ge=0.0)


class EvaluationSpec(SpecModel):
    """Online evaluation every ``training.eval_every`` updates."""

    episodes: int = spec_field(20, "evaluation episodes per iteration", ge=1)
    greedy: bool = spec_field(True, "greedy (True) or sampled actions")


class GeneralisationSpec(SpecModel):
    """Evaluation on larger problems (more blocks) than the training data."""

    num_blocks: int = spec_field(8, "blocks of the larger test problems", ge=2)
    episodes: int = spec_field(20, "episodes", ge=1)
    max_steps: int = spec_field(50, "steps per episode", ge=1)


Task = Annotated[int, spec_field(ge=0, le=NUM_TASKS - 1)]


class BlocksSpec(CommonSpec):
    """`kind: blocksworld_lifelong`: modes × seeds over the task sequence, offline planner data first."""

    kind: Literal["blocksworld_lifelong"] = spec_field(help="experiment kind")
    modes: Annotated[list[Literal[MODES]], AfterValidator(distinct)] = spec_field(  # type: ignore[valid-type]
        list(MODES), "training protocols (a Tune grid axis)", min_length=1
    )
    tasks: Annotated[list[Task], AfterValidator(distinct)] = spec_field(
        list(range(NUM_TASKS)), "task sequence (indices of envs/blocksworld/tasks.py)", min_length=1
    )
    env: EnvSpec = section(EnvSpec, "environment")
    data: DataSpec = section(DataSpec, "offline planner datasets")
    model: ModelSpec = section(ModelSpec, "NLM actor-critic sizes")
    training: TrainingSpec = section(TrainingSpec, "offline actor-critic training")
    evaluation: EvaluationSpec = section(EvaluationSpec, "online evaluation")
    generalisation: GeneralisationSpec = section(GeneralisationSpec, "evaluation with more blocks")


BLOCKS_SMOKE = {
    "data": {"dir": "runs/datasets/blocksworld_smoke", "transitions_per_task": 200, "shards_per_task": 1},
    "model": {"kb_depth": 1},
    "training": {"updates_per_task": 4, "eval_every": 2, "batch_size": 16},
    "evaluation": {"episodes": 2},
    "generalisation": {"episodes": 2, "max_steps": 20},
}


def iterations(spec: dict) -> int:
    """Tune iterations of one trial: one per evaluation."""
    t = spec["training"]
    return len(spec["tasks"]) * (t["updates_per_task"] // t["eval_every"])


def trial_config(spec: dict, mode, seed, data_dir: str) -> dict:
    """The `blocks_trainable` config of one (mode, seed) trial (either may be a Tune grid axis)."""
    return {
        "mode": mode,
        "seed": seed,
        "data_dir": data_dir,
        "tasks": list(spec["tasks"]),
        "env": dict(spec["env"]),
        "model": dict(spec["model"]),
        "training": dict(spec["training"]),
        "evaluation": dict(spec["evaluation"]),
        "generalisation": dict(spec["generalisation"]),
    }
