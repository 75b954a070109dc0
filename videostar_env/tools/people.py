"""The four built-in tools of the paper's tool library. Each is thin: arguments -> backend -> message."""

from __future__ import annotations

import json
from typing import Any, Callable

from ..errors import ToolError
from ..perception.detections import main_track, salient_keyframes, spread
from ..perception.kinematics import analyze
from ..perception.overlay import draw_boxes, draw_skeletons
from .base import ToolContext, ToolResult

_MAX_IMAGES = {"type": "integer", "minimum": 0, "maximum": 8, "default": 4,
               "description": "How many annotated frames to return as images."}
_MIN_CONF = {"type": "number", "minimum": 0.0, "maximum": 1.0, "default": 0.25,
             "description": "Ignore people detected with a lower confidence."}


def _filter(frames, min_confidence):
    return [[d for d in dets if d.score >= min_confidence] for dets in frames]


class HumanDetection:
    """Boxes around every person in each sampled frame, drawn on the frames."""

    name = "human_detection"
    description = "Detect the people in the video: bounding boxes per sampled frame, drawn on the frames."
    parameters = {"type": "object", "properties": {"min_confidence": _MIN_CONF, "max_images": _MAX_IMAGES},
                  "additionalProperties": False}
    uses = ("video", "vision")  # what the result depends on (the tool cache keys on it)
    vision_tasks = ("detect",)  # the vision models it needs loaded (a missing one fails when the env is made)
    version = "1"  # bump when the output for the same inputs changes

    def __call__(self, ctx: ToolContext, min_confidence: float = 0.25, max_images: int = 4) -> ToolResult:
        frames = _filter(ctx.backends.vision.detect(ctx.clip, ctx.sample), min_confidence)
        counts = [len(d) for d in frames]
        shown = spread(len(frames), max_images)
        images = [draw_boxes(ctx.clip.frames[i], frames[i]) for i in shown]
        lines = [f"People per sampled frame: {counts} (max {max(counts, default=0)})."]
        for i in shown:
            boxes = "; ".join("[" + ", ".join(f"{v:.0f}" for v in d.box) + f"] {d.score:.2f}" for d in frames[i])
            lines.append(f"Frame {ctx.clip.indices[i]} ({ctx.clip.timestamps[i]:.1f}s): {boxes or 'nobody'}")
        if images:
            lines.append(f"{len(images)} frame(s) with boxes attached.")
        data = {"counts": counts, "frames": [[d.to_json() for d in dets] for dets in frames]}
        return ToolResult("\n".join(lines), images, data)


class PoseEstimation:
    """17 COCO keypoints per person, skeleton overlays, and a kinematic summary of the main person."""

    name = "pose_estimation"
    description = ("Estimate body pose: 17 keypoints per person, skeletons drawn on the frames of largest motion, "
                   "and a summary of which joints move, joint-angle ranges and body-centre motion.")
    parameters = {"type": "object", "properties": {"min_confidence": _MIN_CONF, "max_images": _MAX_IMAGES},
                  "additionalProperties": False}
    uses = ("video", "vision")
    vision_tasks = ("pose",)
    version = "1"

    def __call__(self, ctx: ToolContext, min_confidence: float = 0.25, max_images: int = 4) -> ToolResult:
        frames = _filter(ctx.backends.vision.pose(ctx.clip, ctx.sample), min_confidence)
        track = main_track(frames)
        if track is None:
            raise ToolError("no person with keypoints was found; try a lower min_confidence or human_detection.")
        kin = analyze(track)
        keyframes = sorted(kin.peak_frames)[:max_images]
        extra = [i for i in spread(len(frames), max_images) if i not in keyframes]
        shown = sorted(keyframes + extra[: max(max_images - len(keyframes), 0)])
        images = [draw_skeletons(ctx.clip.frames[i], frames[i]) for i in shown]
        text = kin.summary(ctx.clip.indices)
        if images:
            text += f"\n{len(images)} frame(s) with skeletons attached (frames {[ctx.clip.indices[i] for i in shown]})."
        data: dict[str, Any] = {
            "features": kin.features, "joint_motion": kin.joint_motion,
            "angle_ranges": {k: list(v) for k, v in kin.angle_ranges.items()},
            "peak_frames": [ctx.clip.indices[i] for i in kin.peak_frames],
            "keypoints": [[d.to_json() for d in dets] for dets in frames],
        }
        return ToolResult(text, images, data)


class ActionExplanation:
    """Each candidate label redefined through its transitional phases and sub-motions."""

    name = "action_explanation"
    description = ("Explain candidate actions: for each label, its definition through transitional phases and "
                   "ordered sub-motions. Without 'labels', explains every candidate.")
    parameters = {"type": "object", "properties": {
        "labels": {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1, "maxItems": 64,
                   "description": "Labels to explain (default: all candidates)."}},
        "additionalProperties": False}
    uses = ("explanation", "knowledge")
    version = "2"  # 2: labels without an explanation are listed under "missing"; none explained is an error

    def __call__(self, ctx: ToolContext, labels: list[str] | None = None) -> ToolResult:
        labels = list(dict.fromkeys(labels or ctx.candidates))
        found = ctx.backends.explanation.explain(labels, ctx.knowledge)
        missing = [label for label in labels if not found.get(label)]
        if len(missing) == len(labels):
            raise ToolError(f"no explanation is available for {', '.join(missing)} from the "
                            f"{ctx.backends.explanation.id} backend; try other labels, or answer without it.")
        explanations = {label: found.get(label) or f"{label}: no explanation is available for this label."
                        for label in labels}
        # Structured knowledge for programs (scripted agents), where the knowledge base has it.
        signatures, submotions = {}, {}
        for label in labels:
            entry = ctx.knowledge.get(label)
            if entry is not None:
                signatures[label] = {k: list(v) for k, v in entry.signature.items()}
                submotions[label] = [list(s) for s in entry.submotions]
        text = "\n".join(explanations[label] for label in labels)
        return ToolResult(text, [], {"explanations": explanations, "missing": missing, "signatures": signatures,
                                     "submotions": submotions})

    def shorten(self, data: dict[str, Any], fits: Callable[[str], bool]) -> str | None:
        """The explanations of as many labels as fit, in the order asked, naming the rest; None if not even one fits."""
        explanations = list(data["explanations"].items())
        low, high = 0, len(explanations) - 1  # the most labels known to fit / that may fit
        while low < high:  # each label shown adds far more text than naming it as left out takes
            mid = (low + high + 1) // 2
            low, high = (mid, high) if fits(_shortened(explanations, mid)) else (low, mid - 1)
        return _shortened(explanations, low) if low else None  # every low above 0 was checked to fit


def _shortened(explanations: list[tuple[str, str]], shown: int) -> str:
    """The first `shown` explanations, then which labels were left out and how to ask for them."""
    rest = json.dumps([label for label, _ in explanations[shown:]], ensure_ascii=False)  # labels may hold commas
    return ("\n".join(text for _, text in explanations[:shown])
            + f"\n[Shortened to fit your token budget: {shown} of {len(explanations)} labels explained. Left out: "
            f'{rest}. To read some of them, call action_explanation again with "labels": [...] naming only those '
            "you need.]")


class VideoDescription:
    """A description of the movement in the salient keyframes (frames of largest joint displacement)."""

    name = "video_description"
    description = "Describe the video: body movements, their order and the scene, from its most salient keyframes."
    parameters = {"type": "object", "properties": {
        "num_keyframes": {"type": "integer", "minimum": 1, "maximum": 8, "default": 3,
                          "description": "How many keyframes to describe."}},
        "additionalProperties": False}
    uses = ("video", "vision", "description")
    vision_tasks = ("pose",)
    version = "1"

    def __call__(self, ctx: ToolContext, num_keyframes: int = 3) -> ToolResult:
        try:  # the keyframes are the frames of largest joint displacement, as in the paper
            poses, pose_error = ctx.backends.vision.pose(ctx.clip, ctx.sample), None
        except ToolError as exc:
            poses, pose_error = None, exc
        keyframes = salient_keyframes(len(ctx.clip.frames), poses, num_keyframes)
        try:
            desc = ctx.backends.description.describe(ctx.clip, ctx.sample, keyframes, poses)
        except ToolError as exc:
            raise ToolError(f"{exc} (pose estimation: {pose_error})" if pose_error else str(exc)) from exc
        return ToolResult(desc.text, [], {"keyframes": [ctx.clip.indices[k] for k in desc.keyframes],
                                          "description": desc.text})


PEOPLE_TOOLS = (HumanDetection, PoseEstimation, ActionExplanation, VideoDescription)
