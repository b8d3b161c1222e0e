"""`nsrl bench train`: training updates/s and env steps/s, side by side in one process.

Variants (issue 4): (a) `plain` — the plain PyTorch Dueling-DQN loop of `plain_dqn.py`, the
reference ceiling; (b) `DuelDQN` and (c) `SymDQN(AR,AF)` — a `SymDQNConfig` from
`symdqn_config(spec, condition, seed)`, `build_algo()` and `train()` on RLlib, all modules on in (c).
All three use the paper's `dqn` settings of a default `kind: symdqn` spec (batch 16, replay 1000, 1 update
per env step, target copy
every 1000 steps, Adam 1e-4, clip 1, double-Q).

Measurement. Every variant is built first (build time reported, not counted) and warmed up by one
`train()` (or as many plain steps); then the variants are measured in interleaved rounds, each a
fixed wall-clock window, so load from other processes on a shared machine hits all of them alike.
RLlib updates are counted from the learner metrics: `num_module_steps_trained_lifetime` of the
module / `train_batch_size` = train batches processed; env steps from
`env_runners/num_env_steps_sampled_lifetime`. Evaluation is switched off and one `train()` is
`episodes_per_iter` training episodes (≈ 50 env steps and updates), so a window ends on the first
`train()` return after its deadline and is timed exactly; RLlib's work outside `training_step` is
< 1 % of an iteration even at this size (the paper's epoch is 50 episodes).
Torch runs with one intra-op thread unless told otherwise (see `run_train_bench`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import torch

PLAIN, DUEL, SYM = "plain", "DuelDQN", "SymDQN(AR,AF)"
VARIANTS = (PLAIN, DUEL, SYM)
# the same two on RLlib's own DQN training step (`dqn.loop: rllib`, the code path before the lean loop)
DUEL_RLLIB, SYM_RLLIB = "DuelDQN, rllib loop", "SymDQN(AR,AF), rllib loop"
GOALS = {"b_over_a": 0.75, "c_over_b": 0.77}
RATIOS = (  # key, numerator, denominator
    ("b_over_a", DUEL, PLAIN),
    ("c_over_b", SYM, DUEL),
    ("lean_over_rllib_duel", DUEL, DUEL_RLLIB),
    ("lean_over_rllib_sym", SYM, SYM_RLLIB),
)
RATIO_NAMES = {
    "b_over_a": "b/a  DuelDQN on RLlib / plain loop",
    "c_over_b": "c/b  SymDQN(AR,AF) / DuelDQN",
    "lean_over_rllib_duel": "DuelDQN lean loop / rllib loop",
    "lean_over_rllib_sym": "SymDQN(AR,AF) lean loop / rllib loop",
}


def rllib_loop(config):
    """Config patch: RLlib's own DQN training step instead of the lean loop (`dqn.loop: rllib`)."""
    return config.training(dqn_loop="rllib")


def default_variants() -> dict:
    """label → (kind, patch): plain, DuelDQN and SymDQN(AR,AF) on the lean loop, and both on RLlib's."""
    variants = {name: (name, None) for name in VARIANTS}
    return variants | {DUEL_RLLIB: (DUEL, rllib_loop), SYM_RLLIB: (SYM, rllib_loop)}


MODULE_ID = "default_policy"


def bench_spec(episodes_per_iter: int = 1, spec_over: dict | None = None) -> dict:
    """A default (paper-valued) `kind: symdqn` spec; only the epoch size is shrunk.

    spec_over: spec keys merged on top (smoke tests shrink the env with it; never for real figures).
    """
    from rllib_nsrl.experiments.schema import check, deep_merge
    from rllib_nsrl.systems.symdqn.spec import SymDQNSpec

    epoch = {"train_episodes": episodes_per_iter, "eval_episodes": 1}
    return check(SymDQNSpec, deep_merge({"name": "bench", "kind": "symdqn", "epoch": epoch}, spec_over or {}))


class PlainRunner:
    """(a): the plain loop; `window(s)` trains s seconds."""

    def __init__(self, spec: dict, seed: int, adam: dict | None = None):
        from rllib_nsrl.bench.plain_dqn import PlainDuelingDQN
        from rllib_nsrl.systems.symdqn.kind import env_config

        train_env = {**env_config(spec), "zero_reward": spec["symbolic"]["train_zero_reward"]}
        self.agent = PlainDuelingDQN(train_env, spec["dqn"], seed, adam)
        self.warmup_steps = spec["epoch"]["train_episodes"] * spec["env"]["config"]["max_steps"]

    def warmup(self) -> None:
        """Run one epoch's worth of env steps (`train_episodes` × `max_steps`), updates included."""
        for _ in range(self.warmup_steps):
            self.agent.step()

    def window(self, seconds: float) -> dict:
        """Train for at least `seconds`; updates, env steps and seconds of this window."""
        return self.agent.run_for(seconds)

    def stop(self) -> None:
        """Close the env."""
        self.agent.env.close()


class RLlibRunner:
    """(b)/(c): an `EpochDQN` from `symdqn_config`; `window(s)` calls `train()` for ≥ s seconds."""

    def __init__(self, spec: dict, condition: str, seed: int, patch: Callable | None = None):
        from rllib_nsrl.systems.symdqn.kind import symdqn_config

        config = symdqn_config(spec, condition, seed).evaluation(evaluation_interval=None)
        if patch is not None:
            config = patch(config) or config
        self.batch_size = int(spec["dqn"]["train_batch_size"])
        self.algo = config.build_algo()
        self._updates = self._steps = 0.0

    def adam_flags(self) -> dict:
        """`foreach`/`fused` of the learner's optimizer (what the plain reference should match)."""
        (call,) = self.algo.learner_group.foreach_learner(
            lambda learner: {k: learner.get_optimizer().defaults.get(k) for k in ("foreach", "fused")}
        )
        return call.get()

    def _count(self, result: dict) -> None:
        trained = result.get("learners", {}).get(MODULE_ID, {}).get("num_module_steps_trained_lifetime", 0)
        self._updates = trained / self.batch_size
        self._steps = result["env_runners"]["num_env_steps_sampled_lifetime"]

    def warmup(self) -> None:
        """One `train()` iteration; records the update and env-step counters."""
        self._count(self.algo.train())

    def window(self, seconds: float) -> dict:
        """Call `train()` until `seconds` have passed; updates, env steps and seconds of this window."""
        u0, s0, t0 = self._updates, self._steps, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            self._count(self.algo.train())
        return {
            "updates": int(round(self._updates - u0)),
            "env_steps": int(self._steps - s0),
            "seconds": time.perf_counter() - t0,
        }

    def stop(self) -> None:
        """Stop the algorithm (its env runners and learners)."""
        self.algo.stop()


def _ensure_ray() -> bool:
    """Start a loopback Ray without dashboard (RLlib would start one with it); True if started here."""
    import ray

    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    # address="local": never attach to a cluster another process started on this machine.
    ray.init(address="local", num_cpus=os.cpu_count() or 1, include_dashboard=False, log_to_driver=False)
    return True


def make_runner(name: str, spec: dict, seed: int, patch: Callable | None = None, adam: dict | None = None):
    """A `PlainRunner` for `name == PLAIN`, else an `RLlibRunner` for condition `name`."""
    if name == PLAIN:
        return PlainRunner(spec, seed, adam)
    return RLlibRunner(spec, name, seed, patch)


def run_train_bench(
    seconds: float = 20.0,
    seed: int = 0,
    *,
    rounds: int = 3,
    episodes_per_iter: int = 1,
    threads: int | None = 1,
    variants: dict[str, tuple[str, Callable | None]] | None = None,
    spec_over: dict | None = None,
) -> dict:
    """Measure each variant for `seconds` in total (split into `rounds` interleaved windows).

    variants: label → (kind, config patch or None), kind one of `VARIANTS`; default
    `default_variants()`. A patch `f(config) -> config` edits the RLlib config before build (to try a
    setting); for `plain` it may be a dict of Adam flags instead (default: those of the first RLlib variant).
    threads: `torch.set_num_threads` for the whole run (None: leave torch's default). 1 is what a Tune
    trial with `cpus_per_trial: 1` gets (Ray sets OMP_NUM_THREADS to the trial's CPUs), and the only
    setting that stays fast when other processes load the cores (docs/speed.md).
    Returns the JSON-able figures: per variant updates/s, env steps/s, counts, build and warm-up
    seconds; the ratios b/a and c/b when those variants were run.
    """
    variants = variants or default_variants()
    spec = bench_spec(episodes_per_iter, spec_over)
    threads_before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    started_ray = any(kind != PLAIN for kind, _ in variants.values()) and _ensure_ray()
    load0 = os.getloadavg()
    runners, out = {}, {}
    # RLlib variants first: the plain reference then runs the Adam implementation of the first one.
    order = sorted(variants, key=lambda label: variants[label][0] == PLAIN)
    adam = None
    try:
        for label in order:
            kind, patch = variants[label]
            t0 = time.perf_counter()
            plain_adam = patch if kind == PLAIN and isinstance(patch, dict) else adam
            runners[label] = make_runner(kind, spec, seed, patch, plain_adam)
            if adam is None and kind != PLAIN:
                adam = runners[label].adam_flags()
            out[label] = {"kind": kind, "build_s": time.perf_counter() - t0}
            if kind == PLAIN:
                out[label]["adam"] = plain_adam or {}
        for label in variants:  # warm up and report in the caller's order
            t1 = time.perf_counter()
            runners[label].warmup()
            out[label]["warmup_s"] = time.perf_counter() - t1
            out[label].update(updates=0, env_steps=0, seconds=0.0, windows=[])
        out = {label: out[label] for label in variants}
        rates: dict[str, list[float]] = {label: [] for label in variants}  # unrounded `windows`
        for _ in range(rounds):
            for label in variants:
                w = runners[label].window(seconds / rounds)
                rec = out[label]
                rec["updates"] += w["updates"]
                rec["env_steps"] += w["env_steps"]
                rec["seconds"] += w["seconds"]
                rec["windows"].append(round(w["updates"] / w["seconds"], 2))
                rates[label].append(w["updates"] / w["seconds"])
    finally:
        for runner in runners.values():
            runner.stop()
        if started_ray:
            import ray

            ray.shutdown()
    threads_used = torch.get_num_threads()
    torch.set_num_threads(threads_before)
    for rec in out.values():
        rec["updates_per_s"] = rec["updates"] / rec["seconds"]
        rec["env_steps_per_s"] = rec["env_steps"] / rec["seconds"]
    for rec in out.values():
        for base in (PLAIN, DUEL):
            if base in out and out[base]["updates_per_s"] > 0:
                rec[f"vs_{base}"] = rec["updates_per_s"] / out[base]["updates_per_s"]
    ratios, per_round = {}, {}
    for key, num, den in RATIOS:
        if num in out and den in out and out[den]["updates_per_s"] > 0:
            ratios[key] = out[num]["updates_per_s"] / out[den]["updates_per_s"]
            # the same ratio within each round (the load is alike inside one): its spread is the noise
            pairs = zip(rates[num], rates[den], strict=True)
            per_round[key] = [round(n / d, 3) if d > 0 else None for n, d in pairs]
    return {
        "bench": "train",
        "seconds_per_variant": seconds,
        "rounds": rounds,
        "episodes_per_iter": episodes_per_iter,
        "spec_over": spec_over or {},
        "seed": seed,
        "torch_threads": threads_used,
        # RLlib's seeding (`debugging(seed=...)`) switches this on process-wide on CPU.
        "torch_deterministic": torch.are_deterministic_algorithms_enabled(),
        "cpus": os.cpu_count(),
        "loadavg_1min": [round(load0[0], 2), round(os.getloadavg()[0], 2)],
        "variants": out,
        "ratios": ratios,
        "ratios_per_round": per_round,
        "goals": GOALS,
    }


def format_train_table(res: dict) -> str:
    """Human-readable table of a `run_train_bench` result: rates, ratios to the baselines, goal verdicts."""
    width = max(24, *(len(label) + 2 for label in res["variants"]))
    rows = [
        f"nsrl bench train: {res['seconds_per_variant']:g} s per variant in {res['rounds']} interleaved "
        f"rounds; torch threads {res['torch_threads']}, deterministic {res['torch_deterministic']}; "
        f"1-min load avg start/end {res['loadavg_1min']} on {res['cpus']} CPUs",
        f"{'variant':<{width}}{'updates/s':>10}{'env st/s':>10}{'updates':>8}{'vs plain':>9}{'vs Duel':>8}"
        f"{'build s':>8}  per-window updates/s",
    ]
    for label, r in res["variants"].items():
        vs = "".join(
            f"{r[k]:>{w}.3f}" if k in r else " " * w for k, w in ((f"vs_{PLAIN}", 9), (f"vs_{DUEL}", 8))
        )
        rows.append(
            f"{label:<{width}}{r['updates_per_s']:>10.2f}{r['env_steps_per_s']:>10.2f}{r['updates']:>8d}{vs}"
            f"{r['build_s']:>8.1f}  {r['windows']}"
        )
    for key, value in res["ratios"].items():
        spread = [r for r in res.get("ratios_per_round", {}).get(key, []) if r is not None]
        within = f"rounds {min(spread):.3f}-{max(spread):.3f}" if len(spread) > 1 else ""
        if key in GOALS:
            verdict = "meets" if value >= GOALS[key] else "below"
            note = f"goal >= {GOALS[key]} ({verdict}{'; ' + within if within else ''})"
        else:
            note = f"({within})" if within else ""
        rows.append(f"{RATIO_NAMES[key]:<40}{value:6.3f}   {note}".rstrip())
    return "\n".join(rows)
