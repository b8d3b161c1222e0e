"""`ray job submit` to a real multi-node Ray cluster on loopback (a head and a worker, separate raylets).

Everything binds 127.0.0.1 and Ray's token authentication stays on (`~/.ray/auth_token`). The results
land in a shared `file://` storage URI, as on a cluster with a shared filesystem.
"""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml
from ray.job_submission import JobStatus, JobSubmissionClient

from rllib_nsrl.analysis.results import load_trials
from rllib_nsrl.experiments.loopback_cluster import LoopbackCluster
from rllib_nsrl.systems.symdqn.conditions import condition_of

ILP_EPOCHS = 8  # ilp_lifelong_graph --smoke: 4 tasks x 2 epochs


def cluster_env() -> dict:
    """The cluster's processes (and the job's entrypoint shell) find `nsrl` and `ray` of this Python."""
    env = dict(os.environ, RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0")
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return env


def trial_nodes(dashboard: str) -> dict[int, str]:
    """pid -> node id of every actor the cluster ran (dead ones included): Tune trials are actors."""
    from ray.util.state import list_actors

    actors = list_actors(address=dashboard, detail=True, limit=1000, raise_on_missing_output=False)
    return {a.pid: a.node_id for a in actors if a.node_id and a.pid}


@pytest.fixture(scope="module")
def cluster():
    """A head and one worker node with 1 CPU each: two one-CPU trials at a time, one per node."""
    with LoopbackCluster(workers=1, cpus=1, env=cluster_env()) as running:
        yield running


def documented_submit_prefix(repo_path) -> list[str]:
    """The README's `ray job submit` command up to `--`: the one every test job is submitted with."""
    text = (Path(repo_path) / "README.md").read_text()
    line = next(line for line in text.splitlines() if "ray job submit --address" in line)
    return line.split(" -- ")[0].split()


def test_the_documented_submit_command_sends_the_token(repo_path):
    prefix = documented_submit_prefix(repo_path)
    assert prefix[:4] == ["RAY_AUTH_MODE=token", "ray", "job", "submit"]
    docs = (Path(repo_path) / "docs" / "cluster.md").read_text()
    assert all(
        line.startswith("RAY_AUTH_MODE=token ") for line in docs.splitlines() if "ray job submit ..." in line
    )


def submit(cluster, repo_path, *nsrl_args, address_auto: bool = True) -> None:
    """`ray job submit` of `nsrl run NSRL_ARGS [--address auto]` with this repository as working dir;
    without `--address auto`, `nsrl run` attaches to the job's cluster all the same."""
    job_id = f"nsrl-test-{uuid.uuid4().hex[:8]}"
    env_var, *command = documented_submit_prefix(repo_path)  # RAY_AUTH_MODE=token ray job submit ...
    command[command.index("--address") + 1] = cluster.dashboard
    done = subprocess.run(
        [*command, "--submission-id", job_id, "--", "nsrl", "run", *nsrl_args,
         *(["--address", "auto"] if address_auto else [])],
        cwd=repo_path, env=dict(cluster_env(), **dict([env_var.split("=", 1)])), capture_output=True,
        text=True, timeout=480,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]
    assert JobSubmissionClient(cluster.dashboard).get_job_status(job_id) == JobStatus.SUCCEEDED


def nodes_used(cluster, trials) -> set[str]:
    nodes = trial_nodes(cluster.dashboard)
    used = {nodes[pid] for _, frame in trials for pid in frame["pid"]}
    assert used <= {cluster.head, *cluster.workers}
    return used


@pytest.mark.slow
def test_ray_job_submit_spreads_ilp_trials_over_nodes(cluster, repo_path, tmp_path):
    assert Path.home().joinpath(".ray", "auth_token").is_file()  # token auth on: the CLI sends it
    submit(cluster, repo_path, "tune_configs/ilp_lifelong_graph.yaml", "--smoke",
           "--storage", f"file://{tmp_path}/shared")  # fmt: skip

    run_dir = tmp_path / "shared" / "ilp_lifelong_graph_smoke"
    trials = load_trials(run_dir)
    assert sorted(c["mode"] for c, _ in trials) == ["individual", "lifelong", "lifelong_replay"]
    for _, frame in trials:
        assert frame["training_iteration"].tolist() == list(range(1, ILP_EPOCHS + 1))
        assert frame["node_ip"].eq("127.0.0.1").all()
    assert len(nodes_used(cluster, trials)) == 2  # trials ran on the head and on the worker
    assert json.loads((run_dir / "nsrl_spec.json").read_text())["smoke_run"] is True
    assert (run_dir / "analysis" / "ilp_report.md").is_file()  # analysed through the URI


@pytest.mark.slow
def test_ray_job_submit_spreads_rllib_trials_over_nodes(cluster, repo_path, tmp_path):
    """SymDQN trials are RLlib Algorithms: their resources come from `num_cpus_for_main_process`. Submitted
    without `--address auto`: inside a job, `nsrl run` attaches to the job's cluster by default."""
    submit(
        cluster,
        repo_path,
        "tune_configs/quickstart.yaml",
        "--smoke",
        "--storage",
        str(tmp_path / "shared"),
        address_auto=False,
    )

    trials = load_trials(tmp_path / "shared" / "quickstart_smoke")
    assert sorted(condition_of(c) for c, _ in trials) == ["DuelDQN", "SymDQN(AF)"]
    for _, frame in trials:
        assert frame["training_iteration"].tolist() == [1, 2]
    assert len(nodes_used(cluster, trials)) == 2


# ---------------------------------------------------------------- the cluster/ configs stay valid


def test_cluster_launcher_config_passes_rays_schema(repo_path):
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = prepare_config(yaml.safe_load((Path(repo_path) / "cluster" / "ray-cluster.yaml").read_text()))
    validate_config(config)
    assert config["file_mounts"]["~/.ray/auth_token"] == "~/.ray/auth_token"  # one token on every node
    for commands in ("head_start_ray_commands", "worker_start_ray_commands"):
        assert "RAY_AUTH_MODE=token" in " ".join(config[commands])
    assert "--dashboard-host=127.0.0.1" in " ".join(config["head_start_ray_commands"])


def test_runtime_env_file_is_a_ray_runtime_env(repo_path):
    from ray.runtime_env import RuntimeEnv

    env = RuntimeEnv(**yaml.safe_load((Path(repo_path) / "cluster" / "runtime_env.yaml").read_text()))
    assert env["working_dir"] == "." and {".venv/", "runs/"} <= set(env["excludes"])


def test_rayjob_manifest_runs_a_valid_nsrl_command(repo_path):
    from rllib_nsrl.cli import _parser
    from rllib_nsrl.experiments.spec import load_spec

    job = yaml.safe_load((Path(repo_path) / "cluster" / "rayjob.yaml").read_text())
    assert (job["apiVersion"], job["kind"]) == ("ray.io/v1", "RayJob")
    command = job["spec"]["entrypoint"].split()
    assert command[0] == "nsrl"
    args = _parser().parse_args(command[1:])
    assert args.address == "auto" and args.storage.startswith("/shared/")
    load_spec(Path(repo_path) / args.spec.removeprefix("/home/ray/rllib_nsrl/"))  # the image's copy of it
    cluster = job["spec"]["rayClusterSpec"]
    pods = [cluster["headGroupSpec"]["template"], *(g["template"] for g in cluster["workerGroupSpecs"]),
            job["spec"]["submitterPodTemplate"]]  # fmt: skip
    for pod in pods:  # every Ray container and the submitter hold the same token
        env = {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}
        assert env["RAY_AUTH_MODE"]["value"] == "token"
        assert env["RAY_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "nsrl-ray-token"
