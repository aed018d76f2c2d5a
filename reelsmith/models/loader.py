"""``load_model``: resolve a name or path, pick the backend, return the right call shape.

The backend opens the file as the shape its weights or graph have (:mod:`shapes`); the
loader then checks that shape against the purpose asked for, so an interpolation model
wired as an upscaler is a ModelError here, not a failure on the first frame.

The licence profile (:mod:`licence`) is applied here, once, before the file is opened: the
licence comes from the catalog entry, else from the manifest record of an imported file,
else it is "unknown" (refused under ``REELSMITH_LICENSE_PROFILE=commercial``).
"""

from __future__ import annotations

import os
from pathlib import Path

from reelsmith.errors import ModelError
from reelsmith.models.base import LoadedModel
from reelsmith.models.catalog import CatalogEntry, entry_for_file, find_entry, unknown_name_message
from reelsmith.models.descriptor import (
    COLORIZE,
    FACE_EMBED,
    FACE_PARSE,
    FACE_RESTORE,
    PRECISIONS,
    PURPOSES,
    RESTORE,
)
from reelsmith.models.formats import ONNX_SUFFIXES, TORCH_SUFFIXES, is_model_file, is_ncnn
from reelsmith.models.licence import check_allowed
from reelsmith.models.onnx_models import open_onnx  # onnxruntime itself loads on first use
from reelsmith.models.shapes import shape_for, shape_name
from reelsmith.models.store import find_installed, read_manifest
from reelsmith.models.torch_backend import load_torch_model  # torch itself loads on first use


def resolve(spec: str | Path) -> tuple[Path, CatalogEntry | None, dict]:
    """(path, catalog entry, manifest record) for a catalog/installed name or a file path."""
    if isinstance(spec, Path) or looks_like_path(str(spec)):
        path = Path(spec).expanduser()
        if not path.exists():
            raise ModelError(f"Model file not found: {path}.")
        if not path.is_file():
            raise ModelError(f"Model path {path} is not a file.")
        rec = read_manifest(path.parent).get(path.name, {}) if path.parent.is_dir() else {}
        return path, entry_for_file(path.name), rec
    name = str(spec)
    installed = find_installed(name)
    if installed is not None:
        return installed.path, installed.entry, installed.recorded
    entry = find_entry(name)
    if entry is not None:
        how = (f"run `reelsmith models pull {entry.name}`" if entry.pullable else
               f"download {entry.file} from {entry.source} and run `reelsmith models import` on it")
        raise ModelError(f"The model {entry.name!r} is in the catalog but not installed; {how}.")
    raise ModelError(unknown_name_message(name))


def looks_like_path(s: str) -> bool:
    """True when ``s`` names a file rather than a catalog/installed model."""
    return (os.sep in s or "/" in s or s.startswith((".", "~"))
            or is_model_file(s) or Path(s).exists())


def load_model(spec: str | Path, *, purpose: str | None = None, device: str = "auto",
               precision: str = "auto") -> LoadedModel:
    """Open a model by catalog name, installed name or path.

    ``purpose``: when given, a model made for something else is refused with a ModelError,
    and the result is an instance of that purpose's shape (``shape_for(purpose)``:
    ImageModel, InterpolationModel, ConditionedImageModel or DetectionModel).
    ``device``: auto | cpu | cuda (ONNX also takes a provider alias: tensorrt, cuda, cpu).
    ``precision``: auto | fp32 | fp16 | bf16.
    Raises ModelError for an unknown name, a missing or unreadable file, an unsupported
    format, a wrong purpose, or weights the licence profile refuses.
    """
    if purpose is not None and purpose not in PURPOSES:
        raise ModelError(f"Unknown model purpose {purpose!r}; one of {', '.join(PURPOSES)}.")
    if precision != "auto" and precision not in PRECISIONS:
        raise ModelError(f"Unknown precision {precision!r}; one of auto, {', '.join(PRECISIONS)}.")
    path, entry, rec = resolve(spec)
    hint_purpose = entry.purpose if entry else rec.get("purpose")
    if hint_purpose not in PURPOSES:
        hint_purpose = None  # e.g. "unrecognised" from an earlier failed detection: retry
    hint_scale = (entry.scale if entry else rec.get("scale")) or None
    multiple = (entry.size_multiple if entry else 0) or None
    name = entry.name if entry else (rec.get("name") or path.stem)
    if purpose and hint_purpose and hint_purpose != purpose:
        raise ModelError(wrong_purpose(name, hint_purpose, purpose))
    lic = licence_of(entry, rec, name)
    suffix = path.suffix.lower()
    if suffix in ONNX_SUFFIXES:
        # a graph nothing describes is opened as the purpose asked for; its scale is still
        # probed, so an upscaler given to a same-size step is refused below
        asked = purpose if purpose in GRAPH_PURPOSES else None
        model = open_onnx(path, name=name, purpose=hint_purpose or asked,
                          scale=int(hint_scale) if hint_scale else None,
                          size_multiple=multiple, device=device, precision=precision,
                          hints=_norm_hints(entry, rec))
    elif suffix in TORCH_SUFFIXES or is_ncnn(path):  # ncnn pairs are converted to torch
        model = load_torch_model(path, name=name, purpose=hint_purpose, device=device,
                                 precision=precision)
    else:
        raise ModelError(f"{path.name}: unsupported model format {suffix or '(none)'}; "
                         "use .onnx, .pth, .pt, .safetensors or an ncnn "
                         ".param + .bin pair.")
    if purpose in SAME_SIZE and model.scale != 1:
        model.close()
        raise ModelError(wrong_purpose(name, "upscale", purpose))
    shape = shape_for(model.purpose)
    if not isinstance(model, shape):
        raise ModelError(f"The model {name!r} is recorded as a {model.purpose} model but is "
                         f"not a {shape_name(shape)} model.")
    if purpose and model.purpose != purpose:
        raise ModelError(wrong_purpose(name, model.purpose, purpose))
    model.descriptor.extra["licence"] = lic
    return model


#: Purposes whose models return an image of the input's size.
SAME_SIZE = (FACE_RESTORE, RESTORE, COLORIZE)
#: Purposes a graph's I/O cannot tell apart from its neighbours' (a same-size image model, an
#: embedder, a parser): an undescribed graph asked for one is opened as that purpose.
GRAPH_PURPOSES = (*SAME_SIZE, FACE_EMBED, FACE_PARSE)


def licence_of(entry: CatalogEntry | None, rec: dict, name: str) -> dict:
    """The weights' licence (license, commercial, commercial_note) from the catalog entry,
    else the manifest record, else unknown; raises the licence profile's ModelError when
    the active profile refuses it."""
    if entry is not None:
        lic = {"license": entry.license, "commercial": entry.commercial,
               "commercial_note": entry.commercial_note}
    else:
        commercial = rec.get("commercial", "unknown")
        lic = {"license": rec.get("license", ""),
               "commercial": commercial if isinstance(commercial, bool) else "unknown",
               "commercial_note": rec.get("commercial_note", "")}
    check_allowed(name, lic["license"], lic["commercial"], lic["commercial_note"])
    return lic


def _norm_hints(entry: CatalogEntry | None, rec: dict) -> dict:
    """The pixel convention the catalog entry (then the manifest record) states."""
    for values, source in ((entry.extra if entry else {}, "catalog"), (rec, "manifest")):
        if values.get("input_norm"):
            return {"input_norm": values["input_norm"],
                    "channel_order": values.get("channel_order", "rgb"), "norm_source": source}
    return {}


def wrong_purpose(name: str, actual: str, wanted: str) -> str:
    """The sentence for a model of the wrong kind for a step, naming both."""
    return (f"The model {name!r} is a {actual} model; it cannot be used to {wanted} "
            f"(pick a {wanted} model: `reelsmith models list`).")
