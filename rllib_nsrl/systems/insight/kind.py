"""`kind: insight`: perception data and pre-training first (each reused when complete), then one
`InsightPPO` trial per (condition, seed); `nsrl collect` makes the data alone."""

from __future__ import annotations

from rllib_nsrl.experiments.kinds import Kind, Plan
from rllib_nsrl.experiments.schema import SpecError
from rllib_nsrl.systems.insight.conditions import CONDITIONS, slug
from rllib_nsrl.systems.insight.spec import INSIGHT_SMOKE, InsightSpec, iterations, train_batch_size

COLUMNS = {
    "neural": "insight/neural_return",
    "eql": "insight/eql_return",
    "mae_px": "insight/mae_px",
    "agree": "insight/eql_agreement",
    "steps": "num_env_steps_sampled_lifetime",
}


def insight_config(spec: dict, condition, seed, perception_data: str | None, perception_weights: str | None):
    """`InsightPPOConfig` of one condition and seed (either may be a `tune.grid_search`)."""
    from rllib_nsrl.systems.insight.config import InsightPPOConfig

    ppo, env, ev, res = spec["ppo"], spec["env"], spec["evaluation"], spec["resources"]
    batch = train_batch_size(spec)
    lr = [[0, ppo["lr"]], [ppo["total_steps"], 0.0]] if ppo["anneal_lr"] else ppo["lr"]
    env_config = {k: env[k] for k in ("game", "episodic_life", "fire_reset", "clip_rewards", "noop_max",
                                      "max_episode_frames")}  # fmt: skip
    return (
        InsightPPOConfig()
        .environment("AtariObjects", env_config=env_config)
        .env_runners(
            num_env_runners=ppo["num_env_runners"],
            num_envs_per_env_runner=ppo["num_envs"],
            rollout_fragment_length=ppo["rollout_length"],
        )
        .learners(num_learners=0, num_gpus_per_learner=res["gpus_per_trial"])
        .resources(num_cpus_for_main_process=res["cpus_per_trial"])
        .training(
            lr=lr,
            gamma=ppo["gamma"],
            lambda_=ppo["gae_lambda"],
            train_batch_size_per_learner=batch,
            minibatch_size=batch // ppo["num_minibatches"],
            num_epochs=ppo["num_epochs"],
            clip_param=ppo["clip"],
            entropy_coeff=ppo["entropy"],
            vf_loss_coeff=ppo["value"],
            grad_clip=ppo["grad_clip"],
        )
        .insight(
            condition=condition,
            **spec["insight"],
            **{k: v for k, v in spec["model"].items() if k != "eql_widths"},
            eql_widths=dict(spec["model"]["eql_widths"]),
            perception_data=perception_data,
            perception_weights=perception_weights,
            total_steps=ppo["total_steps"],
            adam_eps=ppo["adam_eps"],
            minibatching=ppo["minibatching"],
            size_weight=spec["pretrain"]["size_weight"],
            focal_gamma=spec["pretrain"]["focal_gamma"],
            object_weights=spec["pretrain"]["object_weights"],
            eval_every=ev["every"],
            eval_episodes=ev["episodes"],
            eval_max_episode_frames=ev["max_episode_frames"],
            eval_eql_greedy=ev["eql_greedy"],
        )
        .debugging(seed=seed)
    )


def plan(spec: dict) -> Plan:
    """Called once Ray is up: collects the dataset and pre-trains perception (Ray tasks) when missing."""
    from ray import tune

    from rllib_nsrl.systems.insight.algorithm import InsightPPO
    from rllib_nsrl.systems.insight.data import DataSettings, ensure_dataset
    from rllib_nsrl.systems.insight.pretrain import PretrainSettings, ensure_pretrained, weights_template

    conditions = [CONDITIONS[c] for c in spec["conditions"]]
    data = None
    if any(c.perception_heads for c in conditions):
        data = str(ensure_dataset(DataSettings.from_spec(spec), spec["data"]["dir"]))
    weights = None
    if any(c.pretrain for c in conditions):
        ensure_pretrained(data, [PretrainSettings.from_spec(spec, s) for s in spec["seeds"]])
        weights = weights_template(data, PretrainSettings.from_spec(spec, 0))
    config = insight_config(
        spec, tune.grid_search(spec["conditions"]), tune.grid_search(spec["seeds"]), data, weights
    )
    return Plan(
        InsightPPO,
        config,
        lambda c: f"{c['condition']} seed={c['seed']}",
        lambda c: slug(c["condition"]),
        COLUMNS,
        iterations(spec),
    )


def check(spec: dict) -> None:
    """Cross-field checks: the minibatch size, the dataset and EQL sizes, the evaluation interval, and the
    Atari extra is installed."""
    ppo = spec["ppo"]
    if train_batch_size(spec) % ppo["num_minibatches"]:
        raise SpecError(
            f"ppo.num_minibatches: {ppo['num_minibatches']} must divide num_envs × rollout_length "
            f"({train_batch_size(spec)})"
        )
    data = spec["data"]
    if not data["dir"].strip():
        raise SpecError("data.dir: must name a folder (it is empty)")
    if data["shards"] > min(data["train_frames"], data["test_frames"]):
        raise SpecError(
            f"data.shards: {data['shards']} is more than the frames of a split "
            f"(train {data['train_frames']}, test {data['test_frames']}); every shard collects some of each"
        )
    if spec["model"]["eql_layers"] and not any(spec["model"]["eql_widths"].values()):
        raise SpecError("model.eql_widths: every width is 0; a symbolic layer needs at least one unit")
    if spec["evaluation"]["every"] > iterations(spec):
        raise SpecError(
            f"evaluation.every: {spec['evaluation']['every']} is more than the run's {iterations(spec)} "
            "iterations (no evaluation would happen)"
        )
    try:
        import ale_py  # noqa: F401
        import cv2  # noqa: F401
    except ImportError:
        raise SpecError(
            "kind: insight needs the Atari extra (ale-py, opencv): pip install -e '.[insight]'"
        ) from None
    from rllib_nsrl.systems.insight.data import DataSettings, read_manifest

    needs_data = any(CONDITIONS[c].perception_heads for c in spec["conditions"])
    folder = DataSettings.from_spec(spec).folder(spec["data"]["dir"])
    if needs_data and not spec["data"]["collect"] and read_manifest(folder) is None:
        raise SpecError(
            f"data.dir: no perception dataset {folder} (data.collect is false); make it with "
            "`nsrl collect` on this spec, or set data.collect: true"
        )


def report(trials, spec, out):
    """`nsrl analyze`: scores of both actors per condition, perception error, curves."""
    from rllib_nsrl.systems.insight.report import write_insight_report

    return write_insight_report(trials, spec, out)


def collect(spec: dict, out_dir: str | None, address: str | None) -> int:
    """`nsrl collect`: the spec's perception dataset (frames + teacher labels)."""
    from rllib_nsrl.experiments.runner import connect
    from rllib_nsrl.systems.insight.data import DataSettings, ensure_dataset, read_manifest

    connect(address)
    folder = ensure_dataset(DataSettings.from_spec(spec), out_dir or spec["data"]["dir"])
    manifest = read_manifest(folder)
    for split, entry in manifest["splits"].items():
        seen = ", ".join(f"{k} {v:.0%}" for k, v in entry["exists_frequency"].items())
        print(
            f"nsrl: {split}: {entry['frames']} frames from {entry['games_started']} games; "
            f"objects seen: {seen}"
        )
    return 0


def resume_problem(config: dict) -> str | None:
    """Runs made before a setting that changed what they train analyse but cannot resume: Tune refuses
    a restore whose param space has other keys. `insight.perception_reduction` (the perception term's
    scale) came after commit 2c8850f; `ppo.minibatching` and `insight.perception_weight_decay` (the
    reference's minibatches and weight decay) after 1c41471; `pretrain.object_weights` (the reference's
    per-object loss weights) after e499e4d."""
    for key, setting, commit in (
        ("perception_reduction", "`insight.perception_reduction`", "2c8850f"),
        ("minibatching", "`ppo.minibatching` and `insight.perception_weight_decay`", "1c41471"),
        ("object_weights", "`pretrain.object_weights`", "e499e4d"),
    ):
        if key not in config:
            return (
                f"made by rllib_nsrl before the {setting} setting (commit {commit} or older); "
                f"`nsrl analyze` reads it, but continuing it needs that version (git checkout {commit}) "
                "or a new run (--name)"
            )
    return None


KIND = Kind(
    name="insight",
    spec_model=InsightSpec,
    plan=plan,
    report=report,
    smoke=INSIGHT_SMOKE,
    check=check,
    collect=collect,
    resume_problem=resume_problem,
)
