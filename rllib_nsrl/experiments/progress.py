"""One line per trial result while a Tune experiment runs (Tune's own tables are turned off)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ray.tune import Callback


def error_cause(text: str, limit: int = 200) -> str:
    """The last `Type: message` line of an error text (a Ray error's traceback) — what went wrong."""
    lines = [line.rstrip() for line in str(text).splitlines() if line.strip()]
    for line in reversed(lines):
        if not line[0].isspace() and ":" in line and not line.startswith(("Traceback", "Failure #")):
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return lines[-1][:limit] if lines else "unknown error"


def trial_error_cause(trial) -> str:
    """The cause of a failed trial, read from the error file Tune just wrote on the driver."""
    try:
        return error_cause(Path(trial.error_file).read_text(errors="replace"))
    except (OSError, TypeError):
        return "unknown error"


def _get(result: dict, path: str):
    node = result
    for part in path.split("/"):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


class ProgressPrinter(Callback):
    """Prints `[elapsed] trial-label  epoch i/N  metric=value ...` for every reported result.

    `label_fn(config) -> str` names a trial; `columns` maps a short name to a result path such as
    ``evaluation/env_runners/score``.
    """

    def __init__(
        self, label_fn, columns: dict[str, str], total_epochs: int | None = None, run_dir: str | None = None
    ):
        self.label_fn = label_fn
        self.columns = columns
        self.total = total_epochs
        self.run_dir = run_dir
        self.start = time.time()
        self._hinted = False

    def on_step_begin(self, iteration, trials, **info):
        """Once, after Tune's own header: where the results are for TensorBoard (the storage directory, not
        the driver's temporary staging folder Tune names)."""
        if not self._hinted and self.run_dir:
            self._hinted = True
            print(f"nsrl: TensorBoard reads this run with: tensorboard --logdir {self.run_dir}", flush=True)

    def _print(self, text: str) -> None:
        elapsed = time.time() - self.start
        print(f"[{elapsed:7.0f}s] {text}", file=sys.stdout, flush=True)

    def on_trial_result(self, iteration, trials, trial, result, **info):
        """Print the trial's label, `epoch i/N` and its `columns` values (fractional floats to 3 decimals)."""
        epoch = result.get("training_iteration")
        of = f"/{self.total}" if self.total else ""
        parts = [f"epoch {epoch}{of}"]
        for name, path in self.columns.items():
            value = _get(result, path)
            if isinstance(value, float) and not value.is_integer():
                parts.append(f"{name}={value:.3f}")
            elif isinstance(value, float):
                parts.append(f"{name}={int(value)}")
            elif value is not None:
                parts.append(f"{name}={value}")
        self._print(f"{self.label_fn(trial.config):<28} " + " ".join(parts))

    def on_trial_complete(self, iteration, trials, trial, **info):
        """Print `<label> done`."""
        self._print(f"{self.label_fn(trial.config):<28} done")

    def on_trial_error(self, iteration, trials, trial, **info):
        """Print `<label> FAILED: <cause>` and the trial's error.txt in the storage directory."""
        self._print(
            f"{self.label_fn(trial.config):<28} FAILED: {trial_error_cause(trial)} "
            f"(traceback: {trial.path}/error.txt)"
        )
