"""``BlocksWorldEnv``: a gymnasium env over PDDLGym's BlocksWorld with NLM predicate-tensor observations.

Each episode samples a goal of the configured task class (``tasks.py``) and a random initial configuration
that does not already satisfy it, writes them as a PDDL problem file into the env's own temporary
directory, loads it through PDDLGym (``load_problem``; ``fix_problem_index(0)``) and steps PDDLGym's
(old-``gym``) ``PDDLEnv`` with ground action literals. PDDLGym is built with
``raise_error_on_invalid_action=True``; the env checks the symbolic mask first and raises ``ValueError``
naming the action, so an invalid action is never a silent no-op.

Observation ``Dict`` (see ``encoding.py``; n = ``num_blocks``, A = 2n² + 2n)::

    nullary      Box(0, 1, [2], float32)        HandEmpty, HandFull
    unary        Box(0, 1, [n, 3], float32)     OnTable, Clear, Holding
    binary       Box(0, 1, [n, n, 1], float32)  On
    goal_unary   Box(0, 1, [n, 1], float32)     goal OnTable
    goal_binary  Box(0, 1, [n, n, 1], float32)  goal On
    action_mask  Box(0, 1, [A], int8)           1 = preconditions hold (X = Y slots always 0)

Action: ``Discrete(A)`` over ``encoding.ground_actions(n)``. Reward: ``step_reward`` (−0.1) every step
plus ``goal_reward`` (+100) on the step that reaches the goal (so that step yields 99.9); the episode then
terminates. Truncation after ``max_steps`` (50) steps.

``action_space.sample()`` without a mask draws among the currently valid actions (gymnasium's
``check_env`` steps with unmasked samples; see ``SampledAction``). A vectorised env's batched action space
does not know the mask: RLlib's random-action paths must sample with the observation's ``action_mask``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from pddlgym.core import InvalidAction
from pddlgym.structs import Literal, State

from rllib_nsrl.constants import ACTION_MASK
from rllib_nsrl.envs.blocksworld.encoding import (
    BINARY,
    GOAL_BINARY,
    GOAL_UNARY,
    NULLARY,
    UNARY,
    action_name,
    encode_goal,
    encode_state,
    goal_literals,
    ground_actions,
    mask_from_tensors,
    num_actions,
    towers_to_literals,
)
from rllib_nsrl.envs.blocksworld.pddl_files import load_problem, make_pddl_env, write_domain, write_problem
from rllib_nsrl.envs.blocksworld.planner import default_planner
from rllib_nsrl.envs.blocksworld.tasks import Towers, get_task, goal_satisfied, random_towers

DEFAULT_CONFIG: dict[str, Any] = {
    "num_blocks": 6,
    "task": 0,  # paper index 0–4, a task name, or a tasks.GoalClass
    "max_steps": 50,
    "step_reward": -0.1,
    "goal_reward": 100.0,
    "pddl_dir": None,  # parent of the per-env temp PDDL dir (None: /dev/shm if writable, else $TMPDIR)
    "domain_file": None,  # None: write encoding-compatible pddl_files.DOMAIN_PDDL
    "render_mode": None,
}


class SampledAction(int):
    """An action drawn by ``MaskedDiscrete.sample()``: valid in the state it was drawn in.

    It keeps its uniform draw ``u``; if the state changed before it is stepped (gymnasium's ``check_env``
    samples *before* ``reset(seed=...)``), the env redraws it among the then-valid actions with the same
    ``u``, so it stays a uniformly random valid action and stepping stays deterministic. Plain ints are
    never reinterpreted: an invalid one raises.
    """

    u: float

    @classmethod
    def draw(cls, u: float, valid: np.ndarray) -> SampledAction:
        """The action at quantile ``u`` of the valid indices ``valid``."""
        action = cls(valid[min(int(u * len(valid)), len(valid) - 1)])
        action.u = u
        return action


class MaskedDiscrete(spaces.Discrete):
    """``Discrete`` whose ``sample()`` without a mask draws among the env's currently valid actions."""

    def __init__(self, n: int, valid: np.ndarray, seed: int | None = None):
        super().__init__(n, seed=seed)
        self._valid = valid  # the env updates this int8 array in place

    def sample(self, mask: np.ndarray | None = None, probability: np.ndarray | None = None):
        """A uniformly random currently valid action (a ``SampledAction``); with a mask or probabilities, or
        no valid action, ``Discrete.sample``.
        """
        if mask is not None or probability is not None or not self._valid.any():
            return super().sample(mask=mask, probability=probability)
        return SampledAction.draw(float(self.np_random.random()), np.flatnonzero(self._valid))


class BlocksWorldEnv(gym.Env):
    """BlocksWorld with one of the five goal-configuration tasks; settings in ``DEFAULT_CONFIG``.

    Built as ``BlocksWorldEnv({"task": 3})`` (RLlib ``env_config``) or ``BlocksWorldEnv(task=3)``.
    ``reset(options={"goal": towers, "initial": towers})`` pins either part of an episode (``tasks.Towers``).
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(self, config: Mapping[str, Any] | None = None, **kwargs: Any):
        cfg = {**DEFAULT_CONFIG, **dict(config or {}), **kwargs}
        unknown = sorted(set(cfg) - set(DEFAULT_CONFIG))
        if unknown:
            raise ValueError(f"unknown BlocksWorldEnv settings {unknown}; known: {sorted(DEFAULT_CONFIG)}")
        if cfg["render_mode"] not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}")
        self.num_blocks = n = int(cfg["num_blocks"])
        self.task = get_task(cfg["task"])
        self.task.count(n)  # validates num_blocks against the task
        self.max_steps, self.render_mode = int(cfg["max_steps"]), cfg["render_mode"]
        self.step_reward, self.goal_reward = float(cfg["step_reward"]), float(cfg["goal_reward"])

        # One problem file is written per reset; RAM-backed /dev/shm makes that several times cheaper.
        parent = cfg["pddl_dir"] or ("/dev/shm" if os.access("/dev/shm", os.W_OK) else None)
        self._tmp = tempfile.TemporaryDirectory(prefix="nsrl_blocksworld_", dir=parent)
        root = Path(self._tmp.name)
        (root / "problems").mkdir()
        self.domain_file = Path(cfg["domain_file"]) if cfg["domain_file"] else write_domain(root)
        self.problem_file = root / "problems" / "episode.pddl"
        self._pddl = make_pddl_env(self.domain_file, root / "problems")
        self._actions = ground_actions(n)
        self._valid = np.zeros(num_actions(n), np.int8)
        self._goal: frozenset[Literal] = frozenset()
        self._goal_tensors: dict[str, np.ndarray] = {}
        self._goal_towers: Towers = ()
        self._steps = 0

        self.observation_space = spaces.Dict(
            {
                NULLARY: spaces.Box(0.0, 1.0, (2,), np.float32),
                UNARY: spaces.Box(0.0, 1.0, (n, 3), np.float32),
                BINARY: spaces.Box(0.0, 1.0, (n, n, 1), np.float32),
                GOAL_UNARY: spaces.Box(0.0, 1.0, (n, 1), np.float32),
                GOAL_BINARY: spaces.Box(0.0, 1.0, (n, n, 1), np.float32),
                ACTION_MASK: spaces.Box(0, 1, (num_actions(n),), np.int8),
            }
        )
        self.action_space = MaskedDiscrete(num_actions(n), self._valid)

    # ------------------------------------------------------------------ gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Goal and initial state from ``options`` or sampled (a sampled start never meets the goal).

        Writes and loads the episode's PDDL problem; returns the first observation and info.
        """
        super().reset(seed=seed)
        options, n = options or {}, self.num_blocks
        goal = options.get("goal")
        goal = self.task.sample(self.np_random, n) if goal is None else tuple(map(tuple, goal))
        if options.get("initial") is not None:
            initial = tuple(map(tuple, options["initial"]))
            if sorted(b for t in initial for b in t) != list(range(n)):
                raise ValueError(f"options['initial'] must hold each block 0..{n - 1} once, got {initial}")
        else:
            initial = random_towers(self.np_random, n)
            while goal_satisfied(initial, goal):
                initial = random_towers(self.np_random, n)
        self._goal_towers, self._goal = goal, goal_literals(goal)
        self._goal_tensors = encode_goal(self._goal, n)
        write_problem(self.problem_file, n, towers_to_literals(initial), self._goal)
        self._pddl.problems = [load_problem(self.problem_file, self._pddl.domain)]
        self._pddl.fix_problem_index(0)
        state, _ = self._pddl.reset()
        self._steps = 0
        return self._observe(state), self._info(False)

    def step(self, action):
        """Apply a valid action: reward ``step_reward`` (+ ``goal_reward`` on reaching the goal).

        Raises ``ValueError`` on an action outside the space or masked in the current state.
        """
        if self._pddl.get_state() is None:
            raise RuntimeError("call reset() before step()")
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is not in Discrete({self.action_space.n})")
        a = int(action)
        if isinstance(action, SampledAction) and not self._valid[a]:
            a = int(SampledAction.draw(action.u, np.flatnonzero(self._valid)))
        if not self._valid[a]:
            valid = [action_name(int(i), self.num_blocks) for i in np.flatnonzero(self._valid)]
            raise ValueError(
                f"BlocksWorldEnv: action {a} = {action_name(a, self.num_blocks)} is not valid "
                f"in the current state (masked); valid actions: {valid}"
            )
        try:
            state, _, done, _, _ = self._pddl.step(self._actions[a])
        except InvalidAction as exc:  # mask and PDDLGym disagree: a bug, never a silent no-op
            raise ValueError(f"PDDLGym rejected {action_name(a, self.num_blocks)}: {exc}") from exc
        self._steps += 1
        terminated = bool(done)
        truncated = not terminated and self._steps >= self.max_steps
        reward = self.step_reward + (self.goal_reward if terminated else 0.0)
        return self._observe(state), float(reward), terminated, truncated, self._info(terminated)

    def render(self) -> str | None:
        """One-line text of towers (bottom to top), held block and goal in ``"ansi"`` mode; else None."""
        if self.render_mode != "ansi":
            return None
        lits = self.state.literals
        above = {lit.variables[1].name: lit.variables[0].name for lit in lits if lit.predicate.name == "on"}
        towers = []
        for lit in sorted(lits):
            if lit.predicate.name == "ontable":
                tower = [lit.variables[0].name]
                while tower[-1] in above:
                    tower.append(above[tower[-1]])
                towers.append(" ".join(tower))
        held = [lit.variables[0].name for lit in lits if lit.predicate.name == "holding"]
        goal = " | ".join(" ".join(f"b{b}" for b in t) for t in self._goal_towers)
        return f"towers: {' | '.join(towers)}; hand: {held[0] if held else '-'}; goal: {goal}\n"

    def close(self) -> None:
        """Remove the env's temporary PDDL directory."""
        self._tmp.cleanup()
        super().close()

    # ------------------------------------------------------------------ symbolic access
    @property
    def state(self) -> State:
        """Current PDDLGym ``State`` (literals, objects, goal)."""
        return self._pddl.get_state()

    @property
    def goal(self) -> frozenset[Literal]:
        """Goal literals of the current episode."""
        return self._goal

    @property
    def goal_towers(self) -> Towers:
        """Goal of the current episode as ``tasks.Towers``."""
        return self._goal_towers

    def valid_actions(self) -> np.ndarray:
        """Indices of the currently valid actions."""
        return np.flatnonzero(self._valid)

    def optimal_action(self) -> int:
        """An optimal action from the current state (shared per-process planner of ``planner.py``)."""
        return default_planner(self.num_blocks).optimal_action(self.state.literals, self._goal)

    def _observe(self, state: State) -> dict[str, np.ndarray]:
        obs = encode_state(state.literals, self.num_blocks)
        self._valid[:] = mask_from_tensors(obs[NULLARY], obs[UNARY], obs[BINARY])
        obs.update({k: v.copy() for k, v in self._goal_tensors.items()})
        obs[ACTION_MASK] = self._valid.copy()
        return obs

    def _info(self, success: bool) -> dict[str, Any]:
        return {"task": self.task.name, "is_success": success, "problem_file": str(self.problem_file)}
