"""Q-modules built directly (no Ray): shapes, dueling identity, −inf masking in every Q pass."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from ray.rllib.algorithms.dqn.default_dqn_rl_module import QF_NEXT_PREDS, QF_PREDS, QF_TARGET_NEXT_PREDS
from ray.rllib.core.columns import Columns

from rllib_nsrl.constants import ACTION_MASK, OBS
from rllib_nsrl.envs.shapes_grid import ShapesGridEnv
from rllib_nsrl.systems.symdqn.conditions import CONDITIONS
from rllib_nsrl.systems.symdqn.module import SymDQNModule

IMG = gym.spaces.Box(0.0, 1.0, (50, 50, 3), np.float32)
MASKED = gym.spaces.Dict({OBS: IMG, ACTION_MASK: gym.spaces.Box(0, 1, (4,), np.int8)})


def build(condition="DuelDQN", space=IMG, epsilon=0.0):
    torch.manual_seed(0)
    module = SymDQNModule(
        observation_space=space,
        action_space=gym.spaces.Discrete(4),
        model_config={"condition": condition, "double_q": True, "epsilon": [(0, epsilon)]},
    )
    module.make_target_networks()
    return module


def observations(n=6, seed=0):
    env = ShapesGridEnv()
    obs = [env.reset(seed=seed + i)[0] for i in range(n)]
    return torch.as_tensor(np.stack(obs))


@pytest.mark.parametrize("condition", list(CONDITIONS))
def test_forward_shapes_for_every_condition(condition):
    module = build(condition)
    obs = observations()
    out = module.forward_train({Columns.OBS: obs, Columns.NEXT_OBS: obs})
    for key in (QF_PREDS, QF_NEXT_PREDS, QF_TARGET_NEXT_PREDS):
        assert out[key].shape == (6, 4) and torch.isfinite(out[key]).all()
    assert module.forward_inference({Columns.OBS: obs})[Columns.ACTIONS].shape == (6,)


def test_duel_dqn_has_no_symbolic_parts_and_is_small():
    duel, sym = build("DuelDQN"), build("SymDQN")
    assert not hasattr(duel, "shape_recognizer") and hasattr(sym, "shape_recognizer")
    n_params = sum(p.numel() for p in duel.parameters())
    assert n_params < 2_000_000  # the reference's 82 M-weight dense layer is not reproduced


def test_dueling_aggregation_centres_advantages():
    module = build()
    obs = observations(3)
    feats = module.encoder(obs)
    adv, val = module.af(feats), module.vf(feats)
    q = module.compute_q_values({Columns.OBS: obs})[QF_PREDS]
    assert torch.allclose(q, val + adv - adv.mean(-1, keepdim=True), atol=1e-6)


def test_mask_gives_minus_inf_in_online_and_target_passes():
    module = build(space=MASKED)
    obs = observations(4)
    mask = torch.tensor([[1, 0, 1, 0], [0, 0, 0, 1], [1, 1, 1, 1], [0, 1, 0, 0]], dtype=torch.int8)
    masked = {OBS: obs, ACTION_MASK: mask}
    out = module.forward_train({Columns.OBS: masked, Columns.NEXT_OBS: masked})
    for key in (QF_PREDS, QF_NEXT_PREDS, QF_TARGET_NEXT_PREDS):
        assert torch.isneginf(out[key][mask == 0]).all()
        assert torch.isfinite(out[key][mask == 1]).all()


def test_masked_actions_never_chosen_greedy_or_random():
    obs = observations(4)
    mask = torch.tensor([[1, 0, 0, 0], [0, 0, 1, 1], [0, 1, 0, 0], [1, 0, 0, 1]], dtype=torch.int8)
    for eps in (0.0, 1.0):
        module = build(space=MASKED, epsilon=eps)
        for t in range(30):
            acts = module.forward_exploration({Columns.OBS: {OBS: obs, ACTION_MASK: mask}}, t=t)[
                Columns.ACTIONS
            ]
            assert mask[torch.arange(4), acts].all()
        greedy = module.forward_inference({Columns.OBS: {OBS: obs, ACTION_MASK: mask}})[Columns.ACTIONS]
        assert mask[torch.arange(4), greedy].all()


def test_action_filter_mask_only_with_filter_conditions():
    obs = observations(5)
    assert build("SymDQN").action_filter_mask(obs) is None
    assert build("SymDQN(AR)").action_filter_mask(obs) is None
    mask = build("SymDQN(AF)").action_filter_mask(obs)
    assert mask.shape == (5, 4) and mask.dtype == torch.bool and mask.any(dim=1).all()


def test_filter_gate_waits_for_reward_predictor():
    module = SymDQNModule(
        observation_space=IMG,
        action_space=gym.spaces.Discrete(4),
        model_config={"condition": "SymDQN(AF)", "epsilon": [(0, 0.0)], "filter_gate_reward_loss": 0.01},
    )
    obs = observations(2)
    assert module.action_filter_mask(obs) is None  # no reward loss measured yet
    module.reward_loss_ema.fill_(0.001)
    assert module.action_filter_mask(obs) is not None


def test_unknown_condition_is_rejected():
    with pytest.raises(ValueError, match="unknown condition"):
        build("SymDQN(XX)")


@pytest.mark.parametrize("condition", ["DuelDQN", "SymDQN(AR,AF)"])
def test_training_pass_equals_rllibs_and_so_do_the_gradients(condition):
    """Our `_forward_train` (next-obs online Q without graph; SymDQN: symbolic features shared) against
    RLlib's `DefaultDQNTorchRLModule._forward_train` (one online pass over [obs; next obs]) on the same
    weights: the same Q values, and the same gradients of a loss that, like DQN's, uses the next-obs
    online Q only through an argmax."""
    from ray.rllib.algorithms.dqn.torch.default_dqn_torch_rl_module import DefaultDQNTorchRLModule

    module = build(condition)
    obs, nxt = observations(8, seed=0), observations(8, seed=40)
    batch = {Columns.OBS: obs, Columns.NEXT_OBS: nxt}
    ours, theirs = module._forward_train(batch), DefaultDQNTorchRLModule._forward_train(module, batch)
    for key in (QF_PREDS, QF_NEXT_PREDS, QF_TARGET_NEXT_PREDS):
        torch.testing.assert_close(ours[key], theirs[key], rtol=1e-5, atol=1e-6)

    def grads(out):
        module.zero_grad()
        best = out[QF_NEXT_PREDS].argmax(dim=-1, keepdim=True)
        target = out[QF_TARGET_NEXT_PREDS].gather(1, best).squeeze(1).detach()
        (out[QF_PREDS][:, 0] - target).pow(2).mean().backward()
        return {n: p.grad.clone() for n, p in module.named_parameters() if p.grad is not None}

    a, b = grads(module._forward_train(batch)), grads(DefaultDQNTorchRLModule._forward_train(module, batch))
    assert a.keys() == b.keys() and a
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-6, msg=name)
    assert not ours[QF_NEXT_PREDS].requires_grad  # no graph for it
