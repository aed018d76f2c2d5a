"""Voice activity: which 30 ms frames hold speech, speech segments and the speech ratio.

Backends, best first: the Silero VAD ONNX model when ``silero_vad.onnx`` is in the models
directory (and onnxruntime is installed); webrtcvad (the default); a plain energy gate when
neither is installed. The result names the backend that ran and why a better one did not.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

FRAME_S = 0.03
SILERO_FILE = "silero_vad.onnx"


@dataclass
class SpeechResult:
    backend: str
    frame_s: float
    flags: np.ndarray  # bool per frame
    segments: list[tuple[float, float]] = field(default_factory=list)
    reason: str = ""

    @property
    def ratio(self) -> float:
        return float(self.flags.mean()) if self.flags.size else 0.0

    def window_ratio(self, n_windows: int, hop: float) -> np.ndarray:
        """Fraction of speech frames in each analysis window."""
        out = np.zeros(n_windows, dtype=np.float32)
        if not self.flags.size:
            return out
        per = hop / self.frame_s
        for i in range(n_windows):
            a, b = int(i * per), int((i + 1) * per)
            sl = self.flags[a:max(b, a + 1)]
            out[i] = float(sl.mean()) if sl.size else 0.0
        return out

    def pauses(self) -> list[float]:
        """Times between speech segments (good cut points)."""
        pts = []
        for (_, e1), (s2, _) in zip(self.segments, self.segments[1:], strict=False):
            pts.append((e1 + s2) / 2)
        return pts


def _to_segments(flags: np.ndarray, frame_s: float, *, fill_gap: float = 0.3,
                 min_len: float = 0.2) -> list[tuple[float, float]]:
    segs: list[list[float]] = []
    for i, on in enumerate(flags):
        if not on:
            continue
        t = i * frame_s
        if segs and t - segs[-1][1] <= fill_gap:
            segs[-1][1] = t + frame_s
        else:
            segs.append([t, t + frame_s])
    return [(round(a, 3), round(b, 3)) for a, b in segs if b - a >= min_len]


def _webrtc(samples: np.ndarray, rate: int, aggressiveness: int) -> np.ndarray:
    import webrtcvad

    vad = webrtcvad.Vad(aggressiveness)
    n = int(rate * FRAME_S)
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    count = pcm.size // n
    flags = np.zeros(count, dtype=bool)
    for i in range(count):
        chunk = pcm[i * n:(i + 1) * n]
        if not chunk.any():
            continue
        flags[i] = vad.is_speech(chunk.tobytes(), rate)
    return flags


def _energy(samples: np.ndarray, rate: int) -> np.ndarray:
    n = int(rate * FRAME_S)
    count = samples.size // n
    if count == 0:
        return np.zeros(0, dtype=bool)
    fr = samples[: count * n].reshape(count, n)
    db = 10 * np.log10(np.mean(fr.astype(np.float64) ** 2, axis=1) + 1e-12)
    zc = np.mean(np.abs(np.diff(np.sign(fr), axis=1)) > 0, axis=1)
    floor = np.percentile(db, 20)
    return (db > max(-50.0, floor + 12.0)) & (zc > 0.02) & (zc < 0.35)


class SileroVad:
    """Silero VAD ONNX (v5 contract: input [1, 64+512], state [2,1,128], sr -> prob, state;
    v4 contract: input [1,512], h/c [2,1,64], sr -> prob, h, c)."""

    def __init__(self, model_path: Path) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        self.sess = ort.InferenceSession(str(model_path), opts, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.sess.get_inputs()]
        self.v5 = "state" in self.inputs

    def frame_probs(self, samples: np.ndarray, rate: int = 16000) -> tuple[np.ndarray, float]:
        win = 512
        probs = []
        sr = np.array(rate, dtype=np.int64)
        state = np.zeros((2, 1, 128), np.float32)
        h = c = np.zeros((2, 1, 64), np.float32)
        ctx = np.zeros(64, np.float32)
        for i in range(samples.size // win):
            chunk = samples[i * win:(i + 1) * win].astype(np.float32)
            if self.v5:
                x = np.concatenate([ctx, chunk])[None, :]
                out, state = self.sess.run(None, {"input": x, "state": state, "sr": sr})
                ctx = chunk[-64:]
            else:
                out, h, c = self.sess.run(None, {"input": chunk[None, :], "h": h, "c": c, "sr": sr})
            probs.append(float(np.asarray(out).reshape(-1)[0]))
        return np.asarray(probs, np.float32), win / rate


def detect_speech(samples: np.ndarray | None, rate: int, *, models_dir: Path | None = None,
                  aggressiveness: int = 2, threshold: float = 0.5) -> SpeechResult:
    """Run the best available backend on mono float samples."""
    if samples is None or samples.size == 0:
        return SpeechResult("none", FRAME_S, np.zeros(0, bool), reason="the input has no audio")
    reasons = []
    silero = models_dir / SILERO_FILE if models_dir else None
    if silero is not None and silero.is_file():
        try:
            probs, fs = SileroVad(silero).frame_probs(samples, rate)
            flags = probs >= threshold
            return SpeechResult("silero-onnx", fs, flags, _to_segments(flags, fs))
        except Exception as exc:  # noqa: BLE001 - an optional model must not stop the job
            reasons.append(f"the Silero VAD model could not be used ({exc})")
    else:
        reasons.append(f"no {SILERO_FILE} in the models directory")
    try:
        flags = _webrtc(samples, rate, aggressiveness)
        return SpeechResult("webrtcvad", FRAME_S, flags, _to_segments(flags, FRAME_S),
                            reason="; ".join(reasons))
    except ImportError:
        reasons.append("webrtcvad is not installed")
    flags = _energy(samples, rate)
    return SpeechResult("energy", FRAME_S, flags, _to_segments(flags, FRAME_S),
                        reason="; ".join(reasons))
