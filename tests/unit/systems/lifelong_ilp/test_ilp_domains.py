"""Ground truth of the ILP generators on hand-made worlds; batch shapes, seeding, registry errors."""

import numpy as np
import pytest
import torch

from rllib_nsrl.systems.lifelong_ilp.domains import (
    DOMAINS,
    arithmetic_inputs,
    arithmetic_targets,
    get_domain,
    graph_targets,
    random_graph,
    random_tree,
    shortest_paths,
    tree_inputs,
    tree_targets,
)


def _adj(n, edges):
    adj = np.zeros((n, n), dtype=bool)
    for i, j in edges:
        adj[i, j] = adj[j, i] = True
    return adj


def test_path_graph_distances_and_targets():
    adj = _adj(5, [(0, 1), (1, 2), (2, 3), (3, 4)])
    dist = shortest_paths(adj)
    idx = np.arange(5)
    assert np.array_equal(dist, np.abs(idx[:, None] - idx[None, :]))
    t = graph_targets(adj, np.array([False, False, False, False, True]))
    assert t["AdjacentToRed"].tolist() == [False, False, False, True, False]
    assert np.array_equal(t["ExactConnectivity2"], dist == 2)
    assert t["ExactConnectivity2Red"].tolist() == [False, False, True, False, False]
    assert not t["ExactConnectivity2MultipleRed"].any()
    t2 = graph_targets(adj, np.array([True, False, False, False, True]))
    assert t2["ExactConnectivity2MultipleRed"].tolist() == [False, False, True, False, False]


def test_exact_connectivity_uses_the_shortest_path():
    adj = _adj(5, [(0, 1), (1, 2), (0, 2), (2, 3)])  # triangle 0-1-2, tail 2-3, isolated 4
    dist = shortest_paths(adj)
    assert dist[0, 1] == 1 and dist[0, 3] == 2 and dist[0, 4] == -1
    at_two = graph_targets(adj, np.zeros(5, dtype=bool))["ExactConnectivity2"]
    assert {tuple(p) for p in np.argwhere(at_two)} == {(0, 3), (3, 0), (1, 3), (3, 1)}


def test_random_graph_is_undirected_without_loops():
    adj, red = random_graph(np.random.default_rng(0), 30)
    assert np.array_equal(adj, adj.T) and not adj.diagonal().any() and red.shape == (30,)


def test_known_tree_targets():
    #        0
    #      1   2
    #     3 4
    #     5
    parent = np.array([-1, 0, 0, 1, 1, 3])
    t = tree_targets(parent)
    assert t["IsRoot"].tolist() == [True, False, False, False, False, False]
    odd = {tuple(p) for p in np.argwhere(t["HasOddEdges"])}
    even = {tuple(p) for p in np.argwhere(t["HasEvenEdges"])}
    assert odd == {(0, 1), (0, 2), (1, 3), (1, 4), (3, 5), (0, 5)}
    assert even == {(0, 3), (0, 4), (1, 5)}
    assert np.array_equal(t["IsAncestor"], t["HasOddEdges"] | t["HasEvenEdges"])
    assert not t["IsAncestor"][2, 3] and not t["IsAncestor"].diagonal().any()
    assert tree_inputs(parent)[2][:, :, 0].sum() == 5


def test_random_tree_shape():
    parent = random_tree(np.random.default_rng(3), 40)
    assert (parent < 0).sum() == 1
    children = np.bincount(parent[parent >= 0], minlength=40)
    internal = children[children > 0]
    assert ((internal >= 2) & (internal <= 3)).sum() >= len(internal) - 1  # last one may be cut short
    depth = tree_targets(parent)["IsAncestor"][parent < 0]
    assert depth.sum() == 39  # the root is an ancestor of every other node


def test_arithmetic_ground_truth():
    values = np.array([3, 0, 5, 1, 4, 2])  # object i is the number values[i]
    zero, succ = arithmetic_inputs(values)[1:]
    assert zero[:, 0].tolist() == [False, True, False, False, False, False]
    assert succ[0, 4, 0] and succ[1, 3, 0] and not succ[4, 0, 0] and succ[:, :, 0].sum() == 5
    t = arithmetic_targets(values)
    obj = {v: i for i, v in enumerate(values)}
    assert t["Plus"][obj[1], obj[2], obj[3]] and t["Plus"][obj[0], obj[4], obj[4]]
    assert not t["Plus"][obj[2], obj[2], obj[5]]
    assert t["Plus"].sum() == 21  # pairs (x, y) with x + y ≤ 5
    assert t["Minus"][obj[5], obj[2], obj[3]] and not t["Minus"][obj[2], obj[5], obj[3]]
    assert np.array_equal(t["Minus"], t["Plus"].transpose(2, 0, 1))  # X − Y = Z ⇔ Plus(Y, Z, X)
    assert t["SumIsMax"][obj[1], obj[4]] and t["SumIsMax"].sum() == 6
    assert t["SumExceedsMax"][obj[5], obj[1]] and not t["SumExceedsMax"][obj[2], obj[3]]
    assert np.array_equal(t["SumExceedsMax"], ~t["Plus"].any(axis=2))


@pytest.mark.parametrize("domain", sorted(DOMAINS))
def test_batches_have_predicate_shapes(domain):
    d = get_domain(domain)
    rng = np.random.default_rng(0)
    for task in DOMAINS[domain]:
        batch = d.make_batch(task, 2, rng, n=6)
        arity = d.target_arity[task]
        assert batch.target.shape == (2,) + (6,) * arity and batch.target.dtype == torch.float32
        for r, x in enumerate(batch.inputs):
            assert x is None or x.shape == (2,) + (6,) * r + (d.input_channels[r],)
        assert set(batch.target.unique().tolist()) <= {0.0, 1.0}


def test_seeding_and_fixed_test_sets():
    d = get_domain("graph")
    a = d.make_batch("AdjacentToRed", 3, np.random.default_rng(5), n=8)
    b = d.make_batch("AdjacentToRed", 3, np.random.default_rng(5), n=8)
    assert torch.equal(a.target, b.target) and torch.equal(a.inputs[2], b.inputs[2])
    t1, t2 = d.test_set("ExactConnectivity2", 4, n=8), d.test_set("ExactConnectivity2", 4, n=8)
    assert torch.equal(t1.inputs[2], t2.inputs[2]) and torch.equal(t1.target, t2.target)
    assert d.test_set("ExactConnectivity2", 4, n=16).target.shape == (4, 16, 16)
    assert d.default_n == 30 and get_domain("tree").default_n == 40


def test_unknown_names_list_the_choices():
    with pytest.raises(ValueError, match="arithmetic, tree, graph"):
        get_domain("chess")
    with pytest.raises(ValueError, match="IsRoot"):
        get_domain("tree").make_batch("IsLeaf", 1, np.random.default_rng(0))
    assert DOMAINS["arithmetic"] == ("Plus", "Minus", "SumIsMax", "SumExceedsMax")
