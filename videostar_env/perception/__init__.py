"""Perception helpers: pure functions on arrays (people in frames, kinematics, drawing)."""

from .detections import Detection, FrameDetections, main_track, salient_keyframes, spread
from .kinematics import Kinematics, analyze, observed_submotions
from .objects import ObjectBox, Track, motion, tracks_of
from .overlay import draw_boxes, draw_objects, draw_skeletons
from .graph_score import graph_score
from .relation_graph import Edge, GraphFrame, Node, RelationGraph, build_graph

__all__ = ["Detection", "Edge", "FrameDetections", "GraphFrame", "Kinematics", "Node", "ObjectBox", "RelationGraph",
           "Track", "analyze", "build_graph", "draw_boxes", "draw_objects", "draw_skeletons", "graph_score",
           "main_track", "motion", "observed_submotions", "salient_keyframes", "spread", "tracks_of"]
