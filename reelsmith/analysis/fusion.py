"""Fuse per-window signals into one score and choose the segments of the reel.

Each signal is normalised robustly (5th..95th percentile -> 0..1); a signal whose spread is
too small to mean anything (silence, a static shot) is dropped and said so. The fused score
is the weighted mean of the informative signals. Segments are chosen greedily from the best
moments, grown towards their better-scoring side within ``min_clip``..``max_clip``, kept
inside scenes, snapped to scene cuts and speech pauses so no word is cut in half, merged
when nearly adjacent, and returned in time order with a total that never exceeds the target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

DEFAULT_WEIGHTS: dict[str, float] = {
    "loudness": 1.0, "dynamics": 0.7, "speech": 0.6, "motion": 1.0,
    "semantic": 1.0, "llm": 1.5,
}
# Smallest 5..95 percentile spread for a signal to count as informative (raw units).
MIN_SPREAD: dict[str, float] = {
    "loudness": 3.0, "dynamics": 2.0, "speech": 0.15, "motion": 0.004,
    "semantic": 0.05, "llm": 0.1,
}


@dataclass
class Fused:
    score: np.ndarray
    normalised: dict[str, np.ndarray]
    used: list[str]
    dropped: dict[str, str] = field(default_factory=dict)


def normalise(name: str, x: np.ndarray) -> tuple[np.ndarray | None, str]:
    if x.size == 0:
        return None, "no data"
    lo, hi = np.percentile(x, 5), np.percentile(x, 95)
    if hi - lo < MIN_SPREAD.get(name, 1e-6):
        lo, hi = float(x.min()), float(x.max())  # a short planted burst is above the 95th
        if hi - lo < MIN_SPREAD.get(name, 1e-6):
            return None, "it is flat over the whole video"
        hi = lo + max(hi - lo, MIN_SPREAD.get(name, 1e-6))
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0).astype(np.float32), ""


def fuse(signals: dict[str, np.ndarray], weights: dict[str, float] | None = None) -> Fused:
    w = dict(DEFAULT_WEIGHTS)
    w.update(weights or {})
    n = len(next(iter(signals.values())))
    total = np.zeros(n, np.float32)
    wsum = 0.0
    normed: dict[str, np.ndarray] = {}
    used, dropped = [], {}
    for name, raw in signals.items():
        nv, why = normalise(name, np.asarray(raw, np.float32))
        if nv is None:
            dropped[name] = why
            continue
        normed[name] = nv
        weight = float(w.get(name, 0.0))
        if weight <= 0:
            dropped[name] = "its weight is 0"
            continue
        total += weight * nv
        wsum += weight
        used.append(name)
    score = total / wsum if wsum > 0 else total
    return Fused(score, normed, used, dropped)


def split_long_scenes(scenes: list[tuple[float, float]], score: np.ndarray, hop: float,
                      max_clip: float, min_clip: float) -> list[float]:
    """Split points that cut scenes longer than ``max_clip`` at their lowest-scoring moments."""
    points: list[float] = []

    def split(a: float, b: float) -> None:
        if b - a <= max_clip:
            return
        lo, hi = a + min_clip, b - min_clip
        ia, ib = int(math.ceil(lo / hop)), int(hi / hop)
        seg = score[ia:ib + 1]
        if ib <= ia or seg.size == 0:
            t = (a + b) / 2
        elif np.ptp(seg) < 1e-6:  # flat: fixed windows
            t = a + max_clip
            if b - t < min_clip:
                t = (a + b) / 2
        else:
            t = (ia + int(np.argmin(seg))) * hop
        t = round(t, 3)
        points.append(t)
        split(a, t)
        split(t, b)

    for a, b in scenes:
        split(a, b)
    return sorted(points)


@dataclass
class Selection:
    segments: list[tuple[float, float]]
    total: float
    notes: list[str]


def _snap(start: float, end: float, *, cuts: list[float], speech: list[tuple[float, float]],
          budget: float, min_len: float, duration: float, tol: float = 0.75,
          reach: float = 1.5) -> tuple[float, float]:
    """Move clip edges onto nearby scene cuts and out of the middle of speech."""
    for c in cuts:  # a cut just inside an edge would flash a fraction of another scene
        if start < c < start + tol and end - c >= min_len:
            start = c
        if end - tol < c < end and c - start >= min_len:
            end = c
    for s, e in speech:
        if s < start < e:  # starts mid-word
            if start - s <= reach and (end - (s - 0.1)) <= budget:
                start = max(0.0, s - 0.1)
            elif end - (e + 0.05) >= min_len:
                start = e + 0.05
        if s < end < e:  # ends mid-word
            if e - end <= reach and (e + 0.15 - start) <= budget:
                end = min(duration, e + 0.15)
            elif (s - 0.05) - start >= min_len:
                end = s - 0.05
    return start, end


def select(score: np.ndarray, hop: float, duration: float, target: float, *,
           min_clip: float, max_clip: float, cuts: list[float], split_points: list[float],
           speech_segments: list[tuple[float, float]], merge_gap: float = 1.0) -> Selection:
    """Choose segments: total <= target, each about min_clip..max_clip, in time order."""
    n = score.size
    notes: list[str] = []
    if target >= duration:
        return Selection([(0.0, duration)], duration, ["the whole video fits in the target"])
    target = max(target, hop)
    min_clip = min(min_clip, target)
    max_clip = max(min_clip, max_clip)
    smooth = np.convolve(score, np.ones(3, np.float32) / 3, mode="same") if n >= 3 else score
    hard = {int(round(c / hop)) for c in cuts}  # window index where a new scene starts
    soft = {int(round(p / hop)) for p in split_points}
    taken = np.zeros(n, bool)
    tried = np.zeros(n, bool)
    clips: list[tuple[float, float]] = []
    remaining = target
    thresh = float(np.median(score))
    while remaining >= min_clip - 1e-6:
        free = ~(taken | tried)
        if not free.any():
            break
        cand = smooth.copy()
        if clips:  # prefer moments away from what is already picked (diversity)
            centres = (np.arange(n) + 0.5) * hop
            d = np.min([np.abs(centres - (a + b) / 2) for a, b in clips], axis=0)
            cand = cand - 0.15 * np.exp(-d / 10.0)
        cand[~free] = -np.inf
        seed = int(np.argmax(cand))
        limit = min(max_clip, remaining)
        a, b = seed, seed + 1
        while (b - a) * hop + hop <= limit + 1e-6:
            length = (b - a) * hop
            opts = []
            if a > 0 and not taken[a - 1] and (a not in hard or length < min_clip) \
                    and (a not in soft or length < min_clip):
                opts.append((score[a - 1], "l"))
            if b < n and not taken[b] and (b not in hard or length < min_clip) \
                    and (b not in soft or length < min_clip):
                opts.append((score[b], "r"))
            if not opts:
                break
            best, side = max(opts)
            if length >= min_clip and best < max(thresh, 0.5 * score[seed]):
                break
            if side == "l":
                a -= 1
            else:
                b += 1
        start, end = a * hop, min(duration, b * hop)
        if end - start < min_clip - 1e-6 and end - start < remaining - 1e-6:
            tried[a:b] = True
            continue
        start, end = _snap(start, end, cuts=cuts, speech=speech_segments, budget=remaining,
                           min_len=min(min_clip, end - start), duration=duration)
        for s, e in clips:  # snapping must not overlap an earlier pick
            if start < e and end > s:
                if start < s:
                    end = min(end, s)
                else:
                    start = max(start, e)
        if end - start < min(min_clip, remaining) * 0.75 or end <= start:
            tried[a:b] = True
            continue
        clips.append((round(start, 3), round(end, 3)))
        taken[int(start / hop):int(math.ceil(end / hop))] = True
        remaining -= end - start
    clips.sort()
    merged: list[tuple[float, float]] = []
    for s, e in clips:
        if merged:
            ps, pe = merged[-1]
            gap = s - pe
            if gap <= merge_gap and e - ps <= max_clip + merge_gap and gap <= remaining:
                merged[-1] = (ps, e)
                remaining -= max(0.0, gap)
                notes.append(f"merged picks {pe:.1f}s and {s:.1f}s")
                continue
        merged.append((s, e))
    total = sum(e - s for s, e in merged)
    return Selection(merged, round(total, 3), notes)


def auto_target(duration: float, score: np.ndarray, hop: float) -> tuple[float, str]:
    """A sensible reel length: about the time that scores well, 15..90 s, and never longer
    than the video."""
    high = float((score >= max(0.5, float(np.percentile(score, 75)))).sum()) * hop
    t = min(90.0, max(15.0, 0.6 * high + 0.05 * duration))
    if t >= duration:
        return duration, f"the video ({duration:.1f} s) is shorter than a useful reel"
    return round(t, 1), (f"{high:.0f} s of the {duration:.0f} s video score highly; "
                         f"a {t:.0f} s reel keeps the best of it")
