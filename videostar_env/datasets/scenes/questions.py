"""Spatio-temporal questions about a synthetic scene, with answers computed exactly from its ground truth.

Ten types, after Video-STR's STV-205k (arXiv 2510.10976) and VSI-Bench: counting, relative
direction, relative distance, absolute distance, object size, displacement, path length, speed,
appearance order and trajectory direction. Multiple-choice questions have lettered options with
rule-made distractors; numeric ones a number in the stated unit; counting an integer. Each
question names its keyframes (the frames its answer is read from) and the objects it is about.

The geometry helpers (closest, direction_of, ...) work on plain positions, so the task can
also answer a question from a model's own relation graph (its consistency term).
Positions are ground-plane coordinates in metres: x to the right of the first camera view, y
away from it (see data/scenes.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Sequence

import numpy as np

from ...knowledge import KnowledgeBase
from ..sample import VideoSample
from .config import SceneConfig
from .dataset import SceneDataset

LETTERS = "ABCD"
TYPES = ("counting", "relative_direction", "relative_distance", "absolute_distance", "object_size",
         "displacement", "path_length", "speed", "appearance_order", "trajectory_direction")
KINDS = {"counting": "count", "relative_direction": "choice", "relative_distance": "choice",
         "absolute_distance": "number", "object_size": "number", "displacement": "number", "path_length": "number",
         "speed": "number", "appearance_order": "choice", "trajectory_direction": "choice"}
DIRECTIONS = ("front-left", "front-right", "back-left", "back-right")
MOTIONS = ("left", "right", "towards the camera", "away from the camera")
MARGIN_DEG = 15.0  # a direction question is asked only when the object is this far from every boundary
DISTANCE_MARGIN = 0.15  # the closest object is at least 15% closer than the next one
MIN_TRAVEL = 0.3  # metres an object must move for motion questions about it
APPEARANCE_GAP = 4  # frames between first appearances: more than the stride of 16 frames sampled from 32-64


@dataclass(frozen=True)
class Question:
    """One question about one scene, with its exact answer."""

    type: str
    text: str
    answer: Any  # a letter (choice), a float (number) or an int (count)
    options: dict[str, str] = field(default_factory=dict)  # letter -> text; empty unless kind == "choice"
    keyframes: tuple[int, ...] = ()  # frames the answer is read from
    objects: tuple[int, ...] = ()  # object indices the question is about
    unit: str = ""  # of a numeric answer
    names: tuple[str, ...] = ()  # the labels of `objects`
    times: tuple[float, ...] = ()  # seconds of `keyframes`

    @property
    def kind(self) -> str:
        """"choice", "number" or "count"."""
        return KINDS[self.type]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (sample meta, info, results rows)."""
        return {"type": self.type, "kind": self.kind, "text": self.text, "answer": self.answer,
                "options": dict(self.options), "keyframes": list(self.keyframes), "objects": list(self.objects),
                "unit": self.unit, "names": list(self.names), "times": list(self.times)}


# -- geometry on plain positions (metres on the ground plane) ------------------------------------

def direction_of(observer: Sequence[float], facing: Sequence[float], target: Sequence[float]) -> tuple[str, float]:
    """Where target lies for someone at observer facing `facing`: one of DIRECTIONS, and its angle in degrees.

    The angle is measured from the facing direction, positive to the left (counter-clockwise).
    """
    fx, fy = facing[0] - observer[0], facing[1] - observer[1]
    tx, ty = target[0] - observer[0], target[1] - observer[1]
    angle = math.degrees(math.atan2(fx * ty - fy * tx, fx * tx + fy * ty))
    side = "left" if angle > 0 else "right"
    return ("front-" if abs(angle) < 90 else "back-") + side, angle


def closest(positions: Mapping[Any, Sequence[float]], to: Any) -> tuple[Any, float]:
    """The key of the position nearest to positions[to], and how much nearer it is than the runner-up (ratio)."""
    origin = np.asarray(positions[to], float)
    ranked = sorted((float(np.linalg.norm(np.asarray(p, float) - origin)), k) for k, p in positions.items() if k != to)
    if len(ranked) < 2:
        return (ranked[0][1], 1.0) if ranked else (None, 0.0)
    return ranked[0][1], 1.0 - ranked[0][0] / max(ranked[1][0], 1e-9)


def distance(a: Sequence[float], b: Sequence[float]) -> float:
    """Euclidean distance between two positions."""
    return float(np.linalg.norm(np.asarray(a, float) - np.asarray(b, float)))


def path_length(track: Sequence[Sequence[float]]) -> float:
    """Summed distance between consecutive positions."""
    points = np.asarray(track, float)
    return float(np.linalg.norm(np.diff(points, axis=0), axis=-1).sum()) if len(points) > 1 else 0.0


def motion_direction(start: Sequence[float], end: Sequence[float], camera_yaw: float = 0.0) -> tuple[str, float]:
    """The dominant direction of start -> end as seen by a camera looking along +y rotated by yaw (one of MOTIONS).

    Also returns how dominant it is: the larger axis over the smaller (inf when the smaller is 0).
    """
    dx, dy = end[0] - start[0], end[1] - start[1]
    c, s = math.cos(-camera_yaw), math.sin(-camera_yaw)
    right, away = c * dx - s * dy, s * dx + c * dy
    if abs(right) >= abs(away):
        return ("right" if right > 0 else "left"), abs(right) / max(abs(away), 1e-9)
    return ("away from the camera" if away > 0 else "towards the camera"), abs(away) / max(abs(right), 1e-9)


# -- the generator ------------------------------------------------------------------------------

def _choice(rng: np.random.Generator, correct: str, distractors: Sequence[str], count: int = 4) -> tuple[dict, str]:
    options = [correct, *rng.permutation(list(dict.fromkeys(d for d in distractors if d != correct)))[:count - 1]]
    order = rng.permutation(len(options))
    lettered = {LETTERS[k]: str(options[i]) for k, i in enumerate(order)}
    return lettered, next(letter for letter, text in lettered.items() if text == correct)


def _options_text(options: Mapping[str, str]) -> str:
    return "\n".join(f"{letter}. {text}" for letter, text in options.items())


class QuestionWriter:
    """Questions about one scene's ground truth (positions (T, N, 3), visible (T, N), labels, sizes, fps, yaw)."""

    def __init__(self, labels: Sequence[str], positions: np.ndarray, visible: np.ndarray, sizes: np.ndarray,
                 fps: float, camera_yaw: np.ndarray | None = None):
        self.labels = list(labels)
        self.positions = np.asarray(positions, float)[..., :2]
        self.visible = np.asarray(visible, bool)
        self.sizes = np.asarray(sizes, float)
        self.fps = float(fps)
        self.yaw = np.zeros(len(self.positions)) if camera_yaw is None else np.asarray(camera_yaw, float)
        self.seen = [i for i in range(len(self.labels)) if self.visible[:, i].any()]

    def time(self, frame: int) -> float:
        """Seconds of a frame."""
        return frame / self.fps

    def write(self, kind: str, rng: np.random.Generator) -> Question | None:
        """A question of this type, or None when the scene cannot pose one unambiguously."""
        question = getattr(self, f"_{kind}")(rng)
        if question is None or (question.kind == "number" and question.answer <= 0):  # MRA needs a non-zero target
            return None
        return replace(question, names=tuple(self.labels[i] for i in question.objects),
                       times=tuple(round(self.time(k), 4) for k in question.keyframes))

    def _frame_with(self, rng: np.random.Generator, objects: Sequence[int]) -> int | None:
        frames = [t for t in range(len(self.positions)) if self.visible[t, list(objects)].all()]
        return int(rng.choice(frames)) if frames else None

    def _counting(self, rng: np.random.Generator) -> Question | None:
        shapes = sorted({label.split()[-1] for label in (self.labels[i] for i in self.seen)})
        if rng.random() < 0.5 or not shapes:
            return Question("counting", "How many objects appear in the video?", len(self.seen),
                            keyframes=(0, len(self.positions) - 1), objects=tuple(self.seen))
        shape = str(rng.choice(shapes))
        which = tuple(i for i in self.seen if self.labels[i].split()[-1] == shape)
        return Question("counting", f"How many {shape}s appear in the video?", len(which),
                        keyframes=(0, len(self.positions) - 1), objects=which)

    def _relative_direction(self, rng: np.random.Generator) -> Question | None:
        for _ in range(20):
            if len(self.seen) < 3:
                return None
            a, b, c = (int(i) for i in rng.choice(self.seen, 3, replace=False))
            t = self._frame_with(rng, (a, b, c))
            if t is None:
                continue
            p = self.positions[t]
            answer, angle = direction_of(p[a], p[b], p[c])
            if min(abs(abs(angle) - edge) for edge in (0.0, 90.0, 180.0)) < MARGIN_DEG:
                continue
            options, letter = _choice(rng, answer, DIRECTIONS)
            text = (f"At {self.time(t):.2f}s, if you stand at the {self.labels[a]} facing the {self.labels[b]}, "
                    f"where is the {self.labels[c]}?\n{_options_text(options)}")
            return Question("relative_direction", text, letter, options, (t,), (a, b, c))
        return None

    def _relative_distance(self, rng: np.random.Generator) -> Question | None:
        for _ in range(20):
            if len(self.seen) < 3:
                return None
            target = int(rng.choice(self.seen))
            t = self._frame_with(rng, self.seen)
            if t is None:
                t = self._frame_with(rng, (target,))
            if t is None:
                continue
            present = [i for i in self.seen if self.visible[t, i]]
            if len(present) < 3:
                continue
            near, margin = closest({i: self.positions[t, i] for i in present}, target)
            if margin < DISTANCE_MARGIN:
                continue
            others = [self.labels[i] for i in present if i not in (target, near)]
            options, letter = _choice(rng, self.labels[near], others)
            text = (f"At {self.time(t):.2f}s, which object is closest to the {self.labels[target]}?\n"
                    f"{_options_text(options)}")
            return Question("relative_distance", text, letter, options, (t,), (target, *present))
        return None

    def _absolute_distance(self, rng: np.random.Generator) -> Question | None:
        if len(self.seen) < 2:
            return None
        a, b = (int(i) for i in rng.choice(self.seen, 2, replace=False))
        t = self._frame_with(rng, (a, b))
        if t is None:
            return None
        value = round(distance(self.positions[t, a], self.positions[t, b]), 2)
        text = (f"At {self.time(t):.2f}s, what is the distance between the centres of the {self.labels[a]} and "
                f"the {self.labels[b]}, in metres?")
        return Question("absolute_distance", text, value, keyframes=(t,), objects=(a, b), unit="m")

    def _object_size(self, rng: np.random.Generator) -> Question | None:
        if not self.seen:
            return None
        a = int(rng.choice(self.seen))
        value = round(float(self.sizes[a].max()) * 100, 1)
        text = f"What is the length of the longest dimension (length, width or height) of the {self.labels[a]}, in centimetres?"
        return Question("object_size", text, value, keyframes=(int(np.flatnonzero(self.visible[:, a])[0]),),
                        objects=(a,), unit="cm")

    def _movers(self) -> list[int]:
        # Motion questions are about objects in view throughout, so the whole path is in the video.
        return [i for i in self.seen if self.visible[:, i].all() and path_length(self.positions[:, i]) >= MIN_TRAVEL]

    def _motion_keyframes(self) -> tuple[int, ...]:
        last = len(self.positions) - 1
        return tuple(sorted({int(round(k * last / 3)) for k in range(4)}))

    def _displacement(self, rng: np.random.Generator) -> Question | None:
        movers = self._movers()
        if not movers:
            return None
        a = int(rng.choice(movers))
        value = round(distance(self.positions[0, a], self.positions[-1, a]), 2)
        text = (f"How far is the {self.labels[a]} at the end of the video from where it was at the start, "
                f"in metres?")
        return Question("displacement", text, value, keyframes=(0, len(self.positions) - 1), objects=(a,), unit="m")

    def _path_length(self, rng: np.random.Generator) -> Question | None:
        movers = self._movers()
        if not movers:
            return None
        a = int(rng.choice(movers))
        value = round(path_length(self.positions[:, a]), 2)
        text = f"How many metres does the {self.labels[a]} travel during the video?"
        return Question("path_length", text, value, keyframes=self._motion_keyframes(), objects=(a,), unit="m")

    def _speed(self, rng: np.random.Generator) -> Question | None:
        movers = self._movers()
        if not movers:
            return None
        a = int(rng.choice(movers))
        duration = (len(self.positions) - 1) / self.fps
        value = round(path_length(self.positions[:, a]) / duration, 2)
        text = f"What is the average speed of the {self.labels[a]} over the whole video, in metres per second?"
        return Question("speed", text, value, keyframes=self._motion_keyframes(), objects=(a,), unit="m/s")

    def _appearance_order(self, rng: np.random.Generator) -> Question | None:
        first = {i: int(np.flatnonzero(self.visible[:, i])[0]) for i in self.seen}
        chosen: list[int] = []
        for i in sorted(first, key=first.get):  # objects whose first appearances are clearly apart
            if not chosen or first[i] - first[chosen[-1]] >= APPEARANCE_GAP:
                chosen.append(i)
        if len(chosen) >= 3:
            chosen = sorted(rng.choice(chosen, 3, replace=False).tolist(), key=first.get)
            correct = ", ".join(self.labels[i] for i in chosen)
            a, b, c = chosen
            wrong = [", ".join(self.labels[i] for i in p) for p in ((b, a, c), (c, b, a), (a, c, b), (b, c, a), (c, a, b))]
            options, letter = _choice(rng, correct, wrong)
            names = ", ".join(self.labels[i] for i in sorted(chosen))
            text = f"In which order do these objects first appear in the video: {names}?\n{_options_text(options)}"
            return Question("appearance_order", text, letter, options, tuple(first[i] for i in chosen), tuple(chosen))
        # Most objects are in view from the start: ask which appears last, when one enters clearly later.
        latest = max(first, key=first.get) if first else None
        earlier = [i for i in first if i != latest and first[latest] - first[i] >= APPEARANCE_GAP]
        if latest is None or len(earlier) < 2 or len(earlier) < len(first) - 1:
            return None
        others = [self.labels[i] for i in rng.permutation(earlier)[:3]]
        options, letter = _choice(rng, self.labels[latest], others)
        text = f"Which of these objects is the last to appear in the video?\n{_options_text(options)}"
        return Question("appearance_order", text, letter, options, (first[latest],), (latest, *earlier))

    def _trajectory_direction(self, rng: np.random.Generator) -> Question | None:
        for a in rng.permutation(self._movers()):
            a = int(a)
            answer, dominance = motion_direction(self.positions[0, a], self.positions[-1, a], float(self.yaw[0]))
            if distance(self.positions[0, a], self.positions[-1, a]) < MIN_TRAVEL or dominance < 1.5:
                continue
            options, letter = _choice(rng, answer, MOTIONS)
            text = (f"Seen from where the camera is at the start, in which direction does the {self.labels[a]} "
                    f"move overall during the video?\n{_options_text(options)}")
            return Question("trajectory_direction", text, letter, options, (0, len(self.positions) - 1), (a,))
        return None


def write_questions(writer: QuestionWriter, count: int, seed: int, types: Sequence[str] = TYPES) -> list[Question]:
    """Up to `count` questions, taking the types in turn (seeded order) and skipping those the scene cannot pose."""
    rng = np.random.default_rng(seed)
    order = [types[i] for i in rng.permutation(len(types))]
    questions: list[Question] = []
    while len(questions) < count:
        added = 0
        for kind in order:
            question = writer.write(kind, rng) if len(questions) < count else None
            if question is not None and all(q.text != question.text for q in questions):
                questions.append(question)
                added += 1
        if not added:
            break
    return questions


class SceneQuestionDataset:
    """One sample per (scene, question): a synthetic scene's video and one question about it, answer included.

    sample.label is the answer (as text), sample.label_space the option letters (empty for numbers),
    sample.meta["question"] the question (Question.as_dict()), ["truth"] the scene's ground truth.
    """

    name = "scenes"

    def __init__(self, num_scenes: int = 24, questions_per_scene: int = 10, seed: int = 0, split: str = "all",
                 root: Any = None, config: SceneConfig = SceneConfig(), types: Sequence[str] = TYPES):
        """num_scenes scenes (rendered once, cached); questions_per_scene of the given types about each."""
        unknown = sorted(set(types) - set(TYPES))
        if unknown:
            raise ValueError(f"unknown question types {unknown}; choose among {TYPES}")
        if questions_per_scene < 1:
            raise ValueError("questions_per_scene must be at least 1")
        self.scenes = SceneDataset(num_scenes, seed, split, root, config)
        self.knowledge = KnowledgeBase([])
        self.samples: list[VideoSample] = []
        for position in range(len(self.scenes)):
            base = self.scenes[position]
            scene = base.meta["scene"]
            truth = self.scenes.scene(scene)
            writer = QuestionWriter(truth.labels, truth.positions, truth.visible, truth.sizes, truth.fps,
                                    truth.camera_yaw)
            for k, question in enumerate(write_questions(writer, questions_per_scene, seed * 100_003 + scene, types)):
                meta = {**base.meta, "question": question.as_dict(), "duration": truth.num_frames / truth.fps}
                self.samples.append(VideoSample(f"scene-{scene}-q{k}", base.video, str(question.answer),
                                                tuple(question.options), self.name, split, meta))

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> VideoSample:
        return self.samples[index]
