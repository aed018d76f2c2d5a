"""Timed text: the one :class:`Cue` type, and SRT / WebVTT files written atomically.

A cue is text with a start and an end in seconds. The same type serves every timeline: a
transcript's cues are on the source video's timeline, a reel's on the output's; whoever
holds a list of cues says which (``map_cues`` in the highlights workflow turns one into the
other).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from reelsmith.errors import InputError
from reelsmith.media.atomic import commit, discard, temp_path_for

SUBTITLE_KINDS = ("srt", "vtt")


@dataclass
class Cue:
    """Text shown from ``start`` to ``end`` (seconds)."""

    start: float
    end: float
    text: str


def _fmt_ts(t: float, sep: str) -> str:
    ms = max(0, int(round(t * 1000)))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def write_subtitles(cues: Iterable[Cue], path: Path, kind: str) -> Path:
    """Write SRT (``kind="srt"``) or WebVTT (``"vtt"``) atomically; returns ``path``.

    Raises :class:`InputError` for another ``kind``.
    """
    if kind not in SUBTITLE_KINDS:
        raise InputError(f"Unknown subtitle format {kind!r}; use one of {', '.join(SUBTITLE_KINDS)}.")
    lines: list[str] = ["WEBVTT", ""] if kind == "vtt" else []
    for i, c in enumerate(cues, 1):
        sep = "." if kind == "vtt" else ","
        if kind == "srt":
            lines.append(str(i))
        lines.append(f"{_fmt_ts(c.start, sep)} --> {_fmt_ts(c.end, sep)}")
        lines.extend([c.text.strip(), ""])
    tmp = temp_path_for(path)
    try:
        tmp.write_text("\n".join(lines), encoding="utf-8")
        return commit(tmp, path)
    except BaseException:
        discard(tmp)
        raise
