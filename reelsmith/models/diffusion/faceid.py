"""IP-Adapters on an SDXL pipeline, loaded with diffusers' own ``load_ip_adapter``, and the
image-prompt embeddings each one takes.

- ``standard`` / ``clip_blend``: IP-Adapter SDXL (ViT-H). Input: CLIP image embeddings of the
  face crop (``clip_blend``: of the face crop and the reference's own face, mixed by
  ``face_strength``). Needs the CLIP image encoder folder.
- ``faceid``: IP-Adapter FaceID SDXL. Input: the 512-d L2-normed ArcFace embedding only
  (``image_encoder_folder=None``).
- ``faceid_plus_v2``: IP-Adapter FaceID Plus v2 SDXL. Input: the ArcFace embedding, plus the
  CLIP hidden states of the face crop set on the projection layer (``clip_embeds``) with the
  v2 ``shortcut`` on (diffusers' IPAdapterFaceIDPlusImageProjection).

Classifier-free guidance takes the negative half first: zeros for the identity embedding,
the encoder's embedding of a black image for CLIP (diffusers' own convention).
Which adapter a cached pipeline carries is remembered on it, so switching modes unloads
the old adapter before loading the new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from reelsmith.errors import InputError, ModelError

ADAPTER_FOLDER = "ip-adapter"
IMAGE_ENCODER = "image_encoder"


@dataclass(frozen=True)
class AdapterSpec:
    catalog_name: str
    file: str  # inside ADAPTER_FOLDER
    needs_encoder: bool
    uses_embedding: bool  # takes the ArcFace identity embedding


ADAPTERS: dict[str, AdapterSpec] = {
    "standard": AdapterSpec("ip-adapter-sdxl-vit-h", "ip-adapter_sdxl_vit-h.safetensors", True, False),
    "clip_blend": AdapterSpec("ip-adapter-sdxl-vit-h", "ip-adapter_sdxl_vit-h.safetensors", True, False),
    "faceid": AdapterSpec("ip-adapter-faceid-sdxl", "ip-adapter-faceid_sdxl.bin", False, True),
    "faceid_plus_v2": AdapterSpec("ip-adapter-faceid-plusv2-sdxl", "ip-adapter-faceid-plusv2_sdxl.bin",
                                  True, True),
}
ENCODER_CATALOG_NAME = "clip-vit-h-14-image-encoder"


def ensure_adapter(pipe: Any, folder: Path, mode: str) -> None:
    """Load ``mode``'s adapter from ``folder`` onto ``pipe`` (unloading another one first);
    ``simple_inpaint`` unloads any. Raises ModelError when diffusers cannot read the files."""
    spec = ADAPTERS.get(mode)
    current = getattr(pipe, "_reelsmith_adapter", None)
    wanted = (spec.file, spec.needs_encoder) if spec else None
    if current == wanted:
        return
    if current is not None:
        pipe.unload_ip_adapter()
        pipe._reelsmith_adapter = None
    if spec is None:
        return
    try:
        pipe.load_ip_adapter(str(folder), subfolder="", weight_name=spec.file,
                             image_encoder_folder=IMAGE_ENCODER if spec.needs_encoder else None,
                             local_files_only=True)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelError(f"The IP-Adapter {folder / spec.file} could not be loaded ({str(exc).splitlines()[0]}); "
                         "check that it is the SDXL version of the file, complete, and that "
                         f"{folder / IMAGE_ENCODER} holds its image encoder.") from exc
    pipe._reelsmith_adapter = wanted


def identity_embeds(embedding: np.ndarray, device: Any, dtype: Any) -> Any:
    """The (2, 1, 512) [negative zeros; embedding] tensor FaceID adapters take."""
    import torch

    e = np.asarray(embedding, dtype=np.float32).reshape(-1)
    if e.shape[0] != 512 or not np.isfinite(e).all():
        raise InputError(f"A FaceID face embedding must be 512 finite numbers (ArcFace); got {e.shape[0]}.")
    pos = torch.from_numpy(e).view(1, 1, -1)
    return torch.cat([torch.zeros_like(pos), pos]).to(device=device, dtype=dtype)


def clip_embeds(pipe: Any, image: np.ndarray, device: Any) -> Any:
    """CLIP embeddings of ``image`` (HxWx3 uint8 RGB) as the loaded adapter wants them
    (projected embeddings or hidden states), with the negative half first."""
    from PIL import Image

    if image is None or image.ndim != 3 or image.dtype != np.uint8:
        raise InputError("The face image for a CLIP-conditioned mode must be an HxWx3 uint8 RGB crop.")
    return pipe.prepare_ip_adapter_image_embeds([Image.fromarray(image)], None, device, 1, True)[0]


def adapter_inputs(pipe: Any, mode: str, *, embedding: np.ndarray | None, face: np.ndarray | None,
                   reference_face: np.ndarray | None, strength: float, device: Any) -> list | None:
    """The ``ip_adapter_image_embeds`` for one call in ``mode`` (None for simple_inpaint), after
    setting the adapter's scale and, for Plus v2, the projection layer's CLIP input."""
    if mode not in ADAPTERS:
        return None
    dtype = pipe.unet.dtype
    if mode == "clip_blend":
        pipe.set_ip_adapter_scale(1.0)
        a = clip_embeds(pipe, face, device)
        b = clip_embeds(pipe, reference_face, device)
        neg, pos_a = a.chunk(2)
        _, pos_b = b.chunk(2)
        return [torch_cat(neg, strength * pos_a + (1.0 - strength) * pos_b)]
    pipe.set_ip_adapter_scale(float(strength))
    if mode == "standard":
        return [clip_embeds(pipe, face, device)]
    ids = identity_embeds(embedding, device, dtype)
    if mode == "faceid_plus_v2":
        layer = pipe.unet.encoder_hid_proj.image_projection_layers[0]
        layer.clip_embeds = clip_embeds(pipe, face, device).to(dtype=dtype)
        layer.shortcut = True  # "v2": the CLIP branch is added to the identity tokens
        layer.shortcut_scale = 1.0
    return [ids]


def torch_cat(neg: Any, pos: Any) -> Any:
    import torch

    return torch.cat([neg, pos])
