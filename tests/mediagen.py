"""Synthetic media for tests: moving patterns, scene cuts, tones, odd formats.

Everything is generated with PyAV (bundled FFmpeg); no file from outside is needed.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def pattern(width: int, height: int, t: float, *, scene: int = 0, speed: float = 40.0) -> np.ndarray:
    """A textured background with a bright square moving right at ``speed`` px/s.

    ``scene`` changes the palette and texture completely (for cut tests).
    """
    rng = np.random.default_rng(1234 + scene)
    base = rng.integers(0, 256, size=(max(1, height // 8 + 2), max(1, width // 8 + 2), 3), dtype=np.uint8)
    tex = np.kron(base, np.ones((8, 8, 1), dtype=np.uint8))[:height, :width].astype(np.float32)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    shift = speed * t * 0.5
    grad = 0.5 + 0.5 * np.sin((xx + shift) / 9.0 + scene) * np.cos(yy / 13.0)
    img = 0.55 * tex + 100.0 * grad[..., None]
    side = max(4, min(width, height) // 4)
    x0 = int(speed * t) % max(1, width - side)
    y0 = (height - side) // 2
    color = np.array([250, 240 - 80 * (scene % 3), 40 + 60 * (scene % 4)], dtype=np.float32)
    img[y0:y0 + side, x0:x0 + side] = color
    return np.clip(img, 0, 255).astype(np.uint8)


def make_video(
    path: Path,
    *,
    width: int = 160,
    height: int = 96,
    fps: Fraction | int | float = 25,
    seconds: float = 2.0,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    audio: bool = True,
    audio_seconds: float | None = None,
    audio_codec: str = "aac",
    tone_hz: float = 440.0,
    cuts: tuple[float, ...] = (),
    vfr_times: list[float] | None = None,
    rotation: int | None = None,
    colorspace: int | None = None,
    color_range: int | None = None,
    speed: float = 40.0,
) -> Path:
    """Write a test video. ``vfr_times`` gives explicit frame times (variable frame rate).

    ``rotation`` sets the display matrix (counter-clockwise degrees) like a phone does.
    """
    path = Path(path)
    fps = Fraction(fps).limit_denominator(100000)
    times = vfr_times if vfr_times is not None else [i / float(fps) for i in range(round(seconds * float(fps)))]
    with av.open(str(path), "w") as out:
        vs = out.add_stream(codec, rate=fps)
        vs.width, vs.height, vs.pix_fmt = width, height, pix_fmt
        tb = Fraction(1, 90000) if vfr_times is not None else 1 / fps
        vs.time_base = tb
        vs.codec_context.time_base = tb
        if colorspace is not None:
            vs.codec_context.colorspace = colorspace
        if color_range is not None:
            vs.codec_context.color_range = color_range
        if rotation:
            vs.set_display_rotation(rotation)
        astream = None
        if audio:
            astream = out.add_stream(audio_codec, rate=48000)
            astream.layout = "stereo"
        for i, t in enumerate(times):
            scene = sum(1 for c in cuts if t >= c)
            img = pattern(width, height, t, scene=scene, speed=speed)
            fmt = "rgb24"
            if pix_fmt.endswith("10le") or pix_fmt.endswith("12le"):
                img = img.astype(np.uint16) * 257
                fmt = "rgb48le"
            vf = av.VideoFrame.from_ndarray(img, format=fmt)
            if pix_fmt not in ("rgb24", "gbrp"):
                # Untagged: use the matrix a decoder guesses (BT.601 below 720 lines).
                guess = 1 if height >= 720 else 5
                vf = vf.reformat(format=pix_fmt, dst_colorspace=colorspace or guess,
                                 dst_color_range=color_range or 1)
            else:
                vf = vf.reformat(format=pix_fmt)
            vf.pts = round(t / tb) if vfr_times is not None else i
            vf.time_base = tb
            for pkt in vs.encode(vf):
                out.mux(pkt)
        for pkt in vs.encode(None):
            out.mux(pkt)
        if astream is not None:
            dur = audio_seconds if audio_seconds is not None else (times[-1] + 1 / float(fps) if times else seconds)
            write_tone(out, astream, dur, tone_hz)
    return path


def write_tone(out: av.container.OutputContainer, stream: av.AudioStream, seconds: float,
               hz: float = 440.0, rate: int = 48000) -> None:
    n = int(seconds * rate)
    chunk = 1024
    pts = 0
    for start in range(0, n, chunk):
        k = min(chunk, n - start)
        tt = (np.arange(start, start + k) / rate).astype(np.float32)
        mono = (0.3 * np.sin(2 * math.pi * hz * tt)).astype(np.float32)
        data = np.stack([mono, mono])
        af = av.AudioFrame.from_ndarray(data, format="fltp", layout="stereo")
        af.sample_rate = rate
        af.pts = pts
        pts += k
        for pkt in stream.encode(af):
            out.mux(pkt)
    for pkt in stream.encode(None):
        out.mux(pkt)


def make_image(path: Path, width: int = 64, height: int = 48, *, alpha: bool = False) -> Path:
    from PIL import Image

    img = pattern(width, height, 0.3)
    if alpha:
        a = np.tile(np.linspace(0, 255, width, dtype=np.uint8), (height, 1))[..., None]
        Image.fromarray(np.concatenate([img, a], axis=2), "RGBA").save(path)
    else:
        Image.fromarray(img).save(path)
    return Path(path)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * math.log10(255.0**2 / mse)
