"""Per-step overhead of our diffusion wrapper (models/diffusion/steps.py: progress, cancel
check and a latent preview every 5 steps) against calling the same pipeline directly.

A tiny random SDXL-inpaint pipeline (tests/diffusiongen.py) runs on the CPU at two sizes;
each configuration runs ``--repeats`` times alternately with and without the wrapper's
callback, and the median seconds per step are compared. The tiny UNet makes a step cost
milliseconds, so this is the worst case for the wrapper's share: on a real SDXL step
(hundreds of ms on a GPU) the same absolute cost is far smaller.

    python benchmarks/diffusion_overhead.py [--steps 40] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def measure(pipe, size: int, steps: int, repeats: int) -> tuple[float, float, int]:
    """(direct s/step, wrapped s/step, previews per wrapped run), medians over ``repeats``."""
    import numpy as np
    import torch
    from PIL import Image

    from reelsmith.engine.context import JobContext
    from reelsmith.models.diffusion.latent_preview import latents_to_rgb
    from reelsmith.models.diffusion.steps import step_callback

    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8))
    m = np.zeros((size, size), np.uint8)
    m[size // 4:3 * size // 4, size // 4:3 * size // 4] = 255
    mask = Image.fromarray(m)
    previews: list[str] = []

    def run(callback) -> float:
        kw = {"callback_on_step_end": callback} if callback else {}
        t = time.perf_counter()
        pipe(prompt="a face", image=image, mask_image=mask, height=size, width=size,
             num_inference_steps=steps, strength=1.0, guidance_scale=5.5,
             generator=torch.Generator().manual_seed(0), output_type="latent", **kw)
        return (time.perf_counter() - t) / steps

    def wrapped():
        ctx = JobContext(on_progress=lambda ev: previews.append(ev.preview) if ev.preview else None,
                         preview_interval_s=0.0)
        return step_callback(ctx, steps, preview=lambda lat: latents_to_rgb(lat, "sdxl"), preview_every=5)

    run(None)  # warm-up
    direct, ours = [], []
    for _ in range(repeats):
        direct.append(run(None))
        ours.append(run(wrapped()))
    return statistics.median(direct), statistics.median(ours), len(previews) // repeats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 256])
    args = ap.parse_args()

    import torch
    from diffusiongen import tiny_sdxl_inpaint

    from reelsmith.models.diffusion.load import load_pipeline

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        folder = tiny_sdxl_inpaint(Path(tmp) / "pipe")
        pipe = load_pipeline("StableDiffusionXLInpaintPipeline", folder, device="cpu").pipe
        rows = [(size, *measure(pipe, size, args.steps, args.repeats)) for size in args.sizes]
    print("| size | direct ms/step | wrapper ms/step | overhead | previews/run |")
    print("| --- | --- | --- | --- | --- |")
    for size, d, o, n in rows:
        print(f"| {size} px | {d * 1000:.2f} | {o * 1000:.2f} | {(o - d) / d * 100:+.1f}% | {n} |")


if __name__ == "__main__":
    main()
