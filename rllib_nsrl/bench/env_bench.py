"""`nsrl bench env`: raw environment throughput, no Ray and no learning.

- ShapesGridEnv (paper settings): uniform random actions; `step` renders the 50×50×3 observation, and
  a finished episode is followed by `reset` (which renders too) inside the timed loop.
- ShapesGridEnv `render()` alone (the uint8 image for humans; training never calls it).
- BlocksWorldEnv (6 blocks, task 0): random *valid* actions (`action_space.sample()` draws within the
  mask); `reset` writes and parses one PDDL problem file, so its cost is reported separately.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def _timed(seconds: float, body: Callable[[], int]) -> dict:
    """Call `body` (returns steps done) until `seconds` have passed; steps/s over the window."""
    steps, calls, t0 = 0, 0, time.perf_counter()
    while (elapsed := time.perf_counter() - t0) < seconds or calls == 0:
        steps += body()
        calls += 1
    return {"steps": steps, "seconds": elapsed, "steps_per_s": steps / elapsed}


def _episode_loop(env, seed: int) -> Callable[[], int]:
    """One call = one step; resets (timed) when the episode ends."""
    env.reset(seed=seed)
    episodes = [0]

    def body() -> int:
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            episodes[0] += 1
            env.reset()
        return 1

    body.episodes = episodes
    return body


def bench_shapes_grid(seconds: float, seed: int) -> dict[str, dict]:
    """ShapesGridEnv step loop (random actions, resets timed) and `render()` alone; steps/s per loop."""
    from rllib_nsrl.envs.shapes_grid import ShapesGridEnv

    env = ShapesGridEnv()
    env.action_space.seed(seed)
    loop = _episode_loop(env, seed)
    out = {"shapes_grid": {**_timed(seconds, loop), "episodes": loop.episodes[0]}}

    def render() -> int:
        env.render()
        return 1

    out["shapes_grid_render"] = _timed(seconds / 4, render)
    env.close()
    return out


def bench_blocksworld(seconds: float, seed: int) -> dict[str, dict]:
    """BlocksWorldEnv (6 blocks, task 0) step loop with random valid actions, and `reset()` alone; steps/s."""
    from rllib_nsrl.envs.blocksworld import BlocksWorldEnv

    env = BlocksWorldEnv({"num_blocks": 6, "task": 0})
    env.action_space.seed(seed)
    loop = _episode_loop(env, seed)
    out = {"blocksworld": {**_timed(seconds, loop), "episodes": loop.episodes[0]}}

    def reset() -> int:
        env.reset()
        return 1

    out["blocksworld_reset"] = _timed(seconds / 4, reset)
    env.close()
    return out


def run_env_bench(seconds: float = 20.0, seed: int = 0) -> dict:
    """Each env loop runs `seconds`; the render/reset-only loops a quarter of that."""
    envs = {}
    envs.update(bench_shapes_grid(seconds, seed))
    envs.update(bench_blocksworld(seconds, seed))
    return {"bench": "env", "seconds": seconds, "seed": seed, "envs": envs}


def format_env_table(res: dict) -> str:
    """Human-readable table of a `run_env_bench` result: calls/s and calls per loop."""
    notes = {
        "shapes_grid": "ShapesGridEnv step (+render obs, +reset at episode end)",
        "shapes_grid_render": "ShapesGridEnv render() uint8 image",
        "blocksworld": "BlocksWorldEnv 6 blocks step (+reset at episode end)",
        "blocksworld_reset": "BlocksWorldEnv reset() (writes + parses a PDDL problem)",
    }
    rows = [f"nsrl bench env: {res['seconds']:g} s per env loop", f"{'loop':<60}{'calls/s':>10}{'calls':>9}"]
    for key, r in res["envs"].items():
        rows.append(f"{notes.get(key, key):<60}{r['steps_per_s']:>10.1f}{r['steps']:>9d}")
    return "\n".join(rows)
