"""What `videostar bench` prints and reports besides the scores: missing videos, the paper's rows, warnings."""

import json

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
