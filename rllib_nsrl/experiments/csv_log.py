"""Tune's `result.json` and `progress.csv`: every epoch exactly once, in order, across restores; and the
CSV aligned with its header when a trial is resumed (`nsrl run --resume`).

A trial restored from its checkpoint (after `--resume`, a lost node or a trial failure) repeats the epochs
it had logged after that checkpoint: Tune appends them again, so a file held epochs 1..312 then 301..,
each of 301..312 twice and progress going backwards. `drop_rows_from` removes, in place, the rows at and
after the epoch a restored trial reports first, just before that epoch is logged again; the loggers keep
their append-mode handles, so nothing they write later is lost. Rows that do not parse (a line cut by a
crash) are dropped too.

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
import io
import json
from pathlib import Path

from ray.air.constants import EXPR_PROGRESS_FILE, EXPR_RESULT_FILE
from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback

from rllib_nsrl.ray_private import csv_writer_for_resumed_trial, logger_trial_file

# Tune writes a result's values of any size into progress.csv (a long list becomes one field); reading the
# file back must not stop at the csv module's default 128 KiB per field.
csv.field_size_limit(2**31 - 1)


def existing_header(path: Path) -> list[str] | None:
    """The first row of a CSV file, or None when there is none."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    with path.open(newline="") as f:
        return next(csv.reader(f), None) or None


def _json_iteration(line: str) -> int | None:
    try:
        return int(json.loads(line)["training_iteration"])
    except (ValueError, KeyError, TypeError):
        return None


def logged_iterations(path: Path, fmt: str) -> list[int | None]:
    """The `training_iteration` of every row of a result file (`fmt` "json" or "csv"); None where a row
    does not parse."""
    if not path.exists():
        return []
    text = path.read_text(errors="replace")
    if fmt == "json":
        return [_json_iteration(line) for line in text.splitlines() if line.strip()]
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or "training_iteration" not in rows[0]:
        return []
    col = rows[0].index("training_iteration")
    out = []
    for row in rows[1:]:
        try:
            out.append(int(float(row[col])))
        except (IndexError, ValueError):
            out.append(None)
    return out


def drop_rows_from(path: Path, iteration: int, fmt: str) -> int:
    """Remove, in place, the rows of `path` whose `training_iteration` is ≥ `iteration` or unreadable;
    return how many went. The file keeps its inode, so open append-mode handles stay valid."""
    if not path.exists():
        return 0
    text = path.read_text(errors="replace")
    if fmt == "json":
        lines = [line for line in text.splitlines() if line.strip()]
        kept = [line for line in lines if (_json_iteration(line) or 0) in range(1, iteration)]
        new, dropped = "".join(line + "\n" for line in kept), len(lines) - len(kept)
    else:
        rows = list(csv.reader(io.StringIO(text)))
        if not rows or "training_iteration" not in rows[0]:
            return 0
        iterations = logged_iterations(path, "csv")
        kept = [row for row, it in zip(rows[1:], iterations, strict=True) if (it or 0) in range(1, iteration)]
        buf = io.StringIO()
        csv.writer(buf).writerows([rows[0], *kept])
        new, dropped = buf.getvalue(), len(rows) - 1 - len(kept)
    if dropped:
        with path.open("r+") as f:
            f.write(new)
            f.truncate()
    return dropped


class _ExactlyOnce:
    """Mixin for Tune's file loggers: before a result is logged, drop the rows a restore repeats."""

    FILE: str
    FORMAT: str

    def _exactly_once(self, trial, result: dict) -> None:
        last = self.__dict__.setdefault("_last_logged", {})
        path = Path(trial.local_path, self.FILE)
        if trial not in last:
            last[trial] = max((i for i in logged_iterations(path, self.FORMAT) if i is not None), default=0)
        it = result.get("training_iteration")
        if it is None:
            return
        if it <= last[trial]:
            logger_trial_file(self, trial).flush()
            dropped = drop_rows_from(path, it, self.FORMAT)
            if dropped and self.FORMAT == "json":
                print(
                    f"nsrl: {trial} restarts from epoch {it - 1}: the {dropped} epoch(s) it had logged "
                    "after that checkpoint are dropped and will be logged again",
                    flush=True,
                )
        last[trial] = it


class ExactlyOnceJsonLogger(_ExactlyOnce, JsonLoggerCallback):
    """`JsonLoggerCallback` that logs every epoch of a trial exactly once, in order, across restores."""

    FILE, FORMAT = EXPR_RESULT_FILE, "json"

    def log_trial_result(self, iteration: int, trial, result: dict):
        """Tune's JSON line, after dropping the lines a restored trial repeats."""
        if logger_trial_file(self, trial) is None:
            self.log_trial_start(trial)  # restores the file from the storage path, if it is remote
        self._exactly_once(trial, result)
        super().log_trial_result(iteration, trial, result)


class ResumableCSVLogger(_ExactlyOnce, CSVLoggerCallback):
    """`CSVLoggerCallback` whose resumed trials append under the header already in the file, every epoch
    exactly once."""

    FILE, FORMAT = EXPR_PROGRESS_FILE, "csv"

    def log_trial_result(self, iteration: int, trial, result: dict):
        """Tune's CSV row, under the file's existing header for a resumed trial."""
        csv_writer_for_resumed_trial(
            self, trial, lambda t: existing_header(Path(t.local_path, EXPR_PROGRESS_FILE))
        )
        self._exactly_once(trial, result)
        super().log_trial_result(iteration, trial, result)
