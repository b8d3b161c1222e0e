"""Bad input: one line naming the culprit, exit 2, no traceback, nothing overwritten.

No Ray is started, except by the `ray`-marked cases: damaged experiments on `--resume` (one tiny Tune run
serves them all) and resources no node can hold (checked against the shared Ray session).
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from rllib_nsrl.cli import main

BASE = {"name": "t", "kind": "symdqn", "conditions": ["DuelDQN"]}
ILP = {"name": "i", "kind": "ilp_lifelong", "domain": "graph"}
INSIGHT = {"name": "a", "kind": "insight", "evaluation": {"every": 1}}


def with_(base, **over):
    out = yaml.safe_load(yaml.safe_dump(base))
    for dotted, value in over.items():
        node, *path = dotted.split("__")
        target = out
        keys = [node, *path]
        for k in keys[:-1]:
            target = target.setdefault(k, {})
        target[keys[-1]] = value
    return out


CASES = [
    (
        "unknown top key",
        with_(BASE, conditons=["DuelDQN"]),
        "conditons: unknown key (did you mean 'conditions'?)",
    ),
    ("unknown nested key", with_(BASE, dqn__learning_rate=0.1), "dqn.learning_rate: unknown key"),
    ("wrong type", with_(BASE, dqn__lr="fast"), "dqn.lr: must be float"),
    ("out of range", with_(BASE, dqn__gamma=1.5), "dqn.gamma: must be <= 1.0"),
    (
        "unknown condition",
        with_(BASE, conditions=["SymDQN(AX)"]),
        "conditions[0]: unknown value 'SymDQN(AX)'",
    ),
    ("unknown env", with_(BASE, env__name="Atari"), "env.name: unknown value 'Atari'"),
    (
        "unknown kind",
        with_(BASE, kind="symdq"),
        "kind: unknown experiment kind 'symdq' (did you mean 'symdqn'?)",
    ),
    ("empty seeds", with_(BASE, seeds=[]), "seeds: needs at least 1 item"),
    ("duplicate seeds", with_(BASE, seeds=[1, 1]), "seeds: seeds must be distinct"),
    ("negative seed", with_(BASE, seeds=[-3]), "seeds[0]: must be >= 0"),
    ("bad epsilon", with_(BASE, dqn__epsilon=[[5, 0.9]]), "dqn.epsilon: the first [timestep, epsilon] pair"),
    ("bad colours", with_(BASE, env__config__colors="green"), "env.config.colors: unknown value 'green'"),
    ("bad glyphs", with_(BASE, env__config__glyphs="papr"), "env.config.glyphs: unknown value 'papr'"),
    (
        "bad A2 inequality",
        with_(BASE, symbolic__a2_inequality="euclid"),
        "symbolic.a2_inequality: unknown value 'euclid'",
    ),
    ("min > max shapes", with_(BASE, env__config__min_shapes=10, env__config__max_shapes=5), "env.config:"),
    ("zero cpus", with_(BASE, resources__cpus_per_trial=0), "resources.cpus_per_trial: must be >= 0.1"),
    ("zero epochs", with_(BASE, stop__epochs=0), "stop.epochs: must be >= 1"),
    ("bool as int", with_(BASE, stop__epochs=True), "stop.epochs: must be int"),
    ("missing name", {"kind": "symdqn"}, "name: required key is missing"),
    ("section not mapping", with_(BASE, dqn=[1, 2]), "dqn: must be a mapping"),
    ("duplicate condition", with_(BASE, conditions=["DuelDQN", "DuelDQN"]), "conditions: listed twice"),
    ("unknown ILP domain", with_(ILP, domain="grph"), "domain: unknown value 'grph' (did you mean 'graph'?)"),
    ("unknown ILP mode", with_(ILP, modes=["forever"]), "modes[0]: unknown value 'forever'"),
    (
        "arity too small",
        with_(ILP, domain="arithmetic", model__kb_channels=[8, 8, 8], model__head_channels=[8, 8, 8]),
        "model: arithmetic needs predicates of arity 3",
    ),
    (
        "unknown Atari game",
        with_(INSIGHT, env__game="Breakout"),
        "env.game: unknown value 'Breakout'; valid: Pong, Freeway, Boxing",
    ),
    ("Atari game case", with_(INSIGHT, env__game="pong"), "env.game: unknown value 'pong' (did you mean"),
    ("unknown INSIGHT condition", with_(INSIGHT, conditions=["w/o NGX"]), "conditions[0]: unknown value"),
    (
        "minibatches do not divide",
        with_(INSIGHT, ppo__num_minibatches=3),
        "ppo.num_minibatches: 3 must divide num_envs × rollout_length (1024)",
    ),
    (
        "evaluation never happens",
        with_(INSIGHT, evaluation__every=100_000),
        "evaluation.every: 100000 is more than the run's 9765 iterations",
    ),
    (
        "missing dataset, no collection",
        with_(INSIGHT, data__collect=False, data__dir="/nonexistent/insight"),
        "data.dir: no perception dataset /nonexistent/insight/"
        "pong_train10000_test1000_every4_random_seed0_shards4 "
        "(data.collect is false); make it with `nsrl collect` on this spec",
    ),
    ("L½ threshold zero", with_(INSIGHT, insight__l_half_a=0), "insight.l_half_a: must be > 0"),
    ("name climbs out", with_(BASE, name="../escape"), "name: '../escape' must be a single folder name"),
    ("name with a slash", with_(BASE, name="a/b"), "name: 'a/b' must be a single folder name"),
    ("absolute name", with_(BASE, name="/tmp/x"), "name: '/tmp/x' must be a single folder name"),
    ("hidden name", with_(BASE, name=".hidden"), "name: '.hidden' must be a single folder name"),
    ("name with a control character", with_(BASE, name="a\tb"), "name: 'a\\tb' must be a single folder name"),
    ("name with NUL", with_(BASE, name="a\x00b"), "must be a single folder name"),
    ("over-long name", with_(BASE, name="n" * 200), "name: is 200 characters long; at most 128"),
    # values that RLlib, numpy or torch would only reject inside a trial, after Ray started
    ("NaN learning rate", with_(BASE, dqn__lr=float("nan")), "dqn.lr: must be a finite number, got nan"),
    ("infinite learning rate", with_(BASE, dqn__lr=float("inf")), "dqn.lr: must be a finite number, got inf"),
    ("negative learning rate", with_(BASE, dqn__lr=-0.1), "dqn.lr: must be >= 0.0, got -0.1"),
    ("NaN discount", with_(BASE, dqn__gamma=float("nan")), "dqn.gamma: must be a finite number"),
    (
        "string inside a schedule",
        with_(BASE, dqn__epsilon=[[0, "high"], [100, 0.1]]),
        "dqn.epsilon[0][1]: must be float, got str 'high'",
    ),
    (
        "epsilon above 1",
        with_(BASE, dqn__epsilon=[[0, 1.5]]),
        "dqn.epsilon: epsilon values must lie in [0, 1]",
    ),
    (
        "fractional schedule step",
        with_(BASE, dqn__epsilon=[[0, 0.9], [100.5, 0.1]]),
        "dqn.epsilon: timesteps must be whole numbers",
    ),
    (
        "fractional batch size",
        with_(BASE, dqn__train_batch_size=16.5),
        "dqn.train_batch_size: must be int, got 16.5",
    ),
    (
        "whole float batch size",
        with_(BASE, dqn__train_batch_size=16.0),
        "dqn.train_batch_size: must be int, got 16.0",
    ),
    (
        "quoted number",
        with_(BASE, dqn__train_batch_size="16"),
        "dqn.train_batch_size: must be int, got str '16'",
    ),
    ("seed beyond int32", with_(BASE, seeds=[2**40]), "seeds[0]: must be <= 2147483647"),
    ("seeds not a list", with_(BASE, seeds="0"), "seeds: must be list, got str '0'"),
    ("fractional seed", with_(BASE, seeds=[1.5]), "seeds[0]: must be int, got 1.5"),
    (
        "layout of 4 rows",
        with_(BASE, env__config__layout=["....."] * 4),
        "layout must be 5 strings of 5 characters",
    ),
    ("layout with unknown cell", with_(BASE, env__config__layout=["zzzzz"] * 5), "layout characters ['z']"),
    ("zero episode steps", with_(BASE, env__config__max_steps=0), "env.config.max_steps: must be >= 1"),
    (
        "reward as text",
        with_(BASE, env__config__rewards__cross="a lot"),
        "env.config.rewards.cross: must be float",
    ),
    ("analysis epoch 0", with_(BASE, analysis__epochs=[0]), "analysis.epochs[0]: must be >= 1"),
    ("keep no checkpoint", with_(BASE, checkpoint__keep=0), "checkpoint.keep: must be >= 1"),
    ("max_failures below -1", with_(BASE, failure__max_failures=-2), "failure.max_failures: must be >= -1"),
    ("LTN p below 1", with_(BASE, symbolic__ltn_p=0.5), "symbolic.ltn_p: must be >= 1.0"),
    ("tiny patch store", with_(BASE, symbolic__patch_capacity=4), "symbolic.patch_capacity: must be >= 8"),
    ("no training episodes", with_(BASE, epoch__train_episodes=0), "epoch.train_episodes: must be >= 1"),
    ("conditions not a list", with_(BASE, conditions="DuelDQN"), "conditions: must be list, got str"),
    ("no conditions", with_(BASE, conditions=[]), "conditions: needs at least 1 item"),
    ("description a number", with_(BASE, description=5), "description: must be str, got 5"),
    ("name a number", with_(BASE, name=5), "name: must be str, got 5"),
    ("empty name", with_(BASE, name=""), "name: must not be empty"),
    ("no kind", {"name": "x"}, "kind: unknown experiment kind None; valid: symdqn"),
    ("top level a list", [1, 2], "a spec must be a YAML mapping at the top level"),
    ("empty spec", None, "a spec must be a YAML mapping at the top level"),
    ("smoke not a mapping", with_(BASE, smoke=[1]), "smoke: must be a mapping, got list"),
    ("mistake in the smoke section", with_(BASE, smoke={"dqn": {"lrr": 1}}), "smoke: dqn.lrr: unknown key"),
    ("negative update ratio", with_(BASE, dqn__updates_per_step=-1), "dqn.updates_per_step: must be >= 0.0"),
    (
        "zero rollout fragment",
        with_(BASE, dqn__rollout_fragment_length=0),
        "dqn.rollout_fragment_length: must be >= 1",
    ),
    ("negative gradient clip", with_(BASE, dqn__grad_clip=-1), "dqn.grad_clip: must be >= 0.0"),
    ("empty channel list", with_(ILP, model__kb_channels=[]), "model.kb_channels: needs at least 1 item"),
    ("negative channels", with_(ILP, model__kb_channels=[8, -1, 8]), "model.kb_channels[1]: must be >= 0"),
    ("ILP NaN learning rate", with_(ILP, training__lr=float("nan")), "training.lr: must be a finite number"),
    (
        "ILP fractional epochs",
        with_(ILP, training__epochs_per_task=2.5),
        "training.epochs_per_task: must be int",
    ),
    ("ILP mode twice", with_(ILP, modes=["lifelong", "lifelong"]), "modes: listed twice"),
    ("ILP no depth", with_(ILP, model__kb_depth=0), "model.kb_depth: must be >= 1"),
    ("ILP one object", with_(ILP, evaluation__n_objects=1), "evaluation.n_objects: must be >= 2"),
    (
        "INSIGHT fractional step count",
        with_(INSIGHT, ppo__total_steps=1000.5),
        "ppo.total_steps: must be int",
    ),
    (
        "INSIGHT step count as 1e6",
        with_(INSIGHT, ppo__total_steps=1e6),
        "ppo.total_steps: must be int, got 1000000.0",
    ),
    ("INSIGHT NaN learning rate", with_(INSIGHT, ppo__lr=float("nan")), "ppo.lr: must be a finite number"),
    ("INSIGHT zero learning rate", with_(INSIGHT, ppo__lr=0), "ppo.lr: must be > 0.0"),
    ("INSIGHT discount above 1", with_(INSIGHT, ppo__gamma=2), "ppo.gamma: must be <= 1.0"),
    (
        "INSIGHT no EQL units",
        with_(
            INSIGHT,
            model__eql_widths={k: 0 for k in ("square", "cube", "constant", "identity", "product", "sum")},
        ),
        "model.eql_widths: every width is 0",
    ),
    ("INSIGHT empty data dir", with_(INSIGHT, data__dir=" "), "data.dir: must name a folder"),
    ("INSIGHT more shards than frames", with_(INSIGHT, data__shards=5000), "data.shards: 5000 is more than"),
    ("INSIGHT no environments", with_(INSIGHT, ppo__num_envs=0), "ppo.num_envs: must be >= 1"),
    (
        "INSIGHT zero temperature",
        with_(INSIGHT, model__inverse_temperature=0),
        "model.inverse_temperature: must be > 0.0",
    ),
    ("INSIGHT GAE lambda above 1", with_(INSIGHT, ppo__gae_lambda=1.5), "ppo.gae_lambda: must be <= 1.0"),
    (
        "INSIGHT no evaluation games",
        with_(INSIGHT, evaluation__episodes=0),
        "evaluation.episodes: must be >= 1",
    ),
    (
        "kind misspelt with a prefix",
        {"name": "b", "kind": "blocksworld"},
        "(did you mean 'blocksworld_lifelong'?)",
    ),
]


def run_cli(args, capsys):
    code = main(args)
    err = capsys.readouterr().err.strip()
    return code, err


def tree(root: Path) -> dict[str, bytes | None]:
    """Every path under `root` with its bytes (None for a folder)."""
    return {str(p.relative_to(root)): None if p.is_dir() else p.read_bytes() for p in sorted(root.rglob("*"))}


@pytest.mark.parametrize("label, spec, expected", CASES, ids=[c[0] for c in CASES])
def test_bad_spec_is_one_clear_line(tmp_path, capsys, label, spec, expected):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    storage = tmp_path / "runs"
    (storage / "earlier").mkdir(parents=True)  # a run already there must come out byte for byte the same
    (storage / "earlier" / "result.json").write_text('{"training_iteration": 1}\n')
    before = tree(tmp_path)
    code, err = run_cli(["run", str(path), "--storage", str(storage)], capsys)
    assert code == 2
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith(f"nsrl: error: {path}: ")
    assert expected in err, err
    assert tree(tmp_path) == before  # validated before anything was written or started


def test_unquoted_condition_with_comma_gets_a_yaml_hint(tmp_path, capsys):
    path = tmp_path / "spec.yaml"
    path.write_text("name: t\nkind: symdqn\nconditions: [DuelDQN, SymDQN(AR,AF)]\n")
    code, err = run_cli(["validate", str(path)], capsys)
    assert code == 2 and "conditions[1]: unknown value 'SymDQN(AR'" in err and "quote names" in err


def test_malformed_pddl_domain_names_file_and_line(tmp_path, capsys):
    domain = tmp_path / "blocks.pddl"
    domain.write_text("(define (domain blocks)\n  (:predicates (on ?x ?y)\n  (:action pick-up\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        yaml.safe_dump({"name": "b", "kind": "blocksworld_lifelong", "env": {"domain_file": str(domain)}})
    )
    code, err = run_cli(["validate", str(spec)], capsys)
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert f"env.domain_file: {domain}:" in err, err


def test_missing_spec_file(tmp_path, capsys):
    code, err = run_cli(["run", str(tmp_path / "nope.yaml")], capsys)
    assert code == 2 and "nope.yaml: spec file not found" in err


def test_malformed_yaml_names_the_line(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("name: t\nkind: symdqn\nconditions: [DuelDQN\nseeds: [0]\n")
    code, err = run_cli(["validate", str(path)], capsys)
    assert code == 2 and f"{path}:4: malformed YAML" in err


def test_existing_run_dir_is_not_overwritten(tmp_path, capsys, repo_path):
    run_dir = tmp_path / "runs" / "quickstart"
    run_dir.mkdir(parents=True)
    (run_dir / "keep.txt").write_text("precious")
    spec = str(Path(repo_path) / "tune_configs" / "quickstart.yaml")
    code, err = run_cli(["run", spec, "--storage", str(tmp_path / "runs")], capsys)
    assert code == 2 and "already exists; pass --resume" in err
    assert (run_dir / "keep.txt").read_text() == "precious" and len(list(run_dir.iterdir())) == 1


def test_resume_without_experiment(tmp_path, capsys, repo_path):
    (tmp_path / "runs" / "quickstart").mkdir(parents=True)
    spec = str(Path(repo_path) / "tune_configs" / "quickstart.yaml")
    code, err = run_cli(["run", spec, "--storage", str(tmp_path / "runs"), "--resume"], capsys)
    assert code == 2 and "holds no Tune experiment to resume" in err


def test_unreachable_address(tmp_path, capsys, repo_path):
    spec = str(Path(repo_path) / "tune_configs" / "quickstart.yaml")
    code, err = run_cli(["run", spec, "--storage", str(tmp_path), "--address", "127.0.0.1:1"], capsys)
    assert code == 2 and "--address: cannot reach a Ray cluster at 127.0.0.1:1" in err


ARG_CASES = [
    (
        "port out of range",
        ["run", "{spec}", "--address", "127.0.0.1:99999"],
        "--address: '127.0.0.1:99999' is not",
    ),
    (
        "port not a number",
        ["run", "{spec}", "--address", "127.0.0.1:abc"],
        "--address: '127.0.0.1:abc' is not",
    ),
    ("port zero", ["run", "{spec}", "--address", "127.0.0.1:0"], "port in 1..65535"),
    ("empty address", ["run", "{spec}", "--address", ""], "--address: '' is not host:port"),
    (
        "address without host",
        ["run", "{spec}", "--address", "ray://:10001"],
        "--address: 'ray://:10001' is not",
    ),
    ("broken IPv6 address", ["run", "{spec}", "--address", "[::1"], "--address: '[::1' is not host:port"),
    (
        "collect: bad address",
        ["collect", "{insight}", "--address", "h:x", "--out", "{tmp}/d"],
        "--address: 'h:x'",
    ),
    (
        "bench: NaN seconds",
        ["bench", "train", "--seconds", "nan"],
        "argument --seconds: invalid positive float",
    ),
    (
        "bench: infinite seconds",
        ["bench", "env", "--seconds", "inf"],
        "argument --seconds: invalid positive float",
    ),
    (
        "bench: fractional rounds",
        ["bench", "nlm", "--rounds", "1.5"],
        "argument --rounds: invalid positive int",
    ),
    ("bench: unknown benchmark", ["bench", "fast"], "argument what: invalid choice: 'fast'"),
    ("bench: --loop off quality", ["bench", "train", "--loop", "rllib"], "--loop rllib: only `nsrl bench"),
    ("explain: NaN threshold", ["explain", "{tmp}", "--threshold", "nan"], "argument --threshold"),
    ("explain: negative timeout", ["explain", "{tmp}", "--timeout", "-1"], "argument --timeout"),
    (
        "explain: unknown backend",
        ["explain", "{tmp}", "--backend", "gpt"],
        "argument --backend: invalid choice",
    ),
    ("explain: http without URL", ["explain", "{tmp}", "--backend", "http"], "--url: the http backend needs"),
    ("collect: a kind without data", ["collect", "{spec}"], "kind: 'symdqn' has no datasets to collect"),
    ("analyze: a spec file", ["analyze", "{spec}"], "not an nsrl experiment directory"),
    ("spec: unknown kind", ["spec", "symdq"], "kind: unknown experiment kind 'symdq'"),
]


@pytest.mark.parametrize("label, argv, expected", ARG_CASES, ids=[c[0] for c in ARG_CASES])
def test_bad_arguments_are_one_clear_line(tmp_path, capsys, repo_path, label, argv, expected):
    names = {
        "spec": str(Path(repo_path) / "tune_configs" / "quickstart.yaml"),
        "insight": str(Path(repo_path) / "tune_configs" / "insight_pong.yaml"),
        "tmp": str(tmp_path),
    }
    (tmp_path / "earlier").mkdir()
    (tmp_path / "earlier" / "result.json").write_text('{"training_iteration": 1}\n')
    before = tree(tmp_path)
    argv = [a.format(**names) for a in argv]
    if argv[0] == "run":
        argv += ["--storage", str(tmp_path / "runs")]
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith("nsrl: error: ") and expected in err, err
    assert tree(tmp_path) == before


def test_analyze_a_directory_that_is_no_experiment(tmp_path, capsys):
    code, err = run_cli(["analyze", str(tmp_path)], capsys)
    assert code == 2 and "not an nsrl experiment directory" in err


def test_unknown_flag_is_one_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "x.yaml", "--smok"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--smok" in err


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["bench", "quality", "--epochs", "0"], "--epochs"),
        (["bench", "train", "--seconds", "-1"], "--seconds"),
        (["bench", "env", "--seconds", "nan"], "--seconds"),
        (["bench", "train", "--rounds", "0"], "--rounds"),
    ],
)
def test_bench_budget_must_be_positive(capsys, argv, flag):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and flag in err and "positive" in err


def test_console_script_exit_code_and_no_traceback(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(with_(BASE, dqn__lr="fast")))
    proc = subprocess.run(
        [sys.executable, "-m", "rllib_nsrl.cli", "run", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "dqn.lr: must be float" in proc.stderr


# ---------------------------------------------------------------- --resume on a damaged experiment
# One real experiment (a tiny ILP run through Tune), marked as interrupted while its trial ran, is
# copied and damaged per case; `--resume` must refuse it with one line and leave every file as it was.

TINY_ILP = {**ILP, "name": "exp", "modes": ["lifelong"], "model": {"kb_depth": 1},
            "training": {"epochs_per_task": 1, "batches_per_epoch": 1, "batch_size": 2},
            "evaluation": {"test_size": 2, "test_size_2x": 1, "eval_batch_size": 2,
                           "n_objects": 6}}  # fmt: skip


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory, ray_session):
    root = tmp_path_factory.mktemp("interrupted")
    spec = root / "spec.yaml"
    spec.write_text(yaml.safe_dump(TINY_ILP))
    assert main(["run", str(spec), "--storage", str(root / "runs"), "--no-analyze"]) == 0
    (state_file,) = (root / "runs" / "exp").glob("experiment_state-*.json")
    state = json.loads(state_file.read_text())
    for entry in state["trial_data"]:  # what a driver killed mid-trial leaves: the trial still RUNNING
        trial = json.loads(entry[0])
        entry[0] = json.dumps({**trial, "status": "RUNNING"})
    state_file.write_text(json.dumps(state))
    return root


def latest_checkpoint(exp: Path) -> Path:
    (trial,) = [d for d in exp.iterdir() if d.is_dir()]
    return max(trial.glob("checkpoint_*"))


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def truncate_all(paths) -> None:
    for path in paths:
        truncate(path)


def flip_middle_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def changed_spec(exp: Path, spec: Path) -> Path:
    other = exp.parent.parent / "changed.yaml"  # this test's tmp_path
    other.write_text(yaml.safe_dump(with_(TINY_ILP, training__lr=0.01)))
    return other


RESUME_CASES = [
    ("truncated checkpoint", lambda e, s: truncate(latest_checkpoint(e) / "ilp_state.pt"),
     "ilp_state.pt is a truncated torch archive"),
    ("corrupt checkpoint", lambda e, s: flip_middle_byte(latest_checkpoint(e) / "ilp_state.pt"),
     "ilp_state.pt has a corrupt member"),
    ("empty checkpoint file", lambda e, s: (latest_checkpoint(e) / "ilp_state.pt").write_bytes(b""),
     "ilp_state.pt is empty"),
    ("missing checkpoint", lambda e, s: shutil.rmtree(latest_checkpoint(e)), "is missing"),
    ("truncated experiment state", lambda e, s: truncate_all(e.glob("experiment_state-*.json")),
     "holds no readable Tune experiment state"),
    ("truncated tuner.pkl", lambda e, s: truncate(e / "tuner.pkl"), "tuner.pkl is missing or truncated"),
    ("spec changed on resume", changed_spec,
     "training.lr: is 0.01 but the experiment was started with 0.001"),
]  # fmt: skip


def snapshot(folder: Path) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.ray
@pytest.mark.parametrize("label, damage, expected", RESUME_CASES, ids=[c[0] for c in RESUME_CASES])
def test_resume_refuses_a_damaged_experiment(interrupted, tmp_path, capsys, label, damage, expected):
    shutil.copytree(interrupted / "runs", tmp_path / "runs")
    exp, spec = tmp_path / "runs" / "exp", interrupted / "spec.yaml"
    spec = damage(exp, spec) or spec  # a damage returns the spec to resume with, if it changes it
    before = snapshot(exp)
    code, err = run_cli(["run", str(spec), "--storage", str(tmp_path / "runs"), "--resume"], capsys)
    assert code == 2
    assert len(err.splitlines()) == 1 and "Traceback" not in err and err.startswith("nsrl: error: ")
    assert expected in err, err
    assert snapshot(exp) == before  # refused before anything was moved, written or started


# ---------------------------------------------------------------- resources no node can hold

RESOURCE_CASES = [
    ("GPU on a machine without", with_(TINY_ILP, resources__gpus_per_trial=1),
     "resources.gpus_per_trial: a trial needs CPU 1, GPU 1 on one node, but no node"),
    ("more CPUs than any node", with_(TINY_ILP, resources__cpus_per_trial=64),
     "resources.cpus_per_trial: a trial needs CPU 64 on one node"),
    ("RLlib trial asks for a GPU", with_(BASE, resources__gpus_per_trial=1),
     "resources.gpus_per_trial: a trial needs CPU 1, GPU 1 on one node"),
]  # fmt: skip


@pytest.mark.ray
@pytest.mark.parametrize("label, spec, expected", RESOURCE_CASES, ids=[c[0] for c in RESOURCE_CASES])
def test_unsatisfiable_resources_fail_before_any_trial(ray_session, tmp_path, capsys, label, spec, expected):
    if ray_session.cluster_resources().get("GPU") and "GPU" in expected:
        spec = with_(spec, resources__gpus_per_trial=1024)
        expected = expected.replace("GPU 1 ", "GPU 1024 ")
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    code, err = run_cli(["run", str(path), "--storage", str(tmp_path / "runs")], capsys)
    assert code == 2
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert expected in err, err
    assert not (tmp_path / "runs").exists()  # refused before the run directory was created


def test_storage_uri_that_cannot_be_opened(tmp_path, capsys, repo_path):
    spec = str(Path(repo_path) / "tune_configs" / "quickstart.yaml")
    code, err = run_cli(["run", spec, "--storage", "nosuchfs://bucket/runs"], capsys)
    assert code == 2 and len(err.splitlines()) == 1
    assert "--storage: cannot open 'nosuchfs://bucket/runs'" in err


def test_explain_names_a_missing_run(tmp_path, capsys):
    code, err = run_cli(["explain", str(tmp_path / "nowhere")], capsys)
    assert code == 2
    assert err == f"nsrl: error: {tmp_path / 'nowhere'}: no such run, trial or checkpoint directory"
    code, err = run_cli(["explain", str(tmp_path)], capsys)
    assert code == 2 and err == f"nsrl: error: {tmp_path}: no trial with a checkpoint here"
    code, err = run_cli(["explain", str(tmp_path), "--backend", "http"], capsys)
    assert code == 2 and err.startswith("nsrl: error: --url: the http backend needs the endpoint's base URL")


def test_insight_without_the_atari_extra_names_the_pip_install(tmp_path):
    """ale-py hidden from a fresh interpreter: one line naming the extra, exit 2."""
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(INSIGHT))
    code = (
        "import sys; sys.modules['ale_py'] = None\n"
        "from rllib_nsrl.cli import main\n"
        f"sys.exit(main(['validate', {str(path)!r}]))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.endswith("kind: insight needs the Atari extra (ale-py, opencv): pip install -e '.[insight]'")


@pytest.mark.parametrize("name", ["../x", "a/b", "/abs", ".", "..", "-rf", "a b", "x" * 129])
def test_unsafe_run_names_are_refused_before_anything_is_written(tmp_path, capsys, name):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(BASE))
    code, err = run_cli(["run", str(path), "--storage", str(tmp_path / "runs"), f"--name={name}"], capsys)
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("nsrl: error: --name: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml"]


def test_storage_that_is_a_file_or_under_a_file_is_refused(tmp_path, capsys):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(BASE))
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    code, err = run_cli(["run", str(path), "--storage", str(blocker)], capsys)
    assert code == 2 and err == f"nsrl: error: --storage: {blocker} is a file, not a directory"
    code, err = run_cli(["run", str(path), "--storage", str(blocker / "runs")], capsys)
    assert code == 2
    assert err == f"nsrl: error: --storage: cannot create {blocker / 'runs'}: {blocker} is a file"
    assert blocker.read_text() == "x" and sorted(p.name for p in tmp_path.iterdir()) == ["afile", "spec.yaml"]


def test_a_run_directory_in_use_is_refused(tmp_path, capsys):
    """Another live `nsrl run` holds the run directory's lock: the second one stops before Ray starts."""
    import os
    import socket

    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(BASE))
    run_dir = tmp_path / "runs" / "t"
    run_dir.mkdir(parents=True)
    owner = {"pid": os.getppid(), "host": socket.gethostname(), "since": "2026-12-07 10:00:00"}
    (run_dir / ".nsrl.lock").write_text(json.dumps(owner))
    code, err = run_cli(["run", str(path), "--storage", str(tmp_path / "runs")], capsys)
    assert code == 2 and len(err.splitlines()) == 1
    assert f"in use by another nsrl run (pid {os.getppid()} on {socket.gethostname()}" in err
    assert json.loads((run_dir / ".nsrl.lock").read_text()) == owner  # the owner's lock is untouched


def test_out_paths_that_are_files_are_refused(tmp_path, capsys):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    code, err = run_cli(["analyze", str(tmp_path), "--out", str(blocker)], capsys)
    assert code == 2 and err == f"nsrl: error: --out: {blocker} is a file, not a directory"
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(INSIGHT))
    code, err = run_cli(["collect", str(spec), "--out", str(blocker / "data")], capsys)
    assert code == 2 and err == f"nsrl: error: --out: cannot create {blocker / 'data'}: {blocker} is a file"
    assert blocker.read_text() == "x" and sorted(p.name for p in tmp_path.iterdir()) == ["afile", "spec.yaml"]


@pytest.mark.parametrize(
    "label, content, expected",
    [
        ("duplicate top key", b"name: t\nkind: symdqn\nname: u\n", "key 'name' given twice (lines 1 and 3)"),
        (
            "duplicate nested key",
            b"name: t\nkind: symdqn\ndqn:\n  lr: 0.1\n  lr: 0.2\n",
            "key 'lr' given twice (lines 4 and 5)",
        ),
        ("not UTF-8", b"name: t\nkind: symdqn\ndescription: \xff\xfe\n", "not UTF-8 text (byte 34)"),
        ("binary file", bytes(range(256)), "not UTF-8 text"),
        ("nested too deeply", b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n", "nested too deeply to be a spec"),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 30 else None,
)
def test_unreadable_spec_files_are_one_line(tmp_path, capsys, label, content, expected):
    path = tmp_path / "spec.yaml"
    path.write_bytes(content)
    code, err = run_cli(["validate", str(path)], capsys)
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith(f"nsrl: error: {path}") and expected in err, err
