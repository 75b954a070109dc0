"""What verl needs to run its training classes in one CPU process: few shims, each with its reason.

Checked against verl 0.9.1 (pinned in setup.cfg); each touches a verl internal, so a new verl release is
re-checked here before the pin moves. Nothing here changes a computation: the losses, advantages, optimiser
and FSDP wrapping are verl's own.

1. A "cpu" platform: verl knows nvidia, huawei and amd only and falls back to nvidia (CUDA calls).
2. verl's FSDP language-model engine registered for device "cpu": it is registered for cuda and npu only.
3. A one-rank gloo process group made before verl's (on an in-process store, no port): verl's own init asks
   for "cpu:gloo,cpu:gloo" on a CPU platform and fails with "Duplicate device type cpu".
4. The Qwen-VL classes' own `forward`s for the generating copy (original_forwards): verl replaces them on the
   classes for its training forward (verl.models.transformers.monkey_patch), which transformers' generate cannot
   drive; generation puts the originals back while it runs.
5. Unpinned CPU offload for forward-only models (the reference policy): verl's FSDP2 engine always asks for
   CPUOffloadPolicy(pin_memory=True), and pinning memory needs a CUDA driver.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import types
from typing import Any, Iterator

import torch

VERL_VERSION = "0.9.1"


class _CPUDevice(types.SimpleNamespace):
    """torch.cpu with the torch.cuda functions verl calls for memory figures and seeding (no device memory)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(torch.cpu, name)

    @staticmethod
    def max_memory_allocated(*args: Any, **kwargs: Any) -> int:
        return 0

    max_memory_reserved = memory_allocated = memory_reserved = max_memory_allocated

    @staticmethod
    def manual_seed(seed: int) -> None:
        torch.manual_seed(seed)

    manual_seed_all = manual_seed

    @staticmethod
    def empty_cache() -> None:
        return None

    @staticmethod
    def reset_peak_memory_stats(*args: Any, **kwargs: Any) -> None:
        return None

    @staticmethod
    def get_rng_state(*args: Any, **kwargs: Any) -> torch.Tensor:
        return torch.get_rng_state()

    @staticmethod
    def set_rng_state(state: torch.Tensor, *args: Any, **kwargs: Any) -> None:
        torch.set_rng_state(state)

    @staticmethod
    def get_device_name(*args: Any, **kwargs: Any) -> str:
        return "CPU"

    @staticmethod
    def mem_get_info(*args: Any, **kwargs: Any) -> tuple[int, int]:
        return 0, 0


def _platform_class() -> type:
    from verl.plugin.platform.platform_base import PlatformBase

    class PlatformCPU(PlatformBase):
        """verl's platform interface on the CPU: gloo for collectives, no device memory, no profiler."""

        device = _CPUDevice()

        @property
        def device_name(self) -> str:
            return "cpu"

        @property
        def vendor_name(self) -> str:
            return "cpu"

        @property
        def device_module(self) -> Any:
            return self.device

        def is_available(self) -> bool:
            return True

        def current_device(self) -> str:
            return "cpu"  # verl moves modules with .to(current_device()): an index would mean cuda:0

        def device_count(self) -> int:
            return 1

        def set_device(self, device_index: int) -> None:
            return None

        def synchronize(self, device_index: int | None = None) -> None:
            return None

        def manual_seed(self, seed: int) -> None:
            torch.manual_seed(seed)

        def manual_seed_all(self, seed: int) -> None:
            torch.manual_seed(seed)

        def set_allocator_settings(self, settings: str) -> None:
            return None

        def empty_cache(self) -> None:
            return None

        def get_device_capability(self, device_index: int = 0) -> tuple[int | None, int | None]:
            return None, None

        def communication_backend_name(self) -> str:
            return "gloo"

        def visible_devices_envvar(self) -> str:
            return "CUDA_VISIBLE_DEVICES"

        def nvtx_range(self, msg: str) -> Any:
            return contextlib.nullcontext()

        def profiler_start(self) -> None:
            return None

        def profiler_stop(self) -> None:
            return None

        def ray_resource_name(self) -> str:
            return "CPU"

        def ray_noset_envvars(self) -> list[str]:
            return []

        def is_ipc_supported(self) -> bool:
            return False

        def cudart(self) -> Any:
            return None

    return PlatformCPU


# transformers' Qwen-VL modelling modules whose classes verl's monkey patch rewrites
PATCHED_MODULES = ("qwen2_vl", "qwen2_5_vl", "qwen3_vl", "qwen3_vl_moe", "qwen3_5", "qwen3_5_moe")


def _forwards() -> dict[tuple[type, str], Any]:
    found = {}
    for name in PATCHED_MODULES:
        try:
            module = importlib.import_module(f"transformers.models.{name}.modeling_{name}")
        except ImportError:
            continue
        for value in vars(module).values():
            if isinstance(value, type) and value.__module__ == module.__name__ and "forward" in vars(value):
                found[(value, "forward")] = vars(value)["forward"]
    return found


_ORIGINAL = _forwards()  # taken when this module is imported, before any verl model is built


@contextlib.contextmanager
def original_forwards() -> Iterator[None]:
    """The Qwen-VL classes' own forwards while the block runs; verl's patched ones again after it."""
    current = _forwards()
    for (cls, attr), fn in _ORIGINAL.items():
        setattr(cls, attr, fn)
    try:
        yield
    finally:
        for (cls, attr), fn in current.items():
            setattr(cls, attr, fn)


def restore_forwards() -> None:
    """Put the Qwen-VL classes' own forwards back for good (a trainer that closes leaves transformers as it was)."""
    for (cls, attr), fn in _ORIGINAL.items():
        setattr(cls, attr, fn)


def install() -> None:
    """Make verl's training classes run in this process on the CPU (idempotent)."""
    import verl
    from verl.plugin.platform import platform_manager
    from verl.workers.engine import EngineRegistry
    from verl.workers.engine.fsdp.transformer_impl import FSDPEngineWithLMHead

    if verl.__version__ != VERL_VERSION:
        raise RuntimeError(f"the CPU trainer's shims were checked against verl {VERL_VERSION}, this is verl "
                           f"{verl.__version__}: pip install 'verl[verl-core]=={VERL_VERSION}'")
    platform = _platform_class()
    platform_manager.PlatformRegistry.register("cpu")(platform)
    if not isinstance(platform_manager._current_platform, platform):
        platform_manager.set_platform(platform())
    from verl.workers.engine.fsdp import transformer_impl

    policy = transformer_impl.CPUOffloadPolicy
    if not getattr(policy, "videostar_unpinned", False):
        def unpinned(pin_memory: bool = False, **kwargs: Any) -> Any:
            return policy(pin_memory=False, **kwargs)

        unpinned.videostar_unpinned = True  # type: ignore[attr-defined]
        transformer_impl.CPUOffloadPolicy = unpinned
    engines = EngineRegistry._engines["language_model"]
    for backend in ("fsdp", "fsdp2"):
        engines[backend].setdefault("cpu", FSDPEngineWithLMHead)
    # verl's Worker reads these (the master's address and port only as metadata: the group below binds no port).
    for key, value in {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "LOCAL_WORLD_SIZE": "1",
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "0"}.items():
        os.environ.setdefault(key, value)
    if not torch.distributed.is_initialized():
        # One rank meets no one: an in-process store, no port (a MASTER_PORT a parent process holds fails to bind).
        torch.distributed.init_process_group("gloo", store=torch.distributed.HashStore(), rank=0, world_size=1)
