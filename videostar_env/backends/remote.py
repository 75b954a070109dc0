"""The "ray" vision and objects backends: the env's calls run in one service actor per node (backends/service.py).

`vision=("ray", {"backend": "yolo", "options": {...}})` finds or creates the node's named,
detached `NodeService` actor (its name holds the node id and the Ray job id, so every worker of
the job on that node finds the same one) and sends it each call: the clip's frames go once per
clip into Ray's object store (`ray.put`, the reference reused by every call on that clip), the
rest as small arguments. The reply is what the wrapped backend returns in process, and the id is
the wrapped backend's, so tool caches are shared with in-process runs. The worker process never
imports torch, ultralytics or LiteRT for it. A call whose actor died is retried on a new one (at
most `retries` times, each logged); a service that cannot start is one error at env creation.
Ray is imported when such a backend is made, never when this module is.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any, Callable, Sequence

from ..datasets.sample import VideoSample
from ..errors import MissingDependency, ToolError
from ..video.decode import Clip
from ..video.memo import ArrayMemo, InFlight
from .batched import frames_digest
from .service import NodeService

log = logging.getLogger(__name__)
WRAPPABLE = {"vision": ("oracle", "yolo"), "objects": ("oracle", "yolo")}


class ServiceUnavailable(RuntimeError):
    """The node service could not be started or reached; the message says why and what to change."""


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise MissingDependency("the 'ray' vision and objects backends need Ray: pip install 'videostar-env[ray]' "
                                "(or use the in-process backend, e.g. vision='yolo')") from exc
    return ray


def _actor_errors(ray: Any) -> tuple[type[BaseException], ...]:
    return ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError


class _Service:
    """This process's handle on one node service: the actor, its restarts, and the clips put in the object store."""

    def __init__(self, ray: Any, name: str, namespace: str | None, actor_options: dict[str, Any],
                 make: Callable[[str, Any], Any], memory: int, start_timeout_s: float):
        self.ray, self.name, self.namespace = ray, name, namespace
        self._options, self._make, self._memory, self._timeout = actor_options, make, memory, start_timeout_s
        self._lock = threading.Lock()
        self.restarts = 0
        self.handle = self._start()
        self._puts: InFlight[Any] = InFlight()
        # One put per clip, alive as long as the clip's frames are: every call on the clip reuses the reference.
        self.reference: ArrayMemo[Any] = ArrayMemo(lambda frames: self._puts.run(id(frames), lambda: ray.put(frames))[0])

    def _start(self) -> Any:
        """The named actor, created here if no worker of the node has; ServiceUnavailable if it does not answer."""
        ray = self.ray
        actor = ray.remote(NodeService).options(name=self.name, namespace=self.namespace, lifetime="detached",
                                                get_if_exists=True, **self._options).remote(self._make, self._memory)
        try:
            ray.get(actor.stats.remote(), timeout=self._timeout)
        except ray.exceptions.GetTimeoutError:
            ray.kill(actor)  # a detached actor waiting for resources would wait for good
            raise ServiceUnavailable(
                f"the node vision service {self.name!r} did not start within {self._timeout:g} s: the node cannot give "
                f"it {self._resources()} (see `ray status`); lower num_gpus/num_cpus in the 'ray' backend's options, "
                f"or raise start_timeout_s") from None
        except (*_actor_errors(ray), ray.exceptions.ActorUnschedulableError) as exc:
            raise ServiceUnavailable(f"the node vision service {self.name!r} could not start (it asked for "
                                     f"{self._resources() or 'no reserved resources'}): {' '.join(str(exc).split())}; "
                                     f"lower num_gpus/num_cpus in the 'ray' backend's options") from None
        return actor

    def _resources(self) -> str:
        return ", ".join(f"{k}={self._options[k]}" for k in ("num_cpus", "num_gpus") if self._options.get(k))

    def call(self, method: str, *args: Any, retries: int, timeout: float | None = None) -> Any:
        """actor.method(*args), retried on a new actor when the actor dies (at most `retries` times, each logged)."""
        for attempt in range(retries + 1):
            handle = self.handle
            try:
                return self.ray.get(getattr(handle, method).remote(*args), timeout=timeout)
            except _actor_errors(self.ray) as exc:
                if attempt == retries:
                    raise ToolError(f"the node vision service {self.name!r} died during the call (retries allowed: "
                                    f"{retries}, all used): {' '.join(str(exc).split())[:300]}") from exc
                self._restart(handle, attempt + 1, retries, exc)
            except self.ray.exceptions.RayTaskError as exc:  # the wrapped backend's own error: its message
                cause = exc.cause if isinstance(getattr(exc, "cause", None), BaseException) else exc
                raise cause from None
        raise AssertionError("unreachable")

    def _restart(self, dead: Any, attempt: int, retries: int, exc: BaseException) -> None:
        with self._lock:
            if self.handle is not dead:  # another thread of this process restarted it already
                return
            log.warning("node vision service %r died during a call (%s); restarting it (retry %d of %d)", self.name,
                        type(exc).__name__, attempt, retries)
            self.restarts += 1
            self.handle = self._start()
            log.warning("node vision service %r restarted", self.name)


_SERVICES: dict[tuple, _Service] = {}
_LOCK = threading.Lock()


def _reachable(address: str | None) -> None:
    """ServiceUnavailable at once when nothing listens at a HOST:PORT address (ray.init would retry for minutes)."""
    if address in (None, "auto", "local"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except (ValueError, OSError) as exc:
        raise ServiceUnavailable(f"no Ray cluster answers at address {address!r} ({exc}); give the address "
                                 f"`ray start --head` printed (HOST:PORT), or leave it out to use the running one") from None


def node_service_name(ray: Any, prefix: str = "videostar-vision") -> str:
    """The service's name on this node for this job: every worker of the job on the node computes the same."""
    context = ray.get_runtime_context()
    return f"{prefix}-{context.get_node_id()[:16]}-job{context.get_job_id()}"


def stop_node_services(prefix: str = "videostar-vision", wait_s: float = 30.0) -> list[str]:
    """Kill this Ray job's node services, on every node (a detached actor outlives its job otherwise), waiting up to
    wait_s for each to be gone (ray.kill only asks); their names."""
    ray = _ray()
    job = ray.get_runtime_context().get_job_id()
    stopped = []
    for entry in ray.util.list_named_actors(all_namespaces=True):
        name, namespace = entry["name"], entry["namespace"]
        if name.startswith(f"{prefix}-") and name.endswith(f"-job{job}"):
            try:
                ray.kill(ray.get_actor(name, namespace=namespace))
            except ValueError:  # it died meanwhile
                continue
            stopped.append(name)
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline:  # its name is released once the actor is dead
                try:
                    ray.get_actor(name, namespace=namespace)
                except ValueError:
                    break
                time.sleep(0.1)
            else:
                log.warning("node vision service %r was killed but still answers after %g s", name, wait_s)
    with _LOCK:  # envs made later in this process start a new service instead of retrying a dead one
        for key in [k for k in _SERVICES if k[0] in stopped]:
            del _SERVICES[key]
    return stopped


class RemoteBackend:
    """A vision or objects backend whose calls run in the node's service actor; `id` is the wrapped backend's."""

    kind = ""

    def __init__(self, make: Callable[[str, Any], Any], backend: str = "yolo", options: dict[str, Any] | None = None,
                 service_name: str | None = None, namespace: str | None = None, address: str | None = None,
                 num_cpus: float = 0, num_gpus: float = 0, max_concurrency: int = 64, memory: int = 1024,
                 retries: int = 3, start_timeout_s: float = 60.0):
        """backend, options: the backend the service runs (e.g. "yolo" and its options); service_name: the actor's
        name (None: one per node and job); namespace: Ray's (None: the job's); address: the cluster to join when Ray is not started in
        this process (None: "auto"); num_cpus, num_gpus: what the actor reserves (0 CPUs: it uses the node's cores without holding one; num_gpus > 0 puts it on the node's GPU);
        max_concurrency: calls it serves at once; memory: results it keeps per clip; retries: calls retried on a
        restarted actor; start_timeout_s: how long to wait for it to start."""
        if backend not in WRAPPABLE[self.kind]:
            raise ValueError(f"the 'ray' {self.kind} backend runs one of {WRAPPABLE[self.kind]} in the node service, "
                             f"got backend={backend!r}")
        if options is not None and not isinstance(options, dict):
            raise ValueError(f"options must be the {backend!r} backend's options as a mapping, got {options!r}")
        for what, value, low in (("num_cpus", num_cpus, 0), ("num_gpus", num_gpus, 0), ("max_concurrency", max_concurrency, 1),
                                 ("memory", memory, 0), ("retries", retries, 0), ("start_timeout_s", start_timeout_s, 0)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < low:
                raise ValueError(f"{what} must be a number of at least {low}, got {value!r}")
        ray = _ray()
        if not ray.is_initialized():
            _reachable(address)
            try:
                ray.init(address=address or "auto", log_to_driver=False, namespace=namespace)
            except ConnectionError as exc:
                raise ServiceUnavailable(f"no Ray cluster to run the node vision service on ({exc}); start one with "
                                         f"`ray start --head`, or ray.init() before making the env") from None
        self.backend, self.options, self.retries, self._make = backend, dict(options or {}), int(retries), make
        name = service_name or node_service_name(ray)
        actor = {"num_cpus": num_cpus, "num_gpus": num_gpus, "max_concurrency": int(max_concurrency),
                 "scheduling_strategy": ray.util.scheduling_strategies.NodeAffinitySchedulingStrategy(
                     ray.get_runtime_context().get_node_id(), soft=False)}
        key = (name, namespace)
        with _LOCK:  # one handle per service and process, shared by every env of the process
            if key not in _SERVICES:
                _SERVICES[key] = _Service(ray, name, namespace, actor, make, int(memory), float(start_timeout_s))
            self.service = _SERVICES[key]
        self.spec = (self.kind, self.backend, self.options)
        try:
            self.id = self.service.call("open", *self.spec, retries=self.retries)
        except ToolError as exc:
            raise ServiceUnavailable(str(exc)) from None

    def check(self, dataset: Any) -> None:
        """The wrapped backend's check of the dataset, made here: only the oracles have one, and they load nothing."""
        check = getattr(self._make(self.kind, (self.backend, self.options)), "check", None) \
            if self.backend == "oracle" else None
        if check is not None:
            check(dataset)

    def prepare(self, tasks: Sequence[str]) -> None:
        """The wrapped backend's prepare, in the service: missing weights fail now, naming their option."""
        self.service.call("prepare", *self.spec, list(tasks), retries=self.retries)

    def load_models(self, tasks: Sequence[str]) -> None:
        """Load the service's model copies now (once per node: later calls find them loaded)."""
        self.service.call("load_models", *self.spec, list(tasks), retries=self.retries)

    def forget(self) -> None:
        """Drop the results the service keeps (for every worker of the node)."""
        self.service.call("forget", retries=self.retries)

    def stats(self) -> dict[str, Any]:
        """The service's counts (requests, computed, merged, kept), its models' calls and frames, pid and peak RSS."""
        return self.service.call("stats", retries=self.retries)

    def _call(self, method: str, clip: Clip, sample: VideoSample) -> Any:
        fields = {"indices": tuple(clip.indices), "fps": clip.fps, "total_frames": clip.total_frames,
                  "path": clip.path, "window": clip.window, "sampler": clip.sampler}
        reference = self.service.reference(clip.frames)
        frames = self.service.call("call", *self.spec, method, frames_digest(clip.frames), [reference], fields,
                                   sample, retries=self.retries)
        return [list(f) for f in frames]  # the caller's lists


class RemoteVision(RemoteBackend):
    """People and keypoints from the node service's vision backend."""

    kind = "vision"

    def detect(self, clip: Clip, sample: VideoSample) -> list:
        """People per sampled frame, from the service."""
        return self._call("detect", clip, sample)

    def pose(self, clip: Clip, sample: VideoSample) -> list:
        """People with COCO-17 keypoints per sampled frame, from the service."""
        return self._call("pose", clip, sample)


class RemoteObjects(RemoteBackend):
    """Labelled boxes and tracks from the node service's objects backend."""

    kind = "objects"

    def detect(self, clip: Clip, sample: VideoSample) -> list:
        """Labelled boxes per frame, from the service."""
        return self._call("detect", clip, sample)

    def track(self, clip: Clip, sample: VideoSample) -> list:
        """Labelled boxes with track ids per frame, from the service."""
        return self._call("track", clip, sample)

