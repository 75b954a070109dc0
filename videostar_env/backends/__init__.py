"""Model backends the tools use, chosen by name: vision, explanation and description."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .base import DescriptionBackend, Detection, ExplanationBackend, VisionBackend, main_track
from .kinematic import KinematicDescriber
from .knowledge import KnowledgeExplainer
from .oracle import OracleVision
from .qwen import ChatDescriber, ChatExplainer, dashscope_describer, dashscope_explainer, openai_describer, openai_explainer
from .replay import ReplayDescriber, ReplayExplainer
from .yolo import YOLOVision

# kind -> name -> factory(**options); gym.make(..., explanation=("openai", {"base_url": ...})) picks one.
BACKENDS: dict[str, dict[str, Callable[..., Any]]] = {
    "vision": {"oracle": OracleVision, "yolo": YOLOVision},
    "explanation": {"knowledge": KnowledgeExplainer, "replay": ReplayExplainer, "dashscope": dashscope_explainer,
                    "openai": openai_explainer},
    "description": {"kinematic": KinematicDescriber, "replay": ReplayDescriber, "dashscope": dashscope_describer,
                    "openai": openai_describer},
}


@dataclass(frozen=True)
class Backends:
    """The backends of one environment."""

    vision: VisionBackend
    explanation: ExplanationBackend
    description: DescriptionBackend


def make_backend(kind: str, spec: Any) -> Any:
    """A backend from a name, a (name, options) pair, or an object passed through."""
    if not isinstance(spec, (str, tuple)):
        return spec
    name, options = (spec, {}) if isinstance(spec, str) else spec
    if name not in BACKENDS[kind]:
        raise KeyError(f"unknown {kind} backend {name!r}; available: {sorted(BACKENDS[kind])}")
    return BACKENDS[kind][name](**options)


def make_backends(vision: Any = "oracle", explanation: Any = "knowledge", description: Any = "kinematic") -> Backends:
    """Backends by name (or objects), defaulting to the offline ones."""
    return Backends(make_backend("vision", vision), make_backend("explanation", explanation),
                    make_backend("description", description))


__all__ = ["BACKENDS", "Backends", "ChatDescriber", "ChatExplainer", "DescriptionBackend", "Detection", "ExplanationBackend", "KinematicDescriber",
           "KnowledgeExplainer", "OracleVision", "ReplayDescriber", "ReplayExplainer", "VisionBackend", "YOLOVision", "main_track", "make_backend", "make_backends"]
