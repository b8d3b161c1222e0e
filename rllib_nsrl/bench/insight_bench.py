"""`nsrl bench insight`: env steps/s of INSIGHT's PPO on RLlib against a plain PyTorch loop, side by side.

Variants, all on the same env (`AtariObjectsEnv`, Pong, training wrappers), the same network
(`InsightModule`: Nature-DQN encoder, perception heads, neural actor-critic, EQL actor) and the paper's
schedule (8 envs × 128 steps, 4 epochs of 4 minibatches; INSIGHT terms in the last epoch):

    plain       `PlainInsightPPO` below: one file, no RLlib — sample with the acting network, GAE from the
                values stored while sampling, the INSIGHT loss; the reference ceiling
    INSIGHT     `InsightPPOConfig` (condition INSIGHT) on RLlib, `algo.train()`
    neural PPO  `InsightPPOConfig` (condition neural PPO: the same encoder, no EQL, no perception) on RLlib

Goals: INSIGHT / plain ≥ 0.5 and INSIGHT / neural PPO ≥ 0.8. Each variant is built and warmed up by one
update first; then the variants run in interleaved rounds of `iterations` updates each, so load from other
processes hits them alike. The perception dataset (a few hundred random-play frames) is collected in a
temporary folder before anything is timed; evaluation is off.
"""

from __future__ import annotations

import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F

PLAIN, INSIGHT, NEURAL = "plain", "INSIGHT", "neural PPO"
VARIANTS = (PLAIN, INSIGHT, NEURAL)
GOALS = {"insight_over_plain": 0.5, "insight_over_neural": 0.8}
MID = "default_policy"


def bench_spec(game: str = "Pong") -> dict:
    """A default (paper-valued) `kind: insight` spec on `game`."""
    from rllib_nsrl.experiments.schema import check
    from rllib_nsrl.systems.insight.spec import InsightSpec

    return check(InsightSpec, {"name": "bench", "kind": "insight", "env": {"game": game}})


class PlainInsightPPO:
    """The plain single-file loop: CleanRL's PPO on `InsightModule`, plus the INSIGHT terms."""

    def __init__(self, spec: dict, seed: int, data_folder: str):
        import gymnasium as gym
        from ray.rllib.core.rl_module.rl_module import RLModuleSpec

        from rllib_nsrl.envs.atari import AtariObjectsEnv
        from rllib_nsrl.seeding import derive_seed
        from rllib_nsrl.systems.insight.conditions import CONDITIONS
        from rllib_nsrl.systems.insight.data import load_split
        from rllib_nsrl.systems.insight.module import InsightModule, insight_model_config
        from rllib_nsrl.systems.insight.perception import ObjectWeights

        torch.manual_seed(seed)
        self.spec, p = spec, spec["ppo"]
        env_config = {k: spec["env"][k] for k in ("game", "episodic_life", "fire_reset", "clip_rewards")}
        self.envs = [AtariObjectsEnv(env_config) for _ in range(p["num_envs"])]
        self.obs = np.stack([e.reset(seed=derive_seed(seed, i))[0] for i, e in enumerate(self.envs)])
        space = self.envs[0].observation_space
        mc = insight_model_config(spec, CONDITIONS["INSIGHT"], len(self.envs[0].slots), None)
        self.module = RLModuleSpec(
            module_class=InsightModule, observation_space=space, action_space=self.envs[0].action_space,
            model_config=mc,
        ).build()  # fmt: skip
        assert isinstance(space, gym.spaces.Box)
        self.opt = torch.optim.Adam(self.module.parameters(), lr=p["lr"], eps=p["adam_eps"])
        frames, objects = load_split(data_folder, "train")
        self.frames, self.objects = torch.from_numpy(frames), torch.from_numpy(objects)
        self.weights = ObjectWeights(self.objects[..., 0], spec["pretrain"]["object_weights"])
        self.gen = torch.Generator().manual_seed(seed)
        self.env_steps = 0

    def update(self) -> None:
        """One PPO update: num_envs × rollout_length env steps, then the epochs."""
        from rllib_nsrl.symbolic.eql import l_half_penalty
        from rllib_nsrl.systems.insight.perception import PERCEPTION_LOSS, perception_loss

        p, ins, m = self.spec["ppo"], self.spec["insight"], self.module
        T, N = p["rollout_length"], p["num_envs"]
        obs = np.zeros((T, N, *self.obs.shape[1:]), np.uint8)
        actions, logps, values = torch.zeros(T, N, dtype=torch.long), torch.zeros(T, N), torch.zeros(T + 1, N)
        rewards, dones = np.zeros((T, N), np.float32), np.zeros((T + 1, N), np.float32)
        with torch.no_grad():
            for t in range(T):
                obs[t] = self.obs
                x = torch.from_numpy(self.obs)
                features = m.features(x)
                dist = torch.distributions.Categorical(logits=m.neural_logits(features))
                a = dist.sample()
                actions[t], logps[t], values[t] = a, dist.log_prob(a), m.vf(features).squeeze(-1)
                for i, env in enumerate(self.envs):
                    o, r, term, trunc, _ = env.step(int(a[i]))
                    if term or trunc:
                        o, _ = env.reset()
                    self.obs[i], rewards[t, i], dones[t + 1, i] = o, r, float(term or trunc)
            values[T] = m.vf(m.features(torch.from_numpy(self.obs))).squeeze(-1)
        self.env_steps += T * N
        adv, last = torch.zeros(T, N), torch.zeros(N)
        for t in reversed(range(T)):
            nonterminal = 1.0 - torch.from_numpy(dones[t + 1])
            delta = torch.from_numpy(rewards[t]) + p["gamma"] * values[t + 1] * nonterminal - values[t]
            last = delta + p["gamma"] * p["gae_lambda"] * nonterminal * last
            adv[t] = last
        returns = (adv + values[:T]).flatten()
        b_obs, b_act, b_logp, b_adv = (
            torch.from_numpy(obs.reshape(T * N, *obs.shape[2:])),
            actions.flatten(),
            logps.flatten(),
            adv.flatten(),
        )
        mb = T * N // p["num_minibatches"]
        for epoch in range(p["num_epochs"]):
            order = torch.randperm(T * N, generator=self.gen)
            last_epoch = epoch == p["num_epochs"] - 1
            for start in range(0, T * N, mb):
                idx = order[start : start + mb]
                features = m.features(b_obs[idx])
                logits = m.neural_logits(features)
                dist = torch.distributions.Categorical(logits=logits)
                ratio = (dist.log_prob(b_act[idx]) - b_logp[idx]).exp()
                a = b_adv[idx]
                a = (a - a.mean()) / (a.std() + 1e-8)
                pg = -torch.min(a * ratio, a * ratio.clamp(1 - p["clip"], 1 + p["clip"])).mean()
                v = m.vf(features).squeeze(-1)
                loss = (
                    pg + p["value"] * (v - returns[idx]).pow(2).mean() - p["entropy"] * dist.entropy().mean()
                )
                if last_epoch:
                    objects = m.objects(features)
                    loss = loss + ins["guidance_weight"] * F.cross_entropy(
                        m.eql_logits(objects), logits.detach().argmax(-1)
                    )
                    loss = loss + ins["reg_weight"] * l_half_penalty(
                        m.eql.regularized_parameters(), ins["l_half_a"]
                    )
                    j = torch.randint(len(self.frames), (ins["perception_batch"],), generator=self.gen)
                    pred = m.objects(m.features(self.frames[j]))
                    loss = (
                        loss
                        + ins["perception_weight"]
                        * perception_loss(
                            pred,
                            self.objects[j],
                            self.weights(self.objects[j][..., 0]),
                            reduction=ins["perception_reduction"],
                        )[PERCEPTION_LOSS]
                    )
                self.opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(m.parameters(), p["grad_clip"])
                self.opt.step()


class RLlibRunner:
    """INSIGHT or neural PPO on RLlib: `InsightPPOConfig` from the spec path, `train()` per update."""

    def __init__(self, spec: dict, condition: str, seed: int, data_folder: str):
        from rllib_nsrl.systems.insight.kind import insight_config

        config = insight_config(spec, condition, seed, data_folder, None).insight(eval_every=10**9)
        self.algo = config.build_algo()
        self.env_steps = 0

    def update(self) -> None:
        """One `train()` (one PPO update)."""
        result = self.algo.train()
        self.env_steps = int(result["num_env_steps_sampled_lifetime"])

    def stop(self) -> None:
        """Release the algorithm."""
        self.algo.stop()


def run_insight_bench(*, seed: int = 0, rounds: int = 3, iterations: int = 2, game: str = "Pong") -> dict:
    """Measure every variant; return the figures (env steps/s per variant, ratios, goals)."""
    import ray

    from rllib_nsrl.systems.insight.data import DataSettings, collect

    spec = bench_spec(game)
    with tempfile.TemporaryDirectory() as tmp:
        settings = DataSettings(game=game, train_frames=512, test_frames=64, shards=1, seed=seed)
        folder = str(collect(settings, tmp, log=lambda _: None))
        if not ray.is_initialized():
            ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
        built, runners = {}, {}
        for name in VARIANTS:
            start = time.perf_counter()
            runners[name] = (
                PlainInsightPPO(spec, seed, folder)
                if name == PLAIN
                else RLlibRunner(spec, name, seed, folder)
            )
            built[name] = time.perf_counter() - start
            runners[name].update()  # warm-up
        seconds = dict.fromkeys(VARIANTS, 0.0)
        steps = dict.fromkeys(VARIANTS, 0)
        for _ in range(rounds):
            for name, runner in runners.items():
                before, start = runner.env_steps, time.perf_counter()
                for _ in range(iterations):
                    runner.update()
                seconds[name] += time.perf_counter() - start
                steps[name] += runner.env_steps - before
        for runner in runners.values():
            if hasattr(runner, "stop"):
                runner.stop()
    rate = {name: steps[name] / seconds[name] for name in VARIANTS}
    return {
        "bench": "insight",
        "game": game,
        "seed": seed,
        "rounds": rounds,
        "iterations_per_round": iterations,
        "torch_threads": torch.get_num_threads(),
        "env_steps_per_s": {k: round(v, 1) for k, v in rate.items()},
        "env_steps": steps,
        "build_s": {k: round(v, 2) for k, v in built.items()},
        "insight_over_plain": round(rate[INSIGHT] / rate[PLAIN], 3),
        "insight_over_neural": round(rate[INSIGHT] / rate[NEURAL], 3),
        "goals": GOALS,
    }


def format_insight_table(res: dict) -> str:
    """The human-readable table of `run_insight_bench`'s result."""
    lines = [
        f"nsrl bench insight — {res['game']}, {res['rounds']} rounds × {res['iterations_per_round']} "
        f"updates of 1024 env steps per variant, torch threads {res['torch_threads']}",
        "",
        "| variant | env steps/s | env steps measured | build s |",
        "|---|---|---|---|",
    ]
    for name in VARIANTS:
        rate, steps, build = res["env_steps_per_s"][name], res["env_steps"][name], res["build_s"][name]
        lines.append(f"| {name} | {rate:.1f} | {steps} | {build:.1f} |")
    for key, goal in GOALS.items():
        verdict = "meets" if res[key] >= goal else "misses"
        lines.append(f"\n{key.replace('_', ' ')}: {res[key]:.2f} ({verdict} the goal ≥ {goal})")
    return "\n".join(lines)
