"""`InsightPPOLearner`: RLlib's PPO loss plus INSIGHT's terms (Luo et al. 2024; docs/systems/insight.md).

Per minibatch, in the last PPO epoch of each update (every epoch with `guidance_every_epoch`):

    + guidance_weight · CE(EQL logits, argmax of the neural actor's logits)   neural guidance; its
          gradient flows through the predicted coordinates into perception
    + λ_t · Σ √|w| over the EQL's weights and biases (smoothed below `l_half_a`), where λ_t ramps
          linearly from 0 to `reg_weight` over `total_steps`
    + perception_weight · perception loss on `perception_batch` frames of the pre-training dataset
          (the pre-training loss, with its focal γ and size weight)

Outside those epochs the guidance and L½ terms are added with weight 0 (so every parameter keeps a
gradient on every minibatch, as DDP requires) and the perception batch is not drawn; the optimizer step
then leaves the EQL actor and the perception heads alone (`apply_gradients`), as the reference's does.
With every INSIGHT weight 0 the loss is exactly `PPOTorchLearner`'s. Each term is logged under the
module id: `guidance_loss`, `l_half_penalty`, `l_half_weight`, `perception_loss` (+ its parts),
`insight_phase` (1 where the terms were on), `eql_agreement` (EQL argmax = neural argmax).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner
from ray.rllib.core.columns import Columns
from ray.rllib.core.learner.learner import Learner
from ray.rllib.utils.annotations import override
from ray.rllib.utils.metrics import NUM_ENV_STEPS_SAMPLED_LIFETIME

from rllib_nsrl.ray_private import EpochCountingLearner
from rllib_nsrl.seeding import derive_seed
from rllib_nsrl.symbolic.eql import l_half_penalty
from rllib_nsrl.systems.insight.module import EQL_LOGITS, NEURAL_LOGITS
from rllib_nsrl.systems.insight.perception import PERCEPTION_LOSS, ObjectWeights, perception_loss

GUIDANCE_LOSS = "guidance_loss"
L_HALF = "l_half_penalty"
L_HALF_WEIGHT = "l_half_weight"
PHASE = "insight_phase"
AGREEMENT = "eql_agreement"


class InsightPPOLearner(EpochCountingLearner, PPOTorchLearner):
    """PPO learner of INSIGHT; its settings come from `InsightPPOConfig` (`self.config`)."""

    @override(PPOTorchLearner)
    def build(self) -> None:
        super().build()
        self._l_half_weight = 0.0
        self._idle = None
        self._frames = self._objects = self._object_weights = None
        c = self.config
        if c.perception_data and c.perception_weight > 0 and self._perception_trained():
            from rllib_nsrl.systems.insight.data import load_split

            obs, objects = load_split(c.perception_data, "train")
            self._frames = torch.from_numpy(obs).to(self.device)
            self._objects = torch.from_numpy(objects).to(self.device)
            self._object_weights = ObjectWeights(self._objects[..., 0].cpu(), c.object_weights)
            self._rng = torch.Generator(device="cpu")

    def _perception_trained(self) -> bool:
        module = next(iter(self.module.values())).unwrapped()
        return module.perception.heads is not None and not module.freeze_perception

    @property
    def per_epoch_minibatches(self) -> bool:
        """The reference's minibatches (`ppo.minibatching: per_epoch`), see `EpochCountingLearner`."""
        return self.config.minibatching == "per_epoch"

    @override(PPOTorchLearner)
    def configure_optimizers_for_module(self, module_id, config=None) -> None:
        """Adam (ε from the config) over the parameters that train (a frozen perception is left out). A
        module with perception heads gets them and the encoder in a second parameter group with weight
        decay `perception_weight_decay` (the reference's `cnn_weight_decay`); one optimizer, so the
        gradient-norm clip stays global."""
        params = [p for p in self.get_parameters(self.module[module_id]) if p.requires_grad]
        module = self.module[module_id].unwrapped()
        decay = float(self.config.perception_weight_decay)
        groups: list = params
        if decay > 0 and module.perception.heads is not None and not module.freeze_perception:
            perception = {id(p) for p in module.perception.parameters()}
            groups = [
                {"params": [p for p in params if id(p) not in perception]},
                {"params": [p for p in params if id(p) in perception], "weight_decay": decay},
            ]
        self.register_optimizer(
            module_id=module_id,
            optimizer=torch.optim.Adam(groups, eps=self.config.adam_eps),
            params=params,
            lr_or_lr_schedule=config.lr,
        )

    def _idle_parameters(self) -> list[torch.nn.Parameter]:
        """The parameters with no loss term in this minibatch: outside the INSIGHT phase of a neurally
        guided condition, the EQL actor and the perception heads. The 0-weighted terms keep them in the
        graph (DDP needs that), so their gradient is an exact zero."""
        if self._phase():
            return []
        if self._idle is None:  # the modules do not change after `build`
            self._idle = []
            for module_id in self.module.keys():
                module = self.module[module_id].unwrapped()
                if not module.use_eql or module.policy != "neural":
                    continue
                self._idle += list(module.eql.parameters())
                if module.perception.heads is not None and not module.freeze_perception:
                    self._idle += list(module.perception.heads.parameters())
        return self._idle

    @override(PPOTorchLearner)
    def apply_gradients(self, gradients_dict: dict) -> None:
        """RLlib's step, except that the idle parameters (`_idle_parameters`) get no gradient at all, as
        in the reference, where they are not in that minibatch's graph: Adam leaves them alone (no
        momentum step, no weight decay, no step count). Their zero gradients added nothing to the
        clipped global norm."""
        idle = self._idle_parameters()
        if idle:
            refs = {self.get_param_ref(p) for p in idle}
            gradients_dict = {ref: g for ref, g in gradients_dict.items() if ref not in refs}
            for p in idle:
                p.grad = None
        super().apply_gradients(gradients_dict)

    @override(Learner)
    def before_gradient_based_update(self, *, timesteps: dict) -> None:
        super().before_gradient_based_update(timesteps=timesteps)
        c = self.config
        lifetime = int(timesteps.get(NUM_ENV_STEPS_SAMPLED_LIFETIME, 0))
        done_before = max(0, lifetime - c.train_batch_size_per_learner)
        self._l_half_weight = c.reg_weight * min(1.0, done_before / max(1, c.total_steps))
        if self._frames is not None:  # batches depend on (seed, learner, progress): the same after a restore
            self._rng.manual_seed(derive_seed(c.seed or 0, self._learner_index or 0, lifetime))

    def _phase(self) -> bool:
        """Whether this minibatch gets the INSIGHT terms: the last PPO epoch, or every one."""
        return bool(self.config.guidance_every_epoch) or self.ppo_epoch >= self.ppo_num_epochs - 1

    @override(PPOTorchLearner)
    def compute_loss_for_module(self, *, module_id, config, batch, fwd_out):
        total = super().compute_loss_for_module(
            module_id=module_id, config=config, batch=batch, fwd_out=fwd_out
        )
        module = self.module[module_id].unwrapped()
        if not module.use_eql:
            return total
        c = self.config
        on = 1.0 if self._phase() else 0.0
        logged = {PHASE: on}
        mask = batch.get(Columns.LOSS_MASK)
        eql_logits = fwd_out[EQL_LOGITS]
        if NEURAL_LOGITS in fwd_out:
            target = fwd_out[NEURAL_LOGITS].detach().argmax(-1)
            ce = F.cross_entropy(eql_logits, target, reduction="none")
            agree = (eql_logits.detach().argmax(-1) == target).float()
            if mask is not None:
                ce, agree = ce[mask], agree[mask]
            logged[GUIDANCE_LOSS] = ce.mean().detach()
            logged[AGREEMENT] = agree.mean()
            if c.guidance:
                total = total + on * c.guidance_weight * ce.mean()
        penalty = l_half_penalty(module.eql.regularized_parameters(), c.l_half_a)
        total = total + on * self._l_half_weight * penalty
        logged[L_HALF] = penalty.detach()
        logged[L_HALF_WEIGHT] = self._l_half_weight
        if on and self._frames is not None:
            idx = torch.randint(len(self._frames), (c.perception_batch,), generator=self._rng)
            idx = idx.to(self._frames.device)
            pred, target = module.objects(module.features(self._frames[idx])), self._objects[idx]
            terms = perception_loss(
                pred,
                target,
                self._object_weights(target[..., 0]),
                gamma=c.focal_gamma,
                size_weight=c.size_weight,
                reduction=c.perception_reduction,
            )
            total = total + c.perception_weight * terms[PERCEPTION_LOSS]
            logged.update({k: v.detach() for k, v in terms.items()})
        for key, value in logged.items():
            self.metrics.log_value((module_id, key), value, reduce="mean")
        return total
