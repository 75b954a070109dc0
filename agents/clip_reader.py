"""A scripted agent that looks again at the video with the `video_clip` tool where the prompt's frames are too few.

The heuristic agent's evidence is the pose tool's keypoints in the prompt's sampled frames. With few
frames (`num_frames=2`) the ranges and trends it matches are read from two instants, and actions
that differ in how far, how often or how fast the body moves (run and walk, squat and sit down, a
bow, a kick) look alike. This agent asks for a dense clip of the episode's window (every source
frame, at most MAX_CLIP_FRAMES) and follows each keypoint the pose tool gave in the prompt frames
through the clip's frames, by matching its pixel neighbourhood from one clip frame to the next;
the kinematic features of those tracks replace the ones two frames could only guess, and are
matched to the action definitions' signatures as the heuristic agent matches its own. Without the
tool (an env made without `video_clip`) it answers from the prompt frames' keypoints alone, as the
heuristic agent does.

It reads only the observation's frames, the tool replies, the candidates and the timestamps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from videostar_env import answer, tool_call, tool_decisions
from videostar_env.perception.kinematics import analyze, observed_submotions
from videostar_env.perception.skeleton import INDEX
from videostar_env.tools.clip import MAX_CLIP_FRAMES
from videostar_env.video.decode import window_span

from .scripted import _episode_rng, _tool_names, signature_match

HALF = 5  # half side, in pixels of the episode's frames, of the neighbourhood matched from frame to frame
RADIUS = 9  # farthest a tracked point may move between two clip frames, in pixels


def clip_request(info: dict[str, Any], limit: int = MAX_CLIP_FRAMES) -> dict[str, Any]:
    """video_clip arguments for every source frame of the episode's window (at most `limit`, spread evenly)."""
    low, high = info["window"] or (0.0, info["total_frames"] / info["fps"])
    start, end = math.ceil(low * 1000) / 1000, math.floor(high * 1000) / 1000  # rounded inwards: inside the window
    first, last = window_span(info["total_frames"], info["fps"], (start, end))  # the source frames the tool reads
    return {"start": start, "end": end, "frames": min(limit, last - first + 1)}


def returned_clip(info: dict[str, Any]) -> tuple[np.ndarray, list[float]] | None:
    """The frames and timestamps of the last clip the video_clip tool returned, or None."""
    for message in reversed(info["messages"]):
        if message["role"] == "tool" and message.get("name") == "video_clip":
            videos = [part for part in message["content"] if part["type"] == "video"]
            if videos:
                return np.asarray(videos[-1]["video"]), [float(t) for t in videos[-1]["timestamps"]]
    return None


def main_keypoints(pose: dict[str, Any]) -> list[np.ndarray | None]:
    """(17, 3) keypoints of the largest person in each prompt frame the pose tool saw, None where nobody."""
    picked = []
    for people in pose.get("keypoints", []):
        people = [p for p in people if p.get("keypoints")]
        best = max(people, key=lambda p: (p["box"][2] - p["box"][0]) * (p["box"][3] - p["box"][1]), default=None)
        picked.append(None if best is None else np.asarray(best["keypoints"], dtype=np.float64))
    return picked


REACH = HALF + RADIUS  # the border every frame is padded with, so that any window near a point is inside it


def padded(frames: np.ndarray) -> np.ndarray:
    """Frames as float32, their edges repeated REACH pixels outwards (a point near the border keeps a whole window)."""
    return np.pad(np.asarray(frames, np.float32), ((0, 0), (REACH, REACH), (REACH, REACH), (0, 0)), mode="edge")


def _cell(frame: np.ndarray, point: np.ndarray) -> tuple[int, int]:
    """The padded frame's row and column of a point of the unpadded one, clamped inside the frame."""
    x, y = (round(float(v)) for v in point)
    height, width = frame.shape[0] - 2 * REACH, frame.shape[1] - 2 * REACH
    return min(max(y, 0), height - 1) + REACH, min(max(x, 0), width - 1) + REACH


def patch(frame: np.ndarray, point: np.ndarray) -> np.ndarray:
    """The (2*HALF+1)-pixel square of a padded frame around a point."""
    y, x = _cell(frame, point)
    return frame[y - HALF:y + HALF + 1, x - HALF:x + HALF + 1]


def _match(frame: np.ndarray, around: np.ndarray, templates: Sequence[np.ndarray]) -> np.ndarray:
    """The position within RADIUS of `around` whose neighbourhood best correlates (normalised) with the templates."""
    y, x = _cell(frame, around)
    region = frame[y - REACH:y + REACH + 1, x - REACH:x + REACH + 1]
    side = 2 * HALF + 1
    windows = sliding_window_view(region, (side, side, 3))[:, :, 0].reshape(2 * RADIUS + 1, 2 * RADIUS + 1, -1)
    windows = windows - windows.mean(axis=-1, keepdims=True)
    norms = np.linalg.norm(windows, axis=-1) + 1e-6
    score = np.zeros(windows.shape[:2], np.float32)
    for template in templates:
        t = template.ravel() - template.mean()
        score += (windows @ (t / (np.linalg.norm(t) + 1e-6))) / norms
    dy, dx = np.unravel_index(int(np.argmax(score)), score.shape)
    return np.array([x - REACH + dx - RADIUS, y - REACH + dy - RADIUS], dtype=np.float64)


def track(clip: np.ndarray, anchors: dict[int, tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """(T, 2) positions of one point in every clip frame (padded); anchors: clip frame -> (position, template).

    Each clip frame follows the point from its nearest anchor, frame by frame, matching the anchor's
    neighbourhood and the previous frame's (the first keeps the point, the second follows its change
    of shape), so no track drifts further than half the gap between two anchors.
    """
    out = np.zeros((len(clip), 2))
    starts = sorted(anchors)
    owner = [min(starts, key=lambda a: (abs(a - j), a)) for j in range(len(clip))]
    for a in starts:
        point, template = anchors[a]
        out[a] = point
        for step in (1, -1):
            position, previous = point, template
            j = a + step
            while 0 <= j < len(clip) and owner[j] == a:
                position = _match(clip[j], position, (template, previous))
                previous = patch(clip[j], position)
                out[j] = position
                j += step
    return out


def dense_features(frames: np.ndarray, times: Sequence[float], keypoints: Sequence[np.ndarray | None],
                   clip: np.ndarray, clip_times: Sequence[float]) -> dict[str, float]:
    """The pose tool's features, measured on keypoints followed through every clip frame from the prompt frames'."""
    anchors: list[dict[int, tuple[np.ndarray, np.ndarray]]] = [{} for _ in INDEX]
    for frame, t, kp in zip(padded(frames), times, keypoints):
        if kp is None:
            continue
        j = int(np.argmin(np.abs(np.asarray(clip_times) - t)))
        for k, point in enumerate(kp[:, :2]):
            anchors[k][j] = (point, patch(frame, point))
    if not anchors[0] or len(clip) < 2:
        return {}
    clip = padded(clip)
    tracks = np.stack([track(clip, a) for a in anchors], axis=1)  # (T, 17, 2)
    return analyze(tracks).features


class ClipReaderAgent:
    """Pose estimation and action explanation, then a dense video_clip whose frames decide the body's movement."""

    name = "clip-reader"
    TOOLS = ("pose_estimation", "action_explanation")
    meaningful_on = ("synthetic",)  # it matches the synthetic classes' signatures, as the heuristic agent does

    def __init__(self, seed: int = 0, clip_frames: int = MAX_CLIP_FRAMES):
        self.seed = seed
        self.clip_frames = clip_frames

    def reset(self, seed: int | None = None) -> None:
        """Nothing to forget: the plan follows from info["tool_results"]."""

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        """Next tool to call (pose, explanation, then the clip where offered), or the answer."""
        offered = _tool_names(info)
        called = {r["name"] for r in info["tool_results"]}
        available = [t for t in self.TOOLS if t in offered]
        if info["action_format"] == "videostar":  # its yes/no tool turn carries no arguments: no clip there
            if info["turn"] == 0 and available:
                return tool_decisions(available, "Joint movements and the action definitions will separate the actions.")
            return self._answer(observation, info)
        for name in available:
            if name not in called:
                return tool_call(name)
        if "video_clip" in offered and "video_clip" not in called:
            return tool_call("video_clip", **clip_request(info, self.clip_frames))
        return self._answer(observation, info)

    def evidence(self, observation: dict[str, Any], info: dict[str, Any]) -> dict[str, float]:
        """The kinematic features the answer matches: the keypoints' tracked through the clip, else the pose tool's."""
        ok = {r["name"]: r["data"] for r in info["tool_results"] if r["ok"]}
        pose = ok.get("pose_estimation", {})
        features = dict(pose.get("features", {}))
        clip = returned_clip(info) if pose else None
        if clip is not None:
            features.update(dense_features(observation["frames"], info["timestamps"], main_keypoints(pose), *clip))
        return features

    def _answer(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        ok = {r["name"]: r["data"] for r in info["tool_results"] if r["ok"]}
        knowledge = ok.get("action_explanation", {})
        features, signatures = self.evidence(observation, info), knowledge.get("signatures", {})
        candidates = info["candidates"]
        if features and any(signatures.get(c) for c in candidates):
            scores = {c: signature_match(features, signatures.get(c, {})) for c in candidates}
        else:  # no usable evidence: a reproducible guess
            rng = _episode_rng(self.seed, info)
            scores = {c: float(v) for c, v in zip(candidates, rng.random(len(candidates)))}
        ranked = sorted(candidates, key=lambda c: -scores[c])[:3]
        reasons = [(c, scores[c], "kinematic signature fit") for c in ranked]
        pose = ok.get("pose_estimation", {})
        return answer(ranked[0], observed_submotions(pose, knowledge.get("submotions", {}).get(ranked[0], [])), reasons)
