"""Optimal BlocksWorld plans with pyperplan, for labelling offline data
(docs/systems/blocksworld.md#offline-data: planner + exploration 0.8).

The domain and one problem are written as PDDL and parsed/grounded once per ``num_blocks`` with pyperplan
(all ``2n² + 2n`` operators kept: no relevance pruning, so one grounding serves every state and goal).
Each query builds a ``pyperplan.task.Task`` with the query's initial state and goal over those operators.

Search (all actions cost 1; pyperplan's A* re-opens nodes, so any admissible heuristic gives a shortest
plan). Mean time per fresh search, 6 blocks, random starts over the five tasks, 2 busy cores:

* ``"astar_mustmove"`` (default) — pyperplan A* with ``MustMoveHeuristic`` (admissible, below): ≈ 1.5–3 ms.
  Labelling every transition of an ε = 0.8 walk costs ≈ 0.4–1 ms per call with the cache (≈ 1/3 of the
  calls search), so 50 000 labelled transitions per task take ≈ 1–1.5 min with env steps included.
* ``"bfs"`` — pyperplan breadth-first search (optimal for unit costs): ≈ 45–75 ms. The reference the
  tests compare plan lengths against.
* ``"astar_lmcut"`` / ``"astar_hmax"`` — A* with pyperplan's LM-cut / h^max: ≈ 0.3 s / 0.7 s.

Every suffix of an optimal plan is optimal from the state it starts in, so each search caches the
remaining plan for *every* state along it: following the plan, or returning to a state seen before under
the same goal, costs a dictionary lookup. The cache is keyed by (state facts, goal facts) and bounded.
Operators are sorted by action index, so ties between equally short plans break the same way in every
process (pyperplan grounds from hash-ordered sets).
"""

from __future__ import annotations

import functools
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from pddlgym.structs import Literal, LiteralConjunction, State
from pyperplan import grounding
from pyperplan.heuristics.heuristic_base import Heuristic
from pyperplan.heuristics.lm_cut import LmCutHeuristic
from pyperplan.heuristics.relaxation import hMaxHeuristic
from pyperplan.pddl.parser import Parser
from pyperplan.search.a_star import astar_search
from pyperplan.search.breadth_first_search import breadth_first_search
from pyperplan.task import Task

from rllib_nsrl.envs.blocksworld.encoding import (
    BLOCK,
    PREDICATES,
    action_index,
    goal_literals,
    towers_to_literals,
)
from rllib_nsrl.envs.blocksworld.pddl_files import write_domain, write_problem

SEARCHES = ("astar_mustmove", "bfs", "astar_lmcut", "astar_hmax")

StateLike = State | Iterable[Literal]
GoalLike = LiteralConjunction | Iterable[Literal] | None


def _facts(literals: Iterable[Literal]) -> frozenset[str]:
    return frozenset(lit.pddl_str() for lit in literals)


def _split(state: StateLike, goal: GoalLike) -> tuple[frozenset[str], frozenset[str]]:
    if isinstance(state, State):
        goal = state.goal if goal is None else goal
        state = state.literals
    if goal is None:
        raise ValueError("goal is required unless state is a PDDLGym State carrying one")
    if isinstance(goal, LiteralConjunction):
        goal = goal.literals
    return _facts(state), _facts(goal)


class MustMoveHeuristic(Heuristic):
    """Admissible BlocksWorld heuristic: 2 actions per block that must still move (1 if it is held).

    A goal block is *well placed* if it sits on its goal support (table or goal block) and that support is
    well placed. Blocks that must move at least once: goal blocks not well placed, any block above one of
    them, and any block on a well-placed block whose goal block above is different (and all above it).
    Each action moves one block and a move takes a pick-up/unstack plus a put-down/stack, so
    ``h = 2·|must move| − [held block must move]``, plus 1 when the hand holds a block that need not move
    while others must (it has to be put somewhere first). ``h = 0`` exactly when the goal holds.
    """

    def __init__(self, task: Task):
        self.goal_below: dict[str, str] = {}
        for fact in task.goals:
            pred, *args = fact.strip("()").split()
            self.goal_below[args[0]] = args[1] if pred == "on" else "TABLE"
        self.goal_above = {y: x for x, y in self.goal_below.items() if y != "TABLE"}

    def __call__(self, node) -> float:
        """Heuristic value (≥ 0, admissible) of a search node's state; 0 exactly when the goal holds."""
        below, held = {}, None
        for fact in node.state:
            pred, *args = fact.strip("()").split()
            if pred == "on":
                below[args[0]] = args[1]
            elif pred == "ontable":
                below[args[0]] = "TABLE"
            elif pred == "holding":
                held = args[0]
        above = {y: x for x, y in below.items() if y != "TABLE"}
        placed: dict[str, bool] = {}

        def well_placed(x: str) -> bool:
            if x not in placed:
                goal = self.goal_below[x]
                placed[x] = below.get(x) == goal and (goal == "TABLE" or well_placed(goal))
            return placed[x]

        must = set()

        def move_with_above(x: str | None) -> None:
            while x is not None and x not in must:
                must.add(x)
                x = above.get(x)

        for x in self.goal_below:
            if not well_placed(x):
                move_with_above(x)
            elif x in self.goal_above and above.get(x) not in (None, self.goal_above[x]):
                move_with_above(above[x])
        if not must:
            return 0.0
        return 2.0 * len(must) - (held in must) + (held is not None and held not in must)


class BlocksWorldPlanner:
    """Shortest plans (as action indices of ``encoding.ground_actions``) from a state to a goal."""

    def __init__(self, num_blocks: int = 6, search: str = "astar_mustmove", max_cache_entries: int = 500_000):
        if search not in SEARCHES:
            raise ValueError(f"search must be one of {SEARCHES}, got {search!r}")
        self.num_blocks, self.search, self.max_cache_entries = num_blocks, search, max_cache_entries
        with tempfile.TemporaryDirectory(prefix="nsrl_bw_plan_") as tmp:
            domain_file = write_domain(tmp)
            init, goal = towers_to_literals((tuple(range(num_blocks)),)), goal_literals(((0,),))
            problem_file = write_problem(Path(tmp) / "ground.pddl", num_blocks, init, goal)
            parser = Parser(str(domain_file), str(problem_file))
            problem = parser.parse_problem(parser.parse_domain())
        task = grounding.ground(
            problem, remove_statics_from_initial_state=False, remove_irrelevant_operators=False
        )
        index = {op.name: self._op_index(op.name) for op in task.operators}
        self._facts = task.facts
        self._operators = sorted(task.operators, key=lambda op: index[op.name])
        self._index = index
        self._cache: dict[tuple[frozenset[str], frozenset[str]], tuple[int, ...]] = {}
        self.num_calls = self.num_searches = 0
        self.search_seconds = 0.0

    def _op_index(self, name: str) -> int:
        pred, *args = name.strip("()").split()
        return action_index(PREDICATES[pred](*[BLOCK(a) for a in args]), self.num_blocks)

    def _run_search(self, task: Task):
        if self.search == "bfs":
            return breadth_first_search(task)
        heuristics = {
            "astar_mustmove": MustMoveHeuristic,
            "astar_lmcut": LmCutHeuristic,
            "astar_hmax": hMaxHeuristic,
        }
        return astar_search(task, heuristics[self.search](task))

    def plan(self, state: StateLike, goal: GoalLike = None) -> list[int]:
        """Shortest action-index sequence reaching ``goal`` (``[]`` if it already holds).

        ``state``: a PDDLGym ``State`` (its ``goal`` is used when ``goal`` is None) or state literals;
        ``goal``: a ``LiteralConjunction`` or goal literals. Raises ``ValueError`` if unreachable.
        """
        self.num_calls += 1
        init, goals = _split(state, goal)
        cached = self._cache.get((init, goals))
        if cached is not None:
            return list(cached)
        start = time.perf_counter()
        solution = self._run_search(Task("bw", self._facts, init, goals, self._operators))
        self.search_seconds += time.perf_counter() - start
        self.num_searches += 1
        if solution is None:
            raise ValueError(f"goal {sorted(goals)} is unreachable from {sorted(init)}")
        plan = tuple(self._index[op.name] for op in solution)
        facts = init
        for k, op in enumerate(solution):
            self._store(facts, goals, plan[k:])
            facts = op.apply(facts)
        self._store(facts, goals, ())
        return list(plan)

    def _store(self, init: frozenset[str], goals: frozenset[str], plan: tuple[int, ...]) -> None:
        if len(self._cache) >= self.max_cache_entries:
            del self._cache[next(iter(self._cache))]  # oldest first (dicts keep insertion order)
        self._cache[(init, goals)] = plan

    def optimal_action(self, state: StateLike, goal: GoalLike = None) -> int:
        """First action of a shortest plan; ``ValueError`` if the goal already holds or is unreachable."""
        plan = self.plan(state, goal)
        if not plan:
            raise ValueError("the goal already holds: there is no optimal action to take")
        return plan[0]

    def stats(self) -> dict[str, float]:
        """Calls, searches actually run, cache size and mean search time in seconds."""
        return {
            "calls": self.num_calls,
            "searches": self.num_searches,
            "cache_entries": len(self._cache),
            "mean_search_s": self.search_seconds / max(self.num_searches, 1),
        }


@functools.cache
def default_planner(num_blocks: int) -> BlocksWorldPlanner:
    """One default planner (and plan cache) per block count and process."""
    return BlocksWorldPlanner(num_blocks)


def _num_blocks(state: StateLike, goal: GoalLike) -> int:
    if isinstance(state, State):
        return sum(obj.var_type == BLOCK for obj in state.objects)
    lits = list(state) + (list(goal.literals if isinstance(goal, LiteralConjunction) else goal or []))
    return 1 + max(int(v.name[1:]) for lit in lits for v in lit.variables)


def optimal_action(state: StateLike, goal: GoalLike = None) -> int:
    """Optimal action index from ``state`` to ``goal`` with the shared per-block-count planner."""
    return default_planner(_num_blocks(state, goal)).optimal_action(state, goal)
