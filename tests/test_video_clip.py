"""The video_clip tool: a sub-clip decoded from the source at the times asked, returned as a video.

Its frames are the decoder's own for the window asked (never the observation's frames resampled),
its arguments are checked with messages naming the argument, asking for more than the source has
is capped with a note, a region is cropped from source pixels, its result survives the cache,
and a token budget shows fewer frames or refuses it with the tokens it needs.
"""

import pickle

import numpy as np
import pytest
from PIL import Image

from conftest import WRITTEN, shared_file, written_video
from videostar_env.clients.tokens import ReplyRoom, TokenMeter, make_encoder, video_tokens
from videostar_env.datasets.sample import VideoSample
from videostar_env.knowledge import KnowledgeBase
from videostar_env.tools import DEFAULT_TOOLS, Toolbox, registered_tools
from videostar_env.tools.cache import CacheConfig
from videostar_env.tools.clip import MAX_CLIP_FRAMES, episode_window
from videostar_env.video.decode import VideoDecodeError, decode, decode_indices, window_indices

SIZE = (112, 144)


def context(name: str, box: Toolbox, window=None):
    """The tool context of an episode on a test-written video (WRITTEN) or a shared clip (16 frames at SIZE, over
    `window` or the whole video)."""
    path = str(written_video(name) if name in WRITTEN else shared_file(f"clips/{name}"))
    clip = decode(path, 16, SIZE, window=window)
    sample = VideoSample(id=name, video=path, label="x", label_space=("x",), dataset="clips", split="test")
    return box.context(sample, clip, ("x",), KnowledgeBase([]))


def qwen_video_processor():
    """Qwen2.5-VL's video processor at its default pixel range (128·28² to 768·28² a frame), given explicitly: in
    transformers 5.10.4, building one with min_pixels/max_pixels (as tiny_qwen does) rewrites the class's default."""
    from transformers import Qwen2VLVideoProcessor

    return Qwen2VLVideoProcessor(size={"shortest_edge": 128 * 28 * 28, "longest_edge": 768 * 28 * 28})


@pytest.fixture
def box():
    toolbox = Toolbox.build(["video_clip"], tool_cache=None)
    yield toolbox
    toolbox.close()


def test_video_clip_is_registered_but_in_no_default_tool_set():
    from videostar_env.tasks import make_task

    assert "video_clip" in registered_tools() and "video_clip" not in DEFAULT_TOOLS
    for task in ("action_recognition", "spatiotemporal"):
        assert "video_clip" not in make_task(task).default_tools


@pytest.mark.parametrize("arguments, named", [
    ({"start": 2.0, "end": 1.5}, "'end' (1.5 s) must be after 'start' (2.0 s)"),
    ({"start": 1.0, "end": 1.0}, "'end' (1.0 s) must be after 'start'"),
    ({"start": 0.5, "end": 60.0}, "'end' (60.0 s) is outside the episode's window, 0.00-6.40 s"),
    ({"start": 30.0, "end": 31.0}, "'start' (30.0 s) is outside the episode's window"),
    ({"start": -1, "end": 1.0}, "'start': -1 is less than the minimum of 0"),
    ({"start": 0.5, "end": 1.5, "fps": 4, "frames": 4}, "give either 'fps' or 'frames', not both"),
    ({"start": 0.5, "end": 1.5, "fps": 0}, "'fps': 0 is less than or equal to the minimum of 0"),
    ({"start": 0.5, "end": 1.5, "frames": MAX_CLIP_FRAMES + 1}, f"'frames': {MAX_CLIP_FRAMES + 1} is greater"),
    ({"start": 0.5, "end": 1.5, "region": [10, 10, 400, 100]}, "'region' [10, 10, 400, 100] must be [x1, y1, x2, y2]"),
    ({"start": 0.5, "end": 1.5, "region": [50, 10, 20, 100]}, "with 0 <= x1 < x2 <= 320 and 0 <= y1 < y2 <= 240"),
    ({"start": 0.5, "end": 1.5, "region": [10, 10, 20]}, "'region': [10, 10, 20] is too short"),
    ({"start": 0.5, "end": 1.5, "seconds": 3}, "Additional properties are not allowed ('seconds' was unexpected)"),
])
def test_video_clip_argument_errors_are_tool_errors_naming_the_argument(box, arguments, named):
    ctx = context("drum.mp4", box)  # 80 frames at 12.5 fps: 0-6.4 s, 320x240
    record = box.run("video_clip", arguments, ctx)
    assert not record.ok and record.videos == []
    assert record.text.startswith("Error: ") and named in record.text, record.text


def test_video_clip_outside_the_samples_window_is_refused(box):
    ctx = context("swing.avi", box, window=(2.5, 4.25))
    assert episode_window(ctx.clip) == (2.5, 4.25)
    record = box.run("video_clip", {"start": 2.0, "end": 3.0}, ctx)
    assert not record.ok and "'start' (2.0 s) is outside the episode's window, 2.50-4.25 s" in record.text
    assert box.run("video_clip", {"start": 2.5, "end": 4.25, "frames": 4}, ctx).ok


WINDOWS = [(0.37, 1.91, {"fps": 5.5}), (1.25, 2.05, {"frames": 7}), (2.6, 3.15, {}), (0.1, 0.93, {"fps": 12})]


@pytest.mark.parametrize("name", sorted(WRITTEN))
@pytest.mark.parametrize("start, end, ask", WINDOWS)
def test_video_clip_frames_timestamps_and_indices_are_the_decoders(box, name, start, end, ask):
    check_clip_against_the_decoder(box, name, start, end, ask)


def check_clip_against_the_decoder(box, name, start, end, ask):
    """A clip of start..end: the decoder's indices, timestamps and frames (also read by PyAV), inside the window."""
    ctx = context(name, box)
    record = box.run("video_clip", {"start": start, "end": end, **ask}, ctx)
    assert record.ok, record.text
    (clip,) = record.videos
    source_fps, total = ctx.clip.fps, ctx.clip.total_frames
    count = round((end - start) * ask["fps"]) if "fps" in ask else ask.get("frames", 8)
    # The decoder's own choice for that window and count, and those frames read afresh from the source, in one
    # forward pass (decode's seeks may return another frame now and then on AVI files: decode.EXACT_SPAN).
    expected = decode(ctx.sample.video, count, SIZE, window=(start, end))
    assert list(clip.indices) == list(expected.indices) == window_indices(total, source_fps, count, (start, end))
    assert clip.timestamps == expected.timestamps == tuple(i / source_fps for i in clip.indices)
    assert np.array_equal(clip.frames, decode_indices(ctx.sample.video, clip.indices, SIZE).frames)
    every = decode_indices(ctx.sample.video, range(clip.indices[0], clip.indices[-1] + 1), SIZE, backend="pyav")
    pyav = every.frames[[i - clip.indices[0] for i in clip.indices]]
    assert np.abs(clip.frames.astype(int) - pyav).mean() < 3  # the same frames by PyAV (another scaler)
    assert clip.fps == source_fps and clip.total_frames == total and clip.window == (start, end)
    # Within the window asked (a frame counts from the moment it is shown), not the observation's frames resampled.
    assert all(start - 1 / source_fps < t < end for t in clip.timestamps)
    assert set(clip.indices) - set(ctx.clip.indices)
    assert record.data["frame_indices"] == list(clip.indices) and record.data["timestamps"] == list(clip.timestamps)
    assert f"A video of {count} frames from {start} to {end} s" in record.text


def test_video_clip_fps_above_the_sources_is_capped_at_every_source_frame_with_a_note(box):
    ctx = context("swing.avi", box)  # 25 fps
    record = box.run("video_clip", {"start": 1.3, "end": 1.9, "fps": 60}, ctx)
    assert record.ok
    indices = list(record.videos[0].indices)
    assert indices == list(range(32, 48))  # every source frame from 1.3 s (frame 32 shows 1.28-1.32 s) to 1.9 s
    assert "Note: fps=60 is above the video's 25.00 fps: capped at 25.00 fps (every source frame)" in record.text
    assert record.data["notes"] and record.data["frames"] == 16

    more = box.run("video_clip", {"start": 1.3, "end": 1.5, "frames": 20}, ctx)
    assert list(more.videos[0].indices) == list(range(32, 38))
    assert "frames=20 is more than the 6 source frames between 1.3 and 1.5 s: capped at 6" in more.text

    long = box.run("video_clip", {"start": 0.0, "end": 4.7, "fps": 25}, ctx)
    assert len(long.videos[0].indices) == MAX_CLIP_FRAMES and f"the {MAX_CLIP_FRAMES} a clip may hold" in long.text


def test_video_clip_region_is_cropped_from_source_pixels_and_resized_to_the_frame_size(box):
    ctx = context("drum.mp4", box)
    record = box.run("video_clip", {"start": 2.2, "end": 3.1, "frames": 3, "region": [40.5, 16, 200, 180]}, ctx)
    assert record.ok, record.text
    (clip,) = record.videos
    source = decode_indices(ctx.sample.video, clip.indices, (240, 320)).frames
    crops = [np.asarray(Image.fromarray(np.ascontiguousarray(f[16:180, 40:200])).resize((SIZE[1], SIZE[0]),
                                                                                          Image.BILINEAR))
             for f in source]
    assert clip.frames.shape == (3, *SIZE, 3) and np.array_equal(clip.frames, np.stack(crops))
    assert record.data["region"] == [40, 16, 200, 180] and "cropped to [40, 16, 200, 180] of the source" in record.text


def test_video_clip_cached_second_call_returns_the_same_frames(tmp_path):
    arguments = {"start": 0.55, "end": 2.35, "fps": 3}
    results = []
    for _ in range(2):  # a fresh toolbox each time: the second reads the cache's pickled result
        box = Toolbox.build(["video_clip"], tool_cache=CacheConfig(directory=str(tmp_path / "cache")))
        results.append(box.run("video_clip", arguments, context("swing.avi", box)))
        box.close()
    first, second = results
    assert first.ok and not first.cached and second.cached
    assert second.text == first.text and second.data == first.data
    (a,), (b,) = first.videos, second.videos
    assert b.indices == a.indices and b.timestamps == a.timestamps and b.fps == a.fps and b.window == a.window
    assert np.array_equal(a.frames, b.frames) and not b.frames.flags.writeable


def test_video_clip_survives_a_pickle_round_trip_with_its_metadata(box):
    result = box.tools["video_clip"](context("drum.mp4", box), start=1.0, end=2.0, frames=4)
    copy = pickle.loads(pickle.dumps(result))
    (a,), (b,) = result.videos, copy.videos
    assert (b.indices, b.fps, b.total_frames, b.path, b.window) == (a.indices, a.fps, a.total_frames, a.path, a.window)
    assert np.array_equal(a.frames, b.frames)


def test_video_tokens_match_qwen2_vl_video_processors_grid():
    processor = qwen_video_processor()
    for frames, height, width in [(8, 112, 144), (7, 128, 128), (1, 240, 320), (32, 448, 448), (3, 36, 1000)]:
        video = np.zeros((frames, height, width, 3), np.uint8)
        grid = processor(videos=[video], return_tensors="np")["video_grid_thw"][0]
        assert video_tokens(frames, height, width) == int(np.prod(grid)) // 4 + 2, (frames, height, width, grid)
    # Two frames make one temporal patch: an odd count costs what the next even count does.
    assert video_tokens(7, 112, 144) == video_tokens(8, 112, 144) > video_tokens(6, 112, 144)


@pytest.fixture(scope="module")
def meter():
    return TokenMeter(make_encoder("qwen"))


def test_video_clip_that_does_not_fit_the_budget_shows_fewer_frames_saying_so(box, meter):
    ctx = context("drum.mp4", box)
    whole = box.run("video_clip", {"start": 1.1, "end": 3.3, "frames": 12}, ctx)
    needs = meter.tool_reply(whole.text, [], whole.videos)
    room = ReplyRoom(needs - 3 * video_tokens(2, *SIZE) // 2, needs + 1000, meter)  # room for about 8 frames
    record = box.run("video_clip", {"start": 1.1, "end": 3.3, "frames": 12}, ctx, room)
    assert record.ok and room.fits(record.text, [], record.videos)
    (clip,) = record.videos
    assert 1 <= len(clip.indices) < 12 and set(clip.indices) <= set(whole.videos[0].indices)
    assert clip.timestamps == tuple(i / clip.fps for i in clip.indices)
    assert f"Shortened to fit your token budget: the video shows {len(clip.indices)} of 12 frames" in record.text
    more = whole.videos[0].subset(range(min(len(clip.indices) + 2, 12)))
    assert not room.fits(record.text, [], [more])  # one more pair of frames would not have fitted
    assert record.data == whole.data  # the data stays whole


def test_video_clip_that_does_not_fit_even_one_frame_is_refused_with_the_tokens_it_needs(box, meter):
    ctx = context("drum.mp4", box)
    whole = box.run("video_clip", {"start": 1.1, "end": 3.3, "frames": 12}, ctx)
    needs = meter.tool_reply(whole.text, [], whole.videos)
    room = ReplyRoom(40, 600, meter)
    record = box.run("video_clip", {"start": 1.1, "end": 3.3, "frames": 12}, ctx, room)
    assert not record.ok and record.videos == []
    assert f"the video_clip reply needs {needs} tokens, but only 40 of the 600 tokens left" in record.text


def test_video_clip_is_left_out_of_precompute_which_runs_tools_without_arguments(tmp_path):
    from videostar_env import VideoToolEnv
    from videostar_env.jobs.precompute import precompute

    env = VideoToolEnv(tools=["pose_estimation", "video_clip"], tool_cache=CacheConfig(directory=str(tmp_path)))
    report = precompute(env.config, None, range(1))
    assert set(report.computed) | set(report.reused) == {"pose_estimation"} and not report.failed
    with pytest.raises(ValueError, match=r"tools \['video_clip'\] need arguments only the policy gives"):
        precompute(env.config, ["video_clip"], range(1))
    env.close()


def test_decoder_reads_exactly_the_indices_given_and_names_one_past_the_end():
    path = str(written_video("swing.avi"))  # 120 frames
    clip = decode_indices(path, [119, 5, 6], SIZE, window=(0.1, 4.7))
    whole = decode(path, 120, SIZE)  # every frame, in order
    assert clip.indices == (119, 5, 6) and clip.window == (0.1, 4.7)
    assert np.array_equal(clip.frames, whole.frames[[119, 5, 6]])
    with pytest.raises(VideoDecodeError, match="frame 120 asked for, but the video has 120 frames"):
        decode_indices(path, [0, 120], SIZE)
    with pytest.raises(ValueError, match="one or more frame indices >= 0"):
        decode_indices(path, [], SIZE)
    assert clip.subset([2, 0]).indices == (6, 119)
    with pytest.raises(ValueError, match="positions must name 1 to 3 of the clip's frames"):
        clip.subset([3])
