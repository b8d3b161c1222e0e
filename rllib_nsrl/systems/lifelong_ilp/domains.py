"""Supervised ILP task sequences of L2ILP (lifelong learning of logic rules), with symbolic ground truth.

Each instance is a random world of n objects; inputs and targets are 0/1 predicate tensors
(`[B, n^r, C]` inputs per arity, `[B, n^r]` targets). Targets come from plain symbolic code (arithmetic on
the numbers, walks up the tree, BFS distances), never from a model. Object order is shuffled per instance.

Arithmetic (`Zero(X)`, `Succ(X, Y)`): the objects are the numbers 0..n−1. The paper uses 0..79, but
ternary predicates cost O(n^3) memory, so the default is n = 16 (2× test: 32). The numbers must start at 0:
in a window without 0, X + Y = Z cannot be told from Succ alone. Tasks, in order:
  1. Plus(X, Y, Z):       X + Y = Z.
  2. Minus(X, Y, Z):      X − Y = Z, i.e. Plus(Y, Z, X) — Plus with its variables permuted.
  3. SumIsMax(X, Y):      X + Y = N, N the largest number (the one without a successor):
                          ∃Z Plus(X, Y, Z) ∧ ¬∃W Succ(Z, W).
  4. SumExceedsMax(X, Y): X + Y > N, i.e. no number is the sum: ¬∃Z Plus(X, Y, Z).
The sum tasks compare a sum with a constant of the instance (N), so a model must reuse Plus. With
exclude-self a reduction over Z skips every tuple in which an object repeats: the witness Z = X (or Y),
needed only when the other number is 0 (a case Zero(·) covers), and all of the diagonal X = Y, where
∃Z Plus(X, X, Z) is always 0. So SumIsMax and SumExceedsMax cannot follow their rule on the diagonal
(16 of SumExceedsMax's 496 true atoms at n = 32): a small ceiling on their accuracy.

Tree (`IsParent(X, Y)`, X is the parent of Y): 40 nodes, grown breadth-first, every internal node gets
2 or 3 children (only the last may get fewer when the node budget runs out). Tasks, in order:
  IsRoot(X); HasOddEdges(X, Y): X is a proper ancestor of Y and the path X→Y has an odd number of edges;
  HasEvenEdges(X, Y): likewise with an even number (≥ 2); IsAncestor(X, Y): X is a proper ancestor of Y
  (= HasOddEdges ∨ HasEvenEdges, the reuse the sequence is built for).

Graph (`IsConnected(X, Y)` undirected, no self loops; `IsRed(X)`): 30 nodes, each edge present with
probability p ~ U[0.01, 0.1] drawn per graph, each node red with probability 0.3. Tasks, in order:
  AdjacentToRed(X): ∃Y IsConnected(X, Y) ∧ IsRed(Y); ExactConnectivity2(X, Y): shortest path X–Y has
  exactly 2 edges; ExactConnectivity2Red(X): ∃ red Y at shortest distance exactly 2;
  ExactConnectivity2MultipleRed(X): at least two such red Y.
"""

from __future__ import annotations

from collections import deque
from typing import NamedTuple

import numpy as np
import torch

TEST_SEED = 20_240_917  # held-out sets never depend on the training seed


class ILPBatch(NamedTuple):
    """inputs: per arity 0..A `[B, n^r, C_r]` float 0/1 or None; target: `[B, n^arity]` float 0/1."""

    inputs: list[torch.Tensor | None]
    target: torch.Tensor


def _check(value: str, choices, what: str) -> None:
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}; valid choices: {', '.join(choices)}")


# --------------------------------------------------------------------------------------------- arithmetic
def arithmetic_world(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Object i is the number `values[i]`; the values are a random permutation of 0..n−1."""
    return {"values": rng.permutation(n)}


def arithmetic_inputs(values: np.ndarray) -> list[np.ndarray | None]:
    """Input predicates `[None, Zero [n, 1], Succ [n, n, 1]]` (bool) of a world's values [n]."""
    zero = values == 0
    succ = values[None, :] == values[:, None] + 1  # succ[i, j]: values[j] = values[i] + 1
    return [None, zero[:, None], succ[:, :, None]]


def arithmetic_targets(values: np.ndarray) -> dict[str, np.ndarray]:
    """Targets (bool) of the arithmetic tasks: Plus, Minus `[n, n, n]`; SumIsMax, SumExceedsMax `[n, n]`."""
    x, y, z = values[:, None, None], values[None, :, None], values[None, None, :]
    top = values.max()
    pair_sum = values[:, None] + values[None, :]
    return {
        "Plus": x + y == z,
        "Minus": x - y == z,
        "SumIsMax": pair_sum == top,
        "SumExceedsMax": pair_sum > top,
    }


# --------------------------------------------------------------------------------------------------- tree
def random_tree(rng: np.random.Generator, n: int, min_children: int = 2, max_children: int = 3) -> np.ndarray:
    """Parent array of a random tree (root has parent −1), labels shuffled; grown breadth-first."""
    parent = np.full(n, -1)
    frontier, size = deque([0]), 1
    while size < n:
        node = frontier.popleft()
        for _ in range(min(int(rng.integers(min_children, max_children + 1)), n - size)):
            parent[size] = node
            frontier.append(size)
            size += 1
    label = rng.permutation(n)
    shuffled = np.full(n, -1)
    has_parent = parent >= 0
    shuffled[label[has_parent]] = label[parent[has_parent]]
    return shuffled


def tree_inputs(parent: np.ndarray) -> list[np.ndarray | None]:
    """Input predicates `[None, None, IsParent [n, n, 1]]` (bool; `[x, y]`: x is y's parent)."""
    n = len(parent)
    is_parent = np.zeros((n, n), dtype=bool)
    child = np.flatnonzero(parent >= 0)
    is_parent[parent[child], child] = True
    return [None, None, is_parent[:, :, None]]


def tree_targets(parent: np.ndarray) -> dict[str, np.ndarray]:
    """edges[x, y] = number of edges from x down to y when x is a proper ancestor of y (walks up from y)."""
    n = len(parent)
    edges = np.zeros((n, n), dtype=int)
    for y in range(n):
        x, k = parent[y], 1
        while x >= 0:
            edges[x, y] = k
            x, k = parent[x], k + 1
    ancestor = edges > 0
    return {
        "IsRoot": parent < 0,
        "HasOddEdges": ancestor & (edges % 2 == 1),
        "HasEvenEdges": ancestor & (edges % 2 == 0),
        "IsAncestor": ancestor,
    }


# -------------------------------------------------------------------------------------------------- graph
def random_graph(
    rng: np.random.Generator, n: int, p_range: tuple[float, float] = (0.01, 0.1), red_prob: float = 0.3
) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric bool adjacency [n, n] without self loops and bool red [n]."""
    p = rng.uniform(*p_range)
    upper = np.triu(rng.random((n, n)) < p, k=1)
    return upper | upper.T, rng.random(n) < red_prob


def shortest_paths(adj: np.ndarray) -> np.ndarray:
    """BFS distances [n, n] (number of edges), −1 where unreachable."""
    n = len(adj)
    neighbours = [np.flatnonzero(row) for row in adj]
    dist = np.full((n, n), -1)
    for source in range(n):
        dist[source, source] = 0
        queue = deque([source])
        while queue:
            u = queue.popleft()
            for v in neighbours[u]:
                if dist[source, v] < 0:
                    dist[source, v] = dist[source, u] + 1
                    queue.append(v)
    return dist


def graph_inputs(adj: np.ndarray, red: np.ndarray) -> list[np.ndarray | None]:
    """Input predicates `[None, IsRed [n, 1], IsConnected [n, n, 1]]` (bool)."""
    return [None, red[:, None], adj[:, :, None]]


def graph_targets(adj: np.ndarray, red: np.ndarray) -> dict[str, np.ndarray]:
    """Targets (bool) of the graph tasks: ExactConnectivity2 `[n, n]`, the three others `[n]`."""
    at_two = shortest_paths(adj) == 2
    red_at_two = (at_two & red[None, :]).sum(axis=1)
    return {
        "AdjacentToRed": (adj & red[None, :]).any(axis=1),
        "ExactConnectivity2": at_two,
        "ExactConnectivity2Red": red_at_two >= 1,
        "ExactConnectivity2MultipleRed": red_at_two >= 2,
    }


# ------------------------------------------------------------------------------------------------ domains
class ILPDomain:
    """One task sequence: a world sampler, its input predicates and its ordered target predicates."""

    def __init__(
        self,
        name: str,
        tasks: tuple[str, ...],
        arities: tuple[int, ...],
        input_channels: tuple[int, ...],
        default_n: int,
        sample,
        inputs,
        targets,
    ):
        self.name, self.tasks, self.default_n = name, tasks, default_n
        self.target_arity = dict(zip(tasks, arities, strict=True))
        self.input_channels = input_channels  # per arity 0..A
        self._sample, self._inputs, self._targets = sample, inputs, targets

    @property
    def max_arity(self) -> int:
        """Highest arity of any input or target predicate."""
        return max(max(self.target_arity.values()), len(self.input_channels) - 1)

    def make_batch(
        self, task: str, batch_size: int, rng: np.random.Generator, n: int | None = None
    ) -> ILPBatch:
        """`batch_size` fresh worlds of n objects (default `default_n`) with the `task` targets."""
        _check(task, self.tasks, f"{self.name} task")
        n = self.default_n if n is None else n
        worlds = [self._sample(rng, n) for _ in range(batch_size)]
        per_world = [self._inputs(*w) for w in worlds]
        inputs = [
            None
            if per_world[0][r] is None
            else torch.as_tensor(np.stack([p[r] for p in per_world]), dtype=torch.float32)
            for r in range(len(per_world[0]))
        ]
        target = np.stack([self._targets(*w)[task] for w in worlds])
        return ILPBatch(inputs, torch.as_tensor(target, dtype=torch.float32))

    def test_set(self, task: str, size: int, n: int | None = None, seed: int = TEST_SEED) -> ILPBatch:
        """The fixed held-out set of `task` for n objects: identical for every training run and mode."""
        _check(task, self.tasks, f"{self.name} task")
        n = self.default_n if n is None else n
        rng = np.random.default_rng([seed, self.tasks.index(task), n])
        return self.make_batch(task, size, rng, n)


def _arith_sample(rng, n):
    return (arithmetic_world(rng, n)["values"],)


def _tree_sample(rng, n):
    return (random_tree(rng, n),)


_DOMAINS = {
    "arithmetic": ILPDomain(
        "arithmetic",
        ("Plus", "Minus", "SumIsMax", "SumExceedsMax"),
        (3, 3, 2, 2),
        (0, 1, 1),
        16,
        _arith_sample,
        arithmetic_inputs,
        arithmetic_targets,
    ),
    "tree": ILPDomain(
        "tree",
        ("IsRoot", "HasOddEdges", "HasEvenEdges", "IsAncestor"),
        (1, 2, 2, 2),
        (0, 0, 1),
        40,
        _tree_sample,
        tree_inputs,
        tree_targets,
    ),
    "graph": ILPDomain(
        "graph",
        ("AdjacentToRed", "ExactConnectivity2", "ExactConnectivity2Red", "ExactConnectivity2MultipleRed"),
        (1, 2, 1, 1),
        (0, 1, 1),
        30,
        random_graph,
        graph_inputs,
        graph_targets,
    ),
}

DOMAINS: dict[str, tuple[str, ...]] = {name: d.tasks for name, d in _DOMAINS.items()}


def get_domain(name: str) -> ILPDomain:
    """The ILP domain `name` (arithmetic, tree or graph); ValueError naming the valid ones."""
    _check(name, tuple(_DOMAINS), "ILP domain")
    return _DOMAINS[name]
