"""Our fix of a verl 0.9.1 bug that breaks Qwen-VL training on GPUs as on the CPU, and the worker set-up hook.

M-RoPE position ids nested on the wrong dimension (verl #6073; fix PRs #5829 closed, #5886 open): verl's
`left_right_2_no_padding` nests each sequence's (4, length) position ids with `torch.nested.as_nested_tensor`,
which makes the first dimension that differs between sequences the ragged one. When every sequence of a
(mini-)batch has the same length, or the batch holds one sequence, that is the dimension of 4, while
`maybe_fix_3d_position_ids` declares the sequence dimension ragged; the update then fails with "split_with_sizes
expects split_sizes to sum exactly to ...". `mrope_position_ids` nests them with the sequence dimension ragged
always. `install` puts it behind verl's function wherever verl imported it by name.

Qwen2.5-VL's video time steps: verl 0.9.1 computes the training side's M-RoPE positions with the model's
get_rope_index given only the grids (and whatever a processor's `get_rope_index_kwargs` adds), so the
processor's second_per_grid_ts never reaches it and every video, a returned clip as the prompt's, is placed
at 1 s a grid step instead of its own frame spacing. `pass_second_per_grid` gives the processor that hook;
the agent loop calls it on the worker's processor.

The other bug, a sampled vision placeholder killing the rollout in verl's postprocess, is prevented where the
tokens are sampled: trainers/agent_loop.py.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

import torch

# the modules of verl 0.9.1 that call left_right_2_no_padding by the name they imported
CALLERS = ("verl.workers.utils.padding", "verl.trainer.ppo.ray_trainer")


def mrope_position_ids(position_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """(batch, 4, padded length) position ids -> a jagged nested tensor (batch, 4, length), length ragged."""
    parts = [position_ids[i][:, attention_mask[i].bool()] for i in range(position_ids.shape[0])]
    lengths = torch.tensor([p.shape[-1] for p in parts])
    offsets = torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)])
    return torch.nested.nested_tensor_from_jagged(torch.cat(parts, dim=-1), offsets, jagged_dim=2)


def _fixed(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def left_right_2_no_padding(data: Any) -> Any:
        position_ids, attention_mask = data["position_ids"], data["attention_mask"]
        out = original(data)
        if position_ids.dim() == 3:  # M-RoPE: (batch, 4, length)
            out["position_ids"] = mrope_position_ids(position_ids, attention_mask)
        return out

    left_right_2_no_padding.videostar_fix = True  # type: ignore[attr-defined]
    left_right_2_no_padding.__wrapped__ = original  # type: ignore[attr-defined]
    left_right_2_no_padding.__doc__ = original.__doc__
    return left_right_2_no_padding


def pass_second_per_grid(processor: Any) -> None:
    """Let verl's position ids see the processor's second_per_grid_ts (Qwen2.5-VL's); other processors unchanged."""
    if "second_per_grid_ts" in getattr(processor, "model_input_names", ()) and \
            getattr(processor, "get_rope_index_kwargs", None) is None:
        processor.get_rope_index_kwargs = _second_per_grid


def _second_per_grid(inputs: dict[str, Any]) -> dict[str, Any]:
    seconds = inputs.get("second_per_grid_ts")
    return {} if seconds is None else {"second_per_grid_ts": seconds}


def install() -> None:
    """Route verl's left_right_2_no_padding through the fix in this process (idempotent)."""
    from verl.workers.utils import padding

    fixed = padding.left_right_2_no_padding
    if not getattr(fixed, "videostar_fix", False):
        fixed = _fixed(fixed)
    for name in CALLERS:
        setattr(importlib.import_module(name), "left_right_2_no_padding", fixed)


def setup_worker() -> None:
    """Ray's worker_process_setup_hook for training jobs: setup_worker_without_preload, then the libraries envs load."""
    from videostar_trainers.env_pool import preload_libraries

    setup_worker_without_preload()
    preload_libraries()


def setup_worker_without_preload() -> None:
    """The set-up hook without the preload: the fix and the worker's process settings (process.tune_worker_process)."""
    from videostar_trainers.process import tune_worker_process

    install()
    tune_worker_process()
