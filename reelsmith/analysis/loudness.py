"""Audio loudness per analysis window: RMS level in dBFS plus a 'dynamics' score.

RMS over a window slightly longer than the hop (short-term, like EBU R128's 3 s window but
shorter so that bursts stand out). Dynamics is how far a window is above the level of its
surroundings (a rolling median), which catches cheering or shouting in a loud video too.
"""

from __future__ import annotations

import numpy as np

FLOOR_DB = -90.0


def window_rms_db(samples: np.ndarray, rate: int, n_windows: int, hop: float,
                  window: float = 1.0) -> np.ndarray:
    """RMS level (dBFS) of ``window`` seconds centred on each hop-spaced window centre."""
    out = np.full(n_windows, FLOOR_DB, dtype=np.float32)
    if samples is None or samples.size == 0:
        return out
    sq = np.concatenate([[0.0], np.cumsum(samples.astype(np.float64) ** 2)])
    half = window / 2
    for i in range(n_windows):
        c = (i + 0.5) * hop
        a = max(0, int((c - half) * rate))
        b = min(samples.size, int((c + half) * rate))
        if b <= a:
            continue
        ms = (sq[b] - sq[a]) / (b - a)
        out[i] = max(FLOOR_DB, 10.0 * np.log10(ms + 1e-12))
    return out


def dynamics(level_db: np.ndarray, hop: float, span: float = 30.0) -> np.ndarray:
    """dB above the rolling median of the surrounding ``span`` seconds (0 when below)."""
    n = level_db.size
    if n == 0:
        return level_db.copy()
    k = max(1, int(span / hop / 2))
    out = np.zeros(n, dtype=np.float32)
    for i in range(n):
        med = float(np.median(level_db[max(0, i - k): i + k + 1]))
        out[i] = max(0.0, float(level_db[i]) - med)
    return out


def summary(samples: np.ndarray | None, level_db: np.ndarray) -> dict:
    """Whole-file figures for the report."""
    if samples is None or samples.size == 0:
        return {"mean_db": None, "peak_db": None, "range_db": None}
    ms = float(np.mean(samples.astype(np.float64) ** 2))
    peak = float(np.max(np.abs(samples)))
    valid = level_db[level_db > FLOOR_DB + 1]
    rng = float(np.percentile(valid, 95) - np.percentile(valid, 10)) if valid.size else 0.0
    return {
        "mean_db": round(10 * np.log10(ms + 1e-12), 2),
        "peak_db": round(20 * np.log10(peak + 1e-12), 2),
        "range_db": round(rng, 2),
    }
