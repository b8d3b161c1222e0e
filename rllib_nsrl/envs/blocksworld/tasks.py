"""The five BlocksWorld goal-configuration classes (NLM lifelong paper, §5.1 and Appendix B;
docs/systems/blocksworld.md#tasks).

A configuration is ``Towers``: a tuple of towers, each a tuple of block indices from bottom to top.
A goal is a configuration of only the *constrained* blocks; it becomes the PDDL goal conjunction
``OnTable(tower[0])`` and ``On(tower[k], tower[k-1])`` for every tower (see ``encoding.goal_literals``).

Interpretation of the paper's task list ("k blocks on table, m blocks stacked, 1 block free"):

* **on table** — ``OnTable(X)``: the block is the bottom of a goal tower.
* **stacked** — ``On(X, Y)`` where ``Y`` is another *constrained* block: the goal towers are built on the
  on-table blocks, so there are exactly ``k`` towers holding ``k + m`` blocks.
* **free** — unconstrained: no goal literal mentions the block, so it may lie anywhere (on the table, on top
  of a goal tower, or in the hand). Every block the task does not mention is free: with 6 blocks task 3
  ("2 on table, 1 stacked, 1 free") constrains 3 blocks and leaves 3 free, the others leave exactly 1.
* **block identity free** — a goal is sampled per episode *uniformly over all labelled configurations* of
  the class (Appendix B: "generate possible configurations that meet this requirement and then sample"):
  e.g. task 2 ("3 on table, 2 stacked") mixes towers of heights (3, 1, 1) and (2, 2, 1), and task 5
  ("1 on table, 4 stacked") is one tower of 5 of the 6 blocks (6·5·4·3·2 = 720 goals).
* The hand is not part of any goal (a held free block does not stop the goal from holding).

Tasks are indexed 0–4 in the paper's order (its figures call them "Task 0" … "Task 4").

Initial states (``random_towers``) are uniform over all hand-empty configurations of all blocks: the
number of towers ``t`` is drawn with probability ∝ the Lah number L(n, t), then a random block order is
cut at ``t - 1`` uniformly chosen places.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

Towers = tuple[tuple[int, ...], ...]


def _partitions(total: int, parts: int, largest: int | None = None) -> list[tuple[int, ...]]:
    """Non-increasing tuples of ``parts`` positive ints summing to ``total``."""
    largest = total if largest is None else largest
    if parts == 0:
        return [()] if total == 0 else []
    out = []
    for first in range(min(largest, total - parts + 1), 0, -1):
        out.extend((first, *rest) for rest in _partitions(total - first, parts - 1, first))
    return out


@dataclass(frozen=True)
class GoalClass:
    """Goal configurations with ``on_table`` goal towers holding ``on_table + stacked`` blocks."""

    name: str
    on_table: int
    stacked: int

    @property
    def num_constrained(self) -> int:
        """Number of blocks the goal constrains, ``on_table + stacked``."""
        return self.on_table + self.stacked

    def shapes(self) -> list[tuple[int, ...]]:
        """Tower heights (non-increasing) that the class allows."""
        return _partitions(self.num_constrained, self.on_table)

    def _shape_weights(self) -> np.ndarray:
        # Labelled configurations of one shape: c! / prod(multiplicity!) (equal-height towers are unordered).
        c = self.num_constrained
        w = [math.factorial(c) / math.prod(map(math.factorial, Counter(s).values())) for s in self.shapes()]
        return np.asarray(w, dtype=np.float64)

    def count(self, num_blocks: int) -> int:
        """Number of distinct goals with ``num_blocks`` blocks."""
        self._check(num_blocks)
        return int(round(math.comb(num_blocks, self.num_constrained) * self._shape_weights().sum()))

    def sample(self, rng: np.random.Generator, num_blocks: int) -> Towers:
        """A goal drawn uniformly over all labelled configurations of this class."""
        self._check(num_blocks)
        weights = self._shape_weights()
        shape = self.shapes()[int(rng.choice(len(weights), p=weights / weights.sum()))]
        blocks = [int(b) for b in rng.permutation(num_blocks)[: self.num_constrained]]
        towers, start = [], 0
        for height in shape:
            towers.append(tuple(blocks[start : start + height]))
            start += height
        return tuple(towers)

    def holds(self, goal: Towers) -> bool:
        """Whether ``goal`` belongs to this class."""
        heights = sorted((len(t) for t in goal), reverse=True)
        return tuple(heights) in self.shapes() and len({b for t in goal for b in t}) == self.num_constrained

    def _check(self, num_blocks: int) -> None:
        if num_blocks < self.num_constrained:
            raise ValueError(
                f"task {self.name!r} constrains {self.num_constrained} blocks; got num_blocks={num_blocks}"
            )


TASKS: tuple[GoalClass, ...] = (
    GoalClass("5_table", on_table=5, stacked=0),
    GoalClass("3_table_2_stacked", on_table=3, stacked=2),
    GoalClass("2_table_1_stacked", on_table=2, stacked=1),
    GoalClass("4_table_1_stacked", on_table=4, stacked=1),
    GoalClass("1_table_4_stacked", on_table=1, stacked=4),
)


def get_task(task: int | str | GoalClass) -> GoalClass:
    """Task by paper index (0–4), by name, or passed through."""
    if isinstance(task, GoalClass):
        return task
    if isinstance(task, str):
        for t in TASKS:
            if t.name == task:
                return t
        raise ValueError(f"unknown task name {task!r}; known: {[t.name for t in TASKS]}")
    if not 0 <= int(task) < len(TASKS):
        raise ValueError(f"task index must be in 0..{len(TASKS) - 1}, got {task}")
    return TASKS[int(task)]


def _lah(n: int, k: int) -> int:
    return math.comb(n - 1, k - 1) * math.factorial(n) // math.factorial(k)


def random_towers(rng: np.random.Generator, num_blocks: int) -> Towers:
    """All ``num_blocks`` blocks in towers, uniform over hand-empty configurations."""
    weights = np.asarray([_lah(num_blocks, k) for k in range(1, num_blocks + 1)], dtype=np.float64)
    num_towers = int(rng.choice(num_blocks, p=weights / weights.sum())) + 1
    order = [int(b) for b in rng.permutation(num_blocks)]
    cuts = sorted(int(c) for c in rng.choice(np.arange(1, num_blocks), size=num_towers - 1, replace=False))
    bounds = [0, *cuts, num_blocks]
    return tuple(tuple(order[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True))


def goal_satisfied(state: Towers, goal: Towers) -> bool:
    """Whether every goal tower is a bottom segment of some tower of ``state``."""
    bottoms = {t[0]: t for t in state if t}
    return all(g[0] in bottoms and bottoms[g[0]][: len(g)] == g for g in goal)
