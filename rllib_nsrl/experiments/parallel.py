"""Run one function over many argument tuples: as Ray tasks when Ray is up, else in this process.

Data collection and pre-training take minutes, so a progress line is printed per finished task
(`nsrl: <label> k/n done (Ns)`), and, while waiting, `heartbeat()` is called once a minute so that a task
can report its own progress (e.g. the last finished epoch it wrote to a file).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence


def map_tasks(
    fn: Callable,
    args: Sequence[tuple],
    *,
    label: str,
    log: Callable[[str], None] = print,
    heartbeat: Callable[[], None] | None = None,
    heartbeat_s: float = 60.0,
) -> list:
    """`[fn(*a) for a in args]`, each a Ray task with 1 CPU when Ray is initialised; results in order."""
    import ray

    start = time.perf_counter()

    def progress(done: int) -> None:
        log(f"nsrl: {label} {done}/{len(args)} done ({time.perf_counter() - start:.0f}s)")

    if not ray.is_initialized():
        results = []
        for a in args:
            results.append(fn(*a))
            progress(len(results))
        return results
    remote = ray.remote(num_cpus=1)(fn)
    refs = [remote.remote(*a) for a in args]
    pending = list(refs)
    while pending:
        ready, pending = ray.wait(pending, num_returns=1, timeout=heartbeat_s if heartbeat else None)
        if ready:
            progress(len(refs) - len(pending))
        elif heartbeat is not None:
            heartbeat()
    return ray.get(refs)
