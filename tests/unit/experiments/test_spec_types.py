"""Typed specs: the error contract beyond unknown keys, and `nsrl spec`."""

import json

import pytest
import yaml

from rllib_nsrl.cli import main
from rllib_nsrl.experiments.kinds import kind_names

SYM = {"name": "t", "kind": "symdqn"}
ILP = {"name": "i", "kind": "ilp_lifelong", "domain": "graph"}


def error_of(tmp_path, capsys, text):
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    code = main(["validate", str(path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err
    return err


CASES = [
    ("case-insensitive name hint", {**SYM, "conditions": ["dueldqn"]}, "(did you mean 'DuelDQN'?)"),
    ("case-insensitive key hint", {**SYM, "DQN": {}}, "DQN: unknown key (did you mean 'dqn'?)"),
    ("case-insensitive kind hint", {**SYM, "kind": "SymDQN"}, "(did you mean 'symdqn'?)"),
    ("nan learning rate", {**SYM, "dqn": {"lr": float("nan")}}, "dqn.lr: must be a finite number"),
    ("inf gamma", {**SYM, "dqn": {"gamma": float("inf")}}, "dqn.gamma: must be a finite number"),
    ("fractional epochs", {**SYM, "stop": {"epochs": 2.5}}, "stop.epochs: must be int, got 2.5"),
    ("seed out of range", {**SYM, "seeds": [2**31]}, "seeds[0]: must be <= 2147483647"),
    ("empty channel list", {**ILP, "model": {"kb_channels": []}}, "model.kb_channels: needs at least 1 item"),
    ("string in a schedule", {**SYM, "dqn": {"epsilon": [[0, "high"]]}}, "dqn.epsilon[0][1]: must be float"),
    ("fractional timestep", {**SYM, "dqn": {"epsilon": [[0, 0.9], [10.5, 0.1]]}}, "whole numbers"),
    ("schedule pairs", {**SYM, "dqn": {"epsilon": [[0, 0.9, 1]]}}, "[timestep, epsilon] pairs"),
    ("empty name", {**SYM, "name": ""}, "name: must not be empty"),
    ("null number", {**SYM, "dqn": {"lr": None}}, "dqn.lr: must be float, got null"),
]


@pytest.mark.parametrize(("spec", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_typed_spec_errors(tmp_path, capsys, spec, message):
    assert message in error_of(tmp_path, capsys, yaml.safe_dump(spec))


def test_yaml_number_trap_says_how_to_write_it(tmp_path, capsys):
    # YAML 1.1 reads `1e-4` (no decimal point) as a string
    err = error_of(tmp_path, capsys, "name: t\nkind: symdqn\ndqn:\n  lr: 1e-4\n")
    assert "dqn.lr: must be float, got str '1e-4'" in err and "1.0e-4" in err


@pytest.mark.parametrize("kind", kind_names())
def test_nsrl_spec_lists_every_key_with_help(kind, capsys):
    assert main(["spec", kind]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["key", "type", "default", "range"]
    keys = [line.split()[0] for line in lines[1:]]
    assert {"name", "kind", "seeds", "resources.cpus_per_trial"} <= set(keys)
    assert all(len(line.split()) >= 3 for line in lines[1:])


@pytest.mark.parametrize("kind", kind_names())
def test_nsrl_spec_json_schema(kind, capsys):
    assert main(["spec", kind, "--json-schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["type"] == "object" and "seeds" in schema["properties"]
    assert schema["additionalProperties"] is False


def test_nsrl_spec_unknown_kind_is_one_line(capsys):
    assert main(["spec", "symdq"]) == 2
    assert "did you mean 'symdqn'?" in capsys.readouterr().err
