"""A multi-node Ray cluster on one machine, on 127.0.0.1 only: rehearse docs/cluster.md, inject node loss.

    RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 python -m rllib_nsrl.experiments.loopback_cluster --workers 1

prints one JSON line (`gcs`, `dashboard`, `head`, `workers`), then takes `remove`, `add` or `exit` on
stdin and answers each with one JSON line. `LoopbackCluster` drives it from Python (the tests do).

A second `ray start` is refused on Linux with loopback-only Ray, so the nodes come from
`ray.cluster_utils.Cluster`: a head (dashboard and job server on 127.0.0.1) and worker raylets, each a
separate set of processes. Token authentication stays as Ray configures it (on by default). The
machine's Ray address file is left as it was, so `ray.init()` elsewhere never attaches to this cluster
by accident; address it explicitly with the printed `gcs`.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile


class LoopbackCluster:
    """The cluster above, served by a child process. Attributes: `gcs` ("127.0.0.1:PORT", for
    `nsrl run --address`), `dashboard` (the job server's URL, for `ray job submit --address`), `head` and
    `workers` (node ids)."""

    def __init__(self, workers: int = 1, cpus: float = 1, head_cpus: float | None = None, env=None):
        args = ["--workers", str(workers), "--cpus", str(cpus)]
        if head_cpus is not None:
            args += ["--head-cpus", str(head_cpus)]
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "rllib_nsrl.experiments.loopback_cluster", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        ready = self._answer()
        self.gcs, self.dashboard = ready["gcs"], ready["dashboard"]
        self.head, self.workers = ready["head"], list(ready["workers"])

    def _answer(self) -> dict:
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"loopback cluster exited with code {self._proc.wait()}")
        return json.loads(line)

    def _command(self, command: str) -> dict:
        self._proc.stdin.write(command + "\n")
        self._proc.stdin.flush()
        return self._answer()

    def remove_worker(self) -> str:
        """Kill the newest worker node's processes at once (no graceful drain); returns its id."""
        node = self._command("remove")["removed"]
        self.workers.remove(node)
        return node

    def add_worker(self) -> str:
        """Add one worker node; returns its id."""
        node = self._command("add")["added"]
        self.workers.append(node)
        return node

    def stop(self, timeout_s: float = 60) -> None:
        """Shut the cluster down; kill the child process if that fails or takes over `timeout_s`."""
        if self._proc.poll() is None:
            try:
                self._command("exit")
                self._proc.wait(timeout=timeout_s)
            except (OSError, ValueError, RuntimeError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()

    def __enter__(self) -> LoopbackCluster:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _say(**msg) -> None:
    print(json.dumps(msg), flush=True)


class _AddressFileKept:
    """Keep this machine's Ray address file (`/tmp/ray/ray_current_cluster`) as it was.

    `ray.cluster_utils.Cluster` writes its head's address there when it starts and deletes the file when
    it shuts down, whoever wrote it: beside another local cluster, a later `ray.init()` or
    `--address auto` would attach to the rehearsal cluster, and after it stopped, to none. `restore()` puts
    back what was there before (or nothing)."""

    def __init__(self):
        from ray._common.utils import get_ray_address_file

        self.path = get_ray_address_file(None)
        try:
            with open(self.path) as f:
                self.before: str | None = f.read()
        except OSError:
            self.before = None

    def restore(self) -> None:
        """Write back the address that was there, or remove the file if there was none."""
        try:
            if self.before is None:
                os.remove(self.path)
            else:
                with open(self.path, "w") as f:
                    f.write(self.before)
        except OSError:
            pass


def serve(argv=None) -> int:
    """Child process of `LoopbackCluster`: start the nodes, print them as JSON, then obey stdin; returns 0."""
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # before Ray is imported
    p = argparse.ArgumentParser(description="loopback multi-node Ray cluster; stdin: remove | add | exit")
    p.add_argument("--workers", type=int, default=1, help="worker nodes besides the head")
    p.add_argument("--cpus", type=float, default=1, help="CPUs of each node")
    p.add_argument("--head-cpus", type=float, help="CPUs of the head (default: --cpus)")
    args = p.parse_args(argv)
    from ray.cluster_utils import Cluster

    # Its own temp dir: its sessions, sockets and its address file stay apart from any other Ray on
    # this machine (Ray's job supervisor resolves a job's RAY_ADDRESS from the address file there).
    temp_dir = tempfile.mkdtemp(prefix="nsrl-ray-", dir="/tmp")
    dashboard_port = _free_port()
    head = {
        "temp_dir": temp_dir,
        "num_cpus": args.cpus if args.head_cpus is None else args.head_cpus,
        "node_ip_address": "127.0.0.1",
        "include_dashboard": True,
        "dashboard_host": "127.0.0.1",
        "dashboard_port": dashboard_port,
        "dashboard_agent_listen_port": _free_port(),
    }
    address_file = _AddressFileKept()
    try:
        cluster = Cluster(initialize_head=True, head_node_args=head)
    finally:
        address_file.restore()
    from ray._common.utils import get_ray_address_file

    with open(get_ray_address_file(temp_dir), "w") as f:
        f.write(cluster.head_node.gcs_address)
    added = 0

    def add_worker():
        # One runtime-env directory per node, as on separate machines: a node setting up a job's
        # working_dir replaces that directory, which would pull the cwd from under the job's driver.
        nonlocal added
        added += 1
        return cluster.add_node(
            temp_dir=temp_dir,
            num_cpus=args.cpus,
            node_ip_address="127.0.0.1",
            runtime_env_dir_name=f"runtime_resources_w{added}",
        )

    try:
        workers = [add_worker() for _ in range(args.workers)]
        cluster.wait_for_nodes()
        _say(
            gcs=cluster.address,
            dashboard=f"http://127.0.0.1:{dashboard_port}",
            head=cluster.head_node.node_id,
            workers=[w.node_id for w in workers],
        )
        for line in sys.stdin:
            command = line.strip()
            if command == "remove" and workers:
                node = workers.pop()
                cluster.remove_node(node, allow_graceful=False)
                _say(removed=node.node_id)
            elif command == "add":
                workers.append(add_worker())
                _say(added=workers[-1].node_id)
            elif command == "exit":
                break
            else:
                _say(error=f"unknown command {command!r}")
    finally:
        cluster.shutdown()
        address_file.restore()  # shutdown() deletes the machine's address file, whoever wrote it
    _say(stopped=True)
    return 0


if __name__ == "__main__":
    sys.exit(serve())
