"""SymDQN learner built directly (no Ray cluster): loss composition and what each term trains."""

import numpy as np
import pytest
import torch
from ray.rllib.algorithms.dqn.torch.dqn_torch_learner import DQNTorchLearner
from ray.rllib.core.columns import Columns

from rllib_nsrl.constants import (
    DISTINCT_PATCHES,
    DQN_LOSS,
    REWARD_PRED_MSE,
    SAT_A1,
    SAT_A2,
    SAT_A4,
    SAT_SHAPES,
)
from rllib_nsrl.envs.shapes_grid import ShapesGridEnv
from rllib_nsrl.experiments.spec import validate_spec
from rllib_nsrl.systems.symdqn.kind import symdqn_config

MID = "default_policy"


def make_learner(condition, **symbolic):
    spec = validate_spec({"name": "t", "kind": "symdqn", "symbolic": symbolic})
    config = symdqn_config(spec, condition, 0)
    return config, config.build_learner(env=ShapesGridEnv())


@pytest.fixture(scope="module")
def batch():
    env, rng = ShapesGridEnv(), np.random.default_rng(0)
    obs, nxt, acts, rews = [], [], [], []
    for i in range(16):
        o, _ = env.reset(seed=i)
        a = int(rng.integers(4))
        o2, r, *_ = env.step(a)
        obs.append(o), nxt.append(o2), acts.append(a), rews.append(r)
    return {
        Columns.OBS: torch.as_tensor(np.stack(obs)),
        Columns.NEXT_OBS: torch.as_tensor(np.stack(nxt)),
        Columns.ACTIONS: torch.as_tensor(acts),
        Columns.REWARDS: torch.as_tensor(rews, dtype=torch.float32),
        Columns.TERMINATEDS: torch.zeros(16, dtype=torch.bool),
        Columns.TRUNCATEDS: torch.zeros(16, dtype=torch.bool),
        "n_step": torch.ones(16),
        "weights": torch.ones(16),
    }


def losses(config, learner, batch):
    module = learner.module[MID]
    fwd = module.forward_train(batch)
    total = learner.compute_loss_for_module(module_id=MID, config=config, batch=batch, fwd_out=fwd)
    plain = DQNTorchLearner.compute_loss_for_module(
        learner, module_id=MID, config=config, batch=batch, fwd_out=fwd
    )
    return total, plain


def test_loss_equals_dqn_loss_when_symbolic_weights_are_zero(batch):
    config, learner = make_learner("SymDQN(AR)", shapes_weight=0.0, reward_weight=0.0, reasoner_weight=0.0)
    total, plain = losses(config, learner, batch)
    assert torch.allclose(total, plain)


def test_duel_dqn_loss_is_the_stock_dqn_loss(batch):
    config, learner = make_learner("DuelDQN")
    total, plain = losses(config, learner, batch)
    assert torch.allclose(total, plain)


def test_symbolic_terms_are_added_and_logged(batch):
    config, learner = make_learner("SymDQN(AR)")
    total, plain = losses(config, learner, batch)
    assert total > plain
    logged = learner.metrics.reduce()[MID]
    for key in (DQN_LOSS, SAT_A1, SAT_SHAPES, REWARD_PRED_MSE, SAT_A4):
        assert key in logged, key
        assert np.isfinite(float(logged[key]))
    assert 0.0 <= float(logged[SAT_SHAPES]) <= 1.0


def test_each_term_trains_its_own_parts(batch):
    config, learner = make_learner("SymDQN", reward_weight=0.0)
    module = learner.module[MID]
    total, plain = losses(config, learner, batch)
    module.zero_grad()
    (total - plain).backward()  # symbolic part only: shape axioms
    grad = lambda m: sum(p.grad.abs().sum().item() for p in m.parameters() if p.grad is not None)  # noqa: E731
    assert grad(module.shape_recognizer) > 0
    assert grad(module.reward_predictor) == 0  # features are detached; reward weight is 0
    assert grad(module.encoder) == 0  # the axioms do not train the Q-network


def test_action_reasoner_gradient_reaches_q_network(batch):
    # margin 0: every pair with r1 > r2 is inside the guard of A4
    config, learner = make_learner("SymDQN(AR)", shapes_weight=0.0, reward_weight=0.0, reasoner_margin=0.0)
    module = learner.module[MID]
    # make some predicted rewards differ by more than the margin so A4 has guarded pairs
    with torch.no_grad():
        module.reward_predictor.net[-1].weight.mul_(0).add_(
            torch.randn_like(module.reward_predictor.net[-1].weight) * 5
        )
        module.agent_tracker.hits[1] = 10.0
        module.agent_tracker.states.fill_(10.0)
    total, plain = losses(config, learner, batch)
    module.zero_grad()
    (total - plain).backward()
    enc = sum(p.grad.abs().sum().item() for p in module.encoder.parameters() if p.grad is not None)
    assert enc > 0


def test_collapsed_labelling_triggers_a_recognizer_restart(batch, monkeypatch):
    import rllib_nsrl.systems.symdqn.learner as mod

    monkeypatch.setattr(mod, "RESTART_CHECK_EVERY", 1)
    config, learner = make_learner("SymDQN")
    module = learner.module[MID]
    with torch.no_grad():  # every patch gets the same label: a collapsed labelling
        module.shape_recognizer.head.weight.zero_()
        module.shape_recognizer.head.bias.copy_(torch.tensor([5.0, -5, -5, -5, -5]))
    module.agent_tracker.states.fill_(3.0)
    losses(config, learner, batch)
    assert learner._restarts[MID] == 1
    assert not torch.all(module.shape_recognizer.head.weight == 0)  # re-initialised
    assert float(module.agent_tracker.states) <= 16  # counts restarted (one batch added since)


def test_patch_set_holds_exactly_the_distinct_cells_of_obs_and_next_obs(batch):
    from rllib_nsrl.symbolic.patches import UniquePatchSet, grid_patches

    config, learner = make_learner("SymDQN")
    batch = dict(batch)
    nxt = batch[Columns.NEXT_OBS].clone()
    nxt[3, 20:30, 20:30] = 0.5  # a cell image that no observation of the batch contains
    batch[Columns.NEXT_OBS] = nxt
    assert DISTINCT_PATCHES in learner.module[MID].forward_train(batch)
    losses(config, learner, batch)
    expected = UniquePatchSet()
    expected.add(grid_patches(torch.cat([batch[Columns.OBS], nxt])))
    only_obs = UniquePatchSet()
    only_obs.add(grid_patches(batch[Columns.OBS]))
    got = learner._patch_sets[MID].tensor()
    assert len(expected) == len(only_obs) + 1 == got.shape[0]
    assert torch.equal(got, expected.tensor())  # same patches, same first-seen order


@pytest.mark.parametrize("a2_inequality", ["exact", "reference"])
def test_a2_inequality_setting_reaches_the_shape_axioms(batch, a2_inequality):
    from rllib_nsrl.symbolic.shape_axioms import shape_axioms

    kwargs = {} if a2_inequality == "exact" else {"a2_inequality": a2_inequality}  # exact is the default
    config, learner = make_learner("SymDQN", **kwargs)
    module = learner.module[MID]
    assert module.settings["a2_inequality"] == a2_inequality
    losses(config, learner, batch)
    logged = learner.metrics.reduce()[MID]
    with torch.no_grad():
        truths = module.shape_recognizer(learner._patch_sets[MID].tensor())
    expected = shape_axioms(truths, a2_inequality=a2_inequality)[SAT_A2]
    assert float(logged[SAT_A2]) == pytest.approx(float(expected), abs=1e-6)
