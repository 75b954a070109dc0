"""Tools: the registry, argument validation, the built-ins' output format, and tools from outside the package."""

import sys
import textwrap

import numpy as np
import pytest

from videostar_env import VideoToolEnv, ToolResult, register_tool, registered_tools, tool_call
from videostar_env.backends import OracleVision
from videostar_env.perception import main_track
from videostar_env.tools import ToolError, make_tools, registry, schema, validate_arguments
from videostar_env.tools.people import ActionExplanation, PoseEstimation


class FrameDifference:
    """A motion tool written outside the package: mean absolute difference between consecutive frames."""

    name = "frame_difference"
    description = "Motion energy between consecutive sampled frames, and a heat map."
    parameters = {"type": "object", "properties": {"scale": {"type": "number", "minimum": 0, "default": 1.0}},
                  "additionalProperties": False}

    def __call__(self, ctx, scale=1.0):
        frames = ctx.clip.frames.astype(np.float32)
        diff = np.abs(np.diff(frames, axis=0)).mean(axis=-1)
        heat = np.clip(diff.max(axis=0) * 4 * scale, 0, 255).astype(np.uint8)
        energy = diff.mean(axis=(1, 2))
        return ToolResult(f"Motion energy per frame pair: {np.round(energy, 1).tolist()}",
                          [np.repeat(heat[..., None], 3, axis=-1)], {"energy": energy.tolist()})


def test_a_tool_registered_from_outside_is_called_through_step():
    register_tool(FrameDifference, overwrite=True)
    assert "frame_difference" in registered_tools()
    env = VideoToolEnv(tools=["pose_estimation", "frame_difference"])
    obs, info = env.reset(seed=0)
    assert "frame_difference" in [t["function"]["name"] for t in info["tools"]]
    obs, reward, terminated, _, info = env.step(tool_call("frame_difference", scale=2.0))
    assert not terminated
    assert "[tool frame_difference]" in obs["dialogue"] and "Motion energy per frame pair" in obs["dialogue"]
    assert obs["num_tool_frames"] == 1 and obs["tool_frames"][0].any()
    assert len(info["tool_results"][-1]["data"]["energy"]) == 15


def test_tools_from_an_entry_point_are_found(tmp_path, monkeypatch):
    package = tmp_path / "motion_plugin.py"
    package.write_text(textwrap.dedent('''
        from videostar_env import ToolResult

        class Stillness:
            name = "stillness"
            description = "Always says the person is still."
            parameters = {"type": "object", "properties": {}}

            def __call__(self, ctx):
                return ToolResult("still")
    '''))
    dist = tmp_path / "motion_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: motion-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[{registry.ENTRY_POINT_GROUP}]\nstillness = motion_plugin:Stillness\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry.TOOLS, "_entry_points_loaded", False)
    try:
        assert "stillness" in registered_tools()
        env = VideoToolEnv(tools=["stillness"])
        env.reset(seed=0)
        obs, *_ = env.step(tool_call("stillness"))
        assert "[tool stillness]\nstill" in obs["dialogue"]
    finally:
        registry.TOOLS._factories.pop("stillness", None)
        sys.modules.pop("motion_plugin", None)


def test_registry_refuses_duplicates_and_unknown_names():
    with pytest.raises(ValueError, match="already registered"):
        register_tool(PoseEstimation)
    with pytest.raises(KeyError, match="registered tools"):
        make_tools(["no_such_tool"])
    with pytest.raises(ValueError, match="chosen twice"):
        make_tools(["pose_estimation", "pose_estimation"])


def test_a_toolbox_knows_which_models_of_each_backend_its_tools_call():
    from videostar_env.tools.toolbox import Toolbox

    box = Toolbox.build(["video_description", "pose_estimation", "object_detection", "relation_graph",
                         "action_explanation"], tool_cache=None)
    assert box.model_tasks("vision") == ["pose"]  # both tools read poses: one model
    assert box.model_tasks("objects") == ["detect", "track"]
    assert box.model_tasks("explanation") == []  # no tool declares models of it
    assert Toolbox.build(["human_detection"], tool_cache=None).model_tasks("vision") == ["detect"]


def test_schema_is_openai_function_format():
    s = schema(PoseEstimation())
    assert s["type"] == "function" and s["function"]["name"] == "pose_estimation"
    assert s["function"]["parameters"]["type"] == "object"


def test_validation_fills_defaults_and_explains_errors():
    tool = PoseEstimation()
    assert validate_arguments(tool, {}) == {"min_confidence": 0.25, "max_images": 4}
    with pytest.raises(ToolError, match="'min_confidence'"):
        validate_arguments(tool, {"min_confidence": "high"})


def _episode(env):
    return env._episode


def test_oracle_speaks_the_yolo_format():
    env = VideoToolEnv()
    env.reset(seed=0)
    ep = _episode(env)
    frames = OracleVision().pose(ep.clip, ep.sample)
    assert len(frames) == 16
    det = frames[0][0]
    x1, y1, x2, y2 = det.box
    assert 0 <= x1 < x2 <= 128 and 0 <= y1 < y2 <= 128
    assert det.keypoints.shape == (17, 3) and (det.keypoints[:, 2] == 1.0).all()
    # Every keypoint lies inside its person's box.
    assert (det.keypoints[:, 0] >= x1).all() and (det.keypoints[:, 0] <= x2).all()
    assert main_track(frames).shape == (16, 17, 3)


def test_oracle_without_annotations_says_what_to_do():
    env = VideoToolEnv()
    env.reset(seed=0)
    ep = _episode(env)
    sample = type(ep.sample)(**{**ep.sample.__dict__, "meta": {}})
    with pytest.raises(ToolError, match="vision='yolo'"):
        OracleVision().pose(ep.clip, sample)


@pytest.mark.parametrize("name,args,text", [
    ("human_detection", {}, "People per sampled frame"),
    ("pose_estimation", {}, "Joints that move most"),
    ("action_explanation", {"labels": ["wave", "unknown thing"]}, "unknown thing: no explanation is available"),
    ("video_description", {"num_keyframes": 2}, "Keyframes at"),
])
def test_builtin_tools_answer_offline(name, args, text):
    env = VideoToolEnv()
    env.reset(seed=0)
    _, _, _, _, info = env.step(tool_call(name, **args))
    result = info["tool_results"][-1]
    assert result["ok"] and text in result["text"]


def test_main_track_handles_empty_frames():
    assert main_track([[], []]) is None


def test_action_explanation_shortens_to_the_first_labels_that_fit_and_names_the_rest():
    explanations = {"wave": "wave: " + "w" * 40, "clap": "clap: " + "c" * 40, "hands, then feet": "h: " + "h" * 40}
    data = {"explanations": explanations}
    two = ActionExplanation().shorten(data, lambda text: len(text) < 300)
    assert two.startswith(explanations["wave"] + "\n" + explanations["clap"] + "\n[Shortened")
    assert '2 of 3 labels explained. Left out: ["hands, then feet"].' in two  # JSON: labels may hold commas
    assert ActionExplanation().shorten(data, lambda text: len(text) < 100) is None  # not even one label fits
