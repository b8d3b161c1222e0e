"""`nsrl`: run, analyze and benchmark neuro-symbolic RL experiments.

User mistakes (bad spec, missing file, wrong flags) print one line `nsrl: error: ...` and exit 2
before any Ray process starts; nothing already saved is overwritten.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rllib_nsrl.analysis.report import SPEC_FILE
from rllib_nsrl.experiments.schema import SpecError


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)  # a typo like --smok is an error, not --smoke
        super().__init__(*args, **kwargs)

    def error(self, message):  # one line, exit 2 (argparse would print the whole usage)
        print(f"nsrl: error: {message} (see nsrl {self.prog.split()[-1]} --help)", file=sys.stderr)
        sys.exit(2)


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

    b = sub.add_parser("bench", help="speed benchmarks (env steps/s, training updates/s)")
    b.add_argument("what", choices=["env", "train"])
    b.add_argument("--seconds", type=float, default=20.0, help="measuring time per variant")
    b.add_argument("--seed", type=int, default=0)

    c = sub.add_parser("collect", help="collect offline planner datasets for a BlocksWorld spec")
    c.add_argument("spec", help="blocksworld_lifelong spec YAML")
    c.add_argument("--smoke", action="store_true", help="shrink the spec to a tiny dataset")
    c.add_argument("--out", help="dataset directory (default: the spec's data.dir)")
    c.add_argument("--address", help="attach to a running Ray cluster (default: start a local Ray)")

    v = sub.add_parser("validate", help="validate a spec and print it with defaults filled in")
    v.add_argument("spec")
    v.add_argument("--smoke", action="store_true")
    return p


def _check_run_dir(spec: dict, args) -> tuple[str, str]:
    name = args.name or (spec["name"] + ("_smoke" if args.smoke else ""))
    storage = args.storage
    if "://" in storage:
        return storage, name
    path = Path(storage).resolve() / name
    has_experiment = path.is_dir() and any(path.glob("experiment_state-*.json"))
    if args.resume and not has_experiment:
        raise SpecError(f"--resume: {path} holds no Tune experiment to resume")
    if not args.resume and path.exists():
        raise SpecError(f"{path} already exists; pass --resume to continue it or --name to start a new run")
    return storage, name


def cmd_run(args) -> int:
    from rllib_nsrl.experiments.spec import load_spec

    spec = load_spec(args.spec, smoke=args.smoke)
    storage, name = _check_run_dir(spec, args)
    if args.address:
        from rllib_nsrl.experiments.cluster import check_address

        check_address(args.address)
    from rllib_nsrl.experiments import runner

    path = runner.experiment_path(storage, name)
    if "://" not in path:
        Path(path).mkdir(parents=True, exist_ok=True)
        if not args.resume:
            (Path(path) / SPEC_FILE).write_text(json.dumps(spec, indent=2))
    print(f"nsrl: {spec['kind']} experiment {name!r} -> {path}", flush=True)
    results = runner.run(spec, storage=storage, name=name, resume=args.resume, address=args.address)
    errors = [r for r in results if r.error is not None]
    print(f"nsrl: {len(results) - len(errors)}/{len(results)} trials finished; results in {path}", flush=True)
    if errors:
        for r in errors:
            print(f"nsrl: trial failed: {r.path}: {type(r.error).__name__}", file=sys.stderr)
        return 1
    if not args.no_analyze and "://" not in path:
        return cmd_analyze(argparse.Namespace(run_dir=path, out=None))
    return 0


def cmd_analyze(args) -> int:
    from rllib_nsrl.analysis.report import analyze

    written = analyze(Path(args.run_dir), Path(args.out) if args.out else None)
    for p in written:
        print(f"nsrl: wrote {p}")
    return 0


def cmd_collect(args) -> int:
    from rllib_nsrl.experiments.spec import load_spec

    spec = load_spec(args.spec, smoke=args.smoke)
    if spec["kind"] != "blocksworld_lifelong":
        raise SpecError(
            f"{args.spec}: kind: `nsrl collect` needs a blocksworld_lifelong spec, got {spec['kind']!r}"
        )
    if args.address:
        from rllib_nsrl.experiments.cluster import check_address

        check_address(args.address)
    from rllib_nsrl.offline.collect import run_collect

    return run_collect(spec, out_dir=args.out, address=args.address)


def cmd_validate(args) -> int:
    from rllib_nsrl.experiments.spec import load_spec

    print(json.dumps(load_spec(args.spec, smoke=args.smoke), indent=2))
    return 0


def cmd_bench(args) -> int:
    from rllib_nsrl.bench import run_bench

    return run_bench(args.what, seconds=args.seconds, seed=args.seed)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    commands = {
        "run": cmd_run,
        "analyze": cmd_analyze,
        "bench": cmd_bench,
        "validate": cmd_validate,
        "collect": cmd_collect,
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
