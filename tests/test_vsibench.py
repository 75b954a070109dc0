"""VSI-Bench: the published rows as a dataset, the official prompt, per-question scores and the aggregation.

Golden values were written down from reading the official evaluation, vision-x-nyu/thinking-in-space at commit
51e089c3ae69b9435e9489058610f5b3964c56a8, lmms_eval/tasks/vsibench/utils.py (vsibench_doc_to_text,
vsibench_process_results, vsibench_aggregate_results) and vsibench.yaml, and checked against that code.

The fixture rows follow the published schema of nyu-visionx/VSI-Bench (id, dataset, scene_name, question_type,
question, ground_truth, options, pruned). Row 0 is the published row 0; the other rows' texts follow the
published templates, their answers are made up for the test. The videos are the project's real clips, linked
into the benchmark's <dataset>/<scene_name>.mp4 layout; one scene has no video.
"""

from __future__ import annotations

import json
import math
import os
import shutil

import pytest

from conftest import shared_file
from videostar_env.datasets.vsibench.rows import (DEFAULT_PRE_PROMPT, POST_PROMPTS, VSIBenchDataset, load_rows,
                                         official_prompt, parse_options, video_path)
from videostar_env.knowledge import KnowledgeBase
from videostar_env.datasets.vsibench.scoring import vsibench_score
from videostar_env.datasets.vsibench.aggregate import official_results, vsi_aggregate, vsi_row

DIRECTION_QUESTION = ("If I am standing by the stove and facing the sofa, is the tv to my front-left, front-right, "
                      "back-left, or back-right?\nThe directions refer to the quadrants of a Cartesian plane (if I am "
                      "standing at the origin and facing along the positive y-axis).")
ROWS = [
    {"id": 0, "dataset": "arkitscenes", "scene_name": "41069025", "question_type": "object_counting",
     "question": "How many table(s) are in this room?", "ground_truth": "4", "options": None, "pruned": False},
    {"id": 957, "dataset": "arkitscenes", "scene_name": "41069025", "question_type": "object_rel_direction_hard",
     "question": DIRECTION_QUESTION, "ground_truth": "B",
     "options": ["A. front-left", "B. back-right", "C. back-left", "D. front-right"], "pruned": False},
    {"id": 1201, "dataset": "scannet", "scene_name": "scene0011_00", "question_type": "object_abs_distance",
     "question": "Measuring from the closest point of each object, what is the direct distance between the chair "
                 "and the table (in meters)?", "ground_truth": "1.9", "options": None, "pruned": False},
    {"id": 2310, "dataset": "scannet", "scene_name": "scene0011_00", "question_type": "object_rel_distance",
     "question": "Measuring from the closest point of each object, which of these objects (sofa, table, lamp, tv) "
                 "is the closest to the chair?", "ground_truth": "C",
     "options": ["A. sofa", "B. table", "C. lamp", "D. tv"], "pruned": True},
    {"id": 4001, "dataset": "scannetpp", "scene_name": "0a5c013435", "question_type": "obj_appearance_order",
     "question": "What will be the first-time appearance order of the following categories in the video: "
                 "chair, sink, bed, door?", "ground_truth": "A",
     "options": ["A. chair, sink, bed, door", "B. sink, chair, door, bed", "C. bed, door, chair, sink",
                 "D. door, bed, sink, chair"], "pruned": False},
]
LAYOUT = {("arkitscenes", "41069025"): "clips/arm_wrestling.mp4",
          ("scannet", "scene0011_00"): "clips/flipping_pancake.mkv"}  # an MKV under .mp4: decoders sniff content
MISSING = "scannetpp/0a5c013435.mp4"


@pytest.fixture
def bench(tmp_path):
    """(rows file, video root): the fixture rows as JSONL and the real clips in the benchmark's layout."""
    root = tmp_path / "vsibench"
    for (source, scene), clip in LAYOUT.items():
        target = video_path(root, source, scene)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.symlink(shared_file(clip), target)
        except OSError:  # no symlinks on this file system
            shutil.copyfile(shared_file(clip), target)
    rows = tmp_path / "test.jsonl"
    rows.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return rows, root


def _load(bench, **kwargs):
    rows, root = bench
    with pytest.warns(UserWarning, match="1 of 5 videos are missing"):
        return VSIBenchDataset(rows, root, **kwargs)


def test_loads_rows_and_skips_the_missing_video(bench):
    ds = _load(bench)
    assert ds.name == "vsi-bench"
    assert isinstance(ds.knowledge, KnowledgeBase) and not ds.knowledge.entries
    assert [s.id for s in ds] == ["0", "957", "1201", "2310"]
    assert ds.annotated == 5 and len(ds) == 4
    assert ds.missing.total == 5 and len(ds.missing) == 1 and ds.missing.paths[0].endswith(MISSING)
    assert "1 of 5 videos are missing" in ds.missing.message(ds.name)
    assert all(os.path.isfile(s.video) for s in ds)
    assert ds.question_types() == {"object_rel_direction_hard": 1, "object_rel_distance": 1,
                                   "object_abs_distance": 1, "object_counting": 1}


def test_missing_policies(bench):
    rows, root = bench
    assert len(_load(bench, missing="keep")) == 5
    with pytest.raises(FileNotFoundError, match="1 of 5 videos are missing"):
        VSIBenchDataset(rows, root, missing="error")


def test_videos_follow_the_benchmark_layout_and_decode(bench):
    from videostar_env.video.decode import decode
    sample = _load(bench)[0]
    assert sample.video == str(bench[1] / "arkitscenes" / "41069025.mp4")
    clip = decode(sample.video, 4, (32, 32))
    assert clip.frames.shape == (4, 32, 32, 3)


def test_multiple_choice_sample(bench):
    sample = _load(bench)[1]
    assert (sample.id, sample.label, sample.label_space, sample.dataset, sample.split) == \
        ("957", "B", ("A", "B", "C", "D"), "vsi-bench", "test")
    assert sample.meta["question"] == {
        "type": "object_rel_direction_hard", "kind": "choice", "text": DIRECTION_QUESTION,
        "options": {"A": "front-left", "B": "back-right", "C": "back-left", "D": "front-right"}, "answer": "B",
        "unit": "", "names": [], "times": [], "keyframes": []}
    meta = sample.meta
    assert (meta["window"], meta["scene"], meta["source"], meta["benchmark"], meta["path"], meta["pruned"]) == \
        (None, "41069025", "arkitscenes", "vsi-bench", "arkitscenes/41069025.mp4", False)
    assert meta["frame_sampler"] == "vsi-bench"  # the official mode reads the models' own frames
    assert "num_frames" not in meta  # the official task fixes no frame budget
    assert _load(bench)[3].meta["pruned"] is True


def test_numeric_sample(bench):
    sample = _load(bench, num_frames=32)[2]
    assert (sample.id, sample.label, sample.label_space) == ("1201", "1.9", ())
    question = sample.meta["question"]
    assert (question["type"], question["kind"], question["options"], question["answer"], question["unit"]) == \
        ("object_abs_distance", "number", {}, 1.9, "")
    assert sample.meta["num_frames"] == 32
    assert _load(bench)[0].meta["question"]["answer"] == 4.0


def test_official_prompt_multiple_choice_golden(bench):
    # vsibench_doc_to_text, default kwargs: "\n".join([pre, question, "Options:\n" + "\n".join(options), post]).
    assert _load(bench)[1].meta["official_prompt"] == (
        "These are frames of a video.\n"
        "If I am standing by the stove and facing the sofa, is the tv to my front-left, front-right, back-left, or "
        "back-right?\n"
        "The directions refer to the quadrants of a Cartesian plane (if I am standing at the origin and facing along "
        "the positive y-axis).\n"
        "Options:\n"
        "A. front-left\n"
        "B. back-right\n"
        "C. back-left\n"
        "D. front-right\n"
        "Answer with the option's letter from the given choices directly.")


def test_official_prompt_numeric_golden(bench):
    # vsibench_doc_to_text, default kwargs: pre + "\n" + question + "\n" + post, no options.
    ds = _load(bench)
    assert ds[0].meta["official_prompt"] == ("These are frames of a video.\n"
                                             "How many table(s) are in this room?\n"
                                             "Please answer the question using a single word or phrase.")
    assert ds[2].meta["official_prompt"] == (
        "These are frames of a video.\n"
        "Measuring from the closest point of each object, what is the direct distance between the chair and the "
        "table (in meters)?\n"
        "Please answer the question using a single word or phrase.")


def test_prompt_variants_of_the_yaml():
    assert DEFAULT_PRE_PROMPT == "These are frames of a video."
    assert official_prompt(ROWS[0], "gpt4v") == ("These are frames of a video.\nHow many table(s) are in this room?\n"
                                                "Do not response anything other than a single number!")
    assert official_prompt(ROWS[1], "gemini_api") == official_prompt(ROWS[1])
    assert set(POST_PROMPTS) == {"default", "gemini_api", "gpt4v"}
    with pytest.raises(ValueError, match="variant"):
        official_prompt(ROWS[0], "llava")


def test_rows_from_json_and_parquet_match_jsonl(bench, tmp_path):
    rows, root = bench
    listed = tmp_path / "test.json"
    listed.write_text(json.dumps(ROWS))
    assert load_rows(listed) == load_rows(rows) == ROWS
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    schema = pa.schema([("id", pa.int64()), ("dataset", pa.string()), ("scene_name", pa.string()),
                        ("question_type", pa.string()), ("question", pa.string()), ("ground_truth", pa.string()),
                        ("options", pa.list_(pa.string())), ("pruned", pa.bool_())])
    parquet = tmp_path / "test-00000-of-00001.parquet"
    pq.write_table(pa.Table.from_pylist(ROWS, schema=schema), parquet)
    assert load_rows(parquet) == ROWS
    with pytest.warns(UserWarning):
        from_parquet = VSIBenchDataset(parquet, root)
    assert [(s.id, s.label, s.meta) for s in from_parquet] == [(s.id, s.label, s.meta) for s in _load(bench)]


def test_bad_rows_are_refused(tmp_path):
    path = tmp_path / "rows.json"
    path.write_text(json.dumps([{**ROWS[0], "question_type": "object_speed"}]))
    with pytest.raises(ValueError, match="Unknown question type"):
        VSIBenchDataset(path, tmp_path)
    path.write_text(json.dumps([ROWS[0], ROWS[0]]))
    with pytest.raises(ValueError, match="duplicate"):
        VSIBenchDataset(path, tmp_path, missing="keep")
    with pytest.raises(FileNotFoundError):
        VSIBenchDataset(tmp_path / "absent.parquet", tmp_path)


def test_parse_options():
    assert parse_options(["A. sofa", "B. table, chair", "C.lamp"]) == {"A": "sofa", "B": "table, chair", "C": "lamp"}
    assert parse_options(["sofa", "table"]) == {"A": "sofa", "B": "table"}


@pytest.mark.parametrize("question_type, prediction, truth, official", [
    # Official values of vsibench_process_results for these answers (accuracy or MRA:.5:.95:.05).
    ("object_counting", "4", "4", 1.0),
    ("object_counting", "12", "10", 0.6),  # relative error 0.2: 6 of the 10 official thresholds
    ("object_counting", "11", "10", 0.9),
    ("object_abs_distance", "1.5 meters", "1.9", 0.6),  # first word only: 1.5, relative error 0.21
    ("object_abs_distance", "3.5m", "4", 0.0),  # "3.5m" is no float
    ("room_size_estimation", "30", "35.9", 0.7),
    ("object_rel_direction_hard", "B.", "B", 1.0),
    ("object_rel_distance", "c", "C", 1.0),
    ("route_planning", "C. front", "A", 0.0),
    ("obj_appearance_order", "The answer is A", "A", 0.0),
])
def test_scores_of_fixed_answers_equal_the_official_ones(question_type, prediction, truth, official):
    assert vsibench_score(question_type, prediction, truth) == official


def _rows(scores):
    return [{"question_type": t, "score": s} for t, ss in scores.items() for s in ss]


GOLDEN_SCORES = {  # question type -> per-question scores
    "object_counting": [1.0, 0.6], "object_abs_distance": [0.9], "object_size_estimation": [0.3, 0.0, 0.7],
    "room_size_estimation": [0.7], "object_rel_distance": [1.0, 0.0, 0.0],
    "object_rel_direction_easy": [1.0, 1.0], "object_rel_direction_medium": [0.0, 1.0],
    "object_rel_direction_hard": [0.0], "route_planning": [1.0, 0.0, 0.0, 1.0], "obj_appearance_order": [1.0],
}


def test_aggregation_golden():
    # vsibench_aggregate_results on these rows: a mean per type; relative direction = mean of its three subtype
    # means (1.0, 0.5, 0.0 -> 50, not 3 of 5 questions); overall = mean of the 8 tasks; percent.
    official = official_results(_rows(GOLDEN_SCORES))
    assert official == {
        "overall": 63.33333333333334,
        "object_counting_MRA:.5:.95:.05": 80.0,
        "object_abs_distance_MRA:.5:.95:.05": 90.0,
        "object_size_estimation_MRA:.5:.95:.05": 33.33333333333333,
        "room_size_estimation_MRA:.5:.95:.05": 70.0,
        "object_rel_distance_accuracy": 33.33333333333333,
        "object_rel_direction_accuracy": 50.0,
        "route_planning_accuracy": 50.0,
        "obj_appearance_order_accuracy": 100.0,
        "tabulated_keys": "overall, object_counting_MRA:.5:.95:.05, object_abs_distance_MRA:.5:.95:.05, "
                          "object_size_estimation_MRA:.5:.95:.05, room_size_estimation_MRA:.5:.95:.05, "
                          "object_rel_distance_accuracy, object_rel_direction_accuracy, route_planning_accuracy, "
                          "obj_appearance_order_accuracy",
        "tabulated_results": "63.333, 80.000, 90.000, 33.333, 70.000, 33.333, 50.000, 50.000, 100.000",
    }
    assert list(official) == list(official_results(list(reversed(_rows(GOLDEN_SCORES)))))
    summary = vsi_aggregate(_rows(GOLDEN_SCORES))
    assert summary["overall"] == 63.33333333333334
    assert list(summary["per_type"]) == ["object_counting", "object_abs_distance", "object_size_estimation",
                                         "room_size_estimation", "object_rel_distance", "object_rel_direction",
                                         "route_planning", "obj_appearance_order"]
    assert summary["per_type"]["object_rel_direction"] == 50.0
    assert summary["questions"]["object_rel_direction"] == 5
    assert summary["metric"]["object_counting"] == "MRA:.5:.95:.05"
    assert summary["metric"]["route_planning"] == "accuracy"
    assert summary["official"] == official


def test_aggregation_quirks_of_the_official_code():
    # Missing scores are skipped by the mean (pandas); medium/hard without easy are not merged but still
    # count in the overall mean, and the official table leaves them out; easy alone fails as officially.
    rows = _rows({"object_counting": [1.0, None], "object_rel_direction_medium": [0.5],
                  "object_rel_direction_hard": [0.0]})
    assert official_results(rows) == {"overall": 50.0, "object_counting_MRA:.5:.95:.05": 100.0,
                                      "tabulated_keys": "overall, object_counting_MRA:.5:.95:.05",
                                      "tabulated_results": "50.000, 100.000"}
    assert vsi_aggregate(rows)["per_type"] == {"object_counting": 100.0, "object_rel_direction_medium": 50.0,
                                               "object_rel_direction_hard": 0.0}
    with pytest.raises(KeyError):
        official_results(_rows({"object_rel_direction_easy": [1.0]}))
    with pytest.raises(ValueError, match="Unknown question type"):
        official_results(_rows({"object_speed": [1.0]}))
    with pytest.raises(ValueError, match="no rows"):
        official_results([])
    assert math.isnan(official_results(_rows({"object_counting": [None]}))["overall"])


def test_rows_from_samples_and_per_source(bench):
    ds = _load(bench)
    answers = {"0": "4", "957": "A.", "1201": "1.5 meters", "2310": "C"}
    rows = [vsi_row(s, answers[s.id]) for s in ds]
    assert [(r["id"], r["source"], r["score"]) for r in rows] == \
        [("0", "arkitscenes", 1.0), ("957", "arkitscenes", 0.0), ("1201", "scannet", 0.6), ("2310", "scannet", 1.0)]
    summary = vsi_aggregate(rows, by_source=True)
    # Tasks present: counting 100, abs distance 60, rel distance 100, rel direction (hard only, unmerged) 0.
    assert summary["overall"] == 65.0  # as vsibench_aggregate_results gives for these four rows
    assert summary["per_type"]["object_rel_direction_hard"] == 0.0
    assert summary["by_source"]["arkitscenes"] == {
        "overall": 50.0, "per_type": {"object_counting": 100.0, "object_rel_direction": 0.0},
        "questions": {"object_counting": 1, "object_rel_direction": 1}}
    assert summary["by_source"]["scannet"]["overall"] == 80.0


@pytest.mark.parametrize("env_id", ["VideoSTR-Official-v0", "VideoSTR-v0"])
def test_a_whole_bench_over_the_fixture(bench, tmp_path, env_id, capsys):
    """`videostar bench --dataset vsi-bench`: results, per-type metrics with the official averaging, a report."""
    from videostar_env.cli.main import main

    rows, root = bench
    out = tmp_path / env_id
    with pytest.warns(UserWarning, match="1 of 5 videos are missing"):
        assert main(["bench", "--agent", "guess", "--env-id", env_id, "--dataset", "vsi-bench", "--video-root",
                     str(root), "--annotations", str(rows), "--num-frames", "8", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["overall"]["episodes"] == 4 and metrics["run"]["splits"]["default"]["missing_videos"]["count"] == 1
    assert set(metrics["question_types"]) <= set(r["question_type"] for r in ROWS)
    assert "official" in metrics and "overall" in metrics["official"] and metrics["per_scene"]
    assert (out / "report.html").exists() and len((out / "results.jsonl").read_text().splitlines()) == 4
    assert "mean over question types" in capsys.readouterr().out


# -- the official mode in the env, and the rows the official scoring cannot score ---------------------------------

@pytest.fixture(scope="module")
def synthetic_vsi(tmp_path_factory):
    """(rows file, video root): ROWS[:4] over one short synthetic video per scene, in the benchmark's layout."""
    import numpy as np

    from videostar_env.video.encode import write_video

    root = tmp_path_factory.mktemp("vsi")
    frames = np.zeros((12, 16, 16, 3), np.uint8)
    frames[...] = np.arange(12, dtype=np.uint8)[:, None, None, None] * 20
    for row in ROWS[:4]:
        path = video_path(root, row["dataset"], row["scene_name"])
        if not path.exists():
            write_video(path, frames, 4)
    rows = root / "test.jsonl"
    rows.write_text("".join(json.dumps(r) + "\n" for r in ROWS[:4]))
    return rows, root


def _vsi_env(env_id, rows, root):
    import gymnasium as gym

    import videostar_env  # noqa: F401

    return gym.make(env_id, dataset="vsi-bench", dataset_kwargs={"path": str(rows), "video_root": str(root)},
                    num_frames=8, frame_size=(32, 32)).unwrapped


def test_the_official_mode_sends_no_system_prompt_of_ours(synthetic_vsi):
    official = _vsi_env("VideoSTR-Official-v0", *synthetic_vsi)
    for index in range(len(official.dataset)):
        obs, info = official.reset(options={"index": index})
        # lmms_eval's turn for the task: the frames, then vsibench_doc_to_text; no system instruction is set
        assert [m["role"] for m in info["messages"]] == ["user"]
        assert info["messages"][0]["content"][1]["text"] == official.dataset[index].meta["official_prompt"]
        assert "ground plane" not in obs["dialogue"]
    graph = _vsi_env("VideoSTR-v0", *synthetic_vsi)
    _, info = graph.reset(options={"index": 0})
    assert [m["role"] for m in info["messages"]] == ["system", "user"]
    assert "ground plane" in info["messages"][0]["content"][0]["text"]


def test_the_official_mode_reads_the_models_own_frames(synthetic_vsi):
    # LLaVA-OneVision's load_video: np.linspace(0, total - 1, max_frames_num, dtype=int), the 12 frames truncated
    official = _vsi_env("VideoSTR-Official-v0", *synthetic_vsi)
    _, info = official.reset(options={"index": 0})
    assert info["total_frames"] == 12 and info["frame_indices"] == [0, 1, 3, 4, 6, 7, 9, 11]
    assert info["messages"][0]["content"][0]["frame_indices"] == [0, 1, 3, 4, 6, 7, 9, 11]
    graph = _vsi_env("VideoSTR-v0", *synthetic_vsi)  # our graph modes: the centres of 8 equal segments
    assert graph.reset(options={"index": 0})[1]["frame_indices"] == [0, 2, 3, 5, 6, 8, 9, 11]


def test_the_official_mode_reads_the_whole_reply(synthetic_vsi):
    official = _vsi_env("VideoSTR-Official-v0", *synthetic_vsi)
    # lmms_eval scores the generated text: "<answer>4</answer>" is no number and no letter to it
    for index, reply, score in ((0, "4", 1.0), (0, "<answer>4</answer>", 0.0), (1, "B.", 1.0),
                                (1, "<answer>B</answer>", 0.0)):
        official.reset(options={"index": index})
        _, reward, terminated, _, info = official.step(reply)
        row = ROWS[index]
        assert terminated and reward == score == vsibench_score(row["question_type"], reply, row["ground_truth"])


UNSCORABLE = [  # (row, the reason the warning names)
    ({**ROWS[0], "id": 9000, "ground_truth": "0"}, "9000: numeric ground truth is 0"),
    ({**ROWS[2], "id": 9001, "ground_truth": "0.0"}, "9001: numeric ground truth is 0"),
    ({**ROWS[0], "id": 9002, "ground_truth": "four"}, "9002: numeric ground truth 'four' is not a number"),
    ({**ROWS[2], "id": 9003, "ground_truth": "nan"}, "9003: numeric ground truth 'nan' is not finite"),
    ({**ROWS[2], "id": 9004, "ground_truth": "-1.5"}, "9004: numeric ground truth '-1.5' is negative"),
    ({**ROWS[2], "id": 9005, "ground_truth": None}, "9005: numeric ground truth None is not a number"),
    ({**ROWS[1], "id": 9006, "options": []}, "9006: a multiple-choice question without options"),
    ({**ROWS[1], "id": 9007, "options": None}, "9007: a multiple-choice question without options"),
    ({**ROWS[1], "id": 9008, "ground_truth": "E"}, "9008: answer 'E' is not an option letter"),
    ({**ROWS[1], "id": 9009, "options": ["A. left", "A. right"]}, "9009: option letter A appears twice"),
]


def test_rows_the_official_scoring_cannot_score_are_refused_and_named(synthetic_vsi, tmp_path):
    rows, root = synthetic_vsi
    path = tmp_path / "test.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS[:4] + [row for row, _ in UNSCORABLE]))
    with pytest.warns(UserWarning, match="vsi-bench: 10 of 14 rows are refused") as caught:
        ds = VSIBenchDataset(path, root)
    assert [s.id for s in ds] == ["0", "957", "1201", "2310"] and ds.annotated == 4 and not ds.missing
    assert len(ds.refused) == 10 and ds.refused.total == 14
    message = str(caught[0].message)
    for _, reason in UNSCORABLE:
        assert reason in message


def test_a_ground_truth_of_0_is_refused_at_load_not_mid_episode(synthetic_vsi, tmp_path, capsys):
    """The official MRA divides by the ground truth: a 0 row never reaches env.step; the bench report counts it."""
    from videostar_env.cli.main import main

    rows, root = synthetic_vsi
    path = tmp_path / "test.jsonl"
    zero = {**ROWS[0], "id": 77, "ground_truth": "0"}
    path.write_text("".join(json.dumps(r) + "\n" for r in [zero] + ROWS[:4]))
    with pytest.warns(UserWarning, match="1 of 5 rows are refused.*77: numeric ground truth is 0"):
        env = _vsi_env("VideoSTR-Official-v0", path, root)
    assert "77" not in [s.id for s in env.dataset] and len(env.dataset) == 4
    for index in range(len(env.dataset)):
        env.reset(options={"index": index})
        assert env.step("0")[2]  # a reply of 0 to every question: scored, never raised
    out = tmp_path / "run"
    with pytest.warns(UserWarning, match="1 of 5 rows are refused"):
        assert main(["bench", "--agent", "guess", "--env-id", "VideoSTR-Official-v0", "--dataset", "vsi-bench",
                     "--video-root", str(root), "--annotations", str(path), "--num-frames", "8",
                     "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["run"]["splits"]["default"]["refused_rows"] == {
        "count": 1, "total": 5, "rows": ["77: numeric ground truth is 0: Mean Relative Accuracy divides by it (the "
                                         "official scoring raises ZeroDivisionError)"]}
    assert metrics["overall"]["episodes"] == 4
