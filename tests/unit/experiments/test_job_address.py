"""Inside a Ray job (`ray job submit`), `nsrl run` attaches to the job's cluster without --address."""

from rllib_nsrl.experiments.cluster import job_cluster_address


def test_the_job_supervisors_environment_names_the_cluster(monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:6379")
    monkeypatch.setenv("RAY_JOB_CONFIG_JSON_ENV_VAR", "{}")
    assert job_cluster_address() == "127.0.0.1:6379"


def test_outside_a_job_a_stray_ray_address_is_not_followed(monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:6379")
    monkeypatch.delenv("RAY_JOB_CONFIG_JSON_ENV_VAR", raising=False)
    assert job_cluster_address() is None
