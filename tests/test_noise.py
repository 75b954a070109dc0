"""A command says each thing once, in plain words: no empty folders, no native library chatter, no colour codes."""

import os
import re
from pathlib import Path

import numpy as np
import pytest

from videostar_env.cli import main
from videostar_env.errors import plain, warn
from videostar_env.video import decode as decode_module
from videostar_env.video.decode import VideoDecodeError, decode, native_stderr_muted

from conftest import shared_file


@pytest.mark.parametrize("command", [["bench", "--agent", "nosuch"], ["demo", "--agents", "nosuch"]])
def test_a_command_that_fails_at_start_leaves_no_output_folder(command, tmp_path, capsys):
    out = tmp_path / "runs" / "x"
    assert main([*command, "--out", str(out)]) == 2
    assert "unknown agent 'nosuch'" in capsys.readouterr().err
    assert not out.exists() and not out.parent.exists()


def test_a_broken_video_is_said_by_its_error_not_by_the_decoder(tmp_path, capfd):
    pytest.importorskip("decord")
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00not a video" * 100)
    with pytest.raises(VideoDecodeError, match="broken.mp4"):
        decode(str(broken), 4, (32, 32))
    out, err = capfd.readouterr()
    assert "moov atom" not in out + err and "ERROR opening" not in out + err


def test_muting_native_output_nests_and_gives_stderr_back(capfd):
    with native_stderr_muted():
        with native_stderr_muted():
            os.write(2, b"inner\n")
        os.write(2, b"outer\n")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"


def test_ultralytics_never_prints_a_loading_line_per_model_copy(capfd):
    pytest.importorskip("ultralytics", reason="the yolo extra is not installed")
    pytest.importorskip("ai_edge_litert", reason="the TFLite runtime (ai-edge-litert) is not installed")
    from videostar_env.backends import YOLOVision

    vision = YOLOVision(str(shared_file("weights/yolo11n_int8.tflite")),
                        str(shared_file("weights/yolo11n-pose_int8.tflite")), device="cpu", replicas=2)
    vision.load_models(["detect", "pose"])
    out, err = capfd.readouterr()
    assert "Loading" not in out + err and "XNNPACK" not in out + err


def test_the_package_warns_in_plain_text():
    assert plain("\x1b[33mWARN: careful\x1b[0m") == "WARN: careful"
    with pytest.warns(UserWarning) as caught:
        warn("\x1b[31mred\x1b[0m text")
    assert str(caught[0].message) == "red text"


def video_16_9(path):
    av = pytest.importorskip("av")
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=8)
        stream.width, stream.height, stream.pix_fmt = 64, 36, "yuv420p"
        for k in range(8):
            frame = av.VideoFrame.from_ndarray(np.full((36, 64, 3), 30 * k, np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return str(path)


def test_a_frame_size_that_stretches_the_video_is_said_once_with_the_size_that_keeps_its_shape(tmp_path, monkeypatch):
    video = video_16_9(tmp_path / "wide.mp4")
    monkeypatch.setattr(decode_module, "_shape_checked", [])
    with pytest.warns(UserWarning, match=r"wide.mp4 is 36x64: the frames stretch it .* \(--frame-size 32x56\)"):
        decode(video, 4, (32, 32))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        decode(video, 4, (32, 32))  # once a process
        monkeypatch.setattr(decode_module, "_shape_checked", [])
        decode(video, 4, (32, 56))  # its own shape: nothing to say


def test_every_warning_goes_through_the_plain_text_helper():
    root = Path(__file__).resolve().parents[1]
    files = [f for folder in ("videostar_env", "agents", "trainers") for f in (root / folder).rglob("*.py")
             if f.name != "errors.py"]
    direct = [str(f.relative_to(root)) for f in files
              if re.search(r"\bwarnings\.warn\(|logger\.warn\(", f.read_text())]
    assert direct == [], f"warn with videostar_env.errors.warn instead: {direct}"
