"""Tune's `progress.csv`, kept aligned with its header when a trial is resumed (`nsrl run --resume`).

Tune's `CSVLoggerCallback` fixes a trial's columns at its first result and drops keys that appear
later. On a restore it appends to the existing file without a header, but takes the columns from the
first result after the restore. An RLlib result gains keys after the first epoch
(`timers/evaluation_iteration`, ...), so every row written after a resume would sit under the wrong
column names, silently, for anyone reading the file with `pandas.read_csv`. This logger appends under
the file's existing header instead. Keys outside it are left out, as Tune leaves them out in a run
that was never interrupted; `result.json` keeps every key.
"""

from __future__ import annotations

import csv
from pathlib import Path

from ray.air.constants import EXPR_PROGRESS_FILE
from ray.tune.logger import CSVLoggerCallback


def existing_header(path: Path) -> list[str] | None:
    """The first row of a CSV file, or None when there is none."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    with path.open(newline="") as f:
        return next(csv.reader(f), None) or None


class ResumableCSVLogger(CSVLoggerCallback):
    """`CSVLoggerCallback` whose resumed trials append under the header already in the file."""

    def log_trial_result(self, iteration: int, trial, result: dict):
        if trial not in self._trial_files:
            self._setup_trial(trial)  # restores the file from the storage path, if it is remote
        if self._trial_csv[trial] is None and self._trial_continue[trial]:
            header = existing_header(Path(trial.local_path, EXPR_PROGRESS_FILE))
            if header:
                self._trial_csv[trial] = csv.DictWriter(self._trial_files[trial], header)
        super().log_trial_result(iteration, trial, result)
