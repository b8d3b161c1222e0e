"""Tensor encoding, ground-action indexing and the symbolic mask against PDDLGym (no Ray)."""

import numpy as np
import pytest
from pddlgym.core import InvalidAction, PDDLEnv, get_successor_state

from rllib_nsrl.envs.blocksworld import BlocksWorldEnv
from rllib_nsrl.envs.blocksworld.encoding import (
    BINARY,
    GOAL_BINARY,
    GOAL_UNARY,
    NULLARY,
    UNARY,
    action_index,
    action_name,
    decode_goal,
    decode_state,
    encode_goal,
    encode_state,
    ground_actions,
    num_actions,
    towers_to_literals,
    valid_action_mask,
)
from rllib_nsrl.envs.blocksworld.pddl_files import write_problem


def _reachable_states(env: BlocksWorldEnv, count: int, seed: int) -> list:
    """PDDLGym states from random valid-action walks over fresh episodes."""
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    states = []
    while len(states) < count:
        states.append(env.state)
        _, _, term, trunc, _ = env.step(int(rng.choice(env.valid_actions())))
        if term or trunc:
            env.reset()
    return states


@pytest.fixture(scope="module")
def env():
    e = BlocksWorldEnv(task=4, max_steps=40)
    yield e
    e.close()


@pytest.mark.parametrize("n", [1, 3, 6])
def test_ground_actions_fixed_order(n):
    acts = ground_actions(n)
    assert len(acts) == num_actions(n) == 2 * n * n + 2 * n
    assert [action_index(a, n) for a in acts] == list(range(len(acts)))
    assert action_name(0, n) == "PickUp(b0)" and action_name(n, n) == "PutDown(b0)"
    if n > 1:
        assert action_name(2 * n + 1, n) == "Stack(b0, b1)"
        assert action_name(2 * n + n * n + n, n) == "Unstack(b1, b0)"


def test_state_and_goal_round_trip(env):
    states = _reachable_states(env, 200, seed=1)
    assert any(any(lit.predicate.name == "holding" for lit in s.literals) for s in states)
    for s in states:
        t = encode_state(s.literals, 6)
        assert t[NULLARY].shape == (2,) and t[UNARY].shape == (6, 3) and t[BINARY].shape == (6, 6, 1)
        assert all(v.dtype == np.float32 and set(np.unique(v)) <= {0.0, 1.0} for v in t.values())
        assert decode_state(t[NULLARY], t[UNARY], t[BINARY]) == s.literals
        goal = frozenset(s.goal.literals)
        g = encode_goal(goal, 6)
        assert decode_goal(g[GOAL_UNARY], g[GOAL_BINARY]) == goal


def test_tensor_layout():
    lits = towers_to_literals(((2, 0),), holding=1)
    t = encode_state(lits, 3)
    np.testing.assert_array_equal(t[NULLARY], [0, 1])  # HandFull
    np.testing.assert_array_equal(t[UNARY][:, 0], [0, 0, 1])  # OnTable(b2)
    np.testing.assert_array_equal(t[UNARY][:, 1], [1, 0, 0])  # Clear(b0)
    np.testing.assert_array_equal(t[UNARY][:, 2], [0, 1, 0])  # Holding(b1)
    assert t[BINARY][0, 2, 0] == 1 and t[BINARY].sum() == 1  # On(b0, b2)


def test_mask_equals_pddlgym_valid_actions(env, tmp_path):
    """For many reachable states: symbolic mask == PDDLGym's valid ground literals (LiteralActionSpace)."""
    states = _reachable_states(env, 300, seed=2)
    (tmp_path / "p").mkdir()
    write_problem(tmp_path / "p" / "p0.pddl", 6, states[0].literals, states[0].goal.literals)
    ref = PDDLEnv(
        str(env.domain_file), str(tmp_path / "p"), operators_as_actions=True, dynamic_action_space=True
    )
    ref.reset()
    for s in states:
        mask = valid_action_mask(s.literals, 6)
        accepted = {action_index(a, 6) for a in ref.action_space.all_ground_literals(s)}
        assert set(np.flatnonzero(mask)) == accepted
        assert mask.dtype == np.int8 and 1 <= mask.sum() <= 6 + 6


def test_mask_equals_actions_that_change_the_state(env):
    """Independent check: try every ground action on the state and see whether PDDLGym applies it."""
    domain = env._pddl.domain
    for s in _reachable_states(env, 25, seed=3):
        applied = set()
        for k, act in enumerate(ground_actions(6)):
            try:
                nxt = get_successor_state(s, act, domain, raise_error_on_invalid_action=True)
            except InvalidAction:
                continue
            assert nxt.literals != s.literals
            applied.add(k)
        assert set(np.flatnonzero(valid_action_mask(s.literals, 6))) == applied


def test_same_block_slots_never_valid(env):
    diag = [2 * 6 + i * 6 + i for i in range(6)] + [2 * 6 + 36 + i * 6 + i for i in range(6)]
    for s in _reachable_states(env, 100, seed=4):
        assert not valid_action_mask(s.literals, 6)[diag].any()
