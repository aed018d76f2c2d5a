"""Local path inputs: confined to the configured roots, symlinks and ``..`` resolved first."""

from __future__ import annotations

import os
from pathlib import Path

from reelsmith.config import Settings, get_settings
from reelsmith.errors import InputError


def _display(raw: str) -> str:
    return raw if len(raw) <= 200 else raw[:197] + "..."


def is_within(path: Path, root: Path) -> bool:
    """True when the fully resolved ``path`` is ``root`` or below it."""
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def resolve_path(path: str | os.PathLike, settings: Settings | None = None) -> Path:
    """Return the real path of a readable regular file, refusing anything outside
    ``settings.allowed_roots`` (when configured).

    Symlinks and ``..`` are resolved *before* the root check, so neither can escape a
    root. Outside the roots the file's existence is not revealed.
    """
    s = settings or get_settings()
    if isinstance(path, bytes):
        raise InputError("The input path must be text, not bytes.")
    raw = os.fspath(path)
    if not isinstance(raw, str) or not raw.strip():
        raise InputError("The input path is empty.")
    if "\x00" in raw:
        raise InputError("The input path contains a NUL character, which is not allowed.")
    try:
        real = Path(raw).expanduser().resolve(strict=False)
    except (OSError, RuntimeError) as exc:  # symlink loops, unreadable components
        raise InputError(f"The input path {_display(raw)} cannot be resolved ({exc}).") from None
    if s.allowed_roots:
        roots = [Path(r).expanduser().resolve(strict=False) for r in s.allowed_roots]
        if not any(is_within(real, r) for r in roots):
            # Neither the roots nor whether the file exists is revealed to the caller.
            raise InputError(
                f"The input path {_display(raw)} is outside the directories this server may read."
            )
    if not real.exists():
        raise InputError(f"The input file {_display(raw)} does not exist.")
    if real.is_dir():
        raise InputError(f"The input path {_display(raw)} is a directory, not a file.")
    if not real.is_file():
        raise InputError(f"The input path {_display(raw)} is not a regular file.")
    if not os.access(real, os.R_OK):
        raise InputError(f"The input file {_display(raw)} cannot be read (permission denied).")
    return real
