"""One analysis pass over a video: every signal from a single low-resolution decode.

Video is decoded once at reduced size (``VideoReader(size=...)``) and every ``step``-th
frame is analysed (about ``analysis_fps`` per second); audio is decoded once to 16 kHz mono.
Signals are reduced to a common timeline of ``hop``-second windows.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from reelsmith.analysis import audio_decode, llm, loudness, motion, scenes, semantic, transcript, vad
from reelsmith.engine.context import JobContext
from reelsmith.errors import UnsupportedMediaError
from reelsmith.media.probe import MediaInfo, probe
from reelsmith.media.reader import VideoReader

log = logging.getLogger(__name__)


@dataclass
class AnalysisOptions:
    hop: float = 0.5
    analysis_width: int = 192
    analysis_fps: float = 6.0
    scene_detector: str = "content"
    use_transcript: bool = True
    use_semantic: bool = True
    use_llm: bool = True
    language: str = "auto"
    models_dir: Path | None = None
    llm_window_s: float = 10.0


@dataclass
class Analysis:
    info: MediaInfo
    duration: float
    hop: float
    signals: dict[str, np.ndarray]  # raw per-window values, one array per signal
    cuts: list[float]
    speech: vad.SpeechResult
    transcript: transcript.Transcript | None
    backends: dict[str, dict]  # signal -> {"available", "backend", "reason"}
    timings: dict[str, float]
    loudness: dict
    has_audio: bool
    audio_seconds: float = 0.0
    frames_analysed: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def n_windows(self) -> int:
        return len(next(iter(self.signals.values()))) if self.signals else 0


def analysis_size(width: int, height: int, target_w: int) -> tuple[int, int]:
    """Downscaled (w, h), even, aspect kept, never upscaled."""
    if width <= target_w:
        return width - width % 2 or 2, height - height % 2 or 2
    w = target_w
    h = max(2, round(height * w / width / 2) * 2)
    return w, h


def _per_window(times: np.ndarray, values: np.ndarray, n: int, hop: float) -> np.ndarray:
    out = np.zeros(n, np.float32)
    if times.size == 0:
        return out
    idx = np.minimum((times / hop).astype(int), n - 1)
    sums = np.bincount(idx, weights=values, minlength=n)[:n]
    counts = np.bincount(idx, minlength=n)[:n]
    have = counts > 0
    out[have] = sums[have] / counts[have]
    if (~have).any() and have.any():
        centres = (np.arange(n) + 0.5) * hop
        out[~have] = np.interp(centres[~have], centres[have], out[have])
    return out


def analyze(path: str | Path, ctx: JobContext | None = None,
            options: AnalysisOptions | None = None, info: MediaInfo | None = None) -> Analysis:
    """Decode once and measure every signal. ``ctx`` gets progress and cancellation checks."""
    opt = options or AnalysisOptions()
    ctx = ctx or JobContext()
    info = info or probe(path)
    if info.kind != "video":
        raise UnsupportedMediaError(f"The input {Path(path).name} is an image, not a video.")
    timings: dict[str, float] = {}
    backends: dict[str, dict] = {}

    # --- audio: decoded once, 16 kHz mono ------------------------------------------------
    t0 = time.perf_counter()
    samples = audio_decode.decode_mono(path, audio_decode.ANALYSIS_RATE, check=ctx.check) \
        if info.has_audio else None
    timings["audio_decode"] = time.perf_counter() - t0
    rate = audio_decode.ANALYSIS_RATE
    has_audio = samples is not None and samples.size > 0
    audio_seconds = samples.size / rate if has_audio else 0.0

    # --- video: one pass at reduced size and rate ---------------------------------------
    fps = float(info.fps) if info.fps else 25.0
    step = max(1, round(fps / opt.analysis_fps))
    w, h = analysis_size(*info.display_size, opt.analysis_width)
    det = scenes.SceneCutDetector(fps / step, detector=opt.scene_detector)
    meter = motion.MotionMeter()
    sem, sem_reason = (semantic.load(opt.models_dir) if opt.use_semantic
                       else (None, "semantic scoring was not requested"))
    sem_times: list[float] = []
    sem_vals: list[float] = []
    times: list[float] = []
    all_times: list[float] = []
    all_diffs: list[float] = []
    thumb_prev: np.ndarray | None = None
    mvals: list[float] = []
    last_t = 0.0
    n_frames = 0
    t_scene = t_motion = t_sem = 0.0
    t0 = time.perf_counter()
    expected = max(1.0, info.duration)
    for frame in VideoReader(path, size=(w, h), info=info):
        ctx.check()
        last_t = frame.time
        n_frames += 1
        img = frame.image
        a = time.perf_counter()
        thumb = cv2.resize(img, (32, 18), interpolation=cv2.INTER_AREA).astype(np.int16)
        all_diffs.append(float(np.abs(thumb - thumb_prev).mean()) if thumb_prev is not None else 0.0)
        all_times.append(frame.time)
        thumb_prev = thumb
        t_scene += time.perf_counter() - a
        if frame.index % step:
            continue
        a = time.perf_counter()
        det.process(img, frame.time)
        b = time.perf_counter()
        mvals.append(meter.update(img))
        times.append(frame.time)
        c = time.perf_counter()
        t_scene += b - a
        t_motion += c - b
        if sem is not None and (not sem_times or frame.time - sem_times[-1] >= 1.0):
            try:
                sem_vals.append(sem.score(img))
                sem_times.append(frame.time)
            except Exception as exc:  # noqa: BLE001 - optional signal
                sem, sem_reason = None, f"the CLIP-style model failed ({exc})"
            t_sem += time.perf_counter() - c
        ctx.progress(min(1.0, frame.time / expected), done=n_frames)
    if n_frames == 0:
        raise UnsupportedMediaError(f"The video {Path(path).name} holds no decodable frames.")
    a = time.perf_counter()
    cuts = scenes.refine_cuts(det.finish(), np.asarray(all_times), np.asarray(all_diffs),
                              2.0 * step / fps)
    cuts = scenes.enforce_min_scene(cuts, det.min_scene_s)
    t_scene += time.perf_counter() - a
    timings["video_decode"] = time.perf_counter() - t0 - t_scene - t_motion - t_sem
    timings["scenes"] = t_scene
    timings["motion"] = t_motion
    if t_sem:
        timings["semantic"] = t_sem
    duration = max(last_t + 1.0 / fps, 1.0 / fps)  # from the frames, not the header
    hop = opt.hop
    n = max(1, math.ceil(duration / hop - 1e-6))
    backends["scenes"] = {"available": True, "backend": det.backend, "reason": det.reason}
    backends["motion"] = {"available": True, "backend": "frame-difference", "reason": ""}

    signals: dict[str, np.ndarray] = {}
    tarr = np.asarray(times, np.float64)
    mot = motion.suppress_cuts(tarr, np.asarray(mvals, np.float64), cuts, step / fps)
    signals["motion"] = _per_window(tarr, mot, n, hop)

    # --- audio signals -------------------------------------------------------------------
    a = time.perf_counter()
    if has_audio:
        if samples.size < int(duration * rate):  # audio shorter than video: silence after it
            samples = np.concatenate([samples, np.zeros(int(duration * rate) - samples.size,
                                                        np.float32)])
        level = loudness.window_rms_db(samples, rate, n, hop)
        backends["loudness"] = {"available": True, "backend": "rms-db", "reason": ""}
    else:
        level = np.full(n, loudness.FLOOR_DB, np.float32)
        backends["loudness"] = {"available": False, "backend": "none",
                                "reason": "the input has no audio track"}
    signals["loudness"] = level
    signals["dynamics"] = loudness.dynamics(level, hop)
    timings["loudness"] = time.perf_counter() - a
    a = time.perf_counter()
    speech = vad.detect_speech(samples if has_audio else None, rate, models_dir=opt.models_dir)
    signals["speech"] = speech.window_ratio(n, hop)
    timings["vad"] = time.perf_counter() - a
    backends["speech"] = {"available": has_audio, "backend": speech.backend,
                          "reason": speech.reason}
    speech_seconds = float(speech.flags.sum()) * speech.frame_s

    # --- optional: transcript, LLM, semantic ---------------------------------------------
    tr = None
    if opt.use_transcript:
        a = time.perf_counter()
        tr, why = transcript.transcribe(samples if has_audio else None, rate,
                                        models_dir=opt.models_dir, language=opt.language,
                                        speech_seconds=speech_seconds)
        timings["transcript"] = time.perf_counter() - a
    else:
        why = "a transcript was not requested (method=visual)"
    backends["transcript"] = {"available": tr is not None,
                              "backend": tr.backend if tr else "none", "reason": why}
    if tr is not None and opt.use_llm:
        a = time.perf_counter()
        spans = [(s, min(duration, s + opt.llm_window_s))
                 for s in np.arange(0, duration, opt.llm_window_s)]
        texts = [tr.window_text(s, e) for s, e in spans]
        scores, why = llm.score_windows(texts)
        timings["llm"] = time.perf_counter() - a
        if scores is not None:
            arr = np.zeros(n, np.float32)
            for (s, e), sc in zip(spans, scores, strict=True):
                arr[int(s / hop):int(math.ceil(e / hop))] = sc
            signals["llm"] = arr
    elif opt.use_llm:
        why = "the LLM scores transcript windows and there is no transcript"
    else:
        why = "LLM scoring was not requested"
    backends["llm"] = {"available": "llm" in signals, "backend": "openai-compatible"
                       if "llm" in signals else "none", "reason": "" if "llm" in signals else why}
    if sem_vals:
        centres = (np.arange(n) + 0.5) * hop
        signals["semantic"] = np.interp(centres, sem_times, sem_vals).astype(np.float32)
    backends["semantic"] = {"available": bool(sem_vals),
                            "backend": "clip-onnx" if sem_vals else "none",
                            "reason": "" if sem_vals else sem_reason}
    return Analysis(
        info=info, duration=duration, hop=hop, signals=signals, cuts=cuts, speech=speech,
        transcript=tr, backends=backends, timings=timings,
        loudness=loudness.summary(samples if has_audio else None, level),
        has_audio=has_audio, audio_seconds=audio_seconds, frames_analysed=len(times),
        extra={"analysis_size": [w, h], "analysis_step": step},
    )
