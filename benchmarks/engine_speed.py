"""Speed of the built-in algorithms and of the engine, side by side with FFmpeg, in one run.

1. 720p 2x interpolation: reelsmith's flow interpolator vs FFmpeg minterpolate (mci).
2. 540p -> 1080p 2x upscale: reelsmith's Lanczos+sharpening vs FFmpeg's lanczos scaler.
3. Engine identity pass (decode -> pipeline -> encode, no op) vs a plain PyAV transcode
   with the same encoder settings: the engine's overhead.

Usage: python benchmarks/engine_speed.py [--frames 40]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from _common import ffmpeg_filter, filter_graph, machine, pull_ready, read_frames, shared, table

from reelsmith.engine.context import JobContext
from reelsmith.engine.pipeline import run_pipeline
from reelsmith.media.reader import VideoReader
from reelsmith.media.writer import VideoWriter
from reelsmith.ops.interpolate import FlowInterpolator
from reelsmith.ops.upscale import upscale_image


def source_clip(tmp: Path) -> Path:
    clip = shared("video", "bigbuckbunny.mp4")
    if clip:
        return clip
    from mediagen import make_video

    return make_video(tmp / "synthetic720.mp4", width=1280, height=720, fps=25, seconds=4)


def bench_interpolation(frames: list[np.ndarray], fps: Fraction) -> list[list[object]]:
    rows = []
    for quality in ("fast", "medium", "high"):
        interp = FlowInterpolator(quality=quality)
        t0 = time.perf_counter()
        for a, b in zip(frames, frames[1:], strict=False):
            st = interp.prepare(a, b)
            interp.interpolate(st, 0.5)
        dt = time.perf_counter() - t0
        rows.append([f"reelsmith builtin-flow ({quality})", f"{(len(frames) - 1) / dt:.2f}"])
    t0 = time.perf_counter()
    ffmpeg_filter(frames, fps, f"minterpolate=fps={2 * fps}:mi_mode=mci")
    dt = time.perf_counter() - t0
    rows.append(["ffmpeg minterpolate (mci)", f"{(len(frames) - 1) / dt:.2f}"])
    base = float(rows[-1][1])
    for r in rows:
        r.append(f"{float(r[1]) / base:.1f}x")
    return rows


def trim(src: Path, dst: Path, frames: int, size: tuple[int, int] | None = None) -> Path:
    """The first ``frames`` frames (optionally resized), near-lossless, with no audio."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vs = inp.streams.video[0]
        o = out.add_stream("libx264", rate=vs.average_rate)
        w, h = size or (vs.codec_context.width, vs.codec_context.height)
        o.width, o.height, o.pix_fmt = w, h, "yuv420p"
        o.options = {"crf": "10", "preset": "ultrafast"}
        for n, f in enumerate(inp.decode(vs)):
            if n >= frames:
                break
            nf = f.reformat(width=w, height=h, format="yuv420p")
            nf.pts = n
            nf.time_base = 1 / vs.average_rate
            for p in o.encode(nf):
                out.mux(p)
        for p in o.encode(None):
            out.mux(p)
    return dst


def ffmpeg_transcode(src: Path, dst: Path, filters: str | None) -> int:
    """Decode -> optional FFmpeg filter chain -> x264 veryfast crf 18, like the CLI would."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vs = inp.streams.video[0]
        fps = vs.average_rate
        rate = fps * 2 if filters and "minterpolate" in filters else fps
        o = out.add_stream("libx264", rate=rate)
        o.pix_fmt = "yuv420p"
        o.options = {"crf": "18", "preset": "veryfast"}
        g = filter_graph(filters, template=vs) if filters else None
        n = 0

        def emit(frame: av.VideoFrame) -> None:
            nonlocal n
            if n == 0:
                o.width, o.height = frame.width, frame.height
            frame.pts = n
            frame.time_base = 1 / rate
            for p in o.encode(frame):
                out.mux(p)
            n += 1

        for f in inp.decode(vs):
            if g is None:
                emit(f)
                continue
            g.push(f)
            for ff in pull_ready(g):
                emit(ff)
        if g is not None:
            g.push(None)
            for ff in pull_ready(g):
                emit(ff)
        for p in o.encode(None):
            out.mux(p)
    return n


def bench_end_to_end(clip: Path, tmp: Path, frames: int) -> list[list[object]]:
    import reelsmith

    src = trim(clip, tmp / "e2e.mp4", frames)
    rows = []
    t0 = time.perf_counter()
    n = ffmpeg_transcode(src, tmp / "mi.mp4", "minterpolate=fps=50:mi_mode=mci")
    base = time.perf_counter() - t0
    rows.append(["ffmpeg minterpolate (mci) + x264", n, f"{frames / base:.2f}", "1.0x"])
    for quality in ("fast", "medium", "high"):
        t0 = time.perf_counter()
        r = reelsmith.run("interpolate", src, output=tmp / f"r_{quality}.mp4", multiplier=2,
                          quality=quality, interpolation_model="builtin", crf=18, preset="veryfast")
        dt = time.perf_counter() - t0
        rows.append([f"reelsmith interpolate x2 ({quality}) + x264", r.metadata["frames_out"],
                     f"{frames / dt:.2f}", f"{base / dt:.1f}x"])
    return rows


def bench_upscale(frames: list[np.ndarray], fps: Fraction) -> list[list[object]]:
    rows = []
    t0 = time.perf_counter()
    for f in frames:
        upscale_image(f, scale=2)
    dt = time.perf_counter() - t0
    rows.append(["reelsmith builtin-lanczos + sharpen", f"{len(frames) / dt:.1f}"])
    t0 = time.perf_counter()
    for f in frames:
        upscale_image(f, scale=2, sharpen=0)
    dt = time.perf_counter() - t0
    rows.append(["reelsmith lanczos, no sharpening", f"{len(frames) / dt:.1f}"])
    t0 = time.perf_counter()
    h, w = frames[0].shape[:2]
    ffmpeg_filter(frames, fps, f"scale={2 * w}:{2 * h}:flags=lanczos")
    dt = time.perf_counter() - t0
    rows.append(["ffmpeg scale flags=lanczos (incl. RGB->YUV)", f"{len(frames) / dt:.1f}"])
    return rows


def plain_transcode(src: Path, dst: Path, limit: int) -> int:
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vs = inp.streams.video[0]
        vs.thread_type = "AUTO"
        o = out.add_stream("libx264", rate=vs.average_rate)
        o.width, o.height, o.pix_fmt = vs.codec_context.width, vs.codec_context.height, "yuv420p"
        o.options = {"crf": "18", "preset": "medium"}
        n = 0
        for f in inp.decode(vs):
            img = f.to_ndarray(format="rgb24")  # the same RGB round trip the engine does
            nf = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
            nf.pts = n
            for p in o.encode(nf):
                out.mux(p)
            n += 1
            if n >= limit:
                break
        for p in o.encode(None):
            out.mux(p)
    return n


def engine_identity(src: Path, dst: Path, limit: int) -> int:
    reader = VideoReader(src)
    info = reader.info

    def limited():
        for f in reader:
            if f.index >= limit:
                return
            yield f

    w = VideoWriter(dst, width=info.width, height=info.height, fps=info.fps, crf=18,
                    preset="medium", color=info.color)
    stats = run_pipeline(limited(), [], lambda f: w.write(f.image, f.time), JobContext())
    w.close()
    return stats.frames_in


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=40)
    args = ap.parse_args()
    print(f"machine: {machine()}\n")
    with tempfile.TemporaryDirectory() as tmpd:
        tmp = Path(tmpd)
        clip = source_clip(tmp)
        fps = Fraction(25)
        frames720 = read_frames(clip, args.frames)
        print(f"## 720p 2x interpolation, end to end ({clip.name}, {len(frames720)} input frames; "
              "decode + interpolate + x264 veryfast)")
        print(table(["method", "frames out", "input frames/s", "speed vs minterpolate"],
                    bench_end_to_end(clip, tmp, len(frames720))))
        print(f"\n## 720p 2x interpolation, the op alone (single thread, {len(frames720)} frames)")
        print(table(["method", "pairs/s", "vs minterpolate"], bench_interpolation(frames720, fps)))
        frames540 = read_frames(clip, args.frames, size=(960, 540))
        print(f"\n## 540p -> 1080p 2x upscale ({len(frames540)} frames)")
        print(table(["method", "frames/s"], bench_upscale(frames540, fps)))
        rows = []
        for name, fn in (("plain PyAV transcode", plain_transcode), ("reelsmith engine identity", engine_identity)):
            best = None
            for _ in range(2):
                t0 = time.perf_counter()
                n = fn(clip, tmp / f"{name[:5]}.mp4", args.frames * 3)
                dt = time.perf_counter() - t0
                best = dt if best is None else min(best, dt)
            rows.append([name, n, f"{n / best:.1f}"])
        base = float(rows[0][2])
        rows[1].append(f"{(base / float(rows[1][2]) - 1) * 100:+.1f}%")
        rows[0].append("-")
        print(f"\n## Identity pass, 720p H.264 crf 18 preset medium ({rows[0][1]} frames)")
        print(table(["method", "frames", "frames/s", "overhead"], rows))


if __name__ == "__main__":
    main()
