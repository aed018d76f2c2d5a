"""Optional transcript with faster-whisper from a local model directory.

Never required: when faster-whisper or a model is missing, :func:`transcribe` returns None
and a reason. A transcript that looks hallucinated (much text for little speech, or the
same words over and over) is discarded, with the reason stated.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reelsmith.config import get_settings
from reelsmith.media.subtitles import Cue

log = logging.getLogger(__name__)

ENV_MODEL = "REELSMITH_WHISPER_MODEL"
_STOCK_PHRASES = ("thank you for watching", "thanks for watching", "subtitles by",
                  "please subscribe", "amara.org")


@dataclass
class Transcript:
    cues: list[Cue]
    language: str = ""
    backend: str = "faster-whisper"
    extra: dict = field(default_factory=dict)

    @property
    def text(self) -> str:
        return " ".join(c.text for c in self.cues).strip()

    def window_text(self, start: float, end: float) -> str:
        return " ".join(c.text for c in self.cues if c.end > start and c.start < end).strip()


def find_model_dir(models_dir: Path | None) -> Path | None:
    """$REELSMITH_WHISPER_MODEL, else a ``faster-whisper*`` folder with a model.bin."""
    p = get_settings().whisper_model
    if p is not None:
        return p if p.is_dir() else None
    if models_dir and models_dir.is_dir():
        for d in sorted(models_dir.glob("faster-whisper*")):
            if (d / "model.bin").is_file():
                return d
    return None


def hallucination_check(tr: Transcript, speech_seconds: float) -> str:
    """'' when the transcript looks real, else a sentence saying why it is rejected."""
    words = re.findall(r"[\w']+", tr.text.lower())
    if not words:
        return "the transcript is empty"
    if speech_seconds < 1.0 and len(words) > 4:
        return (f"the transcript has {len(words)} words but the audio holds only "
                f"{speech_seconds:.1f} s of speech")
    if speech_seconds > 0 and len(words) / speech_seconds > 6.0:
        return (f"the transcript has {len(words) / speech_seconds:.1f} words per second of "
                "speech, more than anyone speaks")
    if len(words) >= 12:
        grams = [tuple(words[i:i + 3]) for i in range(len(words) - 2)]
        if len(set(grams)) / len(grams) < 0.35:
            return "the transcript repeats the same words over and over"
    texts = [c.text.strip().lower() for c in tr.cues if c.text.strip()]
    if len(texts) >= 3 and len(set(texts)) == 1:
        return "every transcript line is the same"
    if speech_seconds < 3.0 and any(p in tr.text.lower() for p in _STOCK_PHRASES):
        return "the transcript is a stock phrase Whisper invents for silence"
    return ""


def transcribe(samples: np.ndarray | None, rate: int, *, models_dir: Path | None,
               language: str = "auto", speech_seconds: float = 0.0,
               threads: int = 0) -> tuple[Transcript | None, str]:
    """(transcript, '') or (None, reason)."""
    if samples is None or samples.size == 0:
        return None, "the input has no audio"
    try:
        from faster_whisper import WhisperModel  # type: ignore[import-not-found]
    except ImportError:
        return None, "faster-whisper is not installed"
    model_dir = find_model_dir(models_dir)
    if model_dir is None:
        return None, (f"no faster-whisper model directory was found (set {ENV_MODEL} or put a "
                      "faster-whisper-* folder in the models directory)")
    if speech_seconds < 0.5:
        return None, "the audio holds no speech to transcribe"
    try:
        model = WhisperModel(str(model_dir), device="cpu", compute_type="int8",
                             cpu_threads=threads or 0)
        segs, info = model.transcribe(samples.astype(np.float32),
                                      language=None if language in ("", "auto") else language,
                                      vad_filter=False, condition_on_previous_text=False)
        cues = [Cue(float(s.start), float(s.end), s.text.strip()) for s in segs]
    except Exception as exc:  # noqa: BLE001 - optional signal: degrade, do not fail
        return None, f"faster-whisper failed ({exc})"
    tr = Transcript(cues, getattr(info, "language", "") or "", extra={"model": model_dir.name})
    why = hallucination_check(tr, speech_seconds)
    if why:
        return None, f"the transcript was discarded: {why}"
    return tr, ""
