"""Ray Tune function trainable: offline lifelong NLM actor-critic on the BlocksWorld task sequence
(docs/systems/blocksworld.md#lifelong-protocol-and-evaluation).

One trial = one (mode, seed). For each task in order: a fresh ``OfflineActorCriticLearner`` (new
``NLMActorCritic``: fresh actor and critic heads, fresh optimizers), into which ``lifelong`` loads the
knowledge base left by the previous task (``individual`` keeps its freshly initialised one); then
``updates_per_task`` learner updates (``Learner.update(batch=...)``) on minibatches drawn uniformly from
that task's offline data, with an evaluation every ``eval_every`` updates. The data are RLlib's columnar
parquet, read here with pyarrow rather than through ``config.offline_data(input_=...)``: that path starts a
Ray Data pipeline per learner (≈ 30–40 s here) and the protocol builds a new learner for every task.

One Tune iteration = one evaluation, reporting ``task_index``, ``task``, ``updates_in_task``,
``updates_total``, the mean learner metrics of the period (``actor_loss``, ``critic_loss``, ``q_mean``,
``advantage_positive_frac``, ``policy_entropy``), ``eval_steps`` (mean steps to the goal; an episode that
fails counts ``max_steps``), ``eval_success`` (success rate) and, for every task T, ``gen_steps/T`` and
``gen_success/T``: the same on ``generalisation.num_blocks`` (8) blocks with the model trained on T, filled
in at the end of T (NaN before). Evaluation episodes are seeded by (seed, task, evaluation index), so the
two modes of one seed see the same episodes. A checkpoint is attached at the end of every task; a restarted
trial (``FailureConfig``) resumes at the next task from ``tune.get_checkpoint()``. Importing this module
does not start Ray.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from gymnasium import spaces
from ray import tune
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.core.columns import Columns
from ray.rllib.policy.sample_batch import MultiAgentBatch, SampleBatch

from rllib_nsrl.envs.blocksworld import BlocksWorldEnv, get_task, num_actions
from rllib_nsrl.envs.blocksworld.layout import flatten, observation_space
from rllib_nsrl.systems.blocksworld.collect import load_task
from rllib_nsrl.systems.blocksworld.learner import (
    ACTOR_LOSS,
    ADV_POSITIVE,
    CRITIC_LOSS,
    ENTROPY,
    Q_MEAN,
    OfflineActorCriticConfig,
)
from rllib_nsrl.systems.blocksworld.module import NLMActorCritic

STATE_FILE = "blocks_state.pt"
LEARNER_METRICS = (ACTOR_LOSS, CRITIC_LOSS, Q_MEAN, ADV_POSITIVE, ENTROPY)
BATCH_COLUMNS = ("obs", "new_obs", "actions", "rewards", "terminateds")
GEN_EVAL_INDEX = 1_000_000  # evaluation-seed index of the generalisation episodes


def _seed(*key: int) -> int:
    """`derive_seed` below 2**31 (the 31-bit seeds this trainable has always used)."""
    from rllib_nsrl.seeding import derive_seed

    return derive_seed(*key, below=2**31)


def learner_config(config: dict, position: int) -> OfflineActorCriticConfig:
    """The learner/module config of task ``position`` of the sequence (initial weights seeded by it)."""
    t, seed = config["training"], config["seed"]
    kb_key = position if config["mode"] == "individual" else 0
    model = {**config["model"], "kb_seed": _seed(seed, kb_key, 0), "head_seed": _seed(seed, position, 1)}
    return (
        OfflineActorCriticConfig()
        .training(
            gamma=t["gamma"],
            actor_lr=t["actor_lr"],
            critic_lr=t["critic_lr"],
            tau=t["tau"],
            reward_scale=t["reward_scale"],
            actor_weighting=t["actor_weighting"],
            beta=t["beta"],
            max_weight=t["max_weight"],
            grad_clip=t["grad_clip"],
        )
        .rl_module(model_config=model)
        .debugging(seed=seed)
    )


def build_learner(config: dict, position: int):
    """A built Learner for task ``position`` with the flat-observation and action spaces of ``num_blocks``."""
    n = config["env"]["num_blocks"]
    spaces_ = {DEFAULT_MODULE_ID: (observation_space(n), spaces.Discrete(num_actions(n)))}
    return learner_config(config, position).build_learner(spaces=spaces_)


def start_task(config: dict, position: int, carried_kb: dict | None):
    """The learner of task ``position``: fresh heads and optimizers; lifelong starts from ``carried_kb``."""
    learner = build_learner(config, position)
    if config["mode"] == "lifelong" and carried_kb is not None:
        learner.module[DEFAULT_MODULE_ID].load_knowledge_base(carried_kb)
    return learner


class TransitionSampler:
    """Uniform minibatches (with replacement) of one task's transitions, as RLlib ``MultiAgentBatch``es."""

    def __init__(self, columns: dict[str, np.ndarray], seed: int):
        self.columns = {k: columns[k] for k in BATCH_COLUMNS}
        self.size = len(self.columns["actions"])
        self.rng = np.random.default_rng(seed)

    def sample(self, batch_size: int) -> MultiAgentBatch:
        """A uniform ``batch_size`` sample (with replacement) as a one-module ``MultiAgentBatch``."""
        idx = self.rng.integers(0, self.size, batch_size)
        batch = SampleBatch({k: v[idx] for k, v in self.columns.items()})
        return MultiAgentBatch({DEFAULT_MODULE_ID: batch}, env_steps=batch_size)


@torch.no_grad()
def evaluate(
    module: NLMActorCritic, task: int, num_blocks: int, episodes: int, max_steps: int, seed: int, greedy=True,
    domain_file: str | None = None,
) -> dict[str, float]:
    """Run ``episodes`` fresh episodes in lockstep: mean steps to the goal (a failure counts ``max_steps``)
    and success rate."""
    env_cfg = {"task": task, "num_blocks": num_blocks, "max_steps": max_steps, "domain_file": domain_file}
    envs = [BlocksWorldEnv(env_cfg) for _ in range(episodes)]
    obs = [env.reset(seed=_seed(seed, i))[0] for i, env in enumerate(envs)]
    steps, success = np.full(episodes, float(max_steps)), np.zeros(episodes)
    active = list(range(episodes))
    generator = torch.Generator().manual_seed(seed)
    for t in range(1, max_steps + 1):
        x = torch.as_tensor(np.stack([flatten(obs[i]) for i in active]))
        if greedy:
            actions = module.greedy_actions(x)
        else:
            logits = module.forward_inference({Columns.OBS: x})[Columns.ACTION_DIST_INPUTS]
            probs = torch.softmax(logits, dim=-1)
            actions = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
        still = []
        for i, a in zip(active, actions.tolist(), strict=True):
            obs[i], _, terminated, truncated, _ = envs[i].step(a)
            if terminated:
                steps[i], success[i] = t, 1.0
            elif not truncated:
                still.append(i)
        active = still
        if not active:
            break
    for env in envs:
        env.close()
    return {"steps": float(steps.mean()), "success": float(success.mean())}


def _restore() -> dict | None:
    checkpoint = tune.get_checkpoint()
    if checkpoint is None:
        return None
    with checkpoint.as_directory() as folder:
        return torch.load(Path(folder) / STATE_FILE, weights_only=True)


def blocks_trainable(config: dict) -> None:
    """config: ``spec.trial_config`` (mode, seed, data_dir, tasks, env, model, ...)."""
    torch.set_num_threads(1)  # trials share the machine's cores
    tasks, t_cfg, ev = config["tasks"], config["training"], config["evaluation"]
    gen = config["generalisation"]
    n, max_steps = config["env"]["num_blocks"], config["env"]["max_steps"]
    names = [get_task(t).name for t in tasks]
    state = _restore() or {"position": 0, "kb": None, "gen": {}, "updates_total": 0}
    periods = t_cfg["updates_per_task"] // t_cfg["eval_every"]
    for position in range(state["position"], len(tasks)):
        task = tasks[position]
        learner = start_task(config, position, state["kb"])
        module = learner.module[DEFAULT_MODULE_ID]
        sampler = TransitionSampler(load_task(config["data_dir"], task), _seed(config["seed"], position, 2))
        for period in range(periods):
            start, sums = time.perf_counter(), dict.fromkeys(LEARNER_METRICS, 0.0)
            for _ in range(t_cfg["eval_every"]):
                result = learner.update(batch=sampler.sample(t_cfg["batch_size"]))[DEFAULT_MODULE_ID]
                for key in LEARNER_METRICS:
                    sums[key] += float(result[key])
            state["updates_total"] += t_cfg["eval_every"]
            train_seconds = time.perf_counter() - start
            module.eval()
            domain = config["env"].get("domain_file")
            score = evaluate(module, task, n, ev["episodes"], max_steps, _seed(config["seed"], task, period),
                             ev["greedy"], domain)
            last = period == periods - 1
            if last:
                state["gen"][names[position]] = evaluate(
                    module, task, gen["num_blocks"], gen["episodes"], gen["max_steps"],
                    _seed(config["seed"], task, GEN_EVAL_INDEX), ev["greedy"], domain,
                )
            module.train()
            metrics = {
                "task_index": position,
                "task": names[position],
                "updates_in_task": (period + 1) * t_cfg["eval_every"],
                "updates_total": state["updates_total"],
                **{k: v / t_cfg["eval_every"] for k, v in sums.items()},
                "eval_steps": score["steps"],
                "eval_success": score["success"],
                "train_seconds": train_seconds,
            }
            for name in names:
                g = state["gen"].get(name, {})
                metrics[f"gen_steps/{name}"] = g.get("steps", math.nan)
                metrics[f"gen_success/{name}"] = g.get("success", math.nan)
            if not last:
                tune.report(metrics)
                continue
            state["position"] = position + 1
            state["kb"] = {k: v.detach().clone() for k, v in module.kb.state_dict().items()}
            with tempfile.TemporaryDirectory() as folder:
                torch.save(state, Path(folder) / STATE_FILE)
                tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))
