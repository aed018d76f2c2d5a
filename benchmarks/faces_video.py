"""Face restore and face swap on 720p video: frames per second on this machine and where the
time goes (find = detection + landmarks, align, mask, edit, paste back), beside a plain
decode + encode of the same clip in the same run.

The clip is the talking head of ``carphone_pristine.mp4`` (176x144) enlarged to 1280x720 with
Lanczos: a real face at 720p (none of the shared 720p videos shows a person). Needs
../shared/data; prints markdown tables.
"""

from __future__ import annotations

import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import av
import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import machine, shared, table  # noqa: E402

import reelsmith  # noqa: E402
from reelsmith.engine.context import JobContext  # noqa: E402
from reelsmith.media.probe import probe  # noqa: E402
from reelsmith.workflows.params import EncodeParams  # noqa: E402
from reelsmith.workflows.video import process_video  # noqa: E402

FRAMES = 60


def make_clip(src: Path, dst: Path) -> Path:
    with av.open(str(src)) as c, av.open(str(dst), "w") as out:
        vs = out.add_stream("libx264", rate=Fraction(30000, 1001))
        vs.width, vs.height, vs.pix_fmt = 1280, 720, "yuv420p"
        vs.options = {"crf": "18"}
        for i, f in enumerate(c.decode(video=0)):
            if i >= FRAMES:
                break
            img = cv2.resize(f.to_ndarray(format="rgb24"), (1280, 720), interpolation=cv2.INTER_LANCZOS4)
            vf = av.VideoFrame.from_ndarray(img, format="rgb24")
            vf.pts = i
            for p in vs.encode(vf):
                out.mux(p)
        for p in vs.encode(None):
            out.mux(p)
    return dst


def main() -> int:
    video = shared("video", "carphone_pristine.mp4")
    face = shared("images", "astronaut.png")
    if video is None or face is None:
        print("needs ../shared/data (carphone_pristine.mp4, astronaut.png)")
        return 0
    work = Path(tempfile.mkdtemp(prefix="faces-bench-"))
    clip = make_clip(video, work / "carphone720.mp4")
    info = probe(clip)
    rows, shares = [], []

    meta = process_video(JobContext(), clip, work / "copy.mp4", info=info, stages=[],
                         out_size=info.display_size, out_fps=info.fps, constant_rate=True,
                         encode=EncodeParams())
    rows.append(["decode + encode only", meta["frames_in"], f"{meta['processing_fps']:.2f}", "-", "-"])

    runs = {
        "face_restore (built-in)": ("face_restore", [clip], {"model": "builtin"}),
        "face_restore (built-in, no hair/refine)": ("face_restore", [clip], {"model": "builtin",
                                                                              "include_hair": False}),
        "face_swap (built-in)": ("face_swap", [clip, face], {"identity_model": "none"}),
    }
    for label, (wf, inputs, params) in runs.items():
        r = reelsmith.run(wf, *inputs, output=work / f"{wf}.mp4", **params)
        m = r.metadata
        ff = m["face_frames"]
        rows.append([label, m["frames_in"], f"{m['processing_fps']:.2f}", ff["frames_with_faces"],
                     ff["jitter_px"]])
        secs = ff["seconds"]
        total = sum(m["stage_seconds"].values()) or 1.0
        shares.append([label] + [f"{100 * secs.get(k, 0.0) / total:.0f}%"
                                 for k in ("find", "track", "align", "mask", "edit", "paste")]
                      + [f"{m['backends'][k]['model']}" for k in ("face_detect",)])
    print(f"Faces on 720p video ({FRAMES} frames of carphone enlarged to 1280x720); {machine()}\n")
    print(table(["run", "frames", "fps", "frames with a face", "jitter px"], rows))
    print()
    print(table(["run", "find", "track", "align", "mask", "edit", "paste", "detector"], shares))
    print("\nShares are of the pipeline's processing time (decode and encode overlap it on "
          "other threads).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
