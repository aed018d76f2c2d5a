"""What face restore and face swap share: their common parameters, the video stage, and the
image / video bodies that run a :class:`~reelsmith.ops.face_process.FaceProcessor`.

Workflows only compose: finding faces is :mod:`reelsmith.analysis.faces`, alignment, masks
and the built-in editors are :mod:`reelsmith.ops`, restorers and swappers are
:mod:`reelsmith.models`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, field_validator

from reelsmith.analysis.faces.find import FaceFinder
from reelsmith.analysis.faces.track import FaceTracker
from reelsmith.engine.context import JobContext
from reelsmith.media.frame import Frame
from reelsmith.media.images import read_image, write_image
from reelsmith.media.probe import MediaInfo
from reelsmith.ops.face_editors import LandmarkMasker, ParsingMasker
from reelsmith.ops.face_mask import MaskOptions, save_mask_image
from reelsmith.ops.face_process import FACES_HELP, FaceProcessor, check_faces_choice
from reelsmith.ops.scene_cut import is_scene_cut
from reelsmith.workflows.post import Stream, build_post_chain
from reelsmith.workflows.schema import param
from reelsmith.workflows.video import process_video

FACES = "Faces"
MASK = "Face mask"

#: Video: frames between two computations of a tracked face's mask (blended in between).
MASK_EVERY = 4

#: A face detector choice: a backend name (listed, so forms offer them) or a YuNet .onnx path.
DetectorSpec = Literal["auto", "yunet", "mediapipe", "mtcnn", "dlib", "haar"] | str


class FaceFields(BaseModel):
    """Which faces, found how, masked how."""

    faces: str = param("all", group=FACES, order=40, examples=["all", "largest", "0"],
                       description=f"Faces to process: {FACES_HELP}.")
    detector: DetectorSpec = param("auto", group=FACES, order=41, advanced=True,
                                   description="Face detector: auto (best installed), a backend "
                                               "name, or the path of a YuNet .onnx file.")
    min_size: int = param(24, ge=8, le=4096, unit="px", group=FACES, order=42, advanced=True,
                          description="Faces smaller than this are skipped and reported.")
    mask_model: str = param("auto", group=MASK, order=50, advanced=True,
                            examples=["auto", "landmarks"],
                            description="Face mask: auto (a face-parsing model when installed, "
                                        "else landmarks refined by colour), landmarks, or a "
                                        "face-parsing model name/path.")
    include_hair: bool = param(True, group=MASK, order=51, description="Include the hair in the mask.")
    include_neck: bool = param(False, group=MASK, order=52, description="Include the neck in the mask.")
    mask_expand: float = param(1.2, ge=0.5, le=3.0, unit="x", group=MASK, order=53, advanced=True,
                               description="Grow the mask about the face centre.")
    mask_blur: float = param(30.0, ge=0, le=400, unit="px", group=MASK, order=54, advanced=True,
                             description="Feather width of the mask edge, in pixels of the face "
                                         "normalised to a 512 px crop (eyes 126 px apart).")
    mask_padding: float = param(50.0, ge=0, le=1000, unit="px", group=MASK, order=55, advanced=True,
                                description="Margin added around the face region before "
                                            "feathering (same normalised pixels).")
    save_mask: bool = param(False, group=MASK, order=56, advanced=True,
                            description="Also write the mask as an image (image inputs).")

    @field_validator("faces")
    @classmethod
    def _faces(cls, v: str) -> str:
        return check_faces_choice(v)

    def mask_options(self) -> MaskOptions:
        return MaskOptions(include_hair=self.include_hair, include_neck=self.include_neck,
                           expand=self.mask_expand, blur=self.mask_blur, padding=self.mask_padding)


IMAGE_OUT = {".png", ".jpg", ".jpeg", ".webp"}


def output_suffix_for(src: Path) -> str:
    """A face workflow's output extension: the image's own (PNG for other image formats), or
    .mp4 for a video."""
    from reelsmith.media.probe import probe

    if probe(src).kind != "image":
        return ".mp4"
    suffix = src.suffix.lower()
    return suffix if suffix in IMAGE_OUT else ".png"


def build_finder(p: FaceFields, *, landmarks: bool | str = True) -> FaceFinder:
    return FaceFinder(detector=p.detector, landmarks=landmarks, min_size=p.min_size)


def build_masker(p: FaceFields) -> Any:
    """The face-parsing masker when asked for (or, for auto, installed); else landmarks."""
    spec = (p.mask_model or "auto").strip()
    if spec.lower() != "landmarks":
        from reelsmith.analysis.faces.parsing import select_parser

        parser = select_parser(spec)
        if parser is not None:
            return ParsingMasker(parser, p.mask_options())
    return LandmarkMasker(p.mask_options())



class FaceStage:
    """Engine stage: every frame through the processor, faces tracked across frames and
    tracks reset at scene cuts. Frames run in order on one thread (tracking is sequential)."""

    name = "faces"

    def __init__(self, processor: FaceProcessor, *, on_frame: Callable[[Frame, Any], None] | None = None) -> None:
        processor.tracker = FaceTracker()  # video: faces tracked, masks reused (MASK_EVERY)
        processor.mask_every = MASK_EVERY
        self.processor = processor
        self.on_frame = on_frame
        self._prev: np.ndarray | None = None
        self.frames = self.frames_with_faces = self.processed = self.skipped_small = self.cuts = 0
        self._paths: dict[int, tuple[int, list[np.ndarray]]] = {}  # track -> (last frame, last points)
        self._jerk_sum, self._jerk_count = 0.0, 0

    def process(self, frame: Frame) -> list[Frame]:
        cut = self._prev is not None and is_scene_cut(self._prev, frame.image)
        self.cuts += cut
        self._prev = frame.image
        image, report = self.processor.process(frame.image, cut=cut)
        self.frames_with_faces += report.processed > 0
        self.processed += report.processed
        self.skipped_small += report.skipped_small
        self._follow(self.processor.last_faces)
        self.frames += 1
        if self.on_frame is not None:
            self.on_frame(frame, image)
        frame.image = image
        return [frame]

    def _follow(self, faces: list[Any]) -> None:
        """Record each track's five-point centre; the second difference over consecutive
        frames is the jitter a viewer would see (0 for a still or steadily moving face)."""
        for f in faces:
            if f.track_id is None:
                continue
            centre = np.asarray(f.kps, np.float64).mean(0)
            last, pts = self._paths.get(f.track_id, (-2, []))
            pts = (pts if last == self.frames - 1 else [])[-2:] + [centre]
            if len(pts) == 3:
                self._jerk_sum += float(np.linalg.norm(pts[2] - 2 * pts[1] + pts[0]))
                self._jerk_count += 1
            self._paths[f.track_id] = (self.frames, pts)

    def flush(self) -> list[Frame]:
        return []

    def describe(self) -> dict[str, Any]:
        return {"frames": self.frames, "frames_with_faces": self.frames_with_faces,
                "faces_processed": self.processed, "skipped_small": self.skipped_small,
                "scene_cuts": self.cuts, "tracks": len(self._paths),
                "seconds": {k: round(v, 3) for k, v in self.processor.seconds.items()},
                "jitter_px": (round(self._jerk_sum / self._jerk_count, 3) if self._jerk_count
                              else None)}


def no_face_message(found: int, skipped: int, min_size: int) -> str:
    if skipped and not found:
        return (f"{skipped} face(s) found, all smaller than {min_size} px: nothing was processed "
                "and the input is passed through unchanged.")
    return "No face was found: the input is passed through unchanged."


def run_image(ctx: JobContext, src: Path, output: Path, processor: FaceProcessor, p: Any,
              *, workflow: str, roles: dict[str, dict[str, Any]],
              extra: Callable[[np.ndarray, np.ndarray], dict[str, Any]] | None = None) -> tuple[dict[str, Path], dict]:
    """Process one image, then its ``post`` steps; returns (outputs, metadata)."""
    from reelsmith.workflows.backends import backend_metadata

    started = time.monotonic()
    ctx.stage(workflow, 0.0, 1.0)
    image, _ = read_image(src)
    post = build_post_chain(p.post, Stream("image", image.shape[1], image.shape[0]))
    rgb = np.ascontiguousarray(image[..., :3])
    out_rgb, report = processor.process(rgb)
    ctx.check()
    out = out_rgb if image.shape[2] == 3 else np.dstack([out_rgb, image[..., 3:]])
    measured = extra(rgb, out_rgb) if extra is not None and report.processed else {}
    out = post.apply_image(out)
    final = write_image(output, out)
    outputs: dict[str, Path] = {"image": final}
    if p.save_mask and report.processed:
        mask = save_mask_image(processor.mask_image(rgb.shape[:2]))
        outputs["mask"] = write_image(final.with_name(final.stem + "_mask.png"), mask)
    meta: dict[str, Any] = {
        "workflow": workflow,
        "input": {"width": image.shape[1], "height": image.shape[0], "kind": "image"},
        "output": {"width": out.shape[1], "height": out.shape[0], "path": str(final)},
        "faces": report.processed, "faces_found": report.found,
        "skipped_small": report.skipped_small, "face_details": report.faces,
        "seconds": round(time.monotonic() - started, 3),
        **measured, **post.metadata(),
        **backend_metadata({**roles, **post.roles}),
    }
    if not report.processed:
        meta["message"] = no_face_message(report.found - report.skipped_small, report.skipped_small,
                                          p.min_size)
    ctx.progress(1.0, force=True)
    return outputs, meta


def run_video(ctx: JobContext, src: Path, output: Path, info: MediaInfo, processor: FaceProcessor,
              p: Any, *, workflow: str, roles: dict[str, dict[str, Any]],
              on_frame: Callable[[Frame, Any], None] | None = None,
              extra: Callable[[], dict[str, Any]] | None = None) -> dict[str, Any]:
    """Stream the video through a :class:`FaceStage`; audio and timing kept."""
    from reelsmith.workflows.backends import backend_metadata

    stage = FaceStage(processor, on_frame=on_frame)
    post = build_post_chain(p.post, Stream.of(info))
    out = post.stream

    def details() -> dict[str, Any]:
        d = stage.describe()
        found = {"faces": d["faces_processed"], "face_frames": d, "skipped_small": d["skipped_small"]}
        if not d["faces_processed"]:
            found["message"] = no_face_message(0, d["skipped_small"], p.min_size)
        return found | (extra() if extra else {}) | post.metadata()

    meta = process_video(ctx, src, output, info=info, stages=[stage, *post.stages], out_size=out.size,
                         out_fps=out.fps or info.fps or 25, constant_rate=not out.variable_rate,
                         encode=p, stage_label=workflow, extra=details)
    meta.update(workflow=workflow, **backend_metadata({**roles, **post.roles}))
    return meta
