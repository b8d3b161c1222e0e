"""The registry of experiment kinds: one line per system, each imported only when a spec names it.

A kind is a `Kind` object, `KIND`, in its system's `kind.py`: the spec model, its `--smoke` shrink,
cross-field checks, the Tune plan, the report, and optionally `nsrl collect`. The generic layers
(spec loading, runner, analysis, CLI) ask the registry and never name a system. As in RLlib's algorithm
registry, an import error of a kind's module is never swallowed: it is a bug, with its traceback.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rllib_nsrl.experiments.schema import SpecError

# kind name → module whose `KIND` describes it
_KINDS: dict[str, str] = {
    "symdqn": "rllib_nsrl.systems.symdqn.kind",
    "ilp_lifelong": "rllib_nsrl.systems.lifelong_ilp.kind",
    "blocksworld_lifelong": "rllib_nsrl.systems.blocksworld.kind",
    "insight": "rllib_nsrl.systems.insight.kind",
}


@dataclass
class Plan:
    """What Tune runs for one spec: the trainable, its param space (grid axes included), a short label
    and a file-system tag per trial config, the progress columns to print, and the epochs per trial."""

    trainable: Any
    param_space: Any
    label: Callable[[dict], str]
    tag: Callable[[dict], str]
    columns: dict[str, str]
    epochs: int


@dataclass(frozen=True)
class Kind:
    """One experiment kind.

    spec_model: the pydantic model of the whole spec (a subclass of `spec.CommonSpec`).
    smoke: spec keys merged on top for `--smoke` (a tiny run); `smoke_seeds` seeds are kept.
    check: cross-field checks on the validated spec dict; raises `SpecError` naming the key.
    plan: validated spec → `Plan`; called once Ray is up (a plan may prepare data with Ray tasks).
    report: (trials as (config, DataFrame) pairs, spec, output dir) → files written (`nsrl analyze`).
    collect: (spec, out dir or None, Ray address or None) → exit code (`nsrl collect`), if the kind has data.
    resume_problem: a saved trial config (params.json) → why this version cannot resume it, or None.
    """

    name: str
    spec_model: type
    plan: Callable[[dict], Plan]
    report: Callable[[list, dict, Path], list[Path]]
    smoke: dict = field(default_factory=dict)
    smoke_seeds: int = 1
    check: Callable[[dict], None] | None = None
    collect: Callable[[dict, str | None, str | None], int] | None = None
    resume_problem: Callable[[dict], str | None] | None = None


def register_kind(name: str, module: str) -> None:
    """Add (or replace) a kind: `module` must define `KIND`. Plug-ins and tests use this."""
    _KINDS[name] = module


def kind_names() -> list[str]:
    """Every registered kind name."""
    return list(_KINDS)


def get_kind(name: Any, source: str = "spec") -> Kind:
    """The `Kind` registered as `name`; an unknown name is a `SpecError` with the closest spelling."""
    if not isinstance(name, str) or name not in _KINDS:
        names = kind_names()
        lower = {n.lower(): n for n in names}
        close = difflib.get_close_matches(str(name).lower(), list(lower), n=1)
        more = f" (did you mean {lower[close[0]]!r}?)" if close else ""
        raise SpecError(f"{source}: kind: unknown experiment kind {name!r}{more}; valid: {', '.join(names)}")
    kind = importlib.import_module(_KINDS[name]).KIND
    if kind.name != name:
        raise RuntimeError(f"{_KINDS[name]}.KIND is named {kind.name!r}, registered as {name!r}")
    return kind
