"""Reference ceiling of `nsrl bench train`: a plain single-process PyTorch Dueling double-DQN loop.

The same network as the RLlib modules (`encoders.GridEncoder` → `encoders.dueling_heads`,
Q = V + A − mean(A)) and the hyperparameters of a `kind: symdqn` spec's `dqn` section
(docs/systems/symdqn.md#q-network-and-hyperparameters:
batch 16, replay capacity 1000, `updates_per_step` updates per env step, target copy every 1000 env
steps, Adam lr 1e-4, global grad-norm clip 1, double-Q, ε schedule 0.95 → 0.05), with RLlib DQN's
Huber TD loss, an online forward over obs and one without a graph over next_obs (as `DuelingQModule`).
No Ray, no connectors, no episode objects: one env, a numpy ring buffer, one optimizer step per env
step.
"""

from __future__ import annotations

import copy
import time

import numpy as np
import torch
from torch import nn

from rllib_nsrl.envs.shapes_grid import ShapesGridEnv
from rllib_nsrl.rl_modules.encoders import GridEncoder, dueling_heads


class DuelingQNet(nn.Module):
    """[B, 50, 50, 3] → Q [B, n_actions]; the layers `DuelingQModule` builds for image observations."""

    def __init__(self, obs_shape: tuple[int, int, int], n_actions: int, cell: int = 10):
        super().__init__()
        self.encoder = GridEncoder(obs_shape, cell=cell)
        heads = dueling_heads(self.encoder.out_dim, n_actions)
        self.af, self.vf = heads["af"], heads["vf"]

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Q-values [B, n_actions] of observations [B, 50, 50, 3]: V + A − mean(A)."""
        features = self.encoder(obs)
        advantages = self.af(features)
        return self.vf(features) + advantages - advantages.mean(dim=-1, keepdim=True)


class ReplayRing:
    """Uniform replay over the last `capacity` transitions (obs and next_obs stored as float32)."""

    def __init__(self, capacity: int, obs_shape: tuple[int, ...], rng: np.random.Generator):
        self.capacity, self.rng, self.size, self._next = capacity, rng, 0, 0
        self.obs = np.zeros((capacity, *obs_shape), np.float32)
        self.next_obs = np.zeros((capacity, *obs_shape), np.float32)
        self.actions = np.zeros(capacity, np.int64)
        self.rewards = np.zeros(capacity, np.float32)
        self.terminated = np.zeros(capacity, np.float32)

    def add(self, obs, action, reward, next_obs, terminated) -> None:
        """Store one transition, overwriting the oldest once `capacity` is reached."""
        i = self._next
        self.obs[i], self.next_obs[i] = obs, next_obs
        self.actions[i], self.rewards[i], self.terminated[i] = action, reward, float(terminated)
        self._next, self.size = (i + 1) % self.capacity, min(self.size + 1, self.capacity)

    def sample(self, batch_size: int) -> dict[str, torch.Tensor]:
        """`batch_size` transitions drawn uniformly with replacement, as tensors.

        Keys: obs, next_obs, actions, rewards, terminated.
        """
        idx = self.rng.integers(0, self.size, size=batch_size)
        cols = {
            "obs": self.obs,
            "next_obs": self.next_obs,
            "actions": self.actions,
            "rewards": self.rewards,
            "terminated": self.terminated,
        }
        return {k: torch.from_numpy(v[idx]) for k, v in cols.items()}


class PlainDuelingDQN:
    """One ShapesGridEnv, one Q-network, one update per env step; `run_for(s)` trains for s seconds.

    env_config: ShapesGridEnv config (as `systems.symdqn.kind.env_config` + `zero_reward`); dqn: a validated
    spec's `dqn` section; adam: extra `torch.optim.Adam` flags (`foreach`, `fused`) so the reference
    can run the same Adam implementation as the learner it is compared with. Counters (`env_steps`,
    `updates`) accumulate over calls.
    """

    def __init__(self, env_config: dict, dqn: dict, seed: int = 0, adam: dict | None = None):
        torch.manual_seed(seed)
        self.env = ShapesGridEnv(env_config)
        self.rng = np.random.default_rng(seed)
        shape = self.env.observation_space.shape
        self.n_actions = int(self.env.action_space.n)
        self.q = DuelingQNet(shape, self.n_actions)
        self.target = copy.deepcopy(self.q).requires_grad_(False)
        self.optim = torch.optim.Adam(self.q.parameters(), lr=float(dqn["lr"]), **(adam or {}))
        self.replay = ReplayRing(int(dqn["replay_capacity"]), shape, self.rng)
        self.batch_size, self.gamma = int(dqn["train_batch_size"]), float(dqn["gamma"])
        self.grad_clip, self.double_q = dqn["grad_clip"], bool(dqn["double_q"])
        self.target_freq, self.learning_starts = int(dqn["target_update_freq"]), int(dqn["learning_starts"])
        self.updates_per_step = float(dqn["updates_per_step"])
        eps_t, eps_v = zip(*[(int(t), float(v)) for t, v in dqn["epsilon"]], strict=True)
        self._eps_t, self._eps_v = np.asarray(eps_t, float), np.asarray(eps_v, float)
        self.env_steps = self.updates = 0
        self._credit, self._last_target = 0.0, 0
        self._obs, _ = self.env.reset(seed=seed)

    def epsilon(self) -> float:
        """ε at the current env step, linearly interpolated along the spec's `epsilon` schedule."""
        return float(np.interp(self.env_steps, self._eps_t, self._eps_v))

    def act(self, obs: np.ndarray) -> int:
        """ε-greedy action for one observation [50, 50, 3]: random with probability ε, else argmax Q."""
        if self.rng.random() < self.epsilon():
            return int(self.rng.integers(self.n_actions))
        with torch.no_grad():
            return int(self.q(torch.from_numpy(obs)[None]).argmax(dim=-1))

    def update(self) -> float:
        """One gradient step on a replayed batch; returns the TD loss."""
        b = self.replay.sample(self.batch_size)
        # online Q of next obs only picks the action (double-Q): no graph for it, as in `DuelingQModule`
        q_sel = self.q(b["obs"]).gather(1, b["actions"][:, None]).squeeze(1)
        with torch.no_grad():
            q_target_next = self.target(b["next_obs"])
            q_next_online = self.q(b["next_obs"]) if self.double_q else q_target_next
            best = q_next_online.argmax(dim=-1, keepdim=True)
            q_next = q_target_next.gather(1, best).squeeze(1)
            target = b["rewards"] + self.gamma * (1.0 - b["terminated"]) * q_next
        loss = nn.functional.smooth_l1_loss(q_sel, target)  # RLlib DQN's default "huber"
        self.optim.zero_grad(set_to_none=True)
        loss.backward()
        if self.grad_clip is not None:
            nn.utils.clip_grad_norm_(self.q.parameters(), float(self.grad_clip))
        self.optim.step()
        self.updates += 1
        return float(loss.detach())

    def step(self) -> None:
        """One env step, its transition into replay, then the scheduled updates and target copy."""
        action = self.act(self._obs)
        next_obs, reward, terminated, truncated, _ = self.env.step(action)
        self.replay.add(self._obs, action, reward, next_obs, terminated)
        self.env_steps += 1
        self._obs = self.env.reset()[0] if terminated or truncated else next_obs
        if self.env_steps >= self.learning_starts:
            self._credit += self.updates_per_step
            while self._credit >= 1.0:
                self._credit -= 1.0
                self.update()
        if self.env_steps - self._last_target >= self.target_freq:
            self.target.load_state_dict(self.q.state_dict())
            self._last_target = self.env_steps

    def run_for(self, seconds: float) -> dict:
        """Train for at least `seconds` of wall-clock; counts and time of this window."""
        u0, s0, t0 = self.updates, self.env_steps, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            self.step()
        return {
            "updates": self.updates - u0,
            "env_steps": self.env_steps - s0,
            "seconds": time.perf_counter() - t0,
        }
