"""Per-frame face processing shared by face restore and face swap.

One :class:`FaceProcessor` finds the faces of an image (or of each video frame, tracked and
smoothed over time), picks the ones asked for, hands each one's aligned crop to a
*crop editor* (a restorer or a swapper, model-backed or built-in), and pastes the result
back through a soft face mask. Workflows build it; the video stage calls it per frame.

Crop editors implement :class:`CropEditor`: ``template`` and ``size`` say how to align,
``edit(crop, face_in_crop, mask) -> crop`` does the work. A face's ``landmarks``/``kps``
arrive already mapped into crop coordinates so the editor never sees the full frame.
16-bit frames are processed at 8 bits inside the face only and converted back.
"""

from __future__ import annotations

import functools
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from reelsmith.analysis.faces.types import Face
from reelsmith.errors import InputError
from reelsmith.ops.face_align import AlignedFace, align_face, paste_back

#: ``faces``: which faces to process.
FACES_HELP = "all | largest | an index (0 = the leftmost face)"
_INDEX = re.compile(r"^\d+$")


def check_faces_choice(value: str) -> str:
    """Normalise a ``faces`` choice; InputError for anything else."""
    v = str(value).strip().lower()
    if v in ("all", "largest") or _INDEX.match(v):
        return v
    raise InputError(f"faces={value!r} is not a face choice; use {FACES_HELP}.")


def pick_faces(faces: list[Face], choice: str) -> list[Face]:
    """The faces ``choice`` names. Indices count from the left of the image (stable for a
    user looking at it); an index past the last face picks none."""
    if not faces or choice == "all":
        return list(faces)
    if choice == "largest":
        return [max(faces, key=lambda f: f.area)]
    ordered = sorted(faces, key=lambda f: (f.box[0] + f.box[2]) / 2)
    i = int(choice)
    return [ordered[i]] if i < len(ordered) else []


class CropEditor(Protocol):
    """Edits one aligned face crop. ``template``/``size``: how the crop is aligned
    (``size`` None: chosen from the face's own resolution by :meth:`crop_size`)."""

    template: str
    name: str

    def crop_size(self, face: Face) -> int: ...

    def edit(self, crop: np.ndarray, face: Face, mask: np.ndarray) -> np.ndarray: ...

    def describe(self) -> dict[str, Any]: ...


class CropMasker(Protocol):
    """The soft mask (crop space, float [0,1]) of the face in an aligned crop."""

    def mask(self, crop: np.ndarray, face: Face, aligned: AlignedFace) -> np.ndarray: ...


@dataclass
class FrameReport:
    """What happened to one image/frame's faces."""

    found: int = 0
    processed: int = 0
    skipped_small: int = 0
    faces: list[dict[str, Any]] = field(default_factory=list)


@functools.lru_cache(maxsize=16)
def border_fade(size: int, fraction: float = 0.06) -> np.ndarray:
    """A size x size float ramp from 0 at the crop's edge to 1 ``fraction`` of the side
    inside: multiplied into a mask, no edit ends in a hard line where the crop ends."""
    width = max(2.0, fraction * size)
    ramp = np.clip((np.arange(size, dtype=np.float32) + 0.5) / width, 0.0, 1.0)
    ramp = np.minimum(ramp, ramp[::-1])
    fade = np.minimum.outer(ramp, ramp)
    fade.flags.writeable = False  # cached: shared by every call
    return fade


def face_in_crop(face: Face, aligned: AlignedFace) -> Face:
    """``face`` with its box, five points and landmarks mapped into the crop."""
    box = aligned.to_crop(np.array([[face.box[0], face.box[1]], [face.box[2], face.box[3]]]))
    return replace(face, box=box.reshape(4), kps=aligned.to_crop(face.kps),
                   landmarks=None if face.landmarks is None else aligned.to_crop(face.landmarks),
                   mesh=None)


def to_uint8(img: np.ndarray) -> np.ndarray:
    """8-bit pixels of an 8- or 16-bit image (the face finders and editors work on 8 bits)."""
    return img if img.dtype == np.uint8 else (img >> 8).astype(np.uint8)


def _back(img8: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return img8 if dtype == np.uint8 else img8.astype(np.uint16) * 257


class _Clock:
    """Adds the time since the last call to ``totals[part]``."""

    def __init__(self, totals: defaultdict[str, float]) -> None:
        self.totals = totals
        self.t = time.perf_counter()

    def __call__(self, part: str) -> None:
        now = time.perf_counter()
        self.totals[part] += now - self.t
        self.t = now


class FaceProcessor:
    """Find -> pick -> align -> edit -> mask -> paste back, for one image at a time.

    ``finder``: an object with ``find(image) -> scan`` (``scan.faces``, ``scan.skipped``);
    ``tracker``: an object with ``update(faces, cut=...) -> faces`` for video (None for a
    still image); ``editor``/``masker``: what to do with each chosen face.
    """

    def __init__(self, finder: Any, editor: CropEditor, masker: CropMasker, *,
                 faces: str = "all", tracker: Any = None, mask_every: int = 1) -> None:
        self.finder = finder
        self.editor = editor
        self.masker = masker
        self.choice = check_faces_choice(faces)
        self.tracker = tracker
        self.mask_every = max(1, int(mask_every))
        self._masks: dict[int, tuple[np.ndarray, int]] = {}  # track id -> (crop mask, age)
        self.last_masks: list[tuple[AlignedFace, np.ndarray]] = []
        self.last_faces: list[Face] = []
        #: Seconds spent per part (find = detection + landmarks, track, align, mask, edit, paste).
        self.seconds: defaultdict[str, float] = defaultdict(float)

    def process(self, image: np.ndarray, *, cut: bool = False) -> tuple[np.ndarray, FrameReport]:
        clock = _Clock(self.seconds)
        img8 = to_uint8(image[..., :3])
        scan = self.finder.find(img8)
        clock("find")
        faces = list(scan.faces)
        if self.tracker is not None:
            faces = self.tracker.update(faces, cut=cut)
            clock("track")
        report = FrameReport(found=len(faces) + len(scan.skipped), skipped_small=len(scan.skipped))
        out = image
        self.last_masks = []
        self.last_faces = []
        for face in pick_faces(faces, self.choice):
            aligned = align_face(img8, face.kps, template=self.editor.template,
                                 size=self.editor.crop_size(face))
            local = face_in_crop(face, aligned)
            clock("align")
            mask = self._mask(aligned, local)
            clock("mask")
            edited = self.editor.edit(aligned.crop, local, mask)
            clock("edit")
            if image.dtype != np.uint8:
                aligned_hi = replace(aligned, crop=_back(aligned.crop, image.dtype))
                out = paste_back(out, aligned_hi, _back(edited, image.dtype), mask)
            else:
                out = paste_back(out, aligned, edited, mask)
            clock("paste")
            self.last_masks.append((aligned, mask))
            self.last_faces.append(face)
            report.processed += 1
            report.faces.append(face.to_dict() | {"crop_size": aligned.size})
        seen = {f.track_id for f in self.last_faces}
        self._masks = {tid: m for tid, m in self._masks.items() if tid in seen}  # ended tracks
        return out, report

    def _mask(self, aligned: AlignedFace, face: Face) -> np.ndarray:
        """The face's crop-space mask. For a tracked face (video) a mask is computed every
        ``mask_every`` frames and blended with the previous one: the crop follows the smoothed
        face, so the mask stays put in it, and the colour-refined edge does not flicker."""
        tid = face.track_id
        cached = self._masks.get(tid) if tid is not None else None
        if cached is not None and cached[0].shape[0] == aligned.size and cached[1] < self.mask_every:
            self._masks[tid] = (cached[0], cached[1] + 1)
            return cached[0]
        mask = self.masker.mask(aligned.crop, face, aligned) * border_fade(aligned.size)
        if cached is not None and cached[0].shape == mask.shape:
            mask = 0.5 * (mask + cached[0])
        if tid is not None:
            self._masks[tid] = (mask, 1)
        return mask

    def mask_image(self, shape: tuple[int, int]) -> np.ndarray:
        """The masks of the last processed image, pasted into an image-sized float mask."""
        full = np.zeros(shape, np.float32)
        for aligned, mask in self.last_masks:
            full = np.maximum(full, paste_back(np.zeros(shape, np.float32), aligned, mask))
        return full
