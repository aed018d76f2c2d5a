"""Footage builders shared by the highlight-reel benchmarks (not a benchmark itself)."""

from __future__ import annotations

import math
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "video"
RATE = 48000


def real_clips() -> list[Path]:
    return sorted(DATA.glob("*.mp4")) if DATA.is_dir() else []


def clip_frames(path: Path, width: int, height: int) -> Iterator[np.ndarray]:
    """Frames of a real clip scaled/cropped to fill width x height."""
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            s = max(width / f.width, height / f.height)
            w, h = math.ceil(f.width * s / 2) * 2, math.ceil(f.height * s / 2) * 2
            img = f.reformat(width=w, height=h, format="rgb24").to_ndarray()
            y, x = (h - height) // 2, (w - width) // 2
            yield img[y:y + height, x:x + width]


def synthetic_frames(kind: str, width: int, height: int, n: int, seed: int,
                     still: np.ndarray | None = None) -> Iterator[np.ndarray]:
    rng = np.random.default_rng(seed)
    base = still if still is not None else np.kron(
        rng.integers(30, 200, (height // 16 + 1, width // 16 + 1, 3), dtype=np.uint8),
        np.ones((16, 16, 1), np.uint8))[:height, :width]
    for i in range(n):
        img = base.copy()
        if kind == "motion":
            side = height // 3
            x = int((i * width / 12) % (width - side))
            y = int((0.5 + 0.4 * math.sin(i / 3)) * (height - side))
            img[y:y + side, x:x + side] = (255, 240, 30)
            img = np.roll(img, (i * 23) % width, axis=1)
        elif kind == "pan":
            img = np.roll(img, (i * 4) % width, axis=1)
        yield img


def speech_wav(text: str, rate: int = RATE) -> np.ndarray | None:
    """espeak-ng speech as mono float32 at ``rate`` (None when espeak-ng is missing)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        return None
    with tempfile.TemporaryDirectory() as d:
        wav = Path(d) / "s.wav"
        subprocess.run([exe, "-s", "165", "-a", "180", "-w", str(wav), text], check=True,
                       capture_output=True)
        with av.open(str(wav)) as c:
            res = av.AudioResampler(format="flt", layout="mono", rate=rate)
            chunks = []
            for f in c.decode(audio=0):
                for o in res.resample(f):
                    chunks.append(o.to_ndarray().reshape(-1))
            for o in res.resample(None):
                chunks.append(o.to_ndarray().reshape(-1))
    return np.concatenate(chunks).astype(np.float32)


def cheer(seconds: float, seed: int, rate: int = RATE) -> np.ndarray:
    """Crowd-like noise: band-limited noise swelling, with random claps."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    noise = rng.standard_normal(n)
    k = np.ones(12) / 12  # crude low-pass: a crowd roar, not hiss
    roar = np.convolve(noise, k, mode="same")
    t = np.arange(n) / rate
    env = 0.5 + 0.5 * np.sin(math.pi * np.clip(t / max(seconds, 1e-3), 0, 1))
    out = 1.6 * roar * env
    for c in rng.integers(0, n - 800, size=int(seconds * 6)):
        out[c:c + 800] += rng.standard_normal(800) * np.exp(-np.arange(800) / 120) * 0.6
    return np.clip(out, -1, 1).astype(np.float32)


class StitchWriter:
    """Write frames and mono audio part by part into one H.264 + AAC file."""

    def __init__(self, path: Path, width: int, height: int, fps: int = 25) -> None:
        self.out = av.open(str(path), "w")
        self.vs = self.out.add_stream("libx264", rate=fps)
        self.vs.width, self.vs.height, self.vs.pix_fmt = width, height, "yuv420p"
        self.vs.options = {"preset": "ultrafast", "crf": "28"}
        self.as_ = self.out.add_stream("aac", rate=RATE)
        self.as_.layout = "mono"
        self.fps = fps
        self.n = 0
        self.apos = 0
        self.audio: list[np.ndarray] = []

    def frames(self, frames: Iterator[np.ndarray], limit: int | None = None) -> int:
        k = 0
        for img in frames:
            if limit is not None and k >= limit:
                break
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            vf.pts = self.n
            vf.time_base = Fraction(1, self.fps)
            for p in self.vs.encode(vf):
                self.out.mux(p)
            self.n += 1
            k += 1
        return k

    def sound(self, samples: np.ndarray, seconds: float) -> None:
        n = int(round(seconds * RATE))
        s = np.zeros(n, np.float32)
        s[: min(n, samples.size)] = samples[:n]
        for a in range(0, n, 1024):
            chunk = np.ascontiguousarray(s[a:a + 1024][None, :])
            af = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
            af.sample_rate = RATE
            af.pts = self.apos
            self.apos += chunk.shape[1]
            for p in self.as_.encode(af):
                self.out.mux(p)

    def close(self) -> None:
        for p in self.vs.encode(None):
            self.out.mux(p)
        for p in self.as_.encode(None):
            self.out.mux(p)
        self.out.close()
