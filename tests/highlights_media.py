"""Synthetic media for highlight-reel tests: stretches of dull, loud, moving, speech-like,
silent footage, stitched with optional scene cuts, all generated with PyAV."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

RATE = 48000


def _texture(width: int, height: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 200, size=(height // 8 + 2, width // 8 + 2, 3), dtype=np.uint8)
    return np.kron(base, np.ones((8, 8, 1), np.uint8))[:height, :width]


def frame_for(kind: str, width: int, height: int, t: float, seed: int) -> np.ndarray:
    """A static textured frame, or one with a big square racing across it for 'motion'."""
    img = _texture(width, height, seed).copy()
    if kind in ("motion", "action"):
        side = max(6, min(width, height) // 3)
        x = int((t * width * 2.5) % max(1, width - side))
        y = int((0.5 + 0.4 * math.sin(t * 9)) * (height - side))
        img[y:y + side, x:x + side] = (255, 255, 40)
        img = np.roll(img, int(t * 60) % width, axis=1)
    return img


def audio_for(kind: str, seconds: float, seed: int, rate: int = RATE) -> np.ndarray:
    """Mono float32 samples for a stretch."""
    n = int(round(seconds * rate))
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate
    if kind in ("silence", "motion"):
        return np.zeros(n, np.float32) if kind == "silence" else \
            (0.003 * rng.standard_normal(n)).astype(np.float32)
    if kind == "dull":
        return (0.003 * rng.standard_normal(n)).astype(np.float32)
    if kind in ("loud", "action", "cheer"):
        noise = rng.standard_normal(n)
        env = 0.6 + 0.4 * np.abs(np.sin(2 * math.pi * 1.7 * t))
        return np.clip(0.35 * noise * env, -1, 1).astype(np.float32)
    if kind == "speech":
        f0 = 140 + 30 * np.sin(2 * math.pi * 0.7 * t)
        phase = 2 * math.pi * np.cumsum(f0) / rate
        voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
        syll = (np.sin(2 * math.pi * 3.5 * t) > -0.2).astype(np.float64)
        return (0.25 * voiced * syll + 0.01 * rng.standard_normal(n)).astype(np.float32)
    if kind == "tone":
        return (0.3 * np.sin(2 * math.pi * 440 * t)).astype(np.float32)
    raise ValueError(kind)


def make_stitched(path: Path, parts: list[tuple[str, float]], *, width: int = 160,
                  height: int = 96, fps: int = 25, audio: bool = True,
                  audio_seconds: float | None = None, cuts: bool = True,
                  audio_parts: list[tuple[str, float]] | None = None,
                  gop: int | None = None) -> Path:
    """A video made of ``parts`` [(kind, seconds)]; each part is a new scene when ``cuts``.

    kinds: dull, motion, loud, action (loud + motion), speech, silence, tone.
    ``audio_parts`` overrides the sound track's parts (for audio/video mismatch tests).
    """
    path = Path(path)
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        vs.options = {"preset": "ultrafast", **({"g": str(gop)} if gop else {})}
        ast = None
        if audio:
            ast = out.add_stream("aac", rate=RATE)
            ast.layout = "mono"
        i = 0
        for p, (kind, secs) in enumerate(parts):
            seed = p if cuts else 0
            for k in range(round(secs * fps)):
                img = frame_for(kind, width, height, k / fps, seed)
                vf = av.VideoFrame.from_ndarray(img, format="rgb24")
                vf.pts = i
                vf.time_base = Fraction(1, fps)
                for pkt in vs.encode(vf):
                    out.mux(pkt)
                i += 1
        for pkt in vs.encode(None):
            out.mux(pkt)
        if ast is not None:
            samples = np.concatenate([audio_for(k, s, n + 100)
                                      for n, (k, s) in enumerate(audio_parts or parts)])
            if audio_seconds is not None:
                samples = samples[: int(audio_seconds * RATE)]
            pts = 0
            for a in range(0, samples.size, 1024):
                chunk = samples[a:a + 1024][None, :]
                af = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp",
                                                layout="mono")
                af.sample_rate = RATE
                af.pts = pts
                pts += chunk.shape[1]
                for pkt in ast.encode(af):
                    out.mux(pkt)
            for pkt in ast.encode(None):
                out.mux(pkt)
    return path


def planted_spans(parts: list[tuple[str, float]], kinds=("loud", "motion", "action", "speech")
                  ) -> list[tuple[float, float]]:
    spans, t = [], 0.0
    for kind, secs in parts:
        if kind in kinds:
            spans.append((t, t + secs))
        t += secs
    return spans


def overlap(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> float:
    return sum(max(0.0, min(e1, e2) - max(s1, s2)) for s1, e1 in a for s2, e2 in b)
