"""One line per trial result while a Tune experiment runs (Tune's own tables are turned off)."""

from __future__ import annotations

import sys
import time

from ray.tune import Callback


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

    def __init__(self, label_fn, columns: dict[str, str], total_epochs: int | None = None):
        self.label_fn = label_fn
        self.columns = columns
        self.total = total_epochs
        self.start = time.time()

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
        """Print `<label> FAILED` with the path of the trial's error.txt."""
        self._print(f"{self.label_fn(trial.config):<28} FAILED (see {trial.local_path}/error.txt)")
