"""Make an interrupted Tune experiment restorable before `Tuner.restore` (`nsrl run --resume`).

Tune stages its driver state locally and copies it to the storage with plain, non-atomic copies
(`experiment_state-<session>.json`, `basic-variant-state-<session>.json`, ...). A driver killed during
such a copy leaves a truncated file, and `Tuner.restore` then dies in `_load_newest_checkpoint` with
`EOFError: Ran out of input`. `inspect` reads every driver-state file (read only) and returns the
`Repair` that makes one consistent session restorable:

* unreadable files are moved aside (`<file>.corrupt`; nothing is deleted), and so are files of sessions
  newer than the newest readable experiment state (`<file>.stale`): Tune then reads one session;
* a lost search-algorithm state is rewritten when that experiment state already holds every trial of
  the grid (a finished `BasicVariantGenerator`, as nsrl's grid plans always are once started);
* a trial that will be resumed but whose last checkpoint is missing or corrupt is a `SpecError`
  naming the file: resuming it would crash or silently restart it from scratch.
"""

from __future__ import annotations

import io
import json
import pickle
import pickletools
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from rllib_nsrl.experiments.cluster import Location
from rllib_nsrl.experiments.schema import SpecError

EXPERIMENT_STATE = "experiment_state-"
SEARCH_STATES = ("basic-variant-state-", "search_gen_state-", "searcher-state-")
CALLBACK_STATE = "callback-states-"
BASIC_VARIANT_STATE = "basic-variant-state-{}.json"
TUNER_FILE = "tuner.pkl"


def _pickle_complete(data: bytes) -> bool:
    """Whether `data` is a whole pickle (walks the opcodes; imports and runs nothing)."""
    try:
        ops = [op.name for op, _, _ in pickletools.genops(io.BytesIO(data))]
    except Exception:  # truncated: "pickle exhausted before seeing STOP" and friends
        return False
    return bool(ops) and ops[-1] == "STOP"


def _experiment_state(data: bytes) -> dict | None:
    try:
        state = json.loads(data)
    except ValueError:
        return None
    return state if isinstance(state, dict) and "trial_data" in state else None


def _file_problem(name: str, data: bytes) -> str | None:
    """Why a checkpoint file is unusable (None: looks whole). Formats by suffix; others by size."""
    if not data:
        return "is empty"
    suffix = PurePosixPath(name).suffix
    try:
        if suffix == ".json":
            json.loads(data)
        elif suffix in (".pkl", ".pickle") and not _pickle_complete(data):
            return "is a truncated pickle"
        elif suffix in (".pt", ".pth") and zipfile.is_zipfile(io.BytesIO(data)):
            bad = zipfile.ZipFile(io.BytesIO(data)).testzip()
            if bad is not None:
                return f"has a corrupt member {bad!r}"
        elif suffix in (".pt", ".pth") and data[:2] == b"PK":
            return "is a truncated torch archive"
    except (ValueError, zipfile.BadZipFile, OSError) as err:
        return f"is corrupt ({str(err).splitlines()[0] if str(err) else type(err).__name__})"
    return None


def check_checkpoint(loc: Location) -> None:
    """Raise SpecError naming the first missing, empty or corrupt file of checkpoint directory `loc`."""
    import pyarrow.fs

    if not loc.exists():
        raise SpecError(f"--resume: checkpoint {loc.uri} is missing")
    infos = loc.fs.get_file_info(pyarrow.fs.FileSelector(loc.path, recursive=True))
    files = [i for i in infos if i.type == pyarrow.fs.FileType.File]
    if not files:
        raise SpecError(f"--resume: checkpoint {loc.uri} is empty")
    for info in sorted(files, key=lambda i: i.path):
        rel = info.path[len(loc.path) :].lstrip("/")
        with loc.fs.open_input_stream(info.path) as f:
            problem = _file_problem(rel, f.readall())
        if problem:
            raise SpecError(
                f"--resume: checkpoint file {loc.uri}/{rel} {problem}; "
                "restore it from a copy, or start the experiment again under a new --name"
            )


@dataclass
class Repair:
    """What `apply` will do to the experiment directory, and what `inspect` found there."""

    exp: Location
    session: str  # the driver session Tune will restore
    moves: list[tuple[str, str]] = field(default_factory=list)  # (file, new name)
    searcher_lost: bool = False
    searcher_state: tuple[str, bytes] | None = None  # (file, content) to write
    trials: int = 0

    def require_trials(self, n_variants: int) -> None:
        """With the search state lost, resume only if all `n_variants` trials of the grid exist."""
        if not self.searcher_lost:
            return
        if self.trials < n_variants:
            raise SpecError(
                f"--resume: the search state of {self.exp.uri} is lost and only {self.trials} of "
                f"{n_variants} trials had been created; start the experiment again under a new --name"
            )
        done = {"_finished": True, "_iterators": [], "_live_trials": set(), "_total_samples": n_variants}
        self.searcher_state = (BASIC_VARIANT_STATE.format(self.session), pickle.dumps(done))

    def apply(self, log=print) -> None:
        """Move the listed files aside and write the rebuilt search state, `log`ging each change.

        Raises RuntimeError if the search state is lost and `require_trials` has not run.
        """
        if self.searcher_lost and self.searcher_state is None:
            raise RuntimeError("Repair.require_trials must run before apply")
        for old, new in self.moves:
            self.exp.move(old, new)
            log(f"nsrl: resume: moved {old} aside as {new}")
        if self.searcher_state is not None:
            name, data = self.searcher_state
            self.exp.write_bytes(name, data)
            log(f"nsrl: resume: rebuilt the lost search state {name} (all {self.trials} trials exist)")


def _session(name: str, prefix: str) -> str:
    return name[len(prefix) :].rsplit(".", 1)[0]


def inspect(exp: Location) -> Repair:
    """Read the driver state of experiment `exp`; raise SpecError if it cannot be resumed safely,
    else return the (possibly empty) Repair. Changes nothing."""
    names = [n for n in exp.list() if not n.startswith(".")]
    if TUNER_FILE not in names or not _pickle_complete(exp.read_bytes(TUNER_FILE)):
        raise SpecError(
            f"--resume: {exp.uri}/{TUNER_FILE} is missing or truncated; the experiment "
            "cannot be restored (start it again under a new --name)"
        )
    states, moves = {}, []
    for name in names:
        if name.startswith(EXPERIMENT_STATE) and name.endswith(".json"):
            state = _experiment_state(exp.read_bytes(name))
            if state is None:
                moves.append((name, name + ".corrupt"))
            else:
                states[_session(name, EXPERIMENT_STATE)] = state
    if not states:
        raise SpecError(
            f"--resume: {exp.uri} holds no readable Tune experiment state (experiment_state-*.json "
            "missing or truncated; the driver node may still hold a whole copy under "
            f"/tmp/ray/session_*/artifacts/*/{PurePosixPath(exp.path).name}/driver_artifacts)"
        )
    session = max(states)
    repair = Repair(exp, session, moves, trials=len(states[session]["trial_data"]))
    searcher_found = False
    for name in names:
        prefix = next((p for p in (*SEARCH_STATES, CALLBACK_STATE) if name.startswith(p)), None)
        if prefix is None or not name.endswith((".json", ".pkl")):
            continue
        if _session(name, prefix) > session:
            repair.moves.append((name, name + ".stale"))  # belongs to a session whose state is lost
        elif not _pickle_complete(exp.read_bytes(name)):
            repair.moves.append((name, name + ".corrupt"))
        elif prefix in SEARCH_STATES and _session(name, prefix) == session:
            searcher_found = True
    repair.searcher_lost = not searcher_found
    _check_trial_checkpoints(exp, states[session]["trial_data"])
    return repair


def _check_trial_checkpoints(exp: Location, trial_data: list) -> None:
    from ray.tune.experiment.trial import _TrainingRunMetadata

    for trial_json, meta_json in trial_data:
        trial = json.loads(trial_json)
        if trial.get("status") == "TERMINATED":
            continue  # Tune does not restore finished trials
        latest = _TrainingRunMetadata.from_json_state(meta_json).checkpoint_manager.latest_checkpoint_result
        if latest is not None:
            name = PurePosixPath(latest.checkpoint.path).name
            check_checkpoint(exp.child(trial["relative_logdir"]).child(name))
