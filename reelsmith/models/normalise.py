"""How a graph wants its pixels: value range, per-channel mean/std and channel order.

Every call shape takes and returns float32 NCHW RGB in [0, 1]; a backend whose weights were
trained on another convention converts at its edge with one :class:`Normalisation`:
``model_input = (x - mean) / std`` (channels reversed first for a BGR graph), and for image
outputs the inverse ``y * std + mean``.

Named conventions (the ``input_norm`` value of a catalog entry or manifest record):

========  ============================  ===================================================
name      mean / std                    models
========  ============================  ===================================================
``0,1``   0 / 1                         upscalers, inswapper (target and output in [0, 1])
``-1,1``  0.5 / 0.5                     GFPGAN, CodeFormer, GPEN-BFR, RestoreFormer ONNX
                                        exports; ArcFace ((x - 127.5) / 127.5 on 0..255)
imagenet  (0.485, 0.456, 0.406) /       BiSeNet face parsing
          (0.229, 0.224, 0.225)
========  ============================  ===================================================

How the convention of a graph is decided, first match wins: the catalog entry
(``input_norm``, ``channel_order``), the manifest record of an imported file, the graph's own
metadata (``metadata_props`` keys ``reelsmith.input_norm`` / ``reelsmith.channel_order``),
and last the known convention of the purpose (:data:`PURPOSE_DEFAULTS`: the public exports of
each kind agree on it). ``Normalisation.source`` says which one decided, and the model's
description reports it, so a wrong guess is visible rather than silent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reelsmith.errors import ModelError
from reelsmith.models.descriptor import FACE_EMBED, FACE_PARSE, FACE_RESTORE

NAMED: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "0,1": ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
    "-1,1": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
}

#: The convention of the public exports of each purpose, when nothing else says.
PURPOSE_DEFAULTS: dict[str, tuple[str, str]] = {
    FACE_RESTORE: ("-1,1", "rgb"),
    FACE_EMBED: ("-1,1", "rgb"),
    FACE_PARSE: ("imagenet", "rgb"),
}


@dataclass(frozen=True)
class Normalisation:
    name: str = "0,1"
    channel_order: str = "rgb"
    source: str = "default"

    @property
    def identity(self) -> bool:
        return self.name == "0,1" and self.channel_order == "rgb"

    def _stats(self) -> tuple[np.ndarray, np.ndarray]:
        mean, std = NAMED[self.name]
        return (np.asarray(mean, np.float32).reshape(1, 3, 1, 1),
                np.asarray(std, np.float32).reshape(1, 3, 1, 1))

    def apply(self, x: np.ndarray) -> np.ndarray:
        """NCHW RGB [0, 1] -> what the graph takes."""
        if self.identity or x.shape[1] != 3:
            return x
        if self.channel_order == "bgr":
            x = x[:, ::-1]
        mean, std = self._stats()
        return ((x - mean) / std).astype(np.float32)

    def undo(self, y: np.ndarray) -> np.ndarray:
        """An image the graph returned -> NCHW RGB [0, 1] (not clamped)."""
        if self.identity or y.ndim != 4 or y.shape[1] != 3:
            return y
        mean, std = self._stats()
        y = y * std + mean
        if self.channel_order == "bgr":
            y = y[:, ::-1]
        return np.ascontiguousarray(y, dtype=np.float32)

    def to_dict(self) -> dict:
        return {"input_norm": self.name, "channel_order": self.channel_order,
                "decided_by": self.source}


def normalisation(purpose: str | None, *, hints: dict | None = None,
                  graph_meta: dict | None = None) -> Normalisation:
    """The convention for a graph of ``purpose``: ``hints`` (catalog entry, then manifest:
    keys ``input_norm``, ``channel_order`` and ``norm_source``), then ``graph_meta`` (the
    ONNX ``metadata_props``), then :data:`PURPOSE_DEFAULTS`, then [0, 1] RGB.

    Raises ModelError for a named convention that is not in :data:`NAMED`.
    """
    for values, source in ((hints or {}, (hints or {}).get("norm_source", "catalog")),
                           ({k.removeprefix("reelsmith."): v for k, v in (graph_meta or {}).items()},
                            "graph metadata")):
        name = values.get("input_norm")
        if name:
            return _checked(str(name), str(values.get("channel_order", "rgb")), source)
    name, order = PURPOSE_DEFAULTS.get(purpose or "", ("0,1", "rgb"))
    return _checked(name, order, f"default for {purpose or 'unknown purpose'}")


def _checked(name: str, order: str, source: str) -> Normalisation:
    name, order = name.strip().lower(), order.strip().lower()
    if name not in NAMED:
        raise ModelError(f"Unknown input normalisation {name!r} ({source}); use one of "
                         f"{', '.join(NAMED)}.")
    if order not in ("rgb", "bgr"):
        raise ModelError(f"Unknown channel order {order!r} ({source}); use rgb or bgr.")
    return Normalisation(name, order, source)
