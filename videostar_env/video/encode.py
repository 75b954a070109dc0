"""Writing frames to a video file: the one encoder of the synthetic datasets."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..paths import atomic_path


def write_video(path: Path, frames: np.ndarray, fps: int) -> None:
    """Encode frames to an H.264 mp4 atomically: the same frames give the same bytes in any process, on any machine."""
    import av

    with atomic_path(path) as tmp, av.open(tmp, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        # No rate-control lookahead (nor the macroblock tree that needs it): with it, the same frames encoded twice
        # in one process came out different (decoded pixels up to 34 grey levels apart, more often the busier the
        # process's memory), so a synthetic video depended on what else the process had done.
        stream.options = {"crf": "18", "preset": "veryfast", "g": str(fps),
                          "x264-params": "threads=1:rc-lookahead=0:mbtree=0"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
