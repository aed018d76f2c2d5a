"""The licence profile: one check, made wherever a model or a weight-backed backend is chosen.

``REELSMITH_LICENSE_PROFILE=commercial`` refuses weights whose licence forbids commercial use
(``commercial = false``) or does not clearly allow it (``"unknown"``), with a sentence naming
the model, its licence and why. ``any`` (the default) allows everything; the licence is still
reported in the job's metadata.
"""

from __future__ import annotations

from reelsmith.config import get_settings
from reelsmith.errors import ConfigError, ModelError

PROFILES = ("any", "commercial")


def profile() -> str:
    """The active licence profile ("any" or "commercial")."""
    value = (get_settings().license_profile or "any").strip().lower()
    if value not in PROFILES:
        raise ConfigError(f"REELSMITH_LICENSE_PROFILE={value!r} is not a licence profile; "
                          f"use one of {', '.join(PROFILES)}.")
    return value


def refusal(name: str, license: str, commercial: bool | str, note: str = "") -> str | None:
    """Why the active profile refuses the weights ``name`` (None when it allows them)."""
    if profile() != "commercial" or commercial is True:
        return None
    lic = license or "no licence recorded"
    why = note or ("its licence does not allow commercial use" if commercial is False
                   else "its licence does not clearly allow commercial use")
    return (f"The model {name!r} ({lic}) cannot be used under REELSMITH_LICENSE_PROFILE=commercial: "
            f"{why.rstrip('.')}. Choose a model marked commercial in `reelsmith models list`, "
            "or set REELSMITH_LICENSE_PROFILE=any if your use is not commercial.")


def check_allowed(name: str, license: str, commercial: bool | str, note: str = "") -> None:
    """Raise ModelError when the active licence profile refuses the weights ``name``."""
    why = refusal(name, license, commercial, note)
    if why:
        raise ModelError(why)
