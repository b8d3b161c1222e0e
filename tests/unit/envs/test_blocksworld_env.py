"""BlocksWorldEnv: gymnasium API, spaces, seeding, strict masking, rewards, PDDL file errors (no Ray)."""

import re
import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from rllib_nsrl.constants import ACTION_MASK
from rllib_nsrl.envs.blocksworld import ENV_ID, TASKS, BlocksWorldEnv, register
from rllib_nsrl.envs.blocksworld.encoding import OBS_KEYS
from rllib_nsrl.envs.blocksworld.pddl_files import DOMAIN_PDDL, load_domain, load_problem, problem_pddl
from rllib_nsrl.envs.blocksworld.tasks import goal_satisfied


@pytest.fixture
def env():
    e = BlocksWorldEnv(task=1)
    yield e
    e.close()


def test_check_env_with_warnings_as_errors():
    register()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        made = gymnasium.make(ENV_ID, task=2)
        check_env(made.unwrapped)  # has a spec: also checks the "ansi" render mode
        made.close()
        raw = BlocksWorldEnv(num_blocks=4, task=2)
        check_env(raw, skip_render_check=True)
        raw.close()


def test_declared_space_is_exactly_what_is_returned(env):
    obs, _ = env.reset(seed=0)
    space = env.observation_space
    assert set(space.spaces) == set(obs) == set(OBS_KEYS)
    for _ in range(30):
        for key, value in obs.items():
            assert value.shape == space[key].shape and value.dtype == space[key].dtype, key
        assert space.contains(obs)
        obs, _, term, trunc, _ = env.step(env.action_space.sample())
        if term or trunc:
            obs, _ = env.reset()
    assert env.action_space.n == 2 * 36 + 2 * 6


def test_seeding(env):
    def rollout(seed):
        obs, _ = env.reset(seed=seed)
        env.action_space.seed(seed)
        out = [obs]
        for _ in range(10):
            obs, *_ = env.step(env.action_space.sample())
            out.append(obs)
        return out

    a, b, c = rollout(7), rollout(7), rollout(8)
    assert all(np.array_equal(x[k], y[k]) for x, y in zip(a, b, strict=True) for k in x)
    assert not all(np.array_equal(x[k], y[k]) for x, y in zip(a, c, strict=True) for k in x)
    obs, _ = env.reset(seed=None)
    assert env.observation_space.contains(obs)


@pytest.mark.parametrize("task", range(5))
def test_goals_belong_to_task_and_initial_state_is_not_a_goal(task):
    e = BlocksWorldEnv(task=task)
    for seed in range(15):
        obs, _ = e.reset(seed=seed)
        assert TASKS[task].holds(e.goal_towers)
        assert not e.goal <= e.state.literals
        assert int(obs["goal_unary"].sum()) == TASKS[task].on_table
        assert int(obs["goal_binary"].sum()) == TASKS[task].stacked
    e.close()


def test_invalid_action_raises_naming_it(env):
    obs, _ = env.reset(seed=0)
    masked = int(np.flatnonzero(obs[ACTION_MASK] == 0)[0])
    before = env.state
    name = r"(PickUp|PutDown|Stack|Unstack)\(b\d(, b\d)?\)"
    with pytest.raises(ValueError, match=rf"action \d+ = {name} is not valid"):
        env.step(masked)
    assert env.state == before
    with pytest.raises(ValueError, match=r"Stack\(b0, b0\)"):
        env.step(2 * 6)  # X = Y slot: never valid
    with pytest.raises(ValueError, match="not in Discrete"):
        env.step(env.action_space.n)


def test_reward_termination_and_truncation():
    e = BlocksWorldEnv(task=0, max_steps=3)
    # Goal: 5 blocks on the table; start: b4 on b5, everything else on the table.
    start, goal = ((0,), (1,), (2,), (3,), (5, 4)), ((0,), (1,), (2,), (3,), (4,))
    e.reset(seed=0, options={"initial": start, "goal": goal})
    _, r, term, trunc, info = e.step(2 * 6 + 36 + 4 * 6 + 5)  # Unstack(b4, b5)
    assert (r, term, trunc, info["is_success"]) == (pytest.approx(-0.1), False, False, False)
    _, r, term, trunc, info = e.step(6 + 4)  # PutDown(b4)
    assert (r, term, trunc, info["is_success"]) == (pytest.approx(99.9), True, False, True)
    e.reset(seed=0, options={"initial": start, "goal": goal})
    for k in range(3):  # pick up and put back b0: never the goal
        _, r, term, trunc, _ = e.step(0 if k % 2 == 0 else 6)
        assert r == pytest.approx(-0.1) and not term and trunc == (k == 2)
    e.close()


def test_random_initial_states_cover_holding_free_configurations(env):
    towers = set()
    for seed in range(40):
        env.reset(seed=seed)
        assert any(lit.predicate.name == "handempty" for lit in env.state.literals)
        towers.add(len([lit for lit in env.state.literals if lit.predicate.name == "ontable"]))
    assert len(towers) >= 4
    assert goal_satisfied(((1, 2), (0,)), ((1,),)) and not goal_satisfied(((2, 1),), ((1,),))


def _write(path, text):
    path.write_text(text)
    return path


def test_malformed_problem_reports_file_and_line(tmp_path):
    domain = load_domain(_write(tmp_path / "blocks.pddl", DOMAIN_PDDL))
    good = problem_pddl(3, [], []).splitlines()
    bad = good[:3] + ["    (onn b0 b1)"] + good[3:]
    path = _write(tmp_path / "bad1.pddl", "\n".join(bad))
    with pytest.raises(ValueError, match=re.escape(f"{path}:4: unknown predicate 'onn'")):
        load_problem(path, domain)
    path = _write(tmp_path / "bad2.pddl", "\n".join(good[:3] + ["    (on b0 b7)"] + good[3:]))
    with pytest.raises(ValueError, match=re.escape(f"{path}:4: unknown object 'b7'")):
        load_problem(path, domain)
    path = _write(tmp_path / "bad3.pddl", "\n".join(good[:3] + ["    (on b0 b1"] + good[3:]))
    with pytest.raises(ValueError, match=re.escape(f"{path}:4: a ')' is missing here")):
        load_problem(path, domain)
    # Passes the light check, fails inside PDDLGym's parser ("-block" is not "- block"): line found from it.
    path = _write(
        tmp_path / "bad4.pddl",
        "\n".join([good[0], "  (:objects b0 b1 -block)", *good[2:]]).replace("(:init", "(:init (ontable b0)"),
    )
    with pytest.raises(ValueError, match=re.escape(f"{path}:2: PDDLGym rejected the file")):
        load_problem(path, domain)


def test_malformed_domain_reports_file_and_line(tmp_path):
    text = DOMAIN_PDDL.replace("(and (holding ?x) (handfull))", "(and (holding ?x ?x) (handfull))")
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "(holding ?x ?x)" in t)
    path = _write(tmp_path / "blocks.pddl", text)
    with pytest.raises(ValueError, match=re.escape(f"{path}:{line}: predicate 'holding' takes 1 argument")):
        BlocksWorldEnv(domain_file=path)
    path = _write(tmp_path / "blocks2.pddl", DOMAIN_PDDL.replace("(handempty))", "(handempty ?z))", 1))
    with pytest.raises(ValueError, match=r"blocks2\.pddl:\d+: "):
        load_domain(path)


def test_unknown_setting_rejected():
    with pytest.raises(ValueError, match="unknown BlocksWorldEnv settings"):
        BlocksWorldEnv({"num_blockz": 6})


def test_unmasked_sample_is_valid_even_when_drawn_before_a_reset(env):
    env.reset(seed=0)
    for _ in range(20):
        assert env.valid_actions().tolist().count(int(env.action_space.sample())) == 1
    stale = env.action_space.sample()
    env.reset(seed=1)
    first, *_ = env.step(stale)  # redrawn among the new state's valid actions with the same quantile
    env.reset(seed=1)
    again, *_ = env.step(stale)
    assert all(np.array_equal(first[k], again[k]) for k in first)


def test_goal_class_counts_and_uniform_shapes():
    assert [t.count(6) for t in TASKS] == [6, 720, 120, 120, 720]
    rng = np.random.default_rng(0)
    heights = [max(map(len, TASKS[1].sample(rng, 6))) for _ in range(2000)]
    assert 0.45 < heights.count(3) / len(heights) < 0.55  # (3,1,1) and (2,2,1) have 60 labellings each
    with pytest.raises(ValueError, match="constrains 5 blocks"):
        BlocksWorldEnv(num_blocks=4, task=0)
