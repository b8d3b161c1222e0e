"""Load a Tune experiment directory into pandas (no Ray needed): one frame per trial."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from rllib_nsrl.experiments.schema import SpecError


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "/"))
        else:
            out[key] = v
    return out


def load_trials(run_dir: Path) -> list[tuple[dict, pd.DataFrame]]:
    """(trial config, per-iteration results) for every trial under `run_dir`.

    Results are read from each trial's `result.json` (one JSON object per reported iteration),
    flattened with `/` separators (``evaluation/env_runners/score``). A trial resumed from a
    checkpoint may have re-reported iterations: the last report of each iteration is kept, so every
    epoch appears exactly once.
    """
    if not run_dir.is_dir():
        raise SpecError(f"{run_dir}: no such experiment directory")
    trials = []
    for params in sorted(run_dir.glob("*/params.json")):
        result_file = params.parent / "result.json"
        config = json.loads(params.read_text())
        rows = []
        if result_file.exists():
            for line in result_file.read_text().splitlines():
                line = line.strip()
                if line:
                    try:
                        rows.append(_flatten(json.loads(line)))
                    except json.JSONDecodeError:
                        continue  # a line cut by a crash mid-write
        frame = pd.DataFrame(rows)
        if not frame.empty and "training_iteration" in frame:
            frame = frame.drop_duplicates("training_iteration", keep="last").sort_values("training_iteration")
            frame = frame.reset_index(drop=True)
        trials.append((config, frame))
    if not trials:
        raise SpecError(f"{run_dir}: holds no Tune trials (no */params.json)")
    return trials
