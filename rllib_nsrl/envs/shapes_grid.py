"""ShapesGridEnv: the 5×5 image grid of the SymDQN paper (docs/systems/symdqn.md#environment-shapesgridenv;
Badreddine & Spranger 2019).

The agent (`+`) walks a 5×5 grid of 10 px cells rendered as a 50×50×3 float image in [0, 1].
Entering a cell consumes its shape and yields that shape's reward (default: cross +1, circle −1,
square 0). The episode terminates when every positive-reward shape is consumed and is truncated
after `max_steps` (50) steps. Shapes are drawn as the reference code draws them (`glyphs: paper`:
anti-aliased 2 px strokes filling the cell) or as small binary 1 px shapes (`glyphs: simple`).

`info` carries what evaluation needs: the symbolic grid, the maximum obtainable return of the
episode (sum of positive rewards present at reset) and the shapes consumed by type, from which the
paper's **score** (true return / max return) and **negative ratio** (negatives consumed / negatives
present) are computed.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import gymnasium as gym
import numpy as np

GRID = 5
CELL = 10
SIZE = GRID * CELL

EMPTY, AGENT, CIRCLE, CROSS, SQUARE = range(5)
SHAPE_NAMES = ("circle", "cross", "square")
SHAPE_CODES = {"circle": CIRCLE, "cross": CROSS, "square": SQUARE}
LAYOUT_CHARS = {".": EMPTY, "A": AGENT, "O": CIRCLE, "X": CROSS, "S": SQUARE}

# (row, col) deltas of actions 0 up, 1 right, 2 down, 3 left.
MOVES = np.array([[-1, 0], [0, 1], [1, 0], [0, -1]], dtype=np.int64)

COLOR_SCHEMES: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    # name: (background RGB, foreground RGB)
    "black_white": ((1.0, 1.0, 1.0), (0.0, 0.0, 0.0)),
    "red_blue": ((1.0, 0.0, 0.0), (0.0, 0.0, 1.0)),
    "blue_red": ((0.0, 0.0, 1.0), (1.0, 0.0, 0.0)),
}

DEFAULT_REWARDS = {"cross": 1.0, "circle": -1.0, "square": 0.0}


def _glyphs() -> np.ndarray:
    """The `simple` glyph set: boolean 10×10 masks indexed by cell code, [5, 10, 10]; small 1 px shapes."""
    g = np.zeros((5, CELL, CELL), dtype=bool)
    idx = np.arange(CELL)
    g[AGENT, 4:6, 1:9] = True  # "+": thick horizontal and vertical bars
    g[AGENT, 1:9, 4:6] = True
    g[CROSS, idx[1:9], idx[1:9]] = True  # "×": both diagonals
    g[CROSS, idx[1:9], idx[8:0:-1]] = True
    yy, xx = np.mgrid[0:CELL, 0:CELL] + 0.5
    r = np.hypot(yy - CELL / 2, xx - CELL / 2)
    g[CIRCLE] = (r > 2.5) & (r < 4.0)  # ring
    g[SQUARE, 2:8, 2:8] = True  # hollow square
    g[SQUARE, 4:6, 4:6] = False
    return g


GLYPHS = _glyphs()
STROKE = 2.0  # paper glyphs: stroke width in pixels
SUPERSAMPLE = 8  # paper glyphs: coverage samples per pixel side


def _paper_glyphs() -> np.ndarray:
    """The `paper` glyph set: anti-aliasing alphas in [0, 1] indexed by cell code, [5, 10, 10].

    Like the reference code's images, each shape fills the whole cell with strokes `STROKE` px wide:
    `+` bars from edge to edge, `×` diagonals from corner to corner, a ring whose outer edge touches the
    midpoints of the cell's sides, a square outline lying on the cell's border. A pixel's alpha is the
    fraction of its `SUPERSAMPLE`² sample points inside the stroke.
    """
    half = STROKE / 2
    mid = CELL / 2
    c = (np.arange(CELL * SUPERSAMPLE) + 0.5) / SUPERSAMPLE  # sample coordinates in pixels
    y, x = np.meshgrid(c, c, indexing="ij")
    inside = np.zeros((5, *y.shape), dtype=bool)
    inside[AGENT] = (np.abs(y - mid) <= half) | (np.abs(x - mid) <= half)
    diagonal = np.abs(y - x) / np.sqrt(2) <= half
    anti_diagonal = np.abs(y + x - CELL) / np.sqrt(2) <= half
    inside[CROSS] = diagonal | anti_diagonal
    r = np.hypot(y - mid, x - mid)
    inside[CIRCLE] = (r >= mid - STROKE) & (r <= mid)
    to_border = np.minimum(np.minimum(y, CELL - y), np.minimum(x, CELL - x))
    inside[SQUARE] = to_border <= STROKE
    samples = inside.reshape(5, CELL, SUPERSAMPLE, CELL, SUPERSAMPLE)
    return samples.mean(axis=(2, 4))


GLYPH_SETS: dict[str, np.ndarray] = {"paper": _paper_glyphs(), "simple": GLYPHS.astype(np.float64)}


@functools.cache
def cell_images(glyphs: str, colors: str) -> np.ndarray:
    """Image of each cell code, alpha-blended onto the scheme's background: [5, 10, 10, 3] float32 in [0, 1].

    Computed once per (glyph set, colour scheme) and shared read-only by every env of the process.
    """
    bg, fg = (np.asarray(c, dtype=np.float64) for c in COLOR_SCHEMES[colors])
    alpha = GLYPH_SETS[glyphs][..., None]
    cells = np.clip(alpha * fg + (1.0 - alpha) * bg, 0.0, 1.0).astype(np.float32)
    cells.flags.writeable = False
    return cells


class ShapesGridEnv(gym.Env):
    """5×5 shapes grid with an RGB image observation `Box(0, 1, (50, 50, 3), float32)`.

    Args (all optional, via the env config dict):
        rewards: reward per shape name, e.g. ``{"cross": 1, "circle": -1, "square": 0}``.
        colors: one of ``COLOR_SCHEMES`` (black_white, red_blue, blue_red).
        glyphs: ``"paper"`` (default: anti-aliased shapes filling the cell, as the reference code draws
            them) or ``"simple"`` (small 1 px binary shapes, this package's first rendering).
        min_shapes / max_shapes: number of shapes placed at reset (paper: 18 → 6 empty cells).
        max_steps: truncation limit (50).
        layout: optional fixed layout, 5 strings of 5 chars from ``. A O X S``.
        zero_reward: reward given instead of 0 (reference code trains with −0.1; default 0).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(
        self,
        config: Mapping | None = None,
        *,
        render_mode: str | None = None,
    ) -> None:
        cfg = dict(config or {})
        rewards = {**DEFAULT_REWARDS, **cfg.pop("rewards", {})}
        self.colors = cfg.pop("colors", "black_white")
        self.glyphs = cfg.pop("glyphs", "paper")
        self.min_shapes = int(cfg.pop("min_shapes", 18))
        self.max_shapes = int(cfg.pop("max_shapes", 18))
        self.max_steps = int(cfg.pop("max_steps", 50))
        self.zero_reward = float(cfg.pop("zero_reward", 0.0))
        layout = cfg.pop("layout", None)
        for key in ("worker_index", "num_workers", "vector_index", "remote"):
            cfg.pop(key, None)  # RLlib's EnvContext extras
        if cfg:
            raise ValueError(f"ShapesGridEnv: unknown config key(s) {sorted(cfg)}")
        if set(rewards) - set(SHAPE_NAMES):
            raise ValueError(
                f"ShapesGridEnv: unknown shape(s) in rewards {sorted(set(rewards) - set(SHAPE_NAMES))}"
            )
        if self.colors not in COLOR_SCHEMES:
            raise ValueError(
                f"ShapesGridEnv: colors must be one of {sorted(COLOR_SCHEMES)}, got {self.colors!r}"
            )
        if self.glyphs not in GLYPH_SETS:
            raise ValueError(
                f"ShapesGridEnv: glyphs must be one of {sorted(GLYPH_SETS)}, got {self.glyphs!r}"
            )
        if not 1 <= self.min_shapes <= self.max_shapes <= GRID * GRID - 1:
            raise ValueError("ShapesGridEnv: need 1 <= min_shapes <= max_shapes <= 24")
        if self.max_steps < 1:
            raise ValueError("ShapesGridEnv: max_steps must be >= 1")
        # reward per cell code; EMPTY and AGENT give 0
        self.reward_table = np.zeros(5, dtype=np.float64)
        for name, value in rewards.items():
            self.reward_table[SHAPE_CODES[name]] = float(value)
        self.positive_codes = [c for c in (CIRCLE, CROSS, SQUARE) if self.reward_table[c] > 0]
        if not self.positive_codes:
            raise ValueError("ShapesGridEnv: at least one shape needs a positive reward")
        self.layout = None if layout is None else _parse_layout(layout)
        if self.layout is not None and not np.isin(self.layout, self.positive_codes).any():
            raise ValueError("ShapesGridEnv: layout has no positive-reward shape")

        self._cells = cell_images(self.glyphs, self.colors)  # [5, 10, 10, 3]
        self.render_mode = render_mode
        self.observation_space = gym.spaces.Box(0.0, 1.0, (SIZE, SIZE, 3), np.float32)
        self.action_space = gym.spaces.Discrete(4)
        self.grid = np.zeros((GRID, GRID), dtype=np.int8)
        self.agent = np.zeros(2, dtype=np.int64)
        self._t = 0

    # ------------------------------------------------------------------ gym API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Place the layout (fixed or random); observation [50, 50, 3] in [0, 1] and the evaluation info."""
        super().reset(seed=seed)
        if self.layout is not None:
            self.grid = self.layout.copy()
        else:
            self.grid = self._random_layout()
        self.agent = np.argwhere(self.grid == AGENT)[0].astype(np.int64)
        self._t = 0
        self._true_return = 0.0
        self._consumed = np.zeros(5, dtype=np.int64)
        rewards = self.reward_table[self.grid]
        self._max_return = float(rewards[rewards > 0].sum())
        self._negatives = int((rewards < 0).sum())
        return self.render_observation(), self._info()

    def step(self, action):
        """Move the agent (0 up, 1 right, 2 down, 3 left; walls block) and consume the shape it enters.

        The reward is the shape's, with ``zero_reward`` in place of 0; ``info`` keeps the true return.
        """
        action = int(action)
        if not 0 <= action < 4:
            raise ValueError(f"ShapesGridEnv: action must be in 0..3, got {action}")
        target = np.clip(self.agent + MOVES[action], 0, GRID - 1)
        reward = 0.0
        if not np.array_equal(target, self.agent):
            code = int(self.grid[target[0], target[1]])
            reward = float(self.reward_table[code])
            if code != EMPTY:
                self._consumed[code] += 1
            self.grid[self.agent[0], self.agent[1]] = EMPTY
            self.grid[target[0], target[1]] = AGENT
            self.agent = target
        self._t += 1
        self._true_return += reward
        terminated = not np.isin(self.grid, self.positive_codes).any()
        truncated = (not terminated) and self._t >= self.max_steps
        given = self.zero_reward if reward == 0.0 else reward
        return self.render_observation(), given, terminated, truncated, self._info()

    def render(self):
        """The observation as a uint8 RGB image [50, 50, 3] in [0, 255]."""
        return (self.render_observation() * 255).astype(np.uint8)

    # ------------------------------------------------------------------ helpers
    def render_observation(self) -> np.ndarray:
        """The grid as a [50, 50, 3] float32 image (a lookup of the cached cell images)."""
        cells = self._cells[self.grid]  # [row, col, y, x, 3]
        return cells.transpose(0, 2, 1, 3, 4).reshape(SIZE, SIZE, 3)

    def _random_layout(self) -> np.ndarray:
        rng = self.np_random
        n = int(rng.integers(self.min_shapes, self.max_shapes + 1))
        cells = rng.permutation(GRID * GRID)
        grid = np.full(GRID * GRID, EMPTY, dtype=np.int8)
        grid[cells[0]] = AGENT
        # the first shape is positive so every episode can be scored (ref code: a cross)
        grid[cells[1]] = self.positive_codes[int(rng.integers(len(self.positive_codes)))]
        grid[cells[2 : n + 1]] = rng.choice([CIRCLE, CROSS, SQUARE], size=n - 1)
        return grid.reshape(GRID, GRID)

    def _info(self) -> dict:
        consumed = {name: int(self._consumed[code]) for name, code in SHAPE_CODES.items()}
        neg_consumed = int(
            sum(self._consumed[c] for c in (CIRCLE, CROSS, SQUARE) if self.reward_table[c] < 0)
        )
        return {
            "grid": self.grid.copy(),
            "agent": self.agent.copy(),
            "max_return": self._max_return,
            "true_return": self._true_return,
            "consumed": consumed,
            "negatives_present": self._negatives,
            "negatives_consumed": neg_consumed,
        }


def episode_metrics(info: Mapping) -> tuple[float, float]:
    """(score, negative ratio) of an episode from its last `info` (docs/systems/symdqn.md#metrics)."""
    score = info["true_return"] / info["max_return"] if info["max_return"] > 0 else 0.0
    present = info["negatives_present"]
    neg_ratio = info["negatives_consumed"] / present if present > 0 else 0.0
    return float(score), float(neg_ratio)


def _parse_layout(layout: Sequence[str]) -> np.ndarray:
    rows = [str(r) for r in layout]
    if len(rows) != GRID or any(len(r) != GRID for r in rows):
        raise ValueError("ShapesGridEnv: layout must be 5 strings of 5 characters")
    bad = sorted({ch for r in rows for ch in r} - set(LAYOUT_CHARS))
    if bad:
        raise ValueError(f"ShapesGridEnv: layout characters {bad} not in {sorted(LAYOUT_CHARS)}")
    grid = np.array([[LAYOUT_CHARS[ch] for ch in r] for r in rows], dtype=np.int8)
    if (grid == AGENT).sum() != 1:
        raise ValueError("ShapesGridEnv: layout needs exactly one agent 'A'")
    return grid
