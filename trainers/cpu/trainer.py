"""GRPO through verl's own classes in one CPU process: what `videostar train --cpu` runs.

The step is verl 0.9.1's RayPPOTrainer.fit step, call for call, with its worker groups replaced by the workers
themselves in this process: verl's AgentLoopWorker plays our agent loop against the CPU replica (its
LLMServerClient and request balancer are verl's), the env's rewards arrive as `rm_scores`, verl's
ActorRolloutRefWorker recomputes the old log-probs (and, with a reference policy, the reference's), verl's
compute_advantage makes GRPO advantages, and the actor's update is verl's FSDP engine with ppo_loss; then the
actor's weights go to the replica through the engine's own export. Only device set-up (shims.py) and generation
(replica.py) are ours.

What it proves and what it does not: the data flow, masks, losses and weight sync of a real verl step on real
episodes; not Ray's orchestration, vLLM or SGLang numerics, flash attention or bf16.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf, open_dict

from videostar_trainers import verl_fixes
from videostar_trainers.cpu import shims
from videostar_trainers.cpu.choices import constrained_turns
from videostar_trainers.process import tune_worker_process

# Settings a CPU process needs whatever the config says; each is set over the user's config and reported.
CPU_OVERRIDES = {
    "actor_rollout_ref.actor.strategy": "fsdp2",  # FSDP1 moves modules to cuda:0
    "actor_rollout_ref.ref.strategy": "fsdp2",
    "actor_rollout_ref.model.use_remove_padding": False,  # needs flash-attention's varlen kernels
    "actor_rollout_ref.actor.use_torch_compile": False,
    "actor_rollout_ref.ref.use_torch_compile": False,
    "actor_rollout_ref.actor.fsdp_config.param_offload": False,  # offload pins memory: needs a CUDA driver
    "actor_rollout_ref.actor.fsdp_config.optimizer_offload": False,
    "actor_rollout_ref.ref.fsdp_config.param_offload": False,
    # fp32 compute, as the replica generates: verl's FSDP default computes in bf16 (0.03 apart in log-prob)
    "actor_rollout_ref.actor.fsdp_config.mixed_precision": {"param_dtype": "fp32", "reduce_dtype": "fp32",
                                                            "buffer_dtype": "fp32"},
    "actor_rollout_ref.ref.fsdp_config.mixed_precision": {"param_dtype": "fp32", "reduce_dtype": "fp32",
                                                          "buffer_dtype": "fp32"},
    "actor_rollout_ref.model.override_config.attn_implementation": "sdpa",  # flash-attention does not import
    "trainer.n_gpus_per_node": 1,
    "trainer.nnodes": 1,
    "actor_rollout_ref.rollout.tensor_model_parallel_size": 1,
    "actor_rollout_ref.rollout.agent.num_workers": 1,
}


def cpu_config(config: DictConfig) -> DictConfig:
    """The config with CPU_OVERRIDES set (a copy)."""
    config = OmegaConf.create(OmegaConf.to_container(config, resolve=True))
    with open_dict(config):
        for key, value in CPU_OVERRIDES.items():
            OmegaConf.update(config, key, value, force_add=True)
    return config


@dataclass
class StepReport:
    """One step's progress line and the metrics verl would log for it."""

    step: int
    metrics: dict[str, float]
    terms: dict[str, tuple[float, float]] = field(default_factory=dict)  # reward term -> (mean, std)

    def line(self) -> str:
        """The progress line: reward and its terms, accuracy, tool calls, loss, grad norm, KL, seconds."""
        m = self.metrics
        terms = " ".join(f"{k} {mean:.2f}±{std:.2f}" for k, (mean, std) in self.terms.items() if k != "total")
        return (f"step {self.step:3d}  reward {m['reward/mean']:.3f}±{m['reward/std']:.3f}  [{terms}]  "
                f"acc {m['reward/accuracy']:.2f}  tools {m['rollout/tool_calls']:.2f}  "
                f"loss {m.get('actor/pg_loss', float('nan')):+.4f}  grad {m.get('actor/grad_norm', float('nan')):.3f}  "
                f"kl {m.get('actor/kl_loss', 0.0):.4f}  {m['timing_s/step']:.1f}s")


def row_candidates(files: Any) -> list[str]:
    """The candidate labels the rows of verl-data parquet files name (extra_info.candidates), in order."""
    import pandas as pd

    labels: list[str] = []
    for path in [files] if isinstance(files, str) else list(files):
        for extra in pd.read_parquet(path, columns=["extra_info"])["extra_info"]:
            labels.extend(str(c) for c in (extra or {}).get("candidates", ()) if c not in labels)
    return labels


class InProcessActor:
    """A Ray actor handle for an object in this process: handle.method.remote(...) returns an awaitable."""

    def __init__(self, target: Any):
        self.target = target

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.target, name)

        class _Remote:
            @staticmethod
            def remote(*args: Any, **kwargs: Any) -> Any:
                result = method(*args, **kwargs)
                if asyncio.iscoroutine(result):
                    return asyncio.ensure_future(result)
                done = asyncio.get_running_loop().create_future()
                done.set_result(result)
                return done

        return _Remote


class CPUTrainer:
    """verl's GRPO step on the CPU. config: a composed videostar_grpo config; out: where metrics and checkpoints go;
    log: where progress lines go; constrained: None (free sampling) or a mode of choices.MODES (the policy's turns
    restricted to well-formed ones, for the demos)."""

    def __init__(self, config: DictConfig, out: str | Path, log: Callable[[str], None] = print,
                 constrained: str | None = None):
        from verl.experimental.agent_loop.agent_loop import AgentLoopWorker
        from verl.trainer.ppo.utils import create_rl_dataset, create_rl_sampler, need_reference_policy
        from verl.utils.config import omega_conf_to_dataclass
        from verl.utils.dataset.rl_dataset import collate_fn
        from verl.workers.engine_workers import ActorRolloutRefWorker
        from verl.workers.rollout.llm_server import LLMServerClient
        from verl.workers.rollout.router import GlobalRequestLoadBalancer
        from torchdata.stateful_dataloader import StatefulDataLoader

        from videostar_trainers.cpu.replica import HFReplica

        os.environ.setdefault("FORCE_QWENVL_VIDEO_READER", "decord")  # as train_grpo.sh: torchcodec needs FFmpeg
        shims.install()
        verl_fixes.install()
        tune_worker_process()  # this one process is the agent-loop worker: what Ray's set-up hook does in a real job
        self.config, self.out, self.log = cpu_config(config), Path(out), log
        self.out.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(int(self.config.actor_rollout_ref.actor.get("data_loader_seed") or 0))
        model = omega_conf_to_dataclass(self.config.actor_rollout_ref.model)
        self.tokenizer, self.processor = model.tokenizer, model.processor
        data = self.config.data
        dataset = create_rl_dataset(data.train_files, data, self.tokenizer, self.processor,
                                    max_samples=data.get("train_max_samples", -1))
        self.loader = StatefulDataLoader(dataset, batch_size=data.train_batch_size, drop_last=True,
                                         collate_fn=collate_fn, sampler=create_rl_sampler(data, dataset),
                                         num_workers=0)
        self.actor = ActorRolloutRefWorker(self.config.actor_rollout_ref, role="actor")
        self.actor.init_model()
        self.ref = None
        if need_reference_policy(self.config):
            self.ref = ActorRolloutRefWorker(self.config.actor_rollout_ref, role="ref")
            self.ref.init_model()
        rollout = self.config.actor_rollout_ref.rollout
        choices = None
        if constrained:
            choices = constrained_turns(constrained, row_candidates(data.train_files))
            log(f"constrained decoding ({constrained}): the policy's turns are drawn from its own distribution over "
                "well-formed turns only (trainers/cpu/choices.py)")
        self.replica = HFReplica(self.config.actor_rollout_ref.model.path, self.processor, rollout.prompt_length,
                                 rollout.response_length, seed=int(self.config.get("seed", 0) or 0), choices=choices)
        self.sync_weights()
        self.loop = asyncio.new_event_loop()
        balancer = GlobalRequestLoadBalancer({"cpu-replica-0": InProcessActor(self.replica)})
        client = LLMServerClient(self.config, load_balancer_handle=InProcessActor(balancer))

        async def build() -> Any:
            return AgentLoopWorker(self.config, client)

        self.worker = self.loop.run_until_complete(build())
        self.global_step = 0

    def sync_weights(self) -> int:
        """The actor's parameters into the generating replica, through verl's engine export."""
        params, _ = self.actor.actor.engine.get_per_tensor_param()
        return self.replica.load_weights(params)

    def batches(self) -> Iterator[dict[str, Any]]:
        """The training batches of every epoch, as verl's dataloader gives them."""
        for _ in range(int(self.config.trainer.total_epochs)):
            yield from self.loader

    def fit(self) -> list[StepReport]:
        """Train for trainer.total_training_steps (or the epochs), printing a line and logging metrics per step."""
        total = self.config.trainer.get("total_training_steps") or None
        reports = []
        with open(self.out / "metrics.jsonl", "a") as metrics_file:
            for batch_dict in self.batches():
                if total is not None and self.global_step >= total:
                    break
                report = self.step(batch_dict)
                reports.append(report)
                self.log(report.line())
                metrics_file.write(json.dumps({"step": report.step, **report.metrics}) + "\n")
                metrics_file.flush()
                freq = int(self.config.trainer.get("save_freq") or 0)
                last = total is not None and self.global_step >= total
                if freq > 0 and (self.global_step % freq == 0 or last):
                    self.save(self.out / "checkpoints" / f"global_step_{self.global_step}")
        return reports

    def save(self, folder: Path) -> Path:
        """A checkpoint transformers loads (AutoModelForImageTextToText, AutoProcessor): the synced policy."""
        folder.mkdir(parents=True, exist_ok=True)
        self.replica.model.save_pretrained(folder)
        self.processor.save_pretrained(folder)
        self.log(f"checkpoint {folder}")
        return folder

    def step(self, batch_dict: dict[str, Any]) -> StepReport:
        """One GRPO step, as RayPPOTrainer.fit makes it."""
        from verl import DataProto
        from verl.trainer.ppo.metric_utils import compute_data_metrics, compute_timing_metrics
        from verl.trainer.ppo.ray_trainer import compute_advantage, compute_response_mask
        from verl.trainer.ppo.reward import extract_reward
        from verl.utils.metric import reduce_metrics

        self.global_step += 1
        config, n = self.config, int(self.config.actor_rollout_ref.rollout.n)
        timing: dict[str, float] = {}
        start = time.perf_counter()
        batch = DataProto.from_single_dict(batch_dict)
        batch.meta_info["temperature"] = config.actor_rollout_ref.rollout.temperature
        batch.non_tensor_batch["uid"] = np.array([str(uuid.uuid4()) for _ in range(len(batch.batch))], dtype=object)
        keep = {"data_source", "reward_model", "extra_info", "uid"} & batch.non_tensor_batch.keys()
        gen_batch = batch.pop(batch_keys=[], non_tensor_batch_keys=list(set(batch.non_tensor_batch) - keep))
        gen_batch.non_tensor_batch.update(batch.non_tensor_batch)
        gen_batch.meta_info["global_steps"] = self.global_step
        gen_batch = gen_batch.repeat(repeat_times=n, interleave=True)
        tick = time.perf_counter()
        output = self.loop.run_until_complete(self.worker.generate_sequences(gen_batch))
        timing["gen"] = time.perf_counter() - tick
        output.meta_info.pop("timing", None)
        batch = batch.repeat(repeat_times=n, interleave=True).union(output)
        if "response_mask" not in batch.batch.keys():
            batch.batch["response_mask"] = compute_response_mask(batch)
        batch.meta_info["global_token_num"] = torch.sum(batch.batch["attention_mask"], dim=-1).tolist()
        reward_tensor, extra = extract_reward(batch)
        tick = time.perf_counter()
        batch = batch.union(self._log_probs(batch, "old_log_probs"))
        timing["old_log_prob"] = time.perf_counter() - tick
        if self.ref is not None:
            tick = time.perf_counter()
            batch = batch.union(self._log_probs(batch, "ref_log_prob"))
            timing["ref"] = time.perf_counter() - tick
        batch.batch["token_level_scores"] = reward_tensor
        batch.non_tensor_batch.update({k: np.array(v) for k, v in extra.items()})
        batch.batch["token_level_rewards"] = reward_tensor
        tick = time.perf_counter()
        batch = compute_advantage(batch, adv_estimator=config.algorithm.adv_estimator, gamma=config.algorithm.gamma,
                                  lam=config.algorithm.lam, num_repeat=n,
                                  norm_adv_by_std_in_grpo=config.algorithm.get("norm_adv_by_std_in_grpo", True),
                                  config=config.algorithm)
        timing["adv"] = time.perf_counter() - tick
        tick = time.perf_counter()
        actor_metrics = self._update_actor(batch)
        timing["update_actor"] = time.perf_counter() - tick
        tick = time.perf_counter()
        self.sync_weights()
        timing["update_weights"] = time.perf_counter() - tick
        timing["step"] = time.perf_counter() - start
        self.last_batch = batch
        metrics = {**reduce_metrics(actor_metrics), "training/global_step": self.global_step}
        metrics.update(compute_data_metrics(batch=batch, use_critic=False))
        metrics.update(compute_timing_metrics(batch=batch, timing_raw=timing))
        metrics = {k: float(v) for k, v in metrics.items() if np.isscalar(v)}
        return self._report(batch, metrics, timing)

    def _report(self, batch: Any, metrics: dict[str, float], timing: dict[str, float]) -> StepReport:
        scores = batch.batch["rm_scores"].sum(-1).numpy()
        terms = {}
        for key in ("accuracy", "answer", "format", "node", "edge", "tool", "total"):
            if key in batch.non_tensor_batch:
                values = np.asarray(batch.non_tensor_batch[key], dtype=float)
                terms[key] = (float(values.mean()), float(values.std()))
        accuracy = terms.get("accuracy", terms.get("answer", (float("nan"), 0.0)))[0]
        tools = np.asarray(batch.non_tensor_batch.get("tool_calls", np.zeros(len(scores))), dtype=float)
        metrics.update({"reward/mean": float(scores.mean()), "reward/std": float(scores.std()),
                        "reward/accuracy": accuracy, "rollout/tool_calls": float(tools.mean()),
                        "timing_s/step": timing["step"]})
        metrics.update({f"reward/{k}/mean": mean for k, (mean, _) in terms.items()})
        key = "accuracy" if "accuracy" in batch.non_tensor_batch else "answer"
        if key in batch.non_tensor_batch:  # whether the rollouts that called a tool answered better than the rest
            right = np.asarray(batch.non_tensor_batch[key], dtype=float)
            for name, rows in (("with_tool", tools > 0), ("without_tool", tools == 0)):
                if rows.any():
                    metrics[f"reward/accuracy/{name}"] = float(right[rows].mean())
        return StepReport(self.global_step, metrics, terms)

    def _log_probs(self, batch: Any, key: str) -> Any:
        """verl's old (actor) or reference log-probs of the batch, as RayPPOTrainer computes them."""
        from verl import DataProto
        from verl.utils import tensordict_utils as tu
        from verl.workers.utils.padding import left_right_2_no_padding, no_padding_2_padding

        td = left_right_2_no_padding(batch.to_tensordict())
        if key == "ref_log_prob":
            tu.assign_non_tensor(td, calculate_entropy=False, compute_loss=False)
            output = self.ref.compute_ref_log_prob(td)
        else:
            tu.assign_non_tensor(td, calculate_entropy=True, calculate_sum_pi_squared=False, compute_loss=False)
            output = self.actor.compute_log_prob(td)
        log_probs = no_padding_2_padding(tu.get(output, "log_probs"), td)
        return DataProto.from_tensordict(tu.get_tensordict({key: log_probs.float()}))

    def _update_actor(self, batch: Any) -> dict[str, Any]:
        """verl's actor update of the batch (ppo mini-batches x epochs), as RayPPOTrainer._update_actor."""
        from verl.utils import tensordict_utils as tu
        from verl.utils.py_functional import rename_dict
        from verl.workers.utils.padding import left_right_2_no_padding

        actor = self.config.actor_rollout_ref.actor
        rollout = self.config.actor_rollout_ref.rollout
        batch.meta_info["multi_turn"] = rollout.multi_turn.enable
        batch.meta_info["temperature"] = rollout.temperature
        td = left_right_2_no_padding(batch.to_tensordict())
        mini = int(actor.ppo_mini_batch_size) * int(rollout.n)
        tu.assign_non_tensor(td, calculate_entropy=bool(actor.calculate_entropy or actor.entropy_coeff != 0.0),
                             distillation_use_topk=False, distillation_only=False, global_batch_size=mini,
                             mini_batch_size=mini, epochs=actor.ppo_epochs, seed=actor.data_loader_seed,
                             dataloader_kwargs={"shuffle": actor.shuffle}, compute_loss=True)
        output = self.actor.update_actor(td)
        return rename_dict(tu.get(output, "metrics"), "actor/")

    def close(self) -> None:
        """Close the envs the agent loop made and the event loop; give transformers' Qwen-VL classes their own
        forwards back (verl patched them)."""
        from videostar_trainers.env_pool import EnvPool

        for pool in list(EnvPool._shared.values()):
            pool.close()
        self.loop.close()
        shims.restore_forwards()
