"""``--model auto|builtin|NAME|PATH``: one selection function for every purpose.

``select_model(spec, purpose)`` returns the loaded model of that purpose's call shape, or
None when the built-in (classical) op should run. "auto" ranks the installed models of the
purpose: closest scale first (a bigger scale, resized down, beats a smaller one), then
catalog priority, then name. A file dropped into the models directory without a manifest
record is opened once to learn what it is; selection only reads the manifest; recording
belongs to :mod:`install`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from reelsmith.errors import ModelError
from reelsmith.models.base import LoadedModel
from reelsmith.models.loader import load_model
from reelsmith.models.store import InstalledModel, installed_models

log = logging.getLogger(__name__)

#: Specs that mean "use the built-in op, no model".
BUILTIN_SPECS = ("builtin", "classical", "none", "off")


@dataclass(frozen=True)
class Candidate:
    """An installed model as selection sees it (purpose/scale detected when unrecorded)."""

    path: Path
    name: str
    purpose: str | None
    scale: int | None
    priority: int


def _detected(m: InstalledModel) -> Candidate:
    purpose, scale = m.purpose, m.scale
    if purpose is None:  # dropped in by hand: open it to see what it is (nothing is written)
        try:
            loaded = load_model(m.path)
        except ModelError as exc:
            log.warning("cannot use %s from the models directory: %s", m.path.name, exc)
        else:
            purpose, scale = loaded.purpose, loaded.scale
            loaded.close()
    return Candidate(m.path, m.name, purpose, scale, m.priority)


def ranked_candidates(purpose: str, scale: int | None = None) -> list[Candidate]:
    """Installed models for ``purpose``, best first for an output ``scale`` (None: any)."""
    found = [c for c in map(_detected, installed_models()) if c.purpose == purpose]

    def rank(c: Candidate) -> tuple:
        s = c.scale or 1
        if scale is None or s == scale:
            fit = 0
        elif s > scale:
            fit = 1 + (s - scale)  # downscaling a bigger model's output is fine
        else:
            fit = 100 + (scale - s)
        return (fit, -c.priority, c.name)

    return sorted(found, key=rank)


def select_model(spec: str | None, purpose: str, *, scale: int | None = None,
                 device: str = "auto", precision: str = "auto") -> LoadedModel | None:
    """The model ``spec`` names for ``purpose``, or None for the built-in op.

    ``spec``: "auto" (best installed model of the purpose; None when there is none),
    "builtin" (None), a catalog/installed name, or a file path. The result is an instance
    of ``shapes.shape_for(purpose)``. Raises ModelError when a named model is unknown, not
    installed, unreadable or made for another purpose; "auto" skips such models instead.
    """
    spec = (spec or "auto").strip()
    if spec.lower() in BUILTIN_SPECS:
        return None
    if spec.lower() != "auto":
        return load_model(spec, purpose=purpose, device=device, precision=precision)
    for cand in ranked_candidates(purpose, scale):
        try:
            return load_model(cand.path, purpose=purpose, device=device, precision=precision)
        except ModelError as exc:
            log.warning("skipping installed model %s: %s", cand.name, exc)
    return None
