"""The diffusers portrait inpainter (the ``diffusers`` backend of the portrait workflow, beside
the builtin compositor in :mod:`reelsmith.ops.portrait_composite`): SDXL inpainting with an
optional IP-Adapter (plain CLIP, FaceID, FaceID Plus v2) that repaints the face region of a
reference portrait, on the diffusion layer of :mod:`reelsmith.models.diffusion`.

Files, all in the models directory (``required_files(mode)`` lists them for messages):
``stable-diffusion-xl-1.0-inpainting-0.1/`` (a diffusers folder) and, per mode,
``ip-adapter/<adapter file>`` and ``ip-adapter/image_encoder/``. Nothing is downloaded.

``inpaint`` works on a square crop around the mask (the mask's bounding box times
``CONTEXT``, padded by edge replication where it leaves the image) scaled to the generation
side, so a small face in a large photo is generated at the model's full resolution
(diffusers' ``padding_mask_crop`` idea, done here so that we control the paste-back). The
generated crop is scaled back, its colour matched in Lab to the original on the ring just
inside the mask's edge (VAE colour shift), and Poisson-blended in with the feathered mask as
alpha: pixels where the mask is 0 are exactly the input's.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from reelsmith.engine.context import JobContext
from reelsmith.errors import InputError, ModelError
from reelsmith.models.catalog import find_entry
from reelsmith.models.diffusion.faceid import (
    ADAPTER_FOLDER,
    ADAPTERS,
    ENCODER_CATALOG_NAME,
    IMAGE_ENCODER,
    adapter_inputs,
    ensure_adapter,
)
from reelsmith.models.diffusion.latent_preview import latents_to_rgb
from reelsmith.models.diffusion.load import LoadedPipeline, diffusers_missing, load_pipeline, resolve_device
from reelsmith.models.diffusion.steps import step_callback
from reelsmith.models.licence import check_allowed, refusal
from reelsmith.models.store import models_dir
from reelsmith.ops.blend import seamless_blend
from reelsmith.ops.color_transfer import lab_transfer, skin_ring

MODES = ("simple_inpaint", "standard", "faceid", "faceid_plus_v2", "clip_blend")
#: mode "auto" takes the first of these whose files are installed (and allowed).
AUTO_ORDER = ("faceid_plus_v2", "faceid", "standard", "simple_inpaint")
BACKENDS = ("auto", "builtin", "diffusers")
PIPELINE_CLASS = "StableDiffusionXLInpaintPipeline"
PIPELINE_FOLDER = "stable-diffusion-xl-1.0-inpainting-0.1"
PIPELINE_CATALOG_NAME = "sdxl-inpainting-0.1"
#: Crop side / the mask's bounding-box side: the context the model sees around the face.
CONTEXT = 1.8
#: Steps between two latent previews.
PREVIEW_EVERY = 5

NEEDS: dict[str, frozenset[str]] = {
    "simple_inpaint": frozenset(),
    "standard": frozenset({"face_image"}),
    "faceid": frozenset({"face_embedding"}),
    "faceid_plus_v2": frozenset({"face_embedding", "face_image"}),
    "clip_blend": frozenset({"face_image", "reference_face"}),
}


@dataclass
class InpaintRequest:
    prompt: str
    negative_prompt: str = ""
    seed: int = 0
    steps: int = 30
    guidance_scale: float = 5.5
    denoise: float = 0.9          # pipeline `strength`
    stop_at: float = 0.9          # diffusers `denoising_end` (1.0: off)
    face_strength: float = 0.8    # IP-Adapter scale
    face_embedding: np.ndarray | None = None  # (512,) L2-normed ArcFace (faceid, faceid_plus_v2)
    face_image: np.ndarray | None = None      # aligned face crop, uint8 RGB
    reference_face: np.ndarray | None = None  # the reference's own aligned face crop (clip_blend)
    size: int | None = None                   # generation side; default the pipeline's native


def _paths(mode: str) -> list[tuple[Path, str]]:
    """(path, what it is) for each file/folder ``mode`` needs."""
    root = models_dir()
    out = [(root / PIPELINE_FOLDER / "model_index.json",
            "the diffusers folder of diffusers/stable-diffusion-xl-1.0-inpainting-0.1")]
    spec = ADAPTERS.get(mode)
    if spec is not None:
        src = "h94/IP-Adapter-FaceID" if spec.uses_embedding else "h94/IP-Adapter sdxl_models/"
        out.append((root / ADAPTER_FOLDER / spec.file, f"from {src}"))
        if spec.needs_encoder:
            out.append((root / ADAPTER_FOLDER / IMAGE_ENCODER / "config.json",
                        "the folder models/image_encoder of h94/IP-Adapter (config.json + model.safetensors)"))
    return out


def _shown(path: Path) -> str:
    return f"{path.parent}/" if path.name in ("model_index.json", "config.json") else str(path)


def required_files(mode: str) -> list[str]:
    """The files/folders ``mode`` needs, each with where it comes from."""
    if mode not in MODES:
        raise InputError(f"Unknown portrait mode {mode!r}; use one of {', '.join(MODES)}.")
    return [f"{_shown(p)} ({what})" for p, what in _paths(mode)]


def missing_files(mode: str) -> list[str]:
    return [f"{_shown(p)} ({what})" for p, what in _paths(mode) if not p.exists()]


def _catalog_names(mode: str) -> list[str]:
    names = [PIPELINE_CATALOG_NAME]
    spec = ADAPTERS.get(mode)
    if spec is not None:
        names.append(spec.catalog_name)
        if spec.needs_encoder:
            names.append(ENCODER_CATALOG_NAME)
    return names


def _licence(name: str) -> tuple[str, bool | str, str]:
    e = find_entry(name)
    return (e.license, e.commercial, e.commercial_note) if e else ("", "unknown", "")


def _refused(mode: str) -> str | None:
    for name in _catalog_names(mode):
        why = refusal(name, *_licence(name))
        if why:
            return why
    return None


class PortraitInpainter:
    """SDXL inpainting (+ an IP-Adapter for every mode but simple_inpaint) of a face region."""

    def __init__(self, mode: str, *, device: str = "auto", dtype: str = "auto") -> None:
        if mode not in MODES:
            raise InputError(f"Unknown portrait mode {mode!r}; use one of {', '.join(MODES)}.")
        self.mode = mode
        self.needs = NEEDS[mode]
        self.pipeline_dir = models_dir() / PIPELINE_FOLDER
        self.adapter_dir = models_dir() / ADAPTER_FOLDER
        self._device = device
        self._dtype = dtype
        self._loaded: LoadedPipeline | None = None
        self._init_lock = threading.Lock()

    def _pipeline(self) -> LoadedPipeline:
        with self._init_lock:
            if self._loaded is None:
                self._loaded = load_pipeline(PIPELINE_CLASS, self.pipeline_dir, device=self._device,
                                             dtype=self._dtype)
            return self._loaded

    def native_size(self) -> int:
        pipe = self._pipeline().pipe
        return int(pipe.unet.config.sample_size) * int(pipe.vae_scale_factor)

    def describe(self) -> dict:
        spec = ADAPTERS.get(self.mode)
        names = _catalog_names(self.mode)
        loaded = self._loaded
        device = loaded.device if loaded else resolve_device(self._device)
        return {"backend": "diffusers", "name": PIPELINE_CATALOG_NAME, "provider": device,
                "mode": self.mode, "adapter": spec.catalog_name if spec else None,
                "image_encoder": ENCODER_CATALOG_NAME if spec and spec.needs_encoder else None,
                "device": device, "dtype": loaded.dtype if loaded else None,
                "memory": loaded.plan.to_dict() if loaded else None,
                "licence": {n: {"license": lic, "commercial": com}
                            for n in names for lic, com, _ in [_licence(n)]}}

    # -- the contract ---------------------------------------------------------------
    def inpaint(self, ctx: JobContext, image: np.ndarray, mask: np.ndarray,
                req: InpaintRequest) -> np.ndarray:
        """``image`` (HxWx3 uint8 RGB) with the region under ``mask`` (HxW float in [0, 1],
        feathered) repainted; pixels where the mask is 0 are returned unchanged. Raises
        InputError for bad inputs or a missing request field the mode needs, Cancelled /
        TimedOut from the step where the job was stopped."""
        m = _check(image, mask, req, self.needs)
        loaded = self._pipeline()
        side = req.size or self.native_size()
        side = max(64, int(round(side / 8)) * 8)
        box = crop_box(m, CONTEXT)
        crop = take(image, box)
        crop_mask = take_mask(m, box)
        gen_in = resize(crop, side)
        gen_mask = (resize_mask(crop_mask, side) > 1 / 255).astype(np.uint8) * 255
        gen_mask = cv2.dilate(gen_mask, np.ones((3, 3), np.uint8), iterations=max(1, side // 128))
        with loaded.lock:
            generated = self._run(ctx, loaded, gen_in, gen_mask, req, side)
        out_crop = resize(generated, box[2])
        candidate = image.copy()
        put(candidate, out_crop, box)
        return harmonise_and_blend(image, candidate, m)

    def _run(self, ctx: JobContext, loaded: LoadedPipeline, crop: np.ndarray, mask: np.ndarray,
             req: InpaintRequest, side: int) -> np.ndarray:
        import torch
        from PIL import Image

        pipe = loaded.pipe
        ensure_adapter(pipe, self.adapter_dir, self.mode)
        device = pipe._execution_device
        embeds = adapter_inputs(pipe, self.mode, embedding=req.face_embedding, face=req.face_image,
                                reference_face=req.reference_face, strength=req.face_strength,
                                device=device)
        extra: dict[str, Any] = {}
        if embeds is not None:
            extra["ip_adapter_image_embeds"] = embeds
        if req.stop_at < 1.0:
            extra["denoising_end"] = float(req.stop_at)
        total = max(1, min(int(req.steps * req.denoise), req.steps))
        cb = step_callback(ctx, total, preview=lambda lat: latents_to_rgb(lat, "sdxl"),
                           preview_every=PREVIEW_EVERY)
        ctx.check()
        result = pipe(prompt=req.prompt, negative_prompt=req.negative_prompt or None,
                      image=Image.fromarray(crop), mask_image=Image.fromarray(mask),
                      height=side, width=side, num_inference_steps=int(req.steps),
                      strength=float(req.denoise), guidance_scale=float(req.guidance_scale),
                      generator=torch.Generator("cpu").manual_seed(int(req.seed)),
                      output_type="np", callback_on_step_end=cb,
                      callback_on_step_end_tensor_inputs=["latents"], **extra)
        img = np.asarray(result.images[0], dtype=np.float32)
        return np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)


def _check(image: np.ndarray, mask: np.ndarray, req: InpaintRequest, needs: frozenset[str]) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise InputError("The image to inpaint must be HxWx3 uint8 RGB.")
    m = np.clip(np.asarray(mask, dtype=np.float32), 0.0, 1.0)
    if m.shape != image.shape[:2]:
        raise InputError(f"The mask is {m.shape} but the image is {image.shape[:2]}: they must match.")
    if not (m > 1 / 255).any():
        raise InputError("The inpainting mask is empty: there is no face region to repaint.")
    lacking = sorted(f for f in needs if getattr(req, f) is None)
    if lacking:
        raise InputError(f"This portrait mode needs {', '.join(lacking)} in the request.")
    if req.steps < 1 or not 0.0 < req.denoise <= 1.0 or not 0.0 < req.stop_at <= 1.0:
        raise InputError("steps must be >= 1, denoise and stop_at within (0, 1].")
    if not 0.0 <= req.face_strength <= 2.0:
        raise InputError(f"face_strength must be within [0, 2], got {req.face_strength}.")
    return m


# -- crop / paste -------------------------------------------------------------------------
def crop_box(mask: np.ndarray, context: float) -> tuple[int, int, int]:
    """(x0, y0, side) of the square around ``mask``'s support, ``context`` times its larger
    side (at least 2 px of margin), centred on it; it may extend past the image."""
    ys, xs = np.nonzero(mask > 1 / 255)
    y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
    side = max(int(np.ceil(max(y1 - y0, x1 - x0) * context)), max(y1 - y0, x1 - x0) + 4, 16)
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
    return cx - side // 2, cy - side // 2, side


def _pads(shape: tuple[int, ...], box: tuple[int, int, int]) -> tuple[int, int, int, int]:
    x0, y0, side = box
    h, w = shape[:2]
    return max(0, -y0), max(0, y0 + side - h), max(0, -x0), max(0, x0 + side - w)


def take(image: np.ndarray, box: tuple[int, int, int]) -> np.ndarray:
    """The square ``box`` of ``image``; outside the image the edge pixels are repeated."""
    x0, y0, side = box
    top, bottom, left, right = _pads(image.shape, box)
    padded = cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_REPLICATE)
    return np.ascontiguousarray(padded[y0 + top:y0 + top + side, x0 + left:x0 + left + side])


def take_mask(mask: np.ndarray, box: tuple[int, int, int]) -> np.ndarray:
    x0, y0, side = box
    top, bottom, left, right = _pads(mask.shape, box)
    padded = cv2.copyMakeBorder(mask, top, bottom, left, right, cv2.BORDER_CONSTANT, value=0)
    return padded[y0 + top:y0 + top + side, x0 + left:x0 + left + side]


def put(image: np.ndarray, crop: np.ndarray, box: tuple[int, int, int]) -> None:
    """Write the part of ``crop`` (the square ``box``) that lies inside ``image``, in place."""
    x0, y0, side = box
    h, w = image.shape[:2]
    ya, yb, xa, xb = max(0, y0), min(h, y0 + side), max(0, x0), min(w, x0 + side)
    image[ya:yb, xa:xb] = crop[ya - y0:yb - y0, xa - x0:xb - x0]


def resize(image: np.ndarray, side: int) -> np.ndarray:
    if image.shape[0] == side and image.shape[1] == side:
        return image
    interp = cv2.INTER_AREA if image.shape[0] > side else cv2.INTER_CUBIC
    return cv2.resize(image, (side, side), interpolation=interp)


def resize_mask(mask: np.ndarray, side: int) -> np.ndarray:
    return cv2.resize(mask.astype(np.float32), (side, side), interpolation=cv2.INTER_LINEAR)


def harmonise_and_blend(original: np.ndarray, generated: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``generated`` recoloured to match ``original`` on the ring just inside the mask's edge,
    then Poisson-blended into ``original`` under ``mask`` (0 outside: exactly ``original``)."""
    ys, xs = np.nonzero(mask > 1 / 255)
    extent = max(int(ys.max() - ys.min()), int(xs.max() - xs.min()), 1)
    ring = skin_ring(mask, max(2.0, extent * 0.06))
    if ring.sum() >= 16:
        generated = lab_transfer(generated, original, src_mask=ring, ref_mask=ring)
    return seamless_blend(original, generated, mask)


# -- selection ----------------------------------------------------------------------------
def select_portrait_inpainter(backend: str = "auto", mode: str = "auto") -> tuple[PortraitInpainter | None, str]:
    """(the inpainter, a sentence on the choice) or (None, why the builtin compositor runs).

    ``backend``: "builtin" -> None; "auto" -> None when diffusers or the SDXL inpainting
    weights are absent; "diffusers" -> ModelError listing the files to install. ``mode``:
    "auto" takes the first installed and licence-allowed of faceid_plus_v2, faceid, standard,
    simple_inpaint; an explicit mode whose files are missing or whose weights the licence
    profile refuses is a ModelError."""
    backend = (backend or "auto").strip().lower()
    mode = (mode or "auto").strip().lower()
    if backend not in BACKENDS:
        raise InputError(f"Unknown portrait backend {backend!r}; use one of {', '.join(BACKENDS)}.")
    if mode != "auto" and mode not in MODES:
        raise InputError(f"Unknown portrait mode {mode!r}; use auto or one of {', '.join(MODES)}.")
    if backend == "builtin":
        return None, "the builtin compositor was asked for"
    why = diffusers_missing()
    if why:
        if backend == "diffusers":
            raise ModelError(why)
        return None, f"the diffusion backend is unavailable: {why}"
    shown_mode = mode if mode != "auto" else "simple_inpaint"
    base = missing_files(shown_mode)[:1] if not (models_dir() / PIPELINE_FOLDER / "model_index.json").exists() else []
    if base:
        msg = (f"The SDXL inpainting weights are not installed: place {base[0]} in the models "
               f"directory {models_dir()}")
        if backend == "diffusers":
            raise ModelError(msg + (f"; mode {mode} also needs: {'; '.join(missing_files(mode)[1:])}."
                                    if mode != "auto" and missing_files(mode)[1:] else "."))
        return None, msg + "; the builtin compositor ran instead."
    if mode == "auto":
        skipped = []
        for candidate in AUTO_ORDER:
            if missing_files(candidate):
                continue
            refused = _refused(candidate)
            if refused:
                skipped.append(candidate)
                continue
            note = f"; {', '.join(skipped)} refused by the licence profile" if skipped else ""
            return PortraitInpainter(candidate), f"mode {candidate}: the best installed{note}"
        raise ModelError(_refused("simple_inpaint") or "No portrait mode is usable.")  # pragma: no cover
    lacking = missing_files(mode)
    if lacking:
        raise ModelError(f"Portrait mode {mode} needs files that are not installed: "
                         f"{'; '.join(lacking)}.")
    for name in _catalog_names(mode):
        check_allowed(name, *_licence(name))
    return PortraitInpainter(mode), f"mode {mode} as asked"
