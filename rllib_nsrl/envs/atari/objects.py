"""The object teacher of INSIGHT on Atari: fixed named object slots per game, read from emulator RAM.

The paper labels frames with FastSAM + a DeAOT tracker (the INSIGHT paper, "Teacher"); those weights cannot be
fetched here, so OCAtari's RAM extraction (Delfosse et al. 2023, `ocatari==2.2.1`, MIT) plays that role.
The few RAM rules per game are restated below rather than imported: OCAtari's import pulls in pygame,
opencv, torch and matplotlib, its extractors mutate per-episode object lists, and its Pong extractor
keeps a stale player box when the paddle is off. Tests check every rule against OCAtari's own objects.

Boxes are ``(x, y, w, h)`` in ALE screen pixels (160 wide, 210 high, origin top-left, y down), top-left
corner like OCAtari's. Normalised objects are ``(exists, x, y, w, h)`` with ``x, y`` the box **centre**
(the paper's teacher gives centres) divided by the screen size, all in [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

SCREEN_W = 160
SCREEN_H = 210

# Per game, the fixed slot order of `info["objects"]` and of the perception heads. Freeway's second
# chicken (player 2, idle in single-player games) and every HUD object are left out.
OBJECT_SLOTS: dict[str, tuple[str, ...]] = {
    "Pong": ("player", "ball", "enemy"),
    "Freeway": ("chicken", *(f"car{i}" for i in range(1, 11))),
    "Boxing": ("player", "enemy"),
}
SUPPORTED_GAMES = tuple(OBJECT_SLOTS)
OBJECT_FEATURES = ("exists", "x", "y", "w", "h")

Box = tuple[int, int, int, int]


def check_game(game: str) -> str:
    """Return `game` if the teacher supports it, else raise a one-line ValueError."""
    if game not in OBJECT_SLOTS:
        raise ValueError(f"unsupported Atari game {game!r}; supported: {', '.join(SUPPORTED_GAMES)}")
    return game


def variable_names(game: str, num_frames: int = 4) -> list[str]:
    """Names of the flattened coordinates `[S, F, 2] (x, y) → [S·F·2]`, e.g. ``x_ball_4``.

    Order: slot, then frame 1..F (F = newest, the last frame of the stack), then x before y — the order
    of ``coords.reshape(B, -1)`` for coordinates ``[B, S, F, 2]``. These are the EQL's variable names in
    the explanations (INSIGHT paper: ``[x|y]_<object>_<frame>``).
    """
    return [
        f"{axis}_{slot}_{frame}"
        for slot in OBJECT_SLOTS[check_game(game)]
        for frame in range(1, num_frames + 1)
        for axis in ("x", "y")
    ]


def _pong(r: np.ndarray) -> list[Box | None]:
    """Player, ball, enemy. Paddles are cut to the court (rows 34…) at the top and bottom walls."""
    ball = (r[49] - 49, r[54] - 14, 2, 4) if r[54] != 0 and r[49] > 49 else None
    enemy = None
    if r[50] > 33:
        if r[50] - 15 < 34:
            enemy = (16, 34, 4, r[50] - 33)
        elif r[50] > 194:
            enemy = (16, r[50] - 15, 4, 209 - r[50])
        else:
            enemy = (16, r[50] - 15, 4, 15)
    player = None  # OCAtari keeps the previous box here; never seen in play (r[51] stays in 38…203)
    if r[51] > 13:
        if r[51] < 47:
            player = (140, 34, 4, r[51] - 33)
        elif r[51] > 192:
            player = (140, r[51] - 13, 4, 207 - r[51])
        else:
            player = (140, r[51] - 13, 4, 15)
    return [player, ball, enemy]


def _freeway(r: np.ndarray) -> list[Box | None]:
    """Chicken (player 1, fixed column), then cars 1…10 top lane to bottom lane (fixed rows)."""
    chicken = (44, 193 - r[14], 6, 8)
    cars = [(r[117 - i] - 3, 27 + 16 * i, 8, 10) for i in range(10)]
    return [chicken, *cars]


def _boxing(r: np.ndarray) -> list[Box | None]:
    """Player (white boxer), enemy (black boxer); arms are not part of the box."""
    return [(r[32] + 5, r[34] + 38, 14, 46), (r[33] + 4, r[35] + 38, 14, 46)]


_RAM_RULES: dict[str, Callable[[np.ndarray], list[Box | None]]] = {
    "Pong": _pong,
    "Freeway": _freeway,
    "Boxing": _boxing,
}


def ram_boxes(game: str, ram: np.ndarray) -> list[Box | None]:
    """Boxes of `game`'s slots from the 128-byte RAM (uint8 [128]); None where the object is absent."""
    # int64: the rules subtract offsets, which would wrap around in uint8
    r = np.asarray(ram, dtype=np.int64)
    return [None if b is None else tuple(int(v) for v in b) for b in _RAM_RULES[check_game(game)](r)]


def normalize_boxes(boxes: Sequence[Box | None]) -> np.ndarray:
    """Pixel boxes → float32 [S, 5] ``(exists, x_centre, y_centre, w, h)`` in [0, 1].

    An object exists iff its box is given, has a positive size and overlaps the screen; absent objects
    are all zeros (the coordinates the EQL reads are zeroed the same way, the INSIGHT paper).
    """
    out = np.zeros((len(boxes), 5), dtype=np.float32)
    for i, box in enumerate(boxes):
        if box is None:
            continue
        x, y, w, h = box
        if w <= 0 or h <= 0 or x >= SCREEN_W or y >= SCREEN_H or x + w <= 0 or y + h <= 0:
            continue
        out[i] = (1.0, (x + w / 2) / SCREEN_W, (y + h / 2) / SCREEN_H, w / SCREEN_W, h / SCREEN_H)
    np.clip(out, 0.0, 1.0, out=out)
    return out


def objects_from_ram(game: str, ram: np.ndarray) -> np.ndarray:
    """The teacher's objects of one frame: RAM uint8 [128] → float32 [S, 5] (see `normalize_boxes`)."""
    return normalize_boxes(ram_boxes(game, ram))
