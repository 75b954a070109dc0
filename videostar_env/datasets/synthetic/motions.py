"""Procedural human motions: each synthetic action is a function of time -> COCO-17 keypoints.

Coordinates are body units (standing height ~1.05), x to the image right, y up, origin on the
ground under the starting hip centre. The figure faces the camera, so the person's left side
is on the image right. A motion program sets the hip centre, the torso lean and the targets of
wrists (relative to their shoulder) and ankles (on the ground); elbows and knees follow by
two-link inverse kinematics, which keeps limb lengths constant whatever the program asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ...perception.skeleton import INDEX

UPPER_ARM, FOREARM = 0.17, 0.16
THIGH, SHIN = 0.24, 0.24
TORSO, NECK_TO_NOSE = 0.32, 0.14
HIP_HALF, SHOULDER_HALF = 0.09, 0.13
STAND = THIGH + SHIN  # hip height when standing straight
ARM_REACH = UPPER_ARM + FOREARM

SIDES = {"left": 1.0, "right": -1.0}  # sign of the image-x direction of each body side


@dataclass(frozen=True)
class Variation:
    """Per-video randomness of a motion: tempo, amplitude, phase and which side leads."""

    cycles: float
    amplitude: float
    phase: float
    lead: str  # "left" or "right": the arm/leg that does a one-sided action
    direction: float  # +1 or -1: travel direction of walk/run


@dataclass
class Pose:
    """What a motion program sets at one instant."""

    hip: np.ndarray  # hip centre (x, y)
    lean: float = 0.0  # torso bend towards the camera, 0..1 (shortens the torso on screen)
    wrist: dict[str, np.ndarray] | None = None  # relative to the shoulder of that side
    ankle: dict[str, np.ndarray] | None = None  # absolute


def _smoothstep(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3 - 2 * x)


def _rest_wrist(side: str) -> np.ndarray:
    return np.array([SIDES[side] * 0.05, -0.31])


def _arm_at(side: str, theta: float, reach: float = 0.31) -> np.ndarray:
    """Wrist target with the straight arm raised theta radians outward from hanging down."""
    return np.array([SIDES[side] * reach * np.sin(theta), -reach * np.cos(theta)])


def _feet(x: float = 0.0, spread: float = HIP_HALF) -> dict[str, np.ndarray]:
    return {s: np.array([x + SIDES[s] * spread, 0.0]) for s in SIDES}


def _wave(t: float, v: Variation) -> Pose:
    swing = np.sin(2 * np.pi * v.cycles * t + v.phase)
    wrist = {s: _rest_wrist(s) for s in SIDES}
    wrist[v.lead] = np.array([SIDES[v.lead] * (0.10 + 0.09 * v.amplitude * swing), 0.27])
    return Pose(np.array([0.0, STAND]), wrist=wrist, ankle=_feet())


def _clap(t: float, v: Variation) -> Pose:
    apart = 0.5 + 0.5 * np.cos(2 * np.pi * v.cycles * t + v.phase)
    wrist = {s: np.array([SIDES[s] * (-SHOULDER_HALF + 0.01 + 0.16 * v.amplitude * apart), -0.12]) for s in SIDES}
    return Pose(np.array([0.0, STAND]), wrist=wrist, ankle=_feet())


def _squat(t: float, v: Variation) -> Pose:
    depth = 0.5 - 0.5 * np.cos(2 * np.pi * v.cycles * t)
    hip_y = STAND - 0.20 * v.amplitude * depth
    wrist = {s: np.array([SIDES[s] * 0.03, -0.31 + 0.22 * depth]) for s in SIDES}
    return Pose(np.array([0.0, hip_y]), wrist=wrist, ankle=_feet(spread=0.12))


def _sit_progress(t: float, v: Variation) -> float:
    start = 0.15 + 0.1 * (v.phase / (2 * np.pi))
    return _smoothstep((t - start) / 0.45)


def _seated(progress: float, v: Variation) -> Pose:
    hip_y = STAND - 0.22 * v.amplitude * progress
    wrist = {s: np.array([SIDES[s] * 0.04, -0.31 + 0.10 * progress]) for s in SIDES}
    return Pose(np.array([0.0, hip_y]), lean=0.15 * progress, wrist=wrist, ankle=_feet(spread=0.11))


def _sit_down(t: float, v: Variation) -> Pose:
    return _seated(_sit_progress(t, v), v)


def _stand_up(t: float, v: Variation) -> Pose:
    return _seated(1.0 - _sit_progress(t, v), v)


def _hop(t: float, v: Variation) -> tuple[float, float]:
    """(hip lift, feet lift) of repeated jumps: a crouch, then flight."""
    s = np.sin(2 * np.pi * v.cycles * t + v.phase)
    if s >= 0:
        lift = 0.14 * v.amplitude * s
        return lift, lift
    return 0.05 * s, 0.0


def _jump(t: float, v: Variation) -> Pose:
    hip_lift, feet_lift = _hop(t, v)
    wrist = {s: _rest_wrist(s) + np.array([0.0, 0.04 * max(hip_lift, 0.0) / 0.14]) for s in SIDES}
    ankle = {s: a + np.array([0.0, feet_lift]) for s, a in _feet().items()}
    return Pose(np.array([0.0, STAND + hip_lift]), wrist=wrist, ankle=ankle)


def _jumping_jacks(t: float, v: Variation) -> Pose:
    open_ = 0.5 - 0.5 * np.cos(2 * np.pi * v.cycles * t + v.phase)
    hip_lift = 0.06 * v.amplitude * abs(np.sin(2 * np.pi * v.cycles * t + v.phase))
    wrist = {s: _arm_at(s, 0.15 + 2.6 * open_) for s in SIDES}
    ankle = {s: np.array([SIDES[s] * (HIP_HALF + 0.16 * open_), 0.8 * hip_lift]) for s in SIDES}
    return Pose(np.array([0.0, STAND + hip_lift - 0.03 * open_]), wrist=wrist, ankle=ankle)


def _punch(t: float, v: Variation) -> Pose:
    wrist = {}
    for k, s in enumerate(SIDES):
        strike = max(0.0, np.sin(2 * np.pi * v.cycles * t + v.phase + k * np.pi)) ** 2
        guard = np.array([-SIDES[s] * 0.06, 0.0])
        jab = np.array([SIDES[s] * 0.30 * v.amplitude, 0.02])
        wrist[s] = guard + strike * (jab - guard)
    return Pose(np.array([0.0, STAND - 0.02]), wrist=wrist, ankle=_feet(spread=0.13))


def _kick(t: float, v: Variation) -> Pose:
    p = max(0.0, np.sin(2 * np.pi * v.cycles * t + v.phase))
    ankle = _feet()
    ankle[v.lead] = np.array([SIDES[v.lead] * (HIP_HALF + 0.28 * v.amplitude * p), 0.30 * v.amplitude * p])
    wrist = {s: _arm_at(s, 0.35 + 0.4 * p) for s in SIDES}
    return Pose(np.array([-SIDES[v.lead] * 0.03 * p, STAND]), wrist=wrist, ankle=ankle)


def _gait(t: float, v: Variation, travel: float, stride: float, lift: float, bob: float, arm: float) -> Pose:
    phase = 2 * np.pi * v.cycles * t + v.phase
    x = v.direction * travel * (t - 0.5)
    ankle = {}
    for k, s in enumerate(SIDES):
        swing = np.sin(phase + k * np.pi)
        ankle[s] = np.array([x + SIDES[s] * 0.05 + v.direction * stride * swing, lift * max(0.0, np.cos(phase + k * np.pi))])
    wrist = {s: _rest_wrist(s) + np.array([-v.direction * arm * np.sin(phase + k * np.pi), arm * 0.5 * (1 + np.cos(phase))])
             for k, s in enumerate(SIDES)}
    hip = np.array([x, STAND - 0.03 + bob * abs(np.sin(phase))])
    return Pose(hip, wrist=wrist, ankle=ankle)


def _walk(t: float, v: Variation) -> Pose:
    return _gait(t, v, travel=0.45, stride=0.10, lift=0.02, bob=0.015, arm=0.06)


def _run(t: float, v: Variation) -> Pose:
    pose = _gait(t, v, travel=0.95, stride=0.17, lift=0.12, bob=0.06, arm=0.14)
    pose.lean = 0.12
    return pose


def _raise_arms(t: float, v: Variation) -> Pose:
    up = _smoothstep((t - 0.15 - 0.1 * v.phase / (2 * np.pi)) / 0.4)
    wrist = {s: _arm_at(s, 0.1 + 2.9 * up * v.amplitude ** 0.25, reach=0.30) for s in SIDES}
    return Pose(np.array([0.0, STAND]), wrist=wrist, ankle=_feet())


def _bow(t: float, v: Variation) -> Pose:
    bend = np.sin(np.pi * _smoothstep((t - 0.1) / 0.8)) * v.amplitude
    wrist = {s: np.array([SIDES[s] * 0.04, -0.31 + 0.05 * bend]) for s in SIDES}
    return Pose(np.array([0.0, STAND - 0.02 * bend]), lean=0.75 * bend, wrist=wrist, ankle=_feet())


def _arm_circles(t: float, v: Variation) -> Pose:
    theta = 2 * np.pi * v.cycles * t + v.phase
    wrist = {s: _arm_at(s, 1.57 + 0.9 * np.sin(theta), reach=0.30) + np.array([0.0, 0.10 * np.cos(theta)]) for s in SIDES}
    return Pose(np.array([0.0, STAND]), wrist=wrist, ankle=_feet())


MOTIONS: dict[str, Callable[[float, Variation], Pose]] = {
    "wave": _wave,
    "clap": _clap,
    "squat": _squat,
    "sit_down": _sit_down,
    "stand_up": _stand_up,
    "jump": _jump,
    "jumping_jacks": _jumping_jacks,
    "punch": _punch,
    "kick": _kick,
    "walk": _walk,
    "run": _run,
    "raise_arms": _raise_arms,
    "bow": _bow,
    "arm_circles": _arm_circles,
}


def _two_link(root: np.ndarray, target: np.ndarray, l1: float, l2: float, bend: float) -> tuple[np.ndarray, np.ndarray]:
    """Middle and end joint of a limb from root towards target; bend (+1/-1) picks the elbow side."""
    d = target - root
    dist = float(np.linalg.norm(d))
    dist_c = min(max(dist, 1e-6, abs(l1 - l2) + 1e-6), l1 + l2 - 1e-6)
    u = d / max(dist, 1e-6)
    end = root + u * dist_c
    a = (l1 * l1 - l2 * l2 + dist_c * dist_c) / (2 * dist_c)
    h = np.sqrt(max(l1 * l1 - a * a, 0.0))
    normal = np.array([-u[1], u[0]]) * bend
    return root + u * a + normal * h, end


def keypoints(pose: Pose) -> np.ndarray:
    """COCO-17 (x, y) in body units for one Pose."""
    kp = np.zeros((17, 2))
    up = np.array([0.0, TORSO * (1.0 - 0.55 * pose.lean)])
    shoulder_c = pose.hip + up
    nose = shoulder_c + np.array([0.0, NECK_TO_NOSE * (1.0 - 0.6 * pose.lean)])
    kp[INDEX["nose"]] = nose
    for side, sx in SIDES.items():
        hip = pose.hip + np.array([sx * HIP_HALF, 0.0])
        shoulder = shoulder_c + np.array([sx * SHOULDER_HALF, 0.0])
        wrist_target = shoulder + (pose.wrist or {}).get(side, _rest_wrist(side))
        ankle_target = (pose.ankle or _feet())[side]
        # Elbows bend outward and down, knees outward: the natural front-view silhouette.
        elbow, wrist = _two_link(shoulder, wrist_target, UPPER_ARM, FOREARM, bend=-sx)
        knee, ankle = _two_link(hip, ankle_target, THIGH, SHIN, bend=sx)
        kp[INDEX[f"{side}_hip"]] = hip
        kp[INDEX[f"{side}_shoulder"]] = shoulder
        kp[INDEX[f"{side}_elbow"]], kp[INDEX[f"{side}_wrist"]] = elbow, wrist
        kp[INDEX[f"{side}_knee"]], kp[INDEX[f"{side}_ankle"]] = knee, ankle
        kp[INDEX[f"{side}_eye"]] = nose + np.array([sx * 0.03, 0.025])
        kp[INDEX[f"{side}_ear"]] = nose + np.array([sx * 0.065, 0.01])
    return kp


def sample_variation(rng: np.random.Generator) -> Variation:
    """Draw the per-video randomness of a motion."""
    return Variation(
        cycles=float(rng.uniform(1.6, 2.6)),
        amplitude=float(rng.uniform(0.8, 1.15)),
        phase=float(rng.uniform(0, 2 * np.pi)),
        lead=str(rng.choice(["left", "right"])),
        direction=float(rng.choice([-1.0, 1.0])),
    )


def trajectory(action: str, variation: Variation, num_frames: int) -> np.ndarray:
    """(num_frames, 17, 2) keypoints in body units for one action."""
    program = MOTIONS[action]
    ts = np.linspace(0.0, 1.0, num_frames)
    return np.stack([keypoints(program(float(t), variation)) for t in ts])
