"""Workflow ``face_detect``: every face in an image or a (sampled) video, as a JSON report.

Images: one :class:`~reelsmith.analysis.faces.find.FaceScan`. Videos: every ``every``-th
frame (at most ``max_frames`` of them) is scanned, faces get a ``track_id`` from
:class:`~reelsmith.analysis.faces.track.FaceTracker` (reset at scene cuts between sampled
frames) and smoothed boxes/points. The report's totals count faces, tracks and faces skipped
as too small. No face is a result ("faces": 0 and a message), not an error.

Report layout: ``faces``/``tracks``/``skipped_small`` (totals), ``message``, ``detector``,
``landmarker``, ``licences``; for an image ``detections`` (``Face.to_dict()`` each) and
``skipped``; for a video ``frames``: ``index``, ``time``, ``scene_cut``, ``detections`` (with
``track_id``) and ``skipped`` per sampled frame.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from reelsmith.analysis.faces.find import FaceFinder, FaceScan
from reelsmith.analysis.faces.track import FaceTracker
from reelsmith.engine.context import JobContext
from reelsmith.media.atomic import commit, temp_path_for
from reelsmith.media.images import read_image
from reelsmith.media.probe import probe
from reelsmith.media.reader import VideoReader
from reelsmith.ops.scene_cut import is_scene_cut
from reelsmith.workflows.backends import backend_metadata
from reelsmith.workflows.base import InputSpec, Workflow, WorkflowResult, register
from reelsmith.workflows.faces_common import DetectorSpec
from reelsmith.workflows.schema import param
from reelsmith.workflows.video import media_summary

NO_FACE = "No face found."


class FaceDetectParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    detector: DetectorSpec = param(
        "auto", description="Face detector: auto (best installed), a backend name, or the path "
                            "of a YuNet .onnx file.", group="Faces", order=1)
    landmarks: bool = param(True, description="Add 68 dense landmarks when a landmarker is "
                                               "installed and allowed.", group="Faces", order=2)
    min_size: int = param(24, description="Faces whose shorter box side is below this are "
                                          "reported as skipped (too small to process).",
                          unit="px", group="Faces", order=3, advanced=True, ge=1, le=4096)
    every: int = param(5, description="Video: scan every Nth frame.", group="Video",
                       order=4, ge=1, le=10000)
    max_frames: int = param(300, description="Video: scan at most this many frames.",
                            group="Video", order=5, advanced=True, ge=1, le=100000)


def _scan_dict(scan: FaceScan) -> dict[str, Any]:
    """``detections`` (processable faces) and ``skipped`` (too small), JSON-ready."""
    data = scan.to_dict()
    return {"detections": data["faces"], "skipped": data["skipped"]}


@register
class FaceDetect(Workflow):
    name = "face_detect"
    title = "Detect faces"
    description = ("Find every face in an image or a video: box, score, five landmarks, dense "
                   "landmarks when available, and a stable track id across video frames.")
    inputs = (InputSpec("video", kinds=("video", "image"),
                        description="An image or a video."),)
    Params = FaceDetectParams

    def output_suffix(self, inputs: Mapping[str, Path], params: BaseModel) -> str:
        return ".json"

    def run(self, ctx: JobContext, inputs: Mapping[str, Path], params: BaseModel,
            output: Path) -> WorkflowResult:
        p: FaceDetectParams = self.parse_params(params)  # type: ignore[assignment]
        started = time.monotonic()
        src = Path(inputs["video"])
        info = probe(src)
        finder = FaceFinder(p.detector, landmarks=p.landmarks, min_size=p.min_size)
        ctx.stage("face_detect", 0.0, 1.0)
        if info.kind == "image":
            image, _ = read_image(src)
            scan = finder.find(image[:, :, :3])
            body: dict[str, Any] = {"kind": "image", **_scan_dict(scan)}
            totals = {"faces": len(scan.faces), "tracks": 0, "skipped_small": len(scan.skipped)}
            input_meta: dict[str, Any] = {"kind": "image", "width": image.shape[1],
                                          "height": image.shape[0]}
        else:
            body, totals = self._video(ctx, src, info, finder, p)
            input_meta = media_summary(info) | {"kind": "video"}
        ctx.progress(1.0, force=True)
        desc = finder.describe()
        report = {"workflow": self.name, "input": str(src.name), **totals,
                  "message": NO_FACE if totals["faces"] == 0 else
                  f"{totals['faces']} face(s) found.",
                  "detector": desc["detector"], "landmarker": desc["landmarker"],
                  "licences": {desc["detector"]: desc["detector_license"],
                               **({desc["landmarker"]: desc["landmarker_license"]}
                                  if desc["landmarker"] else {})},
                  **body}
        out = Path(output)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_path_for(out)
        tmp.write_text(json.dumps(report, indent=1))
        out = commit(tmp, out)
        meta = {"workflow": self.name, "input": input_meta, **totals,
                "message": report["message"], "output": {"path": str(out), "kind": "report"},
                "seconds": round(time.monotonic() - started, 3), "faces_backend": desc,
                **backend_metadata({"face_detect": desc})}
        return WorkflowResult({"report": out}, meta)

    def _video(self, ctx: JobContext, src: Path, info: Any, finder: FaceFinder,
               p: FaceDetectParams) -> tuple[dict[str, Any], dict[str, int]]:
        tracker = FaceTracker()
        frames: list[dict[str, Any]] = []
        faces = skipped = 0
        prev = None
        total = info.frame_count or 0
        planned = min(p.max_frames, max(1, -(-total // p.every))) if total else p.max_frames
        for frame in VideoReader(src, info=info):
            if frame.index % p.every:
                continue
            ctx.check()
            image = frame.image[:, :, :3]
            cut = prev is not None and is_scene_cut(prev, image)
            scan = finder.find(image)
            tracked = tracker.update(scan.faces, cut=cut)
            prev = image
            faces += len(tracked)
            skipped += len(scan.skipped)
            frames.append({"index": frame.index, "time": round(frame.time, 4), "scene_cut": cut,
                           "detections": [f.to_dict() for f in tracked],
                           "skipped": _scan_dict(scan)["skipped"]})
            ctx.progress(min(len(frames) / planned, 0.99), done=len(frames), total=planned)
            if len(frames) >= p.max_frames:
                break
        body = {"kind": "video", "every": p.every, "sampled_frames": len(frames), "frames": frames}
        return body, {"faces": faces, "tracks": tracker.tracks_started, "skipped_small": skipped}
