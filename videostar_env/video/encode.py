"""Writing frames to a video file: the one encoder of the synthetic datasets."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..paths import atomic_path


def write_video(path: Path, frames: np.ndarray, fps: int) -> None:
    """Encode frames to an H.264 mp4 atomically; single-threaded so the bytes do not depend on the machine."""
    import av

    with atomic_path(path) as tmp, av.open(tmp, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18", "preset": "veryfast", "g": str(fps), "threads": "1"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
