"""AtariObjectsEnv: INSIGHT's Atari pipeline (Luo et al., ICML 2024), the object teacher in every `info`.

One ALE game without frame skip (``<Game>NoFrameskip-v4``: no sticky actions, minimal action set,
108 000 frames per episode), then the reference's wrappers folded into one class so that frames and
objects are stacked together: no-op reset (1…30 raw frames), max-and-skip 4, episodic life, fire
reset, reward clipping, 84×84 grey, 4-frame stack. The wrappers are written here, not taken from
gymnasium's `AtariPreprocessing`: that one has no episodic life (its `terminal_on_life_loss` ends the
game) and no fire reset, and when a game ends mid-skip it max-pools a stale frame.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import gymnasium as gym
import numpy as np

from rllib_nsrl.envs.atari.objects import OBJECT_SLOTS, SCREEN_H, SCREEN_W, check_game, objects_from_ram

INFO_OBJECTS = "objects"  # float32 [S, F, 5]: the teacher's (exists, x, y, w, h) per slot and frame
INFO_RAW_REWARD = "raw_reward"  # the game's reward before clipping (scores are summed from this)
INFO_GAME_OVER = "game_over"  # True when the game really ended (episodic life ends episodes earlier)

DEFAULTS: dict = {
    "game": "Pong",
    "frame_skip": 4,
    "noop_max": 30,
    "screen_size": 84,
    "frame_stack": 4,
    "episodic_life": True,  # training-time wrappers of the paper; evaluation turns the three off
    "fire_reset": True,
    "clip_rewards": True,
    "repeat_action_probability": 0.0,
    "max_episode_frames": 108_000,
}
_RLLIB_KEYS = ("worker_index", "num_workers", "vector_index", "remote")  # RLlib's EnvContext extras


class AtariObjectsEnv(gym.Env):
    """Atari frames for the agent, the teacher's objects for perception training.

    Observation: ``Box(0, 255, (4, 84, 84), uint8)``, channels-first: frame axis first, index 0 the
    oldest and -1 the newest frame (frame 4 in `variable_names`), each the max of the last two grey
    screens of its skip, resized with area interpolation.
    ``info["objects"]``: float32 ``[S, 4, 5]``, the same frames' objects ``(exists, x, y, w, h)`` in
    [0, 1] for the game's slots `OBJECT_SLOTS[game]`, read from RAM after the last frame of each skip.

    Config keys (all optional): see `DEFAULTS`. `episodic_life` ends an episode on a lost life and the
    next `reset()` continues the game; `fire_reset` presses FIRE after each reset where the game has
    it; `clip_rewards` gives sign(reward) (``info["raw_reward"]`` keeps the score).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 15}

    def __init__(self, config: Mapping | None = None, *, render_mode: str | None = None) -> None:
        cfg = {**DEFAULTS, **dict(config or {})}
        for key in _RLLIB_KEYS:
            cfg.pop(key, None)
        unknown = sorted(set(cfg) - set(DEFAULTS))
        if unknown:
            raise ValueError(f"AtariObjectsEnv: unknown config key(s) {unknown}; known: {sorted(DEFAULTS)}")
        self.game = check_game(cfg["game"])
        self.frame_skip = int(cfg["frame_skip"])
        self.noop_max = int(cfg["noop_max"])
        self.screen_size = int(cfg["screen_size"])
        self.frame_stack = int(cfg["frame_stack"])
        self.episodic_life = bool(cfg["episodic_life"])
        self.clip_rewards = bool(cfg["clip_rewards"])
        if min(self.frame_skip, self.screen_size, self.frame_stack) < 1 or self.noop_max < 0:
            raise ValueError("AtariObjectsEnv: need frame_skip, screen_size, frame_stack >= 1, noop_max >= 0")
        try:
            import cv2
            from ale_py.env import AtariEnv
        except ImportError as err:  # ale-py is GPL-2.0, so it is an optional extra
            raise ImportError(
                "AtariObjectsEnv needs the 'insight' extra: pip install -e '.[insight]'"
            ) from err
        self._resize = cv2.resize
        self._area = cv2.INTER_AREA

        self._atari = AtariEnv(
            game=re.sub(r"(?<!^)(?=[A-Z])", "_", self.game).lower(),  # SpaceInvaders → space_invaders
            obs_type="grayscale",
            frameskip=1,
            repeat_action_probability=float(cfg["repeat_action_probability"]),
            full_action_space=False,
            max_num_frames_per_episode=int(cfg["max_episode_frames"]),
        )
        self.ale = self._atari.ale
        self._actions = self.ale.getMinimalActionSet()  # in action-space order, as AtariEnv's
        meanings = self._atari.get_action_meanings()
        self._fire = bool(cfg["fire_reset"]) and len(meanings) >= 3 and meanings[1] == "FIRE"

        self.render_mode = render_mode
        self.slots = OBJECT_SLOTS[self.game]
        size = self.screen_size
        self.observation_space = gym.spaces.Box(0, 255, (self.frame_stack, size, size), np.uint8)
        self.action_space = gym.spaces.Discrete(len(self._actions))
        self._screens = np.zeros((2, SCREEN_H, SCREEN_W), dtype=np.uint8)
        self._frames = np.zeros((self.frame_stack, size, size), dtype=np.uint8)
        self._objects = np.zeros((len(self.slots), self.frame_stack, 5), dtype=np.float32)
        self._lives = 0
        self._life_lost = False

    # ------------------------------------------------------------------ gym API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """New game (or, after a lost life with episodic life, the same game going on)."""
        super().reset(seed=seed)
        if seed is None and self._life_lost:
            # episodic life: the game goes on after a lost life; one no-op step, as the reference does
            self._repeat(0, self.frame_skip)
            if self.ale.game_over():
                self._new_game(None)
        else:
            self._new_game(seed)
        if self._fire:
            for action in (1, 2):  # FIRE, then the next action too, as the reference's FireReset
                self._repeat(action, self.frame_skip)
                if self.ale.game_over():
                    self._new_game(None)
        self._lives = self.ale.lives()
        self._life_lost = False
        self._frames[:] = self._frame()
        self._objects[:] = objects_from_ram(self.game, self.ale.getRAM())[:, None]
        return self._frames.copy(), self._info(0.0)

    def step(self, action):
        """Repeat `action` for frame_skip frames; reward clipped if configured, raw in info."""
        action = int(action)
        if not 0 <= action < len(self._actions):
            raise ValueError(f"AtariObjectsEnv: action must be in 0..{len(self._actions) - 1}, got {action}")
        raw = self._repeat(action, self.frame_skip)
        game_over = self.ale.game_over(with_truncation=False)
        truncated = self.ale.game_truncated()
        lives = self.ale.lives()
        self._life_lost = self.episodic_life and 0 < lives < self._lives and not (game_over or truncated)
        self._lives = lives
        self._frames[:-1] = self._frames[1:]
        self._frames[-1] = self._frame()
        self._objects[:, :-1] = self._objects[:, 1:]
        self._objects[:, -1] = objects_from_ram(self.game, self.ale.getRAM())
        reward = float(np.sign(raw)) if self.clip_rewards else raw
        return self._frames.copy(), reward, game_over or self._life_lost, truncated, self._info(raw)

    @property
    def action_meanings(self) -> list[str]:
        """ALE's name of each action, in action-space order (e.g. Pong: NOOP, FIRE, RIGHT, LEFT, ...)."""
        return list(self._atari.get_action_meanings())

    def render(self):
        """The RGB screen with render_mode 'rgb_array', else None."""
        if self.render_mode == "rgb_array":
            return self.ale.getScreenRGB()
        return None

    def close(self):
        """Close the emulator."""
        self._atari.close()

    # ------------------------------------------------------------------ exact state
    def get_exact_state(self) -> dict:
        """Everything the next steps depend on, mid-game included: the emulator (with its RNG), the
        env's and the ALE wrapper's generators, the kept screens, frame and object stacks, lives.
        Picklable; `set_exact_state` on any env of the same game and settings continues bit for bit."""
        atari_rng = getattr(self._atari, "_np_random", None)
        return {
            "ale": self.ale.cloneState(include_rng=True),
            "np_random": None if self._np_random is None else self._np_random.bit_generator.state,
            "atari_np_random": None if atari_rng is None else atari_rng.bit_generator.state,
            "screens": self._screens.copy(),
            "frames": self._frames.copy(),
            "objects": self._objects.copy(),
            "lives": self._lives,
            "life_lost": self._life_lost,
        }

    def set_exact_state(self, state: dict) -> None:
        """Continue from a `get_exact_state()`."""
        self.ale.restoreState(state["ale"])
        if state["np_random"] is not None:
            self.np_random.bit_generator.state = state["np_random"]
        if state["atari_np_random"] is not None and getattr(self._atari, "_np_random", None) is not None:
            self._atari._np_random.bit_generator.state = state["atari_np_random"]
        self._screens[:], self._frames[:], self._objects[:] = (
            state["screens"],
            state["frames"],
            state["objects"],
        )
        self._lives, self._life_lost = int(state["lives"]), bool(state["life_lost"])

    # ------------------------------------------------------------------ helpers
    def _new_game(self, seed: int | None) -> None:
        """Reset the game (seeding the emulator when `seed` is given), then 1…noop_max raw no-op frames."""
        self._atari.reset(seed=seed)
        noops = int(self.np_random.integers(1, self.noop_max + 1)) if self.noop_max > 0 else 0
        for _ in range(noops):
            self.ale.act(self._actions[0])
            if self.ale.game_over():
                self._atari.reset()
        self.ale.getScreenGrayscale(self._screens[0])
        self._screens[1] = self._screens[0]

    def _repeat(self, action: int, frames: int) -> float:
        """Repeat `action` for up to `frames` frames; keep the last two grey screens for max-pooling."""
        reward = 0.0
        ale_action = self._actions[action]
        for t in range(frames):
            reward += self.ale.act(ale_action)
            over = self.ale.game_over()
            if t == frames - 2 and not over:
                self.ale.getScreenGrayscale(self._screens[1])
            if t == frames - 1 or over:
                self.ale.getScreenGrayscale(self._screens[0])
                if t < frames - 1 or frames == 1:  # no second screen from this step: pool one frame only
                    self._screens[1] = self._screens[0]
                break
        return reward

    def _frame(self) -> np.ndarray:
        """Max of the two kept screens (removes Atari flicker), resized: uint8 [size, size]."""
        frame = np.maximum(self._screens[0], self._screens[1])
        return self._resize(frame, (self.screen_size, self.screen_size), interpolation=self._area)

    def _info(self, raw_reward: float) -> dict:
        return {
            INFO_OBJECTS: self._objects.copy(),
            INFO_RAW_REWARD: float(raw_reward),
            INFO_GAME_OVER: bool(self.ale.game_over()),
            "lives": int(self.ale.lives()),
            "episode_frame_number": int(self.ale.getEpisodeFrameNumber()),
        }
