"""INSIGHT's PPO learner built directly (no Ray cluster): loss composition, what each term trains, the
last-epoch phase and the L½ ramp."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner
from ray.rllib.core.columns import Columns
from ray.rllib.evaluation.postprocessing import Postprocessing
from ray.rllib.policy.sample_batch import MultiAgentBatch, SampleBatch
from ray.rllib.utils.metrics import NUM_ENV_STEPS_SAMPLED_LIFETIME

from rllib_nsrl.experiments.spec import validate_spec
from rllib_nsrl.systems.insight.kind import insight_config
from rllib_nsrl.systems.insight.learner import AGREEMENT, GUIDANCE_LOSS, L_HALF, L_HALF_WEIGHT, PHASE

MID = "default_policy"
N = 24
OBS_SPACE = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
SPACES = {MID: (OBS_SPACE, gym.spaces.Discrete(6))}


def make_learner(condition, data=None, ppo=None, weights=None, feature_dim=32, **insight):
    spec = validate_spec({
        "name": "t", "kind": "insight", "model": {"feature_dim": feature_dim},
        "ppo": {"num_envs": 2, "rollout_length": 12, "num_minibatches": 2, "num_epochs": 2, "total_steps": 96,
                **(ppo or {})},
        "insight": {"perception_batch": 8, **insight}, "evaluation": {"every": 1},
    })  # fmt: skip
    config = insight_config(spec, condition, 0, str(data) if data else None, weights)
    return config, config.build_learner(spaces=SPACES)


@pytest.fixture(scope="module")
def batch():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(N, 6, generator=g)
    actions = torch.randint(6, (N,), generator=g)
    return {
        Columns.OBS: torch.randint(0, 256, (N, 4, 84, 84), generator=g, dtype=torch.uint8),
        Columns.ACTIONS: actions,
        Columns.ACTION_DIST_INPUTS: logits,
        Columns.ACTION_LOGP: torch.log_softmax(logits, -1).gather(1, actions[:, None]).squeeze(1),
        Postprocessing.ADVANTAGES: torch.randn(N, generator=g),
        Postprocessing.VALUE_TARGETS: torch.randn(N, generator=g),
    }


def losses(config, learner, batch):
    module = learner.module[MID]
    fwd = module.forward_train(batch)
    total = learner.compute_loss_for_module(module_id=MID, config=config, batch=batch, fwd_out=fwd)
    plain = PPOTorchLearner.compute_loss_for_module(
        learner, module_id=MID, config=config, batch=batch, fwd_out=fwd
    )
    return total, plain


def logged(learner):
    keys = (PHASE, L_HALF_WEIGHT, L_HALF, AGREEMENT, GUIDANCE_LOSS, "perception_loss")
    return {k: float(learner.metrics.peek((MID, k))) for k in keys}


def test_loss_is_the_ppo_loss_when_insight_weights_are_zero(batch, pong_data):
    config, learner = make_learner(
        "INSIGHT", pong_data, guidance_weight=0.0, reg_weight=0.0, perception_weight=0.0
    )
    learner._l_half_weight = 0.0
    total, plain = losses(config, learner, batch)
    assert torch.equal(total, plain)


def test_neural_ppo_loss_is_the_stock_ppo_loss(batch):
    config, learner = make_learner("neural PPO")
    total, plain = losses(config, learner, batch)
    assert torch.equal(total, plain)
    assert learner.module[MID].eql is None and learner.module[MID].perception.heads is None


def test_insight_terms_are_added_and_logged(batch, pong_data):
    config, learner = make_learner("INSIGHT", pong_data, reg_weight=1e-3)
    learner.before_gradient_based_update(timesteps={NUM_ENV_STEPS_SAMPLED_LIFETIME: 72})  # 48 steps before
    total, plain = losses(config, learner, batch)  # ppo_epoch 0 of 1: the last epoch, terms on
    out = logged(learner)
    assert out[PHASE] == 1.0 and out[L_HALF_WEIGHT] == pytest.approx(1e-3 * 48 / 96)
    assert 0.0 <= out[AGREEMENT] <= 1.0
    expected = plain + out[GUIDANCE_LOSS] + out[L_HALF_WEIGHT] * out[L_HALF] + 2.0 * out["perception_loss"]
    assert float(total) == pytest.approx(float(expected), rel=1e-5)


def test_outside_the_last_epoch_only_ppo_counts_but_every_parameter_has_a_gradient(batch, pong_data):
    config, learner = make_learner("INSIGHT", pong_data, reg_weight=1e-3)
    learner.ppo_epoch, learner.ppo_num_epochs = 0, 2
    learner._l_half_weight = 1e-3
    total, plain = losses(config, learner, batch)
    assert torch.equal(total, plain + 0.0 * (total - plain))  # same value
    assert float(total) == pytest.approx(float(plain))
    total.backward()
    module = learner.module[MID]
    assert all(p.grad is not None for p in module.parameters())


def _one_step(learner, config, batch):
    module = learner.module[MID]
    total, _ = losses(config, learner, batch)
    grads = learner.compute_gradients({MID: total})
    learner.apply_gradients(learner.postprocess_gradients(grads))
    return module


@pytest.mark.parametrize("phase", [False, True])
def test_outside_the_phase_adam_leaves_the_eql_actor_and_perception_heads_alone(batch, pong_data, phase):
    """As in the reference, where the EQL actor and the heads are not in the graph outside the last
    epoch: no momentum step, no weight decay, no Adam state. The encoder and the neural actor step."""
    config, learner = make_learner("INSIGHT", pong_data)
    learner.ppo_epoch, learner.ppo_num_epochs = (1, 2) if phase else (0, 2)
    module = learner.module[MID]
    before = {n: p.detach().clone() for n, p in module.named_parameters()}
    _one_step(learner, config, batch)
    state = learner.get_optimizer(MID).state
    idle = [*module.eql.named_parameters(prefix="eql"), *module.perception.heads.named_parameters(prefix="h")]
    for name, p in module.named_parameters():
        moved = not torch.equal(p, before[name])
        if any(p is q for _, q in idle):
            assert moved == phase and (p in state) == phase, name
        elif name.startswith(("pi.", "perception.encoder.0")):
            assert moved and p in state, name


def grads_of(learner, batch, config, part):
    module = learner.module[MID]
    module.zero_grad()
    total, _ = losses(config, learner, batch)
    total.backward()
    return [p.grad for p in part.parameters()]


def test_guidance_gradient_reaches_perception(batch, pong_data):
    """The cross-entropy's gradient flows through the predicted coordinates into the encoder and heads."""
    config, learner = make_learner("INSIGHT", None, reg_weight=0.0)  # no perception loss (no data)
    module = learner.module[MID]
    fwd = module.forward_train(batch)
    target = fwd["neural_logits"].detach().argmax(-1)
    ce = torch.nn.functional.cross_entropy(fwd["eql_logits"], target)
    module.zero_grad()
    ce.backward()
    heads = module.perception.heads.weight.grad
    encoder = module.perception.encoder[0].weight.grad
    assert heads is not None and heads.abs().sum() > 0 and encoder.abs().sum() > 0
    assert module.pi.weight.grad is None or module.pi.weight.grad.abs().sum() == 0  # the target is detached


def test_fixed_perception_is_left_out_of_the_optimizer(pong_data):
    _, learner = make_learner("fixed perception", pong_data)
    module = learner.module[MID]
    optimized = {id(p) for p in learner.get_optimizer(MID).param_groups[0]["params"]}
    assert not any(id(p) in optimized for p in module.perception.parameters())
    assert all(id(p) in optimized for p in [*module.eql.parameters(), *module.pi.parameters()])
    assert learner.get_optimizer(MID).defaults["eps"] == 1e-5


def test_without_neural_guidance_the_eql_actor_is_the_ppo_policy(batch, pong_data):
    config, learner = make_learner("w/o NG", pong_data)
    module = learner.module[MID]
    assert module.pi is None
    fwd = module.forward_train(batch)
    assert torch.equal(fwd[Columns.ACTION_DIST_INPUTS], fwd["eql_logits"])


def test_a_real_update_runs_the_terms_in_the_last_epoch_only(batch, pong_data):
    """`Learner.update` with 2 epochs of 2 minibatches: the phase is on for exactly half the minibatches."""
    config, learner = make_learner("INSIGHT", pong_data)
    seen = []
    original = learner.compute_loss_for_module

    def spy(**kwargs):
        seen.append((learner.ppo_epoch, learner._phase()))
        return original(**kwargs)

    learner.compute_loss_for_module = spy
    ma = MultiAgentBatch({MID: SampleBatch({k: v.numpy() for k, v in batch.items()})}, env_steps=N)
    learner.update(batch=ma, timesteps={NUM_ENV_STEPS_SAMPLED_LIFETIME: N}, num_epochs=2, minibatch_size=12,
                   shuffle_batch_per_epoch=True)  # fmt: skip
    assert seen == [(0, False), (0, False), (1, True), (1, True)]


def _rows_seen(learner, batch, rows, epochs=4, minibatch=6):
    """Run `Learner.update` on the first `rows` rows of `batch` (N = 24: train batch 24, minibatch 6, so
    4 minibatches per epoch) and return, per minibatch, (epoch, its rows' advantages sorted), and the
    advantages in rollout order."""
    seen = []
    original = learner.compute_loss_for_module

    def spy(*, module_id, config, batch, fwd_out):
        seen.append((learner.ppo_epoch, sorted(batch[Postprocessing.ADVANTAGES].tolist())))
        return original(module_id=module_id, config=config, batch=batch, fwd_out=fwd_out)

    learner.compute_loss_for_module = spy
    data = {k: v.numpy()[:rows] for k, v in batch.items()}
    ma = MultiAgentBatch({MID: SampleBatch(data)}, env_steps=rows)
    learner.update(batch=ma, timesteps={NUM_ENV_STEPS_SAMPLED_LIFETIME: rows}, num_epochs=epochs,
                   minibatch_size=minibatch, shuffle_batch_per_epoch=True)  # fmt: skip
    return seen, data[Postprocessing.ADVANTAGES].tolist()


def test_per_epoch_minibatches_cover_every_row_once_per_epoch_in_a_fresh_order(batch):
    """The reference's split: 4 epochs × (24 // 6 = 4) minibatches, each epoch a partition of all the
    rows (here 26 with two extra bootstrap-like rows: parts of 6–7) reshuffled every epoch, the first
    pass shuffled too."""
    np.random.seed(0)
    config, learner = make_learner("neural PPO", ppo={"num_minibatches": 4})
    assert learner.per_epoch_minibatches and learner.config.train_batch_size_per_learner == 24
    extra = {k: torch.cat([v, v[:2]]) for k, v in batch.items()}
    seen, rows = _rows_seen(learner, extra, 26)
    assert [e for e, _ in seen] == [0] * 4 + [1] * 4 + [2] * 4 + [3] * 4
    orders = []
    for epoch in range(4):
        parts = [r for e, r in seen if e == epoch]
        assert sorted(sum(parts, [])) == sorted(rows) and {len(p) for p in parts} <= {6, 7}
        orders.append([p[0] for p in parts])
    assert len({tuple(o) for o in orders}) > 1  # not the same split every epoch
    first_pass = [r for e, r in seen if e == 0]
    cuts = [0, 6, 13, 19, 26]  # 26 rows into 4 parts
    in_order = [sorted(rows[a:b]) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
    assert first_pass != in_order  # the first pass is shuffled too, not in rollout order


def test_rllib_cyclic_minibatches_are_kept_as_an_option(batch):
    """`ppo.minibatching: rllib_cyclic`: RLlib's iterator, minibatches of exactly 6 until every row was
    seen 4 times: 26 rows → 18 minibatches (the INSIGHT runs before 2026-12-08)."""
    np.random.seed(0)
    config, learner = make_learner("neural PPO", ppo={"num_minibatches": 4, "minibatching": "rllib_cyclic"})
    extra = {k: torch.cat([v, v[:2]]) for k, v in batch.items()}
    seen, _ = _rows_seen(learner, extra, 26)
    assert len(seen) == 18 and {len(r) for _, r in seen} == {6}


def test_perception_has_its_own_weight_decay_group(pong_data):
    """The reference's Adam groups: perception (encoder and heads) with weight decay 1e-4, the rest
    without; neural PPO (no perception heads) and a frozen perception have one group."""
    _, learner = make_learner("INSIGHT", pong_data)
    module = learner.module[MID]
    groups = learner.get_optimizer(MID).param_groups
    assert [g["weight_decay"] for g in groups] == [0, 1e-4]
    assert {id(p) for p in groups[1]["params"]} == {id(p) for p in module.perception.parameters()}
    assert {id(p) for p in groups[0]["params"]} == {
        id(p) for p in [*module.pi.parameters(), *module.vf.parameters(), *module.eql.parameters()]
    }
    for condition in ("neural PPO", "fixed perception"):
        _, other = make_learner(condition, pong_data)
        assert [g["weight_decay"] for g in other.get_optimizer(MID).param_groups] == [0]
    _, off = make_learner("INSIGHT", pong_data, perception_weight_decay=0.0)
    assert [g["weight_decay"] for g in off.get_optimizer(MID).param_groups] == [0]


def test_guidance_raises_the_eql_actors_agreement_with_the_neural_actor(pong_data, pong_pretrained):
    """A small learning check on real Pong frames: guided updates make the EQL actor copy the neural one."""
    from rllib_nsrl.systems.insight.data import load_split

    # perception frozen and no entropy bonus: the neural actor stays fixed, only guidance trains the EQL
    settings, folder = pong_pretrained
    config, learner = make_learner(
        "fixed perception", pong_data, ppo={"entropy": 0.0, "lr": 1e-3, "anneal_lr": False},
        weights=str(folder / "perception.pt"), feature_dim=settings.feature_dim,
        guidance_every_epoch=True, perception_weight=0.0,
    )  # fmt: skip
    obs, _ = load_split(pong_data, "train")
    module = learner.module[MID]
    frames = torch.from_numpy(obs[:48])
    with (
        torch.no_grad()
    ):  # a ball-tracking neural actor: UP/DOWN by the sign of y_ball - y_player (newest frame)
        heads, F = module.perception.heads, 4
        row = lambda slot, k: (slot * F + F - 1) * 5 + k  # noqa: E731  (slot, newest frame, feature k)
        diff_w = heads.weight[row(1, 2)] - heads.weight[row(0, 2)]
        diff_b = heads.bias[row(1, 2)] - heads.bias[row(0, 2)]
        module.pi.weight.zero_()
        module.pi.bias.zero_()
        module.pi.weight[2], module.pi.bias[2] = -20 * diff_w, -20 * diff_b  # RIGHT = up: ball above
        module.pi.weight[3], module.pi.bias[3] = 20 * diff_w, 20 * diff_b  # LEFT = down: ball below

    def agreement():
        with torch.no_grad():
            f = module.features(frames)
            return float(
                (module.eql_logits(module.objects(f)).argmax(-1) == module.neural_logits(f).argmax(-1))
                .float()
                .mean()
            )

    with torch.no_grad():
        logits = module.neural_logits(module.features(frames))
    actions = logits.argmax(-1)
    data = {
        Columns.OBS: frames.numpy(),
        Columns.ACTIONS: actions.numpy(),
        Columns.ACTION_DIST_INPUTS: logits.numpy(),
        Columns.ACTION_LOGP: torch.log_softmax(logits, -1).gather(1, actions[:, None]).squeeze(1).numpy(),
        Postprocessing.ADVANTAGES: np.zeros(48, np.float32),
        Postprocessing.VALUE_TARGETS: np.zeros(48, np.float32),
    }
    before = agreement()
    for _ in range(60):
        ma = MultiAgentBatch({MID: SampleBatch(dict(data))}, env_steps=48)
        learner.update(
            batch=ma, timesteps={NUM_ENV_STEPS_SAMPLED_LIFETIME: 48}, num_epochs=1, minibatch_size=48
        )
    after = agreement()
    assert after >= 0.8 and after > before + 0.2, (before, after)


def test_the_eql_actor_can_act_in_training(batch):
    """`eql_acts_in_training`: exploration samples from the EQL logits; PPO still trains the neural actor."""
    _, learner = make_learner("INSIGHT", eql_acts_in_training=True)
    module = learner.module[MID]
    explored = module.forward_exploration(batch)[Columns.ACTION_DIST_INPUTS]
    trained = module.forward_train(batch)
    assert torch.allclose(explored, trained["eql_logits"])
    assert torch.equal(trained[Columns.ACTION_DIST_INPUTS], trained["neural_logits"])
    inferred = module.forward_inference(batch)[Columns.ACTION_DIST_INPUTS]
    assert torch.allclose(inferred, trained["neural_logits"])
