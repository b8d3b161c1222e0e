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

from rllib_nsrl.ray_private import csv_writer_for_resumed_trial


def existing_header(path: Path) -> list[str] | None:
    """The first row of a CSV file, or None when there is none."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    with path.open(newline="") as f:
        return next(csv.reader(f), None) or None


class ResumableCSVLogger(CSVLoggerCallback):
    """`CSVLoggerCallback` whose resumed trials append under the header already in the file."""

    def log_trial_result(self, iteration: int, trial, result: dict):
        """Tune's CSV row, under the file's existing header for a resumed trial."""
        csv_writer_for_resumed_trial(
            self, trial, lambda t: existing_header(Path(t.local_path, EXPR_PROGRESS_FILE))
        )
        super().log_trial_result(iteration, trial, result)
