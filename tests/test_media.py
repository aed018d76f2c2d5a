"""Media layer correctness: rotation, audio, timestamps, pixel formats, colour, odd sizes,
errors, atomic output and streaming memory."""

from __future__ import annotations

import tracemalloc
from fractions import Fraction

import av
import numpy as np
import pytest
from mediagen_extra import (
    corner_colors,
    decoded_audio,
    first_sound,
    make_audio_only,
    make_av,
    make_marker_video,
    make_solid_video,
    stream_info,
    video_times,
)

from mediagen import make_video, pattern, psnr
from reelsmith.errors import InputError, ProcessingError, UnsupportedMediaError
from reelsmith.media import (
    AudioCarrier,
    ColorInfo,
    Frame,
    MediaInfo,
    VideoReader,
    VideoWriter,
    audio_plan,
    probe,
    resolve_codec,
)


def _copy(src, dst, **kw):
    """Decode ``src`` and encode it again with VideoWriter (the engine's identity pass)."""
    info = probe(src)
    keep = kw.pop("keep_depth", False)
    w, h = info.display_size
    with VideoWriter(dst, width=w, height=h, fps=info.fps, color=info.color,
                     audio_source=str(src), **kw) as wr:
        for fr in VideoReader(src, keep_depth=keep):
            wr.write(fr.image, fr.time)
    return wr


# ---------------------------------------------------------------- rotation

def test_probe_reports_display_rotation(tmp_path):
    p = make_video(tmp_path / "rot.mp4", rotation=90, seconds=0.4, audio=False)
    info = probe(p)
    assert info.rotation == 90
    assert (info.width, info.height) == (160, 96)
    assert info.display_size == (96, 160)
    frames = list(VideoReader(p))
    assert frames[0].image.shape == (160, 96, 3)


def test_rotation_sign_with_phone_display_matrix(tmp_path):
    # The matrix an iPhone writes for a portrait clip: "rotate 90 degrees clockwise to
    # display" (QuickTime tkhd a=0 b=1 c=-1 d=0, fixed point 16.16 / 2.30).
    phone = [0, 65536, 0, -65536, 0, 0, 0, 0, 1 << 30]
    p = make_marker_video(tmp_path / "phone.mp4", matrix=phone)
    assert probe(p).rotation == 270  # counter-clockwise convention
    img = next(iter(VideoReader(p))).image
    assert img.shape[:2] == (64, 32)  # portrait after rotation
    # Clockwise quarter turn: top-left -> top-right, top-right -> bottom-right,
    # bottom-left -> top-left.
    assert corner_colors(img) == {"tl": "b", "tr": "r", "br": "g", "bl": "-"}


@pytest.mark.parametrize("rotation,expected", [
    (90, {"tl": "g", "tr": "-", "br": "b", "bl": "r"}),   # counter-clockwise
    (180, {"tl": "-", "tr": "b", "br": "r", "bl": "g"}),
    (270, {"tl": "b", "tr": "r", "br": "g", "bl": "-"}),
])
def test_reader_outputs_upright_pixels(tmp_path, rotation, expected):
    p = make_marker_video(tmp_path / f"r{rotation}.mp4", rotation=rotation)
    info = probe(p)
    assert info.rotation == rotation
    img = next(iter(VideoReader(p))).image
    assert img.shape[:2] == (info.display_size[1], info.display_size[0])
    assert corner_colors(img) == expected
    raw = next(iter(VideoReader(p, rotate=False))).image
    assert corner_colors(raw) == {"tl": "r", "tr": "g", "br": "-", "bl": "b"}


def test_writer_writes_upright_without_rotation_metadata(tmp_path):
    src = make_marker_video(tmp_path / "in.mp4", rotation=90)
    out = tmp_path / "out.mp4"
    _copy(src, out, crf=0)
    info = probe(out)
    assert info.rotation == 0
    assert (info.width, info.height) == (32, 64)
    img = next(iter(VideoReader(out))).image
    assert corner_colors(img) == {"tl": "g", "tr": "-", "br": "b", "bl": "r"}


def test_reader_size_is_in_display_orientation(tmp_path):
    p = make_marker_video(tmp_path / "r.mp4", rotation=90)
    img = next(iter(VideoReader(p, size=(16, 32)))).image
    assert img.shape == (32, 16, 3)


# ---------------------------------------------------------------- audio

def test_audio_copied_untouched_and_duration_kept(clip, tmp_path):
    out = tmp_path / "o.mp4"
    wr = _copy(clip, out)
    assert wr.audio_mode == "copy" and wr.audio_copied
    src, dst = stream_info(clip), stream_info(out)
    assert dst["audio_codec"] == "aac"
    assert abs(dst["container_duration"] - src["container_duration"]) <= 1 / 25 + 1e-3
    assert abs(dst["audio_duration"] - src["audio_duration"]) <= 1 / 25
    # Packets are byte-identical: no re-encode happened.
    def payloads(p):
        with av.open(str(p)) as c:
            return [bytes(k) for k in c.demux(c.streams.audio[0]) if k.size]
    a, b = payloads(clip), payloads(out)
    assert len(b) >= len(a) - 1 and a[5:20] == b[5:20]


def test_mp3_in_mp4_is_copied(tmp_path):
    src = make_video(tmp_path / "mp3.mp4", seconds=1.0, audio_codec="mp3")
    assert probe(src).audio_codec == "mp3"  # not the decoder name "mp3float"
    assert audio_plan(src, tmp_path / "x.mp4").mode == "copy"
    out = tmp_path / "o.mp4"
    wr = _copy(src, out)
    assert wr.audio_mode == "copy"
    assert stream_info(out)["audio_codec"].startswith("mp3")


@pytest.mark.parametrize("suffix,audio_codec,container_in,expected", [
    (".mp4", "pcm_s16le", ".mov", "aac"),   # PCM is not allowed in MP4
    (".webm", "aac", ".mp4", "opus"),       # WebM takes only Opus/Vorbis
    (".mkv", "aac", ".mp4", "copy"),        # Matroska takes anything
])
def test_audio_transcode_rules(tmp_path, suffix, audio_codec, container_in, expected):
    src = make_video(tmp_path / f"in{container_in}", seconds=1.0, audio_codec=audio_codec)
    out = tmp_path / f"out{suffix}"
    plan = audio_plan(src, out)
    codec = "vp9" if suffix == ".webm" else "h264"
    wr = _copy(src, out, codec=codec)
    info = stream_info(out)
    if expected == "copy":
        assert plan.copied and wr.audio_copied
        assert info["audio_codec"] == audio_codec
    else:
        assert plan.mode == "transcode" and plan.output_codec == expected
        assert wr.audio_mode == f"transcode->{'libopus' if expected == 'opus' else 'aac'}"
        assert expected in info["audio_codec"]
    samples, rate, _ = decoded_audio(out)
    assert abs(len(samples) / rate - 1.0) <= 1 / 25 + 0.03  # priming/padding tolerance
    # Still a 440 Hz tone.
    spec = np.abs(np.fft.rfft(samples[rate // 10: rate // 10 + 8192]))
    assert abs(np.argmax(spec) * rate / 8192 - 440) < 10


def test_audio_shorter_than_video(tmp_path):
    src = make_video(tmp_path / "short.mp4", seconds=1.6, audio_seconds=0.6)
    out = tmp_path / "o.mp4"
    _copy(src, out)
    info = stream_info(out)
    assert abs(info["audio_duration"] - 0.6) < 0.05
    assert abs(info["video_duration"] - 1.6) <= 1 / 25 + 1e-3


@pytest.mark.parametrize("suffix", [".mp4", ".webm"])  # copy and transcode
def test_audio_starting_later_stays_in_sync(tmp_path, suffix):
    src = make_av(tmp_path / "late.mp4", seconds=1.2, audio_start=0.5)
    s_samples, s_rate, s_start = decoded_audio(src)
    src_onset = s_start + first_sound(s_samples, s_rate)
    assert abs(src_onset - 0.5) < 0.03
    out = tmp_path / f"o{suffix}"
    _copy(src, out, codec="vp9" if suffix == ".webm" else None)
    samples, rate, start = decoded_audio(out)
    onset = start + first_sound(samples, rate)
    assert abs(onset - src_onset) < 1 / 25


def test_audio_offset_and_end_trim(tmp_path):
    src = make_av(tmp_path / "a.mp4", seconds=2.0)
    out = tmp_path / "cut.mp4"
    with VideoWriter(out, width=64, height=48, fps=25, audio_source=str(src),
                     audio_offset=0.5, audio_end=1.5) as wr:
        for fr in VideoReader(src):
            if 0.5 <= fr.time < 1.5:
                wr.write(fr.image, fr.time - 0.5)
    info = stream_info(out)
    assert abs(info["audio_duration"] - 1.0) < 0.05
    assert abs(info["container_duration"] - 1.0) <= 1 / 25 + 0.03


def test_timeline_kept():
    from reelsmith.media import timeline_kept

    assert timeline_kept(2.0, 2.03, 25)
    assert not timeline_kept(2.0, 4.0, 25)


def test_video_without_audio(tmp_path):
    src = make_video(tmp_path / "silent.mp4", seconds=0.5, audio=False)
    assert audio_plan(src, tmp_path / "o.mp4").mode == "none"
    out = tmp_path / "o.mp4"
    wr = _copy(src, out)
    assert wr.audio_mode is None and not wr.audio_copied
    assert "audio_codec" not in stream_info(out)


def test_audio_only_file_is_a_clear_error(tmp_path):
    p = make_audio_only(tmp_path / "song.m4a")
    with pytest.raises(UnsupportedMediaError, match="audio only"):
        probe(p)
    with pytest.raises(UnsupportedMediaError):
        VideoReader(p)


def test_audio_is_interleaved_not_buffered(tmp_path):
    src = make_video(tmp_path / "a.mp4", seconds=2.0)
    out = tmp_path / "o.mp4"
    positions = []
    with VideoWriter(out, width=160, height=96, fps=25, audio_source=str(src)) as wr:
        for fr in VideoReader(src):
            wr.write(fr.image, fr.time)
            positions.append((fr.time, wr._audio.position))
    assert isinstance(wr._audio, AudioCarrier)
    # After each frame, audio has been muxed up to about half a second ahead, never all.
    for t, pos in positions[:-15]:
        assert pos <= t + 0.6
    assert positions[10][1] > 0


# ---------------------------------------------------------------- timestamps

def test_vfr_times_are_kept(tmp_path):
    times = [0.0, 0.04, 0.08, 0.2, 0.24, 0.5, 0.52, 0.56, 0.9, 1.0]
    src = make_video(tmp_path / "vfr.mp4", vfr_times=times, audio=False)
    frames = list(VideoReader(src))
    assert [round(f.time, 4) for f in frames] == times
    out = tmp_path / "o.mp4"
    with VideoWriter(out, width=160, height=96, fps=probe(src).fps, constant_rate=False) as wr:
        for f in frames:
            wr.write(f.image, f.time)
    assert np.allclose(video_times(out), times, atol=1e-4)


def test_odd_frame_rate_is_exact(tmp_path):
    fps = Fraction(45000, 1499)
    src = make_video(tmp_path / "odd.mp4", fps=fps, seconds=1.0)
    info = probe(src)
    assert info.fps == fps
    out = tmp_path / "o.mp4"
    _copy(src, out)
    out_info = probe(out)
    assert out_info.fps == fps
    t = video_times(out)
    assert np.allclose(t, [i * 1499 / 45000 for i in range(len(t))], atol=1e-6)
    assert abs(out_info.duration - info.duration) <= 1 / float(fps) + 1e-6


def test_constant_rate_output_has_exact_times(tmp_path):
    out = tmp_path / "cfr.mp4"
    with VideoWriter(out, width=64, height=48, fps=60) as wr:
        for i in range(30):
            wr.write(pattern(64, 48, i / 60), time=i / 60 + 0.003 * (i % 3))  # jitter ignored
    assert video_times(out) == [pytest.approx(i / 60, abs=1e-9) for i in range(30)]
    assert probe(out).fps == 60


def test_real_odd_rate_file_if_present(tmp_path):
    from pathlib import Path

    real = Path(__file__).resolve().parents[2] / "shared/data/video/realshort.mp4"
    if not real.exists():
        pytest.skip("shared data not present")
    info = probe(real)
    assert info.fps == Fraction(45000, 1499)
    n = sum(1 for _ in VideoReader(real, size=(80, 60)))
    assert n == info.frame_count


# ---------------------------------------------------------------- pixel formats

@pytest.mark.parametrize("pix_fmt,codec,suffix", [
    ("yuv420p", "libx264", ".mp4"),
    ("yuv422p", "libx264", ".mp4"),
    ("yuv444p", "libx264", ".mp4"),
    ("yuv420p10le", "libx264", ".mp4"),
    ("rgb24", "libx264rgb", ".mkv"),
    ("gbrp", "libx265", ".mkv"),
])
def test_input_pixel_formats(tmp_path, pix_fmt, codec, suffix):
    src = make_video(tmp_path / f"in{suffix}", pix_fmt=pix_fmt, codec=codec, seconds=0.2,
                     audio=False)
    info = probe(src)
    assert info.bit_depth == (10 if "10" in pix_fmt else 8)
    frames = list(VideoReader(src))
    assert len(frames) == 5 and frames[0].image.dtype == np.uint8
    # The pattern is noise-like and the encode lossy: this checks that the right picture
    # comes out (planes, channel order, depth); a swapped or mis-scaled one scores < 20 dB.
    # Exact colour conversion is checked with solid colours further down.
    floor = 25
    assert psnr(frames[2].image, pattern(160, 96, 2 / 25)) > floor
    if info.bit_depth > 8:
        deep = next(iter(VideoReader(src, keep_depth=True))).image
        assert deep.dtype == np.uint16
        assert psnr((deep >> 8).astype(np.uint8), pattern(160, 96, 0)) > floor


@pytest.mark.parametrize("codec,suffix,encoder", [
    ("h264", ".mp4", "h264"),
    ("h265", ".mp4", "hevc"),
    ("vp9", ".webm", "vp9"),
    ("av1", ".webm", "av1"),
    ("av1", ".mkv", "av1"),
])
def test_output_codecs(tmp_path, codec, suffix, encoder):
    out = tmp_path / f"o{suffix}"
    with VideoWriter(out, width=64, height=48, fps=25, codec=codec, crf=20) as wr:
        for i in range(5):
            wr.write(pattern(64, 48, i / 25), i / 25)
    info = probe(out)
    assert info.codec.startswith(encoder) or encoder in info.codec
    assert info.pix_fmt == "yuv420p"
    frames = list(VideoReader(out))
    assert len(frames) == 5
    assert psnr(frames[3].image, pattern(64, 48, 3 / 25)) > 28


def test_default_output_is_h264_yuv420p(tmp_path):
    out = tmp_path / "o.mp4"
    with VideoWriter(out, width=64, height=48, fps=25) as wr:
        wr.write(pattern(64, 48, 0))
    s = stream_info(out)
    assert (s["codec"], s["pix_fmt"]) == ("h264", "yuv420p")
    assert wr.describe()["codec"] == "h264"


def test_codec_names_and_container_rules():
    assert resolve_codec("x265") == "h265"
    assert resolve_codec(None, ".webm") == "vp9"
    with pytest.raises(InputError, match="valid codecs"):
        resolve_codec("divx")
    with pytest.raises(InputError, match="webm"):
        resolve_codec("h264", ".webm")


@pytest.mark.parametrize("codec,suffix,depth,pix_fmt", [
    ("h264", ".mp4", 10, "yuv420p10le"),   # libx264 here has High 10: kept
    ("h265", ".mp4", 10, "yuv420p10le"),
    ("vp9", ".webm", 8, "yuv420p"),        # libvpx here is 8-bit only: falls back
])
def test_ten_bit_kept_when_codec_allows(tmp_path, codec, suffix, depth, pix_fmt):
    src = make_video(tmp_path / "in10.mp4", pix_fmt="yuv420p10le", seconds=0.2, audio=False)
    assert probe(src).bit_depth == 10
    out = tmp_path / f"o{suffix}"
    wr = _copy(src, out, codec=codec, bit_depth=10, keep_depth=True)
    meta = wr.describe()
    assert meta["bit_depth"] == depth and wr.pix_fmt == pix_fmt
    assert ("High 10" in meta.get("note", "")) == (codec == "h264")
    info = probe(out)
    assert info.pix_fmt == pix_fmt and info.bit_depth == depth
    img = next(iter(VideoReader(out))).image
    assert psnr(img, next(iter(VideoReader(src))).image) > 30


SATURATED = [(220, 30, 40), (30, 200, 60), (40, 50, 210), (230, 210, 20)]


@pytest.mark.parametrize("matrix", ["bt709", "bt601", "bt470bg"])
@pytest.mark.parametrize("full", [False, True])
def test_decoding_uses_the_tagged_matrix_and_range(tmp_path, matrix, full):
    for k, rgb in enumerate(SATURATED[:2]):
        p = make_solid_video(tmp_path / f"s{k}.mp4", rgb, matrix=matrix, full=full)
        info = probe(p)
        assert info.color.range == (2 if full else 1)
        img = next(iter(VideoReader(p))).image
        got = img.reshape(-1, 3).mean(axis=0)
        assert np.abs(got - np.array(rgb)).max() <= 3, (matrix, full, rgb, got)


def test_untagged_small_video_is_decoded_as_bt601(tmp_path):
    # FFmpeg's convention for untagged SD: BT.601.
    rgb = SATURATED[0]
    p = make_solid_video(tmp_path / "u.mp4", rgb, matrix="bt601", tag=False)
    img = next(iter(VideoReader(p))).image
    assert np.abs(img.reshape(-1, 3).mean(axis=0) - rgb).max() <= 3


@pytest.mark.parametrize("matrix", ["bt709", "bt601"])
@pytest.mark.parametrize("full", [False, True])
def test_writer_keeps_tags_and_colours(tmp_path, matrix, full):
    from mediagen_extra import SPACE_CODE, rgb_to_yuv

    src = make_solid_video(tmp_path / "s.mp4", SATURATED[2], matrix=matrix, full=full)
    out = tmp_path / "o.mp4"
    _copy(src, out, crf=0)
    s_in, s_out = stream_info(src), stream_info(out)
    for key in ("colorspace", "color_range", "primaries", "trc"):
        assert s_out[key] == s_in[key], key
    assert s_out["colorspace"] == SPACE_CODE[matrix]
    # Colours survive the round trip...
    img = next(iter(VideoReader(out))).image
    assert np.abs(img.reshape(-1, 3).mean(axis=0) - SATURATED[2]).max() <= 3
    # ...and the encoded Y'CbCr values are the textbook ones for that matrix.
    with av.open(str(out)) as c:
        f = next(c.decode(video=0))
        y = f.planes[0]
        yv = np.frombuffer(bytes(y), dtype=np.uint8).reshape(-1, y.line_size)[:, :f.width]
    ref = rgb_to_yuv(SATURATED[2], matrix, full)[0]
    assert abs(float(yv.mean()) - ref) <= 2


def test_writer_tags_untagged_input_with_the_matrix_used(tmp_path):
    out = tmp_path / "o.mp4"
    with VideoWriter(out, width=64, height=48, fps=25) as wr:
        wr.write(pattern(64, 48, 0))
    s = stream_info(out)
    assert s["colorspace"] == 6 and s["color_range"] == 1  # smpte170m, tv
    out2 = tmp_path / "o2.mp4"
    with VideoWriter(out2, width=1280, height=720, fps=25) as wr:
        wr.write(np.zeros((720, 1280, 3), np.uint8))
    assert stream_info(out2)["colorspace"] == 1  # bt709 for HD


# ---------------------------------------------------------------- odd sizes

def test_odd_dimensions_in_and_out(tmp_path):
    src = make_video(tmp_path / "odd.mkv", width=175, height=143, pix_fmt="yuv444p",
                     seconds=0.2, audio=False)
    info = probe(src)
    assert (info.width, info.height) == (175, 143)
    frames = list(VideoReader(src))
    assert frames[0].image.shape == (143, 175, 3)
    out = tmp_path / "o.mp4"
    with VideoWriter(out, width=175, height=143, fps=25, crf=0) as wr:
        for f in frames:
            wr.write(f.image, f.time)
    assert wr.padded and (wr.enc_width, wr.enc_height) == (176, 144)
    assert wr.describe()["padded"] is True
    back = next(iter(VideoReader(out))).image
    assert back.shape == (144, 176, 3)
    assert psnr(back[:143, :175], frames[0].image) > 30
    # The padding repeats the edge: no black line.
    assert np.abs(back[143].astype(int) - back[142].astype(int)).mean() < 6
    assert np.abs(back[:, 175].astype(int) - back[:, 174].astype(int)).mean() < 6


# ---------------------------------------------------------------- errors

def test_missing_file_and_directory(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        probe(tmp_path / "nope.mp4")
    with pytest.raises(InputError, match="directory"):
        probe(tmp_path)


def test_empty_and_non_media_files(tmp_path):
    empty = tmp_path / "e.mp4"
    empty.write_bytes(b"")
    with pytest.raises(UnsupportedMediaError, match="empty"):
        probe(empty)
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video at all\n" * 50)
    with pytest.raises(UnsupportedMediaError, match="not a video or image"):
        probe(text)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    with pytest.raises(UnsupportedMediaError):
        probe(junk)


def test_truncated_video(tmp_path):
    src = make_video(tmp_path / "full.mp4", seconds=1.0)
    data = src.read_bytes()
    cut = tmp_path / "cut.mp4"  # mp4 with the index at the end: unusable when cut
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(UnsupportedMediaError) as ei:
        probe(cut)
    assert "cut.mp4" in str(ei.value) and str(ei.value).endswith(".")
    # A stream format cut in the middle still gives the frames that arrived.
    ts = make_video(tmp_path / "full.mkv", seconds=1.0, audio=False)
    tdata = ts.read_bytes()
    tcut = tmp_path / "cut.mkv"
    tcut.write_bytes(tdata[: int(len(tdata) * 0.6)])
    n = sum(1 for _ in VideoReader(tcut))
    assert 0 < n < 25


def test_corrupt_payload_is_reported_or_skipped(tmp_path):
    src = make_video(tmp_path / "c.mkv", seconds=1.0, audio=False)
    data = bytearray(src.read_bytes())
    rng = np.random.default_rng(3)
    start = len(data) // 3
    data[start:start + 3000] = rng.integers(0, 256, 3000, dtype=np.uint8).tobytes()
    bad = tmp_path / "bad.mkv"
    bad.write_bytes(bytes(data))
    try:
        frames = list(VideoReader(bad))
    except (UnsupportedMediaError, ProcessingError) as exc:
        assert str(exc).endswith(".")
    else:
        assert len(frames) > 0


def test_writer_refuses_bad_targets(tmp_path):
    with pytest.raises(InputError, match="use one of"):
        VideoWriter(tmp_path / "o.avi", width=64, height=48, fps=25)
    with pytest.raises(InputError, match="does not exist"):
        VideoWriter(tmp_path / "no" / "o.mp4", width=64, height=48, fps=25)
    with pytest.raises(InputError, match="positive"):
        VideoWriter(tmp_path / "o.mp4", width=64, height=48, fps=0)
    assert list(tmp_path.iterdir()) == []


def test_abort_leaves_nothing(tmp_path):
    outdir = tmp_path / "out"
    outdir.mkdir()
    src = make_video(tmp_path / "a.mp4", seconds=0.5)
    with pytest.raises(RuntimeError), VideoWriter(outdir / "o.mp4", width=160, height=96, fps=25,
                                                  audio_source=str(src)) as wr:
        for f in VideoReader(src):
            wr.write(f.image, f.time)
            if f.index == 5:
                raise RuntimeError("boom")
    assert list(outdir.iterdir()) == []
    # Wrong frame size: ProcessingError, and nothing left either.
    with pytest.raises(ProcessingError, match="does not match"), \
            VideoWriter(outdir / "o.mp4", width=64, height=48, fps=25) as wr:
        wr.write(np.zeros((10, 10, 3), np.uint8))
    assert list(outdir.iterdir()) == []
    # No frames at all: an error, no file.
    wr = VideoWriter(outdir / "o.mp4", width=64, height=48, fps=25)
    with pytest.raises(ProcessingError, match="No frames"):
        wr.close()
    assert list(outdir.iterdir()) == []


def test_output_appears_only_on_close(tmp_path):
    out = tmp_path / "o.mp4"
    wr = VideoWriter(out, width=64, height=48, fps=25)
    wr.write(pattern(64, 48, 0))
    assert not out.exists()
    assert wr.close() == out and out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["o.mp4"]


# ---------------------------------------------------------------- memory / API shape

def test_reader_and_writer_stream_with_flat_memory(tmp_path):
    src = make_video(tmp_path / "long.mp4", width=96, height=64, seconds=8.0, fps=25,
                     speed=10)
    frame_bytes = 96 * 64 * 3
    out = tmp_path / "o.mp4"
    tracemalloc.start()
    try:
        with VideoWriter(out, width=96, height=64, fps=25, audio_source=str(src),
                         preset="ultrafast") as wr:
            n = 0
            for f in VideoReader(src):
                wr.write(f.image, f.time)
                n += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n == 200
    # 200 frames would be 3.7 MB if buffered; the stream holds a handful at a time.
    assert peak < 40 * frame_bytes


def test_public_api_shapes(clip):
    info = probe(clip)
    assert isinstance(info, MediaInfo) and info.kind == "video"
    assert info.has_audio and info.audio_codec == "aac" and info.fps == 25
    assert info.frame_count == 50 and abs(info.duration - 2.0) < 0.05
    assert info.summary()["fps_exact"] == "25/1"
    fr = next(iter(VideoReader(clip)))
    assert isinstance(fr, Frame) and fr.time == 0.0 and fr.index == 0
    assert isinstance(info.color, ColorInfo)


# ---------------------------------------------------------------- later additions

@pytest.mark.parametrize("suffix", [".mp4", ".webm"])
def test_stream_not_starting_at_zero_keeps_sync(tmp_path, suffix):
    # Video starts at 1.0 s of the file's timeline, the tone at 1.5 s.
    src = make_av(tmp_path / "shifted.mkv", seconds=1.2, audio_start=0.5, start=1.0)
    info = probe(src)
    assert abs(info.start_time - 1.0) < 1e-3
    frames = list(VideoReader(src))
    assert frames[0].time == 0.0
    out = tmp_path / f"o{suffix}"
    with VideoWriter(out, width=64, height=48, fps=25, audio_source=str(src),
                     codec="vp9" if suffix == ".webm" else None) as wr:
        for f in frames:
            wr.write(f.image, f.time)
    samples, rate, start = decoded_audio(out)
    assert abs(start + first_sound(samples, rate) - 0.5) < 1 / 25
    assert video_times(out)[0] == 0.0


def test_full_range_yuvj_input(tmp_path):
    rgb = SATURATED[3]
    src = make_solid_video(tmp_path / "j.mp4", rgb, matrix="bt601", full=True, tag=False,
                           pix_fmt="yuvj420p")
    info = probe(src)
    assert info.pix_fmt == "yuvj420p" or info.color.range == 2
    img = next(iter(VideoReader(src))).image
    assert np.abs(img.reshape(-1, 3).mean(axis=0) - rgb).max() <= 3
    out = tmp_path / "o.mp4"
    _copy(src, out, crf=0)
    assert stream_info(out)["color_range"] == 2  # still full range, said so in the file
    back = next(iter(VideoReader(out))).image
    assert np.abs(back.reshape(-1, 3).mean(axis=0) - rgb).max() <= 3


def test_vfr_is_flagged(tmp_path):
    times = [0.0, 0.04, 0.08, 0.3, 0.34, 0.7, 0.72, 0.74, 1.0]
    src = make_video(tmp_path / "vfr.mkv", vfr_times=times, audio=False)
    assert probe(src).variable_frame_rate
    assert not probe(make_video(tmp_path / "cfr.mp4", seconds=0.4, audio=False)) \
        .variable_frame_rate


def test_constant_rate_with_b_frames_is_not_flagged(tmp_path):
    """Packets come in decode order: a B-frame stream's last packet is not always its latest
    frame. Seen on interpolated outputs, which were reported as variable frame rate."""
    import reelsmith

    out = reelsmith.run("interpolate", make_video(tmp_path / "in.mp4", audio=False),
                        output=tmp_path / "x2.mp4").output
    with av.open(str(out)) as c:
        pts = [p.pts for p in c.demux(c.streams.video[0]) if p.pts is not None]
    assert pts[-1] != max(pts)  # the case this is about
    assert not probe(out).variable_frame_rate
    long = make_video(tmp_path / "long.mp4", width=64, height=48, seconds=12.0, audio=False)
    assert not probe(long).variable_frame_rate  # read only in part (240 packets)
