"""NLMActorCritic built directly (no Ray): masking, action order, lifting, bounded logits, KB carry-over
across tasks, and the lifelong trainable's task-boundary checkpoints (with `ray.tune` stood in for)."""

import contextlib
import shutil

import numpy as np
import pytest
import torch
from gymnasium.spaces import Discrete
from ray.rllib.algorithms.dqn.default_dqn_rl_module import QF_PREDS
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.core.columns import Columns

from rllib_nsrl.envs.blocksworld import BlocksWorldEnv, layout, num_actions
from rllib_nsrl.experiments.spec import validate_spec
from rllib_nsrl.systems.blocksworld import trainable as blocks_trainable_module
from rllib_nsrl.systems.blocksworld.collect import DataSettings, collect
from rllib_nsrl.systems.blocksworld.module import NLMActorCritic
from rllib_nsrl.systems.blocksworld.spec import trial_config
from rllib_nsrl.systems.blocksworld.trainable import start_task


def make_module(num_blocks=6, **model):
    return NLMActorCritic(
        observation_space=layout.observation_space(num_blocks),
        action_space=Discrete(num_actions(num_blocks)),
        model_config={"kb_depth": 2, **model},
    )


def observations(num_blocks=6, count=12, start=0):
    rows, env = [], BlocksWorldEnv({"num_blocks": num_blocks, "task": 2})
    rng = np.random.default_rng(start)
    for seed in range(start, start + count):
        obs, _ = env.reset(seed=seed)
        for _ in range(seed % 3):  # also states with a block in the hand
            obs, *_ = env.step(int(rng.choice(np.flatnonzero(obs["action_mask"]))))
        rows.append(layout.flatten(obs))
    return torch.as_tensor(np.stack(rows))


def test_masked_actions_get_minus_inf_and_are_never_chosen():
    module, obs = make_module(), observations()
    mask = layout.unflatten(obs)["action_mask"] > 0
    out = module.forward_train({Columns.OBS: obs})
    for key in (Columns.ACTION_DIST_INPUTS, QF_PREDS):
        values = out[key]
        assert torch.isneginf(values[~mask]).all()
        assert torch.isfinite(values[mask]).all()
    assert mask.gather(1, module.greedy_actions(obs).unsqueeze(1)).all()
    dist = module.get_inference_action_dist_cls().from_logits(out[Columns.ACTION_DIST_INPUTS])
    samples = torch.stack([dist.sample() for _ in range(200)], dim=1)  # [B, 200]
    assert mask.gather(1, samples).all()
    probs = torch.softmax(out[Columns.ACTION_DIST_INPUTS], dim=-1)
    assert (probs[~mask] == 0).all()


def test_logits_are_tanh_bounded_and_divided_by_the_temperature():
    module, obs = make_module(temperature=1.5, logit_scale=2.0), observations()
    logits = module.forward_inference({Columns.OBS: obs})[Columns.ACTION_DIST_INPUTS]
    finite = logits[torch.isfinite(logits)]
    assert finite.abs().max() <= 2.0 / 1.5 + 1e-6


def _permute_row(row: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """Rename block i as perm[i] in a flat observation (state, goal and mask)."""
    p = layout.unflatten(row)
    inv = np.argsort(perm)
    out = {k: v.copy() for k, v in p.items()}
    for key in ("unary", "goal_unary"):
        out[key] = p[key][inv]
    for key in ("binary", "goal_binary"):
        out[key] = p[key][inv][:, inv]
    out["action_mask"] = p["action_mask"][_action_permutation(perm)]
    return np.concatenate([out[k].reshape(-1) for k in layout.KEYS]).astype(np.float32)


def _action_permutation(perm: np.ndarray) -> np.ndarray:
    """Index array: new action a ← old action index[a] under the renaming (env action order)."""
    n, inv = len(perm), np.argsort(perm)
    index = list(inv) + [n + i for i in inv]
    for base in (2 * n, 2 * n + n * n):
        index += [base + inv[i] * n + inv[j] for i in range(n) for j in range(n)]
    return np.asarray(index)


def test_scores_follow_the_env_action_order_under_block_renaming():
    """Lifted model: renaming blocks permutes every action score exactly like the env's action indices."""
    module, obs = make_module(), observations(count=4).numpy()
    perm = np.array([3, 0, 5, 1, 2, 4])
    renamed = torch.as_tensor(np.stack([_permute_row(r, perm) for r in obs]))
    a = module.forward_train({Columns.OBS: torch.as_tensor(obs)})
    b = module.forward_train({Columns.OBS: renamed})
    index = torch.as_tensor(_action_permutation(perm))
    for key in (Columns.ACTION_DIST_INPUTS, QF_PREDS):
        torch.testing.assert_close(b[key], a[key][:, index], rtol=1e-5, atol=1e-5)


def test_one_module_runs_on_any_block_count():
    module = make_module(6)
    out = module.forward_train({Columns.OBS: observations(num_blocks=8, count=3)})
    assert out[Columns.ACTION_DIST_INPUTS].shape == out[QF_PREDS].shape == (3, num_actions(8))


def test_breadth_three_knowledge_base_works():
    module = make_module(kb_channels=[4, 4, 4, 4], head_channels=[8, 8, 8, 8], kb_depth=1)
    assert module.kb.breadth == 3
    assert module.forward_train({Columns.OBS: observations(count=2)})[QF_PREDS].shape == (2, 84)


@pytest.fixture(scope="module")
def spec():
    return validate_spec({"name": "t", "kind": "blocksworld_lifelong", "model": {"kb_depth": 1}})


def _state(module: torch.nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _equal(a: dict, b: dict) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


def test_lifelong_carries_the_kb_and_starts_fresh_heads(spec):
    config = trial_config(spec, "lifelong", 0, "unused")
    first = start_task(config, 0, None).module[DEFAULT_MODULE_ID]
    with torch.no_grad():  # stands in for training on task 0
        for p in (*first.kb.parameters(), *first.pi_head.parameters()):
            p.add_(0.1)
    carried = _state(first.kb)
    second = start_task(config, 1, carried).module[DEFAULT_MODULE_ID]
    assert _equal(_state(second.kb), carried)
    assert _equal(_state(second._target_kb), carried)
    assert not _equal(_state(second.pi_head), _state(first.pi_head))
    fresh = start_task(config, 1, None).module[DEFAULT_MODULE_ID]
    for name in ("pi_head", "q_head", "_target_pi_head"):
        assert _equal(_state(getattr(second, name)), _state(getattr(fresh, name)))


def test_individual_mode_starts_every_task_from_scratch(spec):
    lifelong = trial_config(spec, "lifelong", 0, "unused")
    individual = trial_config(spec, "individual", 0, "unused")
    a0 = start_task(lifelong, 0, None).module[DEFAULT_MODULE_ID]
    b0 = start_task(individual, 0, None).module[DEFAULT_MODULE_ID]
    assert _equal(_state(a0), _state(b0))  # task 0 is identical in both modes
    b1 = start_task(individual, 1, _state(a0.kb)).module[DEFAULT_MODULE_ID]
    assert not _equal(_state(b1.kb), _state(a0.kb))


@pytest.mark.parametrize("actor_trains_kb", [False, True])
def test_actor_gradients_reach_the_kb_only_when_asked(actor_trains_kb):
    module, obs = make_module(kb_depth=1, actor_trains_kb=actor_trains_kb), observations(count=4)
    logits = module.forward_train({Columns.OBS: obs})[Columns.ACTION_DIST_INPUTS]
    actions = module.greedy_actions(obs).unsqueeze(1)
    torch.log_softmax(logits, -1).gather(1, actions).sum().backward()
    reached = any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.kb.parameters())
    assert reached == actor_trains_kb
    assert all(p.grad is not None for p in module.pi_head.parameters())


class FakeTune:
    """Stands in for `ray.tune` inside `blocks_trainable`: records reports, keeps checkpoint copies."""

    class Checkpoint:
        def __init__(self, path):
            self.path = path

        @classmethod
        def from_directory(cls, path):
            return cls(path)

        @contextlib.contextmanager
        def as_directory(self):
            yield self.path

    def __init__(self, keep_dir, restore=None):
        self.keep_dir, self.restore, self.reports, self.saved = keep_dir, restore, [], []

    def report(self, metrics, checkpoint=None):
        self.reports.append(metrics)
        if checkpoint is not None:
            keep = self.keep_dir / f"checkpoint_{len(self.saved)}"
            shutil.copytree(checkpoint.path, keep)
            self.saved.append(self.Checkpoint(keep))

    def get_checkpoint(self):
        return self.restore


def test_trainable_checkpoints_task_boundaries_and_resumes_at_the_next_task(tmp_path, monkeypatch):
    settings = DataSettings(tasks=(0, 2), transitions_per_task=20, shards_per_task=1, max_steps=10)
    folder = collect(settings, tmp_path / "data", log=lambda *_: None)
    raw = {
        "name": "t", "kind": "blocksworld_lifelong", "tasks": [0, 2], "model": {"kb_depth": 1},
        "training": {"updates_per_task": 2, "eval_every": 1, "batch_size": 8},
        "evaluation": {"episodes": 1}, "generalisation": {"episodes": 1, "max_steps": 5},
    }  # fmt: skip
    config = trial_config(validate_spec(raw), "lifelong", 0, str(folder))
    whole = FakeTune(tmp_path)
    monkeypatch.setattr(blocks_trainable_module, "tune", whole)
    blocks_trainable_module.blocks_trainable(config)
    assert [r["task"] for r in whole.reports] == ["5_table"] * 2 + ["2_table_1_stacked"] * 2
    assert len(whole.saved) == 2 and np.isnan(whole.reports[0]["gen_steps/5_table"])
    assert 1 <= whole.reports[1]["gen_steps/5_table"] <= 5
    assert np.isnan(whole.reports[1]["gen_steps/2_table_1_stacked"])
    with whole.saved[0].as_directory() as path:
        state = torch.load(path / blocks_trainable_module.STATE_FILE, weights_only=True)
    assert state["position"] == 1 and state["updates_total"] == 2 and state["kb"] is not None

    resumed = FakeTune(tmp_path / "again", restore=whole.saved[0])
    monkeypatch.setattr(blocks_trainable_module, "tune", resumed)
    blocks_trainable_module.blocks_trainable(config)
    assert len(resumed.reports) == 2  # only the task after the checkpoint
    for a, b in zip(resumed.reports, whole.reports[2:], strict=True):  # same KB, seeds: same results
        assert {k: v for k, v in a.items() if k != "train_seconds"} == pytest.approx(
            {k: v for k, v in b.items() if k != "train_seconds"}, nan_ok=True
        )
