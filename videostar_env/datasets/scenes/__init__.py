"""Synthetic multi-object scenes (config, camera, truth, render, dataset) and their spatio-temporal questions."""

from .camera import camera_centre, camera_pose, intrinsics, object_corners, object_outline, project, to_camera
from .config import COLOURS, SHAPES, SPLITS, SceneConfig
from .dataset import SceneDataset, scene_seed, split_indices
from .questions import SceneQuestionDataset
from .render import render_scene
from .truth import SceneTruth

__all__ = ["COLOURS", "SHAPES", "SPLITS", "SceneConfig", "SceneDataset", "SceneQuestionDataset", "SceneTruth",
           "camera_centre", "camera_pose", "intrinsics", "object_corners", "object_outline", "project", "render_scene",
           "scene_seed", "split_indices", "to_camera"]
