"""Experiment specs (`tune_configs/*.yaml`): loading, validation, `--smoke` shrinking.

A spec is validated completely here, before any Ray process starts. Each experiment kind has its
own schema (`KIND_SCHEMAS`); the common top level is shared.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from rllib_nsrl.experiments.schema import Field, Section, SpecError, deep_merge, validate
from rllib_nsrl.experiments.symdqn_schema import SYMDQN_SCHEMA, SYMDQN_SMOKE, check_symdqn

RESOURCES = Section(
    {
        "cpus_per_trial": Field(float, 1.0, min=0.1),
        "gpus_per_trial": Field(float, 0.0, min=0.0),
        "max_concurrent_trials": Field(int, 0, min=0),  # 0: as many as resources allow
    }
)
FAILURE = Section({"max_failures": Field(int, 0, min=-1)})
CHECKPOINT = Section({"every_epochs": Field(int, 1, min=1), "keep": Field(int, 2, min=1, nullable=True)})


def _seeds_check(seeds):
    return "seeds must be distinct" if len(set(seeds)) != len(seeds) else None


def common_fields() -> dict:
    return {
        "name": Field(str, None, required=True),
        "kind": Field(str, None, required=True),
        "description": Field(str, ""),
        "seeds": Field(list, [0], item=Field(int, min=0), min_len=1, check=_seeds_check),
        "resources": RESOURCES,
        "failure": FAILURE,
        "checkpoint": CHECKPOINT,
        "smoke": Section(open=True),
    }


KIND_SCHEMAS = {"symdqn": (SYMDQN_SCHEMA, SYMDQN_SMOKE, check_symdqn)}


def _register_lazy_kinds() -> None:
    """Kinds whose schema modules are optional imports (keeps this module light)."""
    try:
        from rllib_nsrl.experiments.ilp_schema import ILP_SCHEMA, ILP_SMOKE, check_ilp

        KIND_SCHEMAS.setdefault("ilp_lifelong", (ILP_SCHEMA, ILP_SMOKE, check_ilp))
    except ImportError:
        pass
    try:
        from rllib_nsrl.experiments.blocks_schema import BLOCKS_SCHEMA, BLOCKS_SMOKE, check_blocks

        KIND_SCHEMAS.setdefault("blocksworld_lifelong", (BLOCKS_SCHEMA, BLOCKS_SMOKE, check_blocks))
    except ImportError:
        pass


def read_yaml(path: str | os.PathLike) -> dict:
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"{path}: spec file not found")
    try:
        data = yaml.safe_load(path.read_text())
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
    _register_lazy_kinds()
    kind = data.get("kind")
    if kind not in KIND_SCHEMAS:
        import difflib

        hint = difflib.get_close_matches(str(kind), list(KIND_SCHEMAS), n=1)
        more = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise SpecError(
            f"{source}: kind: unknown experiment kind {kind!r}{more}; valid: {', '.join(KIND_SCHEMAS)}"
        )
    schema, smoke_defaults, check = KIND_SCHEMAS[kind]
    section = Section({**common_fields(), **schema})
    try:
        spec = validate(section, data)
        if smoke:
            shrink = dict(smoke_defaults)
            max_seeds = shrink.pop("_max_seeds", 1)
            shrunk = deep_merge(deep_merge(data, shrink), spec.get("smoke") or {})
            shrunk["seeds"] = list(shrunk.get("seeds", [0]))[:max_seeds]
            spec = validate(section, shrunk)
            spec["smoke_run"] = True
        else:
            spec["smoke_run"] = False
        check(spec)
    except SpecError as err:
        raise SpecError(f"{source}: {err}") from None
    return spec


def load_spec(path: str | os.PathLike, *, smoke: bool = False) -> dict:
    return validate_spec(read_yaml(path), smoke=smoke, source=str(path))
