"""Running on a Ray cluster: the address check, results storage (path or URI), trial resources.

`--storage` is a local directory or a pyarrow-filesystem URI (`file:///shared/runs`, `s3://bucket/runs`,
`gs://...`): on a multi-node cluster every node writes its trials' results and checkpoints there, so it must
be shared (Ray >= 2.7 no longer syncs trial directories to the head). `check_resources` turns a trial that
can never be placed into one clear error instead of a Tune experiment that waits forever.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from rllib_nsrl.experiments.schema import SpecError


def job_cluster_address() -> str | None:
    """The cluster of the Ray job this process runs in (`ray job submit`), else None.

    Ray's job supervisor starts the entrypoint with `RAY_ADDRESS` (the cluster's GCS) and its job config
    in `RAY_JOB_CONFIG_JSON_ENV_VAR`. A job that started a local Ray of its own instead would run its
    trials outside the cluster, where the job's runtime-env package cannot be downloaded."""
    if "RAY_JOB_CONFIG_JSON_ENV_VAR" in os.environ and os.environ.get("RAY_ADDRESS"):
        return os.environ["RAY_ADDRESS"]
    return None


def check_address(address: str, timeout_s: float = 3.0) -> None:
    """Raise SpecError unless `address` (host:port, ray://host:port, or 'auto') accepts connections."""
    if address == "auto":
        return
    try:
        parsed = urlparse(address if "://" in address else f"tcp://{address}")
        port = parsed.port  # ValueError when it is no number or out of range
    except ValueError:
        parsed, port = None, None
    if parsed is None or not parsed.hostname or not port:
        raise SpecError(
            f"--address: {address!r} is not host:port with a port in 1..65535 (e.g. 127.0.0.1:6379)"
        )
    try:
        with socket.create_connection((parsed.hostname, port), timeout=timeout_s):
            pass
    except OSError as err:
        raise SpecError(
            f"--address: cannot reach a Ray cluster at {address} ({err.strerror or err})"
        ) from None


def is_uri(location: str) -> bool:
    """Whether `location` is a URI (`scheme://...`) rather than a local path."""
    return "://" in str(location)


@dataclass(frozen=True)
class Location:
    """A directory on a pyarrow filesystem; `uri` is how the user (and Tune) spell it."""

    fs: object  # pyarrow.fs.FileSystem
    path: str  # path inside `fs`
    uri: str

    @classmethod
    def parse(cls, location: str, flag: str = "--storage") -> Location:
        """A local path (made absolute) or a pyarrow-filesystem URI; SpecError naming `flag` if unopenable."""
        import pyarrow.fs

        if not is_uri(location):
            path = str(Path(location).expanduser().resolve())
            return cls(pyarrow.fs.LocalFileSystem(), path, path)
        try:
            fs, path = pyarrow.fs.FileSystem.from_uri(location)
        except Exception as err:  # pyarrow raises ArrowInvalid/ArrowNotImplementedError/OSError by scheme
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise SpecError(f"{flag}: cannot open {location!r}: {first}") from None
        return cls(fs, path.rstrip("/") or "/", location.rstrip("/"))

    @property
    def local(self) -> bool:
        """Whether the location is on the local filesystem."""
        import pyarrow.fs

        return isinstance(self.fs, pyarrow.fs.LocalFileSystem)

    def child(self, name: str) -> Location:
        """The entry `name` inside this directory."""
        return Location(self.fs, f"{self.path}/{name}", f"{self.uri}/{name}")

    def _info(self, name: str = ""):
        return self.fs.get_file_info(f"{self.path}/{name}" if name else self.path)

    def exists(self, name: str = "") -> bool:
        """Whether entry `name` (default: this directory itself) exists."""
        import pyarrow.fs

        return self._info(name).type != pyarrow.fs.FileType.NotFound

    def list(self) -> list[str]:
        """Names directly inside this directory ([] if it does not exist)."""
        import pyarrow.fs

        selector = pyarrow.fs.FileSelector(self.path, allow_not_found=True, recursive=False)
        return sorted(Path(i.path).name for i in self.fs.get_file_info(selector))

    def read_bytes(self, name: str) -> bytes:
        """Contents of file `name` in this directory."""
        with self.fs.open_input_stream(f"{self.path}/{name}") as f:
            return f.readall()

    def write_bytes(self, name: str, data: bytes) -> None:
        """Write via a temporary name and a move, so a crash never leaves a truncated file."""
        self.fs.create_dir(self.path, recursive=True)
        tmp = f"{self.path}/.{name}.tmp"
        with self.fs.open_output_stream(tmp) as f:
            f.write(data)
        self.fs.move(tmp, f"{self.path}/{name}")

    def move(self, name: str, new_name: str) -> None:
        """Rename entry `name` to `new_name` inside this directory."""
        self.fs.move(f"{self.path}/{name}", f"{self.path}/{new_name}")

    def download(self, dest: Path, skip=lambda parts: False) -> None:
        """Copy this directory's files to local `dest`, except those whose relative path parts `skip`."""
        import pyarrow.fs

        selector = pyarrow.fs.FileSelector(self.path, recursive=True)
        for info in self.fs.get_file_info(selector):
            rel = Path(info.path[len(self.path) :].lstrip("/"))
            if info.type != pyarrow.fs.FileType.File or skip(rel.parts):
                continue
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            with self.fs.open_input_stream(info.path) as f:
                (dest / rel).write_bytes(f.readall())

    def upload(self, src: Path) -> list[str]:
        """Copy local directory `src` into this directory; returns the URIs written."""
        written = []
        for file in sorted(p for p in Path(src).rglob("*") if p.is_file()):
            rel = file.relative_to(src).as_posix()
            target = self.child(rel)
            self.fs.create_dir(target.path.rsplit("/", 1)[0], recursive=True)
            with self.fs.open_output_stream(target.path) as f:
                f.write(file.read_bytes())
            written.append(target.uri)
        return written


def _fits(bundle: dict, node: dict) -> bool:
    return all(node.get(k, 0.0) >= v for k, v in bundle.items() if v)


def _describe(res: dict, keys, zeros: bool = False) -> str:
    shown = [(k, res.get(k, 0.0)) for k in sorted(keys) if zeros or k == "CPU" or res.get(k, 0.0)]
    return ", ".join(f"{k} {v:g}" for k, v in shown) or "nothing"


def _placement_problem(bundles: list[dict], strategy: str) -> str | None:
    """Why one trial's bundles cannot be placed on the live nodes now (None: they can)."""
    import ray

    nodes = [
        {k: float(v) for k, v in n["Resources"].items() if not k.startswith("node:")}
        for n in ray.nodes()
        if n.get("Alive")
    ]
    total: dict[str, float] = {}
    for bundle in bundles:
        for k, v in bundle.items():
            total[k] = total.get(k, 0.0) + float(v)
    for need in [total] if strategy.startswith("STRICT_PACK") else bundles:
        if any(_fits(need, node) for node in nodes):
            continue
        short = next((k for k, v in need.items() if v and all(node.get(k, 0.0) < v for node in nodes)), None)
        key = {"CPU": "resources.cpus_per_trial", "GPU": "resources.gpus_per_trial"}.get(short, "resources")
        biggest = max(nodes, key=lambda n: (n.get("GPU", 0.0), n.get("CPU", 0.0)), default={})
        return (
            f"{key}: a trial needs {_describe(need, need)} on one node, but no node of the Ray cluster has "
            f"that (largest: {_describe(biggest, [k for k, v in need.items() if v], zeros=True)}; "
            f"{len(nodes)} node(s)); lower it or add such a node"
        )
    cluster = {k: sum(n.get(k, 0.0) for n in nodes) for k in total}
    if not _fits(total, cluster):
        have = _describe(cluster, total)
        return f"resources: a trial needs {_describe(total, total)} in all, the Ray cluster has {have}"
    return None


def check_resources(bundles: list[dict], strategy: str = "PACK", wait_s: float = 0.0, log=print) -> None:
    """Raise SpecError unless one trial's resource bundles can be placed on the live nodes (after `ray.init`).

    On an attached cluster (`wait_s` > 0) nodes may still be joining or be started by an autoscaler: the
    bundles are requested from the autoscaler and the nodes polled for up to `wait_s` seconds.
    """
    import time

    problem = _placement_problem(bundles, strategy)
    if problem is None:
        return
    if wait_s <= 0:
        raise SpecError(problem)
    from ray.autoscaler.sdk import request_resources

    log(f"nsrl: no node can hold a trial yet; waiting up to {wait_s:.0f}s for one to join")
    request_resources(bundles=[{k: v for k, v in b.items() if v} for b in bundles])
    try:
        deadline = time.monotonic() + wait_s
        while problem is not None and time.monotonic() < deadline:
            time.sleep(2.0)
            problem = _placement_problem(bundles, strategy)
    finally:
        request_resources(num_cpus=0)  # Tune's placement groups ask for what the trials need from here on
    if problem is not None:
        raise SpecError(problem)
