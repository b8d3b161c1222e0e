"""`nsrl`: run, analyze and benchmark neuro-symbolic RL experiments.

User mistakes print one line `nsrl: error: ...` and exit 2; nothing already saved is overwritten. A bad
spec, file, flag, run directory, storage or address, and an experiment that cannot be resumed, are refused
before any Ray process starts; a trial that no node can hold, right after Ray is up and before any trial.
Storage and run directories may be URIs (docs/cluster.md).
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from pathlib import Path

from rllib_nsrl.analysis.report import SPEC_FILE
from rllib_nsrl.experiments.schema import SpecError

JOIN_WAIT_S = 120.0  # on an attached cluster, how long nodes may take to join before a trial fits


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)  # a typo like --smok is an error, not --smoke
        super().__init__(*args, **kwargs)

    def error(self, message):  # one line, exit 2 (argparse would print the whole usage)
        words = self.prog.split()  # "nsrl" for the top level, "nsrl run" for a subcommand
        print(f"nsrl: error: {message} (see {' '.join(['nsrl', *words[1:]])} --help)", file=sys.stderr)
        sys.exit(2)


INTERRUPTED = 130  # the shell's code for a run stopped by SIGINT


def _positive(kind):
    """argparse type: a number > 0 (argparse turns the ValueError into a one-line usage error, exit 2)."""

    def parse(text: str):
        value = kind(text)
        if not 0 < value < math.inf:  # also refuses nan and inf
            raise ValueError(text)
        return value

    parse.__name__ = f"positive {kind.__name__}"
    return parse


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="nsrl", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    r = sub.add_parser("run", help="run an experiment spec (tune_configs/*.yaml) with Ray Tune")
    r.add_argument("spec", help="experiment spec YAML")
    r.add_argument("--smoke", action="store_true", help="shrink the spec to a sub-minute run")
    r.add_argument("--storage", default="runs", help="results root: local dir or URI (default: ./runs)")
    r.add_argument("--name", help="experiment name (default: the spec's name, + '_smoke' with --smoke)")
    r.add_argument("--resume", action="store_true", help="resume an interrupted experiment of that name")
    r.add_argument("--address", help="attach to a running Ray cluster (default: start a local Ray)")
    r.add_argument("--no-analyze", action="store_true", help="skip `nsrl analyze` at the end")

    a = sub.add_parser("analyze", help="tables and plots from a finished (or running) experiment")
    a.add_argument("run_dir", help="experiment directory (<storage>/<name>)")
    a.add_argument("--out", help="output directory (default: <run_dir>/analysis)")

    b = sub.add_parser(
        "bench", help="speed benchmarks (env steps/s, training updates/s) and a learning fingerprint"
    )
    b.add_argument("what", choices=["env", "train", "quality", "insight", "nlm"])
    b.add_argument(
        "--seconds", type=_positive(float), default=20.0, help="measuring time per variant (env, train)"
    )
    b.add_argument(
        "--rounds",
        type=_positive(int),
        default=3,
        help="interleaved measuring rounds per variant (train, insight); more average out load changes",
    )
    b.add_argument("--epochs", type=_positive(int), default=3, help="short epochs to train (quality)")
    b.add_argument(
        "--loop",
        choices=["lean", "rllib"],
        help="SymDQN training loop of `quality`: lean (default) or rllib (RLlib's DQN step, as recorded "
        "before); `train` measures both side by side",
    )
    b.add_argument("--seed", type=int, default=0)

    c = sub.add_parser("collect", help="collect the offline datasets of a spec (kinds with data)")
    c.add_argument("spec", help="experiment spec YAML of a kind with datasets")
    c.add_argument("--smoke", action="store_true", help="shrink the spec to a tiny dataset")
    c.add_argument("--out", help="dataset directory (default: the spec's data.dir)")
    c.add_argument("--address", help="attach to a running Ray cluster (default: start a local Ray)")

    e = sub.add_parser(
        "explain", help="a trained INSIGHT policy as equations, and single decisions explained"
    )
    e.add_argument("path", help="run directory, trial directory or Algorithm checkpoint")
    e.add_argument("--out", help="report directory (default: <trial>/explain)")
    e.add_argument("--episodes", type=_positive(int), default=1, help="games played with the EQL actor")
    e.add_argument("--decisions", type=_positive(int), default=3, help="single decisions to explain")
    e.add_argument("--threshold", type=_positive(float), default=1e-2, help="prune weights below this")
    e.add_argument("--max-terms", type=_positive(int), default=6, help="terms shown per equation")
    e.add_argument("--max-frames", type=_positive(int), default=108_000, help="emulator frames per game")
    e.add_argument(
        "--backend",
        choices=["template", "http", "local"],
        default="template",
        help="text backend: template (offline facts), http (an OpenAI-compatible endpoint), "
        "local (SmolLM2-135M served on 127.0.0.1; the `llm` extra)",
    )
    e.add_argument("--url", help="http backend: API base URL, e.g. http://127.0.0.1:8000/v1")
    e.add_argument("--model", help="http backend: model name (omitted when not given)")
    e.add_argument("--api-key-env", default="OPENAI_API_KEY", help="http backend: env var holding the key")
    e.add_argument("--timeout", type=_positive(float), default=60.0, help="http backend: seconds per request")
    e.add_argument(
        "--gif", type=int, default=0, metavar="STEPS", help="also write rollout.gif of STEPS steps (INSIGHT)"
    )
    e.add_argument("--seed", type=int, default=0)

    v = sub.add_parser("validate", help="validate a spec and print it with defaults filled in")
    v.add_argument("spec")
    v.add_argument("--smoke", action="store_true")

    s = sub.add_parser("spec", help="every key of a kind's spec: type, default, range, help")
    s.add_argument("kind", nargs="?", help="experiment kind (omit to list the kinds)")
    s.add_argument("--json-schema", action="store_true", help="print a JSON Schema (for editors) instead")
    return p


def _check_run_dir(spec: dict, exp, args):
    """Refuse to overwrite a run or to resume nothing; on --resume, the read-only resume inspection."""
    from rllib_nsrl.experiments import resume

    names = exp.list()
    has_experiment = any(n.startswith(resume.EXPERIMENT_STATE) for n in names)
    if args.resume and not has_experiment:
        raise SpecError(f"--resume: {exp.uri} holds no Tune experiment to resume")
    if not args.resume and exp.exists():
        raise SpecError(
            f"{exp.uri} already exists; pass --resume to continue it or --name to start a new run"
        )
    if not args.resume:
        return None
    # first the kind's verdict on runs of older versions: their saved spec may predate settings whose
    # default has changed since, which the comparison below would misreport
    _check_resumable(spec, exp, names)
    if SPEC_FILE in names:
        saved = _with_current_defaults(json.loads(exp.read_bytes(SPEC_FILE)))
        _check_same_spec(saved, json.loads(json.dumps(spec)), args.spec)
    return resume.inspect(exp)


def _check_resumable(spec: dict, exp, names: list[str]) -> None:
    """The kind's verdict on a saved trial config (e.g. a run made by an incompatible earlier version)."""
    from rllib_nsrl.experiments.kinds import get_kind

    problem_of = get_kind(spec["kind"]).resume_problem
    if problem_of is None:
        return
    for name in names:
        if exp.exists(f"{name}/params.json"):
            try:
                config = json.loads(exp.read_bytes(f"{name}/params.json"))
            except ValueError:
                continue  # a damaged file is resume.inspect's to report
            problem = problem_of(config)
            if problem:
                raise SpecError(f"--resume: {exp.uri}: {problem}")
            return


def _with_current_defaults(saved: dict) -> dict:
    """A saved spec with the settings added since it was written filled in at their defaults (a run made
    before a setting existed ran at its default), or as saved when this version cannot read it."""
    from rllib_nsrl.experiments.kinds import get_kind
    from rllib_nsrl.experiments.schema import check

    try:
        model = get_kind(saved["kind"]).spec_model
        known = {k: v for k, v in saved.items() if k in model.model_fields}  # not the runner's own keys
        return {**saved, **json.loads(json.dumps(check(model, known)))}
    except (SpecError, KeyError, TypeError, ValueError):
        return saved


def _check_same_spec(saved, spec, source: str, prefix: str = "") -> None:
    """A resumed run must use the spec it was started with (keys added since are fine)."""
    for key in saved.keys() & spec.keys():
        a, b = saved[key], spec[key]
        if isinstance(a, dict) and isinstance(b, dict):
            _check_same_spec(a, b, source, f"{prefix}{key}.")
        elif a != b:
            raise SpecError(
                f"{source}: {prefix}{key}: is {b!r} but the experiment was started with {a!r} "
                "(--resume needs the same spec and --smoke setting)"
            )


def _job_address(args) -> None:
    """Inside a Ray job without --address: attach to the job's cluster, and say so."""
    from rllib_nsrl.experiments.cluster import job_cluster_address

    if not args.address and (address := job_cluster_address()):
        print(f"nsrl: inside a Ray job: attaching to its cluster at {address} (--address auto)", flush=True)
        args.address = "auto"  # Ray's own resolution of RAY_ADDRESS also sets up the job's token auth


def cmd_run(args) -> int:
    """`nsrl run`: validate the spec and run dir, run it with Ray Tune, then `nsrl analyze` it.

    Exit code 1 if a trial failed, 130 if interrupted (the `--resume` command is printed), else 0.
    """
    from rllib_nsrl.experiments.cluster import Location, check_address
    from rllib_nsrl.experiments.spec import load_spec
    from rllib_nsrl.experiments.storage import RunLock, check_local_storage, check_run_name

    _job_address(args)
    spec = load_spec(args.spec, smoke=args.smoke)
    smoke = "_smoke" if args.smoke else ""
    name = check_run_name(args.name, "--name") if args.name else spec["name"] + smoke
    storage = Location.parse(args.storage)
    if storage.local:
        check_local_storage(storage.path)
    exp = storage.child(name)
    lock = RunLock(exp.path) if storage.local else None
    if lock is not None:
        lock.check()  # another live `nsrl run` on this directory: say so before anything else
    repair = _check_run_dir(spec, exp, args)
    if args.address is not None:
        check_address(args.address)
    if lock is not None:
        lock.acquire()
    try:
        return _run_locked(args, spec, name, storage, exp, repair)
    finally:
        if lock is not None:
            lock.release()


def _run_locked(args, spec, name, storage, exp, repair) -> int:
    """The part of `nsrl run` after the checks, with the run directory locked."""
    from rllib_nsrl.experiments import runner
    from rllib_nsrl.experiments.cluster import check_resources

    runner.connect(args.address)
    plan = runner.make_plan(spec)
    check_resources(*runner.trial_resources(plan, spec), wait_s=JOIN_WAIT_S if args.address else 0)
    if repair is not None:
        repair.require_trials(runner.count_trials(plan))
        repair.apply()
    if not exp.exists(SPEC_FILE):
        exp.write_bytes(SPEC_FILE, json.dumps(spec, indent=2).encode())
    print(f"nsrl: {spec['kind']} experiment {name!r} -> {exp.uri}", flush=True)
    results = runner.run(spec, plan, storage=storage, name=name, resume=args.resume)
    errors = [r for r in results if r.error is not None]
    expected = runner.count_trials(plan)
    # A trial Ctrl-C stopped has no error but never reported its final result (`done`).
    done = sum(1 for r in results if r.error is None and (r.metrics or {}).get("done"))
    print(f"nsrl: {done}/{expected} trials finished; results in {exp.uri}", flush=True)
    again = ["nsrl", "run", args.spec, "--resume"] + (["--smoke"] if args.smoke else [])
    if args.storage != "runs":
        again += ["--storage", args.storage]
    if args.name:
        again += ["--name", args.name]
    if args.address:
        again += ["--address", args.address]
    again = shlex.join(again)
    if errors:
        from rllib_nsrl.experiments.progress import error_cause

        for r in errors:
            print(
                f"nsrl: trial failed: {error_cause(r.error)} (traceback: {r.path}/error.txt)", file=sys.stderr
            )
        print(f"nsrl: after a fix, the failed trials continue from their last checkpoint with: {again}",
              file=sys.stderr)  # fmt: skip
        return 1
    interrupted = done < expected
    if interrupted:  # Ctrl-C (SIGINT): Tune saved the experiment state and the checkpoints
        print(f"nsrl: interrupted before every trial finished; continue with: {again}", file=sys.stderr)
    if not args.no_analyze:
        try:
            code = cmd_analyze(argparse.Namespace(run_dir=exp.uri, out=None))
        except SpecError as err:  # e.g. stopped before the first evaluation: nothing to analyse yet
            if not interrupted:
                raise
            print(f"nsrl: no analysis yet: {err}", file=sys.stderr)
            code = 0
        if code:
            return code
    return INTERRUPTED if interrupted else 0


def cmd_analyze(args) -> int:
    """`nsrl analyze`: write tables and plots of a run directory (a URI is analysed from a local copy)."""
    from rllib_nsrl.analysis.report import analyze
    from rllib_nsrl.experiments.cluster import Location, is_uri
    from rllib_nsrl.experiments.storage import check_local_storage

    if args.out:
        check_local_storage(args.out, "--out")
    if not is_uri(args.run_dir):
        written = analyze(Path(args.run_dir), Path(args.out) if args.out else None)
    else:  # a URI: analyse a local copy of the results (no checkpoints); write back next to them
        import tempfile

        run = Location.parse(args.run_dir, flag="run_dir")
        if not run.exists(SPEC_FILE):
            raise SpecError(f"{run.uri}: not an nsrl experiment directory (no {SPEC_FILE})")
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "run"
            run.download(
                local,
                skip=lambda parts: parts[0] == "analysis" or any(p.startswith("checkpoint_") for p in parts),
            )
            out = Path(args.out) if args.out else Path(tmp) / "analysis"
            written = analyze(local, out)
            if not args.out:
                written = run.child("analysis").upload(out)
    for p in written:
        print(f"nsrl: wrote {p}")
    return 0


def cmd_collect(args) -> int:
    """`nsrl collect`: collect the offline datasets of a spec whose kind has them."""
    from rllib_nsrl.experiments.kinds import get_kind
    from rllib_nsrl.experiments.spec import load_spec

    spec = load_spec(args.spec, smoke=args.smoke)
    kind = get_kind(spec["kind"])
    if kind.collect is None:
        raise SpecError(f"{args.spec}: kind: {spec['kind']!r} has no datasets to collect")
    from rllib_nsrl.experiments.storage import check_local_storage

    check_local_storage(args.out or spec["data"]["dir"], "--out" if args.out else "data.dir")
    _job_address(args)
    if args.address is not None:
        from rllib_nsrl.experiments.cluster import check_address

        check_address(args.address)
    return kind.collect(spec, args.out, args.address)


def cmd_spec(args) -> int:
    """`nsrl spec`: list the kinds, or a kind's spec keys as a table (or JSON Schema)."""
    from rllib_nsrl.experiments.kinds import get_kind, kind_names
    from rllib_nsrl.experiments.schema import describe

    if args.kind is None:
        print("\n".join(kind_names()))
        return 0
    model = get_kind(args.kind, "nsrl spec").spec_model
    if args.json_schema:
        print(json.dumps(model.model_json_schema(), indent=2))
        return 0
    rows = describe(model)
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in ("key", "type", "default", "range")}
    cols = list(widths)
    print("  ".join(c.ljust(widths[c]) for c in cols) + "  help")
    for r in rows:
        print("  ".join(str(r[c]).ljust(widths[c]) for c in cols) + "  " + (r["help"] or ""))
    return 0


def cmd_validate(args) -> int:
    """`nsrl validate`: print the validated spec with defaults filled in."""
    from rllib_nsrl.experiments.spec import load_spec

    print(json.dumps(load_spec(args.spec, smoke=args.smoke), indent=2))
    return 0


def cmd_bench(args) -> int:
    """`nsrl bench`: run one benchmark (env, train or quality)."""
    from rllib_nsrl.bench import run_bench

    if args.loop is not None and args.what != "quality":
        raise SpecError(f"--loop {args.loop}: only `nsrl bench quality` takes it (`train` runs both loops)")
    common = dict(seconds=args.seconds, seed=args.seed, epochs=args.epochs, rounds=args.rounds)
    return run_bench(args.what, loop=args.loop or "lean", **common)


def cmd_explain(args) -> int:
    """`nsrl explain`: the explanation report of a trained INSIGHT or SymDQN policy."""
    from rllib_nsrl.analysis.checkpoints import find_checkpoints, module_class_name
    from rllib_nsrl.systems.insight.explain import ExplainError, explain
    from rllib_nsrl.systems.insight.explain_text import HTTPBackend, HTTPBackendError, TemplateBackend

    if args.backend == "http" and not args.url:
        raise SpecError(
            "--url: the http backend needs the endpoint's base URL, e.g. http://127.0.0.1:8000/v1"
        )
    if args.backend == "local":
        from rllib_nsrl.systems.insight.local_llm import LocalBackend, LocalModelError

        try:
            LocalBackend.check_installed()
        except LocalModelError as err:
            raise SpecError(str(err)) from None
    try:
        found = find_checkpoints(args.path)
    except FileNotFoundError as err:
        raise SpecError(str(err)) from None
    if not found:
        raise SpecError(f"{args.path}: no trial with a checkpoint here")
    classes = {module_class_name(c) for c, _ in found}
    if "InsightModule" not in classes and "SymDQNModule" in classes:
        from rllib_nsrl.systems.symdqn.conditions import condition_of
        from rllib_nsrl.systems.symdqn.explain import explain_symdqn

        # runs made before `SymDQNConfig` keep the condition in `_model_config` only
        found = [(c, {**p, "condition": condition_of(p)}) for c, p in found]
        symbolic = [(c, p) for c, p in found if p["condition"] != "DuelDQN"]
        if not symbolic:
            raise SpecError(
                f"{args.path}: only DuelDQN trials here; SymDQN explanations need a symbolic condition"
            )
        checkpoint, params = max(
            symbolic, key=lambda cp: ("AF" in cp[1]["condition"], "AR" in cp[1]["condition"])
        )
        out = Path(args.out) if args.out else checkpoint.parent / "explain"
        explain_symdqn(
            checkpoint, params, out, episodes=args.episodes, decisions=args.decisions, seed=args.seed
        )
        return 0
    if "InsightModule" not in classes:
        raise SpecError(
            f"{args.path}: no INSIGHT or SymDQN checkpoint here (modules: {', '.join(sorted(classes))})"
        )

    if args.backend == "http":
        backend = HTTPBackend(args.url, args.model, api_key_env=args.api_key_env, timeout_s=args.timeout)
    elif args.backend == "local":
        backend = LocalBackend(timeout_s=max(args.timeout, 600.0))
    else:
        backend = TemplateBackend()
    try:
        explain(
            args.path,
            args.out,
            episodes=args.episodes,
            decisions=args.decisions,
            threshold=args.threshold,
            max_terms=args.max_terms,
            backend=backend,
            seed=args.seed,
            max_frames=args.max_frames,
            gif_steps=args.gif,
        )
    except (ExplainError, HTTPBackendError) as err:
        raise SpecError(str(err)) from None
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of `nsrl`; returns the exit code (2 on a user error, 130 on Ctrl-C)."""
    args = _parser().parse_args(argv)
    commands = {
        "run": cmd_run,
        "analyze": cmd_analyze,
        "bench": cmd_bench,
        "validate": cmd_validate,
        "collect": cmd_collect,
        "spec": cmd_spec,
        "explain": cmd_explain,
    }
    try:
        return commands[args.command](args)
    except SpecError as err:
        print(f"nsrl: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nsrl: interrupted; resume with `nsrl run SPEC --resume`", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
