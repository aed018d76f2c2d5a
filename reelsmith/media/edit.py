"""Cut segments out of a video and join them into one MP4 with audio.

Clean joins: each segment is cut on the frame grid and its audio is cut to exactly the
length of its frames, so picture and sound stay in sync; every join gets a short audio fade
(no pops), or an equal-power audio crossfade plus a video dissolve when ``crossfade`` > 0.
Optional 9:16 vertical output (centre crop, blurred padding, or a crop that follows faces and
motion, smoothed) and burned-in subtitles.

Two passes, both streaming: the picture is re-encoded with :class:`VideoWriter` into a
private temporary file; then its packets are copied, interleaved with the cut audio encoded
as AAC, into a temporary sibling of the output that is renamed into place (media/atomic.py).
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from reelsmith.engine.context import JobContext
from reelsmith.errors import InputError, ProcessingError
from reelsmith.media.atomic import commit, discard, temp_path_for
from reelsmith.media.color import effective_matrix, effective_range
from reelsmith.media.probe import MediaInfo, open_container, probe
from reelsmith.media.reader import apply_rotation
from reelsmith.media.writer import VideoWriter

log = logging.getLogger(__name__)

VERTICAL_MODES = ("off", "center", "blur-pad", "follow")
VERTICAL_ASPECT = 9 / 16


@dataclass
class Cue:
    """A subtitle on the *output* timeline."""

    start: float
    end: float
    text: str


@dataclass
class EditResult:
    path: Path
    width: int
    height: int
    fps: float
    frames: int
    duration: float
    has_audio: bool
    segments: list[dict] = field(default_factory=list)  # source and output times per segment


def _even(x: float) -> int:
    return max(2, int(round(x / 2)) * 2)


def vertical_size(width: int, height: int, mode: str) -> tuple[int, int]:
    """Output (w, h) for a vertical mode; the input size when ``mode`` is "off"."""
    if mode == "off":
        return width, height
    if mode == "blur-pad":
        if width / height >= VERTICAL_ASPECT:
            w = _even(min(width, height))
            return w, _even(w / VERTICAL_ASPECT)
        return _even(height * VERTICAL_ASPECT), _even(height)
    if width / height > VERTICAL_ASPECT:  # crop the sides
        return min(_even(height * VERTICAL_ASPECT), width - width % 2), height - height % 2
    return width - width % 2, min(_even(width / VERTICAL_ASPECT), height - height % 2)


class FollowTracker:
    """Where to put a crop window so it keeps the subject: the largest face (Haar cascade,
    every few frames) or else the centroid of motion; moved smoothly with a dead zone."""

    def __init__(self, src_w: int, src_h: int, crop_w: int, crop_h: int) -> None:
        import cv2

        self.horizontal = crop_w < src_w
        self.span = src_w if self.horizontal else src_h
        self.crop = crop_w if self.horizontal else crop_h
        self.scale = 160.0 / max(src_w, src_h)
        self.small = (max(8, round(src_w * self.scale)), max(8, round(src_h * self.scale)))
        path = os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml")
        self.cascade = cv2.CascadeClassifier(path)
        if self.cascade.empty():
            self.cascade = None
        self.reset()

    def reset(self) -> None:
        self.pos: float | None = None
        self.prev: np.ndarray | None = None
        self.n = 0
        self.face: float | None = None
        self.face_age = 10**6

    def _faces(self, img: np.ndarray) -> float | None:
        import cv2

        if self.cascade is None:
            return None
        h, w = img.shape[:2]
        s = min(1.0, 360.0 / max(w, h))
        g = cv2.cvtColor(cv2.resize(img, (max(1, int(w * s)), max(1, int(h * s)))),
                         cv2.COLOR_RGB2GRAY)
        found = self.cascade.detectMultiScale(g, scaleFactor=1.15, minNeighbors=5,
                                              minSize=(max(12, g.shape[0] // 12),) * 2)
        if len(found) == 0:
            return None
        x, y, fw, fh = max(found, key=lambda r: r[2] * r[3])
        return float((x + fw / 2) if self.horizontal else (y + fh / 2)) / s

    def update(self, img: np.ndarray) -> int:
        import cv2

        if self.n % 5 == 0:
            f = self._faces(img)
            if f is not None:
                self.face, self.face_age = f, 0
        self.face_age += 1
        g = cv2.cvtColor(cv2.resize(img, self.small, interpolation=cv2.INTER_AREA),
                         cv2.COLOR_RGB2GRAY).astype(np.float32)
        target = None
        if self.face is not None and self.face_age < 15:
            target = self.face
        elif self.prev is not None:
            diff = np.abs(g - self.prev)
            diff[diff < 12] = 0
            mass = diff.sum()
            if mass > 0.002 * diff.size * 255:
                prof = diff.sum(axis=0 if self.horizontal else 1)
                target = float((prof * np.arange(prof.size)).sum() / mass) / self.scale
        self.prev = g
        self.n += 1
        if target is None:
            target = self.pos if self.pos is not None else self.span / 2
        if self.pos is None:
            self.pos = target
        else:
            delta = target - self.pos
            if abs(delta) > 0.04 * self.span:  # dead zone: ignore small wobbles
                step = max(-0.025 * self.span, min(0.025 * self.span, 0.15 * delta))
                self.pos += step
        return int(round(min(max(self.pos - self.crop / 2, 0), self.span - self.crop)))


class Framer:
    """Turns source frames into output frames for a vertical mode."""

    def __init__(self, src_w: int, src_h: int, mode: str) -> None:
        if mode not in VERTICAL_MODES:
            raise InputError(f"Unknown vertical mode {mode!r}; use one of {', '.join(VERTICAL_MODES)}.")
        self.mode = mode
        self.src = (src_w, src_h)
        self.out = vertical_size(src_w, src_h, mode)
        self.tracker = (FollowTracker(src_w, src_h, *self.out)
                        if mode == "follow" and self.out != (src_w, src_h) else None)

    def reset(self) -> None:
        if self.tracker is not None:
            self.tracker.reset()

    def apply(self, img: np.ndarray) -> np.ndarray:
        import cv2

        sw, sh = self.src
        ow, oh = self.out
        if self.mode == "off":
            return img
        if self.mode == "blur-pad":
            bg = _cover(img, ow, oh)
            small = cv2.resize(bg, (max(2, ow // 8), max(2, oh // 8)), interpolation=cv2.INTER_AREA)
            small = cv2.GaussianBlur(small, (0, 0), 3)
            bg = (cv2.resize(small, (ow, oh), interpolation=cv2.INTER_LINEAR) * 0.6).astype(np.uint8)
            s = min(ow / sw, oh / sh)
            fw, fh = max(1, round(sw * s)), max(1, round(sh * s))
            fg = cv2.resize(img, (fw, fh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
            x, y = (ow - fw) // 2, (oh - fh) // 2
            bg[y:y + fh, x:x + fw] = fg
            return bg
        if (ow, oh) == (sw, sh):
            return img
        off = self.tracker.update(img) if self.tracker is not None else None
        if ow < sw:
            x = off if off is not None else (sw - ow) // 2
            return np.ascontiguousarray(img[:oh, x:x + ow])
        y = off if off is not None else (sh - oh) // 2
        return np.ascontiguousarray(img[y:y + oh, :ow])


def _cover(img: np.ndarray, ow: int, oh: int) -> np.ndarray:
    import cv2

    h, w = img.shape[:2]
    s = max(ow / w, oh / h)
    cw, ch = min(w, math.ceil(ow / s)), min(h, math.ceil(oh / s))
    x, y = (w - cw) // 2, (h - ch) // 2
    return cv2.resize(img[y:y + ch, x:x + cw], (ow, oh), interpolation=cv2.INTER_AREA)


class SubtitleBurner:
    """Draws cue text (white with a dark outline, bottom centre) onto frames."""

    def __init__(self, cues: Sequence[Cue], width: int, height: int) -> None:
        self.cues = sorted(cues, key=lambda c: c.start)
        self.w, self.h = width, height
        self._cache: dict[int, tuple[np.ndarray, np.ndarray, int, int]] = {}

    def _render(self, i: int) -> tuple[np.ndarray, np.ndarray, int, int]:
        from PIL import Image, ImageDraw, ImageFont

        size = max(10, self.h // 16)
        font = ImageFont.load_default(size=size)
        words, lines, cur = self.cues[i].text.split(), [], ""
        probe_draw = ImageDraw.Draw(Image.new("L", (1, 1)))
        for word in words:
            trial = f"{cur} {word}".strip()
            if cur and probe_draw.textlength(trial, font=font) > self.w * 0.9:
                lines.append(cur)
                cur = word
            else:
                cur = trial
        if cur:
            lines.append(cur)
        text = "\n".join(lines[-3:])
        stroke = max(1, size // 10)
        box = probe_draw.multiline_textbbox((0, 0), text, font=font, stroke_width=stroke,
                                            align="center")
        box = tuple(int(math.floor(v)) if n < 2 else int(math.ceil(v)) for n, v in enumerate(box))
        tw, th = box[2] - box[0] + 2, box[3] - box[1] + 2
        tw, th = min(tw, self.w), min(th, self.h)
        layer = Image.new("RGBA", (tw, th), (0, 0, 0, 0))
        ImageDraw.Draw(layer).multiline_text((-box[0] + 1, -box[1] + 1), text, font=font,
                                             fill=(255, 255, 255, 255), stroke_width=stroke,
                                             stroke_fill=(0, 0, 0, 255), align="center")
        arr = np.asarray(layer)
        x = (self.w - tw) // 2
        y = max(0, self.h - th - int(self.h * 0.07))
        return arr[..., :3].astype(np.float32), arr[..., 3:].astype(np.float32) / 255.0, x, y

    def apply(self, img: np.ndarray, t: float) -> np.ndarray:
        for i, c in enumerate(self.cues):
            if c.start <= t < c.end and c.text.strip():
                if i not in self._cache:
                    self._cache[i] = self._render(i)
                rgb, alpha, x, y = self._cache[i]
                h, w = rgb.shape[:2]
                img = img.copy()
                region = img[y:y + h, x:x + w].astype(np.float32)
                img[y:y + h, x:x + w] = (region * (1 - alpha) + rgb * alpha).astype(np.uint8)
                return img
        return img


def normalise_segments(segments: Sequence[tuple[float, float]],
                       duration: float) -> list[tuple[float, float]]:
    """Clamp to [0, duration], sort, merge overlaps, drop empty ones."""
    out: list[tuple[float, float]] = []
    for s, e in sorted((float(a), float(b)) for a, b in segments):
        s, e = max(0.0, s), min(duration, e)
        if e - s <= 1e-3:
            continue
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


SEEK_GAP_S = 4.0  # seek instead of decoding through gaps longer than this


def segment_frames(source: str | os.PathLike, info: MediaInfo,
                   segs: Sequence[tuple[float, float]], ctx: JobContext) -> Iterator[tuple[float, np.ndarray]]:
    """(time, RGB uint8 image) of the frames around ``segs`` (sorted), in time order.

    Seeks to a segment that lies more than ``SEEK_GAP_S`` ahead and converts to RGB only
    frames within a frame of a segment, so a short reel of a long video decodes little of it.
    Times are seconds from the video stream's first frame, as :class:`VideoReader` gives them.
    """
    fps = float(info.fps) if info.fps else 25.0
    pad = 1.5 / fps
    name = os.path.basename(str(source))
    with open_container(source) as c:
        vs = c.streams.video[0]
        vs.thread_type = "AUTO"
        tb = vs.time_base
        origin = vs.start_time or 0
        pos = -1e9  # time of the last decoded frame
        last = -1e9
        bad = 0
        for s, e in segs:
            if s - pos > SEEK_GAP_S:
                target = max(0.0, s - 1.0)
                c.seek(origin + int(target / tb), stream=vs, backward=True, any_frame=False)
            done = False
            for packet in c.demux(vs):
                ctx.check()
                try:
                    frames = vs.decode(packet)
                except av.InvalidDataError:
                    bad += 1
                    if bad > 200:
                        raise ProcessingError(f"The video {name} has too many damaged packets.") from None
                    continue
                for vf in frames:
                    if vf.pts is None:
                        continue
                    t = float((vf.pts - origin) * tb)
                    pos = t
                    if t < s - pad or t <= last:
                        continue
                    last = t
                    yield t, _rgb(vf, info)
                    if t >= e + pad:
                        done = True
                        break
                if done:
                    break
            if not done:  # end of stream
                return


def _rgb(vf: av.VideoFrame, info: MediaInfo) -> np.ndarray:
    pix = vf.format.name
    if pix.startswith(("yuv", "nv", "p0", "p2", "gray")):
        out = vf.reformat(format="rgb24", src_colorspace=effective_matrix(info.color, vf.height),
                          src_color_range=effective_range(info.color, pix))
    else:
        out = vf.reformat(format="rgb24")
    return apply_rotation(out.to_ndarray(), info.rotation) if info.rotation else out.to_ndarray()


def render(
    source: str | os.PathLike,
    segments: Sequence[tuple[float, float]],
    output: str | os.PathLike,
    *,
    vertical: str = "off",
    crossfade: float = 0.0,
    cues: Sequence[Cue] | None = None,
    audio_fade: float = 0.02,
    codec: str | None = None,
    crf: int | None = None,
    preset: str | None = "veryfast",
    ctx: JobContext | None = None,
    info: MediaInfo | None = None,
) -> EditResult:
    """Write the ``segments`` (source seconds) of ``source`` one after another to ``output``."""
    ctx = ctx or JobContext()
    info = info or probe(source)
    output = Path(output)
    if output.suffix.lower() not in (".mp4", ".mov", ".mkv"):
        raise InputError(f"Cannot write the reel to {output.name}: use .mp4, .mov or .mkv.")
    if not output.parent.is_dir():
        raise InputError(f"The output folder {output.parent} does not exist.")
    duration = info.duration or 0.0
    segs = normalise_segments(segments, duration if duration > 0 else 1e12)
    if not segs:
        raise InputError("No segment to cut lies inside the video.")
    fps = info.fps if info.fps else Fraction(25)
    fps_f = float(fps)
    sw, sh = info.display_size
    framer = Framer(sw, sh, vertical)
    ow, oh = framer.out
    shortest = min(e - s for s, e in segs)
    xf = max(0.0, min(crossfade, 0.4 * shortest)) if len(segs) > 1 else 0.0
    k = int(round(xf * fps_f))
    burner = SubtitleBurner(cues, ow, oh) if cues else None

    with tempfile.TemporaryDirectory(prefix=".reelsmith-edit-", dir=output.parent) as tmpd:
        vtmp = Path(tmpd) / ("video" + output.suffix.lower())
        counts = [0] * len(segs)
        first_t = [s for s, _ in segs]
        writer = VideoWriter(vtmp, width=ow, height=oh, fps=fps, codec=codec, crf=crf,
                             preset=preset, color=info.color, constant_rate=True)
        try:
            written = 0

            def emit(img: np.ndarray) -> None:
                nonlocal written
                if burner is not None:
                    img = burner.apply(img, written / fps_f)
                writer.write(img)
                written += 1

            buf: deque[np.ndarray] = deque()
            tail: list[np.ndarray] = []
            # Output frames sit on a constant grid: segment i has slots start + j/fps, each
            # filled with the source frame nearest in time (exact for constant-rate sources,
            # and variable-rate sources stay in sync with the audio cut at the same times).
            slots = [max(1, math.floor((e - s) * fps_f + 1e-6)) for s, e in segs]
            i = j = 0
            prev: tuple[float, np.ndarray] | None = None

            def place(img: np.ndarray) -> None:
                nonlocal i, j, tail, buf
                if j == 0:
                    framer.reset()
                    if i > 0 and counts[i - 1]:
                        tail, buf = list(buf), deque()  # held back for the dissolve
                out_img = framer.apply(img)
                if out_img.dtype != np.uint8:
                    out_img = (out_img >> 8).astype(np.uint8)
                if i > 0 and j < len(tail):
                    alpha = (j + 1) / (len(tail) + 1)
                    out_img = (tail[j].astype(np.float32) * (1 - alpha)
                               + out_img.astype(np.float32) * alpha + 0.5).astype(np.uint8)
                buf.append(out_img)
                while len(buf) > k:
                    emit(buf.popleft())
                counts[i] += 1
                j += 1
                if j >= slots[i]:
                    i, j = i + 1, 0

            def slot_time() -> float:
                return segs[i][0] + j / fps_f

            for ftime, fimage in segment_frames(source, info, segs, ctx):
                if prev is None or (i < len(segs) and prev[0] < segs[i][0] - 2.0 / fps_f):
                    prev = (ftime, fimage)  # never fill a segment with a frame from before it
                # Slots closer to the previous frame than to this one take the previous frame.
                while i < len(segs) and slot_time() <= (prev[0] + ftime) / 2:
                    place(prev[1])
                if i >= len(segs):
                    break
                prev = (ftime, fimage)
                ctx.progress(min(1.0, sum(counts) / max(1, sum(slots))), done=written)
            if prev is not None:  # end of stream: fill slots up to one frame past the last frame
                while i < len(segs) and slot_time() < prev[0] + 1.0 / fps_f - 1e-6:
                    place(prev[1])
            while buf:
                emit(buf.popleft())
            used = [(idx, c) for idx, c in enumerate(counts) if c > 0]
            if not used:
                raise InputError("None of the chosen segments holds a video frame.")
            writer.close()
        except BaseException:
            writer.abort()
            raise
        kept = [(segs[idx], first_t[idx], c) for idx, c in used]
        overlaps = [min(k, c) for _, _, c in kept[1:]]  # frames lost to each dissolve
        frames = sum(c for _, _, c in kept) - sum(overlaps)
        out_dur = frames / fps_f
        seg_meta = []
        pos = 0.0
        for n, (_seg, t0, c) in enumerate(kept):
            if n > 0:
                pos -= overlaps[n - 1] / fps_f
            seg_meta.append({"source_start": round(t0, 3), "source_end": round(t0 + c / fps_f, 3),
                             "output_start": round(pos, 3), "output_end": round(pos + c / fps_f, 3),
                             "frames": c})
            pos += c / fps_f
        has_audio = False
        final_tmp = temp_path_for(output)
        try:
            audio = _cut_audio(source, info, [(t0, c / fps_f) for _, t0, c in kept],
                               [o / fps_f for o in overlaps], audio_fade, ctx) \
                if info.has_audio else None
            if audio is not None:
                samples, rate = audio
                _mux(vtmp, samples, rate, final_tmp)
                has_audio = True
                commit(final_tmp, output)
            else:
                commit(vtmp, output)
        except BaseException:
            discard(final_tmp)
            raise
    return EditResult(output, ow, oh, fps_f, frames, round(out_dur, 3), has_audio, seg_meta)


def _cut_audio(source: str | os.PathLike, info: MediaInfo, spans: list[tuple[float, float]],
               overlaps: list[float], fade: float,
               ctx: JobContext) -> tuple[np.ndarray, int] | None:
    """Decode the audio once (streaming) and return (channels x samples float32, rate) of the
    spans joined with fades or equal-power crossfades; gaps past the audio's end are silence."""
    try:
        container = av.open(str(source), metadata_errors="ignore")
    except av.FFmpegError:
        return None
    with container:
        if not container.streams.audio:
            return None
        ast = container.streams.audio[0]
        vst = container.streams.video[0] if container.streams.video else None
        rate = ast.codec_context.sample_rate or 48000
        if rate not in (44100, 48000, 32000, 24000, 22050, 16000, 96000, 88200):
            rate = 48000
        chans = 1 if (ast.codec_context.channels or 2) == 1 else 2
        layout = "mono" if chans == 1 else "stereo"
        a0 = float(ast.start_time * ast.time_base) if ast.start_time is not None else 0.0
        v0 = float(vst.start_time * vst.time_base) if vst is not None and vst.start_time is not None else 0.0
        ranges = [(round(t0 * rate), round(t0 * rate) + round(d * rate)) for t0, d in spans]
        bufs = [np.zeros((chans, b - a), np.float32) for a, b in ranges]
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        pos = round((a0 - v0) * rate)
        last_end = ranges[-1][1]

        def place(arr: np.ndarray) -> None:
            nonlocal pos
            n = arr.shape[1]
            for (a, b), buf in zip(ranges, bufs, strict=True):
                lo, hi = max(a, pos), min(b, pos + n)
                if hi > lo:
                    buf[:, lo - a:hi - a] = arr[:, lo - pos:hi - pos]
            pos += n

        try:
            for idx, fr in enumerate(container.decode(ast)):
                if idx % 64 == 0:
                    ctx.check()
                fr.pts = None
                for out in resampler.resample(fr):
                    place(out.to_ndarray())
                if pos >= last_end:
                    break
            else:
                for out in resampler.resample(None):
                    place(out.to_ndarray())
        except av.FFmpegError as exc:
            log.warning("audio decoding stopped early (%s); the rest is silent", exc)
    nf = max(1, int(fade * rate))
    for buf in bufs:  # short fades at every cut: no clicks
        m = min(nf, buf.shape[1] // 2)
        if m > 0:
            ramp = np.linspace(0.0, 1.0, m, dtype=np.float32)
            buf[:, :m] *= ramp
            buf[:, -m:] *= ramp[::-1]
    out = bufs[0]
    for buf, ov in zip(bufs[1:], overlaps, strict=True):
        m = min(int(round(ov * rate)), out.shape[1], buf.shape[1])
        if m > 0:
            th = np.linspace(0.0, math.pi / 2, m, dtype=np.float32)
            mixed = out[:, -m:] * np.cos(th) + buf[:, :m] * np.sin(th)
            out = np.concatenate([out[:, :-m], mixed, buf[:, m:]], axis=1)
        else:
            out = np.concatenate([out, buf], axis=1)
    return np.clip(out, -1.0, 1.0), rate


def _mux(video: Path, samples: np.ndarray, rate: int, dest: Path) -> None:
    """Copy the encoded video from ``video`` and encode ``samples`` as AAC into ``dest``."""
    chans = samples.shape[0]
    try:
        with av.open(str(video)) as vin, av.open(str(dest), "w",
                                                  options={"movflags": "+faststart"}) as out:
            vin_s = vin.streams.video[0]
            vout = out.add_stream_from_template(vin_s)
            aout = out.add_stream("aac", rate=rate)
            aout.layout = "mono" if chans == 1 else "stereo"
            aout.time_base = Fraction(1, rate)
            pos = 0
            chunk = 1024

            def audio_until(t: float | None) -> None:
                nonlocal pos
                stop = samples.shape[1] if t is None else min(samples.shape[1], int(t * rate))
                while pos < stop:
                    part = np.ascontiguousarray(samples[:, pos:pos + chunk])
                    fr = av.AudioFrame.from_ndarray(part, format="fltp", layout=aout.layout.name)
                    fr.sample_rate = rate
                    fr.pts = pos
                    fr.time_base = Fraction(1, rate)
                    for pkt in aout.encode(fr):
                        out.mux(pkt)
                    pos += part.shape[1]

            for pkt in vin.demux(vin_s):
                if pkt.dts is None:
                    continue
                t = float(pkt.dts * pkt.time_base)
                pkt.stream = vout
                out.mux(pkt)
                audio_until(t + 0.5)
            audio_until(None)
            for pkt in aout.encode(None):
                out.mux(pkt)
    except av.FFmpegError as exc:
        raise ProcessingError(f"Joining the reel's picture and sound failed ({exc}).") from None
