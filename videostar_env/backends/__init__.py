"""Model backends the tools use, chosen by name: vision, explanation, description and objects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from ..registry import Registry
from .base import Description, DescriptionBackend, ExplanationBackend, VisionBackend
from .kinematic import KinematicDescriber
from .knowledge import KnowledgeExplainer
from .objects import ObjectsBackend, OracleObjects
from .oracle import OracleVision
from .chat import ChatDescriber, ChatExplainer, dashscope_describer, dashscope_explainer, openai_describer, openai_explainer
from .remote import RemoteObjects, RemoteVision
from .replay import ReplayDescriber, ReplayExplainer
from .yolo import YOLOVision
from .yolo_objects import YOLOObjects

# One registry per kind; gym.make(..., explanation=("openai", {"base_url": ...})) picks one. Other packages add
# backends with entry points in the groups "videostar_env.backends.vision" (".explanation", ".description").
KINDS = ("vision", "explanation", "description", "objects")
BACKENDS: dict[str, Registry[Any]] = {kind: Registry(f"{kind} backend", f"videostar_env.backends.{kind}")
                                      for kind in KINDS}
for _kind, _factories in {
    "vision": {"oracle": OracleVision, "yolo": YOLOVision},
    "explanation": {"knowledge": KnowledgeExplainer, "replay": ReplayExplainer, "dashscope": dashscope_explainer,
                    "openai": openai_explainer},
    "description": {"kinematic": KinematicDescriber, "replay": ReplayDescriber, "dashscope": dashscope_describer,
                    "openai": openai_describer},
    "objects": {"oracle": OracleObjects, "yolo": YOLOObjects},
}.items():
    for _name, _factory in _factories.items():
        BACKENDS[_kind].register(_name, _factory)


@dataclass(frozen=True)
class Backends:
    """The backends of one environment."""

    vision: VisionBackend
    explanation: ExplanationBackend
    description: DescriptionBackend
    objects: ObjectsBackend = field(default_factory=OracleObjects)


def make_backend(kind: str, spec: Any) -> Any:
    """A backend from a name, a (name, options) pair (a list from YAML or JSON too), or an object passed through."""
    if isinstance(spec, str):
        return BACKENDS[kind].make(spec)
    if not isinstance(spec, (tuple, list)):
        return spec
    if len(spec) != 2 or not isinstance(spec[0], str) or not isinstance(spec[1], Mapping):
        raise ValueError(f"{kind} backend must be a name or a [name, {{options}}] pair, got {spec!r}")
    return BACKENDS[kind].make(spec[0], **spec[1])


# The node service (backends/remote.py) makes the backend it wraps with make_backend, by name, in its own process.
BACKENDS["vision"].register("ray", partial(RemoteVision, make_backend))
BACKENDS["objects"].register("ray", partial(RemoteObjects, make_backend))


def make_backends(vision: Any = "oracle", explanation: Any = "knowledge", description: Any = "kinematic",
                  objects: Any = "oracle") -> Backends:
    """Backends by name (or objects), defaulting to the offline ones."""
    return Backends(make_backend("vision", vision), make_backend("explanation", explanation),
                    make_backend("description", description), make_backend("objects", objects))


__all__ = ["BACKENDS", "Backends", "KINDS", "ChatDescriber", "ChatExplainer", "Description", "DescriptionBackend", "ExplanationBackend", "KinematicDescriber",
           "KnowledgeExplainer", "ObjectsBackend", "OracleObjects", "OracleVision", "ReplayDescriber", "ReplayExplainer", "VisionBackend", "YOLOObjects", "YOLOVision", "make_backend", "make_backends"]
