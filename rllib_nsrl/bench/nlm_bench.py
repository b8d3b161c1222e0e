"""`nsrl bench nlm`: one training step of the lifelong-ILP NLM, reference formula vs fast path (issue 18).

Model: the tree-task model of `tune_configs/ilp_lifelong_tree.yaml`, built by `ILPProtocol` itself: a
knowledge base `[[8]·(B+1)] × depth 4` and a task head `[8]·(B+1)` for HasOddEdges(X, Y), batch 4 random
trees of n nodes, Adam lr 1e-3. One step = forward, binary cross-entropy, backward, Adam step (the inner
loop of `ILPProtocol.train_epoch`). The two paths get identical weights and batches.

Cells: n × breadth B × path. Every (cell, path) runs in its own child process, forked from a server that
has already imported torch, with torch on one thread (as a Tune trial of the ILP runs): one warm-up step,
then `rounds` timed steps. "fast" is the default setting (`fast=True`), which below `FAST_MIN_SIZE`
computes with the reference formula. Reported per step: wall ms and CPU ms (`time.process_time` of the
child, so other load on the machine counts less), each the fastest step (load from other processes only
ever adds time), and peak memory = the child's `ru_maxrss` at the end minus its resident set before the
first step (tensors, Adam state and what glibc keeps). The warm-up step's logits and parameter gradients
of the two paths are compared: equal if every relative error ‖fast − ref‖ / ‖ref‖ is ≤ 1e-3 (float32, and
a gradient sums B·n^r terms of both signs). A cell whose time or memory, predicted from the same path at
the next smaller n by the n^B scaling of the arity-B groups, exceeds the limits is skipped, not run.
"""

from __future__ import annotations

import multiprocessing
import queue as queue_module
import resource
import time

import torch

from rllib_nsrl.symbolic.nlm import FAST_MIN_SIZE

SIZES = ((10, 2), (20, 2), (40, 2), (80, 2), (10, 3), (20, 3), (40, 3), (80, 3))
PATHS = ("reference", "fast")
TASK = "HasOddEdges"
LIMITS = {"step_s": 20.0, "peak_mb": 3000.0}
MAX_REL_ERROR = 1e-3  # float32, gradients summed over B·n^r tuples with cancellation


def build_protocol(n: int, breadth: int, seed: int, fast: bool):
    """The tree-sequence `ILPProtocol` at the paper's model sizes, its `TASK` head and optimizer built."""
    from rllib_nsrl.symbolic.nlm import use_fast_path
    from rllib_nsrl.systems.lifelong_ilp.protocol import ILPConfig, ILPProtocol

    widths = (8,) * (breadth + 1)
    config = ILPConfig(
        domain="tree", seed=seed, n_objects=n, kb_channels=widths, head_channels=widths, kb_depth=4,
        batch_size=4, lr=1e-3, test_size=1, test_size_2x=1,
    )  # fmt: skip
    protocol = ILPProtocol(config)
    protocol.task_index = protocol.tasks.index(TASK)
    protocol.begin_task()
    use_fast_path(protocol.kb_for(protocol.task_index), fast)
    use_fast_path(protocol.heads[protocol.task_index], fast)
    return protocol


def measure(n: int, breadth: int, fast: bool, seed: int, rounds: int) -> dict:
    """One path of one cell in this process: step times, peak memory, the warm-up step's outputs."""
    import numpy as np
    import torch.nn.functional as F

    torch.set_num_threads(1)
    protocol = build_protocol(n, breadth, seed, fast)
    t = protocol.task_index
    kb, head, optimizer = protocol.kb_for(t), protocol.heads[t], protocol.optimizer
    batch = protocol.domain.make_batch(TASK, protocol.config.batch_size, np.random.default_rng(seed), n)

    def step() -> torch.Tensor:
        logits = head(kb(batch.inputs))
        loss = F.binary_cross_entropy_with_logits(logits, batch.target)
        optimizer.zero_grad()
        loss.backward()
        return logits

    rss_before = _rss_mb()
    logits = step()
    grads = {
        f"{name}.{k}": p.grad.clone()
        for name, module in (("kb", kb), ("head", head))
        for k, p in module.named_parameters()
        if p.grad is not None
    }
    optimizer.step()
    wall, cpu = [], []
    for _ in range(rounds):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        step()
        optimizer.step()
        wall.append(time.perf_counter() - start_wall)
        cpu.append(time.process_time() - start_cpu)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - rss_before
    return {
        "status": "ok",
        "wall_ms": round(1000 * min(wall), 1),
        "cpu_ms": round(1000 * min(cpu), 1),
        "peak_mb": round(peak, 1),
        # numpy, not tensors: torch would pass tensors between processes as shared-memory handles that
        # die with the child
        "outputs": {k: v.detach().numpy() for k, v in {"logits": logits, **grads}.items()},
    }


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def _child(queue, *args) -> None:
    try:
        queue.put(measure(*args))
    except Exception as exc:  # the parent reports it in the table
        queue.put({"status": f"failed ({type(exc).__name__}: {exc})"})


def _in_child(context, args: tuple, timeout: float) -> dict:
    queue = context.Queue()
    child = context.Process(target=_child, args=(queue, *args))
    child.start()
    try:
        return queue.get(timeout=timeout)
    except queue_module.Empty:
        return {"status": f"failed (no result within {timeout:.0f} s, exit code {child.exitcode})"}
    finally:
        child.join(timeout=10)
        if child.is_alive():
            child.kill()


def _compare(ref: dict, fast: dict) -> float:
    """Largest relative error `‖fast − ref‖ / ‖ref‖` over the warm-up logits and parameter gradients."""
    if ref.keys() != fast.keys():
        return float("inf")
    errors = []
    for key in ref:
        a, b = torch.as_tensor(ref[key]), torch.as_tensor(fast[key])
        errors.append(((b - a).norm() / a.norm().clamp_min(1e-30)).item())
    return max(errors)


def run_nlm_bench(
    *,
    seed: int = 0,
    rounds: int = 3,
    sizes: tuple[tuple[int, int], ...] = SIZES,
    limits: dict | None = None,
    isolate: bool = True,
) -> dict:
    """Measure every (n, breadth) cell of `sizes` for both paths; return the JSON-serialisable figures.

    isolate: one child process per path and cell (False: all in this process, for smoke tests; the peak
    memory figures are then not meaningful).
    """
    limits = {**LIMITS, **(limits or {})}
    context, threads = None, torch.get_num_threads()
    if isolate:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(
            ["rllib_nsrl.bench.nlm_bench", "rllib_nsrl.systems.lifelong_ilp.protocol"]
        )
    last: dict[tuple[str, int], tuple[int, dict]] = {}  # (path, breadth) → (n, figures)
    cells = []
    for n, breadth in sorted(sizes, key=lambda s: (s[1], s[0])):
        cell: dict = {"n": n, "breadth": breadth}
        for path in PATHS:
            predicted = None
            if (path, breadth) in last:
                n0, fig = last[path, breadth]
                scale = (n / n0) ** breadth
                predicted = {"step_s": fig["wall_ms"] / 1000 * scale, "peak_mb": fig["peak_mb"] * scale}
                over = [k for k in limits if predicted[k] > limits[k]]
                if over:
                    cell[path] = {"status": "skipped (predicted " + ", ".join(
                        f"{k} {predicted[k]:.0f} > {limits[k]:.0f}" for k in over) + ")"}  # fmt: skip
                    continue
            args = (n, breadth, path == "fast", seed, rounds)
            if isolate:
                timeout = 120 + 5 * (rounds + 1) * (predicted["step_s"] if predicted else 10.0)
                cell[path] = _in_child(context, args, timeout)
            else:
                cell[path] = measure(*args)
            if cell[path]["status"] == "ok":
                last[path, breadth] = (n, cell[path])
        ref, fast = cell["reference"], cell["fast"]
        cell["speedup_wall"] = cell["speedup_cpu"] = cell["equal"] = cell["max_rel_error"] = None
        if ref["status"] == fast["status"] == "ok":
            cell["speedup_wall"] = round(ref["wall_ms"] / fast["wall_ms"], 2)
            cell["speedup_cpu"] = round(ref["cpu_ms"] / fast["cpu_ms"], 2)
            error = _compare(ref["outputs"], fast["outputs"])
            cell["equal"], cell["max_rel_error"] = error <= MAX_REL_ERROR, float(f"{error:.3g}")
        for path in PATHS:
            cell[path].pop("outputs", None)
        cells.append(cell)
    torch.set_num_threads(threads)  # `measure` sets one thread; only matters when not isolated
    memory = "peak ru_maxrss of a fresh child minus its RSS before the first step"
    return {
        "bench": "nlm",
        "seed": seed,
        "rounds": rounds,
        "torch_threads": 1,
        "model": f"tree task {TASK}: KB [[8]*(B+1)] x depth 4 + head [8]*(B+1), batch 4, Adam",
        "memory": memory if isolate else "not isolated (in-process): not meaningful",
        "limits": limits,
        "fast_min_size": FAST_MIN_SIZE,
        "cells": cells,
    }


def format_nlm_table(res: dict) -> str:
    """The human-readable table of `run_nlm_bench`'s result."""
    lines = [
        f"nsrl bench nlm — {res['model']}; fastest of {res['rounds']} steps after a warm-up, "
        f"torch threads {res['torch_threads']}; peak memory: {res['memory']}",
        "",
        "| n | B | reference ms (CPU ms) | fast ms (CPU ms) | speed-up wall (CPU) "
        "| reference peak MB | fast peak MB | equal (max rel. error) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    note = (
        f"\nfast = the default setting: below batch·n^B·B! = {res['fast_min_size']} it computes with the "
        "reference formula (quicker there)"
    )
    for c in res["cells"]:
        ref, fast = c["reference"], c["fast"]

        def ms(fig: dict) -> str:
            return f"{fig['wall_ms']:.1f} ({fig['cpu_ms']:.1f})" if fig["status"] == "ok" else fig["status"]

        def mb(fig: dict) -> str:
            return f"{fig['peak_mb']:.0f}" if fig["status"] == "ok" else "–"

        speedup = f"{c['speedup_wall']:.1f}× ({c['speedup_cpu']:.1f}×)" if c["speedup_wall"] else "–"
        equal = "–" if c["equal"] is None else f"{'yes' if c['equal'] else 'NO'} ({c['max_rel_error']:.1e})"
        cols = [c["n"], c["breadth"], ms(ref), ms(fast), speedup, mb(ref), mb(fast), equal]
        lines.append("| " + " | ".join(str(col) for col in cols) + " |")
    return "\n".join(lines + [note])
