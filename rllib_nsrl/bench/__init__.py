"""Benchmarks behind `nsrl bench {env,train,quality,insight,nlm}` (issue 4; findings in docs/speed.md).

Each prints a human-readable table and then one line `BENCH_JSON {...}` with the figures, so runs can
be compared over time. Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import json

JSON_PREFIX = "BENCH_JSON "


def run_bench(
    what: str, *, seconds: float = 20.0, seed: int = 0, epochs: int = 3, rounds: int = 3, loop: str = "lean"
) -> int:
    """Run benchmark `what` (env, train, quality, insight or nlm); print its table and JSON line.
    loop: the SymDQN training loop of `quality` (`dqn.loop`)."""
    if what == "env":
        from rllib_nsrl.bench.env_bench import format_env_table, run_env_bench

        res, fmt = run_env_bench(seconds=seconds, seed=seed), format_env_table
    elif what == "train":
        from rllib_nsrl.bench.train_bench import format_train_table, run_train_bench

        res, fmt = run_train_bench(seconds=seconds, seed=seed, rounds=rounds), format_train_table
    elif what == "insight":
        from rllib_nsrl.bench.insight_bench import format_insight_table, run_insight_bench

        res, fmt = run_insight_bench(seed=seed, rounds=rounds), format_insight_table
    elif what == "nlm":
        from rllib_nsrl.bench.nlm_bench import format_nlm_table, run_nlm_bench

        res, fmt = run_nlm_bench(seed=seed, rounds=rounds), format_nlm_table
    elif what == "quality":
        from rllib_nsrl.bench.quality import format_quality_table, run_quality_bench

        spec_over = {"dqn": {"loop": loop}}
        res, fmt = run_quality_bench(epochs=epochs, seed=seed, spec_over=spec_over), format_quality_table
    else:
        raise ValueError(f"unknown benchmark {what!r}; valid: env, train, quality, insight, nlm")
    print(fmt(res))
    print(JSON_PREFIX + json.dumps(res, sort_keys=True), flush=True)
    return 0


__all__ = ["JSON_PREFIX", "run_bench"]
