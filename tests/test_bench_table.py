"""What `videostar bench` prints and reports besides the scores: missing videos, the paper's rows, warnings."""

import json
import subprocess
import sys

import pytest

from videostar_env.cli import main
from videostar_env.datasets import SyntheticDataset


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    """Four synthetic videos, an unreadable one and one that is not on disk."""
    folder = tmp_path_factory.mktemp("manifest")
    samples = list(SyntheticDataset(per_class=1))[:4]
    rows = [{"video": s.video, "label": s.label, "annotations": s.meta["annotations"]} for s in samples]
    (folder / "broken.mp4").write_bytes(b"\x00not a video" * 100)
    for name in ("broken.mp4", "gone.mp4"):
        rows.append({"video": str(folder / name), "label": "wave", "annotations": samples[0].meta["annotations"]})
    path = folder / "manifest.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    return path


def bench(manifest, out, *more):
    return main(["bench", "--dataset", "manifest", "--annotations", str(manifest), "--tools", "pose_estimation",
                 "--in-order", "--out", str(out), *more])


def test_missing_videos_are_a_row_of_the_table_and_a_section_of_the_report(manifest, tmp_path, capsys):
    with pytest.warns(UserWarning, match="1 of 6 videos are missing"):
        assert bench(manifest, tmp_path / "run") == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"videos missing on disk (not played) │ 1 of 6, e.g. {manifest.parent / 'gone.mp4'}" in out
    assert "unreadable videos (not played) │ 1, e.g. VideoDecodeError: cannot decode" in out
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["missing_videos"] == {"count": 1, "total": 6, "examples": [str(manifest.parent / "gone.mp4")]}
    assert "Missing videos: 1 of 6 not on disk" in (tmp_path / "run" / "report.html").read_text()


def test_warnings_are_one_plain_line_each_and_the_decoders_say_nothing(manifest, tmp_path):
    command = [sys.executable, "-m", "videostar_env.cli", "bench", "--dataset", "manifest", "--annotations",
               str(manifest), "--tools", "pose_estimation", "--out", str(tmp_path / "run")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert "\x1b" not in done.stderr and lines, done.stderr
    assert all(line.startswith("videostar bench: warning: ") for line in lines), done.stderr
    assert any("1 of 6 videos are missing" in line for line in lines)
    assert any("R_sub will always be 0" in line for line in lines)  # gym.logger.warn's colours are gone too


def test_the_heuristic_agent_on_other_videos_says_plainly_that_its_scores_mean_nothing(manifest, tmp_path, capsys):
    assert bench(manifest, tmp_path / "run") == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Note: the heuristic agent is only meaningful on the synthetic dataset: on manifest" in out
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert "only meaningful on the synthetic dataset" in metrics["run"]["caveat"]
    assert "The heuristic agent is only meaningful on the synthetic dataset" in (tmp_path / "run" / "report.html").read_text()
    assert main(["bench", "--episodes", "2", "--out", str(tmp_path / "synthetic")]) == 0
    assert "Note:" not in capsys.readouterr().out  # on the synthetic data its scores mean what they say


def test_the_papers_rows_appear_only_for_the_papers_datasets(manifest, tmp_path):
    assert bench(manifest, tmp_path / "run") == 0
    report = (tmp_path / "run" / "report.html").read_text()
    assert "The paper has no row for manifest" in report
    for dataset in ("hmdb51", "ucf101", "kinetics", "ssv2"):
        assert f"<td>{dataset}" not in report


def test_the_demo_says_it_too_and_a_broken_video_is_one_line(manifest, tmp_path, capsys):
    readable = tmp_path / "readable.jsonl"
    readable.write_text("\n".join(line for line in manifest.read_text().splitlines() if "broken" not in line))
    demo = ["demo", "--dataset", "manifest", "--tools", "pose_estimation", "--agents", "heuristic,no-tool",
            "--str-agents", "", "--episodes", "1", "--out", str(tmp_path)]
    assert main([*demo, "--annotations", str(readable)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert out.count("Note: the heuristic agent is only meaningful on the synthetic dataset: on manifest") == 1
    assert main([*demo, "--annotations", str(manifest), "--episodes", "6"]) == 2  # the demo plays every video
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot decode" in err and "broken.mp4" in err
