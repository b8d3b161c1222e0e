"""OfflineActorCriticLearner built directly (no Ray): loss terms, optimizers, Polyak targets, learning."""

import numpy as np
import pytest
import torch
from gymnasium.spaces import Discrete
from ray.rllib.algorithms.dqn.default_dqn_rl_module import QF_PREDS
from ray.rllib.core import DEFAULT_MODULE_ID as MID
from ray.rllib.core.columns import Columns

from rllib_nsrl.envs.blocksworld import layout
from rllib_nsrl.systems.blocksworld.collect import DataSettings, collect, load_task
from rllib_nsrl.systems.blocksworld.learner import (
    ACTOR_LOSS,
    CRITIC_LOSS,
    OfflineActorCriticConfig,
)
from rllib_nsrl.systems.blocksworld.trainable import TransitionSampler

TAU = 0.05


def make_learner(**training):
    config = (
        OfflineActorCriticConfig()
        .training(**{"tau": TAU, **training})
        .rl_module(model_config={"kb_depth": 1, "kb_seed": 0, "head_seed": 1})
        .debugging(seed=0)
    )
    spaces = {MID: (layout.observation_space(6), Discrete(84))}
    return config, config.build_learner(spaces=spaces)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    settings = DataSettings(tasks=(0,), transitions_per_task=64, shards_per_task=1, max_steps=10)
    folder = collect(settings, tmp_path_factory.mktemp("data"), log=lambda *_: None)
    return load_task(folder, 0)


def tensor_batch(data, rows=slice(None)):
    keys = {"obs": Columns.OBS, "new_obs": Columns.NEXT_OBS, "actions": Columns.ACTIONS,
            "rewards": Columns.REWARDS, "terminateds": Columns.TERMINATEDS}
    return {col: torch.as_tensor(data[key][rows]) for key, col in keys.items()}


def test_optimizers_split_actor_and_critic_parameters():
    _, learner = make_learner(actor_lr=1e-3, critic_lr=2e-3)
    module = learner.module[MID]
    actor, critic = learner.get_optimizer(MID, "actor"), learner.get_optimizer(MID, "critic")
    ids = lambda opt: {id(p) for g in opt.param_groups for p in g["params"]}  # noqa: E731
    assert ids(actor) == {id(p) for p in module.pi_head.parameters()}
    assert ids(critic) == {id(p) for p in (*module.kb.parameters(), *module.q_head.parameters())}
    assert actor.param_groups[0]["lr"] == 1e-3 and critic.param_groups[0]["lr"] == 2e-3


def test_loss_terms_match_their_definitions(data):
    config, learner = make_learner(reward_scale=0.01, gamma=0.9)
    module = learner.module[MID]
    batch = tensor_batch(data)
    fwd = module.forward_train(batch)
    total = learner.compute_loss_for_module(module_id=MID, config=config, batch=batch, fwd_out=fwd)
    logged = learner.metrics.reduce()[MID]

    q, logits = fwd[QF_PREDS], fwd[Columns.ACTION_DIST_INPUTS]
    a = batch[Columns.ACTIONS].long()
    target = module.forward_target({Columns.OBS: batch[Columns.NEXT_OBS]})
    pi_next = torch.softmax(target[Columns.ACTION_DIST_INPUTS], -1)
    v_next = torch.nansum(pi_next * target[QF_PREDS], -1)  # masked entries: 0 · −inf = nan, dropped
    y = 0.01 * batch[Columns.REWARDS] + 0.9 * (~batch[Columns.TERMINATEDS]).float() * v_next
    q_a = q[torch.arange(len(a)), a]
    critic = 0.5 * ((q_a - y) ** 2).mean()
    pi = torch.softmax(logits, -1)
    advantage = q_a - torch.nansum(pi * q, -1)
    actor = -((advantage > 0).float() * torch.log_softmax(logits, -1)[torch.arange(len(a)), a]).mean()
    assert float(logged[CRITIC_LOSS]) == pytest.approx(float(critic), rel=1e-5)
    assert float(logged[ACTOR_LOSS]) == pytest.approx(float(actor), rel=1e-5)
    assert float(total) == pytest.approx(float(critic + actor), rel=1e-5)
    assert torch.isfinite(total)


def test_target_networks_move_by_the_copy_rate(data):
    _, learner = make_learner()
    module = learner.module[MID]
    before = [p.detach().clone() for p in module._target_q_head.parameters()]
    sampler = TransitionSampler(data, seed=0)
    learner.update(batch=sampler.sample(16))
    for old, main, new in zip(before, module.q_head.parameters(), module._target_q_head.parameters(),
                              strict=True):
        torch.testing.assert_close(new, (1 - TAU) * old + TAU * main.detach())
    assert any(not torch.equal(o, n) for o, n in zip(before, module._target_q_head.parameters(), strict=True))


def _losses(learner, data, updates):
    batch = TransitionSampler(data, seed=0).sample(64)  # one fixed batch
    results = [learner.update(batch=batch)[MID] for _ in range(updates)]
    return [float(r[CRITIC_LOSS]) for r in results], [float(r[ACTOR_LOSS]) for r in results]


def test_loss_decreases_on_a_tiny_dataset(data):
    _, learner = make_learner()
    critic, _ = _losses(learner, data, 25)
    assert np.mean(critic[-3:]) < 0.25 * np.mean(critic[:3])
    # with near-constant weights (exp, large β) the actor loss is the data's NLL, which must fall too
    _, learner = make_learner(actor_weighting="exp", beta=1e3)
    _, actor = _losses(learner, data, 40)
    assert np.mean(actor[-3:]) < np.mean(actor[:3]) - 0.04


def test_unknown_actor_weighting_is_rejected():
    with pytest.raises(ValueError, match="actor_weighting"):
        OfflineActorCriticConfig().training(actor_weighting="softmax")
