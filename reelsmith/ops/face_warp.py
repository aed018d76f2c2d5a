"""Piecewise-affine warping of an image from one set of landmarks onto another.

The destination points are triangulated (Delaunay, OpenCV's ``Subdiv2D``) together with a ring
of boundary points around them, so the surroundings of the face move too and the warped region
has no ragged triangle edge. Boundary points follow the least-squares similarity between the two
point sets (the face's rigid motion). Each triangle gets one affine map (destination ->
source); instead of warping triangle by triangle, the triangles are rasterised into an index
image and one ``cv2.remap`` samples the whole region with a per-pixel affine map, which is
seam-free and fast. Only the bounding region of the destination points is computed.
"""

from __future__ import annotations

import cv2
import numpy as np

from reelsmith.errors import InputError
from reelsmith.ops.face_align import estimate_similarity

#: Margin of the boundary ring around the destination points, as a fraction of their extent.
BOUNDARY_MARGIN = 0.25


def _points(pts: np.ndarray, name: str) -> np.ndarray:
    p = np.asarray(pts, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 2 or len(p) < 3 or not np.isfinite(p).all():
        raise InputError(f"{name} must be an (N, 2) array of at least 3 finite points, got shape {p.shape}.")
    return p


def boundary_ring(pts: np.ndarray, margin: float = BOUNDARY_MARGIN) -> np.ndarray:
    """Eight points (corners and edge midpoints) of the points' bounding box grown by ``margin``."""
    lo, hi = pts.min(0), pts.max(0)
    pad = (hi - lo) * margin + 2.0
    x0, y0 = lo - pad
    x1, y1 = hi + pad
    xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
    return np.array([[x0, y0], [xm, y0], [x1, y0], [x1, ym], [x1, y1], [xm, y1], [x0, y1], [x0, ym]])


def delaunay(pts: np.ndarray) -> np.ndarray:
    """(T, 3) vertex indices of the Delaunay triangles of ``pts`` (a repeated point is one vertex)."""
    lo = np.floor(pts.min(0)) - 2
    hi = np.ceil(pts.max(0)) + 2
    subdiv = cv2.Subdiv2D((int(lo[0]), int(lo[1]), int(hi[0] - lo[0]) + 1, int(hi[1] - lo[1]) + 1))
    subdiv.insert([(float(x), float(y)) for x, y in pts])
    tri = subdiv.getTriangleList().reshape(-1, 3, 2).astype(np.float64)
    inside = ((tri >= lo) & (tri <= hi)).all(axis=(1, 2))  # drop triangles on Subdiv2D's outer vertices
    tri = tri[inside]
    if not len(tri):
        return np.zeros((0, 3), dtype=np.int64)
    d = ((tri.reshape(-1, 1, 2) - pts[None]) ** 2).sum(-1)
    idx = d.argmin(1).reshape(-1, 3)
    ok = (idx[:, 0] != idx[:, 1]) & (idx[:, 1] != idx[:, 2]) & (idx[:, 0] != idx[:, 2])
    return idx[ok]


def piecewise_affine(src_img: np.ndarray, src_pts: np.ndarray, dst_pts: np.ndarray,
                     out_shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Warp ``src_img`` so that ``src_pts`` land on ``dst_pts``, into an image of ``out_shape``
    (height, width[, channels]).

    Returns ``(warped, coverage)``: the warped image (``src_img``'s dtype; zero where nothing was
    warped) and a float32 HxW mask, 1 where a triangle of the destination mesh covers the pixel
    and its source position lies inside ``src_img``. The mesh reaches ``BOUNDARY_MARGIN`` of the
    points' extent beyond them, moved rigidly with the face. Raises :class:`InputError` for
    point arrays of different lengths or fewer than 3 points.
    """
    src = _points(src_pts, "src_pts")
    dst = _points(dst_pts, "dst_pts")
    if src.shape != dst.shape:
        raise InputError(f"src_pts and dst_pts differ in shape: {src.shape} vs {dst.shape}.")
    oh, ow = int(out_shape[0]), int(out_shape[1])
    channels = src_img.shape[2:] if src_img.ndim == 3 else ()
    warped = np.zeros((oh, ow, *channels), dtype=src_img.dtype)
    coverage = np.zeros((oh, ow), dtype=np.float32)
    # The boundary ring follows the rigid motion dst -> src (one similarity for the whole face).
    back = estimate_similarity(dst, src)
    ring_dst = boundary_ring(dst)
    ring_src = ring_dst @ back[:, :2].T + back[:, 2]
    all_dst = np.vstack([dst, ring_dst])
    all_src = np.vstack([src, ring_src])
    tris = delaunay(all_dst)
    x0, y0 = np.maximum(np.floor(all_dst.min(0)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(all_dst.max(0)).astype(int) + 1, (ow, oh))
    if x1 <= x0 or y1 <= y0 or not len(tris):
        return warped, coverage
    # One affine per triangle, destination -> source: [x y 1] @ A = [sx sy].
    a_dst = np.concatenate([all_dst[tris], np.ones((len(tris), 3, 1))], axis=2)  # T x 3 x 3
    a_src = all_src[tris]  # T x 3 x 2
    mats = np.linalg.pinv(a_dst) @ a_src  # T x 3 x 2 (pinv: a collinear triangle does not raise)
    # Rasterise the triangle index (shifted by one: 0 means "no triangle") in the region.
    index = np.zeros((y1 - y0, x1 - x0), dtype=np.int32)
    shift = np.array([x0, y0], dtype=np.float64)
    for t, tri in enumerate(tris):
        poly = np.round((all_dst[tri] - shift) * 16).astype(np.int32)
        cv2.fillConvexPoly(index, poly, t + 1, lineType=cv2.LINE_8, shift=4)
    inside = index > 0
    tri_of = np.maximum(index - 1, 0)
    # Coefficients relative to the region's origin keep float32 precise on large frames.
    coef = mats.astype(np.float64).copy()
    coef[:, 2, :] += x0 * coef[:, 0, :] + y0 * coef[:, 1, :]
    coef = coef.astype(np.float32)
    xx = np.arange(x1 - x0, dtype=np.float32)[None, :]
    yy = np.arange(y1 - y0, dtype=np.float32)[:, None]
    map_x = xx * coef[:, 0, 0][tri_of] + yy * coef[:, 1, 0][tri_of] + coef[:, 2, 0][tri_of]
    map_y = xx * coef[:, 0, 1][tri_of] + yy * coef[:, 1, 1][tri_of] + coef[:, 2, 1][tri_of]
    region = cv2.remap(src_img, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    sh, sw = src_img.shape[:2]
    valid = inside & (map_x >= -0.5) & (map_x <= sw - 0.5) & (map_y >= -0.5) & (map_y <= sh - 0.5)
    region[~valid] = 0
    warped[y0:y1, x0:x1] = region
    coverage[y0:y1, x0:x1] = valid
    return warped, coverage
