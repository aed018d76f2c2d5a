"""The per-step hook of a diffusers pipeline call (``callback_on_step_end``): progress,
cancellation and latent previews through the job's :class:`JobContext`.

Cancellation: ``ctx.check()`` runs at the end of every denoising step and raises
:class:`Cancelled` / :class:`TimedOut` out of the pipeline call, so the loop stops at that step
and the caller never reaches the decode or any write. Progress: one ``ctx.progress`` per step
with ``done``/``total`` (the context throttles what it emits; the last step always goes out).
Previews: every ``preview_every`` steps (and at the last one) the latents go through
``preview`` (e.g. :func:`latent_preview.latents_to_rgb`) and out with ``ctx.preview``, which
throttles by time; ``ctx.preview_due()`` is asked first, so no latents are projected when no one
listens or the last preview is too recent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from reelsmith.engine.context import JobContext

StepCallback = Callable[[Any, int, Any, dict], dict]


def step_callback(ctx: JobContext, total: int, *,
                  preview: Callable[[Any], np.ndarray] | None = None,
                  preview_every: int = 5, message: str = "denoising") -> StepCallback:
    """A ``callback_on_step_end`` for a pipeline call that runs ``total`` denoising steps (the
    pipeline's own ``num_timesteps`` wins when it sets one: strength and denoising_end cut it).
    ``preview`` maps the step's latents to an HxWx3 uint8 RGB image (None: no previews)."""
    total = max(1, int(total))
    every = max(1, int(preview_every))

    def on_step_end(pipe: Any, i: int, t: Any, kwargs: dict) -> dict:
        ctx.check()
        n = getattr(pipe, "_num_timesteps", None) or total  # the pipeline's own count when it has one
        done = min(i + 1, n)
        ctx.progress(done / n, done=done, total=n, message=message)
        if preview is not None and (done % every == 0 or done == n) and ctx.preview_due():
            latents = kwargs.get("latents")
            if latents is not None:
                ctx.preview(preview(latents), message=message)
        return kwargs

    return on_step_end
