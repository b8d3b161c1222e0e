"""The run lock: exclusive while its owner lives, taken over after a crash, released on exit."""

import json
import os
import socket
import subprocess
import sys

import pytest

from rllib_nsrl.experiments.schema import SpecError
from rllib_nsrl.experiments.storage import LOCK_FILE, RunLock, check_run_name, name_problem


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid  # exited and reaped: no such process now


def test_lock_is_exclusive_and_released(tmp_path):
    with RunLock(tmp_path / "run") as lock:
        owner = json.loads((tmp_path / "run" / LOCK_FILE).read_text())
        assert owner["pid"] == os.getpid() and owner["host"] == socket.gethostname()
        with pytest.raises(SpecError, match=f"in use by another nsrl run \\(pid {os.getpid()}"):
            RunLock(tmp_path / "run").acquire()
        assert lock.held
    assert not (tmp_path / "run" / LOCK_FILE).exists()


@pytest.mark.parametrize("content", ["dead", "garbage", "empty"])
def test_a_lock_left_by_a_crash_is_taken_over(tmp_path, content):
    (tmp_path / "run").mkdir()
    text = {"dead": json.dumps({"pid": dead_pid(), "host": socket.gethostname(), "since": "x"}),
            "garbage": "{not json", "empty": ""}[content]  # fmt: skip
    (tmp_path / "run" / LOCK_FILE).write_text(text)
    with RunLock(tmp_path / "run"):
        assert json.loads((tmp_path / "run" / LOCK_FILE).read_text())["pid"] == os.getpid()


def test_a_lock_held_on_another_host_is_respected(tmp_path):
    (tmp_path / "run").mkdir()
    owner = {"pid": dead_pid(), "host": "elsewhere", "since": "x"}
    (tmp_path / "run" / LOCK_FILE).write_text(json.dumps(owner))
    with pytest.raises(SpecError, match="on elsewhere"):
        RunLock(tmp_path / "run").acquire()


@pytest.mark.parametrize("name", ["quickstart", "tree_v1", "a.b-c+d=e,f@g", "x" * 128, "9lives"])
def test_safe_names_pass(name):
    assert name_problem(name) is None and check_run_name(name, "--name") == name


UNSAFE = ["", ".", "..", "../a", "a/b", "/a", "a\\\\b", "-a", ".a", "a b", "a\x00", "é", "a\nb"]


@pytest.mark.parametrize("name", UNSAFE)
def test_unsafe_names_are_named(name):
    with pytest.raises(SpecError, match="^--name: "):
        check_run_name(name, "--name")
