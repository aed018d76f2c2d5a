"""What a loaded model is: its purpose, scale, channels, size needs and precisions.

In the spirit of spandrel's model descriptors: every backend fills one of these, and the
callers (tiling, upscaler/interpolator adapters, ``models info``) read only this.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

UPSCALE = "upscale"
INTERPOLATE = "interpolate"
FACE_RESTORE = "face_restore"
COLORIZE = "colorize"
RESTORE = "restore"  # generic same-size image-to-image model (denoise, deblur, ...)
FACE_SWAP = "face_swap"  # aligned face crop + identity embedding -> face crop
FACE_DETECT = "face_detect"  # image -> raw detection tensors (boxes, scores, landmarks)
FACE_EMBED = "face_embed"  # aligned face crop -> identity embedding (N, D)
FACE_PARSE = "face_parse"  # face crop -> per-pixel class logits (N, C, H, W)
INPAINT = "inpaint"  # a diffusion inpainting pipeline (a diffusers folder)
IP_ADAPTER = "ip_adapter"  # an IP-Adapter for a diffusion pipeline (image/identity prompt)
IMAGE_ENCODER = "image_encoder"  # a CLIP image encoder folder an IP-Adapter reads

PURPOSES = (UPSCALE, INTERPOLATE, FACE_RESTORE, COLORIZE, RESTORE, FACE_SWAP, FACE_DETECT,
            FACE_EMBED, FACE_PARSE, INPAINT, IP_ADAPTER, IMAGE_ENCODER)
IMAGE_PURPOSES = (UPSCALE, FACE_RESTORE, COLORIZE, RESTORE)

PRECISIONS = ("fp32", "fp16", "bf16")


@dataclass
class ModelDescriptor:
    """Metadata of one model file, whatever the backend.

    ``size_multiple``: input height/width must be a multiple of it (callers pad).
    ``fixed_size``: (height, width) when the graph only accepts one input size (tiles are
    cut to exactly that size). ``supports_tiling`` is False for models that need the whole
    frame (interpolation, face models on aligned crops).
    """

    name: str
    purpose: str
    scale: int = 1
    path: Path | None = None
    format: str = "onnx"  # onnx | pth | safetensors
    architecture: str = "unknown"
    in_channels: int = 3
    out_channels: int = 3
    supports_tiling: bool = True
    precisions: tuple[str, ...] = ("fp32",)
    size_multiple: int = 1
    fixed_size: tuple[int, int] | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["path"] = str(self.path) if self.path else None
        data["precisions"] = list(self.precisions)
        data["fixed_size"] = list(self.fixed_size) if self.fixed_size else None
        return data
