"""Experiment specs (`tune_configs/*.yaml`): loading, validation, `--smoke` shrinking.

A spec is validated completely here, before any Ray process starts: the top-level keys every kind shares
(`CommonSpec`) and the kind's own, from the kind's pydantic model (`experiments/kinds.py`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import AfterValidator

from rllib_nsrl.experiments.kinds import get_kind
from rllib_nsrl.experiments.schema import SpecError, SpecModel, check, deep_merge, section, spec_field

MAX_SEED = 2**31 - 1  # numpy, torch and the env runners' seed derivation all take it


def _distinct_seeds(seeds: list[int]) -> list[int]:
    if len(set(seeds)) != len(seeds):
        raise ValueError("seeds must be distinct")
    return seeds


Seed = Annotated[int, spec_field(ge=0, le=MAX_SEED)]


def _safe_name(name: str) -> str:
    from rllib_nsrl.experiments.storage import name_problem

    problem = name_problem(name)
    if problem:
        raise ValueError(problem)
    return name


class Resources(SpecModel):
    """Ray resources each trial asks for, and how many trials run at once."""

    cpus_per_trial: float = spec_field(1.0, "CPUs each trial asks Ray for", ge=0.1)
    gpus_per_trial: float = spec_field(0.0, "GPUs each trial asks Ray for (fractions share one)", ge=0.0)
    max_concurrent_trials: int = spec_field(0, "trials running at once; 0: as many as resources allow", ge=0)


class Failure(SpecModel):
    """Fault tolerance: retries of a failed trial."""

    max_failures: int = spec_field(0, "retries of a failed trial from its checkpoint; -1: forever", ge=-1)


class Checkpoint(SpecModel):
    """How often trials checkpoint and how many checkpoints each keeps."""

    every_epochs: int = spec_field(1, "checkpoint every N epochs (RLlib Algorithms)", ge=1)
    keep: int | None = spec_field(2, "checkpoints kept per trial; null: all", ge=1)


class CommonSpec(SpecModel):
    """The top-level keys of every spec; a kind's model subclasses it and adds its own."""

    name: Annotated[str, AfterValidator(_safe_name)] = spec_field(
        help="experiment name: the run directory under --storage (one folder name)", min_length=1
    )
    kind: str = spec_field(help="experiment kind (`nsrl spec` lists them)")
    description: str = spec_field("", "free text")
    seeds: Annotated[list[Seed], AfterValidator(_distinct_seeds)] = spec_field(
        [0], "one trial per seed (a Tune grid axis)", min_length=1
    )
    resources: Resources = section(Resources, "Ray resources per trial")
    failure: Failure = section(Failure, "fault tolerance")
    checkpoint: Checkpoint = section(Checkpoint, "checkpointing")
    smoke: dict[str, Any] = spec_field({}, "keys merged on top with --smoke (besides the kind's own)")


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, but a key given twice in one mapping is an error (PyYAML keeps the last)."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                first = seen.setdefault(key, key_node.start_mark.line + 1)
            except TypeError:  # an unhashable key: let PyYAML report it
                continue
            if first != key_node.start_mark.line + 1:
                raise SpecError(f"key {key!r} given twice (lines {first} and {key_node.start_mark.line + 1})")
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: str | os.PathLike) -> dict:
    """The top-level mapping of a YAML file; a malformed file is a `SpecError` naming file and line.

    Refused besides malformed YAML: a file that is not UTF-8 text, a key given twice in one mapping, and
    nesting too deep to read."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"{path}: spec file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise SpecError(f"{path}: not UTF-8 text (byte {err.start}); a spec is a YAML text file") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506  (a SafeLoader subclass)
    except SpecError as err:
        raise SpecError(f"{path}: {err}") from None
    except RecursionError:
        raise SpecError(f"{path}: nested too deeply to be a spec") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise SpecError(f"{where}: malformed YAML: {problem}") from None
    if not isinstance(data, dict):
        raise SpecError(f"{path}: a spec must be a YAML mapping at the top level")
    return data


def validate_spec(data: dict, *, smoke: bool = False, source: str = "spec") -> dict:
    """Validate a raw spec mapping (defaults filled in); with `smoke`, shrink it first."""
    kind = get_kind(data.get("kind"), source)
    try:
        spec = check(kind.spec_model, data)
        shrunk = deep_merge(deep_merge(data, kind.smoke), spec.get("smoke") or {})
        shrunk["seeds"] = list(shrunk.get("seeds", [0]))[: kind.smoke_seeds]
        if smoke:
            spec = check(kind.spec_model, shrunk)
        elif spec.get("smoke"):  # a mistake in the smoke section is found before anyone runs --smoke
            try:
                check(kind.spec_model, shrunk)
            except SpecError as err:
                raise SpecError(f"smoke: {err} (in the spec as --smoke shrinks it)") from None
        spec["smoke_run"] = smoke
        if kind.check is not None:
            kind.check(spec)
    except SpecError as err:
        raise SpecError(f"{source}: {err}") from None
    return spec


def load_spec(path: str | os.PathLike, *, smoke: bool = False) -> dict:
    """Read and validate a spec file."""
    return validate_spec(read_yaml(path), smoke=smoke, source=str(path))
