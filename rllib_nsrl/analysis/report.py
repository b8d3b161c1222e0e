"""`nsrl analyze`: dispatch on the experiment kind recorded by `nsrl run`."""

from __future__ import annotations

import json
from pathlib import Path

from rllib_nsrl.analysis.results import load_trials
from rllib_nsrl.experiments.schema import SpecError

SPEC_FILE = "nsrl_spec.json"


def analyze(run_dir: Path, out: Path | None = None) -> list[Path]:
    run_dir = Path(run_dir)
    spec_file = run_dir / SPEC_FILE
    if not spec_file.is_file():
        raise SpecError(f"{run_dir}: not an nsrl experiment directory (no {SPEC_FILE})")
    spec = json.loads(spec_file.read_text())
    trials = load_trials(run_dir)
    out = out or run_dir / "analysis"
    try:
        if spec["kind"] == "symdqn":
            from rllib_nsrl.analysis.symdqn_report import write_symdqn_report

            return write_symdqn_report(trials, spec, out)
        if spec["kind"] == "ilp_lifelong":
            from rllib_nsrl.analysis.ilp_report import write_ilp_report

            return write_ilp_report(trials, out)
        if spec["kind"] == "blocksworld_lifelong":
            from rllib_nsrl.analysis.blocks_report import write_blocks_report

            return write_blocks_report(trials, out)
    except ValueError as err:
        raise SpecError(f"{run_dir}: {err}") from None
    raise SpecError(f"{spec_file}: unknown experiment kind {spec['kind']!r}")
