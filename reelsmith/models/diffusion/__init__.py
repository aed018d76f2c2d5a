"""The diffusion layer: any diffusers pipeline loaded from local files, run with our memory
planning, step progress, cancellation and latent previews.

- :mod:`.load` — ``diffusers_missing()`` and ``load_pipeline(...)``: a diffusers folder or a
  single checkpoint file, offline only, cached per (class, source, device, dtype).
- :mod:`.memory` — ``plan_memory(...)`` (pure: full GPU, model or sequential CPU offload, VAE
  tiling/slicing, attention slicing) and ``apply_plan(pipe, plan, device)``.
- :mod:`.steps` — ``step_callback(ctx, total, ...)``: the ``callback_on_step_end`` that reports
  progress, checks for cancellation and publishes previews.
- :mod:`.latent_preview` — ``latents_to_rgb(latents, family)``: a cheap linear latent->RGB
  projection per latent family (no VAE decode).
- :mod:`.faceid` — IP-Adapter / FaceID / FaceID Plus v2 loading through diffusers'
  ``load_ip_adapter`` and the embeddings they take.

The SDXL portrait inpainter built on this layer (crop, generate, harmonise, blend) is an op:
:mod:`reelsmith.ops.portrait_inpaint` (it blends with ``ops.blend``, which models may not import).

diffusers/torch are imported inside functions, so importing this package costs nothing when
the ``diffusion`` extra is not installed.
"""
