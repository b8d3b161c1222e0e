"""`nsrl analyze`: load a run directory and hand it to the report of the kind recorded by `nsrl run`."""

from __future__ import annotations

import json
from pathlib import Path

from rllib_nsrl.analysis.results import load_trials
from rllib_nsrl.experiments.kinds import get_kind
from rllib_nsrl.experiments.schema import SpecError

SPEC_FILE = "nsrl_spec.json"


def analyze(run_dir: Path, out: Path | None = None) -> list[Path]:
    """Write the kind's tables and figures for `run_dir` into `out` (default `<run_dir>/analysis`)."""
    run_dir = Path(run_dir)
    spec_file = run_dir / SPEC_FILE
    if not spec_file.is_file():
        raise SpecError(f"{run_dir}: not an nsrl experiment directory (no {SPEC_FILE})")
    try:
        spec = json.loads(spec_file.read_bytes().decode("utf-8"))
    except (ValueError, OSError) as err:
        raise SpecError(f"{spec_file}: not readable JSON ({type(err).__name__}: {err})") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("kind"), str):
        raise SpecError(f"{spec_file}: not an nsrl spec (a JSON object with a 'kind')")
    kind = get_kind(spec.get("kind"), str(spec_file))
    trials = load_trials(run_dir)
    try:
        return kind.report(trials, spec, out or run_dir / "analysis")
    except ValueError as err:
        raise SpecError(f"{run_dir}: {err}") from None
