"""FeatureObservation: what an episode has revealed so far, as a fixed-size vector with a mask of the unknown."""

from __future__ import annotations

import re
import zlib
from typing import Any, Callable

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from ..perception.kinematics import LIMB_JOINTS

# The pose tool's kinematic features (perception.kinematics.analyze), in a fixed order.
POSE_FEATURES = ("centre_vertical_range", "centre_vertical_trend", "centre_horizontal_travel", "wrist_motion",
                 "arm_asymmetry", "ankle_motion", "leg_asymmetry", "hands_above_head", "hands_above_head_end",
                 "wrist_distance_min", "wrist_distance_max", "ankle_spread_range", "knee_angle_range",
                 "elbow_angle_range", "torso_shortening")
ANGLE_FEATURES = ("knee_angle_range", "elbow_angle_range")  # degrees: scaled to about 0..2 like the others
DETECTION_FEATURES = ("mean_people", "max_people", "frames_with_people")
BOUND = 10.0  # every feature is scaled to about -2..2; clipping keeps an outlier inside the space
# What each built-in tool reveals; "known:<group>" is 1 once a call of it succeeded.
GROUPS = {"pose_estimation": "pose", "human_detection": "detection", "video_description": "description",
          "action_explanation": "explanation"}


def hashed_embedding(text: str, dim: int = 16) -> np.ndarray:
    """A bag-of-words embedding by feature hashing (no model needed): signed counts in dim buckets, unit length."""
    vector = np.zeros(dim, np.float32)
    for word in re.findall(r"[a-z]+", text.lower()):
        h = zlib.crc32(word.encode())
        vector[h % dim] += 1.0 if (h >> 16) & 1 else -1.0
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector


def motion_grid(frames: np.ndarray, cells: int = 4) -> np.ndarray:
    """Mean absolute change between consecutive grey frames in a cells x cells grid, as a fraction of 255."""
    grey = frames.astype(np.float32).mean(axis=-1)
    change = np.abs(np.diff(grey, axis=0)).mean(axis=0)
    h, w = change.shape
    cropped = change[: h - h % cells, : w - w % cells]
    return cropped.reshape(cells, h // cells, cells, w // cells).mean(axis=(1, 3)).ravel() / 255.0


class FeatureObservation(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """The observation becomes a float32 vector; `feature_names` names each entry.

    Entries: the turn (fraction of max_turns); called:<tool> for each tool; known:<group> masks
    (pose, detection, description, explanation); the pose kinematics and per-joint motion;
    detection counts; embeddings of the video description and the action explanations; and a
    motion-energy grid of the frames, known from the start. What is still unknown is 0, with its
    mask 0. `embed` turns text into a vector of `embed_dim` (default: hashed bag of words; pass
    a local sentence-embedding model's encode function to use one).
    """

    def __init__(self, env: gym.Env, embed: Callable[[str], np.ndarray] | None = None, embed_dim: int = 16,
                 grid: int = 4):
        gym.utils.RecordConstructorArgs.__init__(self, embed=embed, embed_dim=embed_dim, grid=grid)
        gym.Wrapper.__init__(self, env)
        self.tool_names: tuple[str, ...] = tuple(env.unwrapped.toolbox.tools)
        self.embed_dim = embed_dim
        self.embed = embed or (lambda text: hashed_embedding(text, embed_dim))
        self.grid = grid
        self.feature_names: tuple[str, ...] = (
            ("turn",) + tuple(f"called:{t}" for t in self.tool_names)
            + tuple(f"known:{g}" for g in GROUPS.values()) + tuple(f"pose:{f}" for f in POSE_FEATURES)
            + tuple(f"pose:motion:{j}" for j in LIMB_JOINTS) + tuple(f"detection:{f}" for f in DETECTION_FEATURES)
            + tuple(f"description:{i}" for i in range(embed_dim)) + tuple(f"explanation:{i}" for i in range(embed_dim))
            + tuple(f"motion:{i}" for i in range(grid * grid)))
        self._index = {name: i for i, name in enumerate(self.feature_names)}
        self.observation_space = spaces.Box(-BOUND, BOUND, (len(self.feature_names),), np.float32)
        self._motion = np.zeros(grid * grid, np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        """Reset the env; the frames' motion grid is computed once per episode."""
        obs, info = self.env.reset(seed=seed, options=options)
        self._motion = motion_grid(obs["frames"], self.grid).astype(np.float32)
        return self.features(info), info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Step the env and describe the episode so far."""
        _, reward, terminated, truncated, info = self.env.step(action)
        return self.features(info), reward, terminated, truncated, info

    def features(self, info: dict[str, Any]) -> np.ndarray:
        """The feature vector for an episode's info (its turn and tool results so far)."""
        vector = np.zeros(len(self.feature_names), np.float32)
        vector[self._index["turn"]] = info["turn"] / info["max_turns"]
        for result in info["tool_results"]:
            if result["name"] in self.tool_names:
                vector[self._index[f"called:{result['name']}"]] = 1.0
            if result["ok"] and result["name"] in GROUPS:
                vector[self._index[f"known:{GROUPS[result['name']]}"]] = 1.0
                self._fill(vector, result["name"], result)
        start = self._index["motion:0"]
        vector[start:start + self.grid * self.grid] = self._motion
        return np.clip(vector, -BOUND, BOUND)

    def _fill(self, vector: np.ndarray, name: str, result: dict[str, Any]) -> None:
        data = result["data"]
        if name == "pose_estimation":
            for feature in POSE_FEATURES:
                value = float(data.get("features", {}).get(feature, 0.0))
                vector[self._index[f"pose:{feature}"]] = value / 90.0 if feature in ANGLE_FEATURES else value
            for joint in LIMB_JOINTS:
                vector[self._index[f"pose:motion:{joint}"]] = float(data.get("joint_motion", {}).get(joint, 0.0))
        elif name == "human_detection":
            counts = np.asarray(data.get("counts", []), np.float32)
            if counts.size:
                values = (counts.mean(), counts.max(), (counts > 0).mean())
                for feature, value in zip(DETECTION_FEATURES, values):
                    vector[self._index[f"detection:{feature}"]] = float(value)
        else:
            group = GROUPS[name]
            start = self._index[f"{group}:0"]
            vector[start:start + self.embed_dim] = np.asarray(self.embed(result["text"]), np.float32)[: self.embed_dim]
