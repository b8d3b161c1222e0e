"""Storage safety for `nsrl run`: a run name is one safe folder name, the storage is a writable directory,
and one run directory has one `nsrl run` at a time (a lock file, taken over when its owner is gone).

All checks happen before Ray starts and create nothing; the lock is the first file written.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from pathlib import Path

from rllib_nsrl.experiments.schema import SpecError

NAME_MAX = 128
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.,+=@-]*")
NAME_RULE = f"letters, digits and _ . , + = @ - (not starting with . or -), at most {NAME_MAX} characters"
LOCK_FILE = ".nsrl.lock"


def name_problem(name: object) -> str | None:
    """Why `name` is not a safe single folder name for a run, or None."""
    if not isinstance(name, str) or not name:
        return "must be a non-empty folder name"
    if len(name) > NAME_MAX:
        return f"is {len(name)} characters long; at most {NAME_MAX}"
    if not _NAME.fullmatch(name):
        return f"{name!r} must be a single folder name: {NAME_RULE}"
    return None


def check_run_name(name: str, flag: str) -> str:
    """`name` if it is a safe run name, else a `SpecError` naming `flag` (`--name` or the spec's `name`)."""
    problem = name_problem(name)
    if problem:
        raise SpecError(f"{flag}: {problem}")
    return name


def check_local_storage(path: str | os.PathLike, flag: str = "--storage") -> None:
    """A local storage path must be a directory that exists and is writable, or one that can be created:
    its first existing ancestor is a writable directory. Creates nothing."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise SpecError(f"{flag}: {p} is a file, not a directory")
    probe = p
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise SpecError(f"{flag}: cannot create {p}: {probe} is a file")
    if not os.access(probe, os.W_OK | os.X_OK):
        what = "is not writable" if probe == p else f"cannot be created ({probe} is not writable)"
        raise SpecError(f"{flag}: {p} {what}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """`<run dir>/.nsrl.lock` held while an `nsrl run` uses the run directory (local storage only).

    Taken with an exclusive create; a lock whose process is gone (same host) is taken over, so a crashed
    run never blocks its `--resume`. Another live owner is a one-line `SpecError`."""

    def __init__(self, run_dir: str | os.PathLike):
        self.path = Path(run_dir) / LOCK_FILE
        self.held = False
        self._created: list[Path] = []  # folders the lock had to create, deepest first

    def check(self) -> None:
        """Raise `SpecError` if a live process holds the lock (read-only: call before other checks)."""
        owner = self._owner() if self.path.is_file() else None
        elsewhere = owner is not None and owner.get("host") != socket.gethostname()
        if owner is not None and (elsewhere or _alive(int(owner.get("pid", -1)))):
            raise SpecError(
                f"{self.path.parent}: in use by another nsrl run (pid {owner.get('pid')} on "
                f"{owner.get('host')} since {owner.get('since')}); wait for it, or use --name"
            )

    def acquire(self) -> RunLock:
        """Take the lock or raise `SpecError` naming its owner."""
        folder = self.path.parent
        while not folder.exists():
            self._created.append(folder)
            folder = folder.parent
        self.path.parent.mkdir(parents=True, exist_ok=True)
        me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self.check()
                self.path.unlink(missing_ok=True)  # its owner is gone: a crashed run
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            self.held = True
            return self
        raise SpecError(f"{self.path}: could not take the run lock")

    def _owner(self) -> dict | None:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None  # half-written or unreadable: treat as stale

    def release(self) -> None:
        """Remove the lock if this process holds it, and the folders it created if they are still empty
        (a run that stopped before writing anything leaves no trace)."""
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False
            for folder in self._created:
                try:
                    folder.rmdir()
                except OSError:
                    break  # not empty: the run wrote there

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
