"""Why forgetting and transfer do (not) show in the lifelong ILP runs: the measurements of issue 18, §2.

    python -m rllib_nsrl.systems.lifelong_ilp.diagnostics --out docs/results/ilp_diagnostics

Four questions, each answered by a small training run on the budget settings of
`tune_configs/ilp_lifelong_tree_budget.yaml` (and the base rates at the paper's sizes, which need no
training). Every run is seeded; the tables are CSV and Markdown in `--out`.

1. **Base rates.** How rare are the true atoms of each task at the paper's sizes, and what test loss does
   the constant base-rate predictor get (the loss a model "sitting at the base rate" reports)?
2. **KB bypass.** Can a task head alone, reading the raw input predicates, solve each task? Then the
   knowledge base is irrelevant to it, and so are transfer and forgetting through it.
3. **KB drift.** In the lifelong modes, how far do the KB's weights and its outputs on task-0 test worlds
   move while later tasks train, and what happens to task 0's test loss?
4. **Loss and learning rate.** Plain vs balanced BCE, lr 3e-2 vs 1e-3: balanced accuracy, whether the
   run sits at the base rate, and how many KB sigmoids are saturated (below 0.001 or above 0.999).
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from rllib_nsrl.seeding import derive_seed
from rllib_nsrl.symbolic.nlm import TaskHead
from rllib_nsrl.systems.lifelong_ilp.domains import ILPBatch, get_domain
from rllib_nsrl.systems.lifelong_ilp.protocol import ILPConfig, ILPProtocol, task_loss

# the budget settings of tune_configs/ilp_lifelong_tree_budget.yaml
BUDGET = ILPConfig(
    domain="tree",
    mode="individual",
    kb_depth=2,
    kb_channels=(8, 8, 8),
    head_channels=(8, 8, 8),
    lr=3e-2,
    epochs_per_task=20,
    batches_per_epoch=10,
    batch_size=4,
    test_size=8,
    test_size_2x=2,
    n_objects=10,
)
# the sizes of the paper-size specs: tree and graph the paper's; arithmetic ours (the paper's 0..79 is 80)
PAPER_SIZES = {"arithmetic": 32, "tree": 40, "graph": 30}
AT_BASE_RATE = 0.05  # a test loss within 5 % of the base-rate loss counts as "at the base rate"


def _entropy(p: float) -> float:
    """BCE of the constant predictor p on data with positive rate p (nats)."""
    if p <= 0.0 or p >= 1.0:
        return 0.0
    return -(p * math.log(p) + (1 - p) * math.log(1 - p))


def base_rates(domain: str, n: int, worlds: int = 256, seed: int = 0) -> list[dict]:
    """Per task of `domain` with n objects: mean true-atom rate, worlds without any true atom, and the
    base-rate loss (the entropy of the mean rate)."""
    dom = get_domain(domain)
    rows = []
    for task in dom.tasks:
        batch = dom.make_batch(task, worlds, np.random.default_rng([seed, dom.tasks.index(task), n]), n)
        per_world = batch.target.flatten(1).mean(dim=1)
        rate = float(batch.target.mean())
        rows.append(
            {
                "domain": domain,
                "n": n,
                "task": task,
                "true_rate": rate,
                "worlds_without_true": float((per_world == 0).float().mean()),
                "base_rate_loss": _entropy(rate),
            }
        )
    return rows


def balanced_accuracy(logits: torch.Tensor, target: torch.Tensor) -> float:
    """Mean of the true-positive and true-negative rates (0.5 for a constant predictor)."""
    pred = logits > 0
    pos, neg = target > 0.5, target <= 0.5
    tpr = float((pred & pos).sum() / pos.sum()) if pos.any() else math.nan
    tnr = float((~pred & neg).sum() / neg.sum()) if neg.any() else math.nan
    return float(np.nanmean([tpr, tnr]))


def _test_metrics(logits: torch.Tensor, batch: ILPBatch) -> dict:
    rate = float(batch.target.mean())
    loss = float(task_loss(logits, batch.target, "bce"))
    return {
        "test_loss": loss,
        "base_rate_loss": _entropy(rate),
        "at_base_rate": abs(loss - _entropy(rate)) <= AT_BASE_RATE * max(_entropy(rate), 1e-9),
        "balanced_acc": balanced_accuracy(logits, batch.target),
    }


def head_only(config: ILPConfig, task_index: int) -> dict:
    """Train a task head on the raw input predicates (no knowledge base) like the protocol trains a task;
    its test metrics on the task's held-out set."""
    dom = get_domain(config.domain)
    task, n = dom.tasks[task_index], config.n_objects or dom.default_n
    breadth = len(config.kb_channels) - 1
    channels = list(dom.input_channels) + [0] * (breadth + 1 - len(dom.input_channels))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(config.seed, task_index, 1))
        head = TaskHead(channels, dom.target_arity[task], list(config.head_channels), config.exclude_self)
    pad = [None] * (breadth + 1 - len(dom.input_channels))
    optimizer = torch.optim.Adam(head.parameters(), lr=config.lr)
    rng = np.random.default_rng([config.seed, task_index, 0])
    for _ in range(config.epochs_per_task * config.batches_per_epoch):
        batch = dom.make_batch(task, config.batch_size, rng, n)
        loss = task_loss(head(list(batch.inputs) + pad), batch.target, config.loss)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    test = dom.test_set(task, config.test_size, n)
    with torch.no_grad():
        return _test_metrics(head(list(test.inputs) + pad), test)


def with_kb(config: ILPConfig, task_index: int) -> tuple[dict, ILPProtocol]:
    """Train tasks 0..task_index in `individual` mode (each its own KB + head) and score the last one; also
    return the protocol (its KB of the last task, for saturation)."""
    protocol = ILPProtocol(replace(config, mode="individual"))
    while protocol.task_index <= task_index:
        if protocol.task_index < task_index:  # skip earlier tasks: individual KBs do not share anything
            protocol.task_index += 1
            continue
        protocol.train_epoch()
    test = protocol._test[task_index].batch
    with torch.no_grad():
        logits = protocol.heads[task_index](protocol.kb_for(task_index)(test.inputs))
    return _test_metrics(logits, test), protocol


def _kb_outputs(kb, batch: ILPBatch) -> torch.Tensor:
    """Every sigmoid output of the KB's layers on `batch`, flattened (its inputs not included)."""
    groups = [g for layer in kb.forward_layers(batch.inputs) for g in layer if g is not None]
    return torch.cat([g.flatten() for g in groups])


def saturation(protocol: ILPProtocol, task_index: int, low: float = 1e-3) -> float:
    """Share of the KB's own sigmoid outputs (not its inputs) on task `task_index`'s test worlds that are
    below `low` or above 1 − `low`: saturated units pass almost no gradient."""
    kb = protocol.kb_for(task_index)
    test = protocol._test[task_index].batch
    with torch.no_grad():
        values = _kb_outputs(kb, test)
    return float(((values < low) | (values > 1 - low)).float().mean())


def kb_ablated_loss(protocol: ILPProtocol, task_index: int, batch: ILPBatch) -> float:
    """Test loss of task `task_index`'s head when the KB's own predicates (not the inputs it passes on)
    are replaced by their mean over the batch and all tuples (per channel): if it is no worse, the head
    does not use the KB."""
    kb, head = protocol.kb_for(task_index), protocol.heads[task_index]
    with torch.no_grad():
        groups = kb(batch.inputs)
        ablated = []
        for r, g in enumerate(groups):
            if g is None:
                ablated.append(None)
                continue
            own = kb.in_channels[r] if kb.include_inputs else 0
            mean = g[..., own:].mean(dim=tuple(range(g.dim() - 1)), keepdim=True)
            ablated.append(torch.cat([g[..., :own], mean.expand_as(g[..., own:])], dim=-1))
        return float(task_loss(head(ablated), batch.target, "bce"))


def drift(config: ILPConfig) -> list[dict]:
    """Run the whole sequence in `config.mode` (lifelong or lifelong_replay); at the end of each task: the
    KB's relative weight distance from the end of task 0, the mean absolute change of its outputs on task-0
    test worlds, task 0's test loss and balanced accuracy, and its loss with the KB's own predicates
    mean-ablated (`kb_ablated_loss`)."""
    protocol = ILPProtocol(config)
    test0 = protocol._test[0].batch
    rows, ref_weights, ref_out = [], None, None
    while not protocol.done:
        t = protocol.task_index
        protocol.train_epoch()
        if protocol.task_index == t:  # not yet the end of task t
            continue
        kb = protocol.kb_for(0)
        weights = torch.cat([p.detach().flatten() for p in kb.parameters()])
        with torch.no_grad():
            out = _kb_outputs(kb, test0)
            logits0 = protocol.heads[0](kb(test0.inputs))
        if ref_weights is None:
            ref_weights, ref_out = weights, out
        rows.append(
            {
                "mode": config.mode,
                "kb_include_inputs": config.kb_include_inputs,
                "loss": config.loss,
                "seed": config.seed,
                "after_task": t,
                "kb_weight_change": float((weights - ref_weights).norm() / ref_weights.norm()),
                "kb_output_change": float((out - ref_out).abs().mean()),
                **{f"task0_{k}": v for k, v in _test_metrics(logits0, test0).items()},
                "task0_loss_kb_ablated": kb_ablated_loss(protocol, 0, test0),
            }
        )
    return rows


def _table(rows: list[dict]) -> str:
    keys = list(rows[0])

    def cell(v):
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(cell(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def run_all(out: Path, seeds: tuple[int, ...] = (0, 1), base: ILPConfig = BUDGET) -> dict[str, list[dict]]:
    """All four measurements; writes `<name>.csv` and `diagnostics.md` into `out`; returns the rows."""
    import pandas as pd

    out.mkdir(parents=True, exist_ok=True)
    tables: dict[str, list[dict]] = {}
    started = time.perf_counter()

    def log(text: str) -> None:
        print(f"[{time.perf_counter() - started:7.0f}s] {text}", flush=True)

    tables["base_rates"] = [row for dom, n in PAPER_SIZES.items() for row in base_rates(dom, n)]
    tables["base_rates"] += base_rates(base.domain, base.n_objects)
    log("base rates done")

    rows = []
    for seed in seeds:
        for t, task in enumerate(get_domain(base.domain).tasks):
            for loss in ("bce", "balanced"):
                cfg = replace(base, seed=seed, loss=loss)
                kb_metrics, protocol = with_kb(cfg, t)
                key = {"seed": seed, "task": task, "loss": loss}
                saturated = saturation(protocol, t)
                rows.append({**key, "model": "KB + head", **kb_metrics, "kb_saturated": saturated})
                rows.append({**key, "model": "head only", **head_only(cfg, t), "kb_saturated": math.nan})
                log(f"{key}: KB + head {rows[-2]['test_loss']:.4f}, head only {rows[-1]['test_loss']:.4f}")
    tables["bypass_and_loss"] = rows

    rows = []
    for seed in seeds:
        for loss in ("bce", "balanced"):
            for lr in (3e-2, 1e-3):
                cfg = replace(base, seed=seed, lr=lr, loss=loss)
                metrics, protocol = with_kb(cfg, 0)
                task = get_domain(base.domain).tasks[0]
                rows.append({"seed": seed, "loss": loss, "lr": lr, "task": task, **metrics,
                             "kb_saturated": saturation(protocol, 0)})  # fmt: skip
                row = rows[-1]
                log(f"{seed=} {loss} {lr=}: {row['test_loss']:.4f}, saturated {row['kb_saturated']:.3g}")
    tables["learning_rate"] = rows

    rows = []
    for seed in seeds:
        for loss, include_inputs in (("balanced", True), ("balanced", False), ("bce", True)):
            for mode in ("lifelong", "lifelong_replay"):
                cfg = replace(base, seed=seed, mode=mode, loss=loss, kb_include_inputs=include_inputs)
                rows += drift(cfg)
                log(f"seed {seed} {mode} {loss} include_inputs={include_inputs}: drift done")
    tables["drift"] = rows

    for name, table in tables.items():
        pd.DataFrame(table).to_csv(out / f"{name}.csv", index=False)
    settings = {k: v for k, v in asdict(base).items() if k not in ("mode", "seed", "loss")}
    md = [
        "# Lifelong ILP diagnostics (issue 18, section 2)",
        "",
        "`python -m rllib_nsrl.systems.lifelong_ilp.diagnostics --out " + str(out) + "`; "
        f"seeds {list(seeds)}; training settings {settings}; {time.perf_counter() - started:.0f} s.",
    ]
    for name, table in tables.items():
        md += ["", f"## {name}", "", _table(table)]
    (out / "diagnostics.md").write_text("\n".join(md) + "\n")
    log(f"wrote {out}/diagnostics.md")
    return tables


def main(argv: list[str] | None = None) -> int:
    """Command line: `--out DIR`, `--seeds`, `--epochs` (per task)."""
    parser = argparse.ArgumentParser(prog="python -m rllib_nsrl.systems.lifelong_ilp.diagnostics")
    parser.add_argument("--out", required=True, help="directory for the CSV tables and diagnostics.md")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--epochs", type=int, default=BUDGET.epochs_per_task, help="epochs per task")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    run_all(Path(args.out), tuple(args.seeds), replace(BUDGET, epochs_per_task=args.epochs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
