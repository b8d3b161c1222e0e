"""Fault injection on real Ray: a trial's process, the driver and a worker node are killed mid-run.

Each fault is injected from outside at a point the test first observes (a checkpoint on disk, a trial
running on the node to remove), never after a fixed delay; every run uses generous timeouts only.
"""

import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from rllib_nsrl.analysis.results import load_trials
from rllib_nsrl.cli import main
from rllib_nsrl.experiments.csv_log import logged_iterations
from rllib_nsrl.experiments.loopback_cluster import LoopbackCluster

EPOCHS = 12  # 4 graph tasks x 3 epochs; a checkpoint at every task boundary (epochs 3, 6, 9, 12)
SPEC = {
    "name": "faults",
    "kind": "ilp_lifelong",
    "domain": "graph",
    "modes": ["lifelong"],
    "seeds": [0],
    "model": {"kb_depth": 1},
    "training": {"epochs_per_task": 3, "batches_per_epoch": 8, "batch_size": 2},
    "evaluation": {"test_size": 2, "test_size_2x": 1, "eval_batch_size": 2, "n_objects": 6},
    "resources": {"cpus_per_trial": 1},
    "failure": {"max_failures": 2},
}


def write_spec(tmp_path, **over) -> str:
    path = tmp_path / "faults.yaml"
    path.write_text(yaml.safe_dump({**SPEC, **over}))
    return str(path)


def rows_of(text: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            pass  # a line being written
    return out


def rows(trial_dir: Path) -> list[dict]:
    """Every complete line of a trial's result.json, in order (re-reported epochs included)."""
    file = trial_dir / "result.json"
    return rows_of(file.read_text()) if file.exists() else []


def checkpointed(trial_rows: list[dict]) -> bool:
    """Whether the driver has registered a checkpoint of this trial (it reports the result with it)."""
    return any(r.get("checkpoint_dir_name") for r in trial_rows)


def wait_for(condition, what: str, timeout_s: float = 300, poll_s: float = 0.05, proc=None):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the run ended (rc {proc.returncode}) before {what}")
        time.sleep(poll_s)
    raise AssertionError(f"timed out waiting for {what}")


def quiet(trial_dir: Path, seconds: float):
    """A `wait_for` condition: true once the trial's result.json has not changed for `seconds`."""
    state = {"text": None, "since": time.monotonic()}

    def check() -> bool:
        file = trial_dir / "result.json"
        text = file.read_text() if file.exists() else ""
        if text != state["text"]:
            state["text"], state["since"] = text, time.monotonic()
        return time.monotonic() - state["since"] >= seconds

    return check


def first_restart(trial_rows: list[dict]) -> dict | None:
    """The first row reported by a different process than the one before it (a restarted trial)."""
    for before, row in zip(trial_rows, trial_rows[1:], strict=False):
        if row["pid"] != before["pid"]:
            return row
    return None


def assert_every_epoch_once(run_dir: Path, n_trials: int) -> None:
    """Every epoch exactly once, in order, in each trial's raw result.json and progress.csv (not only after
    the analysis' de-duplication)."""
    trials = load_trials(run_dir)
    assert len(trials) == n_trials
    for _, frame in trials:
        assert frame["training_iteration"].tolist() == list(range(1, EPOCHS + 1))
        assert frame["epoch"].tolist() == list(range(1, EPOCHS + 1))
    for result in run_dir.glob("*/result.json"):
        assert [r["training_iteration"] for r in rows(result.parent)] == list(range(1, EPOCHS + 1))
        assert logged_iterations(result.parent / "progress.csv", "csv") == list(range(1, EPOCHS + 1))


@pytest.mark.ray
def test_killed_trial_process_restarts_from_its_checkpoint(ray_session, tmp_path):
    spec = write_spec(tmp_path)
    run_dir = tmp_path / "runs" / "faults"
    killed = {}

    def kill_after_first_checkpoint():
        def running_with_checkpoint():
            reported = [r for d in run_dir.glob("lifelong_seed0_*") for r in rows(d)]
            if checkpointed(reported) and reported[-1]["training_iteration"] < EPOCHS - 1:
                return reported
            return None

        reported = wait_for(running_with_checkpoint, "a checkpoint of the running trial", timeout_s=240)
        killed.update(pid=reported[-1]["pid"], at=reported[-1]["training_iteration"])
        os.kill(killed["pid"], signal.SIGKILL)

    killer = threading.Thread(target=kill_after_first_checkpoint, daemon=True)
    killer.start()
    code = main(["run", spec, "--storage", str(tmp_path / "runs"), "--no-analyze"])
    killer.join(timeout=10)
    assert killed, "the trial finished before it could be killed"
    assert code == 0

    (trial_dir,) = run_dir.glob("lifelong_seed0_*")
    restart = first_restart(rows(trial_dir))
    assert restart is not None and restart["pid"] != killed["pid"]
    # resumed at the epoch after a task-boundary checkpoint, not from scratch
    assert restart["training_iteration"] > 1 and (restart["training_iteration"] - 1) % 3 == 0
    assert restart["training_iteration"] <= killed["at"] + 1
    assert_every_epoch_once(run_dir, 1)


@pytest.fixture(scope="module")
def loopback():
    """A head with 1 CPU (worker nodes are added by the tests that need them)."""
    env = dict(os.environ, RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0")
    with LoopbackCluster(workers=0, cpus=1, env=env) as cluster:
        yield cluster


def nsrl(log: Path, *args) -> subprocess.Popen:
    """`nsrl ARGS` in its own session, its output to the file `log` (a pipe could fill and block it)."""
    with open(log, "w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "rllib_nsrl.cli", *args],
            stdout=out, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )  # fmt: skip


def finish(proc: subprocess.Popen, log: Path, timeout_s: float = 400) -> tuple[int, str]:
    try:
        proc.wait(timeout=timeout_s)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode, log.read_text()


def latest_checkpoint_iterations(run_dir: Path) -> dict[str, int]:
    """trial dir name -> training_iteration of its last checkpoint in the newest experiment state."""
    from ray.tune.experiment.trial import _TrainingRunMetadata

    state = json.loads(max(run_dir.glob("experiment_state-*.json")).read_text())
    out = {}
    for trial_json, meta in state["trial_data"]:
        latest = _TrainingRunMetadata.from_json_state(meta).checkpoint_manager.latest_checkpoint_result
        if latest is not None:
            out[json.loads(trial_json)["relative_logdir"]] = latest.metrics["training_iteration"]
    return out


@pytest.mark.slow
def test_killed_driver_resumes_without_rerunning_or_losing_work(loopback, tmp_path):
    assert loopback.workers == []  # 1 CPU in all: the trials run one after another
    spec = write_spec(tmp_path, modes=["individual", "lifelong"])
    storage = f"file://{tmp_path}/runs"  # resume through a URI, as on shared storage
    run_dir = tmp_path / "runs" / "faults"
    args = ["run", spec, "--storage", storage, "--address", loopback.gcs, "--no-analyze"]
    driver = nsrl(tmp_path / "first.log", *args)

    def one_done_one_checkpointed():
        done = [d for d in run_dir.glob("*_seed0_*") if any(r.get("done") for r in rows(d))]
        mid = [d for d in run_dir.glob("*_seed0_*") if d not in done and checkpointed(rows(d))]
        return done and mid

    wait_for(one_done_one_checkpointed, "a finished and a checkpointed trial", proc=driver)
    os.kill(driver.pid, signal.SIGKILL)
    finish(driver, tmp_path / "first.log")
    # What a SIGKILL during Tune's (non-atomic) state upload leaves: an empty search-state file.
    (searcher_state,) = run_dir.glob("basic-variant-state-*.json")
    searcher_state.write_bytes(b"")
    before = {d.name: (d / "result.json").read_text() if (d / "result.json").exists() else ""
              for d in run_dir.glob("*_seed0_*")}  # fmt: skip
    finished = {name for name, text in before.items() if '"done": true' in text}
    checkpoint_at = latest_checkpoint_iterations(run_dir)

    log = tmp_path / "resume.log"
    code, out = finish(nsrl(log, *args[:-1], "--resume"), log)
    assert code == 0, out[-4000:]
    assert "rebuilt the lost search state" in out and f"{searcher_state.name}.corrupt" in out
    for name in finished:  # finished trials are not rerun
        assert (run_dir / name / "result.json").read_text() == before[name]
    for name, text in before.items():
        if name in finished:
            continue
        # nothing the checkpoint holds is lost or rewritten; epochs logged after it are logged again by
        # the resumed trial, which continues after its last checkpoint, so progress never goes backwards
        at = checkpoint_at.get(name, 0)
        kept = [r for r in rows_of(text) if r["training_iteration"] <= at]
        now = rows(run_dir / name)
        assert now[: len(kept)] == kept and now[len(kept)]["training_iteration"] == at + 1
    assert_every_epoch_once(run_dir, 2)


@pytest.mark.slow
def test_lost_worker_node_trials_are_rescheduled_and_complete(loopback, tmp_path):
    from ray.util.state import list_actors

    worker = loopback.add_worker()
    try:
        # Slower epochs than the other tests (≈ 1 s each): the state API takes a while to name a trial's
        # node, and under load a fast trial could finish before it is seen on the worker.
        spec = write_spec(
            tmp_path, modes=["individual", "lifelong"], training={**SPEC["training"], "batches_per_epoch": 80}
        )
        run_dir = tmp_path / "runs" / "faults"
        log = tmp_path / "run.log"
        args = ["run", spec, "--storage", str(tmp_path / "runs"), "--address", loopback.gcs, "--no-analyze"]
        driver = nsrl(log, *args)

        def trial_reporting_on_worker():
            alive = list_actors(address=loopback.dashboard, detail=True, raise_on_missing_output=False,
                                filters=[("state", "=", "ALIVE"), ("node_id", "=", worker)])  # fmt: skip
            pids = {a.pid for a in alive}
            for d in run_dir.glob("*_seed0_*"):
                reported = rows(d)
                if reported and reported[-1]["pid"] in pids and checkpointed(reported):
                    if reported[-1]["training_iteration"] <= EPOCHS - 4:  # a task or more still to go
                        return d.name, reported[-1]["pid"]
            return None

        victim, victim_pid = wait_for(trial_reporting_on_worker, "a checkpointed trial on the worker",
                                      proc=driver, poll_s=0.2)  # fmt: skip
        # Freeze the victim so it cannot finish before its node goes, however slow the removal is; then
        # let the driver log every result the victim sent before it froze (none may be in flight when the
        # node dies): its result.json must stay the same for 3 s while the victim cannot write.
        os.kill(victim_pid, signal.SIGSTOP)
        wait_for(quiet(run_dir / victim, 3.0), "the victim's results to be logged", proc=driver, poll_s=0.2)
        assert not any(r.get("done") for r in rows(run_dir / victim))
        assert loopback.remove_worker() == worker
        try:
            os.kill(victim_pid, signal.SIGKILL)  # the node's other processes are gone; so is it now
        except ProcessLookupError:
            pass
        loopback.add_worker()  # a replacement node joins, as an autoscaler would start one
        code, out = finish(driver, log)
        assert code == 0, out[-4000:]
    finally:
        while loopback.workers:
            loopback.remove_worker()

    restart = first_restart(rows(run_dir / victim))
    assert restart is not None and restart["pid"] != victim_pid
    assert restart["training_iteration"] > 1  # rescheduled from its checkpoint, elsewhere
    assert_every_epoch_once(run_dir, 2)


@pytest.mark.slow
def test_ctrl_c_stops_with_a_resume_hint_and_resume_finishes(loopback, tmp_path):
    spec = write_spec(tmp_path)
    run_dir = tmp_path / "runs" / "faults"
    args = ["run", spec, "--storage", str(tmp_path / "runs"), "--address", loopback.gcs]
    driver = nsrl(tmp_path / "first.log", *args)

    def a_checkpoint():
        return any(checkpointed(rows(d)) for d in run_dir.glob("*_seed0_*"))

    wait_for(a_checkpoint, "a checkpoint", proc=driver)
    os.kill(driver.pid, signal.SIGINT)
    code, out = finish(driver, tmp_path / "first.log")
    assert code == 130, out[-4000:]
    hint = f"continue with: nsrl run {spec} --resume --storage {tmp_path / 'runs'} --address {loopback.gcs}"
    assert "0/1 trials finished" in out and hint in out
    assert (run_dir / "analysis").is_dir()  # the partial results are analysed all the same

    code, out = finish(nsrl(tmp_path / "resume.log", *args, "--resume"), tmp_path / "resume.log")
    assert code == 0, out[-4000:]
    assert "1/1 trials finished" in out
    assert_every_epoch_once(run_dir, 1)


@pytest.mark.slow
def test_resume_creates_the_trials_that_had_not_started(loopback, tmp_path):
    """One trial at a time (max_concurrent_trials 1): after Ctrl-C during the first RLlib trial, the
    second exists only in Tune's searcher state, and the resumed run must create it from there."""
    spec_path = tmp_path / "sym.yaml"
    spec_path.write_text(yaml.safe_dump({
        "name": "sym", "kind": "symdqn", "conditions": ["DuelDQN"], "seeds": [0, 1],
        "env": {"config": {"max_steps": 20}}, "stop": {"epochs": 3}, "checkpoint": {"every_epochs": 1},
        "epoch": {"train_episodes": 3, "eval_episodes": 1},
        "resources": {"cpus_per_trial": 1, "max_concurrent_trials": 1},
    }))  # fmt: skip
    run_dir = tmp_path / "runs" / "sym"
    args = ["run", str(spec_path), "--storage", str(tmp_path / "runs"), "--address", loopback.gcs]
    driver = nsrl(tmp_path / "first.log", *args, "--no-analyze")

    def first_trial_checkpointed():
        trials = list(run_dir.glob("DuelDQN_seed*"))
        # an Algorithm's checkpoints show as directories (its results carry no checkpoint_dir_name)
        return (len(trials) == 1 and list(trials[0].glob("checkpoint_*"))
                and rows(trials[0]) and not rows(trials[0])[-1].get("done"))  # fmt: skip

    wait_for(first_trial_checkpointed, "a checkpoint of the first trial", proc=driver)
    os.kill(driver.pid, signal.SIGINT)
    code, out = finish(driver, tmp_path / "first.log")
    assert code == 130, out[-4000:]
    assert len(list(run_dir.glob("DuelDQN_seed*"))) == 1  # the second trial was never created

    code, out = finish(nsrl(tmp_path / "resume.log", *args, "--resume"), tmp_path / "resume.log")
    assert code == 0, out[-4000:]
    assert "2/2 trials finished" in out
    trials = load_trials(run_dir)
    assert sorted(c["seed"] for c, _ in trials) == [0, 1]
    for _, frame in trials:
        assert frame["training_iteration"].tolist() == [1, 2, 3]
    for trial_dir in run_dir.glob("DuelDQN_seed*"):
        assert_progress_csv_matches_result_json(trial_dir)


def assert_progress_csv_matches_result_json(trial_dir: Path) -> None:
    """Every progress.csv row has the header's width and the values of the result.json row it logs."""
    with (trial_dir / "progress.csv").open(newline="") as f:
        header, *table = list(csv.reader(f))
    reported = {(r["training_iteration"], r["time_total_s"]): r for r in rows(trial_dir)}
    assert len(table) == len(reported) > 0
    for line in table:
        assert len(line) == len(header), f"{trial_dir.name}: a row of {len(line)} fields under {len(header)}"
        row = dict(zip(header, line, strict=True))
        logged = reported[(int(row["training_iteration"]), float(row["time_total_s"]))]
        assert float(row["evaluation/env_runners/score"]) == logged["evaluation"]["env_runners"]["score"]
