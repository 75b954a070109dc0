"""Users' own data: a folder per class and a JSONL manifest, run through gym.make."""

import json
import shutil

import gymnasium as gym
import pytest

import videostar_env  # noqa: F401
from videostar_env.datasets import FolderDataset, ManifestDataset, QuestionsDataset, SyntheticDataset


@pytest.fixture(scope="module")
def synthetic():
    return SyntheticDataset(per_class=1)


def test_folder_per_class(synthetic, tmp_path):
    for sample in list(synthetic)[:3]:
        (tmp_path / sample.label).mkdir()
        shutil.copy(sample.video, tmp_path / sample.label / "clip.mp4")
    (tmp_path / synthetic[0].label / "notes.txt").write_text("not a video")
    ds = FolderDataset(tmp_path)
    assert len(ds) == 3 and ds.label_space == tuple(sorted(s.label for s in list(synthetic)[:3]))
    env = gym.make("VideoSTAR-NoTools-v0", dataset="folder", dataset_kwargs={"root": str(tmp_path)})
    obs, info = env.reset(seed=0)
    assert obs["frames"].shape[0] == 16 and info["candidates"] == list(ds.label_space)
    # The default tools' offline backends cannot serve a folder: refused when the env is made, saying what to do.
    with pytest.raises(ValueError, match=r"'oracle' vision backend .* --vision yolo"):
        gym.make("VideoSTAR-v0", dataset="folder", dataset_kwargs={"root": str(tmp_path)})
    with pytest.raises(ValueError, match=r"'knowledge' explanation backend .* explanations"):
        gym.make("VideoSTAR-v0", dataset="folder", dataset_kwargs={"root": str(tmp_path)}, tools=["action_explanation"])


def test_folder_errors_say_what_is_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        FolderDataset(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="no class sub-folders"):
        FolderDataset(tmp_path)
    (tmp_path / "wave").mkdir()
    with pytest.raises(ValueError, match="without videos"):
        FolderDataset(tmp_path)


def test_jsonl_manifest_with_explanations_and_a_missing_video(synthetic, tmp_path):
    shutil.copy(synthetic[0].video, tmp_path / "a.mp4")
    explanations = tmp_path / "explanations.json"
    explanations.write_text(json.dumps({"0": f"{synthetic[0].label}: the arm moves from side to side above the head"}))
    lines = [{"video": "a.mp4", "label": synthetic[0].label, "id": "first"},
             {"video": "gone.mp4", "label": "other", "label_space": [synthetic[0].label, "other"]}]
    manifest = tmp_path / "set.jsonl"
    manifest.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    with pytest.warns(UserWarning, match="1 of 2 videos are missing"):
        ds = ManifestDataset(manifest, explanations=explanations)
    assert len(ds) == 1 and ds[0].id == "first" and ds.annotated == 2
    assert "side to side" in ds.knowledge.get(synthetic[0].label).definition


def test_manifest_lines_are_checked(tmp_path):
    manifest = tmp_path / "bad.jsonl"
    manifest.write_text('{"video": "a.mp4"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:1: each line needs"):
        ManifestDataset(manifest)
    manifest.write_text("not json\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:1: not JSON"):
        ManifestDataset(manifest)


def test_a_time_window_draws_every_frame_from_inside_it(synthetic, tmp_path):
    video = synthetic[0].video
    (tmp_path / "set.jsonl").write_text(json.dumps({"video": video, "label": synthetic[0].label, "window": [1.0, 2.0]}))
    env = gym.make("VideoSTAR-NoTools-v0", dataset="manifest", dataset_kwargs={"path": str(tmp_path / "set.jsonl")},
                   num_frames=8)
    _, info = env.reset(seed=0)
    assert info["window"] == [1.0, 2.0]
    assert all(1.0 <= t < 2.0 for t in info["timestamps"]) and len(set(info["frame_indices"])) == 8
    assert info["messages"][1]["content"][0]["timestamps"] == info["timestamps"]  # what the policy is told
    whole = gym.make("VideoSTAR-NoTools-v0", num_frames=8).unwrapped
    assert whole.reset(options={"index": 0})[1]["window"] is None
    with pytest.raises(ValueError, match="window"):
        ManifestDataset(_write(tmp_path, {"video": video, "label": "x", "window": [3, 1]}))


def _write(folder, line):
    path = folder / "bad.jsonl"
    path.write_text(json.dumps(line))
    return path


# -- spatial questions about your own videos -------------------------------------------------------------------

COUNT = {"video": "a.mp4", "question": "How many persons appear in the video?", "question_type": "object_counting",
         "ground_truth": "1"}
CHOICE = {"video": "a.mp4", "question": "Which is closer to the camera?", "question_type": "object_rel_distance",
          "options": ["A. the person", "B. the wall"], "ground_truth": "A", "id": "closer"}


def write_questions(folder, rows, name="questions.jsonl"):
    path = folder / name
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows))
    return path


def test_a_questions_file_is_vsi_rows_with_video_paths(synthetic, tmp_path):
    shutil.copy(synthetic[0].video, tmp_path / "a.mp4")
    ds = QuestionsDataset(write_questions(tmp_path, [COUNT, "", CHOICE]))
    assert [s.id for s in ds] == ["1", "closer"]  # the line number, where a row has no id
    count, choice = (s.meta["question"] for s in ds)
    assert (count["kind"], count["answer"], count["options"]) == ("number", 1.0, {})
    assert (choice["kind"], choice["answer"], choice["options"]) == ("choice", "A", {"A": "the person", "B": "the wall"})
    assert ds[1].video == str(tmp_path / "a.mp4") and ds[1].label_space == ("A", "B")
    elsewhere = tmp_path / "lists"
    elsewhere.mkdir()
    assert QuestionsDataset(write_questions(elsewhere, [COUNT]), video_root=tmp_path)[0].video == str(tmp_path / "a.mp4")


@pytest.mark.parametrize("row,problem", [
    ("{not json", r"not JSON"),
    ('["a list"]', r"a row must be a JSON object"),
    ({**COUNT, "video": None}, r"\"video\" must be a video path"),
    ({k: v for k, v in COUNT.items() if k != "question_type"}, r"missing \['question_type'\]"),
    ({**COUNT, "question_type": "counting"}, r"unknown question_type 'counting'; multiple choice: .*numeric: "),
    ({**COUNT, "ground_truth": "two"}, r"object_counting is a numeric question type, but ground_truth 'two' is not a number"),
    ({**COUNT, "ground_truth": "nan"}, r"not a finite number"),
    ({**COUNT, "options": ["A. 1", "B. 2"]}, r"numeric question type: give a number as ground_truth and no options"),
    ({k: v for k, v in CHOICE.items() if k != "options"}, r"multiple choice: give \"options\""),
    ({**CHOICE, "ground_truth": "C"}, r"ground_truth 'C' is not one of the option letters \['A', 'B'\]"),
    ({**CHOICE, "options": ["A. x", "A. y"]}, r"option letter A appears twice"),
    ({**COUNT, "window": [3, 1]}, r"window must be \[start, end\]"),
    ({**COUNT, "id": "closer"}, r"id 'closer' is used by an earlier row"),
])
def test_a_malformed_question_row_is_named_by_file_and_line(tmp_path, row, problem):
    path = write_questions(tmp_path, [CHOICE, row])
    with pytest.raises(ValueError, match=rf"questions\.jsonl:2: .*{problem}"):
        QuestionsDataset(path)


def test_a_malformed_row_is_one_line_on_the_command_line(tmp_path, capsys):
    from videostar_env.cli.main import main

    path = write_questions(tmp_path, [COUNT, {**CHOICE, "ground_truth": "E"}])
    assert main(["bench", "--env-id", "VideoSTR-Tools-v0", "--dataset", "questions", "--annotations", str(path),
                 "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{path}:2: ground_truth 'E' is not one of the option letters" in err
    assert main(["bench", "--env-id", "VideoSTR-v0", "--dataset", "questions", "--annotations",
                 str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "questions file" in err and "none.jsonl does not exist" in err


def test_a_video_str_env_plays_your_questions_with_the_yolo_objects_on_a_synthetic_video(synthetic, tmp_path):
    """In CI, without shared data: a random YOLO11n built from ultralytics' yaml, the object tools, the reward."""
    pytest.importorskip("ultralytics", reason="the yolo extra is not installed: pip install -e '.[yolo]'")
    pytest.importorskip("lap", reason="ultralytics tracking needs lap: pip install lap")
    from conftest import build_weights

    shutil.copy(synthetic[0].video, tmp_path / "a.mp4")
    path = write_questions(tmp_path, [COUNT, CHOICE])
    objects = ("yolo", {"weights": build_weights("yolo11n.yaml", tmp_path / "det.pt"), "imgsz": 128, "device": "cpu", "conf": 0.0,
                        "max_det": 3})
    env = gym.make("VideoSTR-Tools-v0", dataset="questions", dataset_kwargs={"path": str(path)}, objects=objects,
                   frame_size=(128, 128), num_frames=8, tool_cache=None)
    _, info = env.reset(options={"index": 1})
    question = info["messages"][1]["content"][-1]["text"]
    assert "Which is closer to the camera?" in question and "A. the person" in question
    assert "over the whole video" in question  # not "over its 0.0 seconds"
    assert info["ground_truth"]["benchmark"] == "questions" and info["ground_truth"]["graph"] is None
    *_, info = env.step(videostar_env.tool_call("object_detection"))
    detection = info["tool_results"][0]
    assert detection["ok"] and "Objects per sampled frame: [3, 3, 3, 3, 3, 3, 3, 3]" in detection["text"]
    graph = {"units": "image", "frames": [{"time": 0.0, "nodes": [{"id": "1", "label": "person", "position": [0.5, 0.6]},
                                                                  {"id": "2", "label": "wall", "position": [0.5, 0.1]}],
                                           "edges": []}]}
    right = f"<think><graph>{json.dumps(graph)}</graph>the person is in front</think><answer>A</answer>"
    _, reward, terminated, _, info = env.step(right)
    assert terminated and info["reward"]["answer"] == 1.0 and info["reward"]["node"] == 0.0  # no true scene
    assert reward == info["reward"]["total"] > 1.0
    env.reset(options={"index": 0})
    *_, info = env.step("<think>one</think><answer>1.2</answer>")  # MRA, as VSI-Bench scores numbers
    assert info["reward"]["answer"] == pytest.approx(0.7)

    out = tmp_path / "bench"
    from videostar_env.cli.main import main

    assert main(["bench", "--env-id", "VideoSTR-Tools-v0", "--agent", "graph-reader", "--dataset", "questions",
                 "--annotations", str(path), "--objects", "yolo", "--objects-options", json.dumps(objects[1]),
                 "--frame-size", "128", "--num-frames", "8", "--no-cache", "--out", str(out)]) == 0
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert sorted(r["question_type"] for r in rows) == ["object_counting", "object_rel_distance"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["question_types"]) == {"object_counting", "object_rel_distance"}
    assert (out / "report.html").is_file()


def test_every_annotation_dataset_shares_one_base_for_missing_videos_and_indexing():
    from videostar_env.datasets import ManifestDataset, QuestionsDataset, STIBenchDataset, VSIBenchDataset, VideoStarDataset
    from videostar_env.datasets.annotated import AnnotatedDataset

    for cls in (ManifestDataset, QuestionsDataset, STIBenchDataset, VSIBenchDataset, VideoStarDataset):
        assert issubclass(cls, AnnotatedDataset)
        assert "__len__" not in vars(cls) and "__getitem__" not in vars(cls)  # written once, in the base
