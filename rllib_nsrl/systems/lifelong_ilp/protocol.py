"""Lifelong supervised-ILP protocol of L2ILP: one task sequence, a shared NLM knowledge base, task heads.

Modes:
* `individual`: every task gets a fresh knowledge base and a fresh head (its own model).
* `lifelong`: one knowledge base carried from task to task; every task gets a fresh head, earlier heads are
  kept frozen, so their test loss shows forgetting (or backward transfer) as the KB moves on.
* `lifelong_replay`: as lifelong, and each step also trains on a fresh batch of every earlier task through
  that task's saved head (generated worlds stand in for stored examples: same distribution).

Adam (lr 1e-3 in the paper), binary cross-entropy on the target atoms (`loss: balanced` weighs the rare
true atoms up; the paper does not say how it weighs them). After every epoch all tasks are
evaluated on their fixed held-out sets (n objects and 2n objects); a task without a head yet reports NaN.
Initial weights and data streams are derived from (seed, task index), so task 0 is identical in every
mode, and runs are deterministic on CPU.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from rllib_nsrl.seeding import derive_seed
from rllib_nsrl.symbolic.nlm import KnowledgeBase, TaskHead
from rllib_nsrl.systems.lifelong_ilp.domains import ILPBatch, get_domain

MODES = ("individual", "lifelong", "lifelong_replay")
LOSSES = ("bce", "balanced")


def task_loss(logits: torch.Tensor, target: torch.Tensor, kind: str = "bce") -> torch.Tensor:
    """Binary cross-entropy of target atoms. `balanced`: positives weighted by negatives/positives of the
    batch (1 when it has no positive or no negative), so rare true atoms weigh as much as the false ones in
    all."""
    if kind == "balanced":
        positives = target.sum()
        negatives = target.numel() - positives
        weight = negatives / positives if positives > 0 and negatives > 0 else torch.ones(())
        return F.binary_cross_entropy_with_logits(logits, target, pos_weight=weight)
    return F.binary_cross_entropy_with_logits(logits, target)


@dataclass(frozen=True)
class ILPConfig:
    """One run of one task sequence. `kb_channels`/`head_channels` give channels per arity 0..B."""

    domain: str = "graph"
    mode: str = "lifelong"
    seed: int = 0
    epochs_per_task: int = 100
    batches_per_epoch: int = 10
    batch_size: int = 4
    lr: float = 1e-3
    kb_depth: int = 4
    kb_channels: tuple[int, ...] = (8, 8, 8, 8)
    head_channels: tuple[int, ...] = (8, 8, 8, 8)
    test_size: int = 16
    test_size_2x: int | None = None  # instances of the 2n-object set (default test_size); 2^B× the cost
    n_objects: int | None = None
    exclude_self: bool = True
    eval_batch_size: int = 4
    loss: str = "bce"
    kb_include_inputs: bool = True  # the KB's outputs include the input predicates (heads can read them)

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}; valid choices: {', '.join(MODES)}")
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; valid choices: {', '.join(LOSSES)}")
        domain = get_domain(self.domain)
        object.__setattr__(self, "kb_channels", tuple(self.kb_channels))
        object.__setattr__(self, "head_channels", tuple(self.head_channels))
        if len(self.kb_channels) != len(self.head_channels):
            raise ValueError("kb_channels and head_channels must list the same arities")
        if len(self.kb_channels) - 1 < domain.max_arity:
            raise ValueError(
                f"{self.domain} needs predicates of arity {domain.max_arity}: kb_channels "
                f"needs {domain.max_arity + 1} entries, got {list(self.kb_channels)}"
            )

    @classmethod
    def from_dict(cls, config: dict) -> ILPConfig:
        """An `ILPConfig` from a plain dict; ValueError on unknown keys."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(config) - known)
        if unknown:
            raise ValueError(f"unknown ILP config keys {unknown}; valid keys: {sorted(known)}")
        return cls(**config)


def metric_names(tasks) -> list[str]:
    """Per-task metric columns reported every epoch (besides epoch, task_index, task, train_loss)."""
    return [f"{m}/{t}" for t in tasks for m in ("test_loss", "test_acc", "test_acc_2x")]


class _TestSets(NamedTuple):
    batch: ILPBatch  # n objects
    batch_2x: ILPBatch  # 2n objects


class ILPProtocol:
    """Trains one sequence epoch by epoch; `state_dict()` resumes it exactly (also mid-task)."""

    def __init__(self, config: ILPConfig | dict):
        self.config = config if isinstance(config, ILPConfig) else ILPConfig.from_dict(config)
        cfg = self.config
        self.domain = get_domain(cfg.domain)
        self.tasks = self.domain.tasks
        self.n = cfg.n_objects or self.domain.default_n
        size_2x = cfg.test_size if cfg.test_size_2x is None else cfg.test_size_2x
        self._test = [
            _TestSets(
                self.domain.test_set(t, cfg.test_size, self.n), self.domain.test_set(t, size_2x, 2 * self.n)
            )
            for t in self.tasks
        ]
        self.kbs: dict[int, KnowledgeBase] = {}  # individual: one per task; lifelong: only key 0
        self.heads: dict[int, TaskHead] = {}
        self.task_index = 0
        self.epoch_in_task = 0
        self.optimizer: torch.optim.Optimizer | None = None
        self.rng: np.random.Generator | None = None
        self.replay_rng: np.random.Generator | None = None

    # ------------------------------------------------------------------------------------------ modules
    @property
    def done(self) -> bool:
        """Whether every task of the sequence has been trained."""
        return self.task_index >= len(self.tasks)

    @property
    def at_task_boundary(self) -> bool:
        """Whether the next epoch starts a task."""
        return self.epoch_in_task == 0

    def kb_for(self, task_index: int) -> KnowledgeBase:
        """The knowledge base of task `task_index`: its own (`individual`) or the shared one."""
        return self.kbs[task_index if self.config.mode == "individual" else 0]

    def _build_kb(self, key: int) -> KnowledgeBase:
        cfg = self.config
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(cfg.seed, key, 0))
            return KnowledgeBase(
                self.domain.input_channels,
                [list(cfg.kb_channels)] * cfg.kb_depth,
                exclude_self=cfg.exclude_self,
                include_inputs=cfg.kb_include_inputs,
            )

    def _build_head(self, task_index: int, kb: KnowledgeBase) -> TaskHead:
        cfg = self.config
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(cfg.seed, task_index, 1))
            return TaskHead(
                kb.out_channels,
                self.domain.target_arity[self.tasks[task_index]],
                list(cfg.head_channels),
                exclude_self=cfg.exclude_self,
            )

    def _trained_params(self, t: int) -> list[torch.nn.Parameter]:
        heads = range(t + 1) if self.config.mode == "lifelong_replay" else [t]
        params = list(self.kb_for(t).parameters())
        for j in heads:
            params += list(self.heads[j].parameters())
        return params

    def begin_task(self) -> None:
        """Start the current task: its KB (individual, or the first task), a fresh head, optimizer, data.

        `train_epoch` calls it at the first epoch of each task."""
        t, cfg = self.task_index, self.config
        key = t if cfg.mode == "individual" else 0
        if key not in self.kbs:
            self.kbs[key] = self._build_kb(key)
        self.heads[t] = self._build_head(t, self.kb_for(t))
        self.optimizer = torch.optim.Adam(self._trained_params(t), lr=cfg.lr)
        self.rng = np.random.default_rng([cfg.seed, t, 0])
        self.replay_rng = np.random.default_rng([cfg.seed, t, 1])

    # --------------------------------------------------------------------------------------- training
    def _loss(self, j: int, batch: ILPBatch) -> torch.Tensor:
        kb = self.kb_for(j)
        return task_loss(self.heads[j](kb(batch.inputs)), batch.target, self.config.loss)

    def train_epoch(self) -> dict:
        """One epoch of the current task, then evaluation of every task; returns the flat metrics."""
        if self.done:
            raise RuntimeError("the task sequence is finished")
        cfg, t = self.config, self.task_index
        if self.optimizer is None:
            self.begin_task()
        total = 0.0
        for _ in range(cfg.batches_per_epoch):
            batch = self.domain.make_batch(self.tasks[t], cfg.batch_size, self.rng, self.n)
            loss = self._loss(t, batch)
            if cfg.mode == "lifelong_replay":
                for j in range(t):
                    old = self.domain.make_batch(self.tasks[j], cfg.batch_size, self.replay_rng, self.n)
                    loss = loss + self._loss(j, old)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            total += loss.item()
        self.epoch_in_task += 1
        metrics = {
            "epoch": t * cfg.epochs_per_task + self.epoch_in_task,
            "task_index": t,
            "task": self.tasks[t],
            "train_loss": total / cfg.batches_per_epoch,
            **self.evaluate(),
        }
        if self.epoch_in_task == cfg.epochs_per_task:
            self.task_index, self.epoch_in_task = t + 1, 0
            self.optimizer = self.rng = self.replay_rng = None
        return metrics

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """`test_loss/T`, `test_acc/T` (n objects) and `test_acc_2x/T` (2n objects) for every task T."""
        out = {}
        # 2n objects cost 2^B times the memory of n objects
        chunk_2x = max(1, self.config.eval_batch_size >> (len(self.config.kb_channels) - 1))
        for j, (name, test) in enumerate(zip(self.tasks, self._test, strict=True)):
            loss = acc = acc_2x = math.nan
            if j in self.heads:
                loss, acc = self._score(j, test.batch, self.config.eval_batch_size)
                _, acc_2x = self._score(j, test.batch_2x, chunk_2x)
            out[f"test_loss/{name}"], out[f"test_acc/{name}"], out[f"test_acc_2x/{name}"] = loss, acc, acc_2x
        return out

    def _score(self, j: int, batch: ILPBatch, chunk: int) -> tuple[float, float]:
        kb, head = self.kb_for(j), self.heads[j]
        loss_sum, correct, count = 0.0, 0.0, 0
        for start in range(0, batch.target.shape[0], chunk):
            inputs = [None if x is None else x[start : start + chunk] for x in batch.inputs]
            target = batch.target[start : start + chunk]
            logits = head(kb(inputs))
            loss_sum += F.binary_cross_entropy_with_logits(logits, target, reduction="sum").item()
            correct += ((logits > 0).float() == target).sum().item()
            count += target.numel()
        return loss_sum / count, correct / count

    # ---------------------------------------------------------------------------------------- resuming
    def state_dict(self) -> dict:
        """Everything needed to resume: config, KBs, heads, optimizer, data rng states, task index, epoch."""
        return {
            "config": asdict(self.config),
            "task_index": self.task_index,
            "epoch_in_task": self.epoch_in_task,
            "kbs": {k: kb.state_dict() for k, kb in self.kbs.items()},
            "heads": {k: h.state_dict() for k, h in self.heads.items()},
            "optimizer": None if self.optimizer is None else self.optimizer.state_dict(),
            "rng": None if self.rng is None else self.rng.bit_generator.state,
            "replay_rng": None if self.replay_rng is None else self.replay_rng.bit_generator.state,
        }

    def load_state_dict(self, state: dict) -> None:
        """Resume from a `state_dict()`; ValueError if it was saved under another config."""
        saved = ILPConfig.from_dict(state["config"])
        if saved != self.config:
            raise ValueError(f"state was saved for config {saved}, this protocol runs {self.config}")
        self.kbs = {int(k): self._build_kb(int(k)) for k in state["kbs"]}
        for k, sd in state["kbs"].items():
            self.kbs[int(k)].load_state_dict(sd)
        self.heads = {}
        for k in sorted(int(k) for k in state["heads"]):
            self.heads[k] = self._build_head(k, self.kb_for(k))
            self.heads[k].load_state_dict(state["heads"][k])
        self.task_index, self.epoch_in_task = state["task_index"], state["epoch_in_task"]
        self.optimizer = self.rng = self.replay_rng = None
        if state["optimizer"] is not None:
            self.optimizer = torch.optim.Adam(self._trained_params(self.task_index), lr=self.config.lr)
            self.optimizer.load_state_dict(state["optimizer"])
            self.rng, self.replay_rng = np.random.default_rng(), np.random.default_rng()
            self.rng.bit_generator.state = state["rng"]
            self.replay_rng.bit_generator.state = state["replay_rng"]


def run_sequence(config: ILPConfig | dict) -> list[dict]:
    """Train the whole sequence; one metrics dict per epoch."""
    protocol = ILPProtocol(config)
    history = []
    while not protocol.done:
        history.append(protocol.train_epoch())
    return history
