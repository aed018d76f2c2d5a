"""Putting models into the models directory and recording what they are.

Import copies (or links) a file in after loading it once, and records its hash, purpose and
scale in the manifest. :func:`record_dropped_files` does the recording part for files a user
dropped into the directory by hand. This is the only module that both opens models and
writes the manifest: it sits above the loader (store <- loader <- install), so the store
never imports the loader and there is no import cycle; selection only reads.

An ncnn pair (``.param`` + ``.bin``) is converted once on import: the models directory gets
``<name>.safetensors`` (spandrel key layout, output scale and source in its metadata) and the
manifest records the ncnn files it came from; ``--model x.param`` converts in memory instead.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from reelsmith.errors import ModelError
from reelsmith.models.catalog import CatalogEntry, entry_for_file, load_catalog
from reelsmith.models.formats import MODEL_SUFFIXES, is_model_file, is_ncnn
from reelsmith.models.loader import load_model
from reelsmith.models.ncnn_convert import convert_ncnn, ncnn_pair, save_safetensors
from reelsmith.models.store import (
    InstalledModel,
    installed_models,
    models_dir,
    read_manifest,
    record,
    sha256_file,
)

log = logging.getLogger(__name__)

#: Recorded as the purpose of a dropped file no backend can open.
UNRECOGNISED = "unrecognised"


def import_model(src: Path, *, name: str | None = None, link: bool = False,
                 purpose: str | None = None, scale: int | None = None,
                 probe: bool = True) -> InstalledModel:
    """Copy (or symlink) ``src`` into the models directory and record its hash.

    The file is loaded once first (unless ``probe`` is False) so that a file that is not a
    model we can run is refused at import time, and its purpose/scale are recorded.
    Raises ModelError for a missing file, a non-model suffix, a file no backend opens, or
    a checksum that differs from the catalog's.
    """
    src = Path(src).expanduser()
    if not src.is_file():
        raise ModelError(f"Cannot import {src}: no such file.")
    if not is_model_file(src.name):
        raise ModelError(f"Cannot import {src.name}: not a model file "
                         f"(expected one of {', '.join(MODEL_SUFFIXES)}).")
    entry = load_catalog().get(name) if name else None
    if is_ncnn(src):
        return _import_ncnn(src, name=name, entry=entry, purpose=purpose, scale=scale)
    if probe:
        loaded = load_model(src, device="cpu")
        purpose = purpose or loaded.purpose
        scale = scale or loaded.scale
        loaded.close()
    root = models_dir()
    root.mkdir(parents=True, exist_ok=True)
    dest_name = entry.file if entry else src.name
    dest = root / dest_name
    digest = sha256_file(src)
    if entry and entry.sha256 and entry.sha256 != digest:
        raise ModelError(f"{src.name} does not match the catalog checksum of {entry.name} "
                         f"(expected {entry.sha256}, got {digest}).")
    if dest.resolve() != src.resolve():
        fd, tmp = tempfile.mkstemp(prefix=f".{dest_name}.", suffix=".part", dir=root)
        os.close(fd)
        try:
            if link:
                os.unlink(tmp)
                os.symlink(src.resolve(), tmp)
            else:
                shutil.copyfile(src, tmp)
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    record(dest_name, name=name or (entry.name if entry else src.stem), sha256=digest,
           size=src.stat().st_size, purpose=purpose, scale=scale, source=str(src))
    return InstalledModel(dest, entry_for_file(dest_name), read_manifest().get(dest_name, {}))


def record_dropped_files() -> list[InstalledModel]:
    """Load each installed file whose purpose nothing recorded (dropped in by hand) once, and
    record its purpose and scale in the manifest; a file no backend opens is recorded as
    "unrecognised" with the reason. Returns the installed models, updated."""
    models = installed_models()
    for m in models:
        if m.purpose is not None:
            continue
        try:
            loaded = load_model(m.path, device="cpu")
        except ModelError as exc:
            log.warning("cannot use %s from the models directory: %s", m.path.name, exc)
            record(m.path.name, purpose=UNRECOGNISED, error=str(exc))
            m.recorded.update(purpose=UNRECOGNISED)
            continue
        d = loaded.descriptor
        loaded.close()
        record(m.path.name, purpose=d.purpose, scale=d.scale)
        m.recorded.update(purpose=d.purpose, scale=d.scale)
    return models


def _import_ncnn(src: Path, *, name: str | None, entry: CatalogEntry | None,
                 purpose: str | None, scale: int | None) -> InstalledModel:
    """Convert an ncnn pair to ``<stem>.safetensors`` in the models directory and record it.

    A catalog checksum may name either file of the pair; the catalog priority is recorded, as
    the converted file no longer has the catalog's file name. The converted file is loaded once
    before it takes its final name, so a file that does not load is never installed.
    """
    param, weights = ncnn_pair(src)
    digests = {"param": sha256_file(param), "bin": sha256_file(weights)}
    if entry and entry.sha256 and entry.sha256 not in digests.values():
        raise ModelError(f"{param.name} + {weights.name} do not match the catalog checksum of "
                         f"{entry.name} (expected {entry.sha256}).")
    conv = convert_ncnn(param)
    root = models_dir()
    root.mkdir(parents=True, exist_ok=True)
    dest_name = f"{Path(entry.file).stem if entry else param.stem}.safetensors"
    # a dot name: discovery skips it until it is complete and has loaded once
    fd, tmp = tempfile.mkstemp(prefix=f".{Path(dest_name).stem}.", suffix=".safetensors",
                               dir=root)
    os.close(fd)
    try:
        save_safetensors(conv, Path(tmp))
        loaded = load_model(Path(tmp), device="cpu")
        purpose = purpose or loaded.purpose
        scale = scale or loaded.scale
        loaded.close()
        os.replace(tmp, root / dest_name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dest = root / dest_name
    record(dest_name, name=name or (entry.name if entry else param.stem),
           sha256=sha256_file(dest), size=dest.stat().st_size, purpose=purpose, scale=scale,
           source=str(param), converted_from="ncnn", architecture=conv.architecture,
           source_sha256=digests, priority=entry.priority if entry else None)
    return InstalledModel(dest, entry_for_file(dest_name), read_manifest().get(dest_name, {}))
