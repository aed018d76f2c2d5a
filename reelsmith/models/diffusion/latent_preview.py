"""Latent previews: a denoising step's latents turned into a small RGB image by one linear
projection per latent family (a 3xC matrix plus a bias), not a VAE decode.

The projection costs one small matrix product on a latent that is 1/8 of the image's side,
so previews can be published every few steps at no measurable cost. The factor tables are
published fits of each VAE's latent space to RGB; they are cited from ComfyUI's
``comfy/latent_formats.py`` (``latent_rgb_factors`` / ``latent_rgb_factors_bias``) and apply to
the scaled latents the pipelines denoise. A family without a table (or a latent whose channel
count does not match) gets a neutral per-channel normalisation of its first three channels,
so a preview is always produced.
"""

from __future__ import annotations

import numpy as np

# Factors: rows = latent channels, columns = R, G, B; cited from ComfyUI comfy/latent_formats.py.
_SD15 = ([[0.3512, 0.2297, 0.3227], [0.3250, 0.4974, 0.2350], [-0.2829, 0.1762, 0.2721],
          [-0.2120, -0.2616, -0.7177]], [0.0, 0.0, 0.0])
_SDXL = ([[0.3651, 0.4232, 0.4341], [-0.2533, -0.0042, 0.1068], [0.1076, 0.1111, -0.0362],
          [-0.3165, -0.2492, -0.2188]], [0.1084, -0.0175, -0.0011])
_SD3 = ([[-0.0922, -0.0175, 0.0749], [0.0311, 0.0633, 0.0954], [0.1994, 0.0927, 0.0458],
         [0.0856, 0.0339, 0.0902], [0.0587, 0.0272, -0.0496], [-0.0006, 0.1104, 0.0309],
         [0.0978, 0.0306, 0.0427], [-0.0042, 0.1038, 0.1358], [-0.0194, 0.0020, 0.0669],
         [-0.0488, 0.0130, -0.0268], [0.0922, 0.0988, 0.0951], [-0.0278, 0.0524, -0.0542],
         [0.0332, 0.0456, 0.0895], [-0.0069, -0.0030, -0.0810], [-0.0596, -0.0465, -0.0293],
         [-0.1448, -0.1463, -0.1189]], [0.2394, 0.2135, 0.1925])
_FLUX = ([[-0.0346, 0.0244, 0.0681], [0.0034, 0.0210, 0.0687], [0.0275, -0.0668, -0.0433],
          [-0.0174, 0.0160, 0.0617], [0.0859, 0.0721, 0.0329], [0.0004, 0.0383, 0.0115],
          [0.0405, 0.0861, 0.0915], [-0.0236, -0.0185, -0.0259], [-0.0245, 0.0250, 0.1180],
          [0.1008, 0.0755, -0.0421], [-0.0515, 0.0201, 0.0011], [0.0428, -0.0012, -0.0036],
          [0.0817, 0.0765, 0.0749], [-0.1264, -0.0522, -0.1103], [-0.0280, -0.0881, -0.0499],
          [-0.1262, -0.0982, -0.0778]], [-0.0329, -0.0718, -0.0851])
_HUNYUAN_VIDEO = ([[-0.0395, -0.0331, 0.0445], [0.0696, 0.0795, 0.0518], [0.0135, -0.0945, -0.0282],
                   [0.0108, -0.0250, -0.0765], [-0.0209, 0.0032, 0.0224], [-0.0804, -0.0254, -0.0639],
                   [-0.0991, 0.0271, -0.0669], [-0.0646, -0.0422, -0.0400], [-0.0696, -0.0595, -0.0894],
                   [-0.0799, -0.0208, -0.0375], [0.1166, 0.1627, 0.0962], [0.1165, 0.0432, 0.0407],
                   [-0.2315, -0.1920, -0.1355], [-0.0270, 0.0401, -0.0821], [-0.0616, -0.0997, -0.0727],
                   [0.0249, -0.0469, -0.1703]], [0.0259, -0.0192, -0.0761])

FACTORS: dict[str, tuple[np.ndarray, np.ndarray]] = {
    name: (np.asarray(m, np.float32), np.asarray(b, np.float32))
    for name, (m, b) in {"sd": _SD15, "sdxl": _SDXL, "sd3": _SD3, "flux": _FLUX,
                         "hunyuan_video": _HUNYUAN_VIDEO}.items()}

#: The latent families with a fitted table.
FAMILIES = tuple(FACTORS)


def _as_chw(latents) -> np.ndarray:
    """The first sample (and, for video, the last frame) as a float32 C x H x W array."""
    a = latents
    if hasattr(a, "detach"):  # a torch tensor: take one sample before moving it to the CPU
        a = a.detach()
        while a.ndim > 3:
            a = a[0] if a.ndim == 4 else a[0, :, -1]
        a = a.float().cpu().numpy()
    a = np.asarray(a, dtype=np.float32)
    while a.ndim > 3:
        a = a[0] if a.ndim == 4 else a[0, :, -1]
    if a.ndim != 3:
        raise ValueError(f"latents must be CxHxW, NxCxHxW or NxCxFxHxW; got shape {a.shape}")
    return a


def latents_to_rgb(latents, family: str) -> np.ndarray:
    """``latents`` (a torch tensor or array: NxCxHxW, CxHxW, or NxCxFxHxW for video, where the
    last frame is shown) -> an HxWx3 uint8 RGB preview at the latent's resolution."""
    chw = _as_chw(latents)
    table = FACTORS.get(family)
    if table is not None and table[0].shape[0] == chw.shape[0]:
        m, b = table
        rgb = np.tensordot(chw, m, axes=([0], [0])) + b  # H x W x 3, roughly in [-1, 1]
        out = (rgb + 1.0) * 127.5
    else:  # no fitted table: stretch the first three channels to their own range
        x = chw[:3] if chw.shape[0] >= 3 else np.repeat(chw[:1], 3, axis=0)
        lo = x.min(axis=(1, 2), keepdims=True)
        hi = x.max(axis=(1, 2), keepdims=True)
        out = ((x - lo) / np.maximum(hi - lo, 1e-6) * 255.0).transpose(1, 2, 0)
    return np.clip(out, 0, 255).astype(np.uint8)
