"""The `kind: ilp_lifelong` spec (Neuro-Logic Lifelong Learning, supervised ILP).

See docs/systems/lifelong_ilp.md.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator

from rllib_nsrl.experiments.schema import SpecModel, distinct, section, spec_field
from rllib_nsrl.experiments.spec import CommonSpec
from rllib_nsrl.systems.lifelong_ilp.domains import DOMAINS
from rllib_nsrl.systems.lifelong_ilp.protocol import MODES

Domain = Literal[tuple(DOMAINS)]  # type: ignore[valid-type]
Mode = Literal[tuple(MODES)]  # type: ignore[valid-type]
Channels = list[Annotated[int, spec_field(ge=0)]]


class ModelSpec(SpecModel):
    """NLM sizes: the knowledge base and the task heads."""

    kb_depth: int = spec_field(4, "NLM layers of the shared knowledge base", ge=1)
    kb_channels: Channels = spec_field(
        [8, 8, 8, 8], "KB predicates per arity 0..B (paper [8, 8, 8, 8], breadth 3)", min_length=1
    )
    head_channels: Channels = spec_field([8, 8, 8, 8], "task-head predicates per arity 0..B", min_length=1)
    exclude_self: bool = spec_field(True, "expansions skip tuples that repeat an object")
    kb_include_inputs: bool = spec_field(
        True, "the KB passes the input predicates on to the heads beside its own (false: only its own)"
    )


class TrainingSpec(SpecModel):
    """Training of each task."""

    lr: float = spec_field(1e-3, "Adam learning rate", ge=0.0)
    epochs_per_task: int = spec_field(50, "epochs per task", ge=1)
    batches_per_epoch: int = spec_field(10, "batches per epoch", ge=1)
    batch_size: int = spec_field(4, "worlds per batch", ge=1)
    loss: Literal["bce", "balanced"] = spec_field(
        "bce", "bce, or balanced: true atoms weighted by false/true atoms of the batch (rare positives)"
    )


class EvaluationSpec(SpecModel):
    """Held-out test sets (n and 2n objects) evaluated after every epoch."""

    test_size: int = spec_field(16, "test worlds per task", ge=1)
    test_size_2x: int | None = spec_field(4, "test worlds with twice the objects; null: test_size", ge=1)
    eval_batch_size: int = spec_field(4, "worlds per evaluation batch", ge=1)
    n_objects: int | None = spec_field(None, "objects per world; null: the domain's", ge=2)


class AnalysisSpec(SpecModel):
    """Settings of `nsrl analyze`."""

    loss_threshold: float = spec_field(
        0.1, "test loss at which a task counts as learned, when relative_threshold is null", ge=0.0
    )
    relative_threshold: float | None = spec_field(
        0.5,
        "a task counts as learned at this fraction of the constant predictor's test loss (its base rate "
        "predicted everywhere); null: loss_threshold",
        gt=0.0,
    )


class ILPSpec(CommonSpec):
    """`kind: ilp_lifelong`: modes × seeds over one domain's task sequence."""

    kind: Literal["ilp_lifelong"] = spec_field(help="experiment kind")
    domain: Domain = spec_field(help="task sequence: arithmetic, tree or graph")
    modes: Annotated[list[Mode], AfterValidator(distinct)] = spec_field(
        list(MODES), "training protocols (a Tune grid axis)", min_length=1
    )
    model: ModelSpec = section(ModelSpec, "NLM sizes")
    training: TrainingSpec = section(TrainingSpec, "training per task")
    evaluation: EvaluationSpec = section(EvaluationSpec, "test sets")
    analysis: AnalysisSpec = section(AnalysisSpec, "`nsrl analyze`")


ILP_SMOKE = {
    "model": {"kb_depth": 1},
    "training": {"epochs_per_task": 2, "batches_per_epoch": 2, "batch_size": 2},
    "evaluation": {"test_size": 2, "test_size_2x": 1, "eval_batch_size": 2, "n_objects": 6},
}


# Settings added after runs were made: left out of a trial's config while at their default, so that the
# param space of older runs is unchanged and they still resume (Tune refuses a param space with new keys).
LATER_DEFAULTS = {"loss": "bce", "kb_include_inputs": True}


def trial_config(spec: dict, mode, seed) -> dict:
    """The `ilp_trainable` config of one (mode, seed) trial (either may be a Tune grid axis)."""
    config = {
        "domain": spec["domain"],
        "mode": mode,
        "seed": seed,
        **spec["model"],
        **spec["training"],
        **spec["evaluation"],
    }
    return {k: v for k, v in config.items() if k not in LATER_DEFAULTS or v != LATER_DEFAULTS[k]}
