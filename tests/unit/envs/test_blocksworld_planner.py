"""pyperplan-based optimal planner: optimality, goal reaching for all five tasks, plan cache (no Ray)."""

import numpy as np
import pytest

from rllib_nsrl.envs.blocksworld import BlocksWorldEnv, optimal_action
from rllib_nsrl.envs.blocksworld.encoding import action_name, goal_literals, towers_to_literals
from rllib_nsrl.envs.blocksworld.planner import BlocksWorldPlanner


@pytest.fixture(scope="module")
def planner3():
    return BlocksWorldPlanner(3)


@pytest.mark.parametrize(
    ("initial", "goal", "length"),
    [
        (((0, 1, 2),), ((2, 1, 0),), 6),  # reverse a tower: unstack+putdown, unstack+stack, pickup+stack
        (((0, 2), (1,)), ((2, 1, 0),), 6),  # Sussman anomaly: C on A; goal A on B on C
        (((0,), (1,), (2,)), ((1, 0),), 2),  # pick up b0, stack on b1
        (((0, 1), (2,)), ((0,), (2,)), 0),  # goal already holds (b1 is free)
    ],
)
def test_hand_checked_optimal_lengths(planner3, initial, goal, length):
    plan = planner3.plan(towers_to_literals(initial), goal_literals(goal))
    assert len(plan) == length


def test_sussman_plan(planner3):
    plan = planner3.plan(towers_to_literals(((0, 2), (1,))), goal_literals(((2, 1, 0),)))
    assert [action_name(a, 3) for a in plan] == [
        "Unstack(b2, b0)",
        "PutDown(b2)",
        "PickUp(b1)",
        "Stack(b1, b2)",
        "PickUp(b0)",
        "Stack(b0, b1)",
    ]


@pytest.mark.parametrize("task", range(5))
def test_planner_reaches_goal_for_every_task(task):
    env = BlocksWorldEnv(task=task)
    planner = BlocksWorldPlanner(6)
    for seed in range(3):
        env.reset(seed=seed)
        length = len(planner.plan(env.state))
        for _ in range(length):
            _, reward, term, trunc, _ = env.step(planner.optimal_action(env.state))
        assert term and not trunc and reward == pytest.approx(99.9)
    assert planner.stats()["searches"] == 3  # following a plan only hits the cache
    env.close()


def test_default_search_is_as_short_as_bfs_on_random_reachable_states():
    """The fast A* heuristic is admissible: same lengths as breadth-first search (held blocks included)."""
    env = BlocksWorldEnv(num_blocks=5, task=4)
    fast, bfs = BlocksWorldPlanner(5), BlocksWorldPlanner(5, search="bfs")
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    held = 0
    for k in range(60):
        if k % 10 == 0:
            env.reset(options={"goal": env.task.sample(rng, 5) if k % 20 else ((0, 1), (2, 3))})
        env.step(int(rng.choice(env.valid_actions())))
        held += any(lit.predicate.name == "holding" for lit in env.state.literals)
        assert len(fast.plan(env.state)) == len(bfs.plan(env.state))
    assert held > 0
    env.close()


def test_cache_and_module_level_entry_point():
    env = BlocksWorldEnv(task=3)
    env.reset(seed=5)
    p = BlocksWorldPlanner(6)
    first = p.plan(env.state)
    assert p.plan(env.state.literals, env.goal) == first and p.stats()["searches"] == 1
    assert optimal_action(env.state) == first[0] == env.optimal_action()
    with pytest.raises(ValueError, match="already holds"):
        p.optimal_action(towers_to_literals(((0,), (1,), (2,), (3,), (4,), (5,))), goal_literals(((0,),)))
    env.close()
