import torch

from rllib_nsrl.symbolic.action_filter import action_filter_mask


def test_never_empty_and_keeps_best_on_random_inputs():
    torch.manual_seed(0)
    for scale in (0.01, 1.0, 100.0):
        r = torch.randn(256, 4) * scale
        mask = action_filter_mask(r)
        assert mask.dtype == torch.bool and mask.shape == r.shape
        assert mask.any(dim=1).all()
        assert mask.gather(1, r.argmax(dim=1, keepdim=True)).all()


def test_removes_actions_far_below_best():
    r = torch.tensor([[1.0, 0.6, 0.4, -1.0]])
    assert action_filter_mask(r, threshold=0.5).tolist() == [[True, True, False, False]]
    assert action_filter_mask(r, threshold=0.3).tolist() == [[True, False, False, False]]


def test_ties_and_all_equal_keep_all_tied():
    r = torch.tensor([[0.0, 0.0, 0.0, 0.0], [1.0, 1.0, -1.0, -1.0]])
    assert action_filter_mask(r).tolist() == [[True] * 4, [True, True, False, False]]


def test_negative_threshold_still_keeps_argmax():
    mask = action_filter_mask(torch.tensor([[0.1, 0.9, 0.3, 0.2]]), threshold=-1.0)
    assert mask.tolist() == [[False, True, False, False]]


def test_nan_rows_keep_every_action():
    nan = float("nan")
    r = torch.tensor([[nan, 1.0, -1.0, 0.0], [nan] * 4, [1.0, -1.0, -1.0, -1.0]])
    assert action_filter_mask(r).tolist() == [[True] * 4, [True] * 4, [True, False, False, False]]


def test_infinite_values():
    inf = float("inf")
    r = torch.tensor([[inf, 0.0, 0.0, 0.0], [-inf] * 4])
    mask = action_filter_mask(r)
    assert mask.tolist()[0] == [True, False, False, False]
    assert mask.any(dim=1).all()
