"""`nsrl analyze` on run directories with damaged files: the analysis goes on, and every problem is one
line naming the trial and what was skipped; a damaged spec file is a one-line error (exit 2)."""

import json
import shutil
from pathlib import Path

import pytest

from rllib_nsrl.cli import main

LEGACY = Path(__file__).parents[2] / "data" / "legacy_runs"


@pytest.fixture
def run(tmp_path):
    run_dir = tmp_path / "symdqn"
    shutil.copytree(LEGACY / "symdqn_legacy", run_dir)
    return run_dir


def trial(run_dir, prefix):
    (path,) = run_dir.glob(f"{prefix}_*")
    return path


def analyze(run_dir, tmp_path, capsys):
    code = main(["analyze", str(run_dir), "--out", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, [line for line in err.splitlines() if line]


def test_garbage_and_cut_lines_are_named_by_trial_and_line(run, tmp_path, capsys):
    result = trial(run, "DuelDQN") / "result.json"
    first = json.loads(result.read_text().splitlines()[0])
    lines = [json.dumps(first), "\x00\x01garbage", json.dumps({**first, "training_iteration": 3})]
    result.write_text("\n".join(lines) + '\n{"training_iteration": 9, "evalu')
    code, err = analyze(run, tmp_path, capsys)
    assert code == 0 and (tmp_path / "out" / "summary.md").is_file()
    name = trial(run, "DuelDQN").name
    assert f"nsrl: trial {name}: skipped 2 damaged line(s) of result.json (line 2, 4)" in err
    assert f"nsrl: trial {name}: epoch(s) 2 missing from result.json" in err
    assert len(err) == 2


def test_an_empty_result_file_and_a_garbage_params_file(run, tmp_path, capsys):
    (trial(run, "DuelDQN") / "result.json").write_bytes(b"")
    (trial(run, "SymDQN-AF") / "params.json").write_bytes(b"\xff\xfe not json")
    code, err = analyze(run, tmp_path, capsys)
    assert f"nsrl: trial {trial(run, 'DuelDQN').name}: no results in result.json yet" in err
    assert f"nsrl: skipped trial {trial(run, 'SymDQN-AF').name}: params.json is not readable JSON" in err[1]
    assert code in (0, 2) and len(err) <= 3  # nothing left to tabulate may be an error, in one line


@pytest.mark.parametrize(
    "content",
    [b"", b"{truncated", b"[1, 2]", b"\xff\xfe\x00", b'{"kind": 3}'],
    ids=["empty", "cut", "list", "binary", "kind"],
)
def test_a_damaged_spec_file_is_one_line_and_exit_2(run, tmp_path, capsys, content):
    (run / "nsrl_spec.json").write_bytes(content)
    code, err = analyze(run, tmp_path, capsys)
    assert code == 2 and len(err) == 1 and str(run / "nsrl_spec.json") in err[0]
    assert not (tmp_path / "out").exists()
