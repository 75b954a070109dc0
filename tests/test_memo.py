"""The process's clip memo: every env of a process shares decoded clips, each decoded once, least recently used out."""

import gc
import os
import time
import weakref

import numpy as np
import pytest

from videostar_env.datasets import SyntheticDataset, decode
from videostar_env.video import memo
from videostar_env.video.memo import ArrayMemo, ClipMemo, is_fixed

from test_inflight import concurrently

SIZE = (64, 64)


@pytest.fixture(scope="module")
def videos():
    dataset = SyntheticDataset(split="base", per_class=1)
    return [dataset[i].video for i in range(3)]


@pytest.fixture
def decodes(monkeypatch):
    """The paths memo.py decodes, in order (the real decoder runs, made slow like a long video)."""
    seen = []

    def counted(path, *args, **kwargs):
        seen.append(path)
        time.sleep(0.3)
        return decode(path, *args, **kwargs)

    monkeypatch.setattr(memo, "decode", counted)
    return seen


@pytest.mark.parametrize("keep", [0, 4])
def test_concurrent_requests_for_one_clip_decode_it_once(videos, decodes, keep):
    clips = concurrently([lambda: ClipMemo().clip(videos[0], 8, SIZE, keep=keep)] * 8)
    assert len({id(c) for c in clips}) == 8 and decodes == [videos[0]] * 8  # separate memos share nothing
    shared = ClipMemo()
    clips = concurrently([lambda: shared.clip(videos[0], 8, SIZE, keep=keep)] * 8)
    assert len(decodes) == 9 and all(c is clips[0] for c in clips)
    assert len(shared) == (1 if keep else 0)  # keep=0 shares a decode in flight but keeps nothing


def test_the_memo_keeps_the_latest_clips_and_decodes_an_evicted_one_again(videos, decodes):
    clips = ClipMemo()
    a = clips.clip(videos[0], 8, SIZE, keep=2)
    assert clips.clip(videos[0], 8, SIZE, keep=2) is a
    b = weakref.ref(clips.clip(videos[1], 8, SIZE, keep=2))  # not held here (a held clip would be handed out)
    b_frames = b().frames.copy()
    assert clips.clip(videos[0], 8, SIZE, keep=2) is a  # a is now the most recently used
    clips.clip(videos[2], 8, SIZE, keep=2)  # b goes
    assert len(clips) == 2 and clips.clip(videos[0], 8, SIZE, keep=2) is a and b() is None
    again = clips.clip(videos[1], 8, SIZE, keep=2)
    assert np.array_equal(again.frames, b_frames)
    assert decodes == [videos[0], videos[1], videos[2], videos[1]]
    assert clips.nbytes == 2 * a.frames.nbytes


def test_every_decoding_choice_is_part_of_the_key(videos, decodes):
    clips = ClipMemo()
    base = clips.clip(videos[0], 8, SIZE, "auto", None, keep=8)
    variants = [clips.clip(videos[0], 4, SIZE, "auto", None, keep=8), clips.clip(videos[0], 8, (32, 48), "auto", None, keep=8),
                clips.clip(videos[0], 8, SIZE, "pyav", None, keep=8), clips.clip(videos[0], 8, SIZE, "auto", (0.0, 1.0), keep=8)]
    assert len({id(c) for c in [base, *variants]}) == 5 and len(decodes) == 5
    assert variants[0].frames.shape[0] == 4 and variants[1].frames.shape[1:3] == (32, 48)
    assert clips.clip(videos[0], 8, SIZE, "auto", [0, 1], keep=8) is variants[3]  # a window given as a list


def test_a_rewritten_video_is_decoded_again(videos, decodes, tmp_path):
    path = tmp_path / "video.mp4"
    path.write_bytes(open(videos[0], "rb").read())
    clips = ClipMemo()
    first = clips.clip(str(path), 8, SIZE, keep=4)
    path.write_bytes(open(videos[1], "rb").read())
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))  # a new mtime even on a coarse clock
    second = clips.clip(str(path), 8, SIZE, keep=4)
    assert second is not first and not np.array_equal(first.frames, second.frames)


def test_max_bytes_bounds_the_frames_kept(videos):
    one = decode(videos[0], 8, SIZE).frames.nbytes
    clips = ClipMemo(max_bytes=int(1.5 * one))
    for video in videos:
        clips.clip(video, 8, SIZE, keep=10)
    assert len(clips) == 1 and clips.nbytes == one
    clips.clear()
    assert len(clips) == 0 and clips.nbytes == 0


def test_keep_zero_keeps_nothing_but_hands_out_a_clip_still_held(videos, decodes):
    clips = ClipMemo()
    first = clips.clip(videos[0], 8, SIZE)
    assert clips.clip(videos[0], 8, SIZE) is first and len(clips) == 0 and decodes == [videos[0]]
    with pytest.raises(ValueError, match="read-only"):
        first.frames[0, 0, 0, 0] = 1
    frames = first.frames.copy()
    del first
    gc.collect()
    again = clips.clip(videos[0], 8, SIZE)  # nothing held it: decoded again, the same frames
    assert decodes == [videos[0]] * 2 and np.array_equal(again.frames, frames)
    clips.clear()
    assert clips.clip(videos[0], 8, SIZE) is not again  # clear forgets held clips too


def test_a_missing_video_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        ClipMemo().clip(str(tmp_path / "missing.mp4"), 8, SIZE, keep=4)


def test_a_decoder_error_reaches_every_waiter_and_nothing_is_kept(tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    clips, errors = ClipMemo(), []

    def call():
        try:
            clips.clip(str(broken), 8, SIZE, keep=4)
        except Exception as exc:  # the decoder's VideoDecodeError, naming the file
            errors.append(str(exc))

    concurrently([call] * 4)
    assert len(errors) == 4 and all("broken.mp4" in e for e in errors) and len(clips) == 0



def test_an_array_memo_derives_once_per_fixed_array_and_forgets_it_with_the_array():
    derived = []
    memo = ArrayMemo(lambda a: derived.append(len(a)) or a.sum())
    fixed = np.arange(6)
    fixed.setflags(write=False)
    assert is_fixed(fixed) and memo(fixed) == memo(fixed) == 15 and len(derived) == 1 and len(memo) == 1
    del fixed
    gc.collect()
    assert len(memo) == 0  # gone with its array, so a new array at the same address is derived afresh
    writable, base = np.arange(6), np.arange(6)
    view = base[:]
    view.setflags(write=False)  # read-only, but its base may still change
    assert not is_fixed(writable) and not is_fixed(view)
    assert is_fixed(np.frombuffer(b"\x01\x02", np.uint8))  # viewing bytes, as np.asarray(PIL image) does
    memo(writable), memo(writable), memo(view)
    base[0] = 100
    assert memo(view) == 115 and len(derived) == 5 and len(memo) == 0


def test_kept_results_keep_the_most_recent_values_merge_concurrent_ones_and_keep_no_failure():
    import threading

    from videostar_env.video.memo import KeptResults

    results, runs = KeptResults(2), []

    def compute(value):
        def run():
            runs.append(value)
            time.sleep(0.2)  # long enough for the other caller to arrive meanwhile
            return value
        return run

    hows = []
    threads = [threading.Thread(target=lambda: hows.append(results.get("a", compute(1))[1])) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(hows) == ["computed", "merged"] and runs == [1]
    assert results.get("a", compute(9)) == (1, "kept")
    results.get("b", compute(2))
    results.get("c", compute(3))  # the size is 2: "a", least recently used, is dropped
    assert results.get("a", compute(4)) == (4, "computed")

    def fail():
        raise ConnectionError("the model server is down")
    with pytest.raises(ConnectionError):
        results.get("d", fail)
    assert results.get("d", compute(5)) == (5, "computed")  # the failure was not kept
    results.clear()
    assert results.get("c", compute(6)) == (6, "computed")
    assert KeptResults(0).get("x", compute(7)) == (7, "computed")  # size 0 keeps nothing
