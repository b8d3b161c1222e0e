"""EQL → sympy: the expressions compute what the network computes; pruning and summaries."""

import numpy as np
import pytest
import sympy
import torch

from rllib_nsrl.symbolic.eql import EQLActor
from rllib_nsrl.symbolic.eql_sympy import logit_expressions, summarise, terms_of, typical_inputs

NAMES = ["x_a_1", "y_a_1", "x_b_1", "y_b_1"]


@pytest.mark.parametrize("layers", [0, 1, 2])
def test_unpruned_expressions_equal_the_network(layers):
    torch.manual_seed(layers)
    eql = EQLActor(len(NAMES), 3, widths={"square": 2, "cube": 1, "constant": 1, "identity": 2, "product": 2,
                                          "sum": 1}, num_layers=layers)  # fmt: skip
    x = torch.rand(5, len(NAMES))
    exprs = logit_expressions(eql, NAMES, threshold=0.0)
    symbols = sympy.symbols(NAMES, real=True)
    for a, expr in enumerate(exprs):
        f = sympy.lambdify(symbols, expr)
        got = np.array([float(f(*row)) for row in x.tolist()])
        assert np.allclose(got, eql(x)[:, a].detach().numpy(), rtol=1e-4, atol=1e-4)


def test_pruning_drops_small_weights_and_a_sparse_actor_reads_short():
    eql = EQLActor(len(NAMES), 2, num_layers=1)
    with torch.no_grad():
        for p in eql.parameters():
            p.zero_()
        eql.layers[0].linear.weight[24, 1] = 0.5  # the first identity unit reads y_a_1
        eql.layers[0].linear.weight[24, 0] = 0.005  # below the threshold
        eql.out.weight[0, 24] = 2.0
        eql.out.bias[1] = 0.25
    up, down = logit_expressions(eql, NAMES, threshold=1e-2)
    assert up == sympy.Float(10.0) * sympy.Symbol("y_a_1", real=True)
    assert down == sympy.Float(2.5)


def test_summary_keeps_the_largest_typical_terms_and_counts_the_rest():
    a, b, c = sympy.symbols("x_a_1 y_a_1 x_b_1", real=True)
    expr = 5.0 * a + 0.1 * b + 40.0 * c + 2.0
    typical = {"x_a_1": 1.0, "y_a_1": 1.0, "x_b_1": 0.01}
    assert [str(t.monomial) for t in terms_of(expr, typical)] == ["x_a_1", "1", "x_b_1", "y_a_1"]
    shown, rest = summarise(expr, typical, max_terms=2)
    assert rest == 2 and shown == 5.0 * a + 2.0 + sympy.Symbol("other")
    assert typical_inputs(np.array([[1.0, -2.0], [3.0, 0.0]]), ["p", "q"]) == {"p": 2.0, "q": 1.0}


def test_used_inputs_are_the_variables_of_the_pruned_equations():
    from rllib_nsrl.symbolic.eql import used_inputs

    eql = EQLActor(len(NAMES), 2, num_layers=1)
    with torch.no_grad():
        for p in eql.parameters():
            p.zero_()
        eql.layers[0].linear.weight[24, 1] = 0.5  # identity unit on y_a_1: kept
        eql.layers[0].linear.weight[25, 3] = 0.005  # identity unit on y_b_1: pruned
        eql.out.weight[0, 24] = 2.0
        eql.out.weight[1, 25] = 2.0
    assert used_inputs(eql, len(NAMES), threshold=1e-2).tolist() == [False, True, False, False]
    assert used_inputs(eql, len(NAMES), threshold=1e-3).tolist() == [False, True, False, True]
