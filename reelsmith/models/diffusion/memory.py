"""Memory planning for a diffusers pipeline: from the free accelerator memory, the weights'
size and the image's pixel count, choose how the pipeline is placed and what it slices.

``plan_memory`` is a pure function (tested as a table); ``apply_plan`` carries a plan out on a
pipeline with diffusers' own switches. The placements, from fastest to leanest:

- ``gpu``: every component on the accelerator (needs the weights plus the activations free);
- ``model_offload``: whole components move to the accelerator only while they run
  (``enable_model_cpu_offload``; needs the largest component, about the UNet, plus activations);
- ``sequential_offload``: layers stream to the accelerator one at a time
  (``enable_sequential_cpu_offload``; slow, fits almost anywhere);
- ``cpu``: no accelerator.

VAE tiling is switched on for large images or short memory (the VAE decode of a 1024 px
image alone takes several GiB), VAE slicing whenever anything is offloaded, attention slicing
only when memory is very short. Activation estimates are deliberately generous.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

GIB = 1 << 30
#: Share of the weights the largest component (the UNet) accounts for in SDXL (~5.1 of 6.9 GB
#: in fp16, from the published component files).
_LARGEST_SHARE = 0.75
#: Bytes of activations per generated pixel while denoising with CFG (a generous estimate:
#: about 3 GiB at 1024x1024 in fp16 for SDXL).
_BYTES_PER_PIXEL = 3 * GIB / (1024 * 1024)
#: Headroom kept free for the allocator and other processes.
_HEADROOM = 1 * GIB
#: Above this many pixels the VAE decodes in tiles.
_TILE_PIXELS = 1536 * 1536


@dataclass(frozen=True)
class MemoryPlan:
    placement: str  # "gpu" | "model_offload" | "sequential_offload" | "cpu"
    vae_tiling: bool = False
    vae_slicing: bool = False
    attention_slicing: bool = False
    reason: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def plan_memory(free_bytes: int | None, total_bytes: int | None, model_bytes: int,
                pixels: int) -> MemoryPlan:
    """The placement for ``model_bytes`` of weights generating ``pixels`` pixels when the
    accelerator has ``free_bytes`` free of ``total_bytes`` (None: there is no accelerator)."""
    big = pixels > _TILE_PIXELS
    if free_bytes is None:
        return MemoryPlan("cpu", vae_tiling=big, reason="no accelerator: everything runs on the CPU")
    act = int(pixels * _BYTES_PER_PIXEL)
    usable = max(0, free_bytes - _HEADROOM)
    gib = f"{free_bytes / GIB:.1f} GiB free"
    if total_bytes:
        gib += f" of {total_bytes / GIB:.1f}"
    if model_bytes + act <= usable:
        return MemoryPlan("gpu", vae_tiling=big, reason=f"{gib}: the whole pipeline fits")
    if model_bytes * _LARGEST_SHARE + act <= usable:
        return MemoryPlan("model_offload", vae_tiling=True, vae_slicing=True,
                          reason=f"{gib}: components move to the GPU one at a time")
    if model_bytes * _LARGEST_SHARE + act / 4 <= usable:
        return MemoryPlan("model_offload", vae_tiling=True, vae_slicing=True, attention_slicing=True,
                          reason=f"{gib}: components one at a time, attention in slices")
    return MemoryPlan("sequential_offload", vae_tiling=True, vae_slicing=True, attention_slicing=True,
                      reason=f"{gib}: layers stream to the GPU one by one (slow)")


def free_memory(device: str) -> tuple[int | None, int | None]:
    """(free, total) bytes of a CUDA device; (None, None) for the CPU or when unknown."""
    if not device.startswith("cuda"):
        return None, None
    import torch

    try:
        free, total = torch.cuda.mem_get_info(torch.device(device))
    except (RuntimeError, AssertionError):
        return None, None
    return int(free), int(total)


def model_bytes(pipe) -> int:
    """Bytes of all parameters of the pipeline's torch components."""
    total = 0
    for comp in pipe.components.values():
        params = getattr(comp, "parameters", None)
        if callable(params):
            total += sum(p.numel() * p.element_size() for p in params())
    return total


def apply_plan(pipe, plan: MemoryPlan, device: str) -> None:
    """Place ``pipe`` on ``device`` as ``plan`` says (call once, right after loading)."""
    if plan.placement == "model_offload":
        pipe.enable_model_cpu_offload(device=device)
    elif plan.placement == "sequential_offload":
        pipe.enable_sequential_cpu_offload(device=device)
    else:
        pipe.to(device)
    vae = getattr(pipe, "vae", None)
    if vae is not None:
        if plan.vae_tiling and hasattr(vae, "enable_tiling"):
            vae.enable_tiling()
        if plan.vae_slicing and hasattr(vae, "enable_slicing"):
            vae.enable_slicing()
    if plan.attention_slicing and hasattr(pipe, "enable_attention_slicing"):
        pipe.enable_attention_slicing()
