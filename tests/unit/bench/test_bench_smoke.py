"""`nsrl bench`: each benchmark runs on a tiny budget and prints one well-formed JSON line.

Speed is never asserted here (issue 4): only that the figures exist, are consistent and parse.
"""

import json
import math

import pytest

from rllib_nsrl.bench import JSON_PREFIX, run_bench
from rllib_nsrl.bench.plain_dqn import PlainDuelingDQN
from rllib_nsrl.experiments.spec import validate_spec


def bench_json(out: str) -> dict:
    lines = [line for line in out.splitlines() if line.startswith(JSON_PREFIX)]
    assert len(lines) == 1, out
    return json.loads(lines[0][len(JSON_PREFIX) :])


def test_env_bench_prints_table_and_json(capsys):
    assert run_bench("env", seconds=0.05, seed=0) == 0
    out = capsys.readouterr().out
    res = bench_json(out)
    assert "ShapesGridEnv" in out and res["bench"] == "env"
    assert set(res["envs"]) == {"shapes_grid", "shapes_grid_render", "blocksworld", "blocksworld_reset"}
    for rec in res["envs"].values():
        assert rec["steps"] >= 1 and rec["seconds"] > 0
        assert math.isclose(rec["steps_per_s"], rec["steps"] / rec["seconds"])


def test_unknown_benchmark_raises():
    with pytest.raises(ValueError, match="unknown benchmark"):
        run_bench("nope", seconds=0.01)


def test_plain_loop_follows_the_update_schedule():
    dqn = validate_spec({"name": "t", "kind": "symdqn"})["dqn"]
    dqn = {**dqn, "learning_starts": 4, "target_update_freq": 5}
    agent = PlainDuelingDQN({"max_steps": 6}, dqn, seed=0)
    before = {k: v.clone() for k, v in agent.target.state_dict().items()}
    for _ in range(10):
        agent.step()
    assert agent.env_steps == 10 and agent.updates == 10 - 4 + 1  # 1 update per step once learning starts
    target, online = agent.target.state_dict(), agent.q.state_dict()
    assert all(v.equal(online[k]) for k, v in target.items())  # copied at steps 5 and 10
    assert any(not v.equal(before[k]) for k, v in target.items())
    assert 0.05 <= agent.epsilon() <= 0.95


@pytest.mark.ray
def test_train_bench_json_is_well_formed():
    # No `ray_session` fixture: the bench starts (and stops) its own loopback Ray with address="local"
    # unless one is already initialised, so it never attaches to another process's cluster.
    from rllib_nsrl.bench.train_bench import RATIOS, default_variants, format_train_table, run_train_bench

    tiny = {"env": {"config": {"max_steps": 6}}, "dqn": {"learning_starts": 4}}
    res = run_train_bench(seconds=0.02, seed=0, rounds=2, spec_over=tiny)
    assert list(res["variants"]) == list(default_variants())  # lean and rllib loops side by side
    for rec in res["variants"].values():
        assert rec["updates"] >= 0 and rec["env_steps"] > 0 and rec["seconds"] > 0
        assert math.isclose(rec["updates_per_s"], rec["updates"] / rec["seconds"])
        assert len(rec["windows"]) == 2
    assert set(res["ratios"]) == set(res["ratios_per_round"]) == {key for key, _, _ in RATIOS}
    for key, per_round in res["ratios_per_round"].items():
        assert len(per_round) == 2 and all(r is None or r > 0 for r in per_round), (key, per_round)
    table = format_train_table(res)
    assert "b/a" in table and "lean loop / rllib loop" in table
    json.loads(json.dumps(res))  # the JSON line is exactly this dict


@pytest.mark.ray
def test_quality_fingerprint_is_reproducible_and_has_the_symbolic_metrics():
    from rllib_nsrl.bench.quality import format_quality_table, run_quality_bench

    tiny = {"env": {"config": {"max_steps": 8}}, "epoch": {"train_episodes": 3, "eval_episodes": 2}}
    first = run_quality_bench(epochs=2, seed=3, spec_over=tiny)
    again = run_quality_bench(epochs=2, seed=3, spec_over=tiny)
    assert [row["epoch"] for row in first["epochs"]] == [1, 2]
    for key in ("ltn_sat_A1_A3", "ltn_sat_A4", "reward_pred_mse", "dqn_loss", "eval_return"):
        assert key in first["epochs"][-1], key
    assert first == again  # same seed on CPU, same numbers
    assert "ltn_sat_A1_A3" in format_quality_table(first)
