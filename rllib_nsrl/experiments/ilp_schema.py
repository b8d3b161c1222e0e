"""Schema of `kind: ilp_lifelong` specs (Neuro-Logic Lifelong Learning, supervised ILP; SPEC §2)."""

from __future__ import annotations

from rllib_nsrl.experiments.schema import Field, Section, SpecError
from rllib_nsrl.lifelong.ilp_domains import DOMAINS
from rllib_nsrl.lifelong.ilp_protocol import MODES

CHANNELS = Field(list, [8, 8, 8, 8], item=Field(int, min=0), min_len=1)

ILP_SCHEMA = {
    "domain": Field(str, None, choices=tuple(DOMAINS), required=True),
    "modes": Field(list, list(MODES), item=Field(str, choices=tuple(MODES)), min_len=1),
    "model": Section(
        {
            "kb_depth": Field(int, 4, min=1),
            "kb_channels": CHANNELS,  # per arity 0..B (paper: [8, 8, 8, 8], breadth 3)
            "head_channels": CHANNELS,
            "exclude_self": Field(bool, True),
        }
    ),
    "training": Section(
        {
            "lr": Field(float, 1e-3, min=0.0),
            "epochs_per_task": Field(int, 50, min=1),
            "batches_per_epoch": Field(int, 10, min=1),
            "batch_size": Field(int, 4, min=1),
        }
    ),
    "evaluation": Section(
        {
            "test_size": Field(int, 16, min=1),
            "test_size_2x": Field(int, 4, min=1, nullable=True),
            "eval_batch_size": Field(int, 4, min=1),
            "n_objects": Field(int, None, min=2, nullable=True),  # default: the domain's (SPEC §2)
        }
    ),
    "analysis": Section({"loss_threshold": Field(float, 0.1, min=0.0)}),
}

ILP_SMOKE = {
    "_max_seeds": 1,
    "model": {"kb_depth": 1},
    "training": {"epochs_per_task": 2, "batches_per_epoch": 2, "batch_size": 2},
    "evaluation": {"test_size": 2, "test_size_2x": 1, "eval_batch_size": 2, "n_objects": 6},
}


def check_ilp(spec: dict) -> None:
    from rllib_nsrl.lifelong.ilp_protocol import ILPConfig

    if len(set(spec["modes"])) != len(spec["modes"]):
        raise SpecError("modes: listed twice")
    try:
        ILPConfig.from_dict(trial_config(spec, spec["modes"][0], spec["seeds"][0]))
    except ValueError as err:
        raise SpecError(f"model: {err}") from None


def trial_config(spec: dict, mode, seed) -> dict:
    """The `ilp_trainable` config of one (mode, seed) trial (either may be a Tune grid axis)."""
    return {
        "domain": spec["domain"],
        "mode": mode,
        "seed": seed,
        **spec["model"],
        **spec["training"],
        **spec["evaluation"],
    }
