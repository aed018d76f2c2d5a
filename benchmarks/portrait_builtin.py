"""The builtin portrait compositor on every ordered pair of real face photos: identity
similarity of the result to the face image and to the reference's original face, background
PSNR outside the mask, seam ratio and seconds per result.

Identity is dlib's 128-D ResNet embedding (cosine similarity; an ArcFace model in the models
directory adds its own column). "ref vs face" is the similarity of the two people before
compositing, the floor. Background PSNR is over the pixels outside the mask grown by 4 px
("inf": bit-identical). Seam ratio: the gradient magnitude of the result along the edge of the
new face, over the reference's own gradient there (1.0: no sharper than the photo). Seconds:
mask + composite for one result (face detection and landmarks not counted). Needs
../shared/data/images; prints a markdown table.
"""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import machine, shared, table  # noqa: E402

from reelsmith.analysis.faces.find import FaceFinder  # noqa: E402
from reelsmith.analysis.faces.identity import ArcFaceEmbedder, DlibEmbedder, similarity  # noqa: E402
from reelsmith.errors import InputError  # noqa: E402
from reelsmith.media.images import read_image  # noqa: E402
from reelsmith.models import FACE_EMBED, select_model  # noqa: E402
from reelsmith.ops.face_mask import MaskOptions  # noqa: E402
from reelsmith.ops.portrait_composite import (  # noqa: E402
    check_face_size,
    composite_portrait,
    face_alpha,
    portrait_mask,
)

PHOTOS = ("astronaut.png", "camera.png", "einstein.png", "rommel.jpg", "lr-face.jpg", "blurry-face.jpg")


def _rgb(path: Path) -> np.ndarray:
    img = read_image(path)[0][..., :3]
    return np.ascontiguousarray(img if img.dtype == np.uint8 else (img >> 8).astype(np.uint8))


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)) if a.size else 0.0
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def _gradient(image: np.ndarray) -> np.ndarray:
    g = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return np.hypot(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1))


def _seam(out: np.ndarray, ref: np.ndarray, edge_of: np.ndarray) -> float:
    r = edge_of.astype(np.uint8)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    band = (cv2.dilate(r, k) - cv2.erode(r, k)) > 0
    return float(_gradient(out)[band].mean() / max(_gradient(ref)[band].mean(), 1e-6))


def main() -> int:
    folder = shared("images")
    if folder is None:
        print("needs ../shared/data/images")
        return 0
    embedders = {"dlib": DlibEmbedder()}
    arc = select_model("auto", FACE_EMBED)
    if arc is not None:
        embedders["arcface"] = ArcFaceEmbedder(arc)  # type: ignore[arg-type]
    finder = FaceFinder(landmarks="dlib")
    faces = {}
    for name in PHOTOS:
        path = folder / name
        if not path.is_file():
            print(f"- {name}: not in {folder}, skipped")
            continue
        img = _rgb(path)
        scan = finder.find(img)
        usable = [f for f in scan.faces if f.landmarks is not None]
        if not usable:
            print(f"- {name}: no face with landmarks found ({img.shape[1]}x{img.shape[0]}), skipped")
            continue
        face = max(usable, key=lambda f: f.area)
        faces[name] = (img, face)
        print(f"- {name}: {img.shape[1]}x{img.shape[0]}, face {face.width:.0f} px wide ({scan.detector})")
    rows, stats = [], []
    for ref_name, src_name in itertools.permutations(faces, 2):
        ref, rf = faces[ref_name]
        src, sf = faces[src_name]
        try:
            check_face_size(sf, "face image")
        except InputError as e:
            rows.append([ref_name, src_name, "refused: " + str(e).split(";")[0], "", "", "", "", ""])
            continue
        t0 = time.perf_counter()
        mask = portrait_mask(ref, rf, MaskOptions())
        out = composite_portrait(ref, rf, src, sf, mask)
        secs = time.perf_counter() - t0
        cells, sims = [], []
        for emb in embedders.values():
            e_out, e_src, e_ref = emb.embed(out, rf), emb.embed(src, sf), emb.embed(ref, rf)
            s_face, s_ref, s_pair = similarity(e_out, e_src), similarity(e_out, e_ref), similarity(e_src, e_ref)
            sims.append((s_face, s_ref, s_pair))
            cells.append(f"{s_face:.3f} / {s_ref:.3f} ({s_pair:.3f})")
        grown = cv2.dilate((mask > 0).astype(np.uint8), np.ones((9, 9), np.uint8)) == 0
        bg = _psnr(out[grown], ref[grown])
        seam = _seam(out, ref, face_alpha(ref, rf.landmarks) > 0.5)
        moved = "yes" if sims[0][0] > sims[0][1] else "no"
        rows.append([ref_name, src_name, *cells, moved, "inf" if bg == float("inf") else f"{bg:.1f}",
                     f"{seam:.2f}", f"{secs:.2f}"])
        stats.append((*sims[0][:2], seam, secs, sims[0][0] > sims[0][1]))
    if stats:
        a = np.array(stats, dtype=np.float64)
        rows.append(["**mean**", f"{len(stats)} pairs", f"{a[:, 0].mean():.3f} / {a[:, 1].mean():.3f}",
                     *([""] * (len(embedders) - 1)), f"{int(a[:, 4].sum())}/{len(stats)}", "",
                     f"{a[:, 2].mean():.2f}", f"{a[:, 3].mean():.2f}"])
    heads = [f"{k}: sim to face / to ref (ref vs face)" for k in embedders]
    print()
    print(table(["reference", "face image", *heads, "closer to face", "bg PSNR dB", "seam ratio", "s/result"], rows))
    print(f"\n{machine()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
