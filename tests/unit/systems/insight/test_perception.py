"""INSIGHT perception: encoder and head shapes, the perception loss on hand-made labels (Luo et al. 2024)."""

import math

import numpy as np
import pytest
import torch

from rllib_nsrl.symbolic.eql import EQLActor, eql_inputs
from rllib_nsrl.systems.insight.perception import (
    COORD_L1,
    EXIST_FOCAL,
    PERCEPTION_LOSS,
    SIZE_L1,
    ObjectWeights,
    Perception,
    binary_focal_loss,
    perception_loss,
    slot_weights,
)

BIG = 20.0  # an existence logit the focal loss counts as certain


def _labels():
    """2 samples, 3 slots, 4 frames: slot 1 (the "ball") is absent in sample 0."""
    target = torch.rand(2, 3, 4, 5)
    target[..., 0] = 1.0
    target[0, 1] = 0.0
    return target


def _perfect(target):
    pred = target.clone()
    pred[..., 0] = torch.where(target[..., 0] > 0.5, BIG, -BIG)
    return pred


def test_shapes_and_size():
    model = Perception(num_slots=3)
    frames = torch.randint(0, 256, (2, 4, 84, 84), dtype=torch.uint8)
    assert model.features(frames).shape == (2, 512)
    assert model(frames).shape == (2, 3, 4, 5)
    n = sum(p.numel() for p in model.parameters())
    assert 1.5e6 < n < 3e6  # Nature-DQN sized, not the reference's ≈73 M
    with pytest.raises(ValueError, match="too small"):
        Perception(3, screen_size=30)


def test_perfect_prediction_has_zero_coordinate_and_size_loss():
    target = _labels()
    terms = perception_loss(_perfect(target), target)
    assert set(terms) == {COORD_L1, SIZE_L1, EXIST_FOCAL, PERCEPTION_LOSS}
    assert terms[COORD_L1] == 0.0 and terms[SIZE_L1] == 0.0
    assert terms[EXIST_FOCAL] < 1e-12
    torch.testing.assert_close(terms[PERCEPTION_LOSS], terms[EXIST_FOCAL])


def test_existence_masks_coordinates():
    target = _labels()
    pred = _perfect(target)
    pred[0, 1, :, 1:] = 7.0  # wild coordinates and size where the label says "absent"
    terms = perception_loss(pred, target)
    assert terms[COORD_L1] == 0.0 and terms[SIZE_L1] == 0.0
    pred[1, 1, 2, 1] += 0.3  # an existing object's x off by 0.3
    expected = 0.3 / (2 * (2 * 3 * 4 - 4))  # mean over the x, y of the 20 existing objects
    torch.testing.assert_close(perception_loss(pred, target)[COORD_L1], torch.tensor(expected))


def test_slot_weights_scale_each_slots_error():
    target = _labels()
    pred = _perfect(target)
    pred[1, 2, 0, 2] += 0.5  # y of slot 2
    plain = perception_loss(pred, target)[COORD_L1]
    weighted = perception_loss(pred, target, torch.tensor([1.0, 1.0, 3.0]))[COORD_L1]
    torch.testing.assert_close(weighted, 3 * plain)
    assert perception_loss(pred, target, torch.tensor([3.0, 3.0, 1.0]))[COORD_L1] == plain


def test_slot_weights_raise_rare_objects():
    exists = torch.ones(100, 3, 4)
    exists[:60, 1] = 0.0  # the ball exists 40 % of the time
    exists[:, 2] = 0.0  # never seen: finite weight
    w = slot_weights(exists)
    assert w.shape == (3,) and torch.isfinite(w).all()
    assert w[2] > w[1] > w[0] >= 0.1 and (w <= 1.1).all()
    torch.testing.assert_close(slot_weights(torch.ones(10, 4)), torch.full((4,), 0.6))  # equal: 0.1 + ½


def test_reference_object_weights_follow_the_reference_formula():
    """Per frame: the present objects' inverse dataset counts normalised to sum 1, w = 0.1 +
    sigmoid(10·(share − μ)); absent objects ≈ 0.6. Checked against the formula written out in numpy."""
    g = torch.Generator().manual_seed(0)
    exists = (torch.rand(200, 3, 4, generator=g) < torch.tensor([1.0, 0.4, 0.9]).view(1, 3, 1)).float()
    exists[:, 2, :] *= (torch.arange(200) % 7 != 0).float().view(-1, 1)  # slot 2 absent in some frames
    weights = ObjectWeights(exists)
    frames = exists.permute(0, 2, 1).reshape(-1, 3).numpy()  # one row per (sample, frame)
    inverse = np.where(frames.sum(0) > 0, 1 / frames.sum(0), 0) / 3
    mu = inverse[inverse > 0].mean()
    share = inverse[None] * frames
    share = share / (share.sum(1, keepdims=True) + 1e-20)
    expected = 0.1 + 1 / (1 + np.exp(-10 * (share - mu)))
    got = weights(exists).permute(0, 2, 1).reshape(-1, 3).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    both = (frames == 1).all(1)
    assert got[both][:, 1].mean() > got[both][:, 0].mean()  # the rarer object weighs more
    absent = 0.1 + 1 / (1 + np.exp(10 * mu))  # 0.1 + sigmoid(−10 μ): ≈ 0.6 (μ is small)
    np.testing.assert_allclose(got[frames == 0], absent, rtol=1e-5)
    assert 0.59 < absent < 0.6


def test_reference_weights_give_pong_and_freeway_their_scale():
    pong = ObjectWeights(torch.ones(50, 3, 4))(torch.ones(2, 3, 4))
    freeway = ObjectWeights(torch.ones(50, 11, 4))(torch.ones(2, 11, 4))
    mu = 1 / (50 * 4) / 3  # every object in every one of the 200 frames
    expected = 0.1 + 1 / (1 + math.exp(-10 * (1 / 3 - mu)))  # ≈ 1.07
    torch.testing.assert_close(pong, torch.full_like(pong, expected))
    assert 0.80 < float(freeway.mean()) < 0.82


def test_slot_scheme_is_the_old_per_slot_weight():
    exists = torch.ones(100, 3, 4)
    exists[:60, 1] = 0.0
    got = ObjectWeights(exists, "slot")(exists[:5])
    torch.testing.assert_close(got, slot_weights(exists).view(1, 3, 1).expand(5, 3, 4))
    with pytest.raises(ValueError, match="scheme 'x'"):
        ObjectWeights(exists, "x")


def test_per_entry_weights_scale_each_entry_in_the_loss():
    target = _labels()
    pred = _perfect(target)
    pred[1, 2, 0, 2] += 0.5  # y of slot 2, frame 0
    w = torch.ones(target.shape[:3])
    plain = perception_loss(pred, target, w, reduction="sum")[COORD_L1]
    w[1, 2, 0] = 3.0
    torch.testing.assert_close(perception_loss(pred, target, w, reduction="sum")[COORD_L1], 3 * plain)


def test_focal_loss_matches_its_formula_and_down_weights_easy_examples():
    logits = torch.tensor([2.0, -1.0, 0.5, 3.0])
    targets = torch.tensor([1.0, 1.0, 0.0, 0.0])
    p = torch.sigmoid(logits)
    p_t = torch.where(targets > 0, p, 1 - p)
    expected = (-((1 - p_t) ** 2) * torch.log(p_t)).mean()
    torch.testing.assert_close(binary_focal_loss(logits, targets), expected)
    alpha = torch.where(targets > 0, 0.25, 0.75)
    torch.testing.assert_close(
        binary_focal_loss(logits, targets, alpha=0.25), (-alpha * (1 - p_t) ** 2 * torch.log(p_t)).mean()
    )
    easy, hard = torch.tensor([4.0]), torch.tensor([-1.0])
    one = torch.ones(1)
    ce = torch.nn.functional.binary_cross_entropy_with_logits
    assert binary_focal_loss(easy, one) / ce(easy, one) < binary_focal_loss(hard, one) / ce(hard, one)
    torch.testing.assert_close(binary_focal_loss(torch.zeros(1), one), torch.tensor(0.25 * math.log(2)))


def test_gradients_reach_encoder_from_loss_and_from_eql():
    """The perception loss and the EQL's loss both train the encoder (Luo et al., ICML 2024)."""
    torch.manual_seed(0)
    model = Perception(num_slots=3)
    actor = EQLActor(3 * 4 * 2, num_actions=6)
    frames = torch.randint(0, 256, (4, 4, 84, 84), dtype=torch.uint8)
    perception_loss(model(frames), _labels().repeat(2, 1, 1, 1))[PERCEPTION_LOSS].backward()
    assert model.encoder[0].weight.grad.abs().sum() > 0
    model.zero_grad()
    pred = model(frames)
    pred.retain_grad()
    actor(eql_inputs(pred[..., 1:3], pred[..., 0])).logsumexp(-1).sum().backward()
    assert model.encoder[0].weight.grad.abs().sum() > 0
    coords = pred[..., 1:3]
    kept = (pred[..., :1] > 0) & (coords >= 0) & (coords <= 1)  # [B, S, F, 2]: present and not clamped
    assert kept.any() and not kept.all()
    assert pred.grad[..., 0].abs().sum() == 0  # the hard existence mask passes no gradient
    assert (pred.grad[..., 1:3] != 0).eq(kept).all()


def test_sum_reduction_is_the_reference_scale_per_sample():
    """ "sum" adds each sample's terms over slots, frames and numbers and averages over the batch: with every
    object present and unit slot weights it is 2·S·F times the per-number mean of the coordinate term, and
    S·F times the mean focal term (the reference's balance against the PPO loss)."""
    torch.manual_seed(0)
    b, s, f = 5, 3, 4
    target = torch.rand(b, s, f, 5)
    target[..., 0] = 1.0
    pred = torch.randn(b, s, f, 5)
    mean = perception_loss(pred, target)
    total = perception_loss(pred, target, reduction="sum")
    assert total[COORD_L1].item() == pytest.approx(2 * s * f * mean[COORD_L1].item(), rel=1e-5)
    assert total[SIZE_L1].item() == pytest.approx(2 * s * f * mean[SIZE_L1].item(), rel=1e-5)
    assert total[EXIST_FOCAL].item() == pytest.approx(s * f * mean[EXIST_FOCAL].item(), rel=1e-5)
    with pytest.raises(ValueError, match="reduction 'max'"):
        perception_loss(pred, target, reduction="max")


def test_weighted_existence_weights_the_mean_focal_term_as_the_reference_pretraining():
    target = _labels()
    pred = _perfect(target)
    pred[..., 0] = 0.0  # every existence logit uncertain
    w = torch.full(target.shape[:3], 2.0)
    plain = perception_loss(pred, target, w)[EXIST_FOCAL]
    torch.testing.assert_close(
        perception_loss(pred, target, w, weighted_existence=True)[EXIST_FOCAL], 2 * plain
    )
