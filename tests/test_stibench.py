"""STI-Bench: the qa.parquet reader, the official prompt text, letter extraction, scoring and aggregation.

The golden values below were written down by reading MINT-SJTU/STI-Bench at commit
43ddebea5e386072cc9f95f4b3cdbe81fbc390a3 (opensource_test.py: prompt, ANSWER_PATTERNS/extract_answer, the
`correct` column and the report; openai_test.py: the API prompt and get_frame).
"""

from __future__ import annotations

import json
import math

import pytest

from conftest import shared_file
from videostar_env.datasets.missing import MissingVideos
from videostar_env.datasets.stibench.rows import (MAX_FRAMES, STIBenchDataset, api_frame_indices, api_prompt,
                                         official_frame_indices, official_prompt, official_sample_fps, scene_type)
from videostar_env.datasets.stibench.scoring import sti_aggregate, sti_choice_score, sti_extract_letter

CLIPS = ("apply_eye_makeup.avi", "arm_wrestling.mp4", "flipping_pancake.mkv")
OPTIONS = {"A": "0.1 m", "B": "0.3 m", "C": "0.5 m", "D": "0.7 m", "E": "0.9 m"}


def _rows() -> list[dict]:
    """Five rows in the published schema: three real clips, a row without times or scene, a missing video."""
    def row(video, ident, question, options, answer, task, start, end, scene):
        return {"Video": video, "ID": ident, "Question": question, "Candidates": json.dumps(options),
                "Answer": answer, "Task": task, "time_start": start, "time_end": end, "Scene": scene,
                "Source": "fixture"}
    return [
        row("apply_eye_makeup.avi", 0, "How far does the brush travel?", OPTIONS, "B",
            "Displacement & Path Length", 1.0, 3.5, "indoor"),
        row("arm_wrestling.mp4", 1, "Which way does the right arm turn?",
            {"A": "clockwise", "B": "counter-clockwise", "C": "it does not turn", "D": "first left, then right"},
            "A", "Pose Estimation", 0.0, 2.0, "outdoor"),
        row("flipping_pancake.mkv", 2, "How fast does the pancake rise?",
            {"A": "0.5 m/s", "B": "1.0 m/s", "C": "1.5 m/s", "D": "2.0 m/s"}, "C", "Speed & Acceleration",
            0.5, 1.5, "desktop"),
        row("flipping_pancake.mkv", 3, "How wide is the pan?",
            {"A": "10 cm", "B": "20 cm", "C": "30 cm", "D": "40 cm"}, "D", "Dimensional Measurement",
            float("nan"), float("nan"), None),
        row("scene0000_00.mp4", 4, "Where is the chair?", {"A": "left", "B": "right"}, "A",
            "Spatial Relation", 2.0, 4.0, "indoor"),
    ]


@pytest.fixture
def clip_root():
    for clip in CLIPS:
        shared_file(f"clips/{clip}")
    return shared_file("clips")


@pytest.fixture
def qa_parquet(tmp_path):
    pd = pytest.importorskip("pandas")  # parquet needs pandas (and pyarrow); the scoring tests do not
    path = tmp_path / "qa.parquet"
    pd.DataFrame(_rows()).to_parquet(path)
    return path


def test_loads_rows_and_counts_the_missing_video(qa_parquet, clip_root):
    with pytest.warns(UserWarning, match="1 of 5 videos are missing"):
        ds = STIBenchDataset(qa_parquet, clip_root)
    assert ds.name == "sti-bench" and len(ds.knowledge) == 0
    assert ds.annotated == 5 and len(ds) == 4
    assert isinstance(ds.missing, MissingVideos) and len(ds.missing) == 1 and ds.missing.total == 5
    assert ds.missing.paths == (str(clip_root / "scene0000_00.mp4"),)
    assert [s.id for s in ds] == ["0", "1", "2", "3"]
    assert ds.tasks() == ["Dimensional Measurement", "Displacement & Path Length", "Pose Estimation",
                          "Speed & Acceleration"]


def test_missing_policies(qa_parquet, clip_root):
    with pytest.warns(UserWarning):
        kept = STIBenchDataset(qa_parquet, clip_root, missing="keep")
    assert len(kept) == 5 and kept[4].video == str(clip_root / "scene0000_00.mp4")
    with pytest.raises(FileNotFoundError, match="1 of 5 videos"):
        STIBenchDataset(qa_parquet, clip_root, missing="error")


def test_sample_fields_and_meta(qa_parquet, clip_root):
    with pytest.warns(UserWarning):
        sample = STIBenchDataset(qa_parquet, clip_root)[0]
    assert sample.video == str(clip_root / "apply_eye_makeup.avi")
    assert (sample.label, sample.label_space) == ("B", ("A", "B", "C", "D", "E"))
    assert (sample.dataset, sample.split) == ("sti-bench", "test")
    meta = sample.meta
    assert meta["question"] == {"type": "Displacement & Path Length", "kind": "choice",
                                "text": "How far does the brush travel?", "options": OPTIONS, "answer": "B",
                                "unit": "", "names": [], "times": [], "keyframes": [], "objects": []}
    assert meta["window"] == (1.0, 3.5)
    assert meta["scene"] == "indoor"
    assert meta["benchmark"] == "sti-bench"
    assert meta["num_frames"] == MAX_FRAMES == 30
    assert meta["frame_sampler"] == "sti-bench"  # the official mode reads the script's frames
    assert (meta["path"], meta["row_id"], meta["source"]) == ("apply_eye_makeup.avi", 0, "fixture")


def test_window_and_scene_fallback(qa_parquet, clip_root):
    with pytest.warns(UserWarning):
        ds = STIBenchDataset(qa_parquet, clip_root)
    assert [s.meta["window"] for s in ds] == [(1.0, 3.5), (0.0, 2.0), (0.5, 1.5), None]
    assert all(isinstance(t, float) for s in ds if s.meta["window"] for t in s.meta["window"])
    # No Scene: the official fallback from the video name (flipping_pancake.mkv matches no rule).
    assert [s.meta["scene"] for s in ds] == ["indoor", "outdoor", "desktop", "unknown"]


def test_official_prompt_golden(qa_parquet, clip_root):
    with pytest.warns(UserWarning):
        ds = STIBenchDataset(qa_parquet, clip_root)
    # opensource_test.py: f"From {ts} s to {te} s. {Question}\n{cand_str}\nPlease output only the option letter!"
    # with cand_str = "\n".join(f"({k}) {v}"), the times as the float column prints them.
    assert ds[0].meta["official_prompt"] == (
        "From 1.0 s to 3.5 s. How far does the brush travel?\n"
        "(A) 0.1 m\n(B) 0.3 m\n(C) 0.5 m\n(D) 0.7 m\n(E) 0.9 m\n"
        "Please output only the option letter!")
    assert ds[1].meta["official_prompt"] == (
        "From 0.0 s to 2.0 s. Which way does the right arm turn?\n"
        "(A) clockwise\n(B) counter-clockwise\n(C) it does not turn\n(D) first left, then right\n"
        "Please output only the option letter!")
    # An empty time cell prints as the official f-string prints NaN.
    assert ds[3].meta["official_prompt"].startswith("From nan s to nan s. How wide is the pan?\n(A) 10 cm\n")
    assert "<video>" not in ds[0].meta["official_prompt"]


def test_integer_times_print_as_integers():
    # The times are formatted as read: an integer column gives "3", not "3.0".
    assert official_prompt("Q?", {"A": "x"}, 3, 7) == ("From 3 s to 7 s. Q?\n(A) x\n"
                                                         "Please output only the option letter!")
    assert official_prompt("Q?", {"A": "x"}, None, None) == "Q?\n(A) x\nPlease output only the option letter!"


def test_api_prompt_and_frames_golden():
    # openai_test.py: options without brackets, "seconds", and the rate its get_frame samples at.
    assert api_prompt("How far?", {"A": "1 m", "B": "2 m"}, 1.0, 3.5, 2.997) == (
        "Answer the question below based on the frames provided, which are sampled at about 3.00 FPS.\n"
        "Question: From 1.0 seconds to 3.5 seconds. How far?\nA 1 m\nB 2 m\n"
        "Please output only the option you choose!")
    # every int(300 / 30) = 10th frame from the first; 100 frames: every 3rd, cut at 30 (frame 90 is the last).
    assert api_frame_indices(300, 30.0) == (list(range(0, 300, 10)), 3.0)
    assert api_frame_indices(100, 25.0) == (list(range(0, 90, 3)), 25.0 / 3)
    assert api_frame_indices(12, 30.0) == (list(range(12)), 30.0)


def test_official_frames_span_the_whole_video():
    assert official_sample_fps(30.0, 300) == 3.0  # 30 frames over 10 s
    assert official_sample_fps(30.0, 20) == 30.0  # a short video keeps its own rate
    frames = official_frame_indices(300, 30.0)
    assert len(frames) == 30 and frames[0] == 0 and frames[-1] == 299
    # The floor-to-even of qwen_vl_utils on 29.999... frames: 28, not 30.
    assert len(official_frame_indices(41, 30.0)) == 28
    assert official_frame_indices(7, 30.0) == [0, 1, 2, 4, 5, 6]


def test_official_frames_match_qwen_vl_utils():
    vision = pytest.importorskip("qwen_vl_utils.vision_process")
    torch = pytest.importorskip("torch")
    for fps in (25.0, 29.97, 30.0, 60.0):
        for total in (5, 30, 31, 41, 300, 1234, 5000):
            n = vision.smart_nframes({"fps": official_sample_fps(fps, total)}, total, fps)
            assert official_frame_indices(total, fps) == torch.linspace(0, total - 1, n).round().long().tolist()


def test_json_and_jsonl_exports_read_the_same(tmp_path, qa_parquet, clip_root):
    rows = _rows()[:3]
    (tmp_path / "qa.json").write_text(json.dumps(rows))
    (tmp_path / "qa.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    with pytest.warns(UserWarning):
        ref = STIBenchDataset(qa_parquet, clip_root)
    for name in ("qa.json", "qa.jsonl"):
        ds = STIBenchDataset(tmp_path / name, clip_root)
        assert len(ds) == 3
        for a, b in zip(ds, ref):
            assert (a.id, a.video, a.label, a.label_space) == (b.id, b.video, b.label, b.label_space)
            assert a.meta["official_prompt"] == b.meta["official_prompt"]
            assert a.meta["question"] == b.meta["question"] and a.meta["window"] == b.meta["window"]


def test_candidates_as_a_mapping_and_repeated_ids(tmp_path, clip_root):
    rows = [dict(r, Candidates=json.loads(r["Candidates"]), ID=0) for r in _rows()[:2]]
    path = tmp_path / "qa.json"
    path.write_text(json.dumps(rows))
    ds = STIBenchDataset(path, clip_root)
    assert ds[1].label_space == ("A", "B", "C", "D")
    # IDs that repeat across videos: the official result key Video|ID keeps them apart.
    assert [s.id for s in ds] == ["apply_eye_makeup.avi|0", "arm_wrestling.mp4|0"]


def test_bad_files_are_explained(tmp_path, clip_root):
    path = tmp_path / "qa.json"
    path.write_text(json.dumps([{"Video": "a.mp4", "Question": "?"}]))
    with pytest.raises(ValueError, match="needs the columns"):
        STIBenchDataset(path, clip_root)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        STIBenchDataset(tmp_path / "nope.parquet", clip_root)


# reply -> (letter the official evaluation compares, score against answer "B"), checked against the
# official extract_answer + `correct` column.
GOLDEN = [
    ("B", "B", 1.0),                      # no pattern: the last character of the reply
    ("b", None, 0.0),                     # ... is compared case-sensitively
    ("(B)", "B", 1.0),
    ("(b)", "B", 1.0),                    # patterns ignore case
    ("B.", "B", 1.0),
    ("b.", "B", 1.0),
    ("B)", "B", 1.0),
    ("B\n", "B", 1.0),
    (" B ", "B", 1.0),
    ("The answer is C", "C", 0.0),        # last character
    ("The answer is B", "B", 1.0),
    ("The answer is C.", "C", 0.0),       # letter + "." at the end of a line
    ("Answer: D", "D", 0.0),
    ("answer=d", "D", 0.0),
    ("Answer: b", "B", 1.0),
    ("Ans='C'", "C", 0.0),
    ("Option E", "E", 0.0),               # E is read even where the options stop at D
    ("option a is best", "A", 0.0),       # "Option X", case-insensitive
    ("A is correct", "A", 0.0),
    ("A and B", "B", 1.0),                # two letters, no pattern: the last one
    ("A, B", "B", 1.0),
    ("BD", "D", 0.0),
    ("(A) or (B)", "A", 0.0),             # two letters in brackets: the first match
    ("Answer: B\nC.", "B", 1.0),          # the first pattern in order wins, not the first position
    ("C.\nBecause it moves", "C", 0.0),   # multi-line: "C." ends the first line
    ("(C) 3.2 m", "C", 0.0),
    ("Best: (e)", "E", 0.0),
    ("This is D", "D", 0.0),
    ("C. The car moves left", None, 0.0),  # ends in "t": no letter
    ("B. 3 m", None, 0.0),
    ("a", None, 0.0),
    ("The cat", None, 0.0),
    ("I don't know", None, 0.0),
    ("None of these options is correct", None, 0.0),
    ("The options are A and B, I pick none.", None, 0.0),
    ("", None, 0.0),                      # the official analysis raises IndexError on these two
    ("   ", None, 0.0),
]


@pytest.mark.parametrize("reply, letter, score", GOLDEN)
def test_letter_extraction_and_score_golden(reply, letter, score):
    assert sti_extract_letter(reply, OPTIONS) == letter
    assert sti_choice_score(reply, "B") == score


def test_score_compares_the_answer_exactly():
    assert sti_choice_score("B", "b") == 0.0
    assert sti_choice_score(None, "B") == 0.0
    assert sti_choice_score("(e)", "E") == 1.0


def test_scene_fallback_rules():
    assert scene_type("camera_front_0001.mp4") == "outdoor"
    assert scene_type("scene0001_00.mp4") == "indoor"
    assert scene_type("123456.mp4") == "desktop"
    assert scene_type("12345.mp4") == "unknown"


def test_aggregate_per_task_and_scene():
    rows = [
        {"question_type": "Speed & Acceleration", "scene": "outdoor", "score": 1.0},
        {"question_type": "Speed & Acceleration", "scene": "outdoor", "score": 0.0},
        {"question_type": "Speed & Acceleration", "scene": "indoor", "score": 0.0},
        {"question_type": "Pose Estimation", "scene": "desktop", "score": 1.0},
        {"question_type": "Pose Estimation", "scene": None, "video": "scene0002_00.mp4", "score": 1.0},
        {"question_type": None, "scene": float("nan"), "video": "camera_3.mp4", "score": 0.0},
    ]
    report = sti_aggregate(rows)
    assert report["episodes"] == 6 and report["correct"] == 3.0
    assert report["overall"] == 0.5  # every question weighs the same (the task mean would be (1/3 + 1) / 2)
    assert report["per_task"] == {
        "Pose Estimation": {"episodes": 2, "correct": 2.0, "accuracy": 1.0},
        "Speed & Acceleration": {"episodes": 3, "correct": 1.0, "accuracy": pytest.approx(1 / 3)},
    }
    assert report["per_scene"] == {
        "desktop": {"episodes": 1, "correct": 1.0, "accuracy": 1.0},
        "indoor": {"episodes": 2, "correct": 1.0, "accuracy": 0.5},
        "outdoor": {"episodes": 3, "correct": 1.0, "accuracy": pytest.approx(1 / 3)},
    }
    empty = sti_aggregate([])
    assert empty["overall"] is None and empty["per_task"] == {} and empty["per_scene"] == {}


def test_aggregate_from_replies(qa_parquet, clip_root):
    with pytest.warns(UserWarning):
        ds = STIBenchDataset(qa_parquet, clip_root)
    replies = ["(B)", "a", "C.", "The answer is D"]
    rows = [{"question_type": s.meta["question"]["type"], "scene": s.meta["scene"],
             "score": sti_choice_score(r, s.label)} for s, r in zip(ds, replies)]
    report = sti_aggregate(rows)
    assert [r["score"] for r in rows] == [1.0, 0.0, 1.0, 1.0]
    assert report["overall"] == 0.75
    assert report["per_scene"]["outdoor"]["accuracy"] == 0.0 and report["per_scene"]["unknown"]["accuracy"] == 1.0
    assert not math.isnan(report["per_task"]["Pose Estimation"]["accuracy"])


@pytest.mark.parametrize("env_id", ["VideoSTR-Official-v0", "VideoSTR-v0"])
def test_a_whole_bench_over_the_fixture(qa_parquet, clip_root, tmp_path, env_id, capsys):
    """`videostar bench --dataset sti-bench`: results, per-type and per-scene metrics, the official averaging."""
    import json

    from videostar_env.cli.main import main

    out = tmp_path / env_id
    with pytest.warns(UserWarning, match="missing"):
        assert main(["bench", "--agent", "guess", "--env-id", env_id, "--dataset", "sti-bench", "--video-root",
                     str(clip_root), "--annotations", str(qa_parquet), "--num-frames", "8", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    played = metrics["overall"]["episodes"]
    assert played == len(_rows()) - 1 and metrics["run"]["splits"]["default"]["missing_videos"]["count"] == 1
    assert metrics["official"]["episodes"] == played and metrics["official"]["per_task"] and metrics["per_scene"]
    assert (out / "report.html").exists() and "mean over question types" in capsys.readouterr().out


def test_frames_come_from_the_window_unless_the_official_protocol_reads_the_whole_video(qa_parquet, clip_root):
    import gymnasium as gym

    import videostar_env  # noqa: F401

    kwargs = {"dataset": "sti-bench", "dataset_kwargs": {"path": str(qa_parquet), "video_root": str(clip_root)},
              "num_frames": 8}
    with pytest.warns(UserWarning, match="missing"):
        graph = gym.make("VideoSTR-v0", **kwargs).unwrapped
    windowed = next(i for i, s in enumerate(graph.dataset.samples) if s.meta["window"])
    start, end = graph.dataset[windowed].meta["window"]
    _, info = graph.reset(options={"index": windowed})
    assert info["window"] == [start, end] and all(start <= t < end + 1 / info["fps"] for t in info["timestamps"])
    with pytest.warns(UserWarning, match="missing"):
        official = gym.make("VideoSTR-Official-v0", **kwargs).unwrapped
    _, info = official.reset(options={"index": windowed})
    assert info["window"] is None and (info["timestamps"][0] < start or info["timestamps"][-1] > end)
    assert info["messages"][0]["content"][1]["text"] == official.dataset[windowed].meta["official_prompt"]


# -- the official mode in the env: the script's frames, its reading of the reply, its messages, its rows -----------

# opensource_test.py's frames (compute_sample_fps, then qwen_vl_utils' smart_nframes and rounded linspace) for
# videos of 30 fps, written down from running qwen_vl_utils 0.0.14 on the videos below.
SCRIPT_FRAMES = {
    30: list(range(30)),
    100: [0, 3, 7, 10, 14, 17, 20, 24, 27, 31, 34, 38, 41, 44, 48, 51, 55, 58, 61, 65, 68, 72, 75, 79, 82, 85, 89, 92,
          96, 99],
    301: [0, 10, 21, 31, 41, 52, 62, 72, 83, 93, 103, 114, 124, 134, 145, 155, 166, 176, 186, 197, 207, 217, 228, 238,
          248, 259, 269, 279, 290, 300],
    900: list(range(0, 900, 31)),
    41: [0, 1, 3, 4, 6, 7, 9, 10, 12, 13, 15, 16, 18, 19, 21, 22, 24, 25, 27, 28, 30, 31, 33, 34, 36, 37, 39, 40],
}


@pytest.fixture(scope="module")
def synthetic_sti(tmp_path_factory):
    """(qa.json, video root): one 30 fps video per SCRIPT_FRAMES length, each frame's brightness its index."""
    import numpy as np

    from videostar_env.video.encode import write_video

    root = tmp_path_factory.mktemp("sti")
    rows = []
    for ident, total in enumerate(SCRIPT_FRAMES):
        frames = np.zeros((total, 16, 16, 3), np.uint8)
        frames[...] = (np.arange(total) * 255 // max(total - 1, 1)).astype(np.uint8)[:, None, None, None]
        write_video(root / f"clip{total}.mp4", frames, 30)
        rows.append({"Video": f"clip{total}.mp4", "ID": ident, "Question": "Where does it go?",
                     "Candidates": json.dumps({"A": "left", "B": "right"}), "Answer": "B", "Task": "Trajectory",
                     "time_start": 0.1, "time_end": 0.5, "Scene": "desktop"})
    path = root / "qa.json"
    path.write_text(json.dumps(rows))
    return path, root


def _sti_env(env_id, qa, root, **kwargs):
    import gymnasium as gym

    import videostar_env  # noqa: F401

    return gym.make(env_id, dataset="sti-bench", dataset_kwargs={"path": str(qa), "video_root": str(root)},
                    num_frames=MAX_FRAMES, frame_size=(32, 32), **kwargs).unwrapped


def test_the_official_mode_reads_the_scripts_frames(synthetic_sti):
    env = _sti_env("VideoSTR-Official-v0", *synthetic_sti)
    for index, (total, expected) in enumerate(SCRIPT_FRAMES.items()):
        obs, info = env.reset(options={"index": index})
        assert info["total_frames"] == total and info["frame_indices"] == expected, total
        assert info["window"] is None  # the script reads the whole video, the window is only in the text
        video = info["messages"][0]["content"][0]
        assert video["frame_indices"] == expected and len(video["video"]) == len(expected)
        # 41 frames: the script sees 28 (qwen_vl_utils floors 29.99... to an even count); the rest stay blank
        assert obs["frames"].shape == (MAX_FRAMES, 32, 32, 3)
        assert not obs["frames"][len(expected):].any() and obs["frames"][len(expected) - 1].any()
    graph = _sti_env("VideoSTR-v0", *synthetic_sti)
    assert graph.reset(options={"index": 2})[1]["frame_indices"] != SCRIPT_FRAMES[301]  # the window's frames


def test_the_scripts_frames_are_qwen_vl_utils_own(synthetic_sti):
    """Each video as opensource_test.py measures it (OpenCV) and qwen_vl_utils reads it (decord)."""
    vision = pytest.importorskip("qwen_vl_utils.vision_process")
    torch = pytest.importorskip("torch")
    cv2 = pytest.importorskip("cv2")
    decord = pytest.importorskip("decord")
    _, root = synthetic_sti
    for total, expected in SCRIPT_FRAMES.items():
        path = str(root / f"clip{total}.mp4")
        capture = cv2.VideoCapture(path)
        fps, count = capture.get(cv2.CAP_PROP_FPS) or 1.0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        capture.release()
        sample_fps = fps if count <= MAX_FRAMES or count == 0 else MAX_FRAMES / (count / fps)  # compute_sample_fps
        reader = decord.VideoReader(path)
        n = vision.smart_nframes({"fps": sample_fps}, len(reader), reader.get_avg_fps())
        assert torch.linspace(0, len(reader) - 1, n).round().long().tolist() == expected, total


def test_the_official_mode_reads_the_reply_as_the_script_does(synthetic_sti):
    official = _sti_env("VideoSTR-Official-v0", *synthetic_sti)
    # the script reads no pattern in "<answer>B</answer>" and compares its last character, ">": wrong
    for reply, score in (("<answer>B</answer>", 0.0), ("B", 1.0), ("(B)", 1.0), ("<answer>(B)</answer>", 1.0),
                         ("<answer>A</answer> B", 1.0)):
        official.reset(options={"index": 0})
        _, reward, terminated, _, info = official.step(reply)
        assert terminated and info["reward"]["answer"] == reward == score == sti_choice_score(reply, "B"), reply
    graph = _sti_env("VideoSTR-v0", *synthetic_sti)  # our graph mode reads the <answer> block
    graph.reset(options={"index": 0})
    assert graph.step("<answer>B</answer>")[4]["reward"]["answer"] == 1.0


def test_the_official_mode_sends_no_system_prompt_of_ours(synthetic_sti):
    official = _sti_env("VideoSTR-Official-v0", *synthetic_sti)
    _, info = official.reset(options={"index": 1})
    # opensource_test.py's one message: the user's video, then the prompt text
    assert [m["role"] for m in info["messages"]] == ["user"]
    assert info["messages"][0]["content"][1]["text"] == official.dataset[1].meta["official_prompt"]
    assert "ground plane" not in official.reset(options={"index": 1})[0]["dialogue"]
    graph = _sti_env("VideoSTR-v0", *synthetic_sti)
    assert [m["role"] for m in graph.reset(options={"index": 1})[1]["messages"]] == ["system", "user"]
    # an official prompt with tools keeps the system prompt: it is where the tools are described
    from videostar_env.tasks.base import sends_system_prompt
    assert sends_system_prompt(official.task, official.dataset[1], ["object_detection"])
    assert not sends_system_prompt(official.task, official.dataset[1], [])


def test_rows_the_script_cannot_score_are_refused_and_named(tmp_path, synthetic_sti):
    qa, root = synthetic_sti
    rows = json.loads(qa.read_text())[:2]
    bad = [dict(rows[0], ID=10, Candidates="{}"), dict(rows[0], ID=11, Answer="F"),
           dict(rows[0], ID=12, Answer="C"), dict(rows[0], ID=13, Answer=None), dict(rows[0], ID=14, Candidates="x")]
    path = tmp_path / "qa.json"
    path.write_text(json.dumps(rows + bad))
    with pytest.warns(UserWarning, match="5 of 7 rows are refused") as caught:
        ds = STIBenchDataset(path, root)
    assert [s.id for s in ds] == ["0", "1"] and ds.annotated == 2
    assert [row for row, _ in ds.refused.rows] == ["10", "11", "12", "13", "14"] and ds.refused.total == 7
    message = str(caught[0].message)
    assert "10: Candidates is empty" in message and "11: Answer 'F' is not one of the letters ABCDE" in message
    assert "12: Answer 'C' is not an option letter ['A', 'B']" in message and "14: Candidates is not a JSON map" in message
