"""More synthetic media for the media-layer tests: exact YUV colours, orientation markers,
audio that starts late, audio-only files.

The colour generators build the Y'CbCr planes with numpy from the textbook formulas, so
the decoder is checked against an independent reference, not against swscale itself.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from mediagen import write_tone

# (Kr, Kb) of the luma equations.
KRB = {"bt709": (0.2126, 0.0722), "bt601": (0.299, 0.114)}
# AVColorSpace codes for tagging.
SPACE_CODE = {"bt709": 1, "bt601": 6, "bt470bg": 5}


def rgb_to_yuv(rgb, matrix: str = "bt709", full: bool = False) -> tuple[float, float, float]:
    """Reference R'G'B' (0..255) -> Y'CbCr code values (8-bit)."""
    kr, kb = KRB["bt601" if matrix in ("bt601", "bt470bg") else matrix]
    r, g, b = (np.asarray(rgb, dtype=np.float64) / 255.0)
    y = kr * r + (1 - kr - kb) * g + kb * b
    cb = (b - y) / (2 * (1 - kb))
    cr = (r - y) / (2 * (1 - kr))
    if full:
        return 255 * y, 128 + 255 * cb, 128 + 255 * cr
    return 16 + 219 * y, 128 + 224 * cb, 128 + 224 * cr


def make_solid_video(path: Path, rgb, *, matrix: str = "bt709", full: bool = False,
                     width: int = 64, height: int = 48, frames: int = 3,
                     tag: bool = True, pix_fmt: str = "yuv444p") -> Path:
    """A lossless (x264 qp 0) solid-colour clip whose YUV values come from ``rgb_to_yuv``."""
    y, u, v = (int(round(float(c))) for c in rgb_to_yuv(rgb, matrix, full))
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = width, height, pix_fmt
        vs.codec_context.options = {"qp": "0", "preset": "ultrafast"}
        if tag:
            vs.codec_context.colorspace = SPACE_CODE[matrix]
            vs.codec_context.color_range = 2 if full else 1
            prim = 1 if matrix == "bt709" else 6
            vs.codec_context.color_primaries = prim
            vs.codec_context.color_trc = prim
        ch = height if pix_fmt == "yuv444p" else height // 2
        for i in range(frames):
            vf = av.VideoFrame(width, height, pix_fmt)
            for plane, val, ph in zip(vf.planes, (y, u, v), (height, ch, ch), strict=True):
                buf = np.full((ph, plane.line_size), val, dtype=np.uint8)
                plane.update(buf.tobytes())
            vf.pts = i
            if tag:
                vf.colorspace = SPACE_CODE[matrix]
                vf.color_range = 2 if full else 1
            for pkt in vs.encode(vf):
                out.mux(pkt)
        for pkt in vs.encode(None):
            out.mux(pkt)
    return Path(path)


def marker_image(width: int = 64, height: int = 32) -> np.ndarray:
    """Grey picture with a red block top-left, green top-right, blue bottom-left."""
    img = np.full((height, width, 3), 128, dtype=np.uint8)
    s = min(width, height) // 4
    img[:s, :s] = (255, 0, 0)
    img[:s, -s:] = (0, 255, 0)
    img[-s:, :s] = (0, 0, 255)
    return img


def corner_colors(img: np.ndarray) -> dict[str, str]:
    """Which marker colour sits in each corner ("r", "g", "b" or "-")."""
    h, w = img.shape[:2]
    m = max(1, min(h, w) // 16)
    out = {}
    for name, (ys, xs) in {
        "tl": (slice(m, 2 * m), slice(m, 2 * m)),
        "tr": (slice(m, 2 * m), slice(w - 2 * m, w - m)),
        "bl": (slice(h - 2 * m, h - m), slice(m, 2 * m)),
        "br": (slice(h - 2 * m, h - m), slice(w - 2 * m, w - m)),
    }.items():
        c = img[ys, xs].reshape(-1, 3).mean(axis=0)
        if c.max() < 180 or np.sort(c)[-2] > 120:
            out[name] = "-"
        else:
            out[name] = "rgb"[int(np.argmax(c))]
    return out


def make_marker_video(path: Path, *, rotation: float | None = None,
                      matrix: list[int] | None = None, width: int = 64, height: int = 32,
                      frames: int = 3) -> Path:
    """Marker picture with a display rotation (PyAV convention) or a raw display matrix."""
    img = marker_image(width, height)
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv444p"
        vs.codec_context.options = {"qp": "0", "preset": "ultrafast"}
        if rotation is not None:
            vs.set_display_rotation(rotation)
        if matrix is not None:
            vs.set_display_matrix(matrix)
        for i in range(frames):
            vf = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv444p")
            vf.pts = i
            for pkt in vs.encode(vf):
                out.mux(pkt)
        for pkt in vs.encode(None):
            out.mux(pkt)
    return Path(path)


def make_av(path: Path, *, seconds: float = 1.0, fps: int = 25, width: int = 64,
            height: int = 48, audio_start: float = 0.0, audio_seconds: float | None = None,
            audio_codec: str = "aac", tone_hz: float = 440.0, start: float = 0.0) -> Path:
    """Video plus a tone that starts ``audio_start`` seconds after the video.

    ``start`` shifts the whole file's timeline (a stream whose first frame is not at 0,
    as in MPEG-TS captures or cut files).
    """
    from mediagen import pattern

    rate = 48000
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        vs.codec_context.options = {"preset": "ultrafast"}
        a = out.add_stream(audio_codec, rate=rate)
        a.layout = "stereo"
        n_frames = round(seconds * fps)
        for i in range(n_frames):
            vf = av.VideoFrame.from_ndarray(pattern(width, height, i / fps), format="rgb24")
            vf = vf.reformat(format="yuv420p", dst_colorspace=5, dst_color_range=1)
            vf.pts = i + round(start * fps)
            for pkt in vs.encode(vf):
                out.mux(pkt)
        for pkt in vs.encode(None):
            out.mux(pkt)
        dur = audio_seconds if audio_seconds is not None else seconds - audio_start
        _tone(out, a, dur, tone_hz, rate, start_samples=round((start + audio_start) * rate))
    return Path(path)


def _tone(out, stream, seconds, hz, rate, start_samples=0):
    n = int(seconds * rate)
    pts = start_samples
    for s0 in range(0, n, 1024):
        k = min(1024, n - s0)
        tt = (np.arange(s0, s0 + k) / rate).astype(np.float32)
        mono = (0.3 * np.sin(2 * np.pi * hz * tt)).astype(np.float32)
        af = av.AudioFrame.from_ndarray(np.stack([mono, mono]), format="fltp", layout="stereo")
        af.sample_rate = rate
        af.pts = pts
        af.time_base = Fraction(1, rate)
        pts += k
        for pkt in stream.encode(af):
            out.mux(pkt)
    for pkt in stream.encode(None):
        out.mux(pkt)


def make_audio_only(path: Path, *, codec: str = "aac", seconds: float = 1.0) -> Path:
    with av.open(str(path), "w") as out:
        a = out.add_stream(codec, rate=48000)
        a.layout = "stereo"
        write_tone(out, a, seconds)
    return Path(path)


def decoded_audio(path: Path) -> tuple[np.ndarray, int, float]:
    """(mono float32 samples, sample rate, start time of the first sample in seconds)."""
    with av.open(str(path)) as c:
        s = c.streams.audio[0]
        chunks = []
        start = None
        rate = s.codec_context.sample_rate
        for fr in c.decode(s):
            if start is None and fr.pts is not None:
                start = float(fr.pts * fr.time_base)
            arr = fr.to_ndarray().astype(np.float32)
            if not fr.format.is_planar:
                arr = arr.reshape(-1, fr.layout.nb_channels).T
            chunks.append(arr.mean(axis=0))
            rate = fr.sample_rate
    return np.concatenate(chunks), rate, start or 0.0


def first_sound(samples: np.ndarray, rate: int, level: float = 0.05) -> float:
    """Time (s) of the first sample louder than ``level``."""
    idx = np.nonzero(np.abs(samples) > level)[0]
    return float(idx[0]) / rate if len(idx) else float("inf")


def video_times(path: Path) -> list[float]:
    """Presentation times (s) of all decoded video frames, from the stream start."""
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        start = vs.start_time or 0
        return [float((f.pts - start) * vs.time_base) for f in c.decode(vs)]


def stream_info(path: Path) -> dict:
    with av.open(str(path)) as c:
        vs = c.streams.video[0] if c.streams.video else None
        a = c.streams.audio[0] if c.streams.audio else None
        d = {"container_duration": (c.duration or 0) / av.time_base}
        if vs is not None:
            cc = vs.codec_context
            d.update(codec=cc.name, pix_fmt=cc.pix_fmt, width=cc.width, height=cc.height,
                     colorspace=int(cc.colorspace), color_range=int(cc.color_range),
                     primaries=int(cc.color_primaries), trc=int(cc.color_trc),
                     rate=vs.average_rate, frames=vs.frames,
                     video_duration=float(vs.duration * vs.time_base) if vs.duration else None)
        if a is not None:
            d.update(audio_codec=a.codec_context.name,
                     audio_duration=float(a.duration * a.time_base) if a.duration else None)
        return d
