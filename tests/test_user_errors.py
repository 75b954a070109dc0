"""What a user sees when a command line or a config asks for something that cannot be.

Every user error is one line on stderr, `videostar <command>: error: ...`, naming the field, file
or option and how to fix it, with exit status 2 and no traceback (--debug shows it). Data that
is partly broken (an unreadable video) does not stop a run: it is counted and reported.
"""

import json
import shutil
import sys

import gymnasium as gym
import pytest

import videostar_env  # noqa: F401
from videostar_env.actions import tool_call
from videostar_env.jobs.bench import EpisodePlan
from videostar_env.cli.main import build_parser, main
from videostar_env.cli.options import env_spec
from videostar_env.datasets import SyntheticDataset
from videostar_env.core.config import EnvConfig

from conftest import shared_file

NO_TOOLS = ["--env-id", "VideoSTAR-NoTools-v0", "--agent", "no-tool"]


# -- helpers -------------------------------------------------------------------------------------

def videostar(capsys, *argv):
    """Run `videostar ARGV` as the console script does (sys.exit(main())): (exit status, stdout, stderr)."""
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as exc:  # the interpreter prints a non-integer code to stderr and exits with 1
        if exc.code is None or isinstance(exc.code, int):
            rc = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
            rc = 1
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def assert_user_error(result, command, *needles):
    """Exit status 2 and one stderr line `videostar COMMAND: error: ...` containing every needle; no traceback."""
    rc, _, err = result
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{err}"
    line = lines[0]
    assert line.startswith(f"videostar {command}: error: "), line
    for needle in needles:
        assert needle in line, f"{needle!r} not in {line!r}"
    assert rc == 2, f"exit status {rc} for: {line}"
    return line


@pytest.fixture(scope="module")
def synthetic():
    return list(SyntheticDataset(per_class=1))


@pytest.fixture(scope="module")
def folder(synthetic, tmp_path_factory):
    """A folder dataset: three class sub-folders with one real video each, and no keypoints or explanations."""
    root = tmp_path_factory.mktemp("folder") / "videos"
    for sample in synthetic[:3]:
        (root / sample.label).mkdir(parents=True)
        shutil.copy(sample.video, root / sample.label / "clip.mp4")
    return root


def corrupt_manifest(synthetic, folder_path, corrupt_lines=(0,), size=4):
    """A manifest of `size` lines with ground-truth keypoints; the lines in corrupt_lines name an unreadable video."""
    broken = folder_path / "broken.mp4"
    broken.write_bytes(b"\x00not a video" * 100)
    rows = []
    for k, sample in enumerate(synthetic[:size]):
        video = broken if k in corrupt_lines else sample.video
        rows.append({"video": str(video), "label": sample.label, "annotations": sample.meta["annotations"]})
    manifest = folder_path / "manifest.jsonl"
    manifest.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return manifest


# -- 1. an unreadable first video ----------------------------------------------------------------

def _assert_first_episode_counted_as_unreadable(result, out):
    rc, stdout, err = result
    assert rc == 0, err
    assert "Traceback" not in err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["failed"]["episodes"] == 1
    example = metrics["failed"]["examples"][0]
    assert example["key"] == "default/0" and "broken.mp4" in example["error"]
    assert metrics["overall"]["episodes"] == 2  # the other episodes were played
    assert "unreadable videos (not played)" in stdout


def test_bench_counts_an_unreadable_first_video_in_dataset_order_and_goes_on(synthetic, tmp_path, capsys):
    manifest = corrupt_manifest(synthetic, tmp_path)
    out = tmp_path / "run"
    result = videostar(capsys, "bench", "--dataset", "manifest", "--annotations", manifest, "--tools", "pose_estimation",
                       "--in-order", "--episodes", 3, "--out", out)
    _assert_first_episode_counted_as_unreadable(result, out)


def test_bench_counts_an_unreadable_video_drawn_first_by_the_shuffle(synthetic, tmp_path, capsys):
    manifest = corrupt_manifest(synthetic, tmp_path)
    seed = next(s for s in range(100) if EpisodePlan(s, 4).index_of(0) == 0)  # the shuffle draws the corrupt line first
    out = tmp_path / "run"
    result = videostar(capsys, "bench", "--dataset", "manifest", "--annotations", manifest, "--tools", "pose_estimation",
                       "--seed", seed, "--episodes", 3, "--out", out)
    _assert_first_episode_counted_as_unreadable(result, out)


# -- 2. the oracle vision backend needs keypoints ------------------------------------------------

def test_oracle_vision_on_a_folder_without_keypoints_is_refused_naming_yolo(folder, tmp_path, capsys):
    result = videostar(capsys, "bench", "--dataset", "folder", "--video-root", folder, "--episodes", 2,
                       "--out", tmp_path / "run")
    assert_user_error(result, "bench", "'oracle' vision backend", "--vision yolo")
    with pytest.raises(ValueError, match=r"'oracle' vision backend .*--vision yolo"):
        gym.make("VideoSTAR-v0", dataset="folder", dataset_kwargs={"root": str(folder)})


# -- 3. action explanations need explanations ----------------------------------------------------

def test_action_explanation_needs_explanations_and_a_call_that_explains_nothing_fails(synthetic, folder, tmp_path,
                                                                                         capsys):
    command = ["bench", "--dataset", "folder", "--video-root", folder, "--tools", "action_explanation",
               "--episodes", 2]
    line = assert_user_error(videostar(capsys, *command, "--out", tmp_path / "refused"), "bench",
                             "'knowledge' explanation backend", "explanations", "replay", "dashscope", "openai")
    assert "--dataset-options" in line

    explained, unexplained = synthetic[0].label, synthetic[1].label
    explanations = tmp_path / "explanations.json"
    explanations.write_text(json.dumps({"0": f"{explained}: one arm lifts above the head and swings side to side"}))
    out = tmp_path / "run"
    rc, _, err = videostar(capsys, *command, "--dataset-options", json.dumps({"explanations": str(explanations)}),
                           "--out", out)
    assert rc == 0 and "Traceback" not in err, err
    tools = json.loads((out / "metrics.json").read_text())["overall"]["tools"]
    assert tools["action_explanation"]["calls_per_episode"] > 0 and tools["action_explanation"]["errors"] == 0

    env = gym.make("VideoSTAR-v0", dataset="folder", tools=["action_explanation"],
                   dataset_kwargs={"root": str(folder), "explanations": str(explanations)})
    env.reset(seed=0)
    _, _, _, _, info = env.step(tool_call("action_explanation", labels=[unexplained]))
    nothing = info["tool_results"][-1]
    assert nothing["ok"] is False and unexplained in nothing["text"] and "no explanation" in nothing["text"]
    _, _, _, _, info = env.step(tool_call("action_explanation", labels=[explained]))
    something = info["tool_results"][-1]
    assert something["ok"] is True and "swings side to side" in something["text"]
    env.close()


# -- 4. the shared env options reach the env -----------------------------------------------------

def test_frame_size_num_frames_and_env_options_reach_the_env(tmp_path, capsys):
    options = ["--frame-size", "224", "--num-frames", "8", "--env-options", '{"max_turns": 2}']
    spec = env_spec(build_parser().parse_args(["verl-data", "--out", str(tmp_path / "x.parquet"), *options]))
    env = gym.make("VideoSTAR-v0", **spec)
    config = env.unwrapped.config
    assert (config.num_frames, config.frame_size, config.max_turns) == (8, (224, 224), 2)
    obs, _ = env.reset(seed=0)
    assert obs["frames"].shape == (8, 224, 224, 3)
    env.close()

    import pandas as pd

    rc, _, err = videostar(capsys, "verl-data", "--out", tmp_path / "x.parquet", "--limit", 2, *options)
    assert rc == 0, err
    rows = pd.read_parquet(tmp_path / "x.parquet")
    assert len(rows) == 2 and all(row[0]["nframes"] == 8 for row in rows["videos"])


def test_an_unknown_env_options_field_is_refused_naming_the_valid_ones(tmp_path, capsys):
    result = videostar(capsys, "bench", "--env-options", '{"max_turnz": 2}', "--episodes", 2, "--out", tmp_path / "run")
    assert_user_error(result, "bench", "--env-options", "max_turnz", "max_turns", "num_frames")


# -- 5. a folder dataset is found with --video-root ----------------------------------------------

def test_video_root_names_the_videos_of_a_folder_dataset(folder, tmp_path, capsys):
    out = tmp_path / "run"
    rc, _, err = videostar(capsys, "bench", "--dataset", "folder", "--video-root", folder, *NO_TOOLS, "--episodes", 3,
                           "--out", out)
    assert rc == 0 and "Traceback" not in err, err
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and {row["label"] for row in rows} == {p.name for p in folder.iterdir()}


# -- 6. a run that failed to start leaves nothing that refuses the corrected command -------------

def test_a_bench_that_fails_at_start_up_leaves_no_run_json(folder, tmp_path, capsys):
    out = tmp_path / "run"
    common = ["bench", "--dataset", "folder", "--video-root", folder, "--episodes", 2, "--out", out]
    assert_user_error(videostar(capsys, *common), "bench", "oracle")  # refused when the env is made
    assert not (out / "run.json").exists()
    # Refused after the output folder is opened: the agent is made when the episodes start.
    assert_user_error(videostar(capsys, *common, "--env-id", "VideoSTAR-NoTools-v0", "--agent", "no-such-agent"),
                      "bench", "no-such-agent")
    assert not (out / "run.json").exists()
    rc, stdout, err = videostar(capsys, *common, *NO_TOOLS)
    assert rc == 0, err
    assert "different settings" not in stdout + err
    assert (out / "run.json").exists() and len((out / "results.jsonl").read_text().splitlines()) == 2


# -- 7. command-line mistakes --------------------------------------------------------------------

def test_command_line_mistakes_are_one_line_with_status_2(tmp_path, capsys):
    out = ["--episodes", 2, "--out", tmp_path / "run"]
    nowhere = tmp_path / "nowhere"
    assert_user_error(videostar(capsys, "bench", "--dataset", "folder", "--video-root", nowhere, *out),
                      "bench", str(nowhere), "does not exist")
    line = assert_user_error(videostar(capsys, "bench", "--agent", "no-such-agent", *out), "bench", "'no-such-agent'")
    assert "heuristic" in line  # the registered agents are listed
    assert_user_error(videostar(capsys, "bench", "--vision", "yolo", "--vision-options", '{"pose_weigths": "x"}', *out),
                      "bench", "pose_weigths", "pose_weights", "detect_weights")


def test_debug_shows_the_exception_instead(tmp_path):
    with pytest.raises(KeyError, match="no-such-agent"):
        main(["bench", "--debug", "--agent", "no-such-agent", "--episodes", "2", "--out", str(tmp_path / "run")])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        main(["bench", "--debug", "--dataset", "folder", "--video-root", str(tmp_path / "nowhere"),
              "--out", str(tmp_path / "run")])


# -- 8. YOLO loads only the weights the chosen tools need ----------------------------------------

def test_yolo_needs_only_the_weights_of_the_chosen_tools(tmp_path, capsys):
    pytest.importorskip("ultralytics", reason="the yolo extra is not installed: pip install -e '.[yolo]'")
    pose = str(shared_file("weights/yolo11n-pose_int8.tflite"))
    missing_detect = str(tmp_path / "missing" / "det.pt")
    env = gym.make("VideoSTAR-v0", vision=("yolo", {"pose_weights": pose, "detect_weights": missing_detect}),
                   tools=["pose_estimation"], num_frames=4)
    env.reset(seed=0)
    _, _, _, _, info = env.step(tool_call("pose_estimation"))
    assert info["tool_results"][-1]["ok"], info["tool_results"][-1]["text"]
    env.close()

    with pytest.raises(FileNotFoundError, match=r"detect_weights .*det\.pt") as refused:
        gym.make("VideoSTAR-v0", vision=("yolo", {"pose_weights": pose, "detect_weights": missing_detect}),
                 tools=["pose_estimation", "human_detection"])
    assert "pose_weights" not in str(refused.value)
    missing_pose = str(tmp_path / "missing" / "pose.pt")
    with pytest.raises(FileNotFoundError, match=r"pose_weights .*pose\.pt") as refused:
        gym.make("VideoSTAR-v0", vision=("yolo", {"pose_weights": missing_pose, "detect_weights": missing_detect}),
                 tools=["pose_estimation"])
    assert "detect_weights" not in str(refused.value) and "det.pt" not in str(refused.value)

    result = videostar(capsys, "bench", "--vision", "yolo", "--vision-options",
                       json.dumps({"pose_weights": pose, "detect_weights": missing_detect}),
                       "--tools", "human_detection", "--episodes", 2, "--out", tmp_path / "run")
    assert_user_error(result, "bench", "detect_weights", missing_detect, "--vision-options")


# -- 9. EnvConfig field types --------------------------------------------------------------------

@pytest.mark.parametrize("field, value, expected", [
    ("num_frames", "16", "must be an integer"),
    ("frame_size", 224, "(height, width)"),
    ("tools", "pose_estimation", "list of tool names"),
])
def test_env_config_names_a_field_of_the_wrong_type(field, value, expected):
    for make in (lambda: EnvConfig(**{field: value}), lambda: gym.make("VideoSTAR-v0", **{field: value})):
        with pytest.raises(TypeError) as refused:
            make()
        message = str(refused.value)
        assert f"EnvConfig.{field}" in message and repr(value) in message and expected in message, message


def test_an_api_key_in_a_misspelt_option_never_reaches_the_error_line(capsys):
    # Gymnasium appends the env's kwargs to a constructor's TypeError; the CLI drops them (they may hold keys).
    result = videostar(capsys, "bench", "--explanation", "openai", "--explanation-options",
                       json.dumps({"api_key": "sk-SECRET-123", "modle": "x"}), "--out", "unused")
    assert result[0] == 2 and "sk-SECRET" not in result[1] + result[2]


def test_a_missing_optional_package_is_one_line_naming_what_to_install(tmp_path, capsys, monkeypatch):
    import sys

    from videostar_env.cli.main import main

    monkeypatch.setitem(sys.modules, "fsspec", None)  # as if fsspec were not installed
    assert main(["precompute", "--limit", "1", "--cache-dir", "memory://tools", "--cache-store", "fsspec"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install fsspec" in err
