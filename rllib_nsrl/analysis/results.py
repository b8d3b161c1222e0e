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


def _ranges(numbers: list[int]) -> str:
    """[3, 4, 5, 9] -> "3–5, 9"."""
    out, numbers = [], sorted(numbers)
    i = 0
    while i < len(numbers):
        j = i
        while j + 1 < len(numbers) and numbers[j + 1] == numbers[j] + 1:
            j += 1
        out.append(str(numbers[i]) if i == j else f"{numbers[i]}–{numbers[j]}")
        i = j + 1
    return ", ".join(out)


def _warn_stderr(message: str) -> None:
    import sys

    print(f"nsrl: {message}", file=sys.stderr, flush=True)


def _read_rows(result_file: Path) -> tuple[list[dict], list[int]]:
    """The parsed result lines of a trial and the numbers of the lines that are not a JSON object."""
    rows, bad = [], []
    text = result_file.read_bytes().decode("utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        try:
            row = json.loads(line)
        except ValueError:  # a line cut by a crash mid-write, or garbage
            bad.append(number)
            continue
        if isinstance(row, dict) and isinstance(row.get("training_iteration", 0), int):
            rows.append(_flatten(row))
        else:
            bad.append(number)
    return rows, bad


def load_trials(run_dir: Path, warn=_warn_stderr) -> list[tuple[dict, pd.DataFrame]]:
    """(trial config, per-iteration results) for every trial under `run_dir`.

    Results are read from each trial's `result.json` (one JSON object per reported iteration),
    flattened with `/` separators (``evaluation/env_runners/score``). A trial resumed from a
    checkpoint may have re-reported iterations: the last report of each iteration is kept, so every
    epoch appears exactly once.

    Damaged files never stop the analysis; each problem is one `warn(message)` line naming the trial
    and what was skipped: a `params.json` that is not a JSON object (the trial is left out), lines of
    `result.json` that are not results (by line number), and epochs missing between the first and the
    last one logged.
    """
    if not run_dir.is_dir():
        raise SpecError(f"{run_dir}: no such experiment directory")
    trials = []
    for params in sorted(run_dir.glob("*/params.json")):
        trial = params.parent.name
        try:
            config = json.loads(params.read_bytes().decode("utf-8"))
        except (ValueError, OSError) as err:
            warn(f"skipped trial {trial}: {params.name} is not readable JSON ({type(err).__name__})")
            continue
        if not isinstance(config, dict):
            warn(f"skipped trial {trial}: {params.name} is not a JSON object")
            continue
        result_file = params.parent / "result.json"
        rows, bad = _read_rows(result_file) if result_file.is_file() else ([], [])
        if bad:
            warn(f"trial {trial}: skipped {len(bad)} damaged line(s) of result.json (line {_ranges(bad)})")
        frame = pd.DataFrame(rows)
        if not frame.empty and "training_iteration" in frame:
            frame = frame.dropna(subset=["training_iteration"])
            frame = frame.drop_duplicates("training_iteration", keep="last").sort_values("training_iteration")
            frame = frame.reset_index(drop=True)
            logged = set(frame["training_iteration"].astype(int))
            missing = sorted(set(range(1, max(logged) + 1)) - logged) if logged else []
            if missing:
                warn(f"trial {trial}: epoch(s) {_ranges(missing)} missing from result.json")
        elif result_file.is_file() and not rows:
            warn(f"trial {trial}: no results in result.json yet")
        trials.append((config, frame))
    if not trials:
        raise SpecError(f"{run_dir}: holds no Tune trials (no readable */params.json)")
    return trials
