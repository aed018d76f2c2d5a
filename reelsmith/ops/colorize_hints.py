"""Colorization by optimisation from user hints (Levin, Lischinski and Weiss, "Colorization
using Optimization", SIGGRAPH 2004): neighbouring pixels of similar intensity get similar colour.

The formulation here is the symmetric (graph Laplacian) form of that idea, which makes the
system symmetric positive definite: minimise over the chroma planes u (a*, b*)::

    sum_{r~s} w_rs (u_r - u_s)^2 + lam * sum_{hints} (u_r - h_r)^2 + eps * sum_r (u_r - p_r)^2

with ``w_rs = exp(-(L_r - L_s)^2 / (2 sigma^2))`` over the 8-neighbourhood, ``sigma^2`` 0.6 x the
local luminance variance (floored), ``h`` the hinted chroma and ``p`` an optional prior (a
model's prediction: hints then override it locally, the ``eps`` term setting how far a hint
reaches). One sparse factorisation serves both chroma planes.

It is solved at a working size of about :data:`WORK_PIXELS` (a 12 MP photo is reduced 40x) and
the chroma is put back on the full-resolution luminance with :func:`chroma.apply_chroma`, so a
12 MP photo takes seconds. Hints are then honoured exactly at their own full-resolution pixels.

Hints come as JSON (:func:`parse_hints_json`)::

    {"points": [{"x": 10, "y": 20, "color": "#c83228", "radius": 0}],
     "strokes": [{"points": [[x, y], ...], "width": 6, "color": [200, 50, 40]}]}

(pixel coordinates of the input; colours as ``#rrggbb``, ``#rgb`` or ``[r, g, b]`` 0..255), or
as a hint image (:func:`hints_from_image`): the photo with colour scribbles painted on it, or
scribbles on black or on a transparent layer -- pixels whose chroma clearly differs from the
grey input's are hints.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as sla

from reelsmith.errors import InputError
from reelsmith.ops.chroma import apply_chroma, check_rgb, colour_ab, from_lab, to_lab

#: Pixels the system is solved on (0.25-0.5 MP keeps a solve near a second on one core).
WORK_PIXELS = 300_000
#: Weight of a hint against the smoothness term (large: hints are nearly hard constraints).
HINT_WEIGHT = 100.0
#: Chroma difference (Lab units) from the input that makes a hint image's pixel a hint.
HINT_IMAGE_CHROMA = 8.0
#: Most hints one JSON file may hold (points plus stroke points).
MAX_JSON_HINTS = 100_000


@dataclass
class Hints:
    """Hinted pixels at full resolution: ``xs``, ``ys`` (int arrays), ``rgb`` (Nx3 uint8)."""

    xs: np.ndarray
    ys: np.ndarray
    rgb: np.ndarray
    source: str = "json"

    def __len__(self) -> int:
        return int(self.xs.size)

    def lab(self) -> np.ndarray:
        return colour_ab(self.rgb)

    def describe(self) -> dict[str, Any]:
        return {"hint_pixels": len(self), "hint_source": self.source}


_HEX = re.compile(r"^#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")


def parse_colour(value: Any, what: str) -> tuple[int, int, int]:
    """``#rrggbb``, ``#rgb`` or ``[r, g, b]`` (0..255) -> an RGB triple; InputError naming
    ``what`` otherwise."""
    if isinstance(value, str):
        m = _HEX.match(value.strip())
        if m:
            h = m.group(1)
            if len(h) == 3:
                h = "".join(c * 2 for c in h)
            return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)
    elif isinstance(value, (list, tuple)) and len(value) == 3 and all(
            isinstance(c, (int, float)) and not isinstance(c, bool) and 0 <= c <= 255 for c in value):
        return int(round(value[0])), int(round(value[1])), int(round(value[2]))
    raise InputError(f"{what} has the colour {value!r}; give it as \"#rrggbb\" or [r, g, b] "
                     "with values 0-255.")


def _xy(value: Any, what: str, width: int, height: int) -> tuple[float, float]:
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        raise InputError(f"{what} needs a position [x, y] in pixels; got {value!r}.")
    x, y = float(value[0]), float(value[1])
    if not (0 <= x < width and 0 <= y < height) or not (math.isfinite(x) and math.isfinite(y)):
        raise InputError(f"{what} at ({value[0]}, {value[1]}) is outside the {width}x{height} "
                         "image; positions are pixels from the top-left corner.")
    return x, y


def parse_hints_json(data: Any, width: int, height: int) -> Hints:
    """Hints from the JSON form (see the module doc) for a ``width`` x ``height`` input.

    Raises InputError naming the hint (1-based, e.g. "hint point 3") for a position outside
    the image, a bad colour, a missing field or an empty file."""
    if not isinstance(data, dict) or not (set(data) & {"points", "strokes"}):
        raise InputError("Hints must be a JSON object with \"points\" and/or \"strokes\" "
                         "(e.g. {\"points\": [{\"x\": 10, \"y\": 20, \"color\": \"#c83228\"}]}).")
    unknown = set(data) - {"points", "strokes"}
    if unknown:
        raise InputError(f"Hints have unknown key(s) {sorted(unknown)}; use points and strokes.")
    colour = np.zeros((height, width, 3), np.uint8)
    mask = np.zeros((height, width), np.uint8)
    for i, pt in enumerate(data.get("points") or [], 1):
        what = f"hint point {i}"
        if not isinstance(pt, dict) or "color" not in pt or "x" not in pt or "y" not in pt:
            raise InputError(f"{what} must be an object with x, y and color.")
        x, y = _xy([pt["x"], pt["y"]], what, width, height)
        rgb = parse_colour(pt["color"], what)
        r = pt.get("radius", 0)
        if not isinstance(r, (int, float)) or isinstance(r, bool) or not 0 <= r <= 1000:
            raise InputError(f"{what} has the radius {r!r}; give pixels from 0 to 1000.")
        cx, cy = int(x), int(y)
        if r < 1:
            colour[cy, cx], mask[cy, cx] = rgb, 1
        else:
            cv2.circle(colour, (cx, cy), int(round(r)), rgb, -1)
            cv2.circle(mask, (cx, cy), int(round(r)), 1, -1)
    for i, st in enumerate(data.get("strokes") or [], 1):
        what = f"hint stroke {i}"
        if not isinstance(st, dict) or "color" not in st or not isinstance(st.get("points"), list) \
                or not st["points"]:
            raise InputError(f"{what} must be an object with points [[x, y], ...] and color.")
        pts = np.array([_xy(p, f"{what}, point {j}", width, height)
                        for j, p in enumerate(st["points"], 1)])
        rgb = parse_colour(st["color"], what)
        width_px = st.get("width", 3)
        if not isinstance(width_px, (int, float)) or isinstance(width_px, bool) or not 1 <= width_px <= 500:
            raise InputError(f"{what} has the width {width_px!r}; give pixels from 1 to 500.")
        poly = [np.rint(pts).astype(np.int32).reshape(-1, 1, 2)]
        t = int(round(width_px))
        cv2.polylines(colour, poly, False, rgb, t)
        cv2.polylines(mask, poly, False, 1, t)
        if len(pts) == 1:
            cv2.circle(colour, tuple(poly[0][0, 0]), max(1, t // 2), rgb, -1)
            cv2.circle(mask, tuple(poly[0][0, 0]), max(1, t // 2), 1, -1)
    ys, xs = np.nonzero(mask)
    if not len(xs):
        raise InputError("The hints file holds no points or strokes; add at least one.")
    return Hints(xs.astype(np.int64), ys.astype(np.int64), colour[ys, xs], "json")


def hints_from_image(hint_image: np.ndarray, image: np.ndarray) -> Hints:
    """Hints from a scribbled image: the photo with colour strokes painted over it, or strokes
    on black or on a transparent layer (RGBA: only opaque pixels count). A pixel is a hint
    where its chroma differs from the input's by more than :data:`HINT_IMAGE_CHROMA`.

    A hint image of another size is scaled when it has the input's aspect; InputError when
    it does not, or when no hint is found."""
    check_rgb(image)
    h, w = image.shape[:2]
    hi = np.asarray(hint_image)
    if hi.ndim != 3 or hi.shape[2] not in (3, 4):
        raise InputError(f"The hint image must be RGB or RGBA; it has shape {hi.shape}.")
    if hi.dtype == np.uint16:
        hi = (hi >> 8).astype(np.uint8)
    if hi.shape[:2] != (h, w):
        if abs(hi.shape[1] / hi.shape[0] - w / h) > 0.01:
            raise InputError(f"The hint image is {hi.shape[1]}x{hi.shape[0]} but the input is "
                             f"{w}x{h}; paint the hints on a copy of the input (same aspect).")
        hi = cv2.resize(hi, (w, h), interpolation=cv2.INTER_NEAREST)
    opaque = hi[..., 3] > 127 if hi.shape[2] == 4 else np.ones((h, w), bool)
    rgb = np.ascontiguousarray(hi[..., :3])
    diff = to_lab(rgb)[..., 1:] - to_lab(image)[..., 1:]
    chroma = np.sqrt((diff ** 2).sum(-1))
    ys, xs = np.nonzero(opaque & (chroma > HINT_IMAGE_CHROMA))
    if not len(xs):
        raise InputError("No colour hint was found in the hint image: paint coloured strokes "
                         "on the photo (or on black / a transparent layer) where you want colour.")
    return Hints(xs.astype(np.int64), ys.astype(np.int64), rgb[ys, xs], "image")


def load_hints(path: str | Path, image: np.ndarray) -> Hints:
    """Hints from a .json file or a hint image, for ``image`` (the input being coloured)."""
    from reelsmith.media.images import read_image

    p = Path(path)
    if p.suffix.lower() == ".json" or _looks_json(p):
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"The hints file {p.name} is not valid JSON: {exc}.") from None
        return parse_hints_json(data, image.shape[1], image.shape[0])
    hint_img, _ = read_image(p)
    return hints_from_image(hint_img, image)


def _looks_json(p: Path) -> bool:
    try:
        with open(p, "rb") as f:
            head = f.read(64).lstrip()
    except OSError:
        return False
    return head[:1] in (b"{", b"[")


# -- the solver ----------------------------------------------------------------------------

def work_size(width: int, height: int, pixels: int = WORK_PIXELS) -> tuple[int, int]:
    """(w, h) the system is solved at for an input of this size (never larger)."""
    if width * height <= pixels:
        return width, height
    s = math.sqrt(pixels / (width * height))
    return max(2, round(width * s)), max(2, round(height * s))


def affinity_laplacian(luma: np.ndarray) -> sp.csr_matrix:
    """The graph Laplacian D - W of the 8-neighbourhood affinity of ``luma`` (HxW float L*)."""
    h, w = luma.shape
    n = h * w
    mean = cv2.blur(luma, (3, 3), borderType=cv2.BORDER_REFLECT)
    var = np.maximum(cv2.blur(luma * luma, (3, 3), borderType=cv2.BORDER_REFLECT) - mean * mean, 0)
    var = 0.6 * var + 0.1  # Levin et al.'s 0.6 x window variance; the floor links flat areas
    idx = np.arange(n, dtype=np.int64).reshape(h, w)
    rows, cols, vals = [], [], []
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
        ys = slice(0, h - dy)
        yd = slice(dy, h)
        xs = slice(max(0, -dx), w - max(0, dx))
        xd = slice(max(0, dx), w + min(0, dx) if dx < 0 else w)
        a, b = idx[ys, xs].ravel(), idx[yd, xd].ravel()
        d2 = (luma[ys, xs] - luma[yd, xd]).ravel() ** 2
        s2 = 0.5 * (var[ys, xs] + var[yd, xd]).ravel()
        wt = np.exp(-d2 / (2.0 * s2)) * (1.0 / math.hypot(dy, dx))
        rows += [a, b]
        cols += [b, a]
        vals += [wt, wt]
    r, c, v = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    wm = sp.csr_matrix((v, (r, c)), shape=(n, n))
    deg = np.asarray(wm.sum(1)).ravel()
    return (sp.diags(deg) - wm).tocsr()


def solve_chroma(luma: np.ndarray, hint_idx: np.ndarray, hint_ab: np.ndarray, *,
                 prior: np.ndarray | None = None, reach: float | None = None) -> np.ndarray:
    """The chroma planes (HxWx2) for ``luma`` (HxW L*) given hinted flat indices ``hint_idx``
    with a*/b* values ``hint_ab`` (Nx2). ``prior`` (HxWx2): a prediction hints override
    locally; ``reach``: how far (pixels) a hint's influence extends over a flat area when a
    prior is given (default: 5% of the image diagonal)."""
    h, w = luma.shape
    n = h * w
    lap = affinity_laplacian(luma)
    lam = np.zeros(n)
    rhs = np.zeros((n, 2))
    lam[hint_idx] = HINT_WEIGHT
    rhs[hint_idx] = HINT_WEIGHT * hint_ab
    if prior is not None:
        reach = reach or 0.05 * math.hypot(w, h)
        eps = 1.0 / max(reach, 1.0) ** 2
        rhs += eps * prior.reshape(n, 2)
    else:
        eps = 1e-6  # keeps the system regular where no hint reaches (a region cut off by edges)
    a = (lap + sp.diags(lam + eps)).tocsc()
    lu = sla.splu(a, permc_spec="MMD_AT_PLUS_A")
    return lu.solve(rhs).reshape(h, w, 2).astype(np.float32)


def _work_hints(hints: Hints, size: tuple[int, int], full: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Hints averaged per working-size pixel: (flat indices, Nx2 a*/b*)."""
    (w, h), (fw, fh) = size, full
    x = np.minimum((hints.xs * w) // fw, w - 1)
    y = np.minimum((hints.ys * h) // fh, h - 1)
    flat = y * w + x
    ab = hints.lab()[:, 1:].astype(np.float64)
    uniq, inv = np.unique(flat, return_inverse=True)
    count = np.bincount(inv)
    mean = np.stack([np.bincount(inv, ab[:, k]) / count for k in (0, 1)], 1)
    return uniq, mean


def check_hints(hints: Hints, image: np.ndarray) -> None:
    h, w = image.shape[:2]
    if not len(hints):
        raise InputError("No hints were given.")
    if hints.xs.max() >= w or hints.ys.max() >= h or hints.xs.min() < 0 or hints.ys.min() < 0:
        raise InputError(f"The hints lie outside the {w}x{h} image; were they made for another "
                         "picture?")


def honour_hints(out: np.ndarray, lab: np.ndarray, hints: Hints, strength: float = 1.0) -> np.ndarray:
    """Set the hinted full-resolution pixels of ``out`` to their hint: the hint's chroma on
    the photo's luminance, which is the hint colour itself wherever that colour has the
    photo's luminance there (within 1 L* unit: a true colour given as a hint)."""
    hl = hints.lab()
    yx = (hints.ys, hints.xs)
    px = lab[yx].copy()
    px[:, 1:] = hl[:, 1:] * strength
    out[yx] = from_lab(px[None], out.dtype)[0]
    if strength == 1.0:
        same = np.abs(hl[:, 0] - lab[yx][:, 0]) <= 1.0
        if out.dtype == np.uint8:
            out[hints.ys[same], hints.xs[same]] = hints.rgb[same]
        else:
            out[hints.ys[same], hints.xs[same]] = hints.rgb[same].astype(np.uint16) * 257
    return out


def hint_chroma(image: np.ndarray, hints: Hints, *, prior: np.ndarray | None = None,
                work_pixels: int = WORK_PIXELS, lab: np.ndarray | None = None) -> np.ndarray:
    """The a*/b* planes at working size solved from ``hints`` (and an optional ``prior`` at
    any size, which hints then override locally)."""
    check_rgb(image)
    check_hints(hints, image)
    h, w = image.shape[:2]
    size = work_size(w, h, work_pixels)
    lab = to_lab(image) if lab is None else lab
    luma = lab[..., 0]
    if size != (w, h):
        luma = cv2.resize(luma, size, interpolation=cv2.INTER_AREA)
    if prior is not None:
        prior = cv2.resize(np.asarray(prior, np.float32), size, interpolation=cv2.INTER_LINEAR)
    idx, ab = _work_hints(hints, size, (w, h))
    return solve_chroma(luma, idx, ab, prior=prior)


def colorize_with_hints(image: np.ndarray, hints: Hints, *, strength: float = 1.0,
                        prior: np.ndarray | None = None,
                        work_pixels: int = WORK_PIXELS) -> np.ndarray:
    """``image`` (HxWx3 uint8/uint16, grey or not: only its luminance is used) coloured from
    ``hints``; the result has the image's dtype and size, its luminance, and each hinted
    pixel's hinted colour (see :func:`honour_hints`). ``prior``: a model's a*/b* prediction
    that the hints steer locally. Raises InputError for hints outside the image."""
    lab = to_lab(image)
    ab = hint_chroma(image, hints, prior=prior, work_pixels=work_pixels, lab=lab)
    out = apply_chroma(image, ab, strength=strength, lab=lab)
    return honour_hints(out, lab, hints, strength)
